// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Fixture} from "../utils/Fixture.sol";
import {Handler} from "./Handler.sol";

contract InvariantsTest is Fixture {
    Handler internal handler;
    uint256[] internal actorPks;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < 4; ++i) {
            actorPks.push(pks[i]);
        }
        handler = new Handler(IERC20(address(token)), sm, rm, coordinator, arbiter, funder, actorPks);
        vm.prank(coordinator);
        rm.postBond(5_000e18);
        vm.prank(funder);
        rm.fundRewardPool(20_000e18);
        targetContract(address(handler));
        bytes4[] memory sel = new bytes4[](13);
        sel[0] = Handler.stake.selector;
        sel[1] = Handler.unbond.selector;
        sel[2] = Handler.withdraw.selector;
        sel[3] = Handler.warp.selector;
        sel[4] = Handler.fund.selector;
        sel[5] = Handler.open.selector;
        sel[6] = Handler.finalize.selector;
        sel[7] = Handler.disputeSlash.selector;
        sel[8] = Handler.disputeResult.selector;
        sel[9] = Handler.resolve.selector;
        sel[10] = Handler.settle.selector;
        sel[11] = Handler.expire.selector;
        sel[12] = Handler.claim.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: sel}));
    }

    /// @notice All protocol invariants, checked after every handler call in one campaign (256 runs x 500
    ///         calls in CI). One campaign instead of five keeps `forge test` within its time budget.
    function invariant_protocol() public view {
        _accountingToTheWei();
        _noRewardClaimedTwice();
        _noSlashAboveStake();
        _finalizedRoundNeverChanges();
        _unbondingStakeStillSlashable();
    }

    /// @dev token balance == stakes (incl. unbonding) + locked slashes + bonds + pool + escrowed budgets
    ///      + unclaimed settled rewards + dispute deposits, to the wei (escrow from the handler's ghost model).
    function _accountingToTheWei() internal view {
        assertEq(
            token.balanceOf(address(rm)),
            rm.totalBonds() + rm.rewardPool() + handler.ghostEscrow() + rm.totalDisputeDeposits(),
            "rm"
        );
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "sm");
        uint256 perActor;
        for (uint256 i; i < 4; ++i) {
            perActor += sm.slashableStake(handler.actors(i));
        }
        assertEq(perActor, sm.totalStaked(), "sum of stakes");
    }

    function _noRewardClaimedTwice() internal view {
        assertEq(handler.ghostDoubleClaims(), 0, "double claim");
        assertEq(handler.ghostClaimAboveTotal(), 0, "claimed above declared total / budget");
    }

    function _noSlashAboveStake() internal view {
        assertEq(handler.ghostSlashAboveStake(), 0, "slash above stake");
    }

    /// @dev Checked by the handler on every call that touches a finalized round, plus the latest one here.
    function _finalizedRoundNeverChanges() internal view {
        assertEq(handler.ghostFinalizedMutations(), 0, "finalized round changed");
        uint256 n = handler.finalizedCount();
        if (n != 0) {
            uint256 id = handler.finalizedRounds(n - 1);
            assertEq(handler.fingerprint(id), handler.fingerprintAtFinalize(id), "latest finalized round changed");
        }
    }

    function _unbondingStakeStillSlashable() internal view {
        assertEq(handler.ghostUnbondingNotSlashed(), 0, "unbonding escaped a slash");
    }

    /// @notice Full O(rounds) cross-check of the ghost escrow against the contract's rounds, once per run.
    function afterInvariant() public view {
        assertEq(roundEscrow(), handler.ghostEscrow(), "escrow ghost");
        for (uint256 i; i < handler.finalizedCount(); ++i) {
            uint256 id = handler.finalizedRounds(i);
            assertEq(handler.fingerprint(id), handler.fingerprintAtFinalize(id), "finalized round changed");
        }
        log("handler calls", handler.calls());
        log("rounds opened", rm.roundCount());
        log("rounds finalized", handler.finalizedCount());
        log("disputes", rm.disputeCount());
        log("slashes taken from unbonding", handler.ghostUnbondingSlashes());
    }
}
