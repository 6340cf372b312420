// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {SumTrees} from "./utils/SumTrees.sol";
import {UpdateTree} from "./utils/UpdateTree.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice Gas of open / finalize (10 vs 1,000 participants, N judged slashes, provable slashes) / claim / stake /
///         settle / disputes.
/// @dev Each measured call is the first touch of its state in its test (cold, as in a real transaction).
///      `exec` = gas used by the call minus the 2,600 cold-account charge for the proxy (a transaction's
///      `to` is warm); `tx` = exec + 21,000 + calldata (EIP-2028, with the EIP-7623 floor).
///      Run: `forge test --match-contract GasTest -vv` (numbers in the logs) or `forge snapshot --match-contract GasTest`.
contract GasTest is Fixture {
    uint256 internal constant BIG = 1_000;
    uint256 internal constant SMALL = 10;
    uint256 internal constant SLASHABLE = 12;

    address[] internal big;
    uint256[] internal bigPks;
    address[] internal small;
    uint256 internal rSmall;
    uint256 internal rBig;
    uint256 internal rClaim;
    IRoundManager.RoundParams internal pSmall;
    IRoundManager.RoundParams internal pBig;
    IRoundManager.RoundParams internal pClaim;
    IRoundManager.RoundParams internal pOpen10;
    IRoundManager.RoundParams internal pOpen1000;
    bytes32[] internal claimLeaves;
    uint256[] internal claimAmounts;
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
        IRoundManager.RoundParams memory p1 = paramsFor(1, small);
        vm.prank(coordinator);
        rm.openRound(1, p1, uint32(SMALL), 1e18, uint40(block.timestamp + 1 days));
        bytes32 leaf = P.resultLeaf(1, big[1], keccak256("x"), 1, 1e18);
        vm.prank(coordinator);
        rm.finalizeRound(1, p1, _result(leaf, 1e18), noSlashes());
        // round 2 (1,000 participants) settled, for claim measurements
        rClaim = 2;
        pClaim = paramsFor(rClaim, big);
        vm.prank(coordinator);
        rm.openRound(rClaim, pClaim, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days));
        for (uint256 i; i < BIG; ++i) {
            claimLeaves.push(P.resultLeaf(rClaim, big[i], keccak256(abi.encode(i)), 1_000, 1e18 / 2));
            claimAmounts.push(1e18 / 2);
        }
        (bytes32 root, uint256 total) = SumTrees.root(claimLeaves, claimAmounts);
        vm.prank(coordinator);
        rm.finalizeRound(rClaim, pClaim, _result(root, uint128(total)), noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(1);
        rm.settleRound(rClaim);
        rm.claim(
            1,
            big[1],
            keccak256("x"),
            1,
            1e18,
            p1,
            Merkle.proof(participantLeaves(1, small), 1),
            SumTrees.single()
        );
        // rounds 3 (10 participants) and 4 (1,000) open for finalize measurements
        rSmall = 3;
        pSmall = paramsFor(rSmall, small);
        vm.prank(coordinator);
        rm.openRound(rSmall, pSmall, uint32(SMALL), 1_000e18, uint40(block.timestamp + 1 days));
        rBig = 4;
        pBig = paramsFor(rBig, big);
        vm.prank(coordinator);
        rm.openRound(rBig, pBig, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days));
        // params of the next round to open (id 5)
        pOpen10 = paramsFor(5, small);
        pOpen1000 = paramsFor(5, big);
        newStaker = vm.addr(0xBEEF);
        token.transfer(newStaker, 1_000e18);
        vm.prank(newStaker);
        token.approve(address(sm), type(uint256).max);
        token.transfer(big[2], 1); // big[1] and big[2] hold tokens, big[20] does not (see claim tests)
        vm.warp(block.timestamp + 1);
        require(block.timestamp < rm.getRound(rSmall).finalizeDeadline, "deadline");
    }

    function _result(bytes32 root, uint128 total) internal pure returns (IRoundManager.RoundResult memory) {
        return IRoundManager.RoundResult({
            aggregateHash: keccak256("aggregate"),
            resultsRoot: root,
            totalRewards: total,
            decisionHash: keccak256("decision file"),
            artifactsURI: "cas://sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        });
    }

    // ------------------------------------------------------------ measurement

    function _measure(address from, address to, bytes memory data) internal returns (uint256 exec, uint256 txGas) {
        vm.prank(from);
        // the call reads `data` in place: a Solidity `.call(data)` would first copy it to fresh memory, and this
        // test's memory is large (proof building), so that copy's expansion would be counted as the call's gas
        uint256 used;
        bool ok;
        assembly ("memory-safe") {
            let g := gas()
            ok := call(gas(), to, 0, add(data, 0x20), mload(data), 0, 0)
            used := sub(g, gas())
        }
        if (!ok) {
            assembly ("memory-safe") {
                let m := mload(0x40)
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
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

    function _str(uint256 v) internal pure returns (string memory) {
        bytes memory b = new bytes(2);
        b[0] = bytes1(uint8(48 + v / 10));
        b[1] = bytes1(uint8(48 + v % 10));
        return v < 10 ? string(abi.encodePacked(b[1])) : string(b);
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
        return keccak256(abi.encodePacked(hex"1901", domain, P.commitmentStructHash(roundId, who, gmh, uh, n)));
    }

    function _sig(uint256 i, uint256 roundId, bytes32 gmh, bytes32 uh) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(bigPks[i], _digest(roundId, big[i], gmh, uh, 100));
        return abi.encodePacked(r, s, v);
    }

    /// @dev Judged (BYZANTINE, 10 %) evidence against big[i].
    function _judged(uint256 roundId, IRoundManager.RoundParams memory p, address[] memory set, uint256 i)
        internal
        view
        returns (IRoundManager.SlashEvidence memory)
    {
        bytes32 uh = keccak256(abi.encode("u", i));
        return IRoundManager.SlashEvidence({
            participant: set[i],
            updateHash: uh,
            numExamples: 100,
            reason: P.REASON_BYZANTINE,
            slashBps: 1_000,
            signature: _sig(i, roundId, p.globalModelHash, uh),
            proof: Merkle.proof(participantLeaves(roundId, set), i),
            faultProof: ""
        });
    }

    function _slashes(uint256 roundId, IRoundManager.RoundParams memory p, address[] memory set, uint256 k)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        s = new IRoundManager.SlashEvidence[](k);
        for (uint256 i; i < k; ++i) {
            s[i] = _judged(roundId, p, set, i);
        }
        sortEvidence(s);
    }

    function _finalizeWith(uint256 id, IRoundManager.RoundParams memory p, IRoundManager.SlashEvidence[] memory s)
        internal
        returns (uint256 exec, uint256 txGas)
    {
        bytes memory data =
            abi.encodeCall(IRoundManager.finalizeRound, (id, p, _result(keccak256("results"), 900e18), s));
        return _measure(coordinator, address(rm), data);
    }

    function _finalize(uint256 id, IRoundManager.RoundParams memory p, address[] memory set, uint256 k)
        internal
        returns (uint256 exec, uint256 txGas)
    {
        return _finalizeWith(id, p, _slashes(id, p, set, k));
    }

    // ------------------------------------------------------------ open

    function test_gas_open_10() public {
        bytes memory data = abi.encodeCall(
            IRoundManager.openRound, (5, pOpen10, uint32(SMALL), 1_000e18, uint40(block.timestamp + 1 days))
        );
        (uint256 exec, uint256 txGas) = _measure(coordinator, address(rm), data);
        _report("open 10 participants", exec, txGas);
        assertLe(txGas, 120_000, "open target");
    }

    function test_gas_open_1000() public {
        bytes memory data = abi.encodeCall(
            IRoundManager.openRound, (5, pOpen1000, uint32(BIG), 1_000e18, uint40(block.timestamp + 1 days))
        );
        (uint256 exec, uint256 txGas) = _measure(coordinator, address(rm), data);
        _report("open 1000 participants", exec, txGas);
        assertLe(txGas, 120_000, "open target");
    }

    // ------------------------------------------------------------ finalize, judged slashes

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

    function test_gas_finalize_1000_2slashes() public {
        (uint256 exec, uint256 txGas) = _finalize(rBig, pBig, big, 2);
        _report("finalize 1000 participants, 2 slashes", exec, txGas);
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

    /// @dev The per-slash increment, measured in one test so it can be asserted: 1 → 10 judged slashes.
    function test_gas_judgedSlash_increment() public {
        uint256 snap = vm.snapshotState();
        (uint256 e1, uint256 t1) = _finalize(rBig, pBig, big, 1);
        vm.revertToState(snap);
        (uint256 e10, uint256 t10) = _finalize(rBig, pBig, big, 10);
        _report("each additional judged slash (1000 participants, 1 -> 10)", (e10 - e1) / 9, (t10 - t1) / 9);
        assertLe((t10 - t1) / 9, 40_000, "judged slash target");
    }

    // ------------------------------------------------------------ finalize, provable slashes

    /// @dev big[0] judged, plus big[1]'s provable fault `e` (sorted): increment over big[0] alone.
    function _provableIncrement(string memory what, IRoundManager.SlashEvidence memory e)
        internal
        returns (uint256 exec, uint256 txGas)
    {
        IRoundManager.SlashEvidence[] memory one = new IRoundManager.SlashEvidence[](1);
        one[0] = _judged(rBig, pBig, big, 0);
        IRoundManager.SlashEvidence[] memory two = new IRoundManager.SlashEvidence[](2);
        two[0] = one[0];
        two[1] = e;
        sortEvidence(two);
        uint256 snap = vm.snapshotState();
        (uint256 e1, uint256 t1) = _finalizeWith(rBig, pBig, one);
        vm.revertToState(snap);
        (uint256 e2, uint256 t2) = _finalizeWith(rBig, pBig, two);
        exec = e2 - e1;
        txGas = t2 - t1;
        _report(string.concat(what, " (increment over 1 judged)"), exec, txGas);
        _report(string.concat(what, " (whole finalize, 1 judged + it)"), e2, t2);
    }

    function _provable(uint8 reason, bytes32 uh, bytes memory proof)
        internal
        view
        returns (IRoundManager.SlashEvidence memory)
    {
        return IRoundManager.SlashEvidence({
            participant: big[1],
            updateHash: uh,
            numExamples: 100,
            reason: reason,
            slashBps: PROVABLE_BPS,
            signature: _sig(1, rBig, pBig.globalModelHash, uh),
            proof: Merkle.proof(participantLeaves(rBig, big), 1),
            faultProof: proof
        });
    }

    function test_gas_slash_equivocation() public {
        bytes32 a = keccak256("update A");
        bytes32 b = keccak256("update B");
        bytes memory proof = abi.encode(b, uint64(100), _sig(1, rBig, pBig.globalModelHash, b));
        (, uint256 txGas) =
            _provableIncrement("equivocation slash", _provable(P.REASON_EQUIVOCATION, a, proof));
        assertLe(txGas, 60_000, "equivocation target");
    }

    function test_gas_slash_nullUpdate() public {
        _provableIncrement("null-update slash", _provable(P.REASON_NULL_UPDATE, pBig.globalModelHash, ""));
    }

    /// @dev A 4 KiB chunk of finite, non-zero-byte float32 values (realistic calldata) with one NaN.
    function _chunk() internal pure returns (bytes memory c) {
        c = new bytes(4096);
        for (uint256 i; i < 1024; ++i) {
            bytes32 r = keccak256(abi.encode(i));
            c[4 * i] = r[0] == 0 ? bytes1(0x01) : r[0];
            c[4 * i + 1] = r[1] == 0 ? bytes1(0x01) : r[1];
            c[4 * i + 2] = bytes1(uint8(r[2]) | 0x01); // exponent low bit set, mantissa random
            c[4 * i + 3] = bytes1((uint8(r[3]) & 0x80) | 0x3e); // sign random, exponent far from all ones
        }
        // element 700: NaN (0x7fc00001)
        c[2800] = 0x01;
        c[2801] = 0x01;
        c[2802] = 0xc0;
        c[2803] = 0x7f;
    }

    function _malformed(uint256 depth) internal returns (uint256 txGas) {
        // a 1-D float32 array filling 2^(depth−1) chunks; the proof's chunk is chunk 0 (leaf 1)
        uint256 n = (uint256(1) << (depth - 1)) * 1024;
        bytes memory hdr = UpdateTree.header1("layer.weight", "<f4", n, 4);
        (bytes32 root, IFaultVerifier.LeafProof memory h, IFaultVerifier.LeafProof memory c) =
            UpdateTree.deepPair(hdr, _chunk(), depth);
        bytes memory proof = UpdateTree.nonFiniteProof(h, c, 2800);
        (, txGas) = _provableIncrement(
            string.concat("malformed-update slash, 4 KiB chunk, depth ", _str(depth)),
            _provable(P.REASON_MALFORMED, root, proof)
        );
    }

    function test_gas_slash_malformed_depth10() public {
        // ~10^6 float32 parameters: 977 chunks + header -> depth 10
        uint256 txGas = _malformed(10);
        assertLe(txGas, 150_000, "malformed target");
    }

    function test_gas_slash_malformed_depth17() public {
        // ~10^8 float32 parameters: 97,657 chunks + header -> depth 17. Reported, not asserted: above the 150k
        // target (GAS.md, "Targets missed") — both leaf proofs carry the full 17-hash path.
        _malformed(17);
    }

    // ------------------------------------------------------------ claim / stake / settle

    function _claim(uint256 i) internal returns (uint256 exec, uint256 txGas) {
        (,, IRoundManager.SumProof memory sp) = SumTrees.build(claimLeaves, claimAmounts, i);
        bytes memory data = abi.encodeCall(
            IRoundManager.claim,
            (
                rClaim,
                big[i],
                keccak256(abi.encode(i)),
                1_000,
                1e18 / 2,
                pClaim,
                Merkle.proof(participantLeaves(rClaim, big), i),
                sp
            )
        );
        return _measure(big[i], address(rm), data);
    }

    function test_gas_claim_1000_recurring() public {
        // big[1] claimed an earlier round (same 256-round word of its claimed bits) and holds tokens
        (uint256 exec, uint256 txGas) = _claim(1);
        _report("claim (1000-leaf sum tree + participant proof, recurring claimant, holds tokens)", exec, txGas);
        assertLe(txGas, 80_000, "claim target");
    }

    function test_gas_claim_1000_firstClaim() public {
        // big[2]: first claim ever (claimed-bits word 0 -> non-zero), holds tokens
        (uint256 exec, uint256 txGas) = _claim(2);
        _report("claim (1000-leaf sum tree + participant proof, first claim, holds tokens)", exec, txGas);
    }

    function test_gas_claim_1000_recipientEmpty() public {
        // big[20] holds no tokens: its balance slot goes 0 -> non-zero (+17,100 in the token)
        (uint256 exec, uint256 txGas) = _claim(20);
        _report("claim (1000-leaf sum tree + participant proof, first claim, holds no tokens)", exec, txGas);
    }

    function test_gas_stake_first() public {
        (uint256 exec, uint256 txGas) = _measure(newStaker, address(sm), abi.encodeCall(IStakeManager.stake, (500e18)));
        _report("stake (first)", exec, txGas);
        assertLe(txGas, 100_000, "stake target");
    }

    function test_gas_settle_withSlashes() public {
        IRoundManager.SlashEvidence[] memory s = _slashes(rBig, pBig, big, 3);
        vm.prank(coordinator);
        rm.finalizeRound(rBig, pBig, _result(0, 0), s);
        vm.warp(block.timestamp + WINDOW + 1);
        (uint256 exec, uint256 txGas) = _measure(stranger, address(rm), abi.encodeCall(IRoundManager.settleRound, (rBig)));
        _report("settle (3 slashes, O(1), cold)", exec, txGas);
    }

    function test_gas_settle_noSlashes() public {
        vm.prank(coordinator);
        rm.finalizeRound(rBig, pBig, _result(0, 0), noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        (uint256 exec, uint256 txGas) = _measure(stranger, address(rm), abi.encodeCall(IRoundManager.settleRound, (rBig)));
        _report("settle (no slashes, cold)", exec, txGas);
    }

    // ------------------------------------------------------------ disputes (no targets; for reference)

    function test_gas_disputeSlash_andTimeout() public {
        IRoundManager.SlashEvidence[] memory s = _slashes(rBig, pBig, big, 3);
        IRoundManager.SlashEntry[] memory e = finalizeRecording(rBig, pBig, _result(0, 0), s);
        address who = e[1].participant;
        token.transfer(who, MIN_DEPOSIT);
        vm.prank(who);
        token.approve(address(rm), type(uint256).max);
        vm.warp(block.timestamp + 1);
        (uint256 exec, uint256 txGas) = _measure(
            who, address(rm), abi.encodeCall(IRoundManager.disputeSlash, (rBig, e, 1, MIN_DEPOSIT, keccak256("why")))
        );
        _report("disputeSlash (3-slash list)", exec, txGas);
        vm.warp(rm.getRound(rBig).disputeDeadline + 1);
        (exec, txGas) = _measure(stranger, address(rm), abi.encodeCall(IRoundManager.timeoutDispute, (1)));
        _report("timeoutDispute (slash reverted, compensation paid)", exec, txGas);
    }
}
