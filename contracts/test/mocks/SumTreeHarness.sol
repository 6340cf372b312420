// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SumTree} from "../../src/libraries/SumTree.sol";
import {FedstakeProtocol} from "../../src/libraries/FedstakeProtocol.sol";

/// @notice Exposes the SumTree library (and the result leaf it is built over) so tests — Solidity and Python
///         (tests/test_sum_tree.py, through the exported artifact) — run the exact on-chain code.
contract SumTreeHarness {
    function rootOf(bytes32 leaf, uint256 amount, SumTree.Proof calldata p)
        external
        pure
        returns (bytes32 h, uint256 sum)
    {
        return SumTree.rootOf(leaf, amount, p);
    }

    function node(bytes32 hl, uint256 sl, bytes32 hr, uint256 sr) external pure returns (bytes32) {
        return SumTree.node(hl, sl, hr, sr);
    }

    function resultLeaf(uint256 roundId, address participant, bytes32 updateHash, uint256 score, uint256 reward)
        external
        pure
        returns (bytes32)
    {
        return FedstakeProtocol.resultLeaf(roundId, participant, updateHash, score, reward);
    }
}
