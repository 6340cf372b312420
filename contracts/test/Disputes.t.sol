// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";

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
        for (uint256 i; i < 2; ++i) {
            entries.push(
                IRoundManager.SlashEntry({
                    participant: s[i].participant,
                    amount: uint96(1_000e18 * uint256(s[i].slashBps) / 10_000),
                    reason: s[i].reason
                })
            );
        }
        bytes32 root = Merkle.root(resultLeaves(id, rewards));
        vm.prank(coordinator);
        rm.finalizeRound(id, p, keccak256("agg"), root, 900e18, s);
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

    function test_disputeSlash_opens() public {
        vm.expectEmit(true, true, true, true, address(rm));
        emit IRoundManager.DisputeOpened(1, id, parts[5], IRoundManager.DisputeKind.Slash, parts[5], MIN_DEPOSIT, keccak256("evidence"));
        uint256 d = _disputeSlash(5);
        assertEq(d, 1, "id");
        assertEq(rm.disputeCount(), 1, "count");
        IRoundManager.Dispute memory x = rm.getDispute(d);
        assertEq(x.roundId, id, "round");
        assertEq(x.disputer, parts[5], "disputer");
        assertEq(x.participant, parts[5], "participant");
        assertEq(x.deposit, MIN_DEPOSIT, "deposit");
        assertEq(x.slashAmount, 300e18, "slash amount");
        assertTrue(x.status == IRoundManager.DisputeStatus.Open, "open");
        assertTrue(rm.slashState(id, parts[5]) == IRoundManager.SlashState.Disputed, "disputed");
        assertEq(rm.getRound(id).openDisputes, 1, "open disputes");
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

    function test_disputeResult_revertsNotFinalized() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, 99, IRoundManager.RoundStatus.None)
        );
        rm.disputeResult(99, MIN_DEPOSIT, 0);
    }

    function test_dispute_revertsTooManyOpen() public {
        // force openDisputes to its uint16 maximum (slot 1 of the Round struct, bits 120..135)
        bytes32 base = 0xb36ab3e64ab863cdc57717323a4513aeddb5e0ad741e7eb17fff01565f38d900;
        bytes32 slot1 = bytes32(uint256(keccak256(abi.encode(id, uint256(base) + 8))) + 1);
        uint256 word = uint256(vm.load(address(rm), slot1));
        vm.store(address(rm), slot1, bytes32(word | (uint256(type(uint16).max) << 120)));
        assertEq(rm.getRound(id).openDisputes, type(uint16).max, "slot layout");
        token.transfer(stranger, MIN_DEPOSIT);
        vm.startPrank(stranger);
        token.approve(address(rm), type(uint256).max);
        vm.expectRevert(IRoundManager.TooManyDisputes.selector);
        rm.disputeResult(id, MIN_DEPOSIT, 0);
        vm.stopPrank();
    }

    function test_disputeResult_revertsAfterWindow() public {
        uint256 d = rm.getRound(id).challengeDeadline;
        vm.warp(d + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ChallengeWindowClosed.selector, d));
        rm.disputeResult(id, MIN_DEPOSIT, 0);
    }

    function test_settle_waitsForDisputes() public {
        _disputeSlash(5);
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.DisputesPending.selector, 1));
        rm.settleRound(id);
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
        (uint256 bond,) = rm.coordinatorInfo(coordinator);
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
        (uint256 bond,) = rm.coordinatorInfo(coordinator);
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
        vm.prank(stranger);
        token.approve(address(rm), type(uint256).max);
        token.transfer(stranger, MIN_DEPOSIT);
        vm.prank(stranger);
        uint256 d = rm.disputeResult(id, MIN_DEPOSIT, keccak256("replay differs"));
        vm.expectEmit(true, false, false, false, address(rm));
        emit IRoundManager.RoundResultVoided(id);
        vm.prank(arbiter);
        rm.resolveDispute(d, true, 10e18);
        assertEq(token.balanceOf(stranger), MIN_DEPOSIT + 10e18, "paid");
        uint256 pool = rm.rewardPool();
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        // whole budget back; slashes (own evidence) still settle: 400e18 * 60% to the pool
        assertEq(rm.rewardPool(), pool + BUDGET + 240e18, "budget returned");
        bytes32[] memory proof = Merkle.proof(resultLeaves(id, rewards), 0);
        bytes32 uh = keccak256(abi.encode("update", id, 0));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RoundVoided.selector, id));
        rm.claim(id, parts[0], uh, 500_000, rewards[0], proof);
        assertAccounting();
    }

    function test_resolve_twoResultDisputesBothUpheld() public {
        token.transfer(stranger, 2 * MIN_DEPOSIT);
        vm.startPrank(stranger);
        token.approve(address(rm), type(uint256).max);
        uint256 a = rm.disputeResult(id, MIN_DEPOSIT, 0);
        uint256 b = rm.disputeResult(id, MIN_DEPOSIT, 0);
        vm.stopPrank();
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

    function test_resolve_afterWindowThenSettle() public {
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

    function test_unbondingCannotDodgeSlash() public {
        // parts[7] unbonds everything right after open of a new round; it is still slashable at finalize
        (uint256 id2, IRoundManager.RoundParams memory p2) = openWith(0);
        vm.prank(parts[7]);
        sm.requestUnbond(1_000e18);
        vm.warp(rm.getRound(id2).finalizeDeadline);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(7, id2, p2, 5_000);
        vm.prank(coordinator);
        rm.finalizeRound(id2, p2, 0, 0, 0, s);
        assertEq(sm.stakeOf(parts[7]).unbonding, 500e18, "slashed from unbonding");
        vm.warp(block.timestamp + WINDOW + 1);
        vm.prank(parts[7]);
        vm.expectRevert(); // still not released: delay > round + window
        sm.withdraw();
    }

    function testFuzz_disputeDeposit(uint256 deposit, bool uphold, uint256 comp) public {
        deposit = bound(deposit, MIN_DEPOSIT, 5_000e18);
        comp = bound(comp, 0, 10_000e18);
        IRoundManager.SlashEntry[] memory e = entries;
        uint256 i = _index(parts[5]);
        vm.prank(parts[5]);
        uint256 d = rm.disputeSlash(id, e, i, deposit, 0);
        vm.prank(arbiter);
        rm.resolveDispute(d, uphold, comp);
        assertAccounting();
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        assertAccounting();
    }
}
