// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IStakeManager
/// @notice Participant staking: stake, top-up, unbond with a delay, pull withdrawal; slashable while unbonding.
interface IStakeManager {
    /// @notice One staker's balances.
    /// @param active Bonded stake (selectable, slashable).
    /// @param unbonding Stake queued for withdrawal (still slashable until withdrawn).
    /// @param unbondReleaseAt Timestamp from which `unbonding` can be withdrawn.
    struct StakeInfo {
        uint128 active;
        uint128 unbonding;
        uint64 unbondReleaseAt;
    }

    // ---- events ----
    /// @notice `staker` added `amount` to its active stake (stake or top-up).
    event Staked(address indexed staker, uint256 amount, uint256 newActive);
    /// @notice `staker` moved `amount` from active to unbonding, withdrawable at `releaseAt`.
    event UnbondRequested(address indexed staker, uint256 amount, uint256 totalUnbonding, uint64 releaseAt);
    /// @notice `staker` withdrew `amount` of unbonded stake.
    event Withdrawn(address indexed staker, uint256 amount);
    /// @notice `amount` of `staker`'s stake was locked pending a slash (`bps` of its slashable stake).
    event SlashLocked(address indexed staker, uint256 amount, uint16 bps, uint256 fromActive, uint256 fromUnbonding);
    /// @notice A locked slash of `amount` was returned to `staker`'s active stake (dispute upheld).
    event SlashUnlocked(address indexed staker, uint256 amount);
    /// @notice `amount` of locked slashed stake was transferred to `to` (round settled).
    event SlashedReleased(address indexed to, uint256 amount);
    /// @notice Minimum stake changed.
    event MinStakeUpdated(uint256 minStake);
    /// @notice Unbonding delay changed.
    event UnbondingDelayUpdated(uint64 unbondingDelay);
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
    /// @notice Nothing is unbonding.
    error NothingToWithdraw();
    /// @notice Unbonding stake is not yet released.
    error UnbondingNotReleased(uint64 releaseAt);
    /// @notice Caller is not the configured RoundManager.
    error NotRoundManager(address caller);
    /// @notice Slash bps above 10_000.
    error InvalidBps(uint256 bps);
    /// @notice Array arguments differ in length.
    error LengthMismatch();
    /// @notice More released or unlocked than is locked.
    error ExceedsLocked(uint256 locked, uint256 requested);
    /// @notice Unbonding delay must exceed the RoundManager's round duration + challenge window.
    error UnbondingDelayTooShort(uint64 delay, uint64 required);

    // ---- participant ----
    /// @notice Stake `amount` tokens (pulled with transferFrom); the resulting active stake must reach `minStake`.
    function stake(uint256 amount) external;
    /// @notice Add `amount` to an existing active stake.
    function topUp(uint256 amount) external;
    /// @notice Queue `amount` of active stake for withdrawal after `unbondingDelay` (resets the release time).
    function requestUnbond(uint256 amount) external;
    /// @notice Withdraw all released unbonding stake to the caller.
    function withdraw() external returns (uint256 amount);

    // ---- RoundManager hooks ----
    /// @notice Lock `bps[i]` of each participant's slashable stake (active first, then unbonding).
    function lockSlashes(address[] calldata participants, uint16[] calldata bps)
        external
        returns (uint256[] memory amounts, uint256 total);
    /// @notice Return a locked slash of `amount` to `staker`'s active stake.
    function unlockSlash(address staker, uint256 amount) external;
    /// @notice Transfer `amount` of locked slashed stake to `to`.
    function releaseSlashed(uint256 amount, address to) external;

    // ---- admin ----
    /// @notice Set the minimum active stake.
    function setMinStake(uint128 newMinStake) external;
    /// @notice Set the unbonding delay (must exceed the RoundManager's `minUnbondingDelay()`).
    function setUnbondingDelay(uint64 newDelay) external;
    /// @notice Set the RoundManager allowed to call the slash hooks.
    function setRoundManager(address newRoundManager) external;

    // ---- views ----
    /// @notice The staking token.
    function token() external view returns (address);
    /// @notice Balances of `staker`.
    function stakeOf(address staker) external view returns (StakeInfo memory);
    /// @notice Active + unbonding stake of `staker`.
    function slashableStake(address staker) external view returns (uint256);
    /// @notice Whether `staker`'s active stake is at least `minStake`.
    function isEligible(address staker) external view returns (bool);
    /// @notice Sum of all active + unbonding stake.
    function totalStaked() external view returns (uint256);
    /// @notice Sum of stake locked pending slash settlement.
    function totalLocked() external view returns (uint256);
    /// @notice Minimum active stake.
    function minStake() external view returns (uint256);
    /// @notice Unbonding delay in seconds.
    function unbondingDelay() external view returns (uint64);
    /// @notice RoundManager allowed to call the slash hooks.
    function roundManager() external view returns (address);
}
