// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {StakeFixture, StakeMockRoundManager} from "./mocks/StakeMocks.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {ExactTransfer} from "../src/libraries/ExactTransfer.sol";
import {FeeOnTransferToken} from "./mocks/MockTokens.sol";

/// @notice StakeManager on its own, with a mock RoundManager (IRoundTiming) whose address calls the slash hooks.
contract StakeManagerTest is StakeFixture {
    address internal p;

    function setUp() public override {
        super.setUp();
        p = stakers[0];
    }

    // ---------------------------------------------------------------- initialize

    function test_initialize_setsState() public view {
        assertEq(sm.token(), address(token), "token");
        assertEq(sm.minStake(), MIN_STAKE, "min");
        assertEq(sm.unbondingDelay(), UNBONDING, "delay");
        assertEq(sm.roundManager(), address(mrm), "rm");
        assertTrue(sm.hasRole(sm.DEFAULT_ADMIN_ROLE(), admin), "admin");
        IStakeManager.JailPolicy memory j = sm.jailPolicy();
        assertEq(j.strikesToJail, 3, "strikes to jail");
        assertEq(j.jailRounds, 10, "jail rounds");
        assertEq(sm.MAX_UNBOND_REQUESTS(), 16, "max requests");
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        sm.initialize(admin, 0, IERC20(address(token)), 1, 1);
    }

    function test_initialize_revertsOnImplementation() public {
        StakeManager impl = new StakeManager();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(admin, 0, IERC20(address(token)), 1, 1);
    }

    function test_initialize_revertsZeroToken() public {
        address impl = address(new StakeManager());
        vm.expectRevert(IStakeManager.ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(StakeManager.initialize, (admin, 0, IERC20(address(0)), 1, 1)));
    }

    // ---------------------------------------------------------------- stake / topUp

    function test_stake_movesTokensAndEmits() public {
        uint256 before = token.balanceOf(p);
        vm.expectEmit(true, false, false, true, address(sm));
        emit IStakeManager.Staked(p, MIN_STAKE, MIN_STAKE);
        stakeAs(p, MIN_STAKE);
        assertEq(token.balanceOf(p), before - MIN_STAKE, "debited");
        assertEq(token.balanceOf(address(sm)), MIN_STAKE, "held");
        assertEq(sm.stakeOf(p).active, MIN_STAKE, "active");
        assertEq(sm.totalStaked(), MIN_STAKE, "total");
        assertTrue(sm.isEligible(p), "eligible");
    }

    function test_stake_revertsZero() public {
        vm.prank(p);
        vm.expectRevert(IStakeManager.ZeroAmount.selector);
        sm.stake(0);
    }

    function test_stake_revertsBelowMin() public {
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.BelowMinStake.selector, MIN_STAKE - 1, MIN_STAKE));
        sm.stake(MIN_STAKE - 1);
    }

    function test_stake_revertsWhenPaused() public {
        vm.prank(pauser);
        sm.pause();
        vm.prank(p);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        sm.stake(MIN_STAKE);
    }

    function test_stake_rejectsFeeOnTransferToken() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        StakeManager s = deployStakeManager(IERC20(address(fee)), admin, UNBONDING);
        fee.approve(address(s), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(ExactTransfer.TokenTransferShortfall.selector, 200e18, 198e18));
        s.stake(200e18);
    }

    function test_topUp_addsToActive() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        sm.topUp(1);
        assertEq(sm.stakeOf(p).active, MIN_STAKE + 1, "active");
    }

    function test_topUp_revertsNotStaked() public {
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotStaked.selector, p));
        sm.topUp(1);
    }

    function test_topUp_revertsZero() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        vm.expectRevert(IStakeManager.ZeroAmount.selector);
        sm.topUp(0);
    }

    function test_topUp_revertsWhenPaused() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(pauser);
        sm.pause();
        vm.prank(p);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        sm.topUp(1);
    }

    // ---------------------------------------------------------------- unbond / withdraw

    function test_requestUnbond_queues() public {
        stakeAs(p, 300e18);
        uint64 releaseAt = uint64(block.timestamp) + UNBONDING;
        vm.prank(p);
        vm.expectEmit(true, false, false, true, address(sm));
        emit IStakeManager.UnbondRequested(p, 200e18, 200e18, releaseAt);
        sm.requestUnbond(200e18);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 100e18, "active");
        assertEq(info.unbonding, 200e18, "unbonding");
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 1, "one request");
        assertEq(r[0].amount, 200e18, "amount");
        assertEq(r[0].releaseAt, releaseAt, "release");
        assertEq(sm.slashableStake(p), 300e18, "still slashable");
        assertEq(sm.totalStaked(), 300e18, "total unchanged");
        assertEq(sm.withdrawable(p), 0, "nothing yet");
    }

    function test_requestUnbond_fullExit() public {
        stakeAs(p, MIN_STAKE);
        unbondAs(p, MIN_STAKE);
        assertFalse(sm.isEligible(p), "not eligible");
    }

    function test_requestUnbond_revertsZero() public {
        vm.prank(p);
        vm.expectRevert(IStakeManager.ZeroAmount.selector);
        sm.requestUnbond(0);
    }

    function test_requestUnbond_revertsAboveActive() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.InsufficientActiveStake.selector, MIN_STAKE, MIN_STAKE + 1));
        sm.requestUnbond(MIN_STAKE + 1);
    }

    function test_requestUnbond_revertsDustRemainder() public {
        stakeAs(p, 150e18);
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.BelowMinStake.selector, 50e18, MIN_STAKE));
        sm.requestUnbond(100e18);
    }

    function test_requestUnbond_worksWhenPaused() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(pauser);
        sm.pause();
        unbondAs(p, MIN_STAKE);
    }

    function test_requestUnbond_revertsTooManyRequests() public {
        stakeAs(p, 10_000e18);
        for (uint256 i; i < 16; ++i) {
            unbondAs(p, 1e18);
        }
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.TooManyUnbondRequests.selector, 16));
        sm.requestUnbond(1e18);
        // withdrawing frees the slots
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(p);
        assertEq(sm.withdraw(), 16e18, "all sixteen");
        unbondAs(p, 1e18);
        assertEq(sm.unbondRequests(p).length, 1, "slot free again");
    }

    /// @dev Finding: every requestUnbond reset the whole queue's timer. Now the first request releases on time.
    function test_requestUnbond_eachRequestKeepsItsOwnTimer() public {
        stakeAs(p, 300e18);
        uint256 t0 = block.timestamp;
        unbondAs(p, 100e18);
        vm.warp(t0 + UNBONDING - 10);
        unbondAs(p, 100e18);
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 2, "two requests");
        assertEq(r[0].releaseAt, t0 + UNBONDING, "first not reset");
        assertEq(r[1].releaseAt, t0 + 2 * UNBONDING - 10, "second its own");
        vm.warp(t0 + UNBONDING);
        assertEq(sm.withdrawable(p), 100e18, "first released");
        vm.prank(p);
        assertEq(sm.withdraw(), 100e18, "first paid on time");
        assertEq(sm.stakeOf(p).unbonding, 100e18, "second pending");
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NothingToWithdraw.selector, uint64(t0 + 2 * UNBONDING - 10)));
        sm.withdraw();
        vm.warp(t0 + 2 * UNBONDING - 10);
        vm.prank(p);
        assertEq(sm.withdraw(), 100e18, "second paid");
        assertEq(sm.unbondRequests(p).length, 0, "queue empty");
        assertStakeAccounting();
    }

    function test_withdraw_paysEveryReleasedRequestKeepsTheRest() public {
        stakeAs(p, 1_000e18);
        uint256 t0 = block.timestamp;
        unbondAs(p, 100e18); // t0 + U
        vm.warp(t0 + 5 days);
        unbondAs(p, 200e18); // t0 + 5d + U
        vm.warp(t0 + 10 days);
        unbondAs(p, 300e18); // t0 + 10d + U
        vm.warp(t0 + 6 days + UNBONDING);
        uint256 before = token.balanceOf(p);
        vm.prank(p);
        vm.expectEmit(true, false, false, true, address(sm));
        emit IStakeManager.Withdrawn(p, 300e18);
        assertEq(sm.withdraw(), 300e18, "first two");
        assertEq(token.balanceOf(p), before + 300e18, "paid");
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 1, "one left");
        assertEq(r[0].amount, 300e18, "third");
        assertEq(r[0].releaseAt, t0 + 10 days + UNBONDING, "its time");
        assertStakeAccounting();
    }

    function test_withdraw_afterDelay() public {
        stakeAs(p, MIN_STAKE);
        unbondAs(p, MIN_STAKE);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = token.balanceOf(p);
        vm.prank(p);
        assertEq(sm.withdraw(), MIN_STAKE, "returned");
        assertEq(token.balanceOf(p), before + MIN_STAKE, "paid");
        assertEq(sm.totalStaked(), 0, "total");
        assertEq(token.balanceOf(address(sm)), 0, "empty");
    }

    function test_withdraw_worksWhenPaused() public {
        stakeAs(p, MIN_STAKE);
        unbondAs(p, MIN_STAKE);
        vm.prank(pauser);
        sm.pause();
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(p);
        sm.withdraw();
    }

    function test_withdraw_revertsBeforeDelay() public {
        stakeAs(p, MIN_STAKE);
        unbondAs(p, MIN_STAKE);
        uint64 releaseAt = uint64(block.timestamp) + UNBONDING;
        vm.warp(releaseAt - 1);
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NothingToWithdraw.selector, releaseAt));
        sm.withdraw();
    }

    function test_withdraw_revertsNothing() public {
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NothingToWithdraw.selector, uint64(0)));
        sm.withdraw();
    }

    // ---------------------------------------------------------------- hooks access

    function test_lockSlashes_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.lockSlashes(1, new address[](0), new uint16[](0), new bool[](0));
    }

    function test_unlockSlash_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.unlockSlash(1, p, IStakeManager.SlashLock(1, 0, 0), true);
    }

    function test_releaseSlashed_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.releaseSlashed(1, p);
    }

    function test_lockSlashes_revertsLengthMismatch() public {
        vm.startPrank(address(mrm));
        vm.expectRevert(IStakeManager.LengthMismatch.selector);
        sm.lockSlashes(1, new address[](1), new uint16[](0), new bool[](1));
        vm.expectRevert(IStakeManager.LengthMismatch.selector);
        sm.lockSlashes(1, new address[](1), new uint16[](1), new bool[](0));
        vm.stopPrank();
    }

    function test_lockSlashes_revertsBps() public {
        uint16[] memory bps = new uint16[](1);
        bps[0] = 10_001;
        vm.prank(address(mrm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.InvalidBps.selector, 10_001));
        sm.lockSlashes(1, new address[](1), bps, new bool[](1));
    }

    function test_unlockSlash_revertsExceedsLocked() public {
        vm.prank(address(mrm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.ExceedsLocked.selector, 0, 1));
        sm.unlockSlash(1, p, IStakeManager.SlashLock(1, 0, 0), true);
    }

    function test_unlockSlash_revertsFromUnbondingAboveAmount() public {
        stakeAs(p, 200e18);
        lock(1, p, 5_000, false);
        vm.prank(address(mrm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.ExceedsLocked.selector, 10e18, 11e18));
        sm.unlockSlash(1, p, IStakeManager.SlashLock(10e18, 11e18, 0), true);
    }

    function test_releaseSlashed_revertsExceedsLocked() public {
        vm.prank(address(mrm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.ExceedsLocked.selector, 0, 1));
        sm.releaseSlashed(1, p);
    }

    function test_releaseSlashed_revertsZeroAddress() public {
        vm.prank(address(mrm));
        vm.expectRevert(IStakeManager.ZeroAddress.selector);
        sm.releaseSlashed(0, address(0));
    }

    // ---------------------------------------------------------------- lock / unlock / release

    function test_lockSlashes_activeFirstThenLatestRequest() public {
        stakeAs(p, 400e18);
        uint256 t0 = block.timestamp;
        unbondAs(p, 100e18); // releases t0 + U
        vm.warp(t0 + 1 days);
        unbondAs(p, 100e18); // releases t0 + 1d + U (latest)
        // 50 % of 400 = 200: 200 active → 0, then 0 from unbonding
        // take 75 % instead: 300 = 200 active + 100 from the latest request
        vm.expectEmit(true, true, false, true, address(sm));
        emit IStakeManager.SlashLocked(p, 7, 300e18, 7_500, 100e18, uint64(t0 + 1 days + UNBONDING), 1);
        IStakeManager.SlashLock memory l = lock(7, p, 7_500, false);
        assertEq(l.amount, 300e18, "amount");
        assertEq(l.fromUnbonding, 100e18, "from unbonding");
        assertEq(l.releaseAt, t0 + 1 days + UNBONDING, "latest request's release");
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 0, "active drained first");
        assertEq(info.unbonding, 100e18, "unbonding");
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 1, "consumed request removed");
        assertEq(r[0].releaseAt, t0 + UNBONDING, "earliest request untouched");
        assertEq(sm.totalLocked(), 300e18, "locked");
        assertEq(sm.totalStaked(), 100e18, "staked");
        assertStakeAccounting();
    }

    function test_lockSlashes_acrossRequestsReportsLatestRelease() public {
        stakeAs(p, 300e18);
        uint256 t0 = block.timestamp;
        unbondAs(p, 100e18);
        vm.warp(t0 + 2 days);
        unbondAs(p, 100e18);
        vm.warp(t0 + 4 days);
        unbondAs(p, 100e18); // all 300 unbonding in three requests
        IStakeManager.SlashLock memory l = lock(1, p, 5_000, true); // 150: latest 100 + 50 of the middle one
        assertEq(l.fromUnbonding, 150e18, "all from unbonding");
        assertEq(l.releaseAt, t0 + 4 days + UNBONDING, "max release touched");
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 2, "latest consumed");
        assertEq(r[0].amount, 100e18, "earliest whole");
        assertEq(r[1].amount, 50e18, "middle halved");
        assertEq(r[1].releaseAt, t0 + 2 days + UNBONDING, "middle keeps its time");
        assertStakeAccounting();
    }

    function test_hooks_lockUnlockRelease() public {
        stakeAs(p, 300e18);
        stakeAs(stakers[1], 300e18);
        IStakeManager.SlashLock memory a = lock(1, p, 5_000, false);
        IStakeManager.SlashLock memory b = lock(1, stakers[1], 5_000, false);
        assertEq(sm.totalLocked(), 300e18, "locked");
        unlock(1, p, a, true);
        assertEq(sm.stakeOf(p).active, 300e18, "unlocked to active");
        vm.prank(address(mrm));
        sm.releaseSlashed(b.amount, treasury);
        assertEq(token.balanceOf(treasury), 150e18, "released");
        assertEq(sm.totalLocked(), 0, "locked zero");
        assertStakeAccounting();
    }

    /// @dev Finding: an upheld slash returned unbonding stake to active (a full new delay). Now it stays
    ///      unbonding with its original release time.
    function test_unlockSlash_returnsUnbondingToUnbondingWithOriginalRelease() public {
        stakeAs(p, 200e18);
        uint64 releaseAt = uint64(block.timestamp) + UNBONDING;
        unbondAs(p, 200e18); // full exit
        IStakeManager.SlashLock memory l = lock(3, p, 5_000, false);
        assertEq(l.fromUnbonding, 100e18, "taken from unbonding");
        assertEq(l.releaseAt, releaseAt, "release recorded");
        vm.warp(block.timestamp + 1 days);
        vm.expectEmit(true, true, false, true, address(sm));
        emit IStakeManager.SlashUnlocked(p, 3, 100e18, 100e18, releaseAt);
        unlock(3, p, l, true);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 0, "not back to active");
        assertEq(info.unbonding, 200e18, "unbonding again");
        assertEq(releasedBy(p, releaseAt), 200e18, "all released at the original time");
        vm.warp(releaseAt);
        vm.prank(p);
        assertEq(sm.withdraw(), 200e18, "whole stake out on time");
        assertStakeAccounting();
    }

    function test_unlockSlash_splitsBetweenActiveAndUnbonding() public {
        stakeAs(p, 400e18);
        uint64 releaseAt = uint64(block.timestamp) + UNBONDING;
        unbondAs(p, 200e18);
        IStakeManager.SlashLock memory l = lock(1, p, 7_500, true); // 300 = 200 active + 100 unbonding
        unlock(1, p, l, false);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 200e18, "active part back to active");
        assertEq(info.unbonding, 200e18, "unbonding part back to unbonding");
        assertEq(releasedBy(p, releaseAt), 200e18, "same release");
        assertEq(releasedBy(p, releaseAt - 1), 0, "not earlier");
        assertStakeAccounting();
    }

    function test_unlockSlash_fullQueueMergesIntoLatestRequest() public {
        stakeAs(p, 2_000e18);
        uint256 t0 = block.timestamp;
        for (uint256 i; i < 16; ++i) {
            vm.warp(t0 + i * 1 hours);
            unbondAs(p, 100e18); // request i releases at t0 + i h + U
        }
        // 400 active + 1,600 unbonding; 50 % of 2,000 = 1,000: 400 from active, 600 from the six latest requests
        IStakeManager.SlashLock memory l = lock(1, p, 5_000, false);
        assertEq(l.fromUnbonding, 600e18, "from unbonding");
        assertEq(l.releaseAt, t0 + 15 hours + UNBONDING, "latest touched");
        assertEq(sm.unbondRequests(p).length, 10, "six consumed");
        // stake again and refill the queue to 16 requests, the last one released latest of all
        stakeAs(p, 600e18);
        for (uint256 i; i < 6; ++i) {
            vm.warp(t0 + 20 hours + i * 1 hours);
            unbondAs(p, 100e18);
        }
        assertEq(sm.unbondRequests(p).length, 16, "full");
        uint64 lastAt = uint64(t0 + 25 hours + UNBONDING);
        unlock(1, p, l, true);
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(p);
        assertEq(r.length, 16, "still sixteen");
        uint256 merged;
        for (uint256 i; i < r.length; ++i) {
            if (r[i].releaseAt == lastAt) merged = r[i].amount;
        }
        assertEq(merged, 700e18, "joined the latest request (never earlier than either)");
        assertEq(sm.stakeOf(p).unbonding, 2_200e18, "unbonding");
        assertEq(sm.stakeOf(p).active, 400e18, "active part back");
        assertStakeAccounting();
    }

    // ---------------------------------------------------------------- strikes and jailing

    /// @dev Finding: no jailing existed. A provable fault makes the staker ineligible at once for jailRounds rounds.
    function test_provableSlash_jailsAtOnce() public {
        stakeAs(p, 1_000e18);
        vm.expectEmit(true, true, false, true, address(sm));
        emit IStakeManager.Jailed(p, 5, 15, true);
        lock(5, p, 1_000, true);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.jailedFromRound, 5, "from");
        assertEq(info.jailedUntilRound, 15, "until");
        assertEq(info.strikes, 0, "a provable fault is no strike");
        assertTrue(sm.stakeOf(p).active >= MIN_STAKE, "still staked");
        assertFalse(sm.isEligibleFor(p, 6), "jailed next round");
        assertFalse(sm.isEligibleFor(p, 15), "jailed through the term");
        assertTrue(sm.isEligibleFor(p, 16), "free after the term");
        mrm.setRoundCount(10);
        assertFalse(sm.isEligible(p), "next round 11 jailed");
        mrm.setRoundCount(15);
        assertTrue(sm.isEligible(p), "next round 16 free");
    }

    function test_judgedStrikes_jailAtK() public {
        stakeAs(p, 1_000e18);
        lock(1, p, 100, false);
        lock(2, p, 100, false);
        assertEq(sm.stakeOf(p).strikes, 2, "two strikes");
        assertTrue(sm.isEligibleFor(p, 3), "two strikes do not jail");
        vm.expectEmit(true, true, false, true, address(sm));
        emit IStakeManager.Jailed(p, 4, 14, false);
        lock(4, p, 100, false);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.strikes, 0, "strikes reset by jail");
        assertEq(info.jailedFromRound, 4, "from");
        assertEq(info.jailedUntilRound, 14, "until");
        assertFalse(sm.isEligibleFor(p, 14), "jailed");
        assertTrue(sm.isEligibleFor(p, 15), "term over");
    }

    function test_unlockSlash_liftsItsJail() public {
        stakeAs(p, 1_000e18);
        IStakeManager.SlashLock memory l = lock(5, p, 1_000, true);
        assertFalse(sm.isEligibleFor(p, 6), "jailed");
        vm.expectEmit(true, true, false, false, address(sm));
        emit IStakeManager.JailLifted(p, 5);
        unlock(5, p, l, false);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.jailedFromRound, 0, "from cleared");
        assertEq(info.jailedUntilRound, 0, "until cleared");
        assertTrue(sm.isEligibleFor(p, 6), "eligible again");
    }

    function test_unlockSlash_ofAnotherRoundKeepsTheJail() public {
        stakeAs(p, 1_000e18);
        IStakeManager.SlashLock memory judged = lock(4, p, 100, false);
        lock(5, p, 1_000, true);
        unlock(4, p, judged, true);
        assertEq(sm.stakeOf(p).jailedUntilRound, 15, "jail of round 5 stays");
        assertEq(sm.stakeOf(p).strikes, 0, "strike taken back");
        assertFalse(sm.isEligibleFor(p, 6), "still jailed");
    }

    function test_unlockSlash_judgedTakesTheStrikeBack() public {
        stakeAs(p, 1_000e18);
        lock(1, p, 100, false);
        IStakeManager.SlashLock memory l = lock(2, p, 100, false);
        assertEq(sm.stakeOf(p).strikes, 2, "two");
        unlock(2, p, l, true);
        assertEq(sm.stakeOf(p).strikes, 1, "one");
    }

    function test_jail_longerTermWins() public {
        stakeAs(p, 1_000e18);
        lock(5, p, 100, true); // until 15
        vm.prank(admin);
        sm.setJailPolicy(IStakeManager.JailPolicy({strikesToJail: 3, jailRounds: 2}));
        lock(6, p, 100, true); // would end at 8
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.jailedUntilRound, 15, "longer term kept");
        assertEq(info.jailedFromRound, 5, "its round");
    }

    function test_setJailPolicy_zeroStrikesNeverJails() public {
        vm.prank(admin);
        vm.expectEmit(false, false, false, true, address(sm));
        emit IStakeManager.JailPolicyUpdated(IStakeManager.JailPolicy({strikesToJail: 0, jailRounds: 4}));
        sm.setJailPolicy(IStakeManager.JailPolicy({strikesToJail: 0, jailRounds: 4}));
        stakeAs(p, 1_000e18);
        for (uint256 r = 1; r <= 5; ++r) {
            lock(r, p, 10, false);
        }
        assertEq(sm.stakeOf(p).strikes, 5, "strikes counted");
        assertTrue(sm.isEligibleFor(p, 6), "never jailed by judged slashes");
        lock(6, p, 10, true);
        assertFalse(sm.isEligibleFor(p, 10), "provable still jails");
        assertTrue(sm.isEligibleFor(p, 11), "for jailRounds");
    }

    function test_setJailPolicy_revertsNonAdmin() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        sm.setJailPolicy(IStakeManager.JailPolicy({strikesToJail: 1, jailRounds: 1}));
    }

    function test_isEligible_withoutRoundManagerMeansRoundOne() public {
        StakeManager s = deployStakeManager(IERC20(address(token)), admin, UNBONDING);
        vm.prank(p);
        token.approve(address(s), type(uint256).max);
        vm.prank(p);
        s.stake(MIN_STAKE);
        assertTrue(s.isEligible(p), "eligible with no RoundManager wired");
    }

    // ---------------------------------------------------------------- admin

    function test_setMinStake() public {
        vm.prank(admin);
        vm.expectEmit(false, false, false, true, address(sm));
        emit IStakeManager.MinStakeUpdated(5);
        sm.setMinStake(5);
        assertEq(sm.minStake(), 5, "min");
    }

    function test_setMinStake_revertsNonAdmin() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        sm.setMinStake(5);
    }

    function test_setUnbondingDelay() public {
        vm.prank(admin);
        sm.setUnbondingDelay(30 days);
        assertEq(sm.unbondingDelay(), 30 days, "delay");
    }

    function test_setUnbondingDelay_revertsTooShort() public {
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, RM_MIN_DELAY, RM_MIN_DELAY + 1)
        );
        sm.setUnbondingDelay(RM_MIN_DELAY);
    }

    function test_setUnbondingDelay_revertsNonAdmin() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        sm.setUnbondingDelay(30 days);
    }

    function test_setRoundManager_firstWiringByAdmin() public {
        StakeManager s = deployStakeManager(IERC20(address(token)), admin, UNBONDING);
        vm.prank(admin);
        vm.expectEmit(true, false, false, false, address(s));
        emit IStakeManager.RoundManagerUpdated(address(mrm));
        s.setRoundManager(address(mrm));
        assertEq(s.roundManager(), address(mrm), "wired");
    }

    function test_setRoundManager_revertsZero() public {
        vm.prank(admin);
        vm.expectRevert(IStakeManager.ZeroAddress.selector);
        sm.setRoundManager(address(0));
    }

    function test_setRoundManager_revertsNonAdmin() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        sm.setRoundManager(address(mrm));
    }

    function test_setRoundManager_revertsDelayTooShort() public {
        // a fresh StakeManager whose delay does not exceed the RoundManager's round + windows
        StakeManager s2 = deployStakeManager(IERC20(address(token)), admin, RM_MIN_DELAY);
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, RM_MIN_DELAY, RM_MIN_DELAY + 1)
        );
        s2.setRoundManager(address(mrm));
    }

    function test_pause_revertsNonPauser() public {
        bytes32 role = sm.PAUSER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        sm.pause();
    }

    function test_unpause() public {
        vm.startPrank(pauser);
        sm.pause();
        sm.unpause();
        vm.stopPrank();
        stakeAs(p, MIN_STAKE);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_stakeUnbondWithdraw(uint256 amount, uint256 part, uint256 wait) public {
        amount = bound(amount, MIN_STAKE, 10_000e18);
        part = bound(part, 1, amount);
        wait = bound(wait, 0, 2 * UNBONDING);
        stakeAs(p, amount);
        uint256 remaining = amount - part;
        vm.prank(p);
        if (remaining != 0 && remaining < MIN_STAKE) {
            vm.expectRevert(abi.encodeWithSelector(IStakeManager.BelowMinStake.selector, remaining, MIN_STAKE));
            sm.requestUnbond(part);
            return;
        }
        sm.requestUnbond(part);
        vm.warp(block.timestamp + wait);
        vm.prank(p);
        if (wait < UNBONDING) {
            vm.expectRevert();
            sm.withdraw();
        } else {
            assertEq(sm.withdraw(), part, "withdrawn");
        }
        assertStakeAccounting();
    }

    function testFuzz_unbondingDelay(uint64 delay) public {
        vm.prank(admin);
        if (delay <= RM_MIN_DELAY) {
            vm.expectRevert(abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, delay, RM_MIN_DELAY + 1));
            sm.setUnbondingDelay(delay);
        } else {
            sm.setUnbondingDelay(delay);
            assertEq(sm.unbondingDelay(), delay, "set");
        }
    }

    function testFuzz_slashNeverAboveStake(uint256 active, uint256 unb, uint16 bps, bool provable) public {
        active = bound(active, MIN_STAKE, 5_000e18);
        unb = bound(unb, 0, active);
        bps = uint16(bound(bps, 0, 10_000));
        stakeAs(p, active);
        if (unb != 0 && (active - unb == 0 || active - unb >= MIN_STAKE)) unbondAs(p, unb);
        uint256 before = sm.slashableStake(p);
        IStakeManager.SlashLock memory l = lock(1, p, bps, provable);
        assertEq(l.amount, before * bps / 10_000, "bps of slashable, rounded down");
        assertLe(l.amount, before, "slash <= stake");
        assertLe(l.fromUnbonding, l.amount, "part");
        assertEq(sm.slashableStake(p), before - l.amount, "deducted");
        assertStakeAccounting();
    }

    /// @dev Lock then unlock restores the stake exactly where it was: same active, same unbonding total, and no
    ///      unbonding stake released earlier than before (exactly as before when one request was touched).
    function testFuzz_lockUnlockRestores(uint256 stakeAmt, uint256 seed, uint8 nReq, uint16 bps, bool provable)
        public
    {
        stakeAmt = bound(stakeAmt, MIN_STAKE * 20, 100_000e18);
        nReq = uint8(bound(nReq, 0, 16));
        bps = uint16(bound(bps, 0, 10_000));
        stakeAs(p, stakeAmt);
        for (uint256 i; i < nReq; ++i) {
            uint256 a = bound(uint256(keccak256(abi.encode(seed, i))), 1, MIN_STAKE);
            vm.warp(block.timestamp + bound(uint256(keccak256(abi.encode(seed, i, "t"))), 0, 3 days));
            unbondAs(p, a);
        }
        IStakeManager.StakeInfo memory before = sm.stakeOf(p);
        IStakeManager.UnbondRequest[] memory reqBefore = sm.unbondRequests(p);
        IStakeManager.SlashLock memory l = lock(9, p, bps, provable);
        assertStakeAccounting();
        vm.warp(block.timestamp + bound(seed, 0, 30 days));
        unlock(9, p, l, !provable);
        IStakeManager.StakeInfo memory afterInfo = sm.stakeOf(p);
        assertEq(afterInfo.active, before.active, "active restored");
        assertEq(afterInfo.unbonding, before.unbonding, "unbonding restored");
        assertEq(afterInfo.jailedUntilRound, before.jailedUntilRound, "jail lifted");
        assertEq(afterInfo.strikes, before.strikes, "strike back");
        for (uint256 i; i < reqBefore.length; ++i) {
            assertLe(releasedBy(p, reqBefore[i].releaseAt), _releasedIn(reqBefore, reqBefore[i].releaseAt), "never earlier");
        }
        if (l.fromUnbonding != 0) assertEq(releasedBy(p, l.releaseAt), _releasedIn(reqBefore, l.releaseAt), "by release");
        assertStakeAccounting();
    }

    function _releasedIn(IStakeManager.UnbondRequest[] memory r, uint256 time) internal pure returns (uint256 t) {
        for (uint256 i; i < r.length; ++i) {
            if (r[i].releaseAt <= time) t += r[i].amount;
        }
    }

    /// @dev Random sequences of stake / top-up / unbond / withdraw / lock / unlock / release over four stakers:
    ///      no token is ever lost or created (balance == totalStaked + totalLocked, per-staker sums agree) and
    ///      every token paid out is accounted for.
    function testFuzz_noTokenLost(uint256 seed) public {
        IStakeManager.SlashLock[] memory locks = new IStakeManager.SlashLock[](24);
        address[] memory lockWho = new address[](24);
        uint256[] memory lockRound = new uint256[](24);
        uint256 nLocks;
        uint256 released;
        uint256 supplyOutside = token.balanceOf(address(this));
        for (uint256 step; step < 24; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            address who = stakers[r % NSTAKERS];
            uint256 op = (r >> 8) % 7;
            uint256 amt = bound(r >> 16, 1, 2_000e18);
            IStakeManager.StakeInfo memory info = sm.stakeOf(who);
            if (op == 0) {
                stakeAs(who, amt + MIN_STAKE);
            } else if (op == 1 && info.active != 0) {
                amt = bound(amt, 1, info.active);
                uint256 rest = info.active - amt;
                if ((rest == 0 || rest >= MIN_STAKE) && sm.unbondRequests(who).length < 16) unbondAs(who, amt);
            } else if (op == 2) {
                vm.warp(block.timestamp + bound(r >> 32, 1, UNBONDING));
                if (sm.withdrawable(who) != 0) {
                    vm.prank(who);
                    sm.withdraw();
                }
            } else if (op == 3 && nLocks < 24) {
                locks[nLocks] = lock(step + 1, who, uint16(bound(r >> 40, 0, 10_000)), (r >> 60) % 2 == 0);
                lockWho[nLocks] = who;
                lockRound[nLocks] = step + 1;
                ++nLocks;
            } else if (op == 4 && nLocks != 0) {
                --nLocks; // unlock the latest
                unlock(lockRound[nLocks], lockWho[nLocks], locks[nLocks], true);
            } else if (op == 5 && nLocks != 0) {
                --nLocks; // release the latest to the treasury
                vm.prank(address(mrm));
                sm.releaseSlashed(locks[nLocks].amount, treasury);
                released += locks[nLocks].amount;
            } else if (op == 6 && info.active != 0) {
                vm.prank(who);
                sm.topUp(amt + MIN_STAKE); // the active stake may be below the minimum after a slash
            }
            assertStakeAccounting();
        }
        uint256 held;
        for (uint256 i; i < NSTAKERS; ++i) {
            held += token.balanceOf(stakers[i]);
        }
        assertEq(token.balanceOf(treasury), released, "treasury got exactly the released slashes");
        assertEq(
            held + token.balanceOf(address(sm)) + token.balanceOf(treasury) + supplyOutside,
            token.totalSupply(),
            "no token created or lost"
        );
    }
}

/// @notice Gas of the StakeManager's own calls, measured cold as in GAS.md (others have staked already, so the
///         contract's totals and token balance are non-zero, as on a live deployment).
contract StakeManagerGasTest is StakeFixture {
    address internal fresh;

    function setUp() public override {
        super.setUp();
        for (uint256 i = 1; i < NSTAKERS; ++i) {
            stakeAs(stakers[i], 1_000e18);
        }
        fresh = stakers[0]; // funded and approved, never staked
    }

    /// @dev Gas target: a first stake ≤ 100k per transaction (GAS.md method: exec − cold proxy + 21k + calldata).
    function test_gas_stakeFirst() public {
        (uint256 exec, uint256 txGas) = _measure(fresh, address(sm), abi.encodeCall(IStakeManager.stake, (500e18)));
        log("stake (first) exec", exec);
        log("stake (first) tx", txGas);
        assertLe(txGas, 100_000, "stake target");
    }

    /// @dev A judged slash of active stake writes one StakeInfo slot (slot 0: active, strikes, jail window); it
    ///      reads slot 1 (unbonding) for the slashable total. Marginal cost of one more slash in the same call.
    function test_gas_lockSlashes_judgedFromActive() public {
        uint256 one = _lockGas(1);
        uint256 two = _lockGas(2);
        log("lockSlashes, one judged slash from active, exec", one);
        log("lockSlashes, each further judged slash, exec", two - one);
        assertLe(two - one, 12_500, "small StakeManager part per slash");
    }

    function _lockGas(uint256 n) internal returns (uint256 exec) {
        uint256 snap = vm.snapshotState();
        address[] memory w = new address[](n);
        for (uint256 i; i < n; ++i) {
            w[i] = stakers[i + 1];
        }
        uint16[] memory b = new uint16[](n);
        for (uint256 i; i < n; ++i) {
            b[i] = 1_000;
        }
        bool[] memory pv = new bool[](n);
        (exec,) = _measure(address(mrm), address(sm), abi.encodeCall(IStakeManager.lockSlashes, (1, w, b, pv)));
        vm.revertToState(snap);
    }

    // ---------------------------------------------------------------- gas helper (GAS.md method)

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
}
