// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {FedToken} from "../src/FedToken.sol";

contract ProvenanceTest is Fixture {
    function _input(bytes32 w, uint256 parent, uint256 round) internal pure returns (IProvenanceRegistry.VersionInput memory) {
        return IProvenanceRegistry.VersionInput({
            weightsHash: w,
            weightsURI: "cas://sha256/abc",
            datasetRoot: keccak256("data"),
            codeCommit: bytes32(bytes20(hex"0123456789abcdef0123456789abcdef01234567")),
            hyperparamsHash: keccak256("hp"),
            parentVersion: parent,
            roundId: round
        });
    }

    function _record(bytes32 w, uint256 parent, uint256 round) internal returns (uint256 v) {
        vm.prank(coordinator);
        v = reg.recordVersion(_input(w, parent, round));
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        reg.initialize(admin, 0);
    }

    function test_recordVersion_storesAndEmits() public {
        IProvenanceRegistry.VersionInput memory in_ = _input(keccak256("w1"), 0, 3);
        vm.expectEmit(true, true, true, true, address(reg));
        emit IProvenanceRegistry.ModelVersionRecorded(
            1, 0, 3, in_.weightsHash, in_.weightsURI, in_.datasetRoot, in_.codeCommit, in_.hyperparamsHash, coordinator
        );
        uint256 v = _record(keccak256("w1"), 0, 3);
        assertEq(v, 1, "id");
        IProvenanceRegistry.ModelVersion memory m = reg.getVersion(1);
        assertEq(m.weightsHash, keccak256("w1"), "weights");
        assertEq(keccak256(bytes(m.weightsURI)), keccak256("cas://sha256/abc"), "uri");
        assertEq(m.datasetRoot, keccak256("data"), "data");
        assertEq(m.codeCommit, in_.codeCommit, "commit");
        assertEq(m.hyperparamsHash, keccak256("hp"), "hp");
        assertEq(m.parentVersion, 0, "parent");
        assertEq(m.roundId, 3, "round");
        assertEq(m.authorizer, coordinator, "authorizer");
        assertEq(m.recordedAt, block.timestamp, "time");
        assertEq(reg.versionOfWeights(keccak256("w1")), 1, "by weights");
        assertEq(reg.versionCount(), 1, "count");
    }

    function test_lineage() public {
        _record(keccak256("w1"), 0, 1);
        _record(keccak256("w2"), 1, 2);
        _record(keccak256("w3"), 2, 3);
        _record(keccak256("fork"), 1, 4);
        uint256[] memory ids = reg.lineage(3, 10);
        assertEq(ids.length, 3, "len");
        assertEq(ids[0], 3, "self");
        assertEq(ids[1], 2, "parent");
        assertEq(ids[2], 1, "root");
        ids = reg.lineage(3, 2);
        assertEq(ids.length, 2, "capped");
        ids = reg.lineage(4, 10);
        assertEq(ids.length, 2, "fork");
        assertEq(ids[1], 1, "fork root");
    }

    function test_recordVersion_revertsZeroHash() public {
        vm.prank(coordinator);
        vm.expectRevert(IProvenanceRegistry.ZeroWeightsHash.selector);
        reg.recordVersion(_input(0, 0, 0));
    }

    function test_recordVersion_revertsDuplicate() public {
        _record(keccak256("w1"), 0, 1);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.WeightsAlreadyRecorded.selector, keccak256("w1"), 1));
        reg.recordVersion(_input(keccak256("w1"), 0, 1));
    }

    function test_recordVersion_revertsUnknownParent() public {
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.UnknownVersion.selector, 1));
        reg.recordVersion(_input(keccak256("w1"), 1, 1));
    }

    function test_recordVersion_revertsRoundTooLarge() public {
        uint256 big = uint256(type(uint64).max) + 1;
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.ValueTooLarge.selector, big));
        reg.recordVersion(_input(keccak256("w1"), 0, big));
    }

    function test_recordVersion_revertsNotCoordinator() public {
        bytes32 role = reg.COORDINATOR_ROLE();
        IProvenanceRegistry.VersionInput memory in_ = _input(keccak256("w1"), 0, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role));
        reg.recordVersion(in_);
    }

    function test_recordVersion_revertsPaused() public {
        vm.prank(pauser);
        reg.pause();
        IProvenanceRegistry.VersionInput memory in_ = _input(keccak256("w1"), 0, 1);
        vm.prank(coordinator);
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        reg.recordVersion(in_);
    }

    function test_getVersion_revertsUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.UnknownVersion.selector, 0));
        reg.getVersion(0);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.UnknownVersion.selector, 1));
        reg.getVersion(1);
    }

    function test_lineage_revertsUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.UnknownVersion.selector, 5));
        reg.lineage(5, 1);
    }

    function testFuzz_lineageDepth(uint8 n, uint8 depth) public {
        n = uint8(bound(n, 1, 40));
        for (uint256 i = 1; i <= n; ++i) {
            _record(keccak256(abi.encode(i)), i - 1, i);
        }
        uint256[] memory ids = reg.lineage(n, depth);
        assertEq(ids.length, depth < n ? depth : n, "length");
        for (uint256 i; i < ids.length; ++i) {
            assertEq(ids[i], n - i, "order");
        }
    }
}

contract FedTokenTest is Fixture {
    function test_faucet_dripsAndRateLimits() public {
        vm.prank(stranger);
        token.faucet();
        assertEq(token.balanceOf(stranger), 1_000e18, "drip");
        vm.warp(block.timestamp + 1 days - 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(FedToken.FaucetCooldown.selector, block.timestamp + 1));
        token.faucet();
        vm.warp(block.timestamp + 1);
        vm.prank(stranger);
        token.faucet();
        assertEq(token.balanceOf(stranger), 2_000e18, "second drip");
    }

    function test_faucet_revertsDisabled() public {
        FedToken t = new FedToken(address(this), 1, 0, 0);
        vm.expectRevert(FedToken.FaucetDisabled.selector);
        t.faucet();
    }

    function test_constructor_mints() public {
        FedToken t = new FedToken(stranger, 5, 1, 1);
        assertEq(t.balanceOf(stranger), 5, "minted");
        assertEq(t.faucetAmount(), 1, "amount");
        assertEq(t.faucetCooldown(), 1, "cooldown");
    }
}
