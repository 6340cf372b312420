// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {Fixture} from "./utils/Fixture.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {ExactTransfer} from "../src/libraries/ExactTransfer.sol";
import {FeeOnTransferToken} from "./mocks/MockTokens.sol";

contract StakeManagerTest is Fixture {
    address internal p;

    function setUp() public override {
        super.setUp();
        p = parts[0];
    }

    // ---------------------------------------------------------------- initialize

    function test_initialize_setsState() public view {
        assertEq(sm.token(), address(token), "token");
        assertEq(sm.minStake(), MIN_STAKE, "min");
        assertEq(sm.unbondingDelay(), UNBONDING, "delay");
        assertEq(sm.roundManager(), address(rm), "rm");
        assertTrue(sm.hasRole(sm.DEFAULT_ADMIN_ROLE(), admin), "admin");
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
        (StakeManager s,,) = deploySystem(IERC20(address(fee)));
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
        vm.prank(p);
        vm.expectEmit(true, false, false, true, address(sm));
        emit IStakeManager.UnbondRequested(p, 200e18, 200e18, uint64(block.timestamp) + UNBONDING);
        sm.requestUnbond(200e18);
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 100e18, "active");
        assertEq(info.unbonding, 200e18, "unbonding");
        assertEq(sm.slashableStake(p), 300e18, "still slashable");
        assertEq(sm.totalStaked(), 300e18, "total unchanged");
    }

    function test_requestUnbond_fullExit() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        sm.requestUnbond(MIN_STAKE);
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
        vm.prank(p);
        sm.requestUnbond(MIN_STAKE);
    }

    function test_withdraw_afterDelay() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        sm.requestUnbond(MIN_STAKE);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = token.balanceOf(p);
        vm.prank(p);
        vm.expectEmit(true, false, false, true, address(sm));
        emit IStakeManager.Withdrawn(p, MIN_STAKE);
        assertEq(sm.withdraw(), MIN_STAKE, "returned");
        assertEq(token.balanceOf(p), before + MIN_STAKE, "paid");
        assertEq(sm.totalStaked(), 0, "total");
        assertEq(token.balanceOf(address(sm)), 0, "empty");
    }

    function test_withdraw_worksWhenPaused() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        sm.requestUnbond(MIN_STAKE);
        vm.prank(pauser);
        sm.pause();
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(p);
        sm.withdraw();
    }

    function test_withdraw_revertsBeforeDelay() public {
        stakeAs(p, MIN_STAKE);
        vm.prank(p);
        sm.requestUnbond(MIN_STAKE);
        vm.warp(block.timestamp + UNBONDING - 1);
        vm.prank(p);
        vm.expectRevert(
            abi.encodeWithSelector(IStakeManager.UnbondingNotReleased.selector, uint64(block.timestamp + 1))
        );
        sm.withdraw();
    }

    function test_withdraw_revertsNothing() public {
        vm.prank(p);
        vm.expectRevert(IStakeManager.NothingToWithdraw.selector);
        sm.withdraw();
    }

    function test_requestUnbond_resetsReleaseTime() public {
        stakeAs(p, 300e18);
        vm.prank(p);
        sm.requestUnbond(100e18);
        vm.warp(block.timestamp + UNBONDING - 10);
        vm.prank(p);
        sm.requestUnbond(100e18);
        assertEq(sm.stakeOf(p).unbondReleaseAt, block.timestamp + UNBONDING, "reset");
    }

    // ---------------------------------------------------------------- hooks access

    function test_lockSlashes_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.lockSlashes(new address[](0), new uint16[](0));
    }

    function test_unlockSlash_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.unlockSlash(p, 1);
    }

    function test_releaseSlashed_revertsNotRoundManager() public {
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(this)));
        sm.releaseSlashed(1, p);
    }

    function test_hooks_lockUnlockRelease() public {
        stakeAs(p, 300e18);
        vm.prank(p);
        sm.requestUnbond(200e18);
        address[] memory who = new address[](1);
        who[0] = p;
        uint16[] memory bps = new uint16[](1);
        bps[0] = 5_000; // 150 of 300: 100 from active, 50 from unbonding
        vm.prank(address(rm));
        (uint256[] memory amounts, uint256 total) = sm.lockSlashes(who, bps);
        assertEq(amounts[0], 150e18, "amount");
        assertEq(total, 150e18, "total");
        IStakeManager.StakeInfo memory info = sm.stakeOf(p);
        assertEq(info.active, 0, "active drained first");
        assertEq(info.unbonding, 150e18, "unbonding");
        assertEq(sm.totalLocked(), 150e18, "locked");
        vm.prank(address(rm));
        sm.unlockSlash(p, 50e18);
        assertEq(sm.stakeOf(p).active, 50e18, "unlocked to active");
        vm.prank(address(rm));
        sm.releaseSlashed(100e18, treasury);
        assertEq(token.balanceOf(treasury), 100e18, "released");
        assertEq(sm.totalLocked(), 0, "locked zero");
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "accounting");
    }

    function test_lockSlashes_revertsLengthMismatch() public {
        vm.prank(address(rm));
        vm.expectRevert(IStakeManager.LengthMismatch.selector);
        sm.lockSlashes(new address[](1), new uint16[](0));
    }

    function test_lockSlashes_revertsBps() public {
        vm.prank(address(rm));
        uint16[] memory bps = new uint16[](1);
        bps[0] = 10_001;
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.InvalidBps.selector, 10_001));
        sm.lockSlashes(new address[](1), bps);
    }

    function test_unlockSlash_revertsExceedsLocked() public {
        vm.prank(address(rm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.ExceedsLocked.selector, 0, 1));
        sm.unlockSlash(p, 1);
    }

    function test_releaseSlashed_revertsExceedsLocked() public {
        vm.prank(address(rm));
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.ExceedsLocked.selector, 0, 1));
        sm.releaseSlashed(1, p);
    }

    function test_releaseSlashed_revertsZeroAddress() public {
        vm.prank(address(rm));
        vm.expectRevert(IStakeManager.ZeroAddress.selector);
        sm.releaseSlashed(0, address(0));
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
        uint64 req = uint64(MAX_ROUND) + WINDOW;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, req, req + 1));
        sm.setUnbondingDelay(req);
    }

    function test_setUnbondingDelay_revertsNonAdmin() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        sm.setUnbondingDelay(30 days);
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
        sm.setRoundManager(address(rm));
    }

    function test_setRoundManager_revertsDelayTooShort() public {
        // a fresh StakeManager whose delay does not exceed the RoundManager's round + window
        address impl = address(new StakeManager());
        StakeManager s2 = StakeManager(
            address(
                new ERC1967Proxy(
                    impl, abi.encodeCall(StakeManager.initialize, (admin, 0, IERC20(address(token)), 1, 10 days))
                )
            )
        );
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, 10 days, 10 days + 1));
        s2.setRoundManager(address(rm));
    }

    function test_setRoundManager_emits() public {
        vm.prank(admin);
        vm.expectEmit(true, false, false, false, address(sm));
        emit IStakeManager.RoundManagerUpdated(address(rm));
        sm.setRoundManager(address(rm));
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
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "accounting");
    }

    function testFuzz_unbondingDelay(uint64 delay) public {
        uint64 req = uint64(MAX_ROUND) + WINDOW;
        vm.prank(admin);
        if (delay <= req) {
            vm.expectRevert(abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, delay, req + 1));
            sm.setUnbondingDelay(delay);
        } else {
            sm.setUnbondingDelay(delay);
            assertEq(sm.unbondingDelay(), delay, "set");
        }
    }

    function testFuzz_slashNeverAboveStake(uint256 active, uint256 unb, uint16 bps) public {
        active = bound(active, MIN_STAKE, 5_000e18);
        unb = bound(unb, 0, active);
        bps = uint16(bound(bps, 0, 10_000));
        stakeAs(p, active);
        if (unb != 0 && (active - unb == 0 || active - unb >= MIN_STAKE)) {
            vm.prank(p);
            sm.requestUnbond(unb);
        }
        uint256 before = sm.slashableStake(p);
        address[] memory who = new address[](1);
        who[0] = p;
        uint16[] memory b = new uint16[](1);
        b[0] = bps;
        vm.prank(address(rm));
        (uint256[] memory amounts,) = sm.lockSlashes(who, b);
        assertLe(amounts[0], before, "slash <= stake");
        assertEq(sm.slashableStake(p), before - amounts[0], "deducted");
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "accounting");
    }
}
