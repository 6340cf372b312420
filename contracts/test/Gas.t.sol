// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice Gas of open / finalize (10 vs 1,000 participants, N slashes) / claim / stake.
/// @dev Each measured call is the first touch of its state in its test (cold, as in a real transaction).
///      `exec` = gas used by the call minus the 2,600 cold-account charge for the proxy (a transaction's
///      `to` is warm); `tx` = exec + 21,000 + calldata (EIP-2028, with the EIP-7623 floor).
///      Run: `forge test --match-contract GasTest -vv` (numbers in the logs) or `forge snapshot --match-contract GasTest`.
contract GasTest is Fixture {
    uint256 internal constant BIG = 1_000;
    uint256 internal constant SMALL = 10;
    uint256 internal constant SLASHABLE = 10;

    address[] internal big;
    uint256[] internal bigPks;
    address[] internal small;
    uint256 internal rSmall;
    uint256 internal rBig;
    uint256 internal rClaim;
    IRoundManager.RoundParams internal pSmall;
    IRoundManager.RoundParams internal pBig;
    IRoundManager.RoundParams internal pOpen10;
    IRoundManager.RoundParams internal pOpen1000;
    bytes32[] internal claimLeaves;
    address internal newStaker;

    function setUp() public override {
        super.setUp();
        bondAndFund();
        for (uint256 i; i < BIG; ++i) {
            uint256 pk = 0xA11CE + i;
            bigPks.push(pk);
            big.push(vm.addr(pk));
        }
        for (uint256 i; i < SMALL; ++i) {
            small.push(big[i]);
        }
        for (uint256 i; i < SLASHABLE; ++i) {
            token.transfer(big[i], 1_000e18);
            vm.startPrank(big[i]);
            token.approve(address(sm), type(uint256).max);
            sm.stake(1_000e18);
            vm.stopPrank();
        }
        // round 1: a one-leaf round big[1] claims in setUp (a recurring participant's claimed-bits word is non-zero)
        {
            IRoundManager.RoundParams memory p1 = paramsFor(1, small);
            vm.prank(coordinator);
            rm.openRound(p1, uint32(SMALL), 1e18, uint40(block.timestamp + 1 days));
            bytes32 leaf = P.resultLeaf(1, big[1], keccak256("x"), 1, 1e18);
            vm.prank(coordinator);
            rm.finalizeRound(1, p1, 0, leaf, 1e18, noSlashes());
        }
        // round 2 (1,000 participants) settled, for claim measurements
        rClaim = 2;
        IRoundManager.RoundParams memory pc = paramsFor(rClaim, big);
        vm.prank(coordinator);
        rm.openRound(pc, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days));
        for (uint256 i; i < BIG; ++i) {
            claimLeaves.push(P.resultLeaf(rClaim, big[i], keccak256(abi.encode(i)), 1_000, 1e18 / 2));
        }
        vm.prank(coordinator);
        rm.finalizeRound(rClaim, pc, keccak256("agg"), Merkle.root(claimLeaves), 500e18, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(1);
        rm.settleRound(rClaim);
        rm.claim(1, big[1], keccak256("x"), 1, 1e18, new bytes32[](0));
        // rounds 3 (10 participants) and 4 (1,000) open for finalize measurements
        rSmall = 3;
        pSmall = paramsFor(rSmall, small);
        vm.prank(coordinator);
        rm.openRound(pSmall, uint32(SMALL), 1_000e18, uint40(block.timestamp + 1 days));
        rBig = 4;
        pBig = paramsFor(rBig, big);
        vm.prank(coordinator);
        rm.openRound(pBig, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days));
        // params of the next rounds to open (ids 4 / 5 in separate tests: both use id 4)
        pOpen10 = paramsFor(5, small);
        pOpen1000 = paramsFor(5, big);
        newStaker = vm.addr(0xBEEF);
        token.transfer(newStaker, 1_000e18);
        vm.prank(newStaker);
        token.approve(address(sm), type(uint256).max);
        token.transfer(big[2], 1); // big[1] and big[2] hold tokens, big[20] does not (see claim tests)
        vm.warp(block.timestamp + 1);
        // keep round 1/2 deadlines valid
        require(block.timestamp < rm.getRound(rSmall).finalizeDeadline, "deadline");
    }

    // ------------------------------------------------------------ measurement

    function _measure(address from, address to, bytes memory data) internal returns (uint256 exec, uint256 txGas) {
        vm.prank(from);
        uint256 g = gasleft();
        (bool ok, bytes memory ret) = to.call(data);
        uint256 used = g - gasleft();
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        exec = used - 2_600;
        uint256 z;
        uint256 nz;
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) ++z;
            else ++nz;
        }
        uint256 standard = 21_000 + 4 * z + 16 * nz + exec;
        uint256 floor = 21_000 + 10 * (z + 4 * nz);
        txGas = standard > floor ? standard : floor;
    }

    function _report(string memory what, uint256 exec, uint256 txGas) internal view {
        log(string.concat(what, " exec"), exec);
        log(string.concat(what, " tx"), txGas);
    }

    function _digest(uint256 roundId, address who, bytes32 gmh, bytes32 uh, uint64 n) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("fedstake"),
                keccak256("1"),
                block.chainid,
                address(rm)
            )
        );
        return keccak256(
            abi.encodePacked(hex"1901", domain, P.commitmentStructHash(roundId, who, gmh, uh, n))
        );
    }

    function _slashes(uint256 roundId, IRoundManager.RoundParams memory p, address[] memory set, uint256 k)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        s = new IRoundManager.SlashEvidence[](k);
        bytes32[] memory leaves = participantLeaves(roundId, set);
        // the first k participants, sorted by address (finalizeRound requires ascending order)
        for (uint256 i; i < k; ++i) {
            bytes32 uh = keccak256(abi.encode("u", i));
            (uint8 v, bytes32 r, bytes32 ss) = vm.sign(bigPks[i], _digest(roundId, set[i], p.globalModelHash, uh, 100));
            s[i] = IRoundManager.SlashEvidence({
                participant: set[i],
                updateHash: uh,
                numExamples: 100,
                reason: P.REASON_BYZANTINE,
                slashBps: 1_000,
                signature: abi.encodePacked(r, ss, v),
                proof: Merkle.proof(leaves, i)
            });
        }
        sortEvidence(s);
    }

    function _finalize(uint256 id, IRoundManager.RoundParams memory p, address[] memory set, uint256 k)
        internal
        returns (uint256 exec, uint256 txGas)
    {
        IRoundManager.SlashEvidence[] memory s = _slashes(id, p, set, k);
        bytes memory data = abi.encodeCall(
            IRoundManager.finalizeRound, (id, p, keccak256("aggregate"), keccak256("results"), 900e18, s)
        );
        return _measure(coordinator, address(rm), data);
    }

    // ------------------------------------------------------------ open

    function test_gas_open_10() public {
        bytes memory data =
            abi.encodeCall(IRoundManager.openRound, (pOpen10, uint32(SMALL), 1_000e18, uint40(block.timestamp + 1 days)));
        (uint256 exec, uint256 txGas) = _measure(coordinator, address(rm), data);
        _report("open 10 participants", exec, txGas);
        assertLe(txGas, 120_000, "open target");
    }

    function test_gas_open_1000() public {
        bytes memory data =
            abi.encodeCall(IRoundManager.openRound, (pOpen1000, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days)));
        (uint256 exec, uint256 txGas) = _measure(coordinator, address(rm), data);
        _report("open 1000 participants", exec, txGas);
        assertLe(txGas, 120_000, "open target");
    }

    // ------------------------------------------------------------ finalize

    function test_gas_finalize_10_noSlash() public {
        (uint256 exec, uint256 txGas) = _finalize(rSmall, pSmall, small, 0);
        _report("finalize 10 participants, 0 slashes", exec, txGas);
        assertLe(txGas, 150_000, "finalize target");
    }

    function test_gas_finalize_1000_noSlash() public {
        (uint256 exec, uint256 txGas) = _finalize(rBig, pBig, big, 0);
        _report("finalize 1000 participants, 0 slashes", exec, txGas);
        assertLe(txGas, 150_000, "finalize target");
    }

    function test_gas_finalize_10_1slash() public {
        (uint256 exec, uint256 txGas) = _finalize(rSmall, pSmall, small, 1);
        _report("finalize 10 participants, 1 slash", exec, txGas);
    }

    function test_gas_finalize_1000_1slash() public {
        (uint256 exec, uint256 txGas) = _finalize(rBig, pBig, big, 1);
        _report("finalize 1000 participants, 1 slash", exec, txGas);
    }

    function test_gas_finalize_1000_5slashes() public {
        (uint256 exec, uint256 txGas) = _finalize(rBig, pBig, big, 5);
        _report("finalize 1000 participants, 5 slashes", exec, txGas);
    }

    function test_gas_finalize_1000_10slashes() public {
        (uint256 exec, uint256 txGas) = _finalize(rBig, pBig, big, 10);
        _report("finalize 1000 participants, 10 slashes", exec, txGas);
    }

    function test_gas_finalize_10_10slashes() public {
        (uint256 exec, uint256 txGas) = _finalize(rSmall, pSmall, small, 10);
        _report("finalize 10 participants, 10 slashes", exec, txGas);
    }

    // ------------------------------------------------------------ claim / stake / settle

    function _claim(uint256 i) internal returns (uint256 exec, uint256 txGas) {
        bytes memory data = abi.encodeCall(
            IRoundManager.claim,
            (rClaim, big[i], keccak256(abi.encode(i)), 1_000, 1e18 / 2, Merkle.proof(claimLeaves, i))
        );
        return _measure(big[i], address(rm), data);
    }

    function test_gas_claim_1000_recurring() public {
        // big[1] claimed an earlier round (same 256-round word of its claimed bits) and holds tokens
        (uint256 exec, uint256 txGas) = _claim(1);
        _report("claim (1000-leaf tree, recurring claimant, holds tokens)", exec, txGas);
        assertLe(txGas, 75_000, "claim target");
    }

    function test_gas_claim_1000_firstClaim() public {
        // big[2]: first claim ever (claimed-bits word 0 -> non-zero), holds tokens
        (uint256 exec, uint256 txGas) = _claim(2);
        _report("claim (1000-leaf tree, first claim, holds tokens)", exec, txGas);
    }

    function test_gas_claim_1000_recipientEmpty() public {
        // big[20] holds no tokens: its balance slot goes 0 -> non-zero (+17,100 in the token)
        (uint256 exec, uint256 txGas) = _claim(20);
        _report("claim (1000-leaf tree, first claim, holds no tokens)", exec, txGas);
    }

    function test_gas_stake_first() public {
        (uint256 exec, uint256 txGas) = _measure(newStaker, address(sm), abi.encodeCall(IStakeManager.stake, (500e18)));
        _report("stake (first)", exec, txGas);
        assertLe(txGas, 100_000, "stake target");
    }

    function test_gas_settle_withSlashes() public {
        IRoundManager.SlashEvidence[] memory s = _slashes(rBig, pBig, big, 3);
        vm.prank(coordinator);
        rm.finalizeRound(rBig, pBig, 0, 0, 0, s);
        vm.warp(block.timestamp + WINDOW + 1);
        (uint256 exec, uint256 txGas) = _measure(stranger, address(rm), abi.encodeCall(IRoundManager.settleRound, (rBig)));
        _report("settle (3 slashes, O(1))", exec, txGas);
    }
}
