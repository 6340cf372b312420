// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IFaultVerifier} from "./interfaces/IFaultVerifier.sol";
import {FedstakeProtocol as P} from "./libraries/FedstakeProtocol.sol";

/// @title FaultVerifier
/// @notice Checks the proof of a provable fault against the participant's signed commitment
///         (docs/protocol.md, "Provable faults"). Stateless and not upgradeable: the rules of what counts as
///         proof are fixed at deployment, so neither the admin nor a coordinator can widen them later.
/// @dev Proofs are read straight from calldata. The encodings are checked to be exactly the canonical ABI
///      encoding (every offset, length and padding byte), so one fault has one proof byte string per choice of
///      evidence, and an altered byte either changes the evidence (and fails its check) or breaks the encoding.
///      Every calldata read is preceded by a bounds check against the proof (or header) length.
///      The Python twin is `federation/protocol/fault_proof.py` (tests/test_fault_proofs.py checks they agree).
contract FaultVerifier is IFaultVerifier {
    /// @inheritdoc IFaultVerifier
    uint8 public constant HEADER_MISMATCH = 1;
    /// @inheritdoc IFaultVerifier
    uint8 public constant NON_FINITE = 2;

    /// @dev "fedstake/update/v2\x00" (docs/protocol.md, "Update hash"), 19 bytes, as a right-aligned uint152.
    uint256 private constant DOMAIN_TAG = 0x6665647374616b652f7570646174652f763200;
    uint256 private constant DOMAIN_TAG_LEN = 19;
    /// @dev "<f2", "<f4", "<f8" as right-aligned 3-byte values.
    uint256 private constant DTYPE_F2 = 0x3c6632;
    uint256 private constant DTYPE_F4 = 0x3c6634;
    uint256 private constant DTYPE_F8 = 0x3c6638;

    /// @dev A leaf proof located in calldata (absolute calldata positions): index, preimage (position, length),
    ///      siblings (position of the first, count).
    struct Leaf {
        uint256 index;
        uint256 pre;
        uint256 preLen;
        uint256 sib;
        uint256 nSib;
    }

    /// @dev What the NON_FINITE check needs from the parsed header for one payload position.
    struct Element {
        uint256 chunkSize;
        uint256 itemSize; // 0: the position is not in a floating-point array
        uint256 arrayStart;
        uint256 arrayEnd;
        bool found;
    }

    /// @inheritdoc IFaultVerifier
    function verifyFault(FaultContext calldata ctx, bytes calldata proof) external view {
        uint8 reason = ctx.reason;
        if (reason == P.REASON_NULL_UPDATE) {
            if (proof.length != 0) revert BadProofEncoding();
            if (ctx.updateHash != ctx.globalModelHash) revert NoFault(reason);
        } else if (reason == P.REASON_EQUIVOCATION) {
            _equivocation(ctx, proof);
        } else if (reason == P.REASON_MALFORMED) {
            _malformed(ctx, proof);
        } else {
            revert NotProvable(reason);
        }
    }

    // ------------------------------------------------------------------ equivocation

    /// @dev proof = abi.encode(bytes32 otherUpdateHash, uint64 otherNumExamples, bytes otherSignature).
    function _equivocation(FaultContext calldata ctx, bytes calldata proof) private pure {
        uint256 n = proof.length;
        if (n < 0x80 || _word(proof, 0x40) != 0x60) revert BadProofEncoding();
        bytes32 otherHash = bytes32(_word(proof, 0));
        uint256 otherExamples = _word(proof, 0x20);
        uint256 sigLen = _word(proof, 0x60);
        if (otherExamples >> 64 != 0 || sigLen > n || n != 0x80 + _ceil32(sigLen)) revert BadProofEncoding();
        _requireZeroPadding(proof, 0x80, sigLen);
        if (otherHash == ctx.updateHash && otherExamples == ctx.numExamples) revert NoFault(ctx.reason);
        bytes calldata sig = proof[0x80:0x80 + sigLen];
        bytes32 digest = MessageHashUtils.toTypedDataHash(
            ctx.domainSeparator,
            P.commitmentStructHash(ctx.roundId, ctx.participant, ctx.globalModelHash, otherHash, uint64(otherExamples))
        );
        // the ignored third value only details a failure; any error kind reverts below
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, sig);
        if (err != ECDSA.RecoverError.NoError || signer != ctx.participant) revert BadEquivocationSignature();
    }

    // ------------------------------------------------------------------ malformed update

    /// @dev proof = abi.encode(uint8 variant, LeafProof updateHeader, LeafProof second, uint256 offset).
    function _malformed(FaultContext calldata ctx, bytes calldata proof) private view {
        (uint256 variant, Leaf memory header, Leaf memory second, uint256 offset) = _decodeMalformed(proof);
        if (header.index != 0) revert BadLeafProof(0);
        bytes32 headerLeaf = _leafHash(header);
        if (_root(headerLeaf, header, 0) != ctx.updateHash) revert BadLeafProof(0);
        if (variant == HEADER_MISMATCH) {
            if (second.index != 0) revert BadLeafProof(1);
            bytes32 globalLeaf = _leafHash(second);
            if (_root(globalLeaf, second, 1) != ctx.globalModelHash) revert BadLeafProof(1);
            if (globalLeaf == headerLeaf) revert NoFault(ctx.reason);
        } else {
            if (second.index == 0) revert BadLeafProof(1);
            if (_root(_leafHash(second), second, 1) != ctx.updateHash) revert BadLeafProof(1);
            _nonFinite(ctx.reason, header, second, offset);
        }
    }

    /// @dev The element at `offset` of chunk `second.index − 1` must be a whole element of a "<f2"/"<f4"/"<f8"
    ///      array of the (proven) update header, inside the chunk, with all exponent bits set.
    function _nonFinite(uint8 reason, Leaf memory header, Leaf memory second, uint256 offset) private pure {
        (Element memory e, uint256 pos) = _parseHeader(header, second.index, offset);
        uint256 size = e.itemSize;
        if (
            !e.found || size == 0 || (pos - e.arrayStart) % size != 0 || pos + size > e.arrayEnd
                || second.preLen > e.chunkSize || offset + size > second.preLen
        ) revert BadElement(pos);
        uint256 raw;
        uint256 ptr = second.pre + offset;
        assembly ("memory-safe") {
            raw := calldataload(ptr)
        }
        // little-endian element → integer; the exponent field is all ones for NaN and ±Inf
        uint256 bits = _reverseBytes(raw >> (256 - 8 * size), size);
        uint256 mask = size == 2 ? 0x7C00 : size == 4 ? 0x7F800000 : 0x7FF0000000000000;
        if (bits & mask != mask) revert NoFault(reason);
    }

    /// @dev Parse the whole header (docs/protocol.md, "Update hash"), every read bounds-checked against its
    ///      length (each array entry consumes ≥ 20 bytes, so the loop is bounded by the header's size), and
    ///      find the array holding payload position pos = (index − 1) · chunkSize + offset (type(uint256).max,
    ///      which no array holds, when index − 1 or offset exceeds 2^64). Reverts BadHeader unless the header is
    ///      exactly tag ‖ u32 chunkSize (≠ 0) ‖ u32 #arrays ‖ entries ‖ u64 total with total = Σ nbytes and
    ///      nothing after.
    function _parseHeader(Leaf memory h, uint256 index, uint256 offset)
        private
        pure
        returns (Element memory e, uint256 pos)
    {
        uint256 base = h.pre;
        uint256 len = h.preLen;
        if (len < DOMAIN_TAG_LEN + 8) revert BadHeader();
        uint256 tag;
        assembly ("memory-safe") {
            tag := shr(sub(256, mul(8, DOMAIN_TAG_LEN)), calldataload(base))
        }
        if (tag != DOMAIN_TAG) revert BadHeader();
        e.chunkSize = _le(base + DOMAIN_TAG_LEN, 4);
        if (e.chunkSize == 0) revert BadHeader();
        // < 2^64 · 2^32 + 2^64: cannot overflow
        pos = index - 1 > type(uint64).max || offset > type(uint64).max
            ? type(uint256).max
            : (index - 1) * e.chunkSize + offset;
        // p grows by < 2^36 per entry and stays ≤ len + 2^36 (checked each step); total < 2^64 · #entries
        unchecked {
            uint256 count = _le(base + DOMAIN_TAG_LEN + 4, 4);
            uint256 p = DOMAIN_TAG_LEN + 8;
            uint256 total;
            for (uint256 a; a < count; ++a) {
                // name
                if (p + 4 > len) revert BadHeader();
                p += 4 + _le(base + p, 4);
                // dtype
                if (p + 4 > len) revert BadHeader();
                uint256 dtypeLen = _le(base + p, 4);
                p += 4;
                if (p + dtypeLen > len) revert BadHeader();
                uint256 itemSize;
                if (dtypeLen == 3) {
                    uint256 d;
                    uint256 ptr = base + p;
                    assembly ("memory-safe") {
                        d := shr(232, calldataload(ptr))
                    }
                    itemSize = d == DTYPE_F4 ? 4 : d == DTYPE_F8 ? 8 : d == DTYPE_F2 ? 2 : 0;
                }
                p += dtypeLen;
                // shape
                if (p + 4 > len) revert BadHeader();
                p += 4 + 8 * _le(base + p, 4);
                // nbytes
                if (p + 8 > len) revert BadHeader();
                uint256 nbytes = _le(base + p, 8);
                p += 8;
                if (!e.found && pos >= total && pos < total + nbytes) {
                    e.found = true;
                    e.itemSize = itemSize;
                    e.arrayStart = total;
                    e.arrayEnd = total + nbytes;
                }
                total += nbytes;
            }
            if (p + 8 != len || _le(base + p, 8) != total) revert BadHeader();
        }
    }

    // ------------------------------------------------------------------ sha256 tree

    /// @dev sha256(0x00 ‖ preimage) through the precompile.
    function _leafHash(Leaf memory l) private view returns (bytes32 h) {
        uint256 pre = l.pre;
        uint256 n = l.preLen;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 0)
            calldatacopy(add(m, 1), pre, n)
            if iszero(staticcall(gas(), 0x02, m, add(n, 1), 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @dev Fold the sibling path (sibling on the left where bit l of the index is 1); the index must have no
    ///      bits beyond the path's length, so a leaf has exactly one index.
    function _root(bytes32 leaf, Leaf memory l, uint8 which) private view returns (bytes32 h) {
        uint256 n = l.nSib;
        uint256 idx = l.index;
        if (n < 256 && idx >> n != 0) revert BadLeafProof(which);
        uint256 sib = l.sib;
        h = leaf;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 1)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let s := calldataload(add(sib, shl(5, i)))
                switch and(idx, 1)
                case 0 {
                    mstore(add(m, 1), h)
                    mstore(add(m, 33), s)
                }
                default {
                    mstore(add(m, 1), s)
                    mstore(add(m, 33), h)
                }
                if iszero(staticcall(gas(), 0x02, m, 65, 0x00, 0x20)) { revert(0, 0) }
                h := mload(0x00)
                idx := shr(1, idx)
            }
        }
    }

    // ------------------------------------------------------------------ strict ABI decoding

    /// @dev Decode abi.encode(uint8, (uint256,bytes,bytes32[]), (uint256,bytes,bytes32[]), uint256), accepting
    ///      only the canonical encoding and variants HEADER_MISMATCH (with offset 0) and NON_FINITE.
    function _decodeMalformed(bytes calldata proof)
        private
        pure
        returns (uint256 variant, Leaf memory a, Leaf memory b, uint256 offset)
    {
        // every sum is of lengths already checked against proof.length
        unchecked {
            uint256 n = proof.length;
            if (n < 0x80 || _word(proof, 0x20) != 0x80) revert BadProofEncoding();
            variant = _word(proof, 0);
            offset = _word(proof, 0x60);
            uint256 sizeA;
            (a, sizeA) = _decodeLeaf(proof, 0x80);
            uint256 offB = 0x80 + sizeA;
            if (_word(proof, 0x40) != offB) revert BadProofEncoding();
            uint256 sizeB;
            (b, sizeB) = _decodeLeaf(proof, offB);
            if (n != offB + sizeB) revert BadProofEncoding();
            if (!(variant == NON_FINITE || (variant == HEADER_MISMATCH && offset == 0))) revert BadProofEncoding();
        }
    }

    /// @dev One canonical (uint256 index, bytes preimage, bytes32[] siblings) tuple at `t` (relative to the proof
    ///      start); returns it and its encoded size.
    function _decodeLeaf(bytes calldata proof, uint256 t) private pure returns (Leaf memory l, uint256 size) {
        // attacker-chosen lengths are checked ≤ proof.length before any arithmetic on them
        unchecked {
            uint256 n = proof.length;
            if (t + 0x80 > n || _word(proof, t + 0x20) != 0x60) revert BadProofEncoding();
            l.index = _word(proof, t);
            uint256 preLen = _word(proof, t + 0x60);
            if (preLen > n) revert BadProofEncoding();
            uint256 sibRel = 0x80 + _ceil32(preLen);
            if (_word(proof, t + 0x40) != sibRel || t + sibRel + 0x20 > n) revert BadProofEncoding();
            _requireZeroPadding(proof, t + 0x80, preLen);
            uint256 nSib = _word(proof, t + sibRel);
            if (nSib > n) revert BadProofEncoding();
            size = sibRel + 0x20 + 32 * nSib;
            if (t + size > n) revert BadProofEncoding();
            uint256 start;
            assembly ("memory-safe") {
                start := proof.offset
            }
            l.pre = start + t + 0x80;
            l.preLen = preLen;
            l.sib = start + t + sibRel + 0x20;
            l.nSib = nSib;
        }
    }

    /// @dev The bytes after a `len`-byte value at `rel` up to the next 32-byte boundary must be zero.
    function _requireZeroPadding(bytes calldata proof, uint256 rel, uint256 len) private pure {
        // rel + len ≤ proof.length (checked by the caller)
        unchecked {
            uint256 rem = len & 31;
            if (rem != 0 && _word(proof, rel + len - rem) << (8 * rem) != 0) revert BadProofEncoding();
        }
    }

    /// @dev The 32-byte word at `rel` of `data`; the caller has checked rel + 32 ≤ data.length.
    function _word(bytes calldata data, uint256 rel) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(data.offset, rel))
        }
    }

    /// @dev Little-endian unsigned integer of `k` ≤ 8 bytes at absolute calldata position `ptr` (bounds checked by
    ///      the caller).
    function _le(uint256 ptr, uint256 k) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(sub(256, shl(3, k)), calldataload(ptr))
        }
        v = _reverseBytes(v, k);
    }

    /// @dev Reverse the low `k` bytes of `v` (k ∈ {2, 4, 8}; v < 2^(8k)).
    function _reverseBytes(uint256 v, uint256 k) private pure returns (uint256 r) {
        assembly ("memory-safe") {
            r := or(shr(8, and(v, 0xFF00FF00FF00FF00)), shl(8, and(v, 0x00FF00FF00FF00FF)))
            if gt(k, 2) {
                r := or(shr(16, and(r, 0xFFFF0000FFFF0000)), shl(16, and(r, 0x0000FFFF0000FFFF)))
                if gt(k, 4) { r := or(shr(32, r), shl(32, and(r, 0xFFFFFFFF))) }
            }
        }
    }

    function _ceil32(uint256 x) private pure returns (uint256) {
        return (x + 31) & ~uint256(31);
    }
}
