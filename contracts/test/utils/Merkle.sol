// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Sorted-pair Merkle tree as in docs/protocol.md (odd node carried up unchanged).
library Merkle {
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        require(n > 0, "empty");
        bytes32[] memory layer = leaves;
        while (n > 1) {
            uint256 m = (n + 1) / 2;
            bytes32[] memory next = new bytes32[](m);
            for (uint256 i; i < m; ++i) {
                uint256 l = 2 * i;
                next[i] = l + 1 < n ? hashPair(layer[l], layer[l + 1]) : layer[l];
            }
            layer = next;
            n = m;
        }
        return layer[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory out) {
        uint256 n = leaves.length;
        bytes32[] memory buf = new bytes32[](64);
        uint256 depth;
        bytes32[] memory layer = leaves;
        while (n > 1) {
            uint256 sib = index ^ 1;
            if (sib < n) buf[depth++] = layer[sib];
            uint256 m = (n + 1) / 2;
            bytes32[] memory next = new bytes32[](m);
            for (uint256 i; i < m; ++i) {
                uint256 l = 2 * i;
                next[i] = l + 1 < n ? hashPair(layer[l], layer[l + 1]) : layer[l];
            }
            layer = next;
            n = m;
            index /= 2;
        }
        out = new bytes32[](depth);
        for (uint256 i; i < depth; ++i) {
            out[i] = buf[i];
        }
    }
}
