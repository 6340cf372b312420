// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {FedstakeBase} from "./FedstakeBase.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";
import {IRoundTiming} from "./interfaces/IRoundTiming.sol";
import {ExactTransfer} from "./libraries/ExactTransfer.sol";

/// @title StakeManager
/// @notice Participants stake an ERC-20, top up, queue unbonding and withdraw after a delay (pull-based).
///         Unbonding stake stays slashable. Only the configured RoundManager can lock, unlock and release
///         slashes. Pausing stops stake/top-up; unbond and withdraw always work.
/// @dev Token balance == totalStaked + totalLocked, to the wei.
contract StakeManager is FedstakeBase, IStakeManager {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ExactTransfer for IERC20;

    uint256 private constant BPS = 10_000;

    /// @custom:storage-location erc7201:fedstake.storage.StakeManager
    struct StakeManagerStorage {
        IERC20 token;
        address roundManager;
        uint128 totalStaked;
        uint128 totalLocked;
        uint128 minStake;
        uint64 unbondingDelay;
        mapping(address staker => StakeInfo) stakes;
    }

    // keccak256(abi.encode(uint256(keccak256("fedstake.storage.StakeManager")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xc164e44ab3b051eb2b750066b14bc2682d2d01b7ac4e6d593f4722db22122b00;

    function _s() private pure returns (StakeManagerStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    modifier onlyRoundManager() {
        if (msg.sender != _s().roundManager) revert NotRoundManager(msg.sender);
        _;
    }

    /// @notice Initialize the proxy.
    /// @param admin Default admin (upgrades, config, role grants).
    /// @param adminDelay Delay for default-admin transfers (AccessControlDefaultAdminRules).
    /// @param token_ Staking token (a token delivering less than the amount is rejected at stake time).
    /// @param minStake_ Minimum active stake.
    /// @param unbondingDelay_ Unbonding delay in seconds.
    function initialize(address admin, uint48 adminDelay, IERC20 token_, uint128 minStake_, uint64 unbondingDelay_)
        external
        initializer
    {
        if (address(token_) == address(0)) revert ZeroAddress();
        __FedstakeBase_init(admin, adminDelay);
        StakeManagerStorage storage $ = _s();
        $.token = token_;
        $.minStake = minStake_;
        $.unbondingDelay = unbondingDelay_;
        emit MinStakeUpdated(minStake_);
        emit UnbondingDelayUpdated(unbondingDelay_);
    }

    // ---------------------------------------------------------------- participant

    /// @inheritdoc IStakeManager
    function stake(uint256 amount) external whenNotPaused nonReentrant {
        _deposit(amount);
    }

    /// @inheritdoc IStakeManager
    function topUp(uint256 amount) external whenNotPaused nonReentrant {
        if (_s().stakes[msg.sender].active == 0) revert NotStaked(msg.sender);
        _deposit(amount);
    }

    function _deposit(uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        StakeManagerStorage storage $ = _s();
        StakeInfo storage info = $.stakes[msg.sender];
        uint256 newActive = info.active + amount;
        if (newActive < $.minStake) revert BelowMinStake(newActive, $.minStake);
        info.active = newActive.toUint128();
        $.totalStaked += amount.toUint128();
        emit Staked(msg.sender, amount, newActive);
        $.token.pullExact(amount);
    }

    /// @inheritdoc IStakeManager
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        StakeManagerStorage storage $ = _s();
        StakeInfo storage info = $.stakes[msg.sender];
        uint256 active = info.active;
        if (amount > active) revert InsufficientActiveStake(active, amount);
        uint256 remaining = active - amount;
        if (remaining != 0 && remaining < $.minStake) revert BelowMinStake(remaining, $.minStake);
        info.active = uint128(remaining);
        uint256 unbonding = info.unbonding + amount;
        info.unbonding = unbonding.toUint128();
        uint64 releaseAt = uint64(block.timestamp) + $.unbondingDelay;
        info.unbondReleaseAt = releaseAt;
        emit UnbondRequested(msg.sender, amount, unbonding, releaseAt);
    }

    /// @inheritdoc IStakeManager
    function withdraw() external nonReentrant returns (uint256 amount) {
        StakeManagerStorage storage $ = _s();
        StakeInfo storage info = $.stakes[msg.sender];
        amount = info.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        // slither-disable-next-line timestamp
        if (block.timestamp < info.unbondReleaseAt) revert UnbondingNotReleased(info.unbondReleaseAt);
        info.unbonding = 0;
        info.unbondReleaseAt = 0;
        $.totalStaked -= uint128(amount);
        emit Withdrawn(msg.sender, amount);
        $.token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- RoundManager hooks

    /// @inheritdoc IStakeManager
    function lockSlashes(address[] calldata participants, uint16[] calldata bps)
        external
        onlyRoundManager
        returns (uint256[] memory amounts, uint256 total)
    {
        uint256 n = participants.length;
        if (bps.length != n) revert LengthMismatch();
        StakeManagerStorage storage $ = _s();
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 b = bps[i];
            if (b > BPS) revert InvalidBps(b);
            StakeInfo storage info = $.stakes[participants[i]];
            uint256 active = info.active;
            uint256 unbonding = info.unbonding;
            uint256 amount = (active + unbonding) * b / BPS; // never above the stake
            uint256 fromActive = amount <= active ? amount : active;
            uint256 fromUnbonding = amount - fromActive;
            if (fromActive != 0) info.active = uint128(active - fromActive);
            if (fromUnbonding != 0) info.unbonding = uint128(unbonding - fromUnbonding);
            amounts[i] = amount;
            total += amount;
            emit SlashLocked(participants[i], amount, uint16(b), fromActive, fromUnbonding);
        }
        if (total != 0) {
            uint128 t = total.toUint128();
            $.totalStaked -= t;
            $.totalLocked += t;
        }
    }

    /// @inheritdoc IStakeManager
    function unlockSlash(address staker, uint256 amount) external onlyRoundManager {
        StakeManagerStorage storage $ = _s();
        if (amount > $.totalLocked) revert ExceedsLocked($.totalLocked, amount);
        uint128 a = uint128(amount);
        $.totalLocked -= a;
        $.totalStaked += a;
        $.stakes[staker].active += a;
        emit SlashUnlocked(staker, amount);
    }

    /// @inheritdoc IStakeManager
    function releaseSlashed(uint256 amount, address to) external onlyRoundManager nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        StakeManagerStorage storage $ = _s();
        if (amount > $.totalLocked) revert ExceedsLocked($.totalLocked, amount);
        $.totalLocked -= uint128(amount);
        emit SlashedReleased(to, amount);
        $.token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IStakeManager
    function setMinStake(uint128 newMinStake) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().minStake = newMinStake;
        emit MinStakeUpdated(newMinStake);
    }

    /// @inheritdoc IStakeManager
    function setUnbondingDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        address rm = _s().roundManager;
        if (rm != address(0)) _checkDelay(newDelay, IRoundTiming(rm).minUnbondingDelay());
        _s().unbondingDelay = newDelay;
        emit UnbondingDelayUpdated(newDelay);
    }

    /// @inheritdoc IStakeManager
    function setRoundManager(address newRoundManager) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newRoundManager == address(0)) revert ZeroAddress();
        _checkDelay(_s().unbondingDelay, IRoundTiming(newRoundManager).minUnbondingDelay());
        _s().roundManager = newRoundManager;
        emit RoundManagerUpdated(newRoundManager);
    }

    function _checkDelay(uint64 delay, uint64 minDelay) private pure {
        if (delay <= minDelay) revert UnbondingDelayTooShort(delay, minDelay + 1);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStakeManager
    function token() external view returns (address) {
        return address(_s().token);
    }

    /// @inheritdoc IStakeManager
    function stakeOf(address staker) external view returns (StakeInfo memory) {
        return _s().stakes[staker];
    }

    /// @inheritdoc IStakeManager
    function slashableStake(address staker) external view returns (uint256) {
        StakeInfo storage info = _s().stakes[staker];
        return uint256(info.active) + info.unbonding;
    }

    /// @inheritdoc IStakeManager
    function isEligible(address staker) external view returns (bool) {
        uint256 active = _s().stakes[staker].active;
        return active != 0 && active >= _s().minStake;
    }

    /// @inheritdoc IStakeManager
    function totalStaked() external view returns (uint256) {
        return _s().totalStaked;
    }

    /// @inheritdoc IStakeManager
    function totalLocked() external view returns (uint256) {
        return _s().totalLocked;
    }

    /// @inheritdoc IStakeManager
    function minStake() external view returns (uint256) {
        return _s().minStake;
    }

    /// @inheritdoc IStakeManager
    function unbondingDelay() external view returns (uint64) {
        return _s().unbondingDelay;
    }

    /// @inheritdoc IStakeManager
    function roundManager() external view returns (address) {
        return _s().roundManager;
    }
}
