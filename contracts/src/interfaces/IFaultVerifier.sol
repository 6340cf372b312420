// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IFaultVerifier
/// @notice Checks the proof of a provable fault (docs/protocol.md, "Provable faults"). Stateless; the
///         RoundManager calls it at finalize after checking the participant's signed commitment and selection,
///         so a slash whose proof fails reverts the whole finalize.
interface IFaultVerifier {
    /// @notice What the RoundManager already checked: the participant signed (updateHash, numExamples) for
    ///         (roundId, globalModelHash) under the RoundManager's EIP-712 domain `domainSeparator`.
    struct FaultContext {
        uint8 reason;
        uint256 roundId;
        address participant;
        bytes32 globalModelHash;
        bytes32 updateHash;
        uint64 numExamples;
        bytes32 domainSeparator;
    }

    /// @notice One leaf of a sha256 update tree (docs/protocol.md, "Update hash") and its path.
    /// @param index Leaf index: 0 is the header, k ≥ 1 is chunk k − 1.
    /// @param preimage The leaf's preimage without the 0x00 prefix (the header or the chunk bytes).
    /// @param siblings Sibling hashes from the leaf up; the sibling is on the left where bit l of index is 1.
    struct LeafProof {
        uint256 index;
        bytes preimage;
        bytes32[] siblings;
    }

    /// @notice Proof encodings, by reason (abi.encode):
    ///  - REASON_EQUIVOCATION: (bytes32 otherUpdateHash, uint64 otherNumExamples, bytes otherSignature)
    ///  - REASON_NULL_UPDATE: empty
    ///  - REASON_MALFORMED: (uint8 variant, LeafProof updateHeader, LeafProof second, uint256 offset) where
    ///    variant HEADER_MISMATCH: second is the global model's header (index 0 against globalModelHash);
    ///    variant NON_FINITE: second is the update's chunk holding the value, `offset` its byte offset in it.
    function HEADER_MISMATCH() external view returns (uint8);
    /// @notice Variant code of a non-finite-value proof.
    function NON_FINITE() external view returns (uint8);

    /// @notice The reason is not a provable fault.
    error NotProvable(uint8 reason);
    /// @notice The proof bytes do not decode for this reason / variant.
    error BadProofEncoding();
    /// @notice A leaf proof does not reach the expected root (`which`: 0 update header, 1 second leaf).
    error BadLeafProof(uint8 which);
    /// @notice The update header does not parse, or the offset is not inside one element of a float array.
    error BadHeader();
    /// @notice The offset does not address a whole element of a floating-point array inside the chunk.
    error BadElement(uint256 payloadOffset);
    /// @notice The proven data shows no fault (equal headers, a finite value, a different hash, the same commitment).
    error NoFault(uint8 reason);
    /// @notice The second commitment is not signed by the participant.
    error BadEquivocationSignature();

    /// @notice Revert unless `proof` proves `ctx.reason` against `ctx`.
    function verifyFault(FaultContext calldata ctx, bytes calldata proof) external view;
}
