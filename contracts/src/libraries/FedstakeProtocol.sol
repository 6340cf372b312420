// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title FedstakeProtocol
/// @notice The cross-language facts of docs/protocol.md, defined once for Solidity:
///         EIP-712 domain and types, Merkle leaf encodings and slash reason codes.
/// @dev The Python side lives in `federation/protocol/`; tests on both sides check they agree.
library FedstakeProtocol {
    /// @notice EIP-712 domain name.
    string internal constant DOMAIN_NAME = "fedstake";
    /// @notice EIP-712 domain version.
    string internal constant DOMAIN_VERSION = "1";

    /// @notice keccak256 of the Commitment type string.
    bytes32 internal constant COMMITMENT_TYPEHASH = keccak256(
        "Commitment(uint256 roundId,address participant,bytes32 globalModelHash,bytes32 updateHash,uint64 numExamples)"
    );

    /// @notice Slash reason: signed commitment to a non-finite / wrongly shaped update.
    uint8 internal constant REASON_MALFORMED = 1;
    /// @notice Slash reason: signed hash does not match the arrays sent.
    uint8 internal constant REASON_FORGED_HASH = 2;
    /// @notice Slash reason: update scored as an outlier (after strikes).
    uint8 internal constant REASON_BYZANTINE = 3;
    /// @notice Slash reason: (near-)copy of another participant's update.
    uint8 internal constant REASON_SYBIL = 4;
    /// @notice Slash reason: update approximately equal to the global model.
    uint8 internal constant REASON_FREE_RIDER = 5;
    /// @notice Highest valid reason code.
    uint8 internal constant MAX_REASON = 5;

    /// @notice EIP-712 struct hash of a Commitment.
    function commitmentStructHash(
        uint256 roundId,
        address participant,
        bytes32 globalModelHash,
        bytes32 updateHash,
        uint64 numExamples
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(COMMITMENT_TYPEHASH, roundId, participant, globalModelHash, updateHash, numExamples));
    }

    /// @notice Double-hashed leaf of the participant-set tree.
    function participantLeaf(uint256 roundId, address participant) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(roundId, participant))));
    }

    /// @notice Double-hashed leaf of the results tree.
    function resultLeaf(uint256 roundId, address participant, bytes32 updateHash, uint256 score, uint256 reward)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(roundId, participant, updateHash, score, reward))));
    }
}
