// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "./Test.sol";
import {Merkle} from "./Merkle.sol";
import {SumTrees} from "./SumTrees.sol";
import {FedToken} from "../../src/FedToken.sol";
import {StakeManager} from "../../src/StakeManager.sol";
import {IRM} from "./IRM.sol";
import {ProvenanceRegistry} from "../../src/ProvenanceRegistry.sol";
import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../../src/interfaces/IFaultVerifier.sol";
import {FedstakeProtocol as P} from "../../src/libraries/FedstakeProtocol.sol";

/// @notice Deploys token + proxies, wires them and offers round helpers.
abstract contract Fixture is Test {
    uint256 internal constant MIN_STAKE = 100e18;
    uint64 internal constant UNBONDING = 15 days;
    uint40 internal constant MAX_ROUND = 7 days;
    uint40 internal constant WINDOW = 3 days;
    uint128 internal constant MIN_BOND = 1_000e18;
    uint128 internal constant MIN_DEPOSIT = 10e18;
    uint16 internal constant MAX_SLASH_BPS = 5_000; // largest judged slash
    uint16 internal constant PROVABLE_BPS = 5_000;
    uint16 internal constant POOL_BPS = 6_000;
    uint40 internal constant DISPUTE_WINDOW = 2 days;
    uint16 internal constant BOND_MULTIPLE = 100;
    uint16 internal constant TIMEOUT_COMP_BPS = 1_000;

    FedToken internal token;
    StakeManager internal sm;
    IRM internal rm;
    ProvenanceRegistry internal reg;
    IFaultVerifier internal fv;

    address internal admin = makeAddr("admin");
    address internal pauser = makeAddr("pauser");
    address internal arbiter = makeAddr("arbiter");
    address internal coordinator = makeAddr("coordinator");
    address internal treasury = makeAddr("treasury");
    address internal funder = makeAddr("funder");
    address internal stranger = makeAddr("stranger");

    uint256 internal constant NPK = 8;
    uint256[] internal pks;
    address[] internal parts;
    /// @dev Rewards claimed per round through claimFor (roundEscrow).
    mapping(uint256 roundId => uint256) internal ghostClaimed;
    mapping(uint256 roundId => mapping(address participant => bool)) internal ghostPaid;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        token = new FedToken(address(this), 1e30, 1_000e18, 1 days);
        (sm, rm, reg) = deploySystem(IERC20(address(token)));
        for (uint256 i; i < NPK; ++i) {
            uint256 pk = uint256(keccak256(abi.encode("participant", i))) % (2 ** 200) + 1;
            pks.push(pk);
            address a = vm.addr(pk);
            parts.push(a);
            vm.label(a, string(abi.encodePacked("p", bytes1(uint8(48 + i)))));
            token.transfer(a, 10_000e18);
            vm.prank(a);
            token.approve(address(sm), type(uint256).max);
            vm.prank(a);
            token.approve(address(rm), type(uint256).max);
        }
        token.transfer(coordinator, 100_000e18);
        token.transfer(funder, 1_000_000e18);
        vm.prank(coordinator);
        token.approve(address(rm), type(uint256).max);
        vm.prank(funder);
        token.approve(address(rm), type(uint256).max);
    }

    function defaultConfig() internal view returns (IRoundManager.Config memory) {
        return IRoundManager.Config({
            minCoordinatorBond: MIN_BOND,
            maxRoundDuration: MAX_ROUND,
            challengeWindow: WINDOW,
            disputeWindow: DISPUTE_WINDOW,
            maxJudgedSlashBps: MAX_SLASH_BPS,
            provableSlashBps: PROVABLE_BPS,
            slashPoolBps: POOL_BPS,
            budgetBondMultiple: BOND_MULTIPLE,
            timeoutCompensationBps: TIMEOUT_COMP_BPS,
            minDisputeDeposit: MIN_DEPOSIT,
            treasury: treasury
        });
    }

    /// @dev The documented deployment sequence (see GAS.md / report).
    function deploySystem(IERC20 tok) internal returns (StakeManager s, IRM r, ProvenanceRegistry g) {
        s = StakeManager(
            address(
                new ERC1967Proxy(
                    address(new StakeManager()),
                    abi.encodeCall(StakeManager.initialize, (admin, 0, tok, uint128(MIN_STAKE), UNBONDING))
                )
            )
        );
        fv = IFaultVerifier(deployCode("FaultVerifier.sol:FaultVerifier"));
        r = IRM(
            address(
                new ERC1967Proxy(
                    deployCode("RoundManager.sol:RoundManager"),
                    abi.encodeCall(IRM.initialize, (admin, 0, IStakeManager(address(s)), fv, defaultConfig()))
                )
            )
        );
        g = ProvenanceRegistry(
            address(
                new ERC1967Proxy(
                    address(new ProvenanceRegistry()), abi.encodeCall(ProvenanceRegistry.initialize, (admin, 0, address(r)))
                )
            )
        );
        vm.startPrank(admin);
        s.setRoundManager(address(r));
        r.grantRole(r.COORDINATOR_ROLE(), coordinator);
        r.grantRole(r.ARBITER_ROLE(), arbiter);
        r.grantRole(r.PAUSER_ROLE(), pauser);
        s.grantRole(s.PAUSER_ROLE(), pauser);
        g.grantRole(g.COORDINATOR_ROLE(), coordinator);
        g.grantRole(g.PAUSER_ROLE(), pauser);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ helpers

    /// @dev Deploy an artifact's creation code (no constructor args).
    function deployCode(string memory what) internal returns (address a) {
        bytes memory code = vm.getCode(what);
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        require(a != address(0), "deployCode failed");
    }

    function stakeAs(address who, uint256 amount) internal {
        vm.prank(who);
        sm.stake(amount);
    }

    function bondAndFund() internal {
        vm.prank(coordinator);
        rm.postBond(MIN_BOND * 2);
        vm.prank(funder);
        rm.fundRewardPool(100_000e18);
    }

    function participantsRoot(uint256 roundId, address[] memory who) internal pure returns (bytes32) {
        return Merkle.root(participantLeaves(roundId, who));
    }

    function participantLeaves(uint256 roundId, address[] memory who) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](who.length);
        for (uint256 i; i < who.length; ++i) {
            leaves[i] = P.participantLeaf(roundId, who[i]);
        }
    }

    function paramsFor(uint256 roundId, address[] memory who) internal pure returns (IRoundManager.RoundParams memory) {
        return IRoundManager.RoundParams({
            globalModelHash: keccak256(abi.encode("model", roundId)),
            configHash: keccak256("config"),
            participantsRoot: participantsRoot(roundId, who)
        });
    }

    /// @dev Opens the next round over `parts` with `budget`; returns its id and params.
    function openWith(uint96 budget) internal returns (uint256 id, IRoundManager.RoundParams memory p) {
        id = rm.roundCount() + 1;
        p = paramsFor(id, parts);
        vm.prank(coordinator);
        uint256 got = rm.openRound(id, p, uint32(parts.length), budget, uint40(block.timestamp + 1 days));
        assertEq(got, id, "round id");
    }

    function sign(uint256 pk, uint256 roundId, bytes32 gmh, bytes32 updateHash, uint64 n)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = rm.commitmentDigest(roundId, vm.addr(pk), gmh, updateHash, n);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function evidence(uint256 i, uint256 roundId, IRoundManager.RoundParams memory p, uint16 bps)
        internal
        view
        returns (IRoundManager.SlashEvidence memory e)
    {
        bytes32 uh = keccak256(abi.encode("update", roundId, i));
        e = IRoundManager.SlashEvidence({
            participant: parts[i],
            updateHash: uh,
            numExamples: 100,
            reason: P.REASON_BYZANTINE,
            slashBps: bps,
            signature: sign(pks[i], roundId, p.globalModelHash, uh, 100),
            proof: Merkle.proof(participantLeaves(roundId, parts), i),
            faultProof: ""
        });
    }

    /// @dev Evidence of a provable fault (`reason`) by parts[i], which signed (uh, 100); slashBps = PROVABLE_BPS.
    function provableEvidence(
        uint256 i,
        uint256 roundId,
        IRoundManager.RoundParams memory p,
        uint8 reason,
        bytes32 uh,
        bytes memory faultProof
    ) internal view returns (IRoundManager.SlashEvidence memory e) {
        e = IRoundManager.SlashEvidence({
            participant: parts[i],
            updateHash: uh,
            numExamples: 100,
            reason: reason,
            slashBps: PROVABLE_BPS,
            signature: sign(pks[i], roundId, p.globalModelHash, uh, 100),
            proof: Merkle.proof(participantLeaves(roundId, parts), i),
            faultProof: faultProof
        });
    }

    /// @dev Sort evidence by ascending participant address (finalizeRound requires it).
    function sortEvidence(IRoundManager.SlashEvidence[] memory s) internal pure {
        for (uint256 i = 1; i < s.length; ++i) {
            IRoundManager.SlashEvidence memory x = s[i];
            uint256 j = i;
            while (j > 0 && s[j - 1].participant > x.participant) {
                s[j] = s[j - 1];
                --j;
            }
            s[j] = x;
        }
    }

    /// @dev The SlashEntry list a dispute must present, given sorted evidence and the amounts locked from active
    ///      stake only (nothing from unbonding requests). Use finalizeRecording when unbonding stake is slashed.
    function entriesOf(IRoundManager.SlashEvidence[] memory s, uint256[] memory amounts)
        internal
        pure
        returns (IRoundManager.SlashEntry[] memory e)
    {
        e = new IRoundManager.SlashEntry[](s.length);
        for (uint256 i; i < s.length; ++i) {
            e[i] = IRoundManager.SlashEntry({
                participant: s[i].participant,
                amount: uint96(amounts[i]),
                reason: s[i].reason,
                fromUnbonding: 0,
                releaseAt: 0
            });
        }
    }

    /// @dev slashesHash fold of docs/protocol.md.
    function slashesHashOf(IRoundManager.SlashEntry[] memory e) internal pure returns (bytes32 h) {
        for (uint256 i; i < e.length; ++i) {
            h = keccak256(
                abi.encode(
                    h, e[i].participant, uint256(e[i].amount), e[i].reason, uint256(e[i].fromUnbonding), e[i].releaseAt
                )
            );
        }
    }

    /// @dev Finalize as the coordinator and return the slash list from the ParticipantSlashed events (what a
    ///      participant presents to dispute, or the guardian to cancel).
    function finalizeRecording(
        uint256 roundId,
        IRoundManager.RoundParams memory p,
        IRoundManager.RoundResult memory result,
        IRoundManager.SlashEvidence[] memory s
    ) internal returns (IRoundManager.SlashEntry[] memory e) {
        VmLogs(address(vm)).recordLogs();
        vm.prank(coordinator);
        rm.finalizeRound(roundId, p, result, s);
        VmLogs.Log[] memory logs = VmLogs(address(vm)).getRecordedLogs();
        e = new IRoundManager.SlashEntry[](s.length);
        uint256 k;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(rm) || logs[i].topics[0] != IRoundManager.ParticipantSlashed.selector) {
                continue;
            }
            (uint8 reason,, uint256 amount, uint256 fromUnbonding, uint64 releaseAt,) =
                abi.decode(logs[i].data, (uint8, uint16, uint256, uint256, uint64, bytes32));
            e[k++] = IRoundManager.SlashEntry({
                participant: address(uint160(uint256(logs[i].topics[2]))),
                amount: uint96(amount),
                reason: reason,
                fromUnbonding: uint96(fromUnbonding),
                releaseAt: releaseAt
            });
        }
        require(k == s.length, "slash events");
    }

    function noSlashes() internal pure returns (IRoundManager.SlashEvidence[] memory) {
        return new IRoundManager.SlashEvidence[](0);
    }

    function noEntries() internal pure returns (IRoundManager.SlashEntry[] memory) {
        return new IRoundManager.SlashEntry[](0);
    }

    // ------------------------------------------------------------ results sum tree

    function updateHashOf(uint256 roundId, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("update", roundId, i));
    }

    /// @dev Result leaves over parts[0..k) with given rewards (score 500_000).
    function resultLeaves(uint256 roundId, uint256[] memory rewards) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](rewards.length);
        for (uint256 i; i < rewards.length; ++i) {
            leaves[i] = P.resultLeaf(roundId, parts[i], updateHashOf(roundId, i), 500_000, rewards[i]);
        }
    }

    /// @dev Root hash of the results sum tree over parts[0..k) with given rewards.
    function resultsRootOf(uint256 roundId, uint256[] memory rewards) internal view returns (bytes32 root) {
        (root,) = SumTrees.root(resultLeaves(roundId, rewards), rewards);
    }

    /// @dev A RoundResult committing to `rewards` for parts[0..k) (total = Σ rewards).
    function resultOf(uint256 roundId, uint256[] memory rewards) internal view returns (IRoundManager.RoundResult memory) {
        return IRoundManager.RoundResult({
            aggregateHash: keccak256("agg"),
            resultsRoot: resultsRootOf(roundId, rewards),
            totalRewards: uint128(sum(rewards)),
            decisionHash: keccak256(abi.encode("decision", roundId)),
            artifactsURI: "cas://round"
        });
    }

    /// @dev A RoundResult with no rewards (root 0, total 0).
    function emptyResult() internal pure returns (IRoundManager.RoundResult memory r) {
        r.decisionHash = keccak256("decision");
        r.artifactsURI = "cas://round";
    }

    function sumProofOf(uint256 roundId, uint256 i, uint256[] memory rewards)
        internal
        view
        returns (IRoundManager.SumProof memory p)
    {
        (,, p) = SumTrees.build(resultLeaves(roundId, rewards), rewards, i);
    }

    /// @dev Claim parts[i]'s reward of a round opened over `parts` (openWith) whose results are `rewards`.
    function claimFor(uint256 roundId, uint256 i, uint256[] memory rewards) internal {
        rm.claim(
            roundId,
            parts[i],
            updateHashOf(roundId, i),
            500_000,
            rewards[i],
            paramsFor(roundId, parts),
            Merkle.proof(participantLeaves(roundId, parts), i),
            sumProofOf(roundId, i, rewards)
        );
        // counted once, and only when paid (a reverted claim under expectRevert returns here too)
        if (!ghostPaid[roundId][parts[i]] && rm.isClaimed(roundId, parts[i])) {
            ghostPaid[roundId][parts[i]] = true;
            ghostClaimed[roundId] += rewards[i];
        }
    }

    function sum(uint256[] memory xs) internal pure returns (uint256 t) {
        for (uint256 i; i < xs.length; ++i) {
            t += xs[i];
        }
    }

    /// @dev Tokens the RoundManager holds for rounds: budgets of open/finalized rounds and
    ///      unclaimed rewards of settled, non-voided ones (O(rounds); tests only). Claims are counted by
    ///      claimFor (ghostClaimed); a test claiming otherwise adds to ghostClaimed itself.
    function roundEscrow() internal view returns (uint256 escrow) {
        for (uint256 id = 1; id <= rm.roundCount(); ++id) {
            IRoundManager.Round memory r = rm.getRound(id);
            if (r.status == IRoundManager.RoundStatus.Open || r.status == IRoundManager.RoundStatus.Finalized) {
                escrow += r.rewardBudget;
            } else if (r.status == IRoundManager.RoundStatus.Settled && !r.resultVoided) {
                escrow += r.totalRewards - ghostClaimed[id];
            }
        }
    }

    /// @dev The accounting invariant, to the wei, for both token-holding contracts.
    function assertAccounting() internal view {
        assertEq(
            token.balanceOf(address(rm)),
            rm.totalBonds() + rm.rewardPool() + roundEscrow() + rm.totalDisputeDeposits() + rm.treasuryOwed(),
            "rm accounting"
        );
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "sm accounting");
    }
}

/// @notice The log-recording cheatcodes (not in the minimal Vm interface).
interface VmLogs {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
}
