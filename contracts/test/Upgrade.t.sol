// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {StakeManagerV2} from "./mocks/V2Mocks.sol";

interface IRoundManagerV2 {
    function initializeV2(uint256 note_) external;
    function note() external view returns (uint256);
    function version() external pure returns (string memory);
}

contract UpgradeTest is Fixture {
    bytes32 internal constant IMPL_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    function _state() internal returns (uint256 id) {
        for (uint256 i; i < 4; ++i) {
            stakeAs(parts[i], 500e18);
        }
        bondAndFund();
        IRoundManager.RoundParams memory p;
        (id, p) = openWith(100e18);
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = evidence(1, id, p, 1_000);
        uint256[] memory r = new uint256[](1);
        r[0] = 50e18;
        bytes32 root = resultLeaves(id, r)[0];
        vm.prank(coordinator);
        rm.finalizeRound(id, p, keccak256("agg"), root, 50e18, s);
    }

    function test_upgradeRoundManager_keepsState() public {
        uint256 id = _state();
        IRoundManager.Round memory before = rm.getRound(id);
        uint256 pool = rm.rewardPool();
        bytes32 sep = rm.commitmentDigest(1, parts[0], 0, 0, 0);
        address impl = deployCode("RoundManagerV2.sol:RoundManagerV2");
        vm.prank(admin);
        rm.upgradeToAndCall(impl, abi.encodeCall(IRoundManagerV2.initializeV2, (7)));
        assertEq(address(uint160(uint256(vm.load(address(rm), IMPL_SLOT)))), impl, "impl");
        assertEq(IRoundManagerV2(address(rm)).note(), 7, "new field");
        assertEq(keccak256(bytes(IRoundManagerV2(address(rm)).version())), keccak256("2"), "new fn");
        IRoundManager.Round memory afterR = rm.getRound(id);
        assertEq(keccak256(abi.encode(afterR)), keccak256(abi.encode(before)), "round kept");
        assertEq(rm.rewardPool(), pool, "pool kept");
        assertEq(rm.getRound(id).slashedTotal, 50e18, "slash kept");
        assertTrue(rm.hasRole(rm.COORDINATOR_ROLE(), coordinator), "roles kept");
        assertEq(rm.commitmentDigest(1, parts[0], 0, 0, 0), sep, "domain kept");
        assertEq(rm.config().treasury, treasury, "config kept");
        // the upgraded contract keeps working
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        uint256[] memory r = new uint256[](1);
        r[0] = 50e18;
        rm.claim(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, 50e18, new bytes32[](0));
        assertTrue(rm.isClaimed(id, parts[0]), "claim after upgrade");
    }

    function test_upgradeStakeManager_keepsState() public {
        _state();
        uint256 total = sm.totalStaked();
        uint256 locked = sm.totalLocked();
        StakeManagerV2 impl = new StakeManagerV2();
        vm.prank(admin);
        sm.upgradeToAndCall(address(impl), "");
        assertEq(keccak256(bytes(StakeManagerV2(address(sm)).version())), keccak256("2"), "v2");
        assertEq(sm.totalStaked(), total, "total");
        assertEq(sm.totalLocked(), locked, "locked");
        assertEq(sm.stakeOf(parts[1]).active, 450e18, "stake");
        assertEq(sm.roundManager(), address(rm), "wiring");
    }

    function test_upgrade_revertsNonAdmin() public {
        address impl = deployCode("RoundManagerV2.sol:RoundManagerV2");
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
    }

    function test_upgrade_registry() public {
        ProvenanceRegistry impl = new ProvenanceRegistry();
        vm.prank(admin);
        reg.upgradeToAndCall(address(impl), "");
        assertEq(address(uint160(uint256(vm.load(address(reg), IMPL_SLOT)))), address(impl), "impl");
    }

    function test_upgrade_revertsOnImplementationDirectly() public {
        StakeManagerV2 impl = new StakeManagerV2();
        StakeManagerV2 other = new StakeManagerV2();
        vm.prank(admin);
        vm.expectRevert(UUPSUpgradeable.UUPSUnauthorizedCallContext.selector);
        impl.upgradeToAndCall(address(other), "");
    }
}
