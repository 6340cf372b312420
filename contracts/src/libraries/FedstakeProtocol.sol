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

    // Slash reason codes (docs/protocol.md). Provable ones are checked by the FaultVerifier at finalize and
    // cannot be disputed; judged ones are statistical: capped, pending through the challenge window, disputable.

    /// @notice Provable: the signed update has a non-finite value or a header (names/shapes/dtypes) that differs
    ///         from the global model's (proven by a chunk / header proof against the signed update hash).
    uint8 internal constant REASON_MALFORMED = 1;
    /// @notice Judged: the arrays sent do not hash to the signed update hash.
    uint8 internal constant REASON_FORGED_HASH = 2;
    /// @notice Judged: update scored as an outlier (after strikes).
    uint8 internal constant REASON_BYZANTINE = 3;
    /// @notice Judged: (near-)copy of another participant's update.
    uint8 internal constant REASON_SYBIL = 4;
    /// @notice Judged: update approximately equal to the global model (free-riding with noise).
    uint8 internal constant REASON_FREE_RIDER = 5;
    /// @notice Provable: two valid signatures by the participant for the same round over different commitments.
    uint8 internal constant REASON_EQUIVOCATION = 6;
    /// @notice Provable: the signed update hash equals the round's global model hash.
    uint8 internal constant REASON_NULL_UPDATE = 7;
    /// @notice Judged: the signed numExamples is above the round's maximum or differs from the count reported.
    uint8 internal constant REASON_BAD_EXAMPLES = 8;
    /// @notice Highest valid reason code.
    uint8 internal constant MAX_REASON = 8;

    /// @notice Whether `reason` is a provable fault (checked on-chain, not disputable).
    function isProvable(uint8 reason) internal pure returns (bool) {
        return reason == REASON_MALFORMED || reason == REASON_EQUIVOCATION || reason == REASON_NULL_UPDATE;
    }

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
