// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IProvenanceRegistry
/// @notice Per model version: weights hash + URI, dataset fingerprints root, code commit, hyperparameters hash,
///         parent version, round id and authorizer; lineage readable by a view.
interface IProvenanceRegistry {
    /// @notice Input of recordVersion.
    struct VersionInput {
        bytes32 weightsHash;
        string weightsURI;
        bytes32 datasetRoot;
        bytes32 codeCommit;
        bytes32 hyperparamsHash;
        uint256 parentVersion;
        uint256 roundId;
    }

    /// @notice Stored model version.
    struct ModelVersion {
        bytes32 weightsHash;
        bytes32 datasetRoot;
        bytes32 codeCommit;
        bytes32 hyperparamsHash;
        uint64 parentVersion;
        uint64 roundId;
        uint64 recordedAt;
        address authorizer;
        string weightsURI;
    }

    /// @notice A model version was recorded.
    event ModelVersionRecorded(
        uint256 indexed versionId,
        uint256 indexed parentVersion,
        uint256 indexed roundId,
        bytes32 weightsHash,
        string weightsURI,
        bytes32 datasetRoot,
        bytes32 codeCommit,
        bytes32 hyperparamsHash,
        address authorizer
    );

    /// @notice weightsHash is zero.
    error ZeroWeightsHash();
    /// @notice The weights hash is already recorded as `versionId`.
    error WeightsAlreadyRecorded(bytes32 weightsHash, uint256 versionId);
    /// @notice Parent version does not exist.
    error UnknownVersion(uint256 versionId);
    /// @notice A value does not fit its stored width.
    error ValueTooLarge(uint256 value);
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice The round named is not finalized or settled in the RoundManager.
    error RoundNotFinalized(uint256 roundId);
    /// @notice The caller is not the coordinator that finalized the round.
    error NotRoundCoordinator(uint256 roundId, address caller, address coordinator);
    /// @notice The weights hash is not the round's aggregate hash (a version records what its round produced).
    error NotRoundAggregate(bytes32 weightsHash, bytes32 aggregateHash);

    /// @notice Record a model version (COORDINATOR_ROLE); returns its id (1, 2, ...). The version must name a
    ///         round finalized (or settled) by the caller, and its weights hash must be that round's aggregate
    ///         hash, so no other coordinator can squat it.
    function recordVersion(VersionInput calldata input) external returns (uint256 versionId);
    /// @notice The RoundManager whose rounds versions must name.
    function roundManager() external view returns (address);
    /// @notice Stored version `versionId`.
    function getVersion(uint256 versionId) external view returns (ModelVersion memory);
    /// @notice Version id of a weights hash (0 if unknown).
    function versionOfWeights(bytes32 weightsHash) external view returns (uint256);
    /// @notice Number of versions recorded.
    function versionCount() external view returns (uint256);
    /// @notice Ids from `versionId` back through its parents (at most `maxDepth` entries, `versionId` first).
    function lineage(uint256 versionId, uint256 maxDepth) external view returns (uint256[] memory ids);
}
