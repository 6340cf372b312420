// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRM} from "./utils/IRM.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice A Commitment signed for another round, chain or contract must not verify.
contract ReplayTest is Fixture {
    bytes32 internal constant UH = keccak256("update");

    function setUp() public override {
        super.setUp();
        stakeAs(parts[1], 1_000e18);
        bondAndFund();
    }

    function _slash(uint256 id, IRoundManager.RoundParams memory, bytes memory sig)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        s = new IRoundManager.SlashEvidence[](1);
        s[0] = IRoundManager.SlashEvidence({
            participant: parts[1],
            updateHash: UH,
            numExamples: 10,
            reason: P.REASON_FORGED_HASH,
            slashBps: 100,
            signature: sig,
            proof: Merkle.proof(participantLeaves(id, parts), 1),
            faultProof: ""
        });
    }

    function test_digestMatchesProtocolDefinition() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("fedstake"),
                keccak256("1"),
                block.chainid,
                address(rm)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Commitment(uint256 roundId,address participant,bytes32 globalModelHash,bytes32 updateHash,uint64 numExamples)"
                ),
                uint256(7),
                parts[1],
                bytes32(uint256(1)),
                UH,
                uint64(10)
            )
        );
        assertEq(
            rm.commitmentDigest(7, parts[1], bytes32(uint256(1)), UH, 10),
            MessageHashUtils.toTypedDataHash(domain, structHash),
            "digest"
        );
    }

    /// @dev An equivocation proof's second signature is checked under the same domain: one made for another
    ///      contract (or chain) does not prove anything here.
    function test_replay_equivocationProofFromOtherContract() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(0);
        (, IRM rm2,) = deploySystem(IERC20(address(token)));
        bytes32 other = keccak256("other update");
        bytes32 digest2 = rm2.commitmentDigest(id, parts[1], p.globalModelHash, other, 10);
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(pks[1], digest2);
        IRoundManager.SlashEvidence[] memory s = _slash(id, p, sign(pks[1], id, p.globalModelHash, UH, 10));
        s[0].reason = P.REASON_EQUIVOCATION;
        s[0].slashBps = PROVABLE_BPS;
        s[0].faultProof = abi.encode(other, uint64(10), abi.encodePacked(r, s_, v));
        vm.prank(coordinator);
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        rm.finalizeRound(id, p, emptyResult(), s);
        // signed under this contract's domain it proves the fault
        s[0].faultProof = abi.encode(other, uint64(10), sign(pks[1], id, p.globalModelHash, other, 10));
        vm.prank(coordinator);
        rm.finalizeRound(id, p, emptyResult(), s);
        assertEq(sm.slashableStake(parts[1]), 500e18, "slashed");
    }

    function test_participantLeafEncoding() public pure {
        bytes32 inner = keccak256(abi.encode(uint256(3), address(0xBEEF)));
        assertEq(P.participantLeaf(3, address(0xBEEF)), keccak256(abi.encodePacked(inner)), "leaf");
    }

    function test_replay_otherRound() public {
        (uint256 id1, IRoundManager.RoundParams memory p1) = openWith(0);
        uint256 id2 = id1 + 1;
        IRoundManager.RoundParams memory p2 = paramsFor(id2, parts);
        p2.globalModelHash = p1.globalModelHash; // same model: only the round id differs
        vm.prank(coordinator);
        rm.openRound(id2, p2, uint32(parts.length), 0, uint40(block.timestamp + 1 days));
        bytes memory sigRound1 = sign(pks[1], id1, p1.globalModelHash, UH, 10);
        IRoundManager.SlashEvidence[] memory s = _slash(id2, p2, sigRound1);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id2, p2, emptyResult(), s);
        // the same signature is valid evidence in its own round
        s = _slash(id1, p1, sigRound1);
        vm.prank(coordinator);
        rm.finalizeRound(id1, p1, emptyResult(), s);
    }

    function test_replay_otherChain() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(0);
        bytes memory sig = sign(pks[1], id, p.globalModelHash, UH, 10);
        uint256 chain = block.chainid;
        vm.chainId(chain + 1); // the same contract on a fork with another chain id
        IRoundManager.SlashEvidence[] memory s = _slash(id, p, sig);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, emptyResult(), s);
        vm.chainId(chain);
        vm.prank(coordinator);
        rm.finalizeRound(id, p, emptyResult(), s);
    }

    function test_replay_otherContract() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(0);
        // a second deployment with identical state up to this round
        (StakeManager sm2, IRM rm2,) = deploySystem(IERC20(address(token)));
        vm.prank(parts[1]);
        token.approve(address(sm2), type(uint256).max);
        vm.prank(parts[1]);
        sm2.stake(1_000e18);
        vm.startPrank(coordinator);
        token.approve(address(rm2), type(uint256).max);
        rm2.postBond(MIN_BOND);
        rm2.openRound(id, p, uint32(parts.length), 0, uint40(block.timestamp + 1 days));
        vm.stopPrank();
        bytes32 digest2 = rm2.commitmentDigest(id, parts[1], p.globalModelHash, UH, 10);
        assertTrue(digest2 != rm.commitmentDigest(id, parts[1], p.globalModelHash, UH, 10), "domains differ");
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(pks[1], digest2);
        bytes memory sigForRm2 = abi.encodePacked(r, s_, v);
        IRoundManager.SlashEvidence[] memory s = _slash(id, p, sigForRm2);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, emptyResult(), s);
        vm.prank(coordinator);
        rm2.finalizeRound(id, p, emptyResult(), s);
    }

    function test_replay_otherModel() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(0);
        bytes memory sig = sign(pks[1], id, keccak256("another model"), UH, 10);
        IRoundManager.SlashEvidence[] memory s = _slash(id, p, sig);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, emptyResult(), s);
    }

    function testFuzz_replay_otherChainId(uint64 otherChain) public {
        vm.assume(otherChain != block.chainid && otherChain != 0);
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(0);
        bytes memory sig = sign(pks[1], id, p.globalModelHash, UH, 10);
        vm.chainId(otherChain);
        IRoundManager.SlashEvidence[] memory s = _slash(id, p, sig);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, emptyResult(), s);
    }
}
