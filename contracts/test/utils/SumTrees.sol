// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";

/// @notice Builds results sum trees (docs/protocol.md, "Results sum tree") for tests, independently of the
///         SumTree library: node = (keccak256(abi.encode(hL, sL, hR, sR)), sL + sR), leaves padded to a power of
///         two with (bytes32(0), 0), a single leaf is its own root; proofs from the leaf up.
library SumTrees {
    function node(bytes32 hl, uint256 sl, bytes32 hr, uint256 sr) internal pure returns (bytes32) {
        return keccak256(abi.encode(hl, sl, hr, sr));
    }

    /// @dev Root (hash, sum) of the tree over (leaves, amounts) and the proof of leaf `index`.
    function build(bytes32[] memory leaves, uint256[] memory amounts, uint256 index)
        internal
        pure
        returns (bytes32 rootHash, uint256 total, IRoundManager.SumProof memory p)
    {
        require(leaves.length == amounts.length && leaves.length != 0, "SumTrees: shape");
        uint256 width = 1;
        uint256 depth;
        while (width < leaves.length) {
            width <<= 1;
            ++depth;
        }
        bytes32[] memory h = new bytes32[](width);
        uint256[] memory s = new uint256[](width);
        for (uint256 i; i < leaves.length; ++i) {
            h[i] = leaves[i];
            s[i] = amounts[i];
        }
        p.index = index;
        p.hashes = new bytes32[](depth);
        p.sums = new uint256[](depth);
        for (uint256 l; l < depth; ++l) {
            p.hashes[l] = h[index ^ 1];
            p.sums[l] = s[index ^ 1];
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                h[i] = node(h[2 * i], s[2 * i], h[2 * i + 1], s[2 * i + 1]);
                s[i] = s[2 * i] + s[2 * i + 1];
            }
            index >>= 1;
        }
        return (h[0], s[0], p);
    }

    /// @dev Root (hash, sum) only.
    function root(bytes32[] memory leaves, uint256[] memory amounts) internal pure returns (bytes32 h, uint256 total) {
        (h, total,) = build(leaves, amounts, 0);
    }

    /// @dev The empty proof of a single-leaf tree.
    function single() internal pure returns (IRoundManager.SumProof memory p) {
        p.hashes = new bytes32[](0);
        p.sums = new uint256[](0);
    }
}
