// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Fixture} from "./utils/Fixture.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {FedToken} from "../src/FedToken.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

contract ProvenanceTest is Fixture {
    address internal coordinator2 = makeAddr("coordinator2");

    function setUp() public override {
        super.setUp();
        bondAndFund();
        vm.startPrank(admin);
        rm.grantRole(rm.COORDINATOR_ROLE(), coordinator2);
        reg.grantRole(reg.COORDINATOR_ROLE(), coordinator2);
        vm.stopPrank();
        token.transfer(coordinator2, 10_000e18);
        vm.startPrank(coordinator2);
        token.approve(address(rm), type(uint256).max);
        rm.postBond(MIN_BOND);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ helpers

    function _aggregate(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("aggregate", i));
    }

    /// @dev Opens the next round as `c` and finalizes it with aggregate hash `agg` (one result leaf, no slash).
    function _finalized(address c, bytes32 agg) internal returns (uint256 id) {
        IRoundManager.RoundParams memory p;
        id = rm.roundCount() + 1;
        p = paramsFor(id, parts);
        vm.prank(c);
        rm.openRound(id, p, uint32(parts.length), 100e18, uint40(block.timestamp + 1 days));
        IRoundManager.RoundResult memory r = IRoundManager.RoundResult({
            aggregateHash: agg,
            resultsRoot: P.resultLeaf(id, parts[0], keccak256(abi.encode("update", id, 0)), 500_000, 50e18),
            totalRewards: 50e18,
            decisionHash: keccak256("decision"),
            artifactsURI: "cas://decision"
        });
        vm.prank(c);
        rm.finalizeRound(id, p, r, noSlashes());
    }

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

    /// @dev A finalized round of `coordinator` whose aggregate is `w`, recorded with `parent`.
    function _roundAndRecord(bytes32 w, uint256 parent) internal returns (uint256 v) {
        uint256 id = _finalized(coordinator, w);
        v = _record(w, parent, id);
    }

    // ------------------------------------------------------------ initialize

    function test_initialize_setsRoundManager() public view {
        assertEq(reg.roundManager(), address(rm), "round manager");
    }

    function test_initialize_revertsTwice() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        reg.initialize(admin, 0, address(rm));
    }

    function test_initialize_revertsZeroRoundManager() public {
        address impl = address(new ProvenanceRegistry());
        vm.expectRevert(IProvenanceRegistry.ZeroAddress.selector);
        new ERC1967Proxy(impl, abi.encodeCall(ProvenanceRegistry.initialize, (admin, 0, address(0))));
    }

    // ------------------------------------------------------------ recordVersion

    function test_recordVersion_storesAndEmits() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        IProvenanceRegistry.VersionInput memory in_ = _input(_aggregate(1), 0, id);
        vm.expectEmit(true, true, true, true, address(reg));
        emit IProvenanceRegistry.ModelVersionRecorded(
            1, 0, id, in_.weightsHash, in_.weightsURI, in_.datasetRoot, in_.codeCommit, in_.hyperparamsHash, coordinator
        );
        uint256 v = _record(_aggregate(1), 0, id);
        assertEq(v, 1, "id");
        IProvenanceRegistry.ModelVersion memory m = reg.getVersion(1);
        assertEq(m.weightsHash, _aggregate(1), "weights");
        assertEq(keccak256(bytes(m.weightsURI)), keccak256("cas://sha256/abc"), "uri");
        assertEq(m.datasetRoot, keccak256("data"), "data");
        assertEq(m.codeCommit, in_.codeCommit, "commit");
        assertEq(m.hyperparamsHash, keccak256("hp"), "hp");
        assertEq(m.parentVersion, 0, "parent");
        assertEq(m.roundId, id, "round");
        assertEq(m.authorizer, coordinator, "authorizer");
        assertEq(m.recordedAt, block.timestamp, "time");
        assertEq(reg.versionOfWeights(_aggregate(1)), 1, "by weights");
        assertEq(reg.versionCount(), 1, "count");
    }

    function test_recordVersion_settledRound() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        vm.warp(block.timestamp + WINDOW + 1);
        rm.settleRound(id);
        assertTrue(rm.getRound(id).status == IRoundManager.RoundStatus.Settled, "settled");
        assertEq(_record(_aggregate(1), 0, id), 1, "recorded");
    }

    /// @dev Finding: a version could name any round (or none). Now it must name a finalized round.
    function test_recordVersion_revertsRoundNotFinalized() public {
        // unknown round
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RoundNotFinalized.selector, 1));
        reg.recordVersion(_input(_aggregate(1), 0, 1));
        // open round
        (uint256 id,) = openWith(100e18);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RoundNotFinalized.selector, id));
        reg.recordVersion(_input(_aggregate(1), 0, id));
        // expired round
        vm.warp(block.timestamp + 1 days + 1);
        rm.expireRound(id);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RoundNotFinalized.selector, id));
        reg.recordVersion(_input(_aggregate(1), 0, id));
    }

    /// @dev Finding: any coordinator could record (squat) any weights hash. Now only the coordinator that
    ///      finalized the round, and only that round's aggregate.
    function test_recordVersion_revertsNotRoundCoordinator() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        vm.prank(coordinator2);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.NotRoundCoordinator.selector, id, coordinator2, coordinator)
        );
        reg.recordVersion(_input(_aggregate(1), 0, id));
    }

    function test_recordVersion_revertsNotRoundAggregate() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        vm.prank(coordinator);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.NotRoundAggregate.selector, _aggregate(2), _aggregate(1))
        );
        reg.recordVersion(_input(_aggregate(2), 0, id));
    }

    function test_recordVersion_noSquattingByAnotherCoordinator() public {
        uint256 mine = _finalized(coordinator, _aggregate(1));
        uint256 theirs = _finalized(coordinator2, _aggregate(2));
        // coordinator2 tries to take coordinator's weights: through its own round (wrong aggregate) ...
        vm.prank(coordinator2);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.NotRoundAggregate.selector, _aggregate(1), _aggregate(2))
        );
        reg.recordVersion(_input(_aggregate(1), 0, theirs));
        // ... or through coordinator's round (not its round)
        vm.prank(coordinator2);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.NotRoundCoordinator.selector, mine, coordinator2, coordinator)
        );
        reg.recordVersion(_input(_aggregate(1), 0, mine));
        // the weights stay free for their owner
        assertEq(_record(_aggregate(1), 0, mine), 1, "owner records");
        vm.prank(coordinator2);
        assertEq(reg.recordVersion(_input(_aggregate(2), 1, theirs)), 2, "other records its own");
    }

    function test_recordVersion_revertsRevokedCoordinator() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        bytes32 role = reg.COORDINATOR_ROLE();
        vm.prank(admin);
        reg.revokeRole(role, coordinator);
        IProvenanceRegistry.VersionInput memory in_ = _input(_aggregate(1), 0, id);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, coordinator, role));
        reg.recordVersion(in_);
    }

    function test_lineage() public {
        _roundAndRecord(_aggregate(1), 0);
        _roundAndRecord(_aggregate(2), 1);
        _roundAndRecord(_aggregate(3), 2);
        _roundAndRecord(_aggregate(4), 1);
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
        uint256 id = _finalized(coordinator, _aggregate(1));
        _record(_aggregate(1), 0, id);
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.WeightsAlreadyRecorded.selector, _aggregate(1), 1));
        reg.recordVersion(_input(_aggregate(1), 0, id));
    }

    function test_recordVersion_revertsUnknownParent() public {
        uint256 id = _finalized(coordinator, _aggregate(1));
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.UnknownVersion.selector, 1));
        reg.recordVersion(_input(_aggregate(1), 1, id));
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
        n = uint8(bound(n, 1, 12));
        for (uint256 i = 1; i <= n; ++i) {
            _roundAndRecord(_aggregate(i), i - 1);
        }
        uint256[] memory ids = reg.lineage(n, depth);
        assertEq(ids.length, depth < n ? depth : n, "length");
        for (uint256 i; i < ids.length; ++i) {
            assertEq(ids[i], n - i, "order");
        }
    }

    function testFuzz_recordVersion_onlyTheRoundAggregate(bytes32 w) public {
        vm.assume(w != bytes32(0) && w != _aggregate(1));
        uint256 id = _finalized(coordinator, _aggregate(1));
        vm.prank(coordinator);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.NotRoundAggregate.selector, w, _aggregate(1)));
        reg.recordVersion(_input(w, 0, id));
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
