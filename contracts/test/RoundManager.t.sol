// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {SumTrees} from "./utils/SumTrees.sol";
import {UpdateTree} from "./utils/UpdateTree.sol";
import {IRM} from "./utils/IRM.sol";
import {GovTimelockHelpers} from "./mocks/GovMocks.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {FedstakeBase} from "../src/FedstakeBase.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";
import {SumTree} from "../src/libraries/SumTree.sol";

/// @notice RoundManagerSlashing's entry points (the test does not import RoundManager.sol: it compiles via IR).
interface IRoundManagerSlashing {
    error OnlyDelegateCall();

    function timeoutDispute(uint256 disputeId) external;
    function cancelRound(uint256 roundId, IRoundManager.SlashEntry[] calldata slashes) external;
}

/// @notice An ERC-20 that refuses transfers to blocked addresses (a blacklisting stablecoin).
contract BlocklistToken is ERC20 {
    mapping(address => bool) public blocked;

    constructor() ERC20("Block", "BLK") {
        _mint(msg.sender, 1e30);
    }

    function setBlocked(address a, bool b) external {
        blocked[a] = b;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blocked[to], "blocked");
        super._update(from, to, value);
    }
}

contract RoundManagerTest is Fixture, GovTimelockHelpers {
    uint96 internal constant BUDGET = 1_000e18;
    address internal coordinator2 = makeAddr("coordinator2");

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < NPK; ++i) {
            stakeAs(parts[i], 1_000e18);
        }
        bondAndFund();
    }

    function _rewards() internal pure returns (uint256[] memory r) {
        r = new uint256[](4);
        r[0] = 400e18;
        r[1] = 300e18;
        r[2] = 200e18;
        r[3] = 99e18; // 1e18 of the budget is not allocated and returns at settle
    }

    function _finalize(uint256 id, IRoundManager.RoundParams memory p, IRoundManager.SlashEvidence[] memory s)
        internal
    {
        IRoundManager.RoundResult memory res = resultOf(id, _rewards());
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, s);
    }

    function _oneSlash(uint256 id, IRoundManager.RoundParams memory p, uint256 who, uint16 bps)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(who, id, p, bps);
    }

    function _one(IRoundManager.SlashEvidence memory e) internal pure returns (IRoundManager.SlashEvidence[] memory s) {
        s = new IRoundManager.SlashEvidence[](1);
        s[0] = e;
    }

    function _tryFinalize(uint256 id, IRoundManager.RoundParams memory p, IRoundManager.SlashEvidence[] memory s)
        internal
    {
        IRoundManager.RoundResult memory res = emptyResult();
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, s);
    }

    function _addCoordinator(address who) internal {
        bytes32 role = rm.COORDINATOR_ROLE();
        vm.prank(admin);
        rm.grantRole(role, who);
        token.transfer(who, 10_000e18);
        vm.startPrank(who);
        token.approve(address(rm), type(uint256).max);
        rm.postBond(MIN_BOND);
        vm.stopPrank();
    }

    function _settled() internal returns (uint256 id) {
        IRoundManager.RoundParams memory p;
        (id, p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
    }

    // ---------------------------------------------------------------- initialize / config

    function test_initialize_state() public view {
        assertEq(rm.token(), address(token), "token");
        assertEq(rm.stakeManager(), address(sm), "sm");
        assertEq(rm.faultVerifier(), address(fv), "fault verifier");
        IRoundManager.Config memory c = rm.config();
        assertEq(c.minCoordinatorBond, MIN_BOND, "bond");
        assertEq(c.treasury, treasury, "treasury");
        assertEq(c.disputeWindow, DISPUTE_WINDOW, "dispute window");
        assertEq(c.budgetBondMultiple, BOND_MULTIPLE, "multiple");
        assertEq(rm.minUnbondingDelay(), uint64(MAX_ROUND) + WINDOW + DISPUTE_WINDOW, "minUnbonding");
        assertEq(rm.activeRounds(), 0, "active");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = rm.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("fedstake"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chain");
        assertEq(verifying, address(rm), "verifying = proxy");
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("fedstake"),
                keccak256("1"),
                block.chainid,
                address(rm)
            )
        );
        assertEq(rm.domainSeparator(), domain, "domain separator");
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        rm.initialize(admin, 0, IStakeManager(address(sm)), fv, defaultConfig());
    }

    function test_initialize_revertsZeroStakeManager() public {
        address impl = deployCode("RoundManager.sol:RoundManager");
        vm.expectRevert(IRoundManager.ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(IRM.initialize, (admin, 0, IStakeManager(address(0)), fv, defaultConfig())));
    }

    function test_initialize_revertsZeroFaultVerifier() public {
        address impl = deployCode("RoundManager.sol:RoundManager");
        vm.expectRevert(IRoundManager.ZeroAddress.selector);
        new ERC1967Proxy(
            impl,
            abi.encodeCall(IRM.initialize, (admin, 0, IStakeManager(address(sm)), IFaultVerifier(address(0)), defaultConfig()))
        );
    }

    function test_slashingCode_refusesDirectCalls() public {
        // the implementation deployed RoundManagerSlashing with its first CREATE (nonce 1)
        address impl = _implOf(address(rm));
        address slashing = address(uint160(uint256(keccak256(abi.encodePacked(bytes2(0xd694), impl, bytes1(0x01))))));
        assertTrue(slashing.code.length != 0, "deployed by the implementation");
        vm.expectRevert(IRoundManagerSlashing.OnlyDelegateCall.selector);
        IRoundManagerSlashing(slashing).timeoutDispute(1);
        vm.expectRevert(IRoundManagerSlashing.OnlyDelegateCall.selector);
        IRoundManagerSlashing(slashing).cancelRound(1, noEntries());
    }

    function test_setConfig_updates() public {
        IRoundManager.Config memory c = defaultConfig();
        c.slashPoolBps = 0;
        vm.prank(admin);
        vm.expectEmit(false, false, false, true, address(rm));
        emit IRoundManager.ConfigUpdated(c);
        rm.setConfig(c);
        assertEq(rm.config().slashPoolBps, 0, "pool bps");
    }

    function test_setConfig_revertsNonAdmin() public {
        IRoundManager.Config memory c = defaultConfig();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        rm.setConfig(c);
    }

    function test_setConfig_revertsZeroTreasury() public {
        IRoundManager.Config memory c = defaultConfig();
        c.treasury = address(0);
        vm.prank(admin);
        vm.expectRevert(IRoundManager.ZeroAddress.selector);
        rm.setConfig(c);
    }

    function _expectInvalid(IRoundManager.Config memory c) internal {
        vm.prank(admin);
        vm.expectRevert(IRoundManager.InvalidConfig.selector);
        rm.setConfig(c);
    }

    function test_setConfig_revertsInvalid() public {
        IRoundManager.Config memory c = defaultConfig();
        c.maxJudgedSlashBps = 0;
        _expectInvalid(c);
        c.maxJudgedSlashBps = 10_001;
        _expectInvalid(c);
        c = defaultConfig();
        c.provableSlashBps = 0;
        _expectInvalid(c);
        c.provableSlashBps = 10_001;
        _expectInvalid(c);
        c = defaultConfig();
        c.slashPoolBps = 10_001;
        _expectInvalid(c);
        c = defaultConfig();
        c.timeoutCompensationBps = 10_001;
        _expectInvalid(c);
        c = defaultConfig();
        c.maxRoundDuration = 0;
        _expectInvalid(c);
        c = defaultConfig();
        c.budgetBondMultiple = 0;
        _expectInvalid(c);
    }

    function test_setConfig_revertsUnbondingTooShort() public {
        IRoundManager.Config memory c = defaultConfig();
        // round + challenge + dispute window == the unbonding delay: not strictly shorter
        c.disputeWindow = uint40(UNBONDING) - MAX_ROUND - WINDOW;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.UnbondingDelayTooShort.selector, UNBONDING, UNBONDING + 1));
        rm.setConfig(c);
        c.disputeWindow -= 1;
        vm.prank(admin);
        rm.setConfig(c);
    }

    function test_setFaultVerifier_onlyThroughSlowTimelock() public {
        // the admin key alone cannot swap the verifier that decides undisputable slashes
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        rm.setFaultVerifier(address(0xF00D));
        address gov = makeAddr("gov");
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(rm), admin, tl, gov);
        _viaTimelock(tl, gov, address(rm), abi.encodeCall(IRoundManager.setFaultVerifier, (address(0xF00D))), 0);
        assertEq(rm.faultVerifier(), address(0xF00D), "swapped after the delay");
    }

    function test_setFaultVerifier_revertsFastTimelock() public {
        address gov = makeAddr("gov");
        TimelockController tl = _newTimelock(UNBONDING, gov); // not slower than unbonding
        _handAdmin(address(rm), admin, tl, gov);
        bytes memory call = abi.encodeCall(IRoundManager.setFaultVerifier, (address(0xF00D)));
        _schedule(tl, gov, address(rm), call, 0);
        vm.warp(block.timestamp + UNBONDING);
        vm.expectRevert(
            abi.encodeWithSelector(FedstakeBase.GovernanceDelayTooShort.selector, UNBONDING, uint256(UNBONDING) + 1)
        );
        _execute(tl, gov, address(rm), call, 0);
    }

    // ---------------------------------------------------------------- bonds and pool

    function test_postBond_andWithdraw() public {
        (uint256 bond, uint256 open, uint256 locked) = rm.coordinatorInfo(coordinator);
        assertEq(bond, MIN_BOND * 2, "bond");
        assertEq(open, 0, "open");
        assertEq(locked, 0, "locked budget");
        vm.prank(coordinator);
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.BondWithdrawn(coordinator, MIN_BOND, MIN_BOND);
        rm.withdrawBond(MIN_BOND);
        assertEq(rm.totalBonds(), MIN_BOND, "total");
        assertAccounting();
    }

    function test_postBond_revertsZero() public {
        vm.prank(coordinator);
        vm.expectRevert(IRoundManager.ZeroAmount.selector);
        rm.postBond(0);
    }

    function test_postBond_revertsPaused() public {
        vm.prank(pauser);
        rm.pause();
        vm.prank(coordinator);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        rm.postBond(1);
    }

    function test_withdrawBond_revertsZero() public {
        vm.prank(coordinator);
        vm.expectRevert(IRoundManager.ZeroAmount.selector);
        rm.withdrawBond(0);
    }

    function test_withdrawBond_revertsAboveBond() public {
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InsufficientBondBalance.selector, MIN_BOND * 2, MIN_BOND * 2 + 1)
        );
        rm.withdrawBond(MIN_BOND * 2 + 1);
    }

    function test_withdrawBond_revertsWithOpenRound() public {
        openWith(BUDGET);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.BondLocked.selector, 1));
        rm.withdrawBond(1);
    }

    function test_withdrawBond_worksWhenPaused() public {
        vm.prank(pauser);
        rm.pause();
        vm.prank(coordinator);
        rm.withdrawBond(1);
    }

    function test_fundRewardPool() public {
        uint256 before = rm.rewardPool();
        vm.prank(funder);
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RewardPoolFunded(funder, 5, before + 5);
        rm.fundRewardPool(5);
        assertEq(rm.rewardPool(), before + 5, "pool");
    }

    function test_fundRewardPool_revertsZero() public {
        vm.expectRevert(IRoundManager.ZeroAmount.selector);
        rm.fundRewardPool(0);
    }

    // ---------------------------------------------------------------- open

    function test_openRound_storesAndEmits() public {
        uint256 pool = rm.rewardPool();
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        uint40 deadline = uint40(block.timestamp + 1 days);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.RoundOpened(
            1, coordinator, p.globalModelHash, p.configHash, p.participantsRoot, uint32(NPK), BUDGET, deadline
        );
        vm.prank(coordinator);
        assertEq(rm.openRound(1, p, uint32(NPK), BUDGET, deadline), 1, "id");
        IRoundManager.Round memory r = rm.getRound(1);
        assertEq(r.coordinator, coordinator, "coord");
        assertEq(r.rewardBudget, BUDGET, "budget");
        assertTrue(r.status == IRoundManager.RoundStatus.Open, "status");
        assertEq(r.participantCount, NPK, "count");
        assertEq(r.finalizeDeadline, deadline, "deadline");
        assertEq(r.paramsHash, keccak256(abi.encode(p)), "params hash");
        assertEq(rm.rewardPool(), pool - BUDGET, "pool debited");
        assertEq(rm.roundCount(), 1, "count");
        assertEq(rm.activeRounds(), 1, "active");
        (, uint256 open, uint256 locked) = rm.coordinatorInfo(coordinator);
        assertEq(open, 1, "open rounds");
        assertEq(locked, BUDGET, "locked budget");
        assertAccounting();
    }

    function test_openRound_revertsNotCoordinator() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        bytes32 role = rm.COORDINATOR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rm.openRound(1, p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsPaused() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(pauser);
        rm.pause();
        vm.prank(coordinator);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        rm.openRound(1, p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsEmptySet() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(coordinator);
        vm.expectRevert(IRoundManager.EmptyParticipantSet.selector);
        rm.openRound(1, p, 0, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsDeadline() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        uint256 latest = block.timestamp + MAX_ROUND;
        vm.startPrank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidDeadline.selector, block.timestamp, latest));
        rm.openRound(1, p, 1, 0, uint40(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidDeadline.selector, latest + 1, latest));
        rm.openRound(1, p, 1, 0, uint40(latest + 1));
        vm.stopPrank();
    }

    function test_openRound_revertsBond() public {
        vm.prank(coordinator);
        rm.withdrawBond(MIN_BOND + 1);
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InsufficientBond.selector, MIN_BOND - 1, MIN_BOND));
        rm.openRound(1, p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsPool() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        uint256 pool = rm.rewardPool();
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InsufficientRewardPool.selector, pool, pool + 1));
        rm.openRound(1, p, 1, uint96(pool + 1), uint40(block.timestamp + 1));
    }

    /// @dev Finding: two coordinators opening at once left the loser's participant root built for the wrong round
    ///      id. openRound now takes the id the root was built for and refuses any other.
    function test_openRound_staleExpectedIdReverts() public {
        _addCoordinator(coordinator2);
        IRoundManager.RoundParams memory p1 = paramsFor(1, parts); // both built their set for round 1
        vm.prank(coordinator2);
        rm.openRound(1, p1, uint32(NPK), 0, uint40(block.timestamp + 1 days));
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.UnexpectedRoundId.selector, 1, 2));
        rm.openRound(1, p1, uint32(NPK), 0, uint40(block.timestamp + 1 days));
        // a future id is refused as well
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.UnexpectedRoundId.selector, 3, 2));
        rm.openRound(3, paramsFor(3, parts), uint32(NPK), 0, uint40(block.timestamp + 1 days));
        // rebuilt for round 2, the loser opens and its participants can be slashed with proofs for round 2
        (uint256 id, IRoundManager.RoundParams memory p2) = openWith(0);
        assertEq(id, 2, "round 2");
        _tryFinalize(id, p2, _oneSlash(id, p2, 3, 100));
        assertEq(sm.slashableStake(parts[3]), 990e18, "slashable in the round its root names");
    }

    /// @dev Finding: a coordinator's 1k bond did not bound the budget it could take. Budgets of unsettled rounds
    ///      are now at most bond × budgetBondMultiple.
    function test_openRound_budgetBoundedByBond() public {
        IRoundManager.Config memory c = defaultConfig();
        c.budgetBondMultiple = 1; // bond 2,000 → at most 2,000 of budgets at a time
        vm.prank(admin);
        rm.setConfig(c);
        (uint256 id,) = openWith(1_500e18);
        IRoundManager.RoundParams memory p = paramsFor(id + 1, parts);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.BudgetExceedsBond.selector, 600e18, 500e18));
        rm.openRound(id + 1, p, uint32(NPK), 600e18, uint40(block.timestamp + 1 days));
        openWith(500e18); // exactly up to the bound
        // expiring the first frees its share
        vm.warp(rm.getRound(id).finalizeDeadline + 1);
        rm.expireRound(id);
        (,, uint256 locked) = rm.coordinatorInfo(coordinator);
        assertEq(locked, 500e18, "freed");
        openWith(1_500e18);
        assertAccounting();
    }

    // ---------------------------------------------------------------- finalize

    function test_finalizeRound_storesAndEmits() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = _rewards();
        IRoundManager.RoundResult memory res = resultOf(id, r);
        uint40 cd = uint40(block.timestamp) + WINDOW;
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RoundFinalized(
            id,
            keccak256("agg"),
            res.resultsRoot,
            uint128(sum(r)),
            0,
            0,
            cd,
            cd + DISPUTE_WINDOW,
            res.decisionHash,
            res.artifactsURI
        );
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, noSlashes());
        IRoundManager.Round memory st = rm.getRound(id);
        assertTrue(st.status == IRoundManager.RoundStatus.Finalized, "status");
        assertEq(st.resultsRoot, res.resultsRoot, "root");
        assertEq(st.aggregateHash, keccak256("agg"), "agg");
        assertEq(st.totalRewards, sum(r), "total");
        assertEq(st.challengeDeadline, cd, "window");
        assertEq(st.disputeDeadline, cd + DISPUTE_WINDOW, "dispute deadline");
    }

    function test_finalizeRound_withSlashLocksStake() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 2, 2_500);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.ParticipantSlashed(id, parts[2], P.REASON_BYZANTINE, 2_500, 250e18, 0, 0, s[0].updateHash);
        _finalize(id, p, s);
        assertEq(sm.slashableStake(parts[2]), 750e18, "stake reduced");
        assertEq(sm.totalLocked(), 250e18, "locked");
        assertEq(sm.stakeOf(parts[2]).strikes, 1, "a judged slash is a strike");
        assertTrue(rm.slashState(id, parts[2]) == IRoundManager.SlashState.None, "undisputed");
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 250e18;
        assertEq(rm.getRound(id).slashesHash, slashesHashOf(entriesOf(s, amounts)), "slashes hash");
        assertEq(rm.getRound(id).slashedTotal, 250e18, "round total");
        assertAccounting();
    }

    function test_finalizeRound_revertsNotOpen() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, 1, IRoundManager.RoundStatus.None)
        );
        _tryFinalize(1, p, noSlashes());
    }

    function test_finalizeRound_revertsTwice() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Finalized)
        );
        _tryFinalize(id, p, noSlashes());
    }

    function test_finalizeRound_revertsNotRoundCoordinator() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _addCoordinator(coordinator2);
        IRoundManager.RoundResult memory res = emptyResult();
        vm.prank(coordinator2);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotRoundCoordinator.selector, coordinator2, coordinator));
        rm.finalizeRound(id, p, res, noSlashes());
    }

    function test_finalizeRound_revertsWithoutRole() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.RoundResult memory res = emptyResult();
        bytes32 role = rm.COORDINATOR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rm.finalizeRound(id, p, res, noSlashes());
    }

    /// @dev Finding: finalizeRound checked only the round's coordinator, so a revoked coordinator finalized a round
    ///      paying the whole budget to itself. It now needs COORDINATOR_ROLE at finalize time.
    function test_finalizeRound_revokedCoordinatorCannotFinalize() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32 role = rm.COORDINATOR_ROLE();
        vm.prank(admin);
        rm.revokeRole(role, coordinator);
        // a result paying the whole budget to the coordinator itself
        bytes32 leaf = P.resultLeaf(id, coordinator, bytes32(0), 0, BUDGET);
        IRoundManager.RoundResult memory res = emptyResult();
        res.resultsRoot = leaf;
        res.totalRewards = BUDGET;
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, coordinator, role)
        );
        rm.finalizeRound(id, p, res, noSlashes());
        // the guardian then cancels it: the budget goes back to the pool
        uint256 pool = rm.rewardPool();
        vm.prank(pauser);
        rm.cancelRound(id, noEntries());
        assertEq(rm.rewardPool(), pool + BUDGET, "budget back");
        assertAccounting();
    }

    /// @dev Finding: finalizeRound had no pause check. A paused RoundManager finalizes nothing.
    function test_finalizeRound_revertsPaused() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        vm.prank(pauser);
        rm.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        _tryFinalize(id, p, noSlashes());
        vm.prank(pauser);
        rm.unpause();
        _finalize(id, p, noSlashes());
    }

    function test_finalizeRound_revertsAfterDeadline() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256 d = rm.getRound(id).finalizeDeadline;
        vm.warp(d + 1);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.FinalizeDeadlinePassed.selector, d));
        _tryFinalize(id, p, noSlashes());
    }

    function test_finalizeRound_revertsParamsMismatch() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        p.configHash = keccak256("other config");
        vm.expectRevert(IRoundManager.RoundParamsMismatch.selector);
        _tryFinalize(id, p, noSlashes());
    }

    function test_finalizeRound_revertsAboveBudget() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.RoundResult memory res = emptyResult();
        res.totalRewards = BUDGET + 1;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RewardsExceedBudget.selector, BUDGET + 1, BUDGET));
        rm.finalizeRound(id, p, res, noSlashes());
    }

    function test_finalizeRound_revertsTooManySlashes() public {
        uint256 id = rm.roundCount() + 1;
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        vm.prank(coordinator);
        rm.openRound(id, p, 1, 0, uint40(block.timestamp + 1 days)); // declares one participant
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(1, id, p, 100);
        s[1] = evidence(2, id, p, 100);
        sortEvidence(s);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.TooManySlashes.selector, 2, 1));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsInvalidReason() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].reason = 0;
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashReason.selector, 0));
        _tryFinalize(id, p, s);
        s[0].reason = 9;
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashReason.selector, 9));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsJudgedBps() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashBps.selector, 0, MAX_SLASH_BPS));
        _tryFinalize(id, p, s);
        s[0].slashBps = MAX_SLASH_BPS + 1;
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashBps.selector, MAX_SLASH_BPS + 1, MAX_SLASH_BPS));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsJudgedWithFaultProof() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].faultProof = hex"00";
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.UnexpectedFaultProof.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsProvableBps() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence memory e =
            provableEvidence(1, id, p, P.REASON_NULL_UPDATE, p.globalModelHash, "");
        e.slashBps = PROVABLE_BPS - 1;
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashBps.selector, PROVABLE_BPS - 1, PROVABLE_BPS));
        _tryFinalize(id, p, _one(e));
    }

    function test_finalizeRound_revertsForgedSignature() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        // the coordinator signs in the participant's name with another key
        s[0].signature = sign(pks[3], id, p.globalModelHash, s[0].updateHash, 100);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsOtherUpdateHash() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].updateHash = keccak256("not what was signed");
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsMalformedSignature() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].signature = hex"1234";
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsHighS() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        bytes memory sig = s[0].signature;
        bytes32 r;
        bytes32 sv;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            sv := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        s[0].signature = abi.encodePacked(r, bytes32(n - uint256(sv)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsNotSelected() public {
        uint256 id = rm.roundCount() + 1;
        address[] memory some = new address[](3);
        some[0] = parts[0];
        some[1] = parts[1];
        some[2] = parts[2];
        IRoundManager.RoundParams memory p = paramsFor(id, some);
        vm.prank(coordinator);
        rm.openRound(id, p, 3, 0, uint40(block.timestamp + 1 days));
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(5, id, p, 100); // parts[5] signed but was not selected
        s[0].proof = Merkle.proof(participantLeaves(id, some), 0);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotSelected.selector, parts[5]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsDuplicateSlash() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(1, id, p, 100);
        s[1] = s[0];
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.SlashesNotSorted.selector, parts[1]));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_revertsUnsorted() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(1, id, p, 100);
        s[1] = evidence(2, id, p, 100);
        sortEvidence(s);
        (s[0], s[1]) = (s[1], s[0]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.SlashesNotSorted.selector, s[1].participant));
        _tryFinalize(id, p, s);
    }

    function test_finalizeRound_multipleSlashesSorted() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](3);
        s[0] = evidence(1, id, p, 100);
        s[1] = evidence(2, id, p, 200);
        s[2] = evidence(3, id, p, 300);
        sortEvidence(s);
        _finalize(id, p, s);
        assertEq(rm.getRound(id).slashedTotal, 60e18, "10 + 20 + 30");
        assertAccounting();
    }

    // ---------------------------------------------------------------- provable faults

    /// @dev Finding: the slash evidence proved only participation (every honest participant signs a commitment),
    ///      the reason code was not checked, and a coordinator could reward a participant's update and slash the
    ///      same participant for it. A provable reason now needs a proof the FaultVerifier accepts.
    function test_provable_needsProof_honestCommitmentIsNotEvidence() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](3);
        r[2] = 100e18; // parts[2]'s update is rewarded...
        bytes32 honest = updateHashOf(id, 2);
        // ...and "slashed" for it as malformed, with only its own honest signed commitment as evidence
        IRoundManager.SlashEvidence memory e = provableEvidence(2, id, p, P.REASON_MALFORMED, honest, "");
        IRoundManager.RoundResult memory res = resultOf(id, r);
        vm.prank(coordinator);
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        rm.finalizeRound(id, p, res, _one(e));
        // as a null update: the signed hash is not the global model's
        e.reason = P.REASON_NULL_UPDATE;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_NULL_UPDATE));
        rm.finalizeRound(id, p, res, _one(e));
        // as equivocation, "proven" by the same commitment again
        e.reason = P.REASON_EQUIVOCATION;
        e.faultProof = abi.encode(honest, uint64(100), sign(pks[2], id, p.globalModelHash, honest, 100));
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_EQUIVOCATION));
        rm.finalizeRound(id, p, res, _one(e));
        assertEq(sm.slashableStake(parts[2]), 1_000e18, "untouched");
    }

    /// @dev Same finding, judged side: a non-provable slash of a rewarded participant is only a judged one —
    ///      capped, pending, and disputable; unanswered, the default reverts it and pays from the bond.
    function test_judged_rewardAndSlashSameParticipant_isDisputable() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](3);
        r[2] = 100e18;
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 2, MAX_SLASH_BPS);
        IRoundManager.SlashEntry[] memory entries = finalizeRecording(id, p, resultOf(id, r), s);
        assertEq(entries[0].amount, 500e18, "capped at maxJudgedSlashBps");
        vm.prank(parts[2]);
        uint256 d = rm.disputeSlash(id, entries, 0, MIN_DEPOSIT, keccak256("I was rewarded for this very update"));
        // the arbiter never answers; after the dispute deadline the default applies
        vm.warp(rm.getRound(id).disputeDeadline + 1);
        uint256 before = token.balanceOf(parts[2]);
        rm.timeoutDispute(d);
        assertEq(sm.slashableStake(parts[2]), 1_000e18, "slash reverted");
        assertEq(token.balanceOf(parts[2]), before + MIN_DEPOSIT + 50e18, "deposit + 10 % of the slash from the bond");
        rm.settleRound(id);
        claimFor(id, 2, r);
        assertAccounting();
    }

    function test_provable_nullUpdate_slashesAndJails() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence memory e =
            provableEvidence(3, id, p, P.REASON_NULL_UPDATE, p.globalModelHash, "");
        IRoundManager.SlashEntry[] memory entries = finalizeRecording(id, p, emptyResult(), _one(e));
        assertEq(entries[0].amount, 500e18, "provableSlashBps");
        assertEq(sm.slashableStake(parts[3]), 500e18, "slashed");
        assertFalse(sm.isEligibleFor(parts[3], id + 1), "jailed");
        assertEq(sm.stakeOf(parts[3]).strikes, 0, "no strike for a provable fault");
        vm.prank(parts[3]);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ProvenSlash.selector, id, parts[3]));
        rm.disputeSlash(id, entries, 0, MIN_DEPOSIT, 0);
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        assertEq(rm.treasuryOwed(), 200e18, "40 % owed to the treasury");
        assertAccounting();
    }

    function test_provable_equivocation_slashes() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32 a = keccak256("update A");
        bytes32 b = keccak256("update B");
        bytes memory proof = abi.encode(b, uint64(100), sign(pks[4], id, p.globalModelHash, b, 100));
        IRoundManager.SlashEvidence memory e = provableEvidence(4, id, p, P.REASON_EQUIVOCATION, a, proof);
        _tryFinalize(id, p, _one(e));
        assertEq(sm.slashableStake(parts[4]), 500e18, "slashed");
        assertFalse(sm.isEligibleFor(parts[4], id + 1), "jailed");
    }

    function test_provable_equivocation_revertsForgedSecondSignature() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32 a = keccak256("update A");
        bytes32 b = keccak256("update B");
        // the second commitment is signed by someone else (the coordinator making it up)
        bytes memory proof = abi.encode(b, uint64(100), sign(pks[5], id, p.globalModelHash, b, 100));
        IRoundManager.SlashEvidence memory e = provableEvidence(4, id, p, P.REASON_EQUIVOCATION, a, proof);
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        _tryFinalize(id, p, _one(e));
    }

    function _nanUpdate() internal pure returns (bytes[] memory pre) {
        // w: <f4 [2048] (two 4 KiB chunks), a NaN at element 1500 (chunk 1, offset 1904)
        pre = UpdateTree.preimages(UpdateTree.header1("w", "<f4", 2048, 4), UpdateTree.f32Payload(2048, 1500));
    }

    function test_provable_malformed_nonFinite_slashes() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes[] memory pre = _nanUpdate();
        (bytes32 root, IFaultVerifier.LeafProof memory hdr) = UpdateTree.prove(pre, 0);
        (, IFaultVerifier.LeafProof memory chunk) = UpdateTree.prove(pre, 2);
        bytes memory proof = UpdateTree.nonFiniteProof(hdr, chunk, (1500 - 1024) * 4);
        IRoundManager.SlashEvidence memory e = provableEvidence(6, id, p, P.REASON_MALFORMED, root, proof);
        _tryFinalize(id, p, _one(e));
        assertEq(sm.slashableStake(parts[6]), 500e18, "slashed");
    }

    function test_provable_malformed_alteredChunkReverts() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes[] memory pre = _nanUpdate();
        (bytes32 root, IFaultVerifier.LeafProof memory hdr) = UpdateTree.prove(pre, 0);
        (, IFaultVerifier.LeafProof memory chunk) = UpdateTree.prove(pre, 2);
        chunk.preimage[17] ^= 0x01;
        bytes memory proof = UpdateTree.nonFiniteProof(hdr, chunk, (1500 - 1024) * 4);
        IRoundManager.SlashEvidence memory e = provableEvidence(6, id, p, P.REASON_MALFORMED, root, proof);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, 1));
        _tryFinalize(id, p, _one(e));
    }

    /// @dev Through finalize: any altered byte of a valid non-finite proof (chunk, path, header, offsets,
    ///      padding) makes the whole finalize revert, and nothing is slashed.
    function testFuzz_provable_malformed_anyAlteredByteReverts(uint256 pos, uint8 flip) public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes[] memory pre = _nanUpdate();
        (bytes32 root, IFaultVerifier.LeafProof memory hdr) = UpdateTree.prove(pre, 0);
        (, IFaultVerifier.LeafProof memory chunk) = UpdateTree.prove(pre, 2);
        bytes memory proof = UpdateTree.nonFiniteProof(hdr, chunk, (1500 - 1024) * 4);
        pos = bound(pos, 0, proof.length - 1);
        proof[pos] ^= bytes1(uint8(bound(flip, 1, 255)));
        IRoundManager.SlashEvidence memory e = provableEvidence(6, id, p, P.REASON_MALFORMED, root, proof);
        vm.expectRevert();
        _tryFinalize(id, p, _one(e));
        assertEq(sm.slashableStake(parts[6]), 1_000e18, "untouched");
    }

    /// @dev Any altered byte of the second signature of an equivocation proof reverts.
    function testFuzz_provable_equivocation_alteredSignatureReverts(uint256 pos, uint8 flip) public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32 a = keccak256("update A");
        bytes32 b = keccak256("update B");
        bytes memory sig = sign(pks[4], id, p.globalModelHash, b, 100);
        sig[bound(pos, 0, 64)] ^= bytes1(uint8(bound(flip, 1, 255)));
        bytes memory proof = abi.encode(b, uint64(100), sig);
        IRoundManager.SlashEvidence memory e = provableEvidence(4, id, p, P.REASON_EQUIVOCATION, a, proof);
        vm.expectRevert();
        _tryFinalize(id, p, _one(e));
    }

    function test_provable_malformed_finiteValueReverts() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes[] memory pre = _nanUpdate();
        (bytes32 root, IFaultVerifier.LeafProof memory hdr) = UpdateTree.prove(pre, 0);
        (, IFaultVerifier.LeafProof memory chunk) = UpdateTree.prove(pre, 2);
        bytes memory proof = UpdateTree.nonFiniteProof(hdr, chunk, (1501 - 1024) * 4); // the next, finite value
        IRoundManager.SlashEvidence memory e = provableEvidence(6, id, p, P.REASON_MALFORMED, root, proof);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_MALFORMED));
        _tryFinalize(id, p, _one(e));
    }

    function test_provable_malformed_headerMismatch_slashes() public {
        // the round's global model is w: <f4 [2048]; the update declares w: <f4 [2047]
        bytes[] memory globalPre =
            UpdateTree.preimages(UpdateTree.header1("w", "<f4", 2048, 4), UpdateTree.f32Payload(2048, 2048));
        bytes[] memory updatePre =
            UpdateTree.preimages(UpdateTree.header1("w", "<f4", 2047, 4), UpdateTree.f32Payload(2047, 2047));
        (bytes32 globalRoot, IFaultVerifier.LeafProof memory gh) = UpdateTree.prove(globalPre, 0);
        (bytes32 updateRoot, IFaultVerifier.LeafProof memory uh) = UpdateTree.prove(updatePre, 0);
        uint256 id = rm.roundCount() + 1;
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        p.globalModelHash = globalRoot;
        vm.prank(coordinator);
        rm.openRound(id, p, uint32(NPK), 0, uint40(block.timestamp + 1 days));
        bytes memory proof = UpdateTree.headerMismatchProof(uh, gh);
        IRoundManager.SlashEvidence memory e = provableEvidence(7, id, p, P.REASON_MALFORMED, updateRoot, proof);
        _tryFinalize(id, p, _one(e));
        assertEq(sm.slashableStake(parts[7]), 500e18, "slashed");
    }

    // ---------------------------------------------------------------- settle / expire / cancel

    function test_settleRound_owesTreasuryAndReturnsDust() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, _oneSlash(id, p, 2, 2_000)); // 200e18 slashed
        uint256 pool = rm.rewardPool();
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RoundSettled(id, 120e18, 80e18, 1e18);
        vm.prank(stranger);
        rm.settleRound(id);
        assertEq(rm.rewardPool(), pool + 120e18 + 1e18, "pool");
        assertEq(token.balanceOf(treasury), 0, "nothing pushed");
        assertEq(rm.treasuryOwed(), 80e18, "owed");
        assertEq(sm.totalLocked(), 0, "unlocked");
        (, uint256 open, uint256 locked) = rm.coordinatorInfo(coordinator);
        assertEq(open, 0, "open rounds");
        assertEq(locked, 0, "locked budget");
        assertEq(rm.activeRounds(), 0, "active");
        assertAccounting();
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.TreasuryClaimed(treasury, 80e18);
        vm.prank(treasury);
        assertEq(rm.claimTreasury(), 80e18, "pulled");
        assertEq(token.balanceOf(treasury), 80e18, "paid");
        assertEq(rm.treasuryOwed(), 0, "cleared");
        assertAccounting();
    }

    function test_claimTreasury_reverts() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotTreasury.selector, stranger));
        rm.claimTreasury();
        vm.prank(treasury);
        vm.expectRevert(IRoundManager.NothingOwed.selector);
        rm.claimTreasury();
    }

    function test_claimTreasury_newTreasuryPullsWhatIsOwed() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, _oneSlash(id, p, 2, 1_000));
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        IRoundManager.Config memory c = defaultConfig();
        c.treasury = makeAddr("treasury2");
        vm.prank(admin);
        rm.setConfig(c);
        vm.prank(treasury);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotTreasury.selector, treasury));
        rm.claimTreasury();
        vm.prank(c.treasury);
        assertEq(rm.claimTreasury(), 40e18, "the configured treasury pulls");
        assertAccounting();
    }

    /// @dev Finding: settleRound pushed to the treasury, so a treasury the token refuses to pay blocked settlement
    ///      (budget, rewards, slashes and the bond stuck). The treasury now pulls; settle never pays it.
    function test_settleRound_refusingTreasuryDoesNotBlock() public {
        BlocklistToken bt = new BlocklistToken();
        (StakeManager sm2, IRM rm2,) = deploySystem(IERC20(address(bt)));
        bt.setBlocked(treasury, true);
        bt.transfer(parts[1], 1_000e18);
        vm.startPrank(parts[1]);
        bt.approve(address(sm2), type(uint256).max);
        sm2.stake(1_000e18);
        vm.stopPrank();
        bt.approve(address(rm2), type(uint256).max);
        bytes32 role = rm2.COORDINATOR_ROLE();
        vm.prank(admin);
        rm2.grantRole(role, address(this));
        rm2.postBond(MIN_BOND);
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        rm2.openRound(1, p, uint32(NPK), 0, uint40(block.timestamp + 1 days));
        bytes32 uh = keccak256("u");
        bytes32 digest = rm2.commitmentDigest(1, parts[1], p.globalModelHash, uh, 100);
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(pks[1], digest);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = IRoundManager.SlashEvidence({
            participant: parts[1],
            updateHash: uh,
            numExamples: 100,
            reason: P.REASON_BYZANTINE,
            slashBps: 1_000,
            signature: abi.encodePacked(r, s_, v),
            proof: Merkle.proof(participantLeaves(1, parts), 1),
            faultProof: ""
        });
        rm2.finalizeRound(1, p, emptyResult(), s);
        vm.warp(block.timestamp + WINDOW + 1);
        rm2.settleRound(1); // used to revert inside the token's transfer to the treasury
        assertTrue(rm2.getRound(1).status == IRoundManager.RoundStatus.Settled, "settled");
        assertEq(rm2.treasuryOwed(), 40e18, "owed, not pushed");
        assertEq(sm2.totalLocked(), 0, "slash released");
        vm.prank(treasury);
        vm.expectRevert(bytes("blocked"));
        rm2.claimTreasury(); // only the treasury's own pull fails
        rm2.withdrawBond(MIN_BOND); // the coordinator's bond is free
    }

    function test_settleRound_revertsNotFinalized() public {
        (uint256 id,) = openWith(BUDGET);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Open)
        );
        rm.settleRound(id);
    }

    function test_settleRound_revertsInWindow() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        uint256 d = block.timestamp + WINDOW;
        vm.warp(d);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ChallengeWindowOpen.selector, d));
        rm.settleRound(id);
    }

    function test_settleRound_revertsTwice() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Settled)
        );
        rm.settleRound(id);
    }

    function test_settleRound_worksWhenPaused() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.prank(pauser);
        rm.pause();
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
    }

    function test_expireRound_returnsBudget() public {
        (uint256 id,) = openWith(BUDGET);
        uint256 pool = rm.rewardPool();
        vm.warp(rm.getRound(id).finalizeDeadline + 1);
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RoundExpired(id, BUDGET);
        rm.expireRound(id);
        assertEq(rm.rewardPool(), pool + BUDGET, "pool");
        assertTrue(rm.getRound(id).status == IRoundManager.RoundStatus.Expired, "expired");
        assertEq(rm.activeRounds(), 0, "active");
        (, uint256 open, uint256 locked) = rm.coordinatorInfo(coordinator);
        assertEq(open + locked, 0, "coordinator counters");
        assertAccounting();
    }

    function test_expireRound_revertsEarly() public {
        (uint256 id,) = openWith(BUDGET);
        uint256 d = rm.getRound(id).finalizeDeadline;
        vm.warp(d);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.FinalizeDeadlineNotPassed.selector, d));
        rm.expireRound(id);
    }

    function test_expireRound_revertsNotOpen() public {
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, 9, IRoundManager.RoundStatus.None)
        );
        rm.expireRound(9);
    }

    function test_cancelRound_open_returnsBudget() public {
        (uint256 id,) = openWith(BUDGET);
        uint256 pool = rm.rewardPool();
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.RoundCancelled(id, pauser, BUDGET, 0);
        vm.prank(pauser);
        rm.cancelRound(id, noEntries());
        assertTrue(rm.getRound(id).status == IRoundManager.RoundStatus.Cancelled, "cancelled");
        assertEq(rm.rewardPool(), pool + BUDGET, "budget back");
        assertEq(rm.activeRounds(), 0, "active");
        vm.prank(coordinator);
        rm.withdrawBond(MIN_BOND * 2); // no unsettled round left
        assertAccounting();
    }

    /// @dev Finding: nobody could stop a compromised coordinator's round. The guardian cancels it: budget back
    ///      to the pool and every locked slash returned where it came from (strikes and jails too).
    function test_cancelRound_finalized_returnsBudgetAndEverySlash() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](3);
        s[0] = evidence(1, id, p, 3_000);
        s[1] = evidence(2, id, p, 1_000);
        s[2] = provableEvidence(3, id, p, P.REASON_NULL_UPDATE, p.globalModelHash, "");
        sortEvidence(s);
        IRoundManager.SlashEntry[] memory entries = finalizeRecording(id, p, resultOf(id, _rewards()), s);
        assertEq(sm.totalLocked(), 300e18 + 100e18 + 500e18, "locked");
        assertFalse(sm.isEligibleFor(parts[3], id + 1), "jailed");
        // parts[1] disputes and the arbiter upholds: its slash is already back
        uint256 i1 = entries[0].participant == parts[1] ? 0 : entries[1].participant == parts[1] ? 1 : 2;
        vm.prank(parts[1]);
        uint256 d1 = rm.disputeSlash(id, entries, i1, MIN_DEPOSIT, 0);
        vm.prank(arbiter);
        rm.resolveDispute(d1, true, 0);
        // parts[2] disputes; the round is cancelled while that dispute is open
        uint256 i2 = entries[0].participant == parts[2] ? 0 : entries[1].participant == parts[2] ? 1 : 2;
        vm.prank(parts[2]);
        uint256 d2 = rm.disputeSlash(id, entries, i2, MIN_DEPOSIT, 0);
        uint256 pool = rm.rewardPool();
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.RoundCancelled(id, pauser, BUDGET, 600e18);
        vm.prank(pauser);
        rm.cancelRound(id, entries);
        assertEq(rm.rewardPool(), pool + BUDGET, "budget back");
        assertEq(sm.totalLocked(), 0, "every slash returned");
        for (uint256 i = 1; i <= 3; ++i) {
            assertEq(sm.slashableStake(parts[i]), 1_000e18, "stake back");
            assertEq(sm.stakeOf(parts[i]).strikes, 0, "strike back");
        }
        assertTrue(sm.isEligibleFor(parts[3], id + 1), "jail lifted");
        assertEq(rm.getRound(id).slashedTotal, 0, "nothing left to settle");
        // the open dispute is refunded (no compensation: nothing was decided)
        uint256 before = token.balanceOf(parts[2]);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.DisputeTimedOut(d2, id, IRoundManager.DisputeStatus.Refunded, 0);
        rm.timeoutDispute(d2);
        assertEq(token.balanceOf(parts[2]), before + MIN_DEPOSIT, "deposit back");
        // no claims on a cancelled round
        uint256[] memory r = _rewards();
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Cancelled)
        );
        claimFor(id, 0, r);
        assertEq(rm.activeRounds(), 0, "active");
        assertAccounting();
    }

    function test_cancelRound_reverts() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32 role = rm.PAUSER_ROLE();
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, coordinator, role)
        );
        rm.cancelRound(id, noEntries());
        IRoundManager.SlashEntry[] memory bogus = new IRoundManager.SlashEntry[](1);
        bogus[0].participant = parts[1];
        vm.prank(pauser);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.cancelRound(id, bogus); // an open round has no slashes
        IRoundManager.SlashEntry[] memory entries =
            finalizeRecording(id, p, resultOf(id, _rewards()), _oneSlash(id, p, 1, 100));
        vm.prank(pauser);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.cancelRound(id, noEntries()); // a finalized round's list must be presented whole
        entries[0].amount += 1;
        vm.prank(pauser);
        vm.expectRevert(IRoundManager.SlashListMismatch.selector);
        rm.cancelRound(id, entries);
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        vm.prank(pauser);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Settled)
        );
        rm.cancelRound(id, noEntries());
    }

    // ---------------------------------------------------------------- claim

    function test_claim_paysOnce() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        uint256 before = token.balanceOf(parts[1]);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.RewardClaimed(id, parts[1], r[1]);
        vm.prank(stranger); // anyone may relay; paid to the participant
        claimFor(id, 1, r);
        assertEq(token.balanceOf(parts[1]), before + r[1], "paid");
        assertTrue(rm.isClaimed(id, parts[1]), "claimed");
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.AlreadyClaimed.selector, id, parts[1]));
        claimFor(id, 1, r);
        assertAccounting();
    }

    function test_claim_all() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        uint256 balance = token.balanceOf(address(rm));
        for (uint256 i; i < r.length; ++i) {
            claimFor(id, i, r);
        }
        assertEq(token.balanceOf(address(rm)), balance - sum(r), "all paid");
        assertAccounting();
    }

    function test_claim_worksWhenPaused() public {
        uint256 id = _settled();
        vm.prank(pauser);
        rm.pause();
        claimFor(id, 0, _rewards());
    }

    function test_claim_revertsNotSettled() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        uint256[] memory r = _rewards();
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Finalized)
        );
        claimFor(id, 0, r);
    }

    function test_claim_revertsBadProof() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        IRoundManager.SumProof memory sp = sumProofOf(id, 0, r);
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 0);
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        rm.claim(id, parts[0], updateHashOf(id, 0), 500_000, r[0] + 1, p, pp, sp);
        sp.sums[0] -= 1; // a sibling sum lowered to make room
        vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        rm.claim(id, parts[0], updateHashOf(id, 0), 500_000, r[0] + 1, p, pp, sp);
        sp = sumProofOf(id, 0, r);
        sp.index = 4; // beyond the depth
        vm.expectRevert(SumTree.MalformedSumProof.selector);
        rm.claim(id, parts[0], updateHashOf(id, 0), 500_000, r[0], p, pp, sp);
    }

    function test_claim_revertsParamsMismatch() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        p.participantsRoot = keccak256("a set including me");
        IRoundManager.SumProof memory sp = sumProofOf(id, 0, r);
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 0);
        vm.expectRevert(IRoundManager.RoundParamsMismatch.selector);
        rm.claim(id, parts[0], updateHashOf(id, 0), 500_000, r[0], p, pp, sp);
    }

    /// @dev Finding: the results root was not tied to the participant set, so a coordinator could pay a leaf to
    ///      an address that was never selected (itself). A claim now proves selection as well.
    function test_claim_nonSelectedLeafCannotBeClaimed() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        bytes32[] memory leaves = new bytes32[](2);
        uint256[] memory amounts = new uint256[](2);
        leaves[0] = P.resultLeaf(id, parts[0], updateHashOf(id, 0), 1, 100e18);
        leaves[1] = P.resultLeaf(id, coordinator, keccak256("mine"), 1, 900e18); // not in the participant set
        amounts[0] = 100e18;
        amounts[1] = 900e18;
        (bytes32 root, uint256 total, IRoundManager.SumProof memory sp) = SumTrees.build(leaves, amounts, 1);
        IRoundManager.RoundResult memory res = emptyResult();
        res.resultsRoot = root;
        res.totalRewards = uint128(total);
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        // any participant proof: none reaches the set for the coordinator's address
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 0);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotSelected.selector, coordinator));
        rm.claim(id, coordinator, keccak256("mine"), 1, 900e18, p, pp, sp);
        // the selected participant's leaf pays
        (,, sp) = SumTrees.build(leaves, amounts, 0);
        rm.claim(id, parts[0], updateHashOf(id, 0), 1, 100e18, p, pp, sp);
        assertTrue(rm.isClaimed(id, parts[0]), "claimed");
    }

    /// @dev Finding: results leaves adding up to more than the declared total let early claimers drain the round
    ///      and starve late ones. The sum tree commits to Σ rewards: a tree whose sum differs from the declared
    ///      total pays nobody (and a result dispute can void it), and no path can understate a sibling's sum.
    function test_claim_sumTreeRejectsOverTotal() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](2);
        r[0] = 600e18;
        r[1] = 600e18; // Σ 1,200 > the declared 1,000
        IRoundManager.RoundResult memory res = resultOf(id, r);
        res.totalRewards = 1_000e18;
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        claimFor(id, 0, r); // the first claimer cannot take its 600 either
        // nor with a sibling sum understated to fit the total
        IRoundManager.SumProof memory sp = sumProofOf(id, 0, r);
        sp.sums[0] = 400e18;
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 0);
        vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        rm.claim(id, parts[0], updateHashOf(id, 0), 500_000, r[0], p, pp, sp);
        assertEq(token.balanceOf(address(rm)), rm.totalBonds() + rm.rewardPool() + 1_000e18, "the total stays");
    }

    function test_claim_singleLeafTree() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](1);
        r[0] = 10e18;
        IRoundManager.RoundResult memory res = resultOf(id, r);
        assertEq(res.resultsRoot, resultLeaves(id, r)[0], "one leaf is the root");
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        claimFor(id, 0, r);
        assertTrue(rm.isClaimed(id, parts[0]), "claimed");
        assertAccounting();
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_openFinalizeSettleClaim(uint96 budget, uint256 r0, uint256 r1, uint16 bps) public {
        budget = uint96(bound(budget, 0, rm.rewardPool()));
        r0 = bound(r0, 0, budget);
        r1 = bound(r1, 0, budget - r0);
        bps = uint16(bound(bps, 1, MAX_SLASH_BPS));
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(budget);
        uint256[] memory r = new uint256[](2);
        r[0] = r0;
        r[1] = r1;
        uint256 stakeBefore = sm.slashableStake(parts[4]);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 4, bps);
        IRoundManager.RoundResult memory res = resultOf(id, r);
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, s);
        uint256 slashed = stakeBefore * bps / 10_000;
        assertEq(sm.slashableStake(parts[4]), stakeBefore - slashed, "slash");
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        claimFor(id, 0, r);
        claimFor(id, 1, r);
        assertAccounting();
    }

    function testFuzz_sumTreeClaimsPayExactlyTheTotal(uint256 seed, uint8 k) public {
        k = uint8(bound(k, 1, NPK));
        uint256[] memory r = new uint256[](k);
        for (uint256 i; i < k; ++i) {
            r[i] = uint256(keccak256(abi.encode(seed, i))) % 100e18;
        }
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(uint96(sum(r)));
        IRoundManager.RoundResult memory res = resultOf(id, r);
        vm.prank(coordinator);
        rm.finalizeRound(id, p, res, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        uint256 balance = token.balanceOf(address(rm));
        for (uint256 i = k; i > 0; --i) {
            claimFor(id, i - 1, r); // in reverse: the last claimer is paid in full
        }
        assertEq(balance - token.balanceOf(address(rm)), sum(r), "exactly the declared total");
        assertAccounting();
    }

    /// @dev Any altered hash, sum, index or participant-proof element of a valid claim fails.
    function testFuzz_claim_alteredProofFails(uint256 which, uint256 pos, uint256 delta) public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        IRoundManager.SumProof memory sp = sumProofOf(id, 2, r);
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 2);
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        delta = bound(delta, 1, type(uint128).max);
        which = bound(which, 0, 3);
        if (which == 0) {
            pos = bound(pos, 0, sp.hashes.length - 1);
            sp.hashes[pos] = bytes32(uint256(sp.hashes[pos]) ^ delta);
        } else if (which == 1) {
            pos = bound(pos, 0, sp.sums.length - 1);
            sp.sums[pos] = sp.sums[pos] > delta ? sp.sums[pos] - delta : sp.sums[pos] + delta;
        } else if (which == 2) {
            sp.index = (sp.index + bound(delta, 1, 3)) % 4; // another leaf position
        } else {
            pos = bound(pos, 0, pp.length - 1);
            pp[pos] = bytes32(uint256(pp[pos]) ^ delta);
        }
        if (which == 3) vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotSelected.selector, parts[2]));
        else vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        rm.claim(id, parts[2], updateHashOf(id, 2), 500_000, r[2], p, pp, sp);
    }

    function test_claim_sumOverflowPanics() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        IRoundManager.SumProof memory sp = sumProofOf(id, 2, r);
        sp.sums[1] = type(uint256).max;
        bytes32[] memory pp = Merkle.proof(participantLeaves(id, parts), 2);
        IRoundManager.RoundParams memory p = paramsFor(id, parts);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        rm.claim(id, parts[2], updateHashOf(id, 2), 500_000, r[2], p, pp, sp);
    }

    function testFuzz_commitmentSignature(uint256 pk, bytes32 updateHash, uint64 n, uint16 bps) public {
        pk = bound(pk, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        bps = uint16(bound(bps, 1, MAX_SLASH_BPS));
        address who = vm.addr(pk);
        uint256 id = rm.roundCount() + 1;
        address[] memory set = new address[](2);
        set[0] = who;
        set[1] = parts[0];
        IRoundManager.RoundParams memory p = paramsFor(id, set);
        vm.prank(coordinator);
        rm.openRound(id, p, 2, 0, uint40(block.timestamp + 1 days));
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = IRoundManager.SlashEvidence({
            participant: who,
            updateHash: updateHash,
            numExamples: n,
            reason: P.REASON_FORGED_HASH,
            slashBps: bps,
            signature: sign(pk, id, p.globalModelHash, updateHash, n),
            proof: Merkle.proof(participantLeaves(id, set), 0),
            faultProof: ""
        });
        _tryFinalize(id, p, s); // unstaked signer: a zero slash, but the evidence verifies
        assertTrue(rm.getRound(id).slashesHash != bytes32(0), "recorded");
    }
}
