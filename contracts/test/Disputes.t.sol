// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice Disputes: every slashed participant's own right, deadlines and default outcomes, the arbiter's
///         decisions, and what a dispute can (not) do to settlement.
contract DisputesTest is Fixture {
    uint96 internal constant BUDGET = 1_000e18;
    uint256 internal id;
    IRoundManager.RoundParams internal p;
    uint256[] internal rewards;
    IRoundManager.SlashEntry[] internal entries;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < NPK; ++i) {
            stakeAs(parts[i], 1_000e18);
        }
        bondAndFund();
        (id, p) = openWith(BUDGET);
        rewards.push(500e18);
        rewards.push(400e18);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(5, id, p, 3_000); // 300e18
        s[1] = evidence(6, id, p, 1_000); // 100e18
        sortEvidence(s);
        IRoundManager.SlashEntry[] memory e = finalizeRecording(id, p, resultOf(id, rewards), s);
        for (uint256 i; i < e.length; ++i) {
            entries.push(e[i]);
        }
        token.transfer(stranger, 1_000 * MIN_DEPOSIT);
        vm.prank(stranger);
        token.approve(address(rm), type(uint256).max);
    }

    function _index(address who) internal view returns (uint256) {
        return entries[0].participant == who ? 0 : 1;
    }

    function _disputeSlash(uint256 who) internal returns (uint256 d) {
        IRoundManager.SlashEntry[] memory e = entries;
        vm.prank(parts[who]);
        d = rm.disputeSlash(id, e, _index(parts[who]), MIN_DEPOSIT, keccak256("evidence"));
    }

    function _tryDispute(address who, uint256 index, uint256 deposit) internal {
        IRoundManager.SlashEntry[] memory e = entries;
        vm.prank(who);
        rm.disputeSlash(id, e, index, deposit, 0);
    }

    function _disputeResult() internal returns (uint256 d) {
        vm.prank(stranger);
        d = rm.disputeResult(id, MIN_DEPOSIT, keccak256("replay differs"));
    }

    // ---------------------------------------------------------------- opening

    function test_entries_matchSlashesHash() public view {
        IRoundManager.SlashEntry[] memory e = entries;
        assertEq(slashesHashOf(e), rm.getRound(id).slashesHash, "fold");
        assertEq(e[_index(parts[5])].amount, 300e18, "amount");
        assertEq(e[0].fromUnbonding, 0, "from active");
    }

    function test_disputeSlash_opens() public {
        vm.expectEmit(true, true, true, true, address(rm));
        emit IRoundManager.DisputeOpened(
            1, id, parts[5], IRoundManager.DisputeKind.Slash, parts[5], MIN_DEPOSIT, keccak256("evidence")
        );
        uint256 d = _disputeSlash(5);
        assertEq(d, 1, "id");
        assertEq(rm.disputeCount(), 1, "count");
        IRoundManager.Dispute memory x = rm.getDispute(d);
        assertEq(x.roundId, id, "round");
        assertEq(x.disputer, parts[5], "disputer");
        assertEq(x.participant, parts[5], "participant");
        assertEq(x.deposit, MIN_DEPOSIT, "deposit");
        assertEq(x.slashAmount, 300e18, "slash amount");
        assertTrue(x.kind == IRoundManager.DisputeKind.Slash, "kind");
        assertTrue(x.status == IRoundManager.DisputeStatus.Open, "open");
        assertTrue(rm.slashState(id, parts[5]) == IRoundManager.SlashState.Disputed, "disputed");
        assertEq(rm.getRound(id).openSlashDisputes, 1, "open slash disputes");
        assertEq(rm.getRound(id).openResultDisputes, 0, "open result disputes");
        assertEq(rm.totalDisputeDeposits(), MIN_DEPOSIT, "deposits");
        assertAccounting();
    }

    function test_disputeSlash_revertsNotSlashed() public {
        uint256 i = _index(parts[5]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotSlashedParticipant.selector, parts[1], parts[5]));
        _tryDispute(parts[1], i, MIN_DEPOSIT);
    }

    function test_disputeSlash_revertsWrongList() public {
        IRoundManager.SlashEntry[] memory e = entries;
        e[0].amount += 1;
        vm.prank(parts[5]);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.disputeSlash(id, e, _index(parts[5]), MIN_DEPOSIT, 0);
        e = entries;
        e[0].releaseAt = 1;
        vm.prank(parts[5]);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.disputeSlash(id, e, _index(parts[5]), MIN_DEPOSIT, 0);
        e = entries;
        vm.prank(parts[5]);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.disputeSlash(id, e, 2, MIN_DEPOSIT, 0);
        vm.prank(parts[5]);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.disputeSlash(id + 1, e, 0, MIN_DEPOSIT, 0);
    }

    function test_disputeSlash_revertsTwice() public {
        _disputeSlash(5);
        uint256 i = _index(parts[5]);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoundManager.SlashNotDisputable.selector, id, parts[5], IRoundManager.SlashState.Disputed
            )
        );
        _tryDispute(parts[5], i, MIN_DEPOSIT);
    }

    function test_disputeSlash_revertsLowDeposit() public {
        uint256 i = _index(parts[5]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DepositTooLow.selector, MIN_DEPOSIT - 1, MIN_DEPOSIT));
        _tryDispute(parts[5], i, MIN_DEPOSIT - 1);
    }

    function test_disputeSlash_revertsAfterWindow() public {
        uint256 d = rm.getRound(id).challengeDeadline;
        vm.warp(d + 1);
        uint256 i = _index(parts[5]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ChallengeWindowClosed.selector, d));
        _tryDispute(parts[5], i, MIN_DEPOSIT);
    }

    function test_disputeSlash_revertsProvable() public {
        (uint256 id2, IRoundManager.RoundParams memory p2) = openWith(0);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = provableEvidence(2, id2, p2, P.REASON_NULL_UPDATE, p2.globalModelHash, "");
        IRoundManager.SlashEntry[] memory e = finalizeRecording(id2, p2, emptyResult(), s);
        vm.prank(parts[2]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ProvenSlash.selector, id2, parts[2]));
        rm.disputeSlash(id2, e, 0, MIN_DEPOSIT, 0);
    }

    function test_disputeResult_revertsNotFinalized() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, 99, IRoundManager.RoundStatus.None)
        );
        rm.disputeResult(99, MIN_DEPOSIT, 0);
    }

    function test_disputeResult_revertsAfterWindow() public {
        uint256 d = rm.getRound(id).challengeDeadline;
        vm.warp(d + 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ChallengeWindowClosed.selector, d));
        rm.disputeResult(id, MIN_DEPOSIT, 0);
    }

    /// @dev Finding: a shared cap on open disputes (uint16) could be filled with cheap result disputes so the real
    ///      victim could not dispute. Each slashed participant now has its own right; result disputes are counted
    ///      apart and have no cap to fill.
    function test_noSharedCap_victimDisputesAfterManyResultDisputes() public {
        for (uint256 i; i < 300; ++i) {
            _disputeResult();
        }
        // and the counter near its end as if 2^32 − 2 had been opened: still no effect on slash disputes
        bytes32 base = 0xb36ab3e64ab863cdc57717323a4513aeddb5e0ad741e7eb17fff01565f38d900;
        bytes32 slot1 = bytes32(uint256(keccak256(abi.encode(id, uint256(base) + 9))) + 1);
        uint256 word = uint256(vm.load(address(rm), slot1));
        uint256 shift = 8 + 32 + 40 + 40 + 40 + 32; // status, count, 3 deadlines, openSlashDisputes
        assertEq((word >> shift) & type(uint32).max, 300, "slot layout");
        vm.store(address(rm), slot1, bytes32((word & ~(uint256(type(uint32).max) << shift)) | (uint256(type(uint32).max - 1) << shift)));
        assertEq(rm.getRound(id).openResultDisputes, type(uint32).max - 1, "stored");
        uint256 d5 = _disputeSlash(5);
        uint256 d6 = _disputeSlash(6);
        assertEq(rm.getRound(id).openSlashDisputes, 2, "both victims disputed");
        assertTrue(rm.getDispute(d5).status == IRoundManager.DisputeStatus.Open, "open");
        assertTrue(rm.getDispute(d6).status == IRoundManager.DisputeStatus.Open, "open");
    }

    function test_everySlashedParticipantCanDispute() public {
        _disputeResult();
        _disputeSlash(5);
        _disputeSlash(6);
        assertEq(rm.getRound(id).openSlashDisputes, 2, "two");
        assertEq(rm.getRound(id).openResultDisputes, 1, "one");
        assertAccounting();
    }

    // ---------------------------------------------------------------- default outcomes

    /// @dev Finding: disputes had no deadline; an unresolved slash dispute froze the round forever. After the dispute
    ///      deadline the default applies: the slash is reverted and the coordinator's bond compensates.
    function test_slashDispute_timeoutRevertsSlashAndCompensates() public {
        uint256 d = _disputeSlash(5);
        vm.warp(rm.getRound(id).challengeDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputesPending.selector, 1, 0));
        rm.settleRound(id);
        uint256 deadline = rm.getRound(id).disputeDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeDeadlineNotPassed.selector, deadline));
        rm.timeoutDispute(d);
        vm.warp(deadline + 1);
        uint256 before = token.balanceOf(parts[5]);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.DisputeTimedOut(d, id, IRoundManager.DisputeStatus.TimedOut, 30e18);
        vm.prank(stranger); // anyone applies the default
        rm.timeoutDispute(d);
        assertEq(sm.slashableStake(parts[5]), 1_000e18, "slash reverted");
        assertEq(sm.stakeOf(parts[5]).strikes, 0, "strike returned");
        assertEq(token.balanceOf(parts[5]), before + MIN_DEPOSIT + 30e18, "deposit + 10 % of 300");
        (uint256 bond,,) = rm.coordinatorInfo(coordinator);
        assertEq(bond, MIN_BOND * 2 - 30e18, "paid from the bond");
        assertTrue(rm.slashState(id, parts[5]) == IRoundManager.SlashState.Reverted, "reverted");
        assertEq(rm.getRound(id).slashedTotal, 100e18, "only the other slash remains");
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeNotOpen.selector, d));
        rm.timeoutDispute(d);
        rm.settleRound(id);
        assertEq(sm.totalLocked(), 0, "settled");
        assertAccounting();
    }

    function test_slashDispute_timeoutCompensationCappedByBond() public {
        uint256 d = _disputeSlash(5);
        // the bond is 2,000: an upheld result dispute takes all but 1 of it first
        uint256 r = _disputeResult();
        vm.prank(arbiter);
        rm.resolveDispute(r, true, MIN_BOND * 2 - 1e18);
        vm.warp(rm.getRound(id).disputeDeadline + 1);
        rm.timeoutDispute(d);
        (uint256 bond,,) = rm.coordinatorInfo(coordinator);
        assertEq(bond, 0, "drained, not more");
        assertEq(rm.getDispute(d).status == IRoundManager.DisputeStatus.TimedOut, true, "timed out");
        assertAccounting();
    }

    /// @dev Finding: a cheap result dispute froze settlement until the arbiter acted. Its default is that the result
    ///      stands: it delays settlement at most until the dispute deadline, and never voids the round by itself.
    function test_resultDispute_cannotFreezeOrVoid() public {
        uint256 d = _disputeResult();
        vm.warp(rm.getRound(id).challengeDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputesPending.selector, 0, 1));
        rm.settleRound(id);
        vm.warp(rm.getRound(id).disputeDeadline + 1);
        rm.settleRound(id); // the arbiter's silence does not hold the round
        assertFalse(rm.getRound(id).resultVoided, "not voided");
        claimFor(id, 0, rewards);
        // the dispute then takes its default: deposit back, nothing else
        uint256 before = token.balanceOf(stranger);
        vm.prank(arbiter);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Settled)
        );
        rm.resolveDispute(d, true, 0); // too late to void a settled round
        rm.timeoutDispute(d);
        assertEq(token.balanceOf(stranger), before + MIN_DEPOSIT, "deposit back");
        assertTrue(rm.getDispute(d).status == IRoundManager.DisputeStatus.TimedOut, "timed out");
        assertEq(rm.getRound(id).openResultDisputes, 0, "closed");
        assertAccounting();
    }

    function test_timeout_revertsNotOpen() public {
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeNotOpen.selector, 42));
        rm.timeoutDispute(42);
    }

    // ---------------------------------------------------------------- arbiter

    function test_settle_waitsForSlashDisputesEvenAfterDeadline() public {
        _disputeSlash(5);
        vm.warp(rm.getRound(id).disputeDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputesPending.selector, 1, 0));
        rm.settleRound(id); // apply the default first (timeoutDispute)
    }

    function test_resolve_upholdSlash() public {
        uint256 d = _disputeSlash(5);
        uint256 before = token.balanceOf(parts[5]);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.SlashReverted(id, parts[5], 300e18);
        vm.prank(arbiter);
        rm.resolveDispute(d, true, 50e18);
        assertEq(sm.slashableStake(parts[5]), 1_000e18, "stake restored");
        assertEq(token.balanceOf(parts[5]), before + MIN_DEPOSIT + 50e18, "deposit + compensation");
        (uint256 bond,,) = rm.coordinatorInfo(coordinator);
        assertEq(bond, MIN_BOND * 2 - 50e18, "bond paid");
        assertEq(rm.getRound(id).slashedTotal, 100e18, "round slash total");
        assertTrue(rm.slashState(id, parts[5]) == IRoundManager.SlashState.Reverted, "reverted");
        assertTrue(rm.getDispute(d).status == IRoundManager.DisputeStatus.Upheld, "upheld");
        assertAccounting();
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        assertEq(sm.totalLocked(), 0, "only the confirmed slash moved");
        assertAccounting();
    }

    function test_resolve_compensationCappedByBond() public {
        uint256 d = _disputeSlash(5);
        vm.prank(arbiter);
        rm.resolveDispute(d, true, type(uint256).max);
        (uint256 bond,,) = rm.coordinatorInfo(coordinator);
        assertEq(bond, 0, "bond drained, not more");
        assertAccounting();
    }

    function test_resolve_rejectSlash() public {
        uint256 d = _disputeSlash(6);
        uint256 pool = rm.rewardPool();
        vm.prank(arbiter);
        rm.resolveDispute(d, false, 123);
        assertEq(rm.rewardPool(), pool + MIN_DEPOSIT, "deposit forfeited to pool");
        assertTrue(rm.slashState(id, parts[6]) == IRoundManager.SlashState.Confirmed, "confirmed");
        uint256 i = _index(parts[6]);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoundManager.SlashNotDisputable.selector, id, parts[6], IRoundManager.SlashState.Confirmed
            )
        );
        _tryDispute(parts[6], i, MIN_DEPOSIT);
        assertAccounting();
    }

    function test_resolve_upholdResultVoidsRewards() public {
        uint256 d = _disputeResult();
        vm.expectEmit(true, false, false, false, address(rm));
        emit IRoundManager.RoundResultVoided(id);
        uint256 before = token.balanceOf(stranger);
        vm.prank(arbiter);
        rm.resolveDispute(d, true, 10e18);
        assertEq(token.balanceOf(stranger), before + MIN_DEPOSIT + 10e18, "paid");
        uint256 pool = rm.rewardPool();
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        // whole budget back; slashes (own evidence) still settle: 400e18 * 60% to the pool
        assertEq(rm.rewardPool(), pool + BUDGET + 240e18, "budget returned");
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundVoided.selector, id));
        claimFor(id, 0, rewards);
        assertAccounting();
    }

    function test_resolve_twoResultDisputesBothUpheld() public {
        uint256 a = _disputeResult();
        uint256 b = _disputeResult();
        vm.startPrank(arbiter);
        rm.resolveDispute(a, true, 0);
        rm.resolveDispute(b, true, 0);
        vm.stopPrank();
        assertTrue(rm.getRound(id).resultVoided, "voided");
        assertAccounting();
    }

    function test_resolve_revertsNotArbiter() public {
        uint256 d = _disputeSlash(5);
        bytes32 role = rm.ARBITER_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rm.resolveDispute(d, true, 0);
    }

    /// @dev Finding: one key could be coordinator and arbiter, deciding disputes over its own rounds. The arbiter
    ///      of a dispute can no longer be that round's coordinator.
    function test_resolve_revertsArbiterIsCoordinator() public {
        uint256 d = _disputeSlash(5);
        bytes32 role = rm.ARBITER_ROLE();
        vm.prank(admin);
        rm.grantRole(role, coordinator);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ArbiterIsCoordinator.selector, coordinator));
        rm.resolveDispute(d, false, 0);
        vm.prank(arbiter);
        rm.resolveDispute(d, false, 0); // another arbiter can
    }

    function test_resolve_revertsNotOpen() public {
        uint256 d = _disputeSlash(5);
        vm.startPrank(arbiter);
        rm.resolveDispute(d, false, 0);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeNotOpen.selector, d));
        rm.resolveDispute(d, true, 0);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeNotOpen.selector, 42));
        rm.resolveDispute(42, true, 0);
        vm.stopPrank();
    }

    function test_resolve_revertsAfterDisputeDeadline() public {
        uint256 d = _disputeSlash(5);
        uint256 deadline = rm.getRound(id).disputeDeadline;
        vm.warp(deadline + 1);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputeDeadlinePassed.selector, deadline));
        rm.resolveDispute(d, false, 0);
    }

    function test_resolve_afterWindowBeforeDeadlineThenSettle() public {
        uint256 d = _disputeSlash(5);
        vm.warp(block.timestamp + WINDOW + 10);
        vm.prank(arbiter);
        rm.resolveDispute(d, false, 0);
        rm.settleRound(id);
        assertEq(sm.totalLocked(), 0, "settled");
        assertAccounting();
    }

    function test_withdrawBond_lockedUntilSettled() public {
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.BondLocked.selector, 1));
        rm.withdrawBond(1);
    }

    // ---------------------------------------------------------------- unbonding stake

    function test_unbondingCannotDodgeSlash() public {
        // parts[7] unbonds everything right after open of a new round; it is still slashable at finalize
        (uint256 id2, IRoundManager.RoundParams memory p2) = openWith(0);
        vm.prank(parts[7]);
        sm.requestUnbond(1_000e18);
        vm.warp(rm.getRound(id2).finalizeDeadline);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(7, id2, p2, 5_000);
        finalizeRecording(id2, p2, emptyResult(), s);
        assertEq(sm.stakeOf(parts[7]).unbonding, 500e18, "slashed from unbonding");
        vm.warp(block.timestamp + WINDOW + DISPUTE_WINDOW + 1);
        vm.prank(parts[7]);
        vm.expectRevert(); // still not released: delay > round + challenge + dispute windows
        sm.withdraw();
    }

    /// @dev Finding: an upheld slash dispute returned unbonding stake to *active*, so the participant waited another
    ///      full delay. It now returns to unbonding with its original release time.
    function test_upheldDispute_returnsUnbondingStakeWithItsReleaseTime() public {
        (uint256 id2, IRoundManager.RoundParams memory p2) = openWith(0);
        vm.prank(parts[7]);
        sm.requestUnbond(1_000e18);
        uint64 releaseAt = uint64(block.timestamp + UNBONDING);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(7, id2, p2, 2_000);
        IRoundManager.SlashEntry[] memory e = finalizeRecording(id2, p2, emptyResult(), s);
        assertEq(e[0].amount, 200e18, "amount");
        assertEq(e[0].fromUnbonding, 200e18, "all from unbonding");
        assertEq(e[0].releaseAt, releaseAt, "its release time");
        vm.prank(parts[7]);
        uint256 d = rm.disputeSlash(id2, e, 0, MIN_DEPOSIT, 0);
        IRoundManager.Dispute memory x = rm.getDispute(d);
        assertEq(x.fromUnbonding, 200e18, "dispute keeps where it came from");
        assertEq(x.releaseAt, releaseAt, "and when");
        vm.prank(arbiter);
        rm.resolveDispute(d, true, 0);
        IStakeManager.StakeInfo memory info = sm.stakeOf(parts[7]);
        assertEq(info.active, 0, "not back to active");
        assertEq(info.unbonding, 1_000e18, "back to unbonding");
        IStakeManager.UnbondRequest[] memory reqs = sm.unbondRequests(parts[7]);
        for (uint256 i; i < reqs.length; ++i) {
            assertEq(reqs[i].releaseAt, releaseAt, "original release time");
        }
        vm.warp(releaseAt);
        vm.prank(parts[7]);
        assertEq(sm.withdraw(), 1_000e18, "all of it, on time");
        assertAccounting();
    }

    /// @dev The same through the default outcome (the arbiter silent) and through a cancellation.
    function test_timedOutAndCancelledSlashes_returnUnbondingStakeWithItsReleaseTime() public {
        (uint256 id2, IRoundManager.RoundParams memory p2) = openWith(0);
        vm.prank(parts[7]);
        sm.requestUnbond(600e18);
        vm.prank(parts[4]);
        sm.requestUnbond(1_000e18);
        uint64 releaseAt = uint64(block.timestamp + UNBONDING);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(7, id2, p2, 5_000); // 500: 400 active + 100 unbonding
        s[1] = evidence(4, id2, p2, 5_000); // 500 unbonding
        sortEvidence(s);
        IRoundManager.SlashEntry[] memory e = finalizeRecording(id2, p2, emptyResult(), s);
        uint256 i7 = e[0].participant == parts[7] ? 0 : 1;
        assertEq(e[i7].fromUnbonding, 100e18, "latest-released first, after active");
        vm.prank(parts[7]);
        uint256 d = rm.disputeSlash(id2, e, i7, MIN_DEPOSIT, 0);
        vm.warp(rm.getRound(id2).disputeDeadline + 1);
        rm.timeoutDispute(d);
        assertEq(sm.stakeOf(parts[7]).active, 400e18, "active part back to active");
        assertEq(sm.stakeOf(parts[7]).unbonding, 600e18, "unbonding part back to unbonding");
        vm.prank(pauser);
        rm.cancelRound(id2, e);
        assertEq(sm.stakeOf(parts[4]).unbonding, 1_000e18, "cancelled slash back to unbonding");
        IStakeManager.UnbondRequest[] memory reqs = sm.unbondRequests(parts[4]);
        for (uint256 i; i < reqs.length; ++i) {
            assertEq(reqs[i].releaseAt, releaseAt, "original release time");
        }
        assertEq(sm.totalLocked(), 400e18, "only round 1's slashes still locked");
        assertAccounting();
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_disputeOutcomes(uint256 deposit, uint8 outcome, uint256 comp) public {
        deposit = bound(deposit, MIN_DEPOSIT, 5_000e18);
        comp = bound(comp, 0, 10_000e18);
        outcome = uint8(bound(outcome, 0, 2));
        IRoundManager.SlashEntry[] memory e = entries;
        uint256 i = _index(parts[5]);
        vm.prank(parts[5]);
        uint256 d = rm.disputeSlash(id, e, i, deposit, 0);
        vm.prank(stranger);
        uint256 r = rm.disputeResult(id, deposit, 0);
        if (outcome == 2) {
            vm.warp(rm.getRound(id).disputeDeadline + 1);
            rm.timeoutDispute(d);
            rm.timeoutDispute(r);
        } else {
            vm.startPrank(arbiter);
            rm.resolveDispute(d, outcome == 1, comp);
            rm.resolveDispute(r, outcome == 1, comp);
            vm.stopPrank();
        }
        assertAccounting();
        vm.warp(rm.getRound(id).disputeDeadline + 1);
        rm.settleRound(id);
        assertAccounting();
        assertEq(rm.totalDisputeDeposits(), 0, "no deposit left");
        assertEq(sm.totalLocked(), 0, "settled");
    }
}
