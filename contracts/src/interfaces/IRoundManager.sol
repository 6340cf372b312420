// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRoundTiming} from "./IRoundTiming.sol";

/// @title IRoundManager
/// @notice Coordinator bonds, reward pool, round lifecycle (open → finalize → challenge → settle → claim) and disputes.
interface IRoundManager is IRoundTiming {
    /// @notice Round lifecycle. `Expired`: never finalized before its deadline; `Cancelled`: stopped by the
    ///         guardian (PAUSER_ROLE) before settlement. Both return the whole budget to the pool.
    enum RoundStatus {
        None,
        Open,
        Finalized,
        Settled,
        Expired,
        Cancelled
    }

    /// @notice Dispute state of one (round, participant) judged slash. `None`: undisputed (the slash stands);
    ///         `Confirmed`: its dispute was rejected (final); `Reverted`: upheld or timed out, stake returned.
    enum SlashState {
        None,
        Disputed,
        Reverted,
        Confirmed
    }

    /// @notice Dispute kind: against one participant's judged slash, or against the round result.
    enum DisputeKind {
        Slash,
        Result
    }

    /// @notice Dispute status. `TimedOut`: the arbiter did not decide by the round's dispute deadline and the
    ///         default outcome applied; `Refunded`: the round was cancelled, the deposit returned.
    enum DisputeStatus {
        None,
        Open,
        Upheld,
        Rejected,
        TimedOut,
        Refunded
    }

    /// @notice Governance-set parameters.
    /// @param minCoordinatorBond Bond a coordinator must hold to open a round.
    /// @param maxRoundDuration Longest allowed time from open to finalize deadline (seconds).
    /// @param challengeWindow Seconds after finalize during which disputes can be opened.
    /// @param disputeWindow Seconds after the challenge window during which the arbiter can decide; after it
    ///        every open dispute takes its default outcome (timeoutDispute).
    /// @param maxJudgedSlashBps Largest judged (statistical) slash per participant per round, in bps of its stake.
    /// @param provableSlashBps Size of every provable-fault slash, in bps of the participant's stake.
    /// @param slashPoolBps Share of settled slashes going to the reward pool (the rest is owed to the treasury).
    /// @param budgetBondMultiple A coordinator's rewardBudgets in unsettled rounds may total at most
    ///        bond × budgetBondMultiple.
    /// @param timeoutCompensationBps Paid from the coordinator's bond to a participant whose slash dispute
    ///        timed out, in bps of the slash.
    /// @param minDisputeDeposit Smallest dispute deposit.
    /// @param treasury Pulls the treasury share of settled slashes (claimTreasury).
    struct Config {
        uint128 minCoordinatorBond;
        uint40 maxRoundDuration;
        uint40 challengeWindow;
        uint40 disputeWindow;
        uint16 maxJudgedSlashBps;
        uint16 provableSlashBps;
        uint16 slashPoolBps;
        uint16 budgetBondMultiple;
        uint16 timeoutCompensationBps;
        uint128 minDisputeDeposit;
        address treasury;
    }

    /// @notice The immutable round parameters that are hashed into storage (emitted in RoundOpened).
    struct RoundParams {
        bytes32 globalModelHash;
        bytes32 configHash;
        bytes32 participantsRoot;
    }

    /// @notice Stored round state (O(1) per round).
    struct Round {
        address coordinator;
        uint96 rewardBudget;
        RoundStatus status;
        uint32 participantCount;
        uint40 finalizeDeadline;
        uint40 challengeDeadline;
        uint40 disputeDeadline;
        uint32 openSlashDisputes;
        uint32 openResultDisputes;
        bool resultVoided;
        uint128 totalRewards;
        uint96 slashedTotal;
        bytes32 paramsHash;
        bytes32 resultsRoot;
        bytes32 aggregateHash;
        bytes32 slashesHash;
    }

    /// @notice What finalizeRound commits to.
    /// @param aggregateHash Update hash of the aggregated model.
    /// @param resultsRoot Root hash of the results sum tree (SumTree); its sum must equal totalRewards.
    /// @param totalRewards Σ rewards (≤ rewardBudget).
    /// @param decisionHash keccak256 of the round's decision file (the manifest `fedstake verify` replays).
    /// @param artifactsURI Where the manifest and the arrays `verify` needs are stored.
    struct RoundResult {
        bytes32 aggregateHash;
        bytes32 resultsRoot;
        uint128 totalRewards;
        bytes32 decisionHash;
        string artifactsURI;
    }

    /// @notice One slash in finalizeRound, with its evidence.
    /// @param participant Slashed address; must have signed the commitment and be in the participant set.
    /// @param updateHash Update hash of the signed Commitment.
    /// @param numExamples numExamples of the signed Commitment.
    /// @param reason Reason code 1..8 (docs/protocol.md); provable or judged.
    /// @param slashBps Provable: must equal provableSlashBps. Judged: 1..maxJudgedSlashBps.
    /// @param signature 65-byte r‖s‖v EIP-712 signature of the Commitment by `participant`.
    /// @param proof Merkle proof of participantLeaf(roundId, participant) in the round's participantsRoot.
    /// @param faultProof Provable: the proof checked by the FaultVerifier (IFaultVerifier). Judged: empty.
    struct SlashEvidence {
        address participant;
        bytes32 updateHash;
        uint64 numExamples;
        uint8 reason;
        uint16 slashBps;
        bytes signature;
        bytes32[] proof;
        bytes faultProof;
    }

    /// @notice One applied slash as emitted in ParticipantSlashed (in finalize order). The round stores only
    ///         slashesHash = fold(h0 = 0, h_i = keccak256(abi.encode(h_{i-1}, participant, uint256 amount,
    ///         uint8 reason, uint256 fromUnbonding, uint64 releaseAt))).
    struct SlashEntry {
        address participant;
        uint96 amount;
        uint8 reason;
        uint96 fromUnbonding;
        uint64 releaseAt;
    }

    /// @notice A claim's path in the results sum tree (same layout as SumTree.Proof).
    struct SumProof {
        uint256 index;
        bytes32[] hashes;
        uint256[] sums;
    }

    /// @notice Stored dispute.
    struct Dispute {
        uint64 roundId;
        address disputer;
        DisputeKind kind;
        DisputeStatus status;
        address participant;
        uint96 deposit;
        uint96 slashAmount;
        uint96 fromUnbonding;
        uint64 releaseAt;
    }

    // ---- events ----
    /// @notice Configuration changed.
    event ConfigUpdated(Config config);
    /// @notice The FaultVerifier changed.
    event FaultVerifierUpdated(address indexed faultVerifier);
    /// @notice `coordinator` posted `amount` of bond.
    event BondPosted(address indexed coordinator, uint256 amount, uint256 newBond);
    /// @notice `coordinator` withdrew `amount` of bond.
    event BondWithdrawn(address indexed coordinator, uint256 amount, uint256 newBond);
    /// @notice `amount` was paid out of `coordinator`'s bond to `to` (upheld or timed-out dispute).
    event BondSlashed(address indexed coordinator, address indexed to, uint256 amount);
    /// @notice The reward pool was funded.
    event RewardPoolFunded(address indexed funder, uint256 amount, uint256 newPool);
    /// @notice A round was opened; the RoundParams fields are emitted here and only their hash is stored.
    event RoundOpened(
        uint256 indexed roundId,
        address indexed coordinator,
        bytes32 globalModelHash,
        bytes32 configHash,
        bytes32 participantsRoot,
        uint32 participantCount,
        uint96 rewardBudget,
        uint40 finalizeDeadline
    );
    /// @notice A round was finalized (once). `decisionHash` and `artifactsURI` are what `fedstake verify` replays.
    event RoundFinalized(
        uint256 indexed roundId,
        bytes32 aggregateHash,
        bytes32 resultsRoot,
        uint128 totalRewards,
        uint96 slashedTotal,
        uint256 slashCount,
        uint40 challengeDeadline,
        uint40 disputeDeadline,
        bytes32 decisionHash,
        string artifactsURI
    );
    /// @notice A participant's slash was locked at finalize with evidence (provable: proof checked on-chain).
    event ParticipantSlashed(
        uint256 indexed roundId,
        address indexed participant,
        uint8 reason,
        uint16 slashBps,
        uint256 amount,
        uint256 fromUnbonding,
        uint64 releaseAt,
        bytes32 updateHash
    );
    /// @notice A dispute was opened.
    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed roundId,
        address indexed disputer,
        DisputeKind kind,
        address participant,
        uint256 deposit,
        bytes32 evidenceHash
    );
    /// @notice A dispute was resolved by the arbiter.
    event DisputeResolved(uint256 indexed disputeId, uint256 indexed roundId, bool upheld, uint256 compensation);
    /// @notice A dispute took its default outcome (slash: reverted + compensation; result: stands, deposit back),
    ///         or was refunded because its round was cancelled.
    event DisputeTimedOut(uint256 indexed disputeId, uint256 indexed roundId, DisputeStatus status, uint256 compensation);
    /// @notice A slash was returned to the participant (dispute upheld or timed out, or round cancelled).
    event SlashReverted(uint256 indexed roundId, address indexed participant, uint256 amount);
    /// @notice An upheld result dispute voided the round's rewards (budget returns to the pool at settle).
    event RoundResultVoided(uint256 indexed roundId);
    /// @notice A round was settled: slashes moved, unspent budget returned to the pool.
    event RoundSettled(uint256 indexed roundId, uint256 slashedToPool, uint256 slashedToTreasury, uint256 budgetReturned);
    /// @notice A round passed its finalize deadline unfinalized; its budget returned to the pool.
    event RoundExpired(uint256 indexed roundId, uint256 budgetReturned);
    /// @notice The guardian cancelled a round: budget back to the pool, every locked slash returned.
    event RoundCancelled(uint256 indexed roundId, address indexed by, uint256 budgetReturned, uint256 slashesReturned);
    /// @notice A reward was claimed (paid to `participant`).
    event RewardClaimed(uint256 indexed roundId, address indexed participant, uint256 amount);
    /// @notice The treasury pulled what it is owed.
    event TreasuryClaimed(address indexed treasury, uint256 amount);

    // ---- errors ----
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice An amount argument was zero.
    error ZeroAmount();
    /// @notice Configuration value out of range.
    error InvalidConfig();
    /// @notice The StakeManager's unbonding delay does not exceed maxRoundDuration + challengeWindow + disputeWindow.
    error UnbondingDelayTooShort(uint64 delay, uint64 required);
    /// @notice Coordinator bond below the minimum.
    error InsufficientBond(uint256 bond, uint256 required);
    /// @notice The budget would take the coordinator's unsettled budgets above bond × budgetBondMultiple.
    error BudgetExceedsBond(uint256 budget, uint256 maxBudget);
    /// @notice Bond withdrawal while rounds are unsettled.
    error BondLocked(uint256 openRounds);
    /// @notice Bond withdrawal above the posted bond.
    error InsufficientBondBalance(uint256 bond, uint256 requested);
    /// @notice Reward budget above the reward pool.
    error InsufficientRewardPool(uint256 pool, uint256 requested);
    /// @notice openRound was called for `expected` but the next round id is `next` (another round was opened).
    error UnexpectedRoundId(uint256 expected, uint256 next);
    /// @notice Finalize deadline in the past or beyond now + maxRoundDuration.
    error InvalidDeadline(uint256 deadline, uint256 latest);
    /// @notice participantCount is zero.
    error EmptyParticipantSet();
    /// @notice The round is in `status`, which does not allow this action.
    error InvalidRoundStatus(uint256 roundId, RoundStatus status);
    /// @notice Caller is not the round's coordinator.
    error NotRoundCoordinator(address caller, address coordinator);
    /// @notice RoundParams do not hash to the stored paramsHash.
    error RoundParamsMismatch();
    /// @notice The finalize deadline has passed.
    error FinalizeDeadlinePassed(uint256 deadline);
    /// @notice The finalize deadline has not passed yet (expire too early).
    error FinalizeDeadlineNotPassed(uint256 deadline);
    /// @notice Declared totalRewards above the round's budget.
    error RewardsExceedBudget(uint256 totalRewards, uint256 budget);
    /// @notice Slash bps out of range for its class (provable: ≠ provableSlashBps; judged: 0 or > maxJudgedSlashBps).
    error InvalidSlashBps(uint256 bps, uint256 maxBps);
    /// @notice Slash reason code not in 1..8.
    error InvalidSlashReason(uint8 reason);
    /// @notice A judged slash carried a fault proof.
    error UnexpectedFaultProof(address participant);
    /// @notice More slashes than participants.
    error TooManySlashes(uint256 slashes, uint256 participantCount);
    /// @notice Commitment signature does not recover to the participant.
    error InvalidCommitmentSignature(address participant);
    /// @notice Participant not proven to be in the round's participant set.
    error NotSelected(address participant);
    /// @notice Slashes must be sorted by strictly ascending participant address (no duplicates).
    error SlashesNotSorted(address participant);
    /// @notice The slash list given does not hash to the round's slashesHash.
    error SlashListMismatch();
    /// @notice The slash entry at `index` is not the caller's.
    error NotSlashedParticipant(address caller, address participant);
    /// @notice A provable slash was checked on-chain and cannot be disputed.
    error ProvenSlash(uint256 roundId, address participant);
    /// @notice Dispute after the challenge window.
    error ChallengeWindowClosed(uint256 deadline);
    /// @notice Settle before the challenge window ended.
    error ChallengeWindowOpen(uint256 deadline);
    /// @notice Settle while disputes are open (slash disputes always; result disputes until the dispute deadline).
    error DisputesPending(uint256 openSlashDisputes, uint256 openResultDisputes);
    /// @notice The slash was already disputed.
    error SlashNotDisputable(uint256 roundId, address participant, SlashState state);
    /// @notice Dispute deposit below the minimum.
    error DepositTooLow(uint256 deposit, uint256 minDeposit);
    /// @notice Dispute not open.
    error DisputeNotOpen(uint256 disputeId);
    /// @notice The arbiter cannot decide a dispute over its own round.
    error ArbiterIsCoordinator(address arbiter);
    /// @notice The round's dispute deadline has passed: only the default outcome (timeoutDispute) applies now.
    error DisputeDeadlinePassed(uint256 deadline);
    /// @notice The round's dispute deadline has not passed (and the round is not cancelled or settled).
    error DisputeDeadlineNotPassed(uint256 deadline);
    /// @notice Reward already claimed for (round, participant).
    error AlreadyClaimed(uint256 roundId, address participant);
    /// @notice The result leaf and its sum-tree path do not reach (resultsRoot, totalRewards).
    error InvalidRewardProof();
    /// @notice The round's result was voided by an upheld dispute: no rewards.
    error RoundVoided(uint256 roundId);
    /// @notice Only the configured treasury can pull the treasury's share.
    error NotTreasury(address caller);
    /// @notice Nothing is owed to the treasury.
    error NothingOwed();

    // ---- funding and bonds ----
    /// @notice Post `amount` of coordinator bond for the caller.
    function postBond(uint256 amount) external;
    /// @notice Withdraw `amount` of the caller's bond; only with no unsettled rounds.
    function withdrawBond(uint256 amount) external;
    /// @notice Add `amount` to the reward pool (anyone).
    function fundRewardPool(uint256 amount) external;

    // ---- rounds ----
    /// @notice Open round `expectedRoundId` (COORDINATOR_ROLE, bond ≥ min, budgets ≤ bond × multiple, not
    ///         paused); takes `rewardBudget` from the pool. Reverts UnexpectedRoundId when another round got the id.
    function openRound(
        uint256 expectedRoundId,
        RoundParams calldata params,
        uint32 participantCount,
        uint96 rewardBudget,
        uint40 finalizeDeadline
    ) external returns (uint256 roundId);
    /// @notice Finalize once (the round's coordinator, still holding COORDINATOR_ROLE, not paused, before the
    ///         deadline): the result and the evidenced slashes (sorted by ascending participant address). Provable
    ///         slashes are checked by the FaultVerifier (a failing proof reverts); judged ones stay pending and
    ///         disputable through the challenge window.
    function finalizeRound(
        uint256 roundId,
        RoundParams calldata params,
        RoundResult calldata result,
        SlashEvidence[] calldata slashes
    ) external;
    /// @notice Settle a finalized round after its challenge window (anyone): needs no open slash dispute, and no
    ///         open result dispute unless the dispute deadline has passed.
    function settleRound(uint256 roundId) external;
    /// @notice Expire an open round past its finalize deadline and return its budget (anyone).
    function expireRound(uint256 roundId) external;
    /// @notice Cancel an open or finalized, unsettled round (PAUSER_ROLE, the guardian): budget back to the pool,
    ///         every locked slash returned where it came from; `slashes` is the round's slash list (empty if none).
    function cancelRound(uint256 roundId, SlashEntry[] calldata slashes) external;
    /// @notice Claim a settled round's reward for `participant` (paid to `participant`): the participant must be in
    ///         the round's participant set and its result leaf on a sum-tree path to (resultsRoot, totalRewards).
    function claim(
        uint256 roundId,
        address participant,
        bytes32 updateHash,
        uint256 score,
        uint256 reward,
        RoundParams calldata params,
        bytes32[] calldata participantProof,
        SumProof calldata proof
    ) external;
    /// @notice Pay the treasury what settled slashes owe it (only the configured treasury).
    function claimTreasury() external returns (uint256 amount);

    // ---- disputes ----
    /// @notice The slashed participant disputes its judged slash within the challenge window, with a deposit.
    ///         Every slashed participant has this right (no shared cap).
    /// @param slashes The round's full slash list in finalize order (from its ParticipantSlashed events).
    /// @param index Position of the caller's entry in `slashes`.
    function disputeSlash(
        uint256 roundId,
        SlashEntry[] calldata slashes,
        uint256 index,
        uint256 deposit,
        bytes32 evidenceHash
    ) external returns (uint256 disputeId);
    /// @notice Anyone disputes a round's result within the challenge window, with a deposit.
    function disputeResult(uint256 roundId, uint256 deposit, bytes32 evidenceHash) external returns (uint256 disputeId);
    /// @notice Arbiter (not the round's coordinator) resolves a dispute before the round's dispute deadline:
    ///         uphold (revert the slash / void the result, pay up to `compensation` from the bond, return the
    ///         deposit) or reject (deposit to the pool).
    function resolveDispute(uint256 disputeId, bool uphold, uint256 compensation) external;
    /// @notice Apply a dispute's default outcome once the round's dispute deadline has passed (anyone): a slash
    ///         dispute reverts the slash and pays timeoutCompensationBps of it from the bond; a result dispute
    ///         leaves the result standing and returns the deposit. On a cancelled round the deposit is refunded.
    function timeoutDispute(uint256 disputeId) external;

    // ---- admin ----
    /// @notice Replace the configuration (admin).
    function setConfig(Config calldata newConfig) external;
    /// @notice Replace the FaultVerifier (admin; goes through the timelock in production).
    function setFaultVerifier(address newFaultVerifier) external;

    // ---- views ----
    /// @notice The staking / reward token.
    function token() external view returns (address);
    /// @notice The StakeManager.
    function stakeManager() external view returns (address);
    /// @notice The FaultVerifier.
    function faultVerifier() external view returns (address);
    /// @notice Current configuration.
    function config() external view returns (Config memory);
    /// @notice Stored state of `roundId`.
    function getRound(uint256 roundId) external view returns (Round memory);
    /// @notice Unallocated reward pool.
    function rewardPool() external view returns (uint256);
    /// @notice Sum of all coordinator bonds.
    function totalBonds() external view returns (uint256);
    /// @notice Sum of all open dispute deposits.
    function totalDisputeDeposits() external view returns (uint256);
    /// @notice Settled slashes owed to the treasury, not yet pulled.
    function treasuryOwed() external view returns (uint256);
    /// @notice `coordinator`'s bond, number of unsettled rounds and the budgets they hold.
    function coordinatorInfo(address coordinator)
        external
        view
        returns (uint256 bond, uint256 openRounds, uint256 lockedBudget);
    /// @notice Dispute state of (round, participant)'s slash.
    function slashState(uint256 roundId, address participant) external view returns (SlashState);
    /// @notice Dispute by id (ids start at 1).
    function getDispute(uint256 disputeId) external view returns (Dispute memory);
    /// @notice Number of disputes opened.
    function disputeCount() external view returns (uint256);
    /// @notice Whether (round, participant) claimed its reward.
    function isClaimed(uint256 roundId, address participant) external view returns (bool);
    /// @notice The EIP-712 domain separator commitments are signed under.
    function domainSeparator() external view returns (bytes32);
    /// @notice EIP-712 digest of a Commitment under this contract's domain.
    function commitmentDigest(
        uint256 roundId,
        address participant,
        bytes32 globalModelHash,
        bytes32 updateHash,
        uint64 numExamples
    ) external view returns (bytes32);
}
