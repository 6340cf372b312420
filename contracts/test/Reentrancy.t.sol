// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IRM} from "./utils/IRM.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {ReentrantToken} from "./mocks/MockTokens.sol";
import {SumTrees} from "./utils/SumTrees.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice Stakes, then re-enters the contracts from inside the token's transfer.
contract Attacker {
    StakeManager internal sm;
    IRM internal rm;
    IERC20 internal tok;

    constructor(StakeManager sm_, IRM rm_, IERC20 tok_) {
        sm = sm_;
        rm = rm_;
        tok = tok_;
        tok_.approve(address(sm_), type(uint256).max);
        tok_.approve(address(rm_), type(uint256).max);
    }

    function stakeAndUnbond(uint256 amount) external {
        sm.stake(amount);
        sm.requestUnbond(amount);
    }

    function withdraw() external returns (uint256) {
        return sm.withdraw();
    }

    function bondAndWithdraw(uint256 amount) external {
        rm.postBond(amount);
        rm.withdrawBond(amount / 2);
    }

    function reenterWithdraw() external {
        sm.withdraw();
    }

    function reenterWithdrawBond(uint256 amount) external {
        rm.withdrawBond(amount);
    }
}

contract ReentrancyTest is Fixture {
    ReentrantToken internal evil;
    StakeManager internal esm;
    IRM internal erm;
    Attacker internal attacker;

    function setUp() public override {
        super.setUp();
        evil = new ReentrantToken();
        (esm, erm,) = deploySystem(IERC20(address(evil)));
        attacker = new Attacker(esm, erm, IERC20(address(evil)));
        evil.transfer(address(attacker), 10_000e18);
        // an honest staker whose funds the attacker would drain
        evil.transfer(parts[0], 1_000e18);
        vm.startPrank(parts[0]);
        evil.approve(address(esm), type(uint256).max);
        esm.stake(1_000e18);
        vm.stopPrank();
    }

    function test_reentrantWithdraw_isBlocked() public {
        attacker.stakeAndUnbond(500e18);
        vm.warp(block.timestamp + UNBONDING);
        evil.arm(address(attacker), abi.encodeCall(Attacker.reenterWithdraw, ()));
        uint256 before = evil.balanceOf(address(attacker));
        attacker.withdraw();
        assertFalse(evil.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(evil.lastRevertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "guard reverted"
        );
        assertEq(evil.balanceOf(address(attacker)), before + 500e18, "paid once");
        assertEq(evil.balanceOf(address(esm)), 1_000e18, "honest stake intact");
        assertEq(evil.balanceOf(address(esm)), esm.totalStaked() + esm.totalLocked(), "accounting");
    }

    function test_reentrantWithdrawBond_isBlocked() public {
        evil.arm(address(attacker), abi.encodeCall(Attacker.reenterWithdrawBond, (100e18)));
        attacker.bondAndWithdraw(400e18); // the postBond transfer re-enters withdrawBond
        assertFalse(evil.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(evil.lastRevertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "guard reverted"
        );
        (uint256 bond,,) = erm.coordinatorInfo(address(attacker));
        assertEq(bond, 200e18, "bond");
        assertEq(evil.balanceOf(address(erm)), erm.totalBonds() + erm.rewardPool(), "accounting");
    }

    function test_reentrantClaim_isBlocked() public {
        // a claim's payout transfer re-enters claim for the same leaf
        bytes32 role = erm.COORDINATOR_ROLE();
        vm.prank(admin);
        erm.grantRole(role, address(this));
        evil.approve(address(erm), type(uint256).max);
        erm.postBond(MIN_BOND);
        erm.fundRewardPool(100e18);
        address[] memory who = new address[](1);
        who[0] = address(attacker);
        IRoundManager.RoundParams memory p = paramsFor(1, who);
        erm.openRound(1, p, 1, 100e18, uint40(block.timestamp + 1 days));
        bytes32 uh = keccak256("u");
        bytes32 leaf = P.resultLeaf(1, address(attacker), uh, 1, 60e18);
        IRoundManager.RoundResult memory res = emptyResult();
        res.resultsRoot = leaf;
        res.totalRewards = 60e18;
        erm.finalizeRound(1, p, res, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        erm.settleRound(1);
        bytes memory call = abi.encodeCall(
            IRoundManager.claim, (1, address(attacker), uh, 1, 60e18, p, new bytes32[](0), SumTrees.single())
        );
        evil.arm(address(erm), call);
        (bool ok,) = address(erm).call(call);
        assertTrue(ok, "outer claim");
        assertFalse(evil.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(evil.lastRevertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "guard reverted"
        );
        assertTrue(erm.isClaimed(1, address(attacker)), "claimed");
        assertEq(evil.balanceOf(address(attacker)), 10_000e18 + 60e18, "paid once");
    }

    function test_reentrantTimeoutDispute_isBlocked() public {
        // the deposit refund of a timed-out result dispute re-enters timeoutDispute for the same dispute
        bytes32 role = erm.COORDINATOR_ROLE();
        vm.prank(admin);
        erm.grantRole(role, address(this));
        evil.approve(address(erm), type(uint256).max);
        erm.postBond(MIN_BOND);
        address[] memory who = new address[](1);
        who[0] = address(attacker);
        IRoundManager.RoundParams memory p = paramsFor(1, who);
        erm.openRound(1, p, 1, 0, uint40(block.timestamp + 1 days));
        erm.finalizeRound(1, p, emptyResult(), noSlashes());
        uint256 d = erm.disputeResult(1, MIN_DEPOSIT, 0);
        vm.warp(erm.getRound(1).disputeDeadline + 1);
        uint256 before = evil.balanceOf(address(this));
        evil.arm(address(erm), abi.encodeCall(IRoundManager.timeoutDispute, (d)));
        erm.timeoutDispute(d);
        assertFalse(evil.lastCallSucceeded(), "re-entry failed");
        assertEq(
            keccak256(evil.lastRevertData()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "guard reverted"
        );
        assertEq(evil.balanceOf(address(this)), before + MIN_DEPOSIT, "refunded once");
        assertEq(evil.balanceOf(address(erm)), erm.totalBonds() + erm.rewardPool() + erm.totalDisputeDeposits(), "accounting");
    }
}
