// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRoundTiming} from "./IRoundTiming.sol";

/// @title IRoundManager
/// @notice Coordinator bonds, reward pool, round lifecycle (open → finalize → challenge → settle → claim) and disputes.
interface IRoundManager is IRoundTiming {
    /// @notice Round lifecycle. `Expired`: never finalized before its deadline; budget returned.
    enum RoundStatus {
        None,
        Open,
        Finalized,
        Settled,
        Expired
    }

    /// @notice Dispute state of one (round, participant) slash. `None`: undisputed (the slash stands);
    ///         `Confirmed`: its dispute was rejected (final); `Reverted`: upheld, stake returned.
    enum SlashState {
        None,
        Disputed,
        Reverted,
        Confirmed
    }

    /// @notice Dispute kind: against one participant's slash, or against the round result.
    enum DisputeKind {
        Slash,
        Result
    }

    /// @notice Dispute status.
    enum DisputeStatus {
        None,
        Open,
        Upheld,
        Rejected
    }

    /// @notice Governance-set parameters.
    /// @param minCoordinatorBond Bond a coordinator must hold to open a round.
    /// @param maxRoundDuration Longest allowed time from open to finalize deadline (seconds).
    /// @param challengeWindow Seconds after finalize during which disputes can be opened.
    /// @param maxSlashBps Largest slash, in bps of the participant's slashable stake.
    /// @param slashPoolBps Share of settled slashes going to the reward pool (rest to the treasury).
    /// @param minDisputeDeposit Smallest dispute deposit.
    /// @param treasury Receives the treasury share of settled slashes.
    struct Config {
        uint128 minCoordinatorBond;
        uint40 maxRoundDuration;
        uint40 challengeWindow;
        uint16 maxSlashBps;
        uint16 slashPoolBps;
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
        uint16 openDisputes;
        bool resultVoided;
        uint96 slashedTotal;
        bytes32 paramsHash;
        uint128 totalRewards;
        uint128 claimed;
        bytes32 resultsRoot;
        bytes32 aggregateHash;
        bytes32 slashesHash;
    }

    /// @notice One slash in finalizeRound, with its evidence.
    /// @param participant Slashed address; must have signed the commitment and be in the participant set.
    /// @param updateHash Update hash of the signed Commitment.
    /// @param numExamples numExamples of the signed Commitment.
    /// @param reason Reason code 1..5 (docs/protocol.md).
    /// @param slashBps Fraction of the participant's slashable stake, ≤ maxSlashBps.
    /// @param signature 65-byte r‖s‖v EIP-712 signature of the Commitment by `participant`.
    /// @param proof Merkle proof of participantLeaf(roundId, participant) in the round's participantsRoot.
    struct SlashEvidence {
        address participant;
        bytes32 updateHash;
        uint64 numExamples;
        uint8 reason;
        uint16 slashBps;
        bytes signature;
        bytes32[] proof;
    }

    /// @notice One applied slash as emitted in ParticipantSlashed (in finalize order). The round stores only
    ///         slashesHash = fold(h0 = 0, h_i = keccak256(abi.encode(h_{i-1}, participant, uint256 amount, uint8 reason))).
    struct SlashEntry {
        address participant;
        uint96 amount;
        uint8 reason;
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
    }

    // ---- events ----
    /// @notice Configuration changed.
    event ConfigUpdated(Config config);
    /// @notice `coordinator` posted `amount` of bond.
    event BondPosted(address indexed coordinator, uint256 amount, uint256 newBond);
    /// @notice `coordinator` withdrew `amount` of bond.
    event BondWithdrawn(address indexed coordinator, uint256 amount, uint256 newBond);
    /// @notice `amount` was paid out of `coordinator`'s bond to `to` (upheld dispute).
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
    /// @notice A round was finalized (once).
    event RoundFinalized(
        uint256 indexed roundId,
        bytes32 aggregateHash,
        bytes32 resultsRoot,
        uint128 totalRewards,
        uint96 slashedTotal,
        uint256 slashCount,
        uint40 challengeDeadline
    );
    /// @notice A participant's slash was locked at finalize with evidence.
    event ParticipantSlashed(
        uint256 indexed roundId, address indexed participant, uint8 reason, uint16 slashBps, uint256 amount, bytes32 updateHash
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
    /// @notice An upheld slash dispute returned `amount` to the participant's stake.
    event SlashReverted(uint256 indexed roundId, address indexed participant, uint256 amount);
    /// @notice An upheld result dispute voided the round's rewards (budget returns to the pool at settle).
    event RoundResultVoided(uint256 indexed roundId);
    /// @notice A round was settled: slashes moved, unspent budget returned to the pool.
    event RoundSettled(uint256 indexed roundId, uint256 slashedToPool, uint256 slashedToTreasury, uint256 budgetReturned);
    /// @notice A round passed its finalize deadline unfinalized; its budget returned to the pool.
    event RoundExpired(uint256 indexed roundId, uint256 budgetReturned);
    /// @notice A reward was claimed (paid to `participant`).
    event RewardClaimed(uint256 indexed roundId, address indexed participant, uint256 amount);

    // ---- errors ----
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice An amount argument was zero.
    error ZeroAmount();
    /// @notice Configuration value out of range.
    error InvalidConfig();
    /// @notice The StakeManager's unbonding delay does not exceed maxRoundDuration + challengeWindow.
    error UnbondingDelayTooShort(uint64 delay, uint64 required);
    /// @notice Coordinator bond below the minimum.
    error InsufficientBond(uint256 bond, uint256 required);
    /// @notice Bond withdrawal while rounds are unsettled, or more than posted.
    error BondLocked(uint256 openRounds);
    /// @notice Bond withdrawal above the posted bond.
    error InsufficientBondBalance(uint256 bond, uint256 requested);
    /// @notice Reward budget above the reward pool.
    error InsufficientRewardPool(uint256 pool, uint256 requested);
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
    /// @notice Slash bps zero or above maxSlashBps.
    error InvalidSlashBps(uint256 bps, uint256 maxBps);
    /// @notice Slash reason code not in 1..5.
    error InvalidSlashReason(uint8 reason);
    /// @notice More slashes than participants.
    error TooManySlashes(uint256 slashes, uint256 participantCount);
    /// @notice Commitment signature does not recover to the participant.
    error InvalidCommitmentSignature(address participant);
    /// @notice Participant not proven to be in the round's participant set.
    error NotSelected(address participant);
    /// @notice Slashes must be sorted by strictly ascending participant address (no duplicates).
    error SlashesNotSorted(address participant);
    /// @notice The slash list given to disputeSlash does not hash to the round's slashesHash.
    error SlashListMismatch();
    /// @notice The slash entry at `index` is not the caller's.
    error NotSlashedParticipant(address caller, address participant);
    /// @notice Dispute after the challenge window.
    error ChallengeWindowClosed(uint256 deadline);
    /// @notice Settle before the challenge window ended.
    error ChallengeWindowOpen(uint256 deadline);
    /// @notice Settle while disputes are open.
    error DisputesPending(uint256 openDisputes);
    /// @notice Too many simultaneously open disputes on one round.
    error TooManyDisputes();
    /// @notice The slash was already disputed.
    error SlashNotDisputable(uint256 roundId, address participant, SlashState state);
    /// @notice Dispute deposit below the minimum.
    error DepositTooLow(uint256 deposit, uint256 minDeposit);
    /// @notice Dispute not open.
    error DisputeNotOpen(uint256 disputeId);
    /// @notice Reward already claimed for (round, participant).
    error AlreadyClaimed(uint256 roundId, address participant);
    /// @notice Result leaf not proven against the round's resultsRoot.
    error InvalidRewardProof();
    /// @notice Claims would exceed the round's declared totalRewards.
    error ClaimExceedsTotal(uint256 claimed, uint256 amount, uint256 totalRewards);
    /// @notice The round's result was voided by an upheld dispute: no rewards.
    error RoundVoided(uint256 roundId);

    // ---- funding and bonds ----
    /// @notice Post `amount` of coordinator bond for the caller.
    function postBond(uint256 amount) external;
    /// @notice Withdraw `amount` of the caller's bond; only with no unsettled rounds.
    function withdrawBond(uint256 amount) external;
    /// @notice Add `amount` to the reward pool (anyone).
    function fundRewardPool(uint256 amount) external;

    // ---- rounds ----
    /// @notice Open a round (COORDINATOR_ROLE, bond ≥ min, not paused); takes `rewardBudget` from the pool.
    function openRound(RoundParams calldata params, uint32 participantCount, uint96 rewardBudget, uint40 finalizeDeadline)
        external
        returns (uint256 roundId);
    /// @notice Finalize once (round coordinator, before the deadline): results root, declared total rewards, evidenced
    ///         slashes (sorted by ascending participant address).
    function finalizeRound(
        uint256 roundId,
        RoundParams calldata params,
        bytes32 aggregateHash,
        bytes32 resultsRoot,
        uint128 totalRewards,
        SlashEvidence[] calldata slashes
    ) external;
    /// @notice Settle a finalized round after its challenge window with no open disputes (anyone).
    function settleRound(uint256 roundId) external;
    /// @notice Expire an open round past its finalize deadline and return its budget (anyone).
    function expireRound(uint256 roundId) external;
    /// @notice Claim a settled round's reward for `participant` by Merkle proof; paid to `participant`.
    function claim(
        uint256 roundId,
        address participant,
        bytes32 updateHash,
        uint256 score,
        uint256 reward,
        bytes32[] calldata proof
    ) external;

    // ---- disputes ----
    /// @notice The slashed participant disputes its slash within the challenge window, with a deposit.
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
    /// @notice Arbiter resolves a dispute: uphold (revert slash / void result, pay up to `compensation` from the bond, return deposit) or reject (deposit to the pool).
    function resolveDispute(uint256 disputeId, bool uphold, uint256 compensation) external;

    // ---- admin ----
    /// @notice Replace the configuration (admin).
    function setConfig(Config calldata newConfig) external;

    // ---- views ----
    /// @notice The staking / reward token.
    function token() external view returns (address);
    /// @notice The StakeManager.
    function stakeManager() external view returns (address);
    /// @notice Current configuration.
    function config() external view returns (Config memory);
    /// @notice Stored state of `roundId`.
    function getRound(uint256 roundId) external view returns (Round memory);
    /// @notice Number of rounds opened (ids are 1..roundCount).
    function roundCount() external view returns (uint256);
    /// @notice Unallocated reward pool.
    function rewardPool() external view returns (uint256);
    /// @notice Sum of all coordinator bonds.
    function totalBonds() external view returns (uint256);
    /// @notice Sum of all open dispute deposits.
    function totalDisputeDeposits() external view returns (uint256);
    /// @notice `coordinator`'s bond and number of unsettled rounds.
    function coordinatorInfo(address coordinator) external view returns (uint256 bond, uint256 openRounds);
    /// @notice Dispute state of (round, participant)'s slash.
    function slashState(uint256 roundId, address participant) external view returns (SlashState);
    /// @notice Dispute by id (ids start at 1).
    function getDispute(uint256 disputeId) external view returns (Dispute memory);
    /// @notice Number of disputes opened.
    function disputeCount() external view returns (uint256);
    /// @notice Whether (round, participant) claimed its reward.
    function isClaimed(uint256 roundId, address participant) external view returns (bool);
    /// @notice EIP-712 digest of a Commitment under this contract's domain.
    function commitmentDigest(
        uint256 roundId,
        address participant,
        bytes32 globalModelHash,
        bytes32 updateHash,
        uint64 numExamples
    ) external view returns (bytes32);
}
