// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRM} from "./utils/IRM.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

contract RoundManagerTest is Fixture {
    uint96 internal constant BUDGET = 1_000e18;

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
        r[3] = 99e18; // 1e18 dust stays unclaimed and returns at settle
    }

    function _finalize(uint256 id, IRoundManager.RoundParams memory p, IRoundManager.SlashEvidence[] memory s)
        internal
        returns (bytes32 root)
    {
        uint256[] memory r = _rewards();
        root = Merkle.root(resultLeaves(id, r));
        vm.prank(coordinator);
        rm.finalizeRound(id, p, keccak256("agg"), root, uint128(sum(r)), s);
    }

    function _oneSlash(uint256 id, IRoundManager.RoundParams memory p, uint256 who, uint16 bps)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(who, id, p, bps);
    }


    // ---------------------------------------------------------------- initialize / config

    function test_initialize_state() public view {
        assertEq(rm.token(), address(token), "token");
        assertEq(rm.stakeManager(), address(sm), "sm");
        IRoundManager.Config memory c = rm.config();
        assertEq(c.minCoordinatorBond, MIN_BOND, "bond");
        assertEq(c.treasury, treasury, "treasury");
        assertEq(rm.minUnbondingDelay(), uint64(MAX_ROUND) + WINDOW, "minUnbonding");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = rm.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("fedstake"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chain");
        assertEq(verifying, address(rm), "verifying = proxy");
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        rm.initialize(admin, 0, IStakeManager(address(sm)), defaultConfig());
    }

    function test_initialize_revertsZeroStakeManager() public {
        address impl = deployCode("RoundManager.sol:RoundManager");
        vm.expectRevert(IRoundManager.ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(IRM.initialize, (admin, 0, IStakeManager(address(0)), defaultConfig())));
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

    function test_setConfig_revertsInvalid() public {
        IRoundManager.Config memory c = defaultConfig();
        c.maxSlashBps = 0;
        vm.startPrank(admin);
        vm.expectRevert(IRoundManager.InvalidConfig.selector);
        rm.setConfig(c);
        c.maxSlashBps = 10_001;
        vm.expectRevert(IRoundManager.InvalidConfig.selector);
        rm.setConfig(c);
        c.maxSlashBps = 100;
        c.slashPoolBps = 10_001;
        vm.expectRevert(IRoundManager.InvalidConfig.selector);
        rm.setConfig(c);
        c.slashPoolBps = 100;
        c.maxRoundDuration = 0;
        vm.expectRevert(IRoundManager.InvalidConfig.selector);
        rm.setConfig(c);
        vm.stopPrank();
    }

    function test_setConfig_revertsUnbondingTooShort() public {
        IRoundManager.Config memory c = defaultConfig();
        c.challengeWindow = uint40(UNBONDING) - MAX_ROUND; // sum == delay: not strictly shorter
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.UnbondingDelayTooShort.selector, UNBONDING, UNBONDING + 1));
        rm.setConfig(c);
    }

    // ---------------------------------------------------------------- bonds and pool

    function test_postBond_andWithdraw() public {
        (uint256 bond, uint256 open) = rm.coordinatorInfo(coordinator);
        assertEq(bond, MIN_BOND * 2, "bond");
        assertEq(open, 0, "open");
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
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InsufficientBondBalance.selector, MIN_BOND * 2, MIN_BOND * 2 + 1));
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
        assertEq(rm.openRound(p, uint32(NPK), BUDGET, deadline), 1, "id");
        IRoundManager.Round memory r = rm.getRound(1);
        assertEq(r.coordinator, coordinator, "coord");
        assertEq(r.rewardBudget, BUDGET, "budget");
        assertTrue(r.status == IRoundManager.RoundStatus.Open, "status");
        assertEq(r.participantCount, NPK, "count");
        assertEq(r.finalizeDeadline, deadline, "deadline");
        assertEq(r.paramsHash, keccak256(abi.encode(p)), "params hash");
        assertEq(rm.rewardPool(), pool - BUDGET, "pool debited");
        assertEq(rm.roundCount(), 1, "count");
        (, uint256 open) = rm.coordinatorInfo(coordinator);
        assertEq(open, 1, "open rounds");
        assertAccounting();
    }

    function test_openRound_revertsNotCoordinator() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        bytes32 role = rm.COORDINATOR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        rm.openRound(p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsPaused() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(pauser);
        rm.pause();
        vm.prank(coordinator);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        rm.openRound(p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsEmptySet() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(coordinator);
        vm.expectRevert(IRoundManager.EmptyParticipantSet.selector);
        rm.openRound(p, 0, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsDeadline() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        uint256 latest = block.timestamp + MAX_ROUND;
        vm.startPrank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidDeadline.selector, block.timestamp, latest));
        rm.openRound(p, 1, 0, uint40(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidDeadline.selector, latest + 1, latest));
        rm.openRound(p, 1, 0, uint40(latest + 1));
        vm.stopPrank();
    }

    function test_openRound_revertsBond() public {
        vm.prank(coordinator);
        rm.withdrawBond(MIN_BOND + 1);
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InsufficientBond.selector, MIN_BOND - 1, MIN_BOND));
        rm.openRound(p, 1, 0, uint40(block.timestamp + 1));
    }

    function test_openRound_revertsPool() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        uint256 pool = rm.rewardPool();
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InsufficientRewardPool.selector, pool, pool + 1));
        rm.openRound(p, 1, uint96(pool + 1), uint40(block.timestamp + 1));
    }

    // ---------------------------------------------------------------- finalize

    function test_finalizeRound_storesAndEmits() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = _rewards();
        bytes32 root = Merkle.root(resultLeaves(id, r));
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RoundFinalized(
            id, keccak256("agg"), root, uint128(sum(r)), 0, 0, uint40(block.timestamp) + WINDOW
        );
        vm.prank(coordinator);
        rm.finalizeRound(id, p, keccak256("agg"), root, uint128(sum(r)), noSlashes());
        IRoundManager.Round memory st = rm.getRound(id);
        assertTrue(st.status == IRoundManager.RoundStatus.Finalized, "status");
        assertEq(st.resultsRoot, root, "root");
        assertEq(st.aggregateHash, keccak256("agg"), "agg");
        assertEq(st.totalRewards, sum(r), "total");
        assertEq(st.challengeDeadline, block.timestamp + WINDOW, "window");
    }

    function test_finalizeRound_withSlashLocksStake() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 2, 2_500);
        vm.expectEmit(true, true, false, true, address(rm));
        emit IRoundManager.ParticipantSlashed(id, parts[2], P.REASON_BYZANTINE, 2_500, 250e18, s[0].updateHash);
        _finalize(id, p, s);
        assertEq(sm.slashableStake(parts[2]), 750e18, "stake reduced");
        assertEq(sm.totalLocked(), 250e18, "locked");
        assertTrue(rm.slashState(id, parts[2]) == IRoundManager.SlashState.None, "undisputed");
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 250e18;
        assertEq(rm.getRound(id).slashesHash, slashesHashOf(entriesOf(s, amounts)), "slashes hash");
        assertEq(rm.getRound(id).slashedTotal, 250e18, "round total");
        assertAccounting();
    }

    function test_finalizeRound_revertsNotOpen() public {
        IRoundManager.RoundParams memory p = paramsFor(1, parts);
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, 1, IRoundManager.RoundStatus.None)
        );
        rm.finalizeRound(1, p, 0, 0, 0, noSlashes());
    }

    function test_finalizeRound_revertsTwice() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Finalized)
        );
        rm.finalizeRound(id, p, 0, 0, 0, noSlashes());
    }

    function test_finalizeRound_revertsNotCoordinator() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotRoundCoordinator.selector, stranger, coordinator));
        rm.finalizeRound(id, p, 0, 0, 0, noSlashes());
    }

    function test_finalizeRound_revertsAfterDeadline() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256 d = rm.getRound(id).finalizeDeadline;
        vm.warp(d + 1);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.FinalizeDeadlinePassed.selector, d));
        rm.finalizeRound(id, p, 0, 0, 0, noSlashes());
    }

    function test_finalizeRound_revertsParamsMismatch() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        p.configHash = bytes32(uint256(1));
        vm.prank(coordinator);
        vm.expectRevert(IRoundManager.RoundParamsMismatch.selector);
        rm.finalizeRound(id, p, 0, 0, 0, noSlashes());
    }

    function test_finalizeRound_revertsRewardsAboveBudget() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.RewardsExceedBudget.selector, BUDGET + 1, BUDGET));
        rm.finalizeRound(id, p, 0, 0, BUDGET + 1, noSlashes());
    }

    function test_finalizeRound_revertsTooManySlashes() public {
        id_ = rm.roundCount() + 1;
        address[] memory one = new address[](1);
        one[0] = parts[0];
        IRoundManager.RoundParams memory p = paramsFor(id_, one);
        vm.prank(coordinator);
        rm.openRound(p, 1, 0, uint40(block.timestamp + 1 days));
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.TooManySlashes.selector, 2, 1));
        rm.finalizeRound(id_, p, 0, 0, 0, s);
    }

    uint256 internal id_;

    function test_finalizeRound_revertsBadReason() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].reason = 0;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashReason.selector, 0));
        rm.finalizeRound(id, p, 0, 0, 0, s);
        s[0].reason = 6;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashReason.selector, 6));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsBadBps() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 0);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashBps.selector, 0, MAX_SLASH_BPS));
        rm.finalizeRound(id, p, 0, 0, 0, s);
        s[0].slashBps = MAX_SLASH_BPS + 1;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidSlashBps.selector, MAX_SLASH_BPS + 1, MAX_SLASH_BPS));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsForgedSignature() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        // the coordinator signs in the participant's name with another key
        s[0].signature = sign(pks[3], id, p.globalModelHash, s[0].updateHash, 100);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsOtherUpdateHash() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].updateHash = keccak256("not what was signed");
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsMalformedSignature() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = _oneSlash(id, p, 1, 100);
        s[0].signature = hex"1234";
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, 0, 0, 0, s);
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
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.InvalidCommitmentSignature.selector, parts[1]));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsNotSelected() public {
        id_ = rm.roundCount() + 1;
        address[] memory some = new address[](3);
        some[0] = parts[0];
        some[1] = parts[1];
        some[2] = parts[2];
        IRoundManager.RoundParams memory p = paramsFor(id_, some);
        vm.prank(coordinator);
        rm.openRound(p, 3, 0, uint40(block.timestamp + 1 days));
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(5, id_, p, 100); // parts[5] signed but was not selected
        s[0].proof = Merkle.proof(participantLeaves(id_, some), 0);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.NotSelected.selector, parts[5]));
        rm.finalizeRound(id_, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsDuplicateSlash() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(1, id, p, 100);
        s[1] = s[0];
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.SlashesNotSorted.selector, parts[1]));
        rm.finalizeRound(id, p, 0, 0, 0, s);
    }

    function test_finalizeRound_revertsUnsorted() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](2);
        s[0] = evidence(1, id, p, 100);
        s[1] = evidence(2, id, p, 100);
        sortEvidence(s);
        (s[0], s[1]) = (s[1], s[0]);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.SlashesNotSorted.selector, s[1].participant));
        rm.finalizeRound(id, p, 0, 0, 0, s);
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

    function test_finalizeRound_worksWhenPaused() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        vm.prank(pauser);
        rm.pause();
        _finalize(id, p, noSlashes());
    }

    // ---------------------------------------------------------------- settle / expire / claim

    function test_settleRound_movesSlashAndReturnsDust() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        _finalize(id, p, _oneSlash(id, p, 2, 2_000)); // 200e18 slashed
        uint256 pool = rm.rewardPool();
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectEmit(true, false, false, true, address(rm));
        emit IRoundManager.RoundSettled(id, 120e18, 80e18, 1e18);
        vm.prank(stranger);
        rm.settleRound(id);
        assertEq(rm.rewardPool(), pool + 120e18 + 1e18, "pool");
        assertEq(token.balanceOf(treasury), 80e18, "treasury");
        assertEq(sm.totalLocked(), 0, "unlocked");
        (, uint256 open) = rm.coordinatorInfo(coordinator);
        assertEq(open, 0, "open rounds");
        assertAccounting();
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

    function _settled() internal returns (uint256 id) {
        IRoundManager.RoundParams memory p;
        (id, p) = openWith(BUDGET);
        _finalize(id, p, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
    }

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
        assertEq(rm.getRound(id).claimed, r[1], "round claimed");
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.AlreadyClaimed.selector, id, parts[1]));
        claimFor(id, 1, r);
        assertAccounting();
    }

    function test_claim_allThenDustStays() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        for (uint256 i; i < r.length; ++i) {
            claimFor(id, i, r);
        }
        assertEq(rm.getRound(id).claimed, sum(r), "all");
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
        bytes32[] memory proof = Merkle.proof(resultLeaves(id, r), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IRoundManager.InvalidRoundStatus.selector, id, IRoundManager.RoundStatus.Finalized)
        );
        rm.claim(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, r[0], proof);
    }

    function test_claim_revertsBadProof() public {
        uint256 id = _settled();
        uint256[] memory r = _rewards();
        bytes32[] memory proof = Merkle.proof(resultLeaves(id, r), 0);
        vm.expectRevert(IRoundManager.InvalidRewardProof.selector);
        rm.claim(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, r[0] + 1, proof);
    }

    function test_claim_revertsAboveTotal() public {
        // a coordinator commits leaves summing above the declared total: claims stop at the total
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](2);
        r[0] = 600e18;
        r[1] = 600e18;
        vm.prank(coordinator);
        rm.finalizeRound(id, p, 0, Merkle.root(resultLeaves(id, r)), 1_000e18, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        claimFor(id, 0, r);
        bytes32[] memory proof = Merkle.proof(resultLeaves(id, r), 1);
        bytes32 uh = keccak256(abi.encode("update", id, 1));
        vm.expectRevert(abi.encodeWithSelector(IRoundManager.ClaimExceedsTotal.selector, 600e18, 600e18, 1_000e18));
        rm.claim(id, parts[1], uh, 500_000, r[1], proof);
        assertAccounting();
    }

    function test_claim_singleLeafTree() public {
        (uint256 id, IRoundManager.RoundParams memory p) = openWith(BUDGET);
        uint256[] memory r = new uint256[](1);
        r[0] = 10e18;
        bytes32 root = resultLeaves(id, r)[0];
        vm.prank(coordinator);
        rm.finalizeRound(id, p, 0, root, 10e18, noSlashes());
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        rm.claim(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, 10e18, new bytes32[](0));
        assertTrue(rm.isClaimed(id, parts[0]), "claimed");
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
        vm.prank(coordinator);
        rm.finalizeRound(id, p, 0, Merkle.root(resultLeaves(id, r)), uint128(r0 + r1), s);
        uint256 slashed = stakeBefore * bps / 10_000;
        assertEq(sm.slashableStake(parts[4]), stakeBefore - slashed, "slash");
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        claimFor(id, 0, r);
        claimFor(id, 1, r);
        assertAccounting();
    }

    function testFuzz_commitmentSignature(uint256 pk, bytes32 updateHash, uint64 n, uint16 bps) public {
        pk = bound(pk, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        bps = uint16(bound(bps, 1, MAX_SLASH_BPS));
        address who = vm.addr(pk);
        id_ = rm.roundCount() + 1;
        address[] memory set = new address[](2);
        set[0] = who;
        set[1] = parts[0];
        IRoundManager.RoundParams memory p = paramsFor(id_, set);
        vm.prank(coordinator);
        rm.openRound(p, 2, 0, uint40(block.timestamp + 1 days));
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = IRoundManager.SlashEvidence({
            participant: who,
            updateHash: updateHash,
            numExamples: n,
            reason: P.REASON_FORGED_HASH,
            slashBps: bps,
            signature: sign(pk, id_, p.globalModelHash, updateHash, n),
            proof: Merkle.proof(participantLeaves(id_, set), 0)
        });
        vm.prank(coordinator);
        rm.finalizeRound(id_, p, 0, 0, 0, s); // unstaked signer: a zero slash, but the evidence verifies
        assertTrue(rm.getRound(id_).slashesHash != bytes32(0), "recorded");
    }
}
