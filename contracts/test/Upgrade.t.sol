// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {FedstakeBase} from "../src/FedstakeBase.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";
import {StakeManagerV2} from "./mocks/V2Mocks.sol";
import {GovTimelockHelpers} from "./mocks/GovMocks.sol";

/// @notice UUPS upgrades keep state; they go through a TimelockController slower than the unbonding delay
///         (the deploy script's governance), never through the admin key alone.
contract UpgradeTest is Fixture, GovTimelockHelpers {
    address internal gov = makeAddr("gov");
    TimelockController internal tl;

    function setUp() public override {
        super.setUp();
        tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        _handAdmin(address(rm), admin, tl, gov);
        _handAdmin(address(reg), admin, tl, gov);
    }

    function _upgrade(address proxy, address impl, bytes memory init) internal {
        _viaTimelock(tl, gov, proxy, abi.encodeCall(UUPSUpgradeable.upgradeToAndCall, (impl, init)), 0);
    }

    function _resultRoot(uint256 id) internal view returns (bytes32) {
        return P.resultLeaf(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, 50e18);
    }

    /// @dev A finalized round with one judged slash (parts[1], 10 %) and one reward (parts[0], 50).
    function _state() internal returns (uint256 id, IRoundManager.RoundParams memory p) {
        for (uint256 i; i < 4; ++i) {
            stakeAs(parts[i], 500e18);
        }
        bondAndFund();
        (id, p) = openWith(100e18);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(1, id, p, 1_000);
        IRoundManager.RoundResult memory r = IRoundManager.RoundResult({
            aggregateHash: keccak256("agg"),
            resultsRoot: _resultRoot(id),
            totalRewards: 50e18,
            decisionHash: keccak256("decision"),
            artifactsURI: "cas://decision"
        });
        vm.prank(coordinator);
        rm.finalizeRound(id, p, r, s);
    }

    /// @dev A new RoundManager implementation (deployed from src/, which every build compiles: a test-only
    ///      V2 would need the IR pipeline and a full build) keeps every round, bond, pool and role.
    function test_upgradeRoundManager_keepsState() public {
        (uint256 id, IRoundManager.RoundParams memory p) = _state();
        IRoundManager.Round memory before = rm.getRound(id);
        uint256 pool = rm.rewardPool();
        (uint256 bond,,) = rm.coordinatorInfo(coordinator);
        bytes32 digest = rm.commitmentDigest(1, parts[0], 0, 0, 0);
        address oldImpl = _implOf(address(rm));
        address impl = deployCode("RoundManager.sol:RoundManager");
        _upgrade(address(rm), impl, "");
        assertEq(_implOf(address(rm)), impl, "impl");
        assertTrue(impl != oldImpl, "a new implementation");
        (uint256 bondAfter,,) = rm.coordinatorInfo(coordinator);
        assertEq(bondAfter, bond, "bond kept");
        IRoundManager.Round memory afterR = rm.getRound(id);
        assertEq(keccak256(abi.encode(afterR)), keccak256(abi.encode(before)), "round kept");
        assertEq(rm.rewardPool(), pool, "pool kept");
        assertEq(rm.getRound(id).slashedTotal, 50e18, "slash kept");
        assertTrue(rm.hasRole(rm.COORDINATOR_ROLE(), coordinator), "roles kept");
        assertEq(rm.commitmentDigest(1, parts[0], 0, 0, 0), digest, "domain kept");
        assertEq(rm.config().treasury, treasury, "config kept");
        assertEq(rm.faultVerifier(), address(fv), "fault verifier kept");
        // the upgraded contract keeps working (the round finalized before the timelock's delay passed)
        if (block.timestamp <= rm.getRound(id).challengeDeadline) vm.warp(rm.getRound(id).challengeDeadline + 1);
        rm.settleRound(id);
        _claimFirst(id, p);
        assertTrue(rm.isClaimed(id, parts[0]), "claim after upgrade");
    }

    /// @dev Claim parts[0]'s reward (the only leaf of the results sum tree: its own root).
    function _claimFirst(uint256 id, IRoundManager.RoundParams memory p) internal {
        rm.claim(
            id,
            parts[0],
            keccak256(abi.encode("update", id, 0)),
            500_000,
            50e18,
            p,
            Merkle.proof(participantLeaves(id, parts), 0),
            IRoundManager.SumProof({index: 0, hashes: new bytes32[](0), sums: new uint256[](0)})
        );
    }

    function test_upgradeStakeManager_keepsState() public {
        _state();
        vm.prank(parts[2]);
        sm.requestUnbond(100e18);
        uint256 total = sm.totalStaked();
        uint256 locked = sm.totalLocked();
        StakeManagerV2 impl = new StakeManagerV2();
        _upgrade(address(sm), address(impl), abi.encodeCall(StakeManagerV2.initializeV2, (7)));
        assertEq(keccak256(bytes(StakeManagerV2(address(sm)).version())), keccak256("2"), "v2");
        assertEq(StakeManagerV2(address(sm)).note(), 7, "new field in its own namespace");
        assertEq(sm.totalStaked(), total, "total");
        assertEq(sm.totalLocked(), locked, "locked");
        assertEq(sm.stakeOf(parts[1]).active, 450e18, "stake");
        assertEq(sm.stakeOf(parts[1]).strikes, 1, "strike");
        assertEq(sm.unbondRequests(parts[2]).length, 1, "unbond request");
        assertEq(sm.roundManager(), address(rm), "wiring");
        assertEq(sm.jailPolicy().strikesToJail, 3, "jail policy");
    }

    function test_upgrade_registry() public {
        ProvenanceRegistry impl = new ProvenanceRegistry();
        _upgrade(address(reg), address(impl), "");
        assertEq(_implOf(address(reg)), address(impl), "impl");
        assertEq(reg.roundManager(), address(rm), "wiring kept");
    }

    function test_upgrade_revertsNonAdmin() public {
        address impl = deployCode("RoundManager.sol:RoundManager");
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, coordinator, bytes32(0))
        );
        rm.upgradeToAndCall(impl, "");
        StakeManagerV2 impl2 = new StakeManagerV2();
        vm.prank(pauser);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, pauser, bytes32(0))
        );
        sm.upgradeToAndCall(address(impl2), "");
        ProvenanceRegistry impl3 = new ProvenanceRegistry();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        reg.upgradeToAndCall(address(impl3), "");
        // the former admin key is no admin any more
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, bytes32(0)));
        reg.upgradeToAndCall(address(impl3), "");
    }

    function test_upgrade_revertsOnImplementationDirectly() public {
        StakeManagerV2 impl = new StakeManagerV2();
        StakeManagerV2 other = new StakeManagerV2();
        vm.prank(admin);
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        impl.upgradeToAndCall(address(other), "");
    }
}

/// @notice Before the hand-over the admin is still a key: it cannot upgrade (not a timelock).
contract UpgradeByKeyTest is Fixture {
    function test_upgrade_revertsForAdminKey() public {
        address impl = deployCode("RoundManager.sol:RoundManager");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        rm.upgradeToAndCall(impl, "");
        StakeManagerV2 impl2 = new StakeManagerV2();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        sm.upgradeToAndCall(address(impl2), "");
        ProvenanceRegistry impl3 = new ProvenanceRegistry();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        reg.upgradeToAndCall(address(impl3), "");
    }
}
