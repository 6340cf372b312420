// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFaultVerifier} from "../../src/interfaces/IFaultVerifier.sol";

/// @notice sha256 update trees of docs/protocol.md ("Update hash") for RoundManager tests: a header over arrays,
///         4 KiB chunks, leaves sha256(0x00 ‖ preimage), nodes sha256(0x01 ‖ left ‖ right), leaves padded with
///         bytes32(0) to a power of two; and the fault proofs the FaultVerifier expects (IFaultVerifier).
library UpdateTree {
    uint256 internal constant CHUNK = 4096;
    uint8 internal constant HEADER_MISMATCH = 1;
    uint8 internal constant NON_FINITE = 2;

    function u32(uint256 v) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(v), uint8(v >> 8), uint8(v >> 16), uint8(v >> 24));
    }

    function u64(uint256 v) internal pure returns (bytes memory) {
        return bytes.concat(u32(v), u32(v >> 32));
    }

    /// @dev Header of one 1-D array `name` of dtype `dtype` with `n` elements of `itemSize` bytes.
    function header1(string memory name, string memory dtype, uint256 n, uint256 itemSize)
        internal
        pure
        returns (bytes memory)
    {
        uint256 nbytes = n * itemSize;
        return bytes.concat(
            abi.encodePacked("fedstake/update/v2", bytes1(0), u32(CHUNK), u32(1)),
            bytes.concat(u32(bytes(name).length), bytes(name), u32(bytes(dtype).length), bytes(dtype)),
            bytes.concat(u32(1), u64(n), u64(nbytes), u64(nbytes))
        );
    }

    function leafHash(bytes memory pre) internal pure returns (bytes32) {
        return sha256(bytes.concat(bytes1(0x00), pre));
    }

    function nodeHash(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), l, r));
    }

    /// @dev Preimages: the header, then `payload` cut into CHUNK-byte chunks (the last may be shorter).
    function preimages(bytes memory hdr, bytes memory payload) internal pure returns (bytes[] memory pre) {
        uint256 n = (payload.length + CHUNK - 1) / CHUNK;
        pre = new bytes[](n + 1);
        pre[0] = hdr;
        for (uint256 i; i < n; ++i) {
            uint256 end = (i + 1) * CHUNK < payload.length ? (i + 1) * CHUNK : payload.length;
            bytes memory c = new bytes(end - i * CHUNK);
            for (uint256 j; j < c.length; ++j) {
                c[j] = payload[i * CHUNK + j];
            }
            pre[i + 1] = c;
        }
    }

    /// @dev Root and the leaf proof of `index` (padding leaves are bytes32(0)).
    function prove(bytes[] memory pre, uint256 index)
        internal
        pure
        returns (bytes32 root, IFaultVerifier.LeafProof memory lp)
    {
        uint256 width = 1;
        uint256 depth;
        while (width < pre.length) {
            width <<= 1;
            ++depth;
        }
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < pre.length; ++i) {
            level[i] = leafHash(pre[i]);
        }
        lp.index = index;
        lp.preimage = pre[index];
        lp.siblings = new bytes32[](depth);
        for (uint256 l; l < depth; ++l) {
            lp.siblings[l] = level[index ^ 1];
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = nodeHash(level[2 * i], level[2 * i + 1]);
            }
            index >>= 1;
        }
        root = level[0];
    }

    /// @dev A header leaf and chunk 0 (leaf 1) of a large update whose other subtrees are `depth − 1` made-up
    ///      hashes: the root and both leaf proofs, as deep as a real update of 2^(depth−1) chunks' worth of
    ///      siblings. (Leaves 0 and 1 are siblings, every other sibling is on the right.)
    function deepPair(bytes memory hdr, bytes memory chunk0, uint256 depth)
        internal
        pure
        returns (bytes32 root, IFaultVerifier.LeafProof memory h, IFaultVerifier.LeafProof memory c)
    {
        bytes32 lh = leafHash(hdr);
        bytes32 lc = leafHash(chunk0);
        h.index = 0;
        h.preimage = hdr;
        h.siblings = new bytes32[](depth);
        c.index = 1;
        c.preimage = chunk0;
        c.siblings = new bytes32[](depth);
        h.siblings[0] = lc;
        c.siblings[0] = lh;
        root = nodeHash(lh, lc);
        for (uint256 l = 1; l < depth; ++l) {
            bytes32 filler = keccak256(abi.encode("subtree", l));
            h.siblings[l] = filler;
            c.siblings[l] = filler;
            root = nodeHash(root, filler);
        }
    }

    /// @dev Proof of a non-finite value at `offset` of the chunk proven by `chunk`.
    function nonFiniteProof(
        IFaultVerifier.LeafProof memory hdr,
        IFaultVerifier.LeafProof memory chunk,
        uint256 offset
    ) internal pure returns (bytes memory) {
        return abi.encode(NON_FINITE, hdr, chunk, offset);
    }

    /// @dev Proof that the update's header differs from the global model's.
    function headerMismatchProof(IFaultVerifier.LeafProof memory updateHdr, IFaultVerifier.LeafProof memory globalHdr)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(HEADER_MISMATCH, updateHdr, globalHdr, uint256(0));
    }

    /// @dev `n` little-endian float32 ones, with a NaN (0x7fc00000) at element `nanAt` (n: none).
    function f32Payload(uint256 n, uint256 nanAt) internal pure returns (bytes memory p) {
        p = new bytes(4 * n);
        for (uint256 i; i < n; ++i) {
            // 1.0f = 0x3f800000, little-endian 00 00 80 3f; NaN = 0x7fc00000 → 00 00 c0 7f
            p[4 * i + 2] = i == nanAt ? bytes1(0xc0) : bytes1(0x80);
            p[4 * i + 3] = i == nanAt ? bytes1(0x7f) : bytes1(0x3f);
        }
    }
}
