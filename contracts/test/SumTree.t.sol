// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {SumTree} from "../src/libraries/SumTree.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";
import {SumTreeHarness} from "./mocks/SumTreeHarness.sol";

/// @notice The results Merkle sum tree (docs/protocol.md, "Results sum tree"), built here independently of the
///         library: node = (keccak256(abi.encode(hL, sL, hR, sR)), sL + sR), leaves padded to a power of two with
///         (bytes32(0), 0), a single leaf is the root.
contract SumTreeTest is Test {
    SumTreeHarness internal t;

    function setUp() public {
        t = new SumTreeHarness();
    }

    // ------------------------------------------------------------------ reference tree

    function _node(bytes32 hl, uint256 sl, bytes32 hr, uint256 sr) internal pure returns (bytes32) {
        return keccak256(abi.encode(hl, sl, hr, sr));
    }

    /// @dev Root (hash, sum) and the proof of leaf `index`.
    function _build(bytes32[] memory leaves, uint256[] memory amounts, uint256 index)
        internal
        pure
        returns (bytes32 root, uint256 total, SumTree.Proof memory p)
    {
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
                h[i] = _node(h[2 * i], s[2 * i], h[2 * i + 1], s[2 * i + 1]);
                s[i] = s[2 * i] + s[2 * i + 1];
            }
            index >>= 1;
        }
        return (h[0], s[0], p);
    }

    function _leaves(uint256 n, uint256 seed) internal pure returns (bytes32[] memory leaves, uint256[] memory amts) {
        leaves = new bytes32[](n);
        amts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            amts[i] = uint256(keccak256(abi.encode(seed, "amount", i))) % 1e24;
            leaves[i] = P.resultLeaf(1, address(uint160(0x1000 + i)), keccak256(abi.encode(seed, i)), i * 1000, amts[i]);
        }
    }

    // ------------------------------------------------------------------ unit

    function test_node_matchesAbiEncode() public view {
        bytes32 a = keccak256("a");
        bytes32 b = keccak256("b");
        assertEq(t.node(a, 5, b, 7), keccak256(abi.encode(a, uint256(5), b, uint256(7))), "node");
    }

    function test_singleLeaf_isRoot() public view {
        bytes32 leaf = P.resultLeaf(3, address(0xBEEF), keccak256("u"), 1, 42);
        (bytes32 h, uint256 sum) = t.rootOf(leaf, 42, SumTree.Proof(0, new bytes32[](0), new uint256[](0)));
        assertEq(h, leaf, "root");
        assertEq(sum, 42, "total");
    }

    function test_threeLeaves_paddedWithZeroLeaf() public view {
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(3, 1);
        bytes32 left = _node(leaves[0], amts[0], leaves[1], amts[1]);
        bytes32 right = _node(leaves[2], amts[2], bytes32(0), 0);
        bytes32 root = _node(left, amts[0] + amts[1], right, amts[2]);
        for (uint256 i; i < 3; ++i) {
            (bytes32 r, uint256 total, SumTree.Proof memory p) = _build(leaves, amts, i);
            assertEq(r, root, "reference root");
            (bytes32 h, uint256 sum) = t.rootOf(leaves[i], amts[i], p);
            assertEq(h, root, "root");
            assertEq(sum, total, "total");
        }
    }

    function test_malformedProof_reverts() public {
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(4, 2);
        (,, SumTree.Proof memory p) = _build(leaves, amts, 1);
        SumTree.Proof memory q = SumTree.Proof(p.index, p.hashes, new uint256[](1));
        vm.expectRevert(SumTree.MalformedSumProof.selector);
        t.rootOf(leaves[1], amts[1], q);
        q = SumTree.Proof(p.index + 4, p.hashes, p.sums); // index bits beyond the depth
        vm.expectRevert(SumTree.MalformedSumProof.selector);
        t.rootOf(leaves[1], amts[1], q);
        q = SumTree.Proof(1, new bytes32[](0), new uint256[](0));
        vm.expectRevert(SumTree.MalformedSumProof.selector);
        t.rootOf(leaves[1], amts[1], q);
    }

    function test_overflowingSums_revert() public {
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(2, 3);
        (,, SumTree.Proof memory p) = _build(leaves, amts, 0);
        p.sums[0] = type(uint256).max;
        vm.expectRevert(); // checked addition: a path's sums cannot wrap around to a small total
        t.rootOf(leaves[0], amts[0], p);
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_everyProofVerifies(uint256 n, uint256 seed, uint256 index) public view {
        n = bound(n, 1, 40);
        index = bound(index, 0, n - 1);
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(n, seed);
        (bytes32 root, uint256 total, SumTree.Proof memory p) = _build(leaves, amts, index);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            sum += amts[i];
        }
        assertEq(total, sum, "root sum = sum of rewards");
        (bytes32 h, uint256 s) = t.rootOf(leaves[index], amts[index], p);
        assertEq(h, root, "root");
        assertEq(s, total, "total");
        assertLe(amts[index], s, "a leaf never exceeds the total");
    }

    function testFuzz_alteredProofFails(uint256 n, uint256 seed, uint256 index, uint256 level, uint256 delta, bool sum)
        public
        view
    {
        n = bound(n, 2, 40);
        index = bound(index, 0, n - 1);
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(n, seed);
        (bytes32 root, uint256 total, SumTree.Proof memory p) = _build(leaves, amts, index);
        level = bound(level, 0, p.hashes.length - 1);
        delta = bound(delta, 1, 1e30);
        if (sum) p.sums[level] += delta;
        else p.hashes[level] = bytes32(uint256(p.hashes[level]) ^ delta);
        (bytes32 h, uint256 s) = t.rootOf(leaves[index], amts[index], p);
        assertTrue(h != root, "an altered sibling changes the root hash");
        if (sum) assertTrue(s != total, "and an altered sum the total");
    }

    function testFuzz_alteredLeafOrAmountFails(uint256 n, uint256 seed, uint256 index, uint256 delta) public view {
        n = bound(n, 1, 40);
        index = bound(index, 0, n - 1);
        delta = bound(delta, 1, 1e30);
        (bytes32[] memory leaves, uint256[] memory amts) = _leaves(n, seed);
        (bytes32 root, uint256 total, SumTree.Proof memory p) = _build(leaves, amts, index);
        // (a single leaf is its own root: there the amount is bound by the total alone, and by the leaf itself,
        // which commits to the reward)
        (bytes32 h, uint256 s) = t.rootOf(leaves[index], amts[index] + delta, p);
        assertTrue(h != root || s != total, "a larger reward does not reach (root, total)");
        (h,) = t.rootOf(bytes32(uint256(leaves[index]) ^ delta), amts[index], p);
        assertTrue(h != root, "another leaf does not reach the root");
        if (n > 1) {
            uint256 other = (index + 1) % n;
            if (p.hashes.length > 0) {
                (h,) = t.rootOf(leaves[index], amts[index], SumTree.Proof(other, p.hashes, p.sums));
                assertTrue(h != root || other == index, "another position does not reach the root");
            }
        }
    }
}
