// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IStakeManager
/// @notice Participant staking: stake, top-up, unbond requests each with their own timer, pull withdrawal;
///         stake stays slashable while unbonding. Strikes and jailing: a provable fault, or `strikesToJail`
///         judged slashes, make a participant ineligible for `jailRounds` rounds.
interface IStakeManager {
    /// @notice One staker's balances and record. Slot 0 (active, strikes, jail window) is the only slot a
    ///         slash of active stake touches.
    /// @param active Bonded stake (selectable, slashable).
    /// @param strikes Judged slashes since the last jailing (reset to 0 when the staker is jailed).
    /// @param jailedFromRound The round whose slash jailed the staker (0: never jailed).
    /// @param jailedUntilRound The staker is ineligible for every round id ≤ this.
    /// @param unbonding Σ of the pending unbond requests (still slashable until withdrawn).
    struct StakeInfo {
        uint112 active;
        uint16 strikes;
        uint64 jailedFromRound;
        uint64 jailedUntilRound;
        uint128 unbonding;
    }

    /// @notice One unbond request: `amount` withdrawable from `releaseAt`.
    struct UnbondRequest {
        uint128 amount;
        uint64 releaseAt;
    }

    /// @notice Where one locked slash came from, so a vindicated slash goes back there.
    /// @param amount Total locked.
    /// @param fromUnbonding Part taken from unbond requests (the rest came from active stake).
    /// @param releaseAt Latest release time among the unbond requests it was taken from (0 when none); a returned
    ///        slash becomes one unbond request with this release time: never earlier than the original, and
    ///        exactly the original when one request was touched.
    struct SlashLock {
        uint256 amount;
        uint256 fromUnbonding;
        uint64 releaseAt;
    }

    /// @notice Jail policy.
    /// @param strikesToJail Judged slashes that jail a staker (0: judged slashes never jail).
    /// @param jailRounds Rounds a jailed staker is ineligible for, counted from the round of the fault.
    struct JailPolicy {
        uint16 strikesToJail;
        uint32 jailRounds;
    }

    // ---- events ----
    /// @notice `staker` added `amount` to its active stake (stake or top-up).
    event Staked(address indexed staker, uint256 amount, uint256 newActive);
    /// @notice `staker` queued `amount` for withdrawal at `releaseAt` (its own timer).
    event UnbondRequested(address indexed staker, uint256 amount, uint256 totalUnbonding, uint64 releaseAt);
    /// @notice `staker` withdrew `amount` of released unbonding stake.
    event Withdrawn(address indexed staker, uint256 amount);
    /// @notice `amount` of `staker`'s stake was locked for a slash in `roundId` (`bps` of its slashable stake).
    event SlashLocked(
        address indexed staker,
        uint256 indexed roundId,
        uint256 amount,
        uint16 bps,
        uint256 fromUnbonding,
        uint64 releaseAt,
        uint16 strikes
    );
    /// @notice A locked slash was returned where it came from (vindicated or cancelled).
    event SlashUnlocked(address indexed staker, uint256 indexed roundId, uint256 amount, uint256 fromUnbonding, uint64 releaseAt);
    /// @notice `staker` is ineligible for rounds up to `untilRound` because of its slash in `roundId`.
    event Jailed(address indexed staker, uint256 indexed roundId, uint64 untilRound, bool provable);
    /// @notice The jail set by the slash in `roundId` was lifted (that slash was returned).
    event JailLifted(address indexed staker, uint256 indexed roundId);
    /// @notice `amount` of locked slashed stake was transferred to `to` (round settled).
    event SlashedReleased(address indexed to, uint256 amount);
    /// @notice Minimum stake changed.
    event MinStakeUpdated(uint256 minStake);
    /// @notice Unbonding delay changed.
    event UnbondingDelayUpdated(uint64 unbondingDelay);
    /// @notice Jail policy changed.
    event JailPolicyUpdated(JailPolicy policy);
    /// @notice The RoundManager allowed to lock/unlock/release slashes changed.
    event RoundManagerUpdated(address indexed roundManager);

    // ---- errors ----
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice An amount argument was zero.
    error ZeroAmount();
    /// @notice The resulting active stake `active` is below the minimum `minStake`.
    error BelowMinStake(uint256 active, uint256 minStake);
    /// @notice top-up called by an address with no active stake.
    error NotStaked(address staker);
    /// @notice Unbond amount exceeds the active stake.
    error InsufficientActiveStake(uint256 active, uint256 requested);
    /// @notice The staker already has `max` pending unbond requests.
    error TooManyUnbondRequests(uint256 max);
    /// @notice No unbond request is released yet (the earliest releases at `releaseAt`; 0 when none is pending).
    error NothingToWithdraw(uint64 releaseAt);
    /// @notice Caller is not the configured RoundManager.
    error NotRoundManager(address caller);
    /// @notice Slash bps above 10_000.
    error InvalidBps(uint256 bps);
    /// @notice Array arguments differ in length.
    error LengthMismatch();
    /// @notice More released or unlocked than is locked.
    error ExceedsLocked(uint256 locked, uint256 requested);
    /// @notice Unbonding delay must exceed the RoundManager's round duration + challenge window + dispute window.
    error UnbondingDelayTooShort(uint64 delay, uint64 required);
    /// @notice The RoundManager cannot be switched while stake is locked or rounds are unsettled.
    error RoundManagerBusy(uint256 totalLocked, uint256 activeRounds);

    // ---- participant ----
    /// @notice Stake `amount` tokens (pulled with transferFrom); the resulting active stake must reach `minStake`.
    function stake(uint256 amount) external;
    /// @notice Add `amount` to an existing active stake.
    function topUp(uint256 amount) external;
    /// @notice Queue `amount` of active stake for withdrawal after `unbondingDelay`. Each request keeps its own
    ///         release time (earlier requests are not reset); at most MAX_UNBOND_REQUESTS pending.
    function requestUnbond(uint256 amount) external;
    /// @notice Withdraw every released unbond request to the caller; reverts when none is released.
    function withdraw() external returns (uint256 amount);

    // ---- RoundManager hooks ----
    /// @notice Lock `bps[i]` of each participant's slashable stake (active first, then the unbond requests that
    ///         release last). A provable fault jails at once; a judged one adds a strike and jails at
    ///         `strikesToJail`. Jail terms end at `roundId + jailRounds`.
    function lockSlashes(uint256 roundId, address[] calldata participants, uint16[] calldata bps, bool[] calldata provable)
        external
        returns (SlashLock[] memory locks, uint256 total);
    /// @notice Return a locked slash where it came from: active to active, unbonding to one unbond request
    ///         released at `lock.releaseAt`. A judged slash takes its strike back; a jail set by `roundId` is lifted.
    function unlockSlash(uint256 roundId, address staker, SlashLock calldata lock, bool judged) external;
    /// @notice Transfer `amount` of locked slashed stake to `to`.
    function releaseSlashed(uint256 amount, address to) external;

    // ---- admin ----
    /// @notice Set the minimum active stake.
    function setMinStake(uint128 newMinStake) external;
    /// @notice Set the unbonding delay (must exceed the RoundManager's `minUnbondingDelay()`).
    function setUnbondingDelay(uint64 newDelay) external;
    /// @notice Set the jail policy.
    function setJailPolicy(JailPolicy calldata policy) external;
    /// @notice Set the RoundManager allowed to call the slash hooks. Only through a timelock whose delay exceeds
    ///         the unbonding delay, and only while nothing is locked and the current RoundManager has no
    ///         unsettled round.
    function setRoundManager(address newRoundManager) external;

    // ---- views ----
    /// @notice Largest number of pending unbond requests per staker.
    function MAX_UNBOND_REQUESTS() external view returns (uint256);
    /// @notice The staking token.
    function token() external view returns (address);
    /// @notice Balances and record of `staker`.
    function stakeOf(address staker) external view returns (StakeInfo memory);
    /// @notice Pending unbond requests of `staker`.
    function unbondRequests(address staker) external view returns (UnbondRequest[] memory);
    /// @notice Unbonding stake of `staker` withdrawable now.
    function withdrawable(address staker) external view returns (uint256);
    /// @notice Active + unbonding stake of `staker`.
    function slashableStake(address staker) external view returns (uint256);
    /// @notice Whether `staker` may be selected for the next round (active ≥ minStake, not jailed).
    function isEligible(address staker) external view returns (bool);
    /// @notice Whether `staker` may be selected for round `roundId` (active ≥ minStake, not jailed for it).
    function isEligibleFor(address staker, uint256 roundId) external view returns (bool);
    /// @notice Sum of all active + unbonding stake.
    function totalStaked() external view returns (uint256);
    /// @notice Sum of stake locked pending slash settlement.
    function totalLocked() external view returns (uint256);
    /// @notice Minimum active stake.
    function minStake() external view returns (uint256);
    /// @notice Unbonding delay in seconds.
    function unbondingDelay() external view returns (uint64);
    /// @notice Current jail policy.
    function jailPolicy() external view returns (JailPolicy memory);
    /// @notice RoundManager allowed to call the slash hooks.
    function roundManager() external view returns (address);
}
