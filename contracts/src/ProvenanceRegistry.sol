// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FedstakeBase} from "./FedstakeBase.sol";
import {IProvenanceRegistry} from "./interfaces/IProvenanceRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";

/// @title ProvenanceRegistry
/// @notice Append-only record of model versions and their lineage, written by coordinators. A version names a
///         round of the RoundManager finalized by the recording coordinator, and its weights hash is that round's
///         aggregate hash: nobody can record (squat) the weights of another coordinator's round.
/// @dev Upgrades need a TimelockController admin slower than the StakeManager's unbonding delay.
contract ProvenanceRegistry is FedstakeBase, IProvenanceRegistry {
    /// @custom:storage-location erc7201:fedstake.storage.ProvenanceRegistry
    struct ProvenanceRegistryStorage {
        IRoundManager roundManager;
        uint256 versionCount;
        mapping(uint256 versionId => ModelVersion) versions;
        mapping(bytes32 weightsHash => uint256 versionId) byWeights;
    }

    // keccak256(abi.encode(uint256(keccak256("fedstake.storage.ProvenanceRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x9dda6384d8413aab430fb013f5fc1b7b23e12fc70a8d35c64700c865fa8a5400;

    function _s() private pure returns (ProvenanceRegistryStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @notice Initialize the proxy.
    /// @param admin Default admin.
    /// @param adminDelay Delay for default-admin transfers.
    /// @param roundManager_ The RoundManager whose finalized rounds versions must name.
    function initialize(address admin, uint48 adminDelay, address roundManager_) external initializer {
        if (roundManager_ == address(0)) revert ZeroAddress();
        __FedstakeBase_init(admin, adminDelay);
        _s().roundManager = IRoundManager(roundManager_);
    }

    /// @inheritdoc IProvenanceRegistry
    function recordVersion(VersionInput calldata input)
        external
        whenNotPaused
        onlyRole(COORDINATOR_ROLE)
        returns (uint256 versionId)
    {
        if (input.weightsHash == bytes32(0)) revert ZeroWeightsHash();
        ProvenanceRegistryStorage storage $ = _s();
        uint256 existing = $.byWeights[input.weightsHash];
        if (existing != 0) revert WeightsAlreadyRecorded(input.weightsHash, existing);
        if (input.parentVersion > $.versionCount) revert UnknownVersion(input.parentVersion);
        if (input.roundId > type(uint64).max) revert ValueTooLarge(input.roundId);
        IRoundManager.Round memory round = $.roundManager.getRound(input.roundId);
        if (round.status != IRoundManager.RoundStatus.Finalized && round.status != IRoundManager.RoundStatus.Settled) {
            revert RoundNotFinalized(input.roundId);
        }
        if (round.coordinator != msg.sender) revert NotRoundCoordinator(input.roundId, msg.sender, round.coordinator);
        if (input.weightsHash != round.aggregateHash) revert NotRoundAggregate(input.weightsHash, round.aggregateHash);
        versionId = ++$.versionCount;
        $.byWeights[input.weightsHash] = versionId;
        $.versions[versionId] = ModelVersion({
            weightsHash: input.weightsHash,
            datasetRoot: input.datasetRoot,
            codeCommit: input.codeCommit,
            hyperparamsHash: input.hyperparamsHash,
            parentVersion: uint64(input.parentVersion),
            roundId: uint64(input.roundId),
            recordedAt: uint64(block.timestamp),
            authorizer: msg.sender,
            weightsURI: input.weightsURI
        });
        emit ModelVersionRecorded(
            versionId,
            input.parentVersion,
            input.roundId,
            input.weightsHash,
            input.weightsURI,
            input.datasetRoot,
            input.codeCommit,
            input.hyperparamsHash,
            msg.sender
        );
    }

    /// @dev Governance must be slower than the StakeManager's unbonding delay (read through the RoundManager).
    function _governanceDelayFloor() internal view override returns (uint256) {
        return IStakeManager(_s().roundManager.stakeManager()).unbondingDelay();
    }

    /// @inheritdoc IProvenanceRegistry
    function roundManager() external view returns (address) {
        return address(_s().roundManager);
    }

    /// @inheritdoc IProvenanceRegistry
    function getVersion(uint256 versionId) external view returns (ModelVersion memory) {
        if (versionId == 0 || versionId > _s().versionCount) revert UnknownVersion(versionId);
        return _s().versions[versionId];
    }

    /// @inheritdoc IProvenanceRegistry
    function versionOfWeights(bytes32 weightsHash) external view returns (uint256) {
        return _s().byWeights[weightsHash];
    }

    /// @inheritdoc IProvenanceRegistry
    function versionCount() external view returns (uint256) {
        return _s().versionCount;
    }

    /// @inheritdoc IProvenanceRegistry
    function lineage(uint256 versionId, uint256 maxDepth) external view returns (uint256[] memory ids) {
        ProvenanceRegistryStorage storage $ = _s();
        if (versionId == 0 || versionId > $.versionCount) revert UnknownVersion(versionId);
        ids = new uint256[](maxDepth);
        uint256 n;
        uint256 cur = versionId;
        while (cur != 0 && n < maxDepth) {
            ids[n++] = cur;
            cur = $.versions[cur].parentVersion;
        }
        assembly {
            mstore(ids, n)
        }
    }
}
