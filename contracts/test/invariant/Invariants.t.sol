// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Fixture} from "../utils/Fixture.sol";
import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {Handler} from "./Handler.sol";

/// @notice The invariant campaign: a Handler drives the whole protocol (see Handler) with an independent ghost
///         model, and after every call the protocol must conserve every token to the wei, pay exactly the actors
///         the model says, and agree with the model; after every run each action must have happened.
contract InvariantsTest is Fixture {
    Handler internal handler;
    address internal coordB = makeAddr("coordinator B");
    address internal disputer = makeAddr("disputer");

    string[] internal actorNames;

    function setUp() public override {
        super.setUp();
        token.transfer(coordB, 100_000e18);
        token.transfer(disputer, 10_000e18);
        vm.prank(coordB);
        token.approve(address(rm), type(uint256).max);
        vm.prank(disputer);
        token.approve(address(rm), type(uint256).max);
        vm.startPrank(admin);
        rm.grantRole(rm.COORDINATOR_ROLE(), coordB);
        // the second coordinator is also an arbiter: it may decide the first coordinator's disputes, never its own
        rm.grantRole(rm.ARBITER_ROLE(), coordB);
        vm.stopPrank();
        vm.prank(coordinator);
        rm.postBond(5_000e18);
        vm.prank(coordB);
        rm.postBond(5_000e18);
        vm.prank(funder);
        rm.fundRewardPool(20_000e18);

        uint256[] memory ps = new uint256[](5);
        for (uint256 i; i < 5; ++i) {
            ps[i] = pks[i];
            actorNames.push(string(abi.encodePacked("participant ", bytes1(uint8(48 + i)))));
        }
        actorNames.push("coordinator A");
        actorNames.push("coordinator B");
        actorNames.push("arbiter");
        actorNames.push("pauser");
        actorNames.push("admin");
        actorNames.push("funder");
        actorNames.push("treasury");
        actorNames.push("disputer");
        actorNames.push("stranger");
        handler = new Handler(
            Handler.Setup({
                token: IERC20(address(token)),
                sm: IStakeManager(address(sm)),
                rm: rm,
                coordA: coordinator,
                coordB: coordB,
                arbiter: arbiter,
                pauser: pauser,
                admin: admin,
                funder: funder,
                treasury: treasury,
                disputer: disputer,
                stranger: stranger
            }),
            ps
        );
        require(handler.actorCount() == actorNames.length, "actor names");

        targetContract(address(handler));
        // weights: a selector listed k times is picked k times as often (the round lifecycle needs finalize,
        // disputes and settlement often enough to reach their later steps within one run)
        bytes4[] memory sel = new bytes4[](36);
        sel[0] = Handler.stake.selector;
        sel[1] = Handler.topUp.selector;
        sel[2] = Handler.requestUnbond.selector;
        sel[3] = Handler.withdraw.selector;
        sel[4] = Handler.postBond.selector;
        sel[5] = Handler.withdrawBond.selector;
        sel[6] = Handler.fund.selector;
        sel[7] = Handler.open.selector;
        sel[8] = Handler.open.selector;
        sel[9] = Handler.finalize.selector;
        sel[10] = Handler.finalize.selector;
        sel[11] = Handler.finalize.selector;
        sel[12] = Handler.settle.selector;
        sel[13] = Handler.settle.selector;
        sel[14] = Handler.expire.selector;
        sel[15] = Handler.cancel.selector;
        sel[16] = Handler.disputeSlash.selector;
        sel[17] = Handler.disputeSlash.selector;
        sel[18] = Handler.disputeResult.selector;
        sel[19] = Handler.resolve.selector;
        sel[20] = Handler.resolve.selector;
        sel[21] = Handler.timeout.selector;
        sel[22] = Handler.timeout.selector;
        sel[23] = Handler.claim.selector;
        sel[24] = Handler.claim.selector;
        sel[25] = Handler.claimTreasury.selector;
        sel[26] = Handler.pause.selector;
        sel[27] = Handler.unpause.selector;
        sel[28] = Handler.unpause.selector;
        sel[29] = Handler.warp.selector;
        sel[30] = Handler.hostile.selector;
        sel[31] = Handler.hostile.selector;
        sel[32] = Handler.withdraw.selector;
        sel[33] = Handler.expire.selector;
        sel[34] = Handler.disputeSlash.selector;
        sel[35] = Handler.claimTreasury.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: sel}));
    }

    /// @notice Every protocol invariant, after every handler call (one campaign: each invariant_ function
    ///         would run a campaign of its own).
    /// forge-config: default.invariant.runs = 12
    /// forge-config: default.invariant.depth = 1000
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_protocol() public view {
        _conservation();
        _whoGetsPaid();
        _ghostModel();
    }

    /// @dev RoundManager balance == totalBonds + rewardPool + Σ unsettled budgets + Σ unclaimed settled rewards
    ///      + totalDisputeDeposits + treasuryOwed, to the wei (budgets and rewards read from the rounds; claims
    ///      counted by the handler). StakeManager balance == totalStaked + totalLocked; Σ stakes == totalStaked;
    ///      per staker Σ unbond requests == unbonding; totalLocked == Σ slashes of finalized, unsettled rounds.
    function _conservation() internal view {
        uint256 budgets;
        uint256 unclaimed;
        uint256 locked;
        uint256 n = rm.roundCount();
        for (uint256 id = 1; id <= n; ++id) {
            IRoundManager.Round memory r = rm.getRound(id);
            if (r.status == IRoundManager.RoundStatus.Open) {
                budgets += r.rewardBudget;
            } else if (r.status == IRoundManager.RoundStatus.Finalized) {
                budgets += r.rewardBudget;
                locked += r.slashedTotal;
            } else if (r.status == IRoundManager.RoundStatus.Settled && !r.resultVoided) {
                unclaimed += r.totalRewards - handler.roundClaimed(id);
            }
        }
        assertEq(
            token.balanceOf(address(rm)),
            rm.totalBonds() + rm.rewardPool() + budgets + unclaimed + rm.totalDisputeDeposits() + rm.treasuryOwed(),
            "RoundManager conservation"
        );
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "StakeManager conservation");
        assertEq(sm.totalLocked(), locked, "totalLocked == slashes of finalized rounds");
        uint256 staked;
        for (uint256 i; i < 5; ++i) {
            address a = handler.parts(i);
            IStakeManager.StakeInfo memory info = sm.stakeOf(a);
            staked += uint256(info.active) + info.unbonding;
            IStakeManager.UnbondRequest[] memory reqs = sm.unbondRequests(a);
            uint256 queued;
            for (uint256 k; k < reqs.length; ++k) {
                queued += reqs[k].amount;
            }
            assertEq(queued, info.unbonding, "sum of unbond requests == unbonding");
            // the ghost model of the same staker: active stake and the exact unbond queue
            (uint256 active, uint256 unbonding, Handler.Req[] memory g) = handler.stakerGhost(a);
            assertEq(info.active, active, "ghost: active stake");
            assertEq(info.unbonding, unbonding, "ghost: unbonding stake");
            assertEq(reqs.length, g.length, "ghost: unbond request count");
            for (uint256 k; k < reqs.length; ++k) {
                assertEq(reqs[k].amount, g[k].amount, "ghost: unbond request amount");
                assertEq(reqs[k].releaseAt, g[k].releaseAt, "ghost: unbond request release time");
            }
        }
        assertEq(staked, sm.totalStaked(), "sum of stakes == totalStaked");
    }

    /// @dev Who gets paid: every actor's token balance is what the handler's ghost says, to the wei.
    function _whoGetsPaid() internal view {
        (address[] memory who, uint256[] memory expected) = handler.expectedBalances();
        for (uint256 i; i < who.length; ++i) {
            if (token.balanceOf(who[i]) != expected[i]) {
                assertEq(
                    token.balanceOf(who[i]),
                    expected[i],
                    string(abi.encodePacked("who gets paid: balance of ", _name(i)))
                );
            }
        }
    }

    function _name(uint256 i) internal view returns (string memory) {
        if (i < actorNames.length) return actorNames[i];
        return i == actorNames.length ? "RoundManager" : "StakeManager";
    }

    /// @dev The contracts' books agree with the ghost model: pool, bonds, locked budgets, treasury due, dispute
    ///      deposits, counters, pause state and stake totals.
    function _ghostModel() internal view {
        Handler.Books memory g = handler.books();
        assertEq(rm.rewardPool(), g.pool, "ghost: reward pool");
        assertEq(rm.treasuryOwed(), g.treasuryOwed, "ghost: treasury owed");
        assertEq(rm.totalDisputeDeposits(), g.deposits, "ghost: dispute deposits");
        assertEq(rm.roundCount(), g.roundCount, "ghost: round count");
        assertEq(rm.activeRounds(), g.activeRounds, "ghost: active rounds");
        assertEq(rm.disputeCount(), g.disputeCount, "ghost: dispute count");
        assertEq(rm.paused(), g.paused, "ghost: paused");
        assertEq(sm.paused(), g.paused, "ghost: paused (StakeManager)");
        assertEq(sm.totalStaked(), g.totalStaked, "ghost: totalStaked");
        assertEq(sm.totalLocked(), g.totalLocked, "ghost: totalLocked");
        uint256 bonds;
        address[2] memory cs = [coordinator, coordB];
        for (uint256 i; i < 2; ++i) {
            (uint256 bond, uint256 openRounds, uint256 lockedBudget) = rm.coordinatorInfo(cs[i]);
            assertEq(bond, g.bond[i], "ghost: coordinator bond");
            assertEq(openRounds, g.openRounds[i], "ghost: coordinator open rounds");
            assertEq(lockedBudget, g.lockedBudget[i], "ghost: coordinator locked budget");
            bonds += bond;
        }
        assertEq(rm.totalBonds(), bonds, "ghost: totalBonds == sum of bonds");
    }

    /// @notice After each run: every round, dispute and slash state agrees with the ghost, and every action
    ///         happened (a handler whose calls all revert, or never reach their target, fails here).
    function afterInvariant() public view {
        uint256 n = rm.roundCount();
        for (uint256 id = 1; id <= n; ++id) {
            IRoundManager.Round memory r = rm.getRound(id);
            (IRoundManager.RoundStatus status, uint256 slashed, bool voided, uint256 totalRewards, uint256 budget) =
                handler.roundGhost(id);
            assertEq(uint256(r.status), uint256(status), "ghost: round status");
            assertEq(r.slashedTotal, slashed, "ghost: round slashedTotal");
            assertEq(r.resultVoided, voided, "ghost: round voided");
            assertEq(r.totalRewards, totalRewards, "ghost: round totalRewards");
            assertEq(r.rewardBudget, budget, "ghost: round budget");
        }
        uint256 d = rm.disputeCount();
        for (uint256 id = 1; id <= d; ++id) {
            IRoundManager.Dispute memory x = rm.getDispute(id);
            assertEq(uint256(x.status), uint256(handler.disputeGhost(id)), "ghost: dispute status");
            if (x.kind == IRoundManager.DisputeKind.Slash) {
                assertEq(
                    uint256(rm.slashState(x.roundId, x.participant)),
                    uint256(handler.slashStateGhost(x.roundId, x.participant)),
                    "ghost: slash state"
                );
            }
        }
        _minimumCalls();
    }

    /// @dev Every handler action (selector) must have had a minimum number of calls with the predicted
    ///      successful outcome in the run (hostile: with the predicted revert), so a handler whose calls all revert
    ///      or never reach their target fails the campaign. The minimums are at most half the fewest seen in 100
    ///      runs of 1,000 calls (at least 1); the per-kind counts are logged (shown with -vv).
    function _minimumCalls() internal view {
        uint256 count = uint256(Handler.Act.Count);
        uint256[] memory d = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            d[i] = handler.done(i);
            log(_actName(i), d[i]);
        }
        _atLeast("stake", _sum(d, Handler.Act.Stake, Handler.Act.Stake), 3);
        _atLeast("topUp", _sum(d, Handler.Act.TopUp, Handler.Act.TopUp), 2);
        _atLeast("requestUnbond", _sum(d, Handler.Act.Unbond, Handler.Act.Unbond), 2);
        _atLeast("withdraw", _sum(d, Handler.Act.Withdraw, Handler.Act.WithdrawAfterWarp), 1);
        _atLeast("postBond", _sum(d, Handler.Act.PostBond, Handler.Act.PostBond), 5);
        _atLeast("withdrawBond", _sum(d, Handler.Act.WithdrawBond, Handler.Act.WithdrawBond), 2);
        _atLeast("fund", _sum(d, Handler.Act.Fund, Handler.Act.Fund), 5);
        _atLeast("open", _sum(d, Handler.Act.Open, Handler.Act.OpenBySecondCoordinator), 8);
        _atLeast("finalize", _sum(d, Handler.Act.Finalize, Handler.Act.Finalize), 7);
        _atLeast("settle", _sum(d, Handler.Act.Settle, Handler.Act.SettleWithSlashes), 3);
        _atLeast("expire", _sum(d, Handler.Act.Expire, Handler.Act.Expire), 2);
        _atLeast("cancel", _sum(d, Handler.Act.CancelOpen, Handler.Act.CancelFinalized), 1);
        _atLeast("disputeSlash", _sum(d, Handler.Act.DisputeSlash, Handler.Act.DisputeSlash), 1);
        _atLeast("disputeResult", _sum(d, Handler.Act.DisputeResult, Handler.Act.DisputeResult), 1);
        _atLeast("resolve", _sum(d, Handler.Act.ResolveUpholdSlash, Handler.Act.ResolveReject), 1);
        _atLeast("timeout", _sum(d, Handler.Act.TimeoutSlash, Handler.Act.TimeoutRefund), 1);
        _atLeast("claim", _sum(d, Handler.Act.Claim, Handler.Act.Claim), 3);
        _atLeast("claimTreasury", _sum(d, Handler.Act.ClaimTreasury, Handler.Act.ClaimTreasury), 1);
        _atLeast("pause", _sum(d, Handler.Act.Pause, Handler.Act.Pause), 20);
        _atLeast("unpause", _sum(d, Handler.Act.Unpause, Handler.Act.Unpause), 20);
        _atLeast("warp", _sum(d, Handler.Act.Warp, Handler.Act.Warp), 5);
        _atLeast("hostile", _sum(d, Handler.Act.RevertStrangerFinalize, Handler.Act.RevertDirectStakeHook), 20);
    }

    function _sum(uint256[] memory d, Handler.Act from, Handler.Act to) internal pure returns (uint256 t) {
        for (uint256 i = uint256(from); i <= uint256(to); ++i) {
            t += d[i];
        }
    }

    function _atLeast(string memory action, uint256 got, uint256 min) internal pure {
        assertGe(got, min, string(abi.encodePacked("too few successful calls: ", action)));
    }

    function _actName(uint256 i) internal pure returns (string memory) {
        string[47] memory names = [
            "Stake",
            "TopUp",
            "Unbond",
            "Withdraw",
            "WithdrawAfterWarp",
            "PostBond",
            "WithdrawBond",
            "Fund",
            "Open",
            "OpenBySecondCoordinator",
            "Finalize",
            "FinalizeJudgedSlash",
            "FinalizeNullUpdate",
            "FinalizeEquivocation",
            "FinalizeMalformed",
            "FinalizeRogueLeaf",
            "Settle",
            "SettleWithSlashes",
            "Expire",
            "CancelOpen",
            "CancelFinalized",
            "DisputeSlash",
            "DisputeResult",
            "ResolveUpholdSlash",
            "ResolveUpholdResult",
            "ResolveReject",
            "TimeoutSlash",
            "TimeoutResult",
            "TimeoutRefund",
            "Claim",
            "ClaimTreasury",
            "Pause",
            "Unpause",
            "Warp",
            "RevertStaleOpenId",
            "RevertWhilePaused",
            "RevertStrangerFinalize",
            "RevertWrongCoordinator",
            "RevertRevokedCoordinator",
            "RevertArbiterIsCoordinator",
            "RevertUnselectedClaim",
            "RevertStranger",
            "RevertBadFaultProof",
            "RevertNotYourSlash",
            "RevertProvenSlashDispute",
            "RevertDirectStakeHook",
            "RevertOutOfOrder"
        ];
        return names[i];
    }
}
