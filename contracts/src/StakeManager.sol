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
/// @notice Participants stake an ERC-20, top up, queue unbond requests (each with its own timer) and withdraw
///         the released ones (pull-based). Unbonding stake stays slashable. Only the configured RoundManager can
///         lock, unlock and release slashes; a returned slash goes back where it was taken from. Strikes and
///         jailing decide eligibility. Pausing stops stake/top-up; unbond and withdraw always work.
/// @dev Token balance == totalStaked + totalLocked, to the wei. Switching the RoundManager and upgrading need a
///      TimelockController admin slower than the unbonding delay (FedstakeBase._requireTimelocked), so every
///      participant can leave before such a change takes effect.
contract StakeManager is FedstakeBase, IStakeManager {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ExactTransfer for IERC20;

    uint256 private constant BPS = 10_000;

    /// @inheritdoc IStakeManager
    uint256 public constant MAX_UNBOND_REQUESTS = 16;

    /// @custom:storage-location erc7201:fedstake.storage.StakeManager
    struct StakeManagerStorage {
        IERC20 token;
        address roundManager;
        uint128 totalStaked;
        uint128 totalLocked;
        // one slot: minStake, unbondingDelay and the jail policy
        uint128 minStake;
        uint64 unbondingDelay;
        uint16 strikesToJail;
        uint32 jailRounds;
        mapping(address staker => StakeInfo) stakes;
        mapping(address staker => UnbondRequest[]) requests;
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

    /// @notice Initialize the proxy. The jail policy starts at 3 strikes / 10 rounds.
    /// @param admin Default admin (config, role grants; upgrades and RoundManager switches only as a timelock).
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
        $.strikesToJail = 3;
        $.jailRounds = 10;
        emit MinStakeUpdated(minStake_);
        emit UnbondingDelayUpdated(unbondingDelay_);
        emit JailPolicyUpdated(JailPolicy({strikesToJail: 3, jailRounds: 10}));
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
        info.active = newActive.toUint112();
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
        UnbondRequest[] storage reqs = $.requests[msg.sender];
        if (reqs.length >= MAX_UNBOND_REQUESTS) revert TooManyUnbondRequests(MAX_UNBOND_REQUESTS);
        info.active = uint112(remaining);
        uint256 unbonding = info.unbonding + amount;
        info.unbonding = unbonding.toUint128();
        uint64 releaseAt = uint64(block.timestamp) + $.unbondingDelay;
        reqs.push(UnbondRequest({amount: uint128(amount), releaseAt: releaseAt}));
        emit UnbondRequested(msg.sender, amount, unbonding, releaseAt);
    }

    /// @inheritdoc IStakeManager
    function withdraw() external nonReentrant returns (uint256 amount) {
        StakeManagerStorage storage $ = _s();
        UnbondRequest[] storage reqs = $.requests[msg.sender];
        uint256 len = reqs.length;
        uint256 kept = 0;
        uint64 earliest = 0;
        for (uint256 i; i < len; ++i) {
            UnbondRequest memory r = reqs[i];
            // slither-disable-next-line timestamp
            if (r.releaseAt <= block.timestamp) {
                amount += r.amount;
            } else {
                if (earliest == 0 || r.releaseAt < earliest) earliest = r.releaseAt;
                if (kept != i) reqs[kept] = r;
                ++kept;
            }
        }
        if (amount == 0) revert NothingToWithdraw(earliest);
        for (uint256 i = kept; i < len; ++i) {
            reqs.pop();
        }
        StakeInfo storage info = $.stakes[msg.sender];
        info.unbonding -= uint128(amount);
        $.totalStaked -= uint128(amount);
        emit Withdrawn(msg.sender, amount);
        $.token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- RoundManager hooks

    /// @inheritdoc IStakeManager
    function lockSlashes(uint256 roundId, address[] calldata participants, uint16[] calldata bps, bool[] calldata provable)
        external
        onlyRoundManager
        returns (SlashLock[] memory locks, uint256 total)
    {
        if (bps.length != participants.length || provable.length != participants.length) revert LengthMismatch();
        JailTerms memory terms = _jailTerms(roundId);
        locks = new SlashLock[](participants.length);
        for (uint256 i; i < participants.length; ++i) {
            locks[i] = _lockOne(participants[i], bps[i], provable[i], terms);
            total += locks[i].amount;
        }
        StakeManagerStorage storage $ = _s();
        if (total != 0) {
            uint128 t = total.toUint128();
            $.totalStaked -= t;
            $.totalLocked += t;
        }
    }

    /// @dev The round a slash belongs to, where its jail term would end, and the strikes that jail.
    struct JailTerms {
        uint64 roundId;
        uint64 end;
        uint16 strikesToJail;
    }

    function _jailTerms(uint256 roundId) private view returns (JailTerms memory) {
        StakeManagerStorage storage $ = _s();
        uint64 rid = roundId.toUint64();
        return JailTerms({roundId: rid, end: rid + $.jailRounds, strikesToJail: $.strikesToJail});
    }

    /// @dev Lock `b` bps of `who`'s slashable stake (active first, then the latest unbond requests); strike/jail.
    function _lockOne(address who, uint256 b, bool provable, JailTerms memory terms)
        private
        returns (SlashLock memory lock)
    {
        if (b > BPS) revert InvalidBps(b);
        StakeManagerStorage storage $ = _s();
        StakeInfo storage info = $.stakes[who];
        uint256 w0; // slot 0: active (112) | strikes (16) | jailedFromRound (64) | jailedUntilRound (64)
        assembly {
            w0 := sload(info.slot)
        }
        uint256 active = uint112(w0);
        uint256 strikes = uint16(w0 >> 112);
        uint256 window = w0 >> 128;
        unchecked {
            // b ≤ BPS, so amount ≤ active + unbonding (< 2^129): never above the stake, no overflow
            uint256 amount = (active + info.unbonding) * b / BPS;
            lock.amount = amount;
            if (amount > active) {
                lock.fromUnbonding = amount - active;
                active = 0;
                lock.releaseAt = _takeFromRequests($.requests[who], lock.fromUnbonding);
                info.unbonding -= uint128(lock.fromUnbonding);
            } else {
                active -= amount;
            }
        }
        bool jail = provable;
        if (!jail) {
            if (strikes != type(uint16).max) ++strikes;
            if (terms.strikesToJail != 0 && strikes >= terms.strikesToJail) {
                jail = true;
                strikes = 0;
            }
        }
        // the longest term wins; jailedFromRound names the round whose slash set it
        if (jail && terms.end >= window >> 64) window = uint256(terms.roundId) | (uint256(terms.end) << 64);
        assembly {
            sstore(info.slot, or(or(active, shl(112, strikes)), shl(128, window)))
        }
        emit SlashLocked(who, terms.roundId, lock.amount, uint16(b), lock.fromUnbonding, lock.releaseAt, uint16(strikes));
        if (jail) emit Jailed(who, terms.roundId, uint64(window >> 64), provable);
    }

    /// @dev Write active, strikes and the jail window (slot 0 of StakeInfo) in one SSTORE.
    function _writeSlot0(StakeInfo storage info, StakeInfo memory v) private {
        uint256 word = uint256(v.active) | (uint256(v.strikes) << 112) | (uint256(v.jailedFromRound) << 128)
            | (uint256(v.jailedUntilRound) << 192);
        assembly {
            sstore(info.slot, word)
        }
    }

    /// @dev Take `amount` from the unbond requests, latest release first; returns the latest release time
    ///      touched. Fully consumed requests are removed (order of the rest kept). Σ requests == unbonding.
    function _takeFromRequests(UnbondRequest[] storage reqs, uint256 amount) private returns (uint64 releaseAt) {
        UnbondRequest[] memory m = _loadRequests(reqs);
        releaseAt = _takeLatest(m, amount);
        _storeCompacted(reqs, m);
    }

    function _loadRequests(UnbondRequest[] storage reqs) private view returns (UnbondRequest[] memory m) {
        uint256 len = reqs.length;
        m = new UnbondRequest[](len);
        for (uint256 i; i < len; ++i) {
            m[i] = reqs[i];
        }
    }

    /// @dev Reduce the requests in `m` by `amount`, latest release first (Σ m ≥ amount); returns the release
    ///      time of the first (latest) request taken from.
    function _takeLatest(UnbondRequest[] memory m, uint256 amount) private pure returns (uint64 releaseAt) {
        while (amount != 0) {
            uint256 best = type(uint256).max;
            for (uint256 i; i < m.length; ++i) {
                if (m[i].amount != 0 && (best == type(uint256).max || m[i].releaseAt > m[best].releaseAt)) best = i;
            }
            UnbondRequest memory r = m[best]; // Σ requests == unbonding ≥ amount: one is always left
            uint256 take = r.amount < amount ? r.amount : amount;
            if (releaseAt == 0) releaseAt = r.releaseAt;
            r.amount -= uint128(take);
            amount -= take;
        }
    }

    /// @dev Write `m` back without its empty requests, touching only the slots that change.
    function _storeCompacted(UnbondRequest[] storage reqs, UnbondRequest[] memory m) private {
        uint256 kept = 0;
        for (uint256 i; i < m.length; ++i) {
            if (m[i].amount == 0) continue;
            if (kept != i || reqs[i].amount != m[i].amount) reqs[kept] = m[i];
            ++kept;
        }
        for (uint256 i = kept; i < m.length; ++i) {
            reqs.pop();
        }
    }

    /// @inheritdoc IStakeManager
    function unlockSlash(uint256 roundId, address staker, SlashLock calldata lock, bool judged)
        external
        onlyRoundManager
    {
        StakeManagerStorage storage $ = _s();
        uint256 amount = lock.amount;
        if (amount > $.totalLocked) revert ExceedsLocked($.totalLocked, amount);
        uint256 fromUnbonding = lock.fromUnbonding;
        if (fromUnbonding > amount) revert ExceedsLocked(amount, fromUnbonding);
        StakeInfo storage info = $.stakes[staker];
        StakeInfo memory cur = info;
        cur.active = (uint256(cur.active) + (amount - fromUnbonding)).toUint112();
        if (judged && cur.strikes != 0) --cur.strikes;
        bool lift = cur.jailedFromRound != 0 && cur.jailedFromRound == roundId;
        if (lift) {
            cur.jailedFromRound = 0;
            cur.jailedUntilRound = 0;
        }
        _writeSlot0(info, cur);
        uint64 releaseAt = lock.releaseAt;
        if (fromUnbonding != 0) {
            info.unbonding = (uint256(cur.unbonding) + fromUnbonding).toUint128();
            _returnToRequests($.requests[staker], fromUnbonding, releaseAt);
        }
        uint128 a = uint128(amount);
        $.totalLocked -= a;
        $.totalStaked += a;
        emit SlashUnlocked(staker, roundId, amount, fromUnbonding, releaseAt);
        if (lift) emit JailLifted(staker, roundId);
    }

    /// @dev A returned unbonding slash becomes its own request released at `releaseAt`; with every slot taken it
    ///      joins the request that releases last (released at the later of the two: never earlier than either).
    function _returnToRequests(UnbondRequest[] storage reqs, uint256 amount, uint64 releaseAt) private {
        uint256 len = reqs.length;
        if (len < MAX_UNBOND_REQUESTS) {
            reqs.push(UnbondRequest({amount: amount.toUint128(), releaseAt: releaseAt}));
            return;
        }
        uint256 best = 0;
        uint64 bestAt = reqs[0].releaseAt;
        for (uint256 i = 1; i < len; ++i) {
            uint64 t = reqs[i].releaseAt;
            if (t > bestAt) {
                best = i;
                bestAt = t;
            }
        }
        UnbondRequest storage r = reqs[best];
        r.amount = (uint256(r.amount) + amount).toUint128();
        if (releaseAt > bestAt) r.releaseAt = releaseAt;
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
    function setJailPolicy(JailPolicy calldata policy) external onlyRole(DEFAULT_ADMIN_ROLE) {
        StakeManagerStorage storage $ = _s();
        $.strikesToJail = policy.strikesToJail;
        $.jailRounds = policy.jailRounds;
        emit JailPolicyUpdated(policy);
    }

    /// @inheritdoc IStakeManager
    /// @dev The first wiring (no RoundManager yet) needs only the default admin. A switch needs the default admin
    ///      to be a timelock slower than the unbonding delay, nothing locked, and no active round in the old one.
    function setRoundManager(address newRoundManager) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newRoundManager == address(0)) revert ZeroAddress();
        StakeManagerStorage storage $ = _s();
        address old = $.roundManager;
        if (old != address(0)) {
            _requireTimelocked();
            uint256 locked = $.totalLocked;
            uint256 active = IRoundTiming(old).activeRounds();
            if (locked != 0 || active != 0) revert RoundManagerBusy(locked, active);
        }
        _checkDelay($.unbondingDelay, IRoundTiming(newRoundManager).minUnbondingDelay());
        $.roundManager = newRoundManager;
        emit RoundManagerUpdated(newRoundManager);
    }

    function _checkDelay(uint64 delay, uint64 minDelay) private pure {
        if (delay <= minDelay) revert UnbondingDelayTooShort(delay, minDelay + 1);
    }

    /// @dev Governance (upgrades, RoundManager switch) must be slower than unbonding.
    function _governanceDelayFloor() internal view override returns (uint256) {
        return _s().unbondingDelay;
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
    function unbondRequests(address staker) external view returns (UnbondRequest[] memory) {
        return _s().requests[staker];
    }

    /// @inheritdoc IStakeManager
    function withdrawable(address staker) external view returns (uint256 amount) {
        UnbondRequest[] storage reqs = _s().requests[staker];
        uint256 len = reqs.length;
        for (uint256 i; i < len; ++i) {
            // slither-disable-next-line timestamp
            if (reqs[i].releaseAt <= block.timestamp) amount += reqs[i].amount;
        }
    }

    /// @inheritdoc IStakeManager
    function slashableStake(address staker) external view returns (uint256) {
        StakeInfo storage info = _s().stakes[staker];
        return uint256(info.active) + info.unbonding;
    }

    /// @inheritdoc IStakeManager
    function isEligible(address staker) external view returns (bool) {
        address rm = _s().roundManager;
        uint256 count = rm == address(0) ? 0 : IRoundTiming(rm).roundCount();
        return _eligible(staker, count + 1);
    }

    /// @inheritdoc IStakeManager
    function isEligibleFor(address staker, uint256 roundId) external view returns (bool) {
        return _eligible(staker, roundId);
    }

    function _eligible(address staker, uint256 roundId) private view returns (bool) {
        StakeInfo storage info = _s().stakes[staker];
        uint256 active = info.active;
        return active != 0 && active >= _s().minStake && roundId > info.jailedUntilRound;
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
    function jailPolicy() external view returns (JailPolicy memory) {
        StakeManagerStorage storage $ = _s();
        return JailPolicy({strikesToJail: $.strikesToJail, jailRounds: $.jailRounds});
    }

    /// @inheritdoc IStakeManager
    function roundManager() external view returns (address) {
        return _s().roundManager;
    }
}
