// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title SumTree
/// @notice Merkle sum tree of round results (docs/protocol.md, "Results sum tree"): every node carries the sum
///         of the rewards beneath it, so a claim proof checks Σ rewards = the declared total on its path and no
///         claimer can be starved by leaves that add up to more than the total.
/// @dev leaf = (resultLeaf, reward); node = (keccak256(abi.encode(hL, sL, hR, sR)), sL + sR); leaves padded to a
///      power of two with (bytes32(0), 0); a single leaf is its own root. The Python side is
///      `federation/protocol/sum_tree.py`.
library SumTree {
    /// @notice A path from a leaf to the root.
    /// @param index Leaf position; the sibling at level l is on the left where bit l is 1. index < 2^len.
    /// @param hashes Sibling hashes from the leaf up.
    /// @param sums Sibling sums from the leaf up.
    struct Proof {
        uint256 index;
        bytes32[] hashes;
        uint256[] sums;
    }

    /// @notice The proof's lengths differ or its index has bits beyond its depth.
    error MalformedSumProof();

    /// @notice Hash of an inner node.
    function node(bytes32 hl, uint256 sl, bytes32 hr, uint256 sr) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, hl)
            mstore(add(m, 0x20), sl)
            mstore(add(m, 0x40), hr)
            mstore(add(m, 0x60), sr)
            h := keccak256(m, 0x80)
        }
    }

    /// @notice The (hash, sum) of the root reached from (leaf, amount) along `p`; checked addition, so sums
    ///         cannot wrap.
    function rootOf(bytes32 leaf, uint256 amount, Proof calldata p) internal pure returns (bytes32 h, uint256 sum) {
        uint256 n = p.hashes.length;
        if (p.sums.length != n || (n < 256 && p.index >> n != 0)) revert MalformedSumProof();
        h = leaf;
        sum = amount;
        uint256 idx = p.index;
        for (uint256 i; i < n; ++i) {
            bytes32 sh = p.hashes[i];
            uint256 ss = p.sums[i];
            if (idx & 1 == 1) h = node(sh, ss, h, sum);
            else h = node(h, sum, sh, ss);
            sum += ss;
            idx >>= 1;
        }
    }
}
