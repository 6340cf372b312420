// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {FaultVerifier} from "../src/FaultVerifier.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";
import {FedstakeProtocol as P} from "../src/libraries/FedstakeProtocol.sol";

/// @notice Builds sha256 update trees exactly as docs/protocol.md ("Update hash") defines them, so the tests
///         prove faults against roots computed independently of the verifier.
abstract contract UpdateTrees is Test {
    uint256 internal constant CHUNK = 4096;

    struct Arr {
        string name;
        string dtype;
        uint64[] dims;
        uint64 nbytes;
    }

    function _u32(uint256 v) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(v), uint8(v >> 8), uint8(v >> 16), uint8(v >> 24));
    }

    function _u64(uint256 v) internal pure returns (bytes memory) {
        return bytes.concat(_u32(v), _u32(v >> 32));
    }

    function _arr(string memory name, string memory dtype, uint64 n, uint64 itemSize)
        internal
        pure
        returns (Arr memory a)
    {
        a.name = name;
        a.dtype = dtype;
        a.dims = new uint64[](1);
        a.dims[0] = n;
        a.nbytes = n * itemSize;
    }

    function _header(Arr[] memory arrs) internal pure returns (bytes memory h) {
        h = abi.encodePacked("fedstake/update/v2", bytes1(0), _u32(CHUNK), _u32(arrs.length));
        uint256 total;
        for (uint256 i; i < arrs.length; ++i) {
            Arr memory a = arrs[i];
            h = bytes.concat(h, _u32(bytes(a.name).length), bytes(a.name), _u32(bytes(a.dtype).length), bytes(a.dtype));
            h = bytes.concat(h, _u32(a.dims.length));
            for (uint256 d; d < a.dims.length; ++d) {
                h = bytes.concat(h, _u64(a.dims[d]));
            }
            h = bytes.concat(h, _u64(a.nbytes));
            total += a.nbytes;
        }
        h = bytes.concat(h, _u64(total));
    }

    function _leafHash(bytes memory d) internal pure returns (bytes32) {
        return sha256(bytes.concat(bytes1(0x00), d));
    }

    function _nodeHash(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), l, r));
    }

    /// @dev header, then the payload cut into CHUNK-byte chunks (the last may be shorter).
    function _preimages(bytes memory header, bytes memory payload) internal pure returns (bytes[] memory pre) {
        uint256 n = (payload.length + CHUNK - 1) / CHUNK;
        pre = new bytes[](n + 1);
        pre[0] = header;
        for (uint256 i; i < n; ++i) {
            uint256 end = (i + 1) * CHUNK < payload.length ? (i + 1) * CHUNK : payload.length;
            bytes memory c = new bytes(end - i * CHUNK);
            for (uint256 j; j < c.length; ++j) {
                c[j] = payload[i * CHUNK + j];
            }
            pre[i + 1] = c;
        }
    }

    /// @dev Root and the path of leaf `index`, padding each level's odd end with the zero subtree of that level.
    function _tree(bytes[] memory pre, uint256 index) internal pure returns (bytes32 root, bytes32[] memory path) {
        bytes32[] memory level = new bytes32[](pre.length);
        for (uint256 i; i < pre.length; ++i) {
            level[i] = _leafHash(pre[i]);
        }
        uint256 depth;
        while ((uint256(1) << depth) < pre.length) ++depth;
        path = new bytes32[](depth);
        bytes32 zero;
        for (uint256 l; l < depth; ++l) {
            uint256 sib = index ^ 1;
            path[l] = sib < level.length ? level[sib] : zero;
            bytes32[] memory up = new bytes32[]((level.length + 1) / 2);
            for (uint256 i; i < up.length; ++i) {
                bytes32 right = 2 * i + 1 < level.length ? level[2 * i + 1] : zero;
                up[i] = _nodeHash(level[2 * i], right);
            }
            level = up;
            zero = _nodeHash(zero, zero);
            index >>= 1;
        }
        root = level[0];
    }

    function _leafProof(bytes[] memory pre, uint256 index)
        internal
        pure
        returns (bytes32 root, IFaultVerifier.LeafProof memory lp)
    {
        bytes32[] memory path;
        (root, path) = _tree(pre, index);
        lp = IFaultVerifier.LeafProof(index, pre[index], path);
    }
}

contract FaultVerifierTest is UpdateTrees {
    FaultVerifier internal fv;
    uint256 internal constant PK = 0xA11CE;
    address internal participant;
    bytes32 internal constant DOMAIN = keccak256("a domain separator");
    bytes32 internal constant GLOBAL = keccak256("global model");
    uint256 internal constant ROUND = 7;
    uint64 internal constant EXAMPLES = 640;

    // the standard layout: w <f4 [1500] @0, b <f2 [10] @6000, c <f8 [100] @6020, i <i4 [8] @6820; 6852 bytes
    uint256 internal constant W = 0;
    uint256 internal constant B = 6000;
    uint256 internal constant C = 6020;
    uint256 internal constant I = 6820;
    uint256 internal constant TOTAL = 6852;

    function setUp() public {
        fv = new FaultVerifier();
        participant = vm.addr(PK);
    }

    // ------------------------------------------------------------------ fixtures

    function _arrays() internal pure returns (Arr[] memory a) {
        a = new Arr[](4);
        a[0] = _arr("w", "<f4", 1500, 4);
        a[1] = _arr("b", "<f2", 10, 2);
        a[2] = _arr("c", "<f8", 100, 8);
        a[3] = _arr("i", "<i4", 8, 4);
    }

    function _ctx(uint8 reason, bytes32 updateHash) internal view returns (IFaultVerifier.FaultContext memory) {
        return IFaultVerifier.FaultContext(reason, ROUND, participant, GLOBAL, updateHash, EXAMPLES, DOMAIN);
    }

    function _poke(bytes memory payload, uint256 pos, bytes memory value) internal pure {
        for (uint256 i; i < value.length; ++i) {
            payload[pos + i] = value[i];
        }
    }

    /// @dev A NON_FINITE proof of the element at payload position `pos` of (header, payload).
    function _nonFinite(bytes memory header, bytes memory payload, uint256 pos)
        internal
        view
        returns (IFaultVerifier.FaultContext memory ctx, bytes memory proof)
    {
        bytes[] memory pre = _preimages(header, payload);
        (bytes32 root, IFaultVerifier.LeafProof memory h) = _leafProof(pre, 0);
        (, IFaultVerifier.LeafProof memory c) = _leafProof(pre, 1 + pos / CHUNK);
        ctx = _ctx(P.REASON_MALFORMED, root);
        proof = abi.encode(fv.NON_FINITE(), h, c, pos % CHUNK);
    }

    /// @dev The standard update with one value at `pos`.
    function _standard(uint256 pos, bytes memory value)
        internal
        view
        returns (IFaultVerifier.FaultContext memory ctx, bytes memory proof)
    {
        bytes memory payload = new bytes(TOTAL);
        _poke(payload, pos, value);
        return _nonFinite(_header(_arrays()), payload, pos);
    }

    function _headerMismatch(Arr[] memory update, Arr[] memory global)
        internal
        view
        returns (IFaultVerifier.FaultContext memory ctx, bytes memory proof)
    {
        bytes[] memory u = _preimages(_header(update), new bytes(TOTAL));
        bytes[] memory g = _preimages(_header(global), new bytes(TOTAL));
        (bytes32 uRoot, IFaultVerifier.LeafProof memory uh) = _leafProof(u, 0);
        (bytes32 gRoot, IFaultVerifier.LeafProof memory gh) = _leafProof(g, 0);
        ctx = IFaultVerifier.FaultContext(P.REASON_MALFORMED, ROUND, participant, gRoot, uRoot, EXAMPLES, DOMAIN);
        proof = abi.encode(fv.HEADER_MISMATCH(), uh, gh, uint256(0));
    }

    function _sign(uint256 pk, bytes32 updateHash, uint64 n) internal pure returns (bytes memory) {
        bytes32 digest = keccak256(
            abi.encodePacked("\x19\x01", DOMAIN, P.commitmentStructHash(ROUND, vm.addr(pk), GLOBAL, updateHash, n))
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _equivocation(bytes32 otherHash, uint64 otherN, uint256 signer)
        internal
        view
        returns (IFaultVerifier.FaultContext memory ctx, bytes memory proof)
    {
        ctx = _ctx(P.REASON_EQUIVOCATION, keccak256("update A"));
        bytes memory sig = _sign(signer, otherHash, otherN);
        if (signer != PK) {
            // signed by someone else, for the participant's commitment
            bytes32 digest = keccak256(
                abi.encodePacked(
                    "\x19\x01", DOMAIN, P.commitmentStructHash(ROUND, participant, GLOBAL, otherHash, otherN)
                )
            );
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(signer, digest);
            sig = abi.encodePacked(r, s, v);
        }
        proof = abi.encode(otherHash, otherN, sig);
    }

    /// @dev Call verifyFault; return whether it passed and, if not, that the revert is one of IFaultVerifier's
    ///      errors (never a panic or an empty revert: the parsing is bounded and safe).
    function _try(IFaultVerifier.FaultContext memory ctx, bytes memory proof) internal view returns (bool ok) {
        bytes memory ret;
        (ok, ret) = address(fv).staticcall(abi.encodeCall(IFaultVerifier.verifyFault, (ctx, proof)));
        if (!ok) {
            assertGe(ret.length, 4, "revert carries an error");
            bytes4 sel = bytes4(ret);
            assertTrue(
                sel == IFaultVerifier.NotProvable.selector || sel == IFaultVerifier.BadProofEncoding.selector
                    || sel == IFaultVerifier.BadLeafProof.selector || sel == IFaultVerifier.BadHeader.selector
                    || sel == IFaultVerifier.BadElement.selector || sel == IFaultVerifier.NoFault.selector
                    || sel == IFaultVerifier.BadEquivocationSignature.selector,
                "a FaultVerifier error"
            );
        }
    }

    function _flip(bytes memory b, uint256 where, uint8 x) internal pure returns (bytes memory c) {
        c = bytes.concat(b);
        c[where] = c[where] ^ bytes1(x);
    }

    // ------------------------------------------------------------------ constants, reasons

    function test_variantCodes() public view {
        assertEq(uint256(fv.HEADER_MISMATCH()), 1, "header mismatch");
        assertEq(uint256(fv.NON_FINITE()), 2, "non-finite");
    }

    function test_judgedReasonsAreNotProvable() public {
        uint8[5] memory judged =
            [P.REASON_FORGED_HASH, P.REASON_BYZANTINE, P.REASON_SYBIL, P.REASON_FREE_RIDER, P.REASON_BAD_EXAMPLES];
        for (uint256 i; i < judged.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NotProvable.selector, judged[i]));
            fv.verifyFault(_ctx(judged[i], GLOBAL), "");
        }
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NotProvable.selector, uint8(0)));
        fv.verifyFault(_ctx(0, GLOBAL), "");
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NotProvable.selector, uint8(9)));
        fv.verifyFault(_ctx(9, GLOBAL), "");
    }

    // ------------------------------------------------------------------ null update

    function test_nullUpdate_proven() public view {
        fv.verifyFault(_ctx(P.REASON_NULL_UPDATE, GLOBAL), "");
    }

    function test_nullUpdate_differentHash_noFault() public {
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_NULL_UPDATE));
        fv.verifyFault(_ctx(P.REASON_NULL_UPDATE, keccak256("an update")), "");
    }

    function test_nullUpdate_nonEmptyProof_reverts() public {
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(_ctx(P.REASON_NULL_UPDATE, GLOBAL), hex"00");
    }

    function testFuzz_nullUpdate(bytes32 updateHash) public view {
        assertEq(_try(_ctx(P.REASON_NULL_UPDATE, updateHash), ""), updateHash == GLOBAL, "iff equal");
    }

    // ------------------------------------------------------------------ equivocation

    function test_equivocation_otherHash_proven() public view {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        fv.verifyFault(ctx, proof);
    }

    function test_equivocation_otherNumExamples_proven() public view {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) =
            _equivocation(keccak256("update A"), EXAMPLES + 1, PK);
        fv.verifyFault(ctx, proof);
    }

    function test_equivocation_sameCommitment_noFault() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) =
            _equivocation(keccak256("update A"), EXAMPLES, PK);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_EQUIVOCATION));
        fv.verifyFault(ctx, proof);
    }

    function test_equivocation_otherSigner_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, 0xB0B);
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        fv.verifyFault(ctx, proof);
    }

    function test_equivocation_otherDomain_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        ctx.domainSeparator = keccak256("another RoundManager");
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        fv.verifyFault(ctx, proof);
        (ctx,) = _equivocation(keccak256("B"), EXAMPLES, PK);
        ctx.roundId = ROUND + 1;
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        fv.verifyFault(ctx, proof);
    }

    function test_equivocation_highS_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        (bytes32 h, uint64 n, bytes memory sig) = abi.decode(proof, (bytes32, uint64, bytes));
        uint256 order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes32 r;
        uint256 s;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        uint8 v = uint8(sig[64]) == 27 ? 28 : 27;
        bytes memory malleated = abi.encodePacked(r, bytes32(order - s), v);
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        fv.verifyFault(ctx, abi.encode(h, n, malleated));
    }

    function test_equivocation_wrongSignatureLength_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        (bytes32 h, uint64 n, bytes memory sig) = abi.decode(proof, (bytes32, uint64, bytes));
        vm.expectRevert(IFaultVerifier.BadEquivocationSignature.selector);
        fv.verifyFault(ctx, abi.encode(h, n, bytes.concat(sig, hex"00")));
    }

    function test_equivocation_nonCanonicalEncoding_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, bytes.concat(proof, bytes32(0))); // trailing word
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, _flip(proof, 0x5f, 0x20)); // offset 0x60 → 0x40
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, _flip(proof, 0x20, 1)); // numExamples above uint64
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, _flip(proof, proof.length - 1, 1)); // padding after the 65 signature bytes
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, hex"");
    }

    function testFuzz_equivocation_validProofPasses(uint256 pk, bytes32 other, uint64 n) public {
        pk = bound(pk, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        participant = vm.addr(pk);
        IFaultVerifier.FaultContext memory ctx = _ctx(P.REASON_EQUIVOCATION, keccak256("update A"));
        bytes memory proof = abi.encode(other, n, _sign(pk, other, n));
        bool same = other == ctx.updateHash && n == ctx.numExamples;
        assertEq(_try(ctx, proof), !same, "proven iff the commitments differ");
    }

    function testFuzz_equivocation_anyAlteredByteReverts(uint256 where, uint8 x) public view {
        vm.assume(x != 0);
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        where = bound(where, 0, proof.length - 1);
        assertFalse(_try(ctx, _flip(proof, where, x)), "altered proof byte");
    }

    // ------------------------------------------------------------------ malformed: header mismatch

    function test_headerMismatch_shape_proven() public view {
        Arr[] memory update = _arrays();
        update[0].dims[0] = 1501;
        update[0].nbytes = 6004;
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        fv.verifyFault(ctx, proof);
    }

    function test_headerMismatch_dtypeAndName_proven() public view {
        Arr[] memory update = _arrays();
        update[1].dtype = "<f4";
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        fv.verifyFault(ctx, proof);
        update = _arrays();
        update[3].name = "j";
        (ctx, proof) = _headerMismatch(update, _arrays());
        fv.verifyFault(ctx, proof);
    }

    function test_headerMismatch_equalHeaders_noFault() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(_arrays(), _arrays());
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_MALFORMED));
        fv.verifyFault(ctx, proof);
    }

    function test_headerMismatch_wrongRoots_revert() public {
        Arr[] memory update = _arrays();
        update[0].dims[0] = 1501;
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        bytes32 u = ctx.updateHash;
        ctx.updateHash = keccak256("other update");
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, uint8(0)));
        fv.verifyFault(ctx, proof);
        ctx.updateHash = u;
        ctx.globalModelHash = keccak256("other model");
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, uint8(1)));
        fv.verifyFault(ctx, proof);
    }

    function test_headerMismatch_nonZeroOffset_reverts() public {
        Arr[] memory update = _arrays();
        update[0].dims[0] = 1501;
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        vm.expectRevert(IFaultVerifier.BadProofEncoding.selector);
        fv.verifyFault(ctx, _flip(proof, 0x7f, 1));
    }

    function test_headerMismatch_chunkLeafInsteadOfHeader_reverts() public {
        Arr[] memory update = _arrays();
        update[0].dims[0] = 1501;
        bytes[] memory u = _preimages(_header(update), new bytes(TOTAL));
        bytes[] memory g = _preimages(_header(_arrays()), new bytes(TOTAL));
        (bytes32 uRoot, IFaultVerifier.LeafProof memory uh) = _leafProof(u, 0);
        (bytes32 gRoot, IFaultVerifier.LeafProof memory gc) = _leafProof(g, 1); // a chunk, not the header
        IFaultVerifier.FaultContext memory ctx =
            IFaultVerifier.FaultContext(P.REASON_MALFORMED, ROUND, participant, gRoot, uRoot, EXAMPLES, DOMAIN);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, uint8(1)));
        fv.verifyFault(ctx, abi.encode(uint8(1), uh, gc, uint256(0)));
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, uint8(0)));
        fv.verifyFault(ctx, abi.encode(uint8(1), gc, uh, uint256(0)));
    }

    function testFuzz_headerMismatch_anyAlteredByteReverts(uint256 where, uint8 x) public view {
        vm.assume(x != 0);
        Arr[] memory update = _arrays();
        update[2].dtype = "<f4";
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        where = bound(where, 0, proof.length - 1);
        assertFalse(_try(ctx, _flip(proof, where, x)), "altered proof byte");
    }

    // ------------------------------------------------------------------ malformed: non-finite value

    function test_nonFinite_f4_nanAndInfinities_proven() public view {
        bytes[3] memory values = [bytes(hex"0000c07f"), hex"0000807f", hex"000080ff"]; // NaN, +Inf, -Inf
        uint256[3] memory positions = [W, W + 4 * 1023, W + 4 * 1499]; // chunk 0 start and end, chunk 1
        for (uint256 i; i < 3; ++i) {
            (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(positions[i], values[i]);
            fv.verifyFault(ctx, proof);
        }
    }

    function test_nonFinite_f2_and_f8_proven() public view {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(B + 2 * 9, hex"007e"); // f2 NaN
        fv.verifyFault(ctx, proof);
        (ctx, proof) = _standard(B, hex"00fc"); // f2 -Inf
        fv.verifyFault(ctx, proof);
        (ctx, proof) = _standard(C + 8 * 99, hex"000000000000f07f"); // f8 +Inf
        fv.verifyFault(ctx, proof);
        (ctx, proof) = _standard(C, hex"010000000000f8ff"); // f8 NaN
        fv.verifyFault(ctx, proof);
    }

    function test_nonFinite_finiteValues_noFault() public {
        bytes[4] memory values = [bytes(hex"0000803f"), hex"ffff7f7f", hex"00000000", hex"0100807e"]; // 1, max, 0
        for (uint256 i; i < values.length; ++i) {
            (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(W + 8, values[i]);
            vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_MALFORMED));
            fv.verifyFault(ctx, proof);
        }
        (IFaultVerifier.FaultContext memory c2, bytes memory p2) = _standard(B, hex"ff7b"); // f2 max
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_MALFORMED));
        fv.verifyFault(c2, p2);
        (c2, p2) = _standard(C, hex"ffffffffffffef7f"); // f8 max
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.NoFault.selector, P.REASON_MALFORMED));
        fv.verifyFault(c2, p2);
    }

    function test_nonFinite_notAFloatArray_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(I, hex"ffffffff");
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadElement.selector, I));
        fv.verifyFault(ctx, proof);
    }

    function test_nonFinite_misalignedOffset_reverts() public {
        // a NaN's bytes seen from one byte later
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(W + 1, hex"00c07fff");
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadElement.selector, W + 1));
        fv.verifyFault(ctx, proof);
    }

    function test_nonFinite_pastThePayload_reverts() public {
        bytes memory payload = new bytes(TOTAL);
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) =
            _nonFinite(_header(_arrays()), payload, TOTAL - 4);
        // same chunk, offset beyond the last chunk's bytes and the payload
        (uint8 v, IFaultVerifier.LeafProof memory h, IFaultVerifier.LeafProof memory c,) =
            abi.decode(proof, (uint8, IFaultVerifier.LeafProof, IFaultVerifier.LeafProof, uint256));
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadElement.selector, TOTAL));
        fv.verifyFault(ctx, abi.encode(v, h, c, TOTAL - CHUNK));
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadElement.selector, type(uint256).max));
        fv.verifyFault(ctx, abi.encode(v, h, c, uint256(1) << 64 | 1));
    }

    function test_nonFinite_headerLeafAsChunk_reverts() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(W, hex"0000c07f");
        (uint8 v, IFaultVerifier.LeafProof memory h,, uint256 off) =
            abi.decode(proof, (uint8, IFaultVerifier.LeafProof, IFaultVerifier.LeafProof, uint256));
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadLeafProof.selector, uint8(1)));
        fv.verifyFault(ctx, abi.encode(v, h, h, off));
    }

    /// @dev A value whose bytes straddle two chunks cannot be proven (the element must lie inside one chunk):
    ///      only possible when an array starts misaligned to its item size (docs/protocol.md).
    function test_nonFinite_straddlingElement_reverts() public {
        Arr[] memory a = new Arr[](2);
        a[0] = _arr("h", "<f2", 1, 2);
        a[1] = _arr("w", "<f4", 2000, 4);
        bytes memory payload = new bytes(8002);
        uint256 pos = 2 + 4 * 1023; // 4094 .. 4098
        _poke(payload, pos, hex"0000c07f");
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _nonFinite(_header(a), payload, pos);
        vm.expectRevert(abi.encodeWithSelector(IFaultVerifier.BadElement.selector, pos));
        fv.verifyFault(ctx, proof);
    }

    function test_nonFinite_unparsableHeader_reverts() public {
        bytes memory good = _header(_arrays());
        bytes memory payload = new bytes(TOTAL);
        _poke(payload, W, hex"0000c07f");
        bytes[6] memory bad = [
            bytes.concat(good, hex"00"), // trailing byte
            _cut(good, good.length - 1), // truncated
            _cut(good, 20), // shorter than tag + sizes
            bytes.concat(hex"67", _tail(good, 1)), // tag
            _withTotal(good, TOTAL + 1), // total ≠ Σ nbytes
            bytes.concat(_cut(good, 23), hex"ffffffff", _tail(good, 27)) // #arrays too large
        ];
        for (uint256 i; i < bad.length; ++i) {
            (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _nonFinite(bad[i], payload, W);
            vm.expectRevert(IFaultVerifier.BadHeader.selector);
            fv.verifyFault(ctx, proof);
        }
        // chunk size 0
        bytes memory zeroChunk = bytes.concat(_cut(good, 19), hex"00000000", _tail(good, 23));
        (IFaultVerifier.FaultContext memory c0, bytes memory p0) = _nonFinite(zeroChunk, payload, W);
        vm.expectRevert(IFaultVerifier.BadHeader.selector);
        fv.verifyFault(c0, p0);
    }

    function testFuzz_nonFinite_randomHeaderNeverPanics(bytes memory header, uint256 pos) public view {
        bytes memory payload = new bytes(TOTAL);
        pos = bound(pos, 0, TOTAL - 1);
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _nonFinite(header, payload, pos);
        assertFalse(_try(ctx, proof), "a zero payload has no non-finite value");
    }

    function testFuzz_nonFinite_truncatedHeaderReverts(uint256 cut) public view {
        bytes memory good = _header(_arrays());
        cut = bound(cut, 0, good.length - 1);
        bytes memory payload = new bytes(TOTAL);
        _poke(payload, W, hex"0000c07f");
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _nonFinite(_cut(good, cut), payload, W);
        assertFalse(_try(ctx, proof), "truncated header");
    }

    function testFuzz_nonFinite_anyAlteredByteReverts(uint256 where, uint8 x) public view {
        vm.assume(x != 0);
        // exactly one non-finite value, in chunk 1: moving the offset cannot find another
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(C + 8 * 7, hex"000000000000f8ff");
        assertTrue(_try(ctx, proof), "valid");
        where = bound(where, 0, proof.length - 1);
        assertFalse(_try(ctx, _flip(proof, where, x)), "altered proof byte");
    }

    function testFuzz_nonFinite_alteredIndexReverts(uint256 index) public view {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _standard(W + 4 * 1100, hex"0000807f");
        (uint8 v, IFaultVerifier.LeafProof memory h, IFaultVerifier.LeafProof memory c, uint256 off) =
            abi.decode(proof, (uint8, IFaultVerifier.LeafProof, IFaultVerifier.LeafProof, uint256));
        vm.assume(index != c.index);
        c.index = index;
        assertFalse(_try(ctx, abi.encode(v, h, c, off)), "altered index");
    }

    /// @dev A well-formed honest update (finite values, the global header) can never be proven malformed:
    ///      random finite values everywhere, any chunk and offset.
    function testFuzz_nonFinite_honestUpdateNeverProven(uint256 seed, uint256 pos) public view {
        bytes memory payload = new bytes(TOTAL);
        for (uint256 i; i < TOTAL; i += 32) {
            bytes32 w = keccak256(abi.encode(seed, i));
            for (uint256 j; j < 32 && i + j < TOTAL; ++j) {
                payload[i + j] = w[j];
            }
        }
        // clear one exponent bit of every float element (the top bit below the sign)
        for (uint256 k; k < 1500; ++k) {
            payload[W + 4 * k + 3] &= 0xBF;
        }
        for (uint256 k; k < 10; ++k) {
            payload[B + 2 * k + 1] &= 0xBF;
        }
        for (uint256 k; k < 100; ++k) {
            payload[C + 8 * k + 7] &= 0xBF;
        }
        pos = bound(pos, 0, TOTAL + 64);
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) =
            _nonFinite(_header(_arrays()), payload, pos < TOTAL ? pos : TOTAL - 1);
        if (pos >= TOTAL) {
            (uint8 v, IFaultVerifier.LeafProof memory h, IFaultVerifier.LeafProof memory c,) =
                abi.decode(proof, (uint8, IFaultVerifier.LeafProof, IFaultVerifier.LeafProof, uint256));
            proof = abi.encode(v, h, c, pos % CHUNK);
        }
        assertFalse(_try(ctx, proof), "honest update");
        // nor its header against the global model (the same arrays)
        (ctx, proof) = _headerMismatch(_arrays(), _arrays());
        assertFalse(_try(ctx, proof), "honest header");
    }

    // ------------------------------------------------------------------ gas

    /// @dev A depth-`depth` tree: the header and a 4 KiB chunk holding a NaN are leaves 0 and 1; the other
    ///      subtrees are stand-in hashes (the path is all the verifier sees).
    function _deepProof(uint256 depth)
        internal
        view
        returns (IFaultVerifier.FaultContext memory ctx, bytes memory proof)
    {
        Arr[] memory a = new Arr[](1);
        a[0] = _arr("layer.weight", "<f4", uint64((((uint256(1) << depth) - 1) * CHUNK) / 4), 4);
        bytes memory header = _header(a);
        bytes memory chunk = new bytes(CHUNK);
        for (uint256 i; i < CHUNK; ++i) {
            chunk[i] = bytes1(uint8(i * 7 + 1) & 0x3f);
        }
        uint256 off = 4 * 777;
        _poke(chunk, off, hex"0000c07f");
        bytes32[] memory hp = new bytes32[](depth);
        bytes32[] memory cp = new bytes32[](depth);
        hp[0] = _leafHash(chunk);
        cp[0] = _leafHash(header);
        bytes32 h = _nodeHash(cp[0], hp[0]);
        for (uint256 l = 1; l < depth; ++l) {
            bytes32 s = keccak256(abi.encode("subtree", l));
            hp[l] = s;
            cp[l] = s;
            h = _nodeHash(h, s);
        }
        ctx = _ctx(P.REASON_MALFORMED, h);
        proof = abi.encode(
            fv.NON_FINITE(), IFaultVerifier.LeafProof(0, header, hp), IFaultVerifier.LeafProof(1, chunk, cp), off
        );
    }

    function _gas(string memory what, IFaultVerifier.FaultContext memory ctx, bytes memory proof) internal {
        bytes memory data = abi.encodeCall(IFaultVerifier.verifyFault, (ctx, proof));
        uint256 g = gasleft();
        (bool ok,) = address(fv).call(data);
        uint256 used = g - gasleft();
        assertTrue(ok, what);
        uint256 z;
        uint256 nz;
        for (uint256 i; i < proof.length; ++i) {
            if (proof[i] == 0) ++z;
            else ++nz;
        }
        log(string.concat(what, ": verifyFault call (cold verifier)"), used);
        log(string.concat(what, ": proof bytes"), proof.length);
        log(string.concat(what, ": proof calldata gas (4/16 per zero/non-zero byte)"), 4 * z + 16 * nz);
        log(string.concat(what, ": proof calldata gas (EIP-7623 floor, 10/40)"), 10 * z + 40 * nz);
    }

    function test_gas_nonFinite_depth10() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _deepProof(10);
        _gas("non-finite 4 KiB depth 10", ctx, proof);
    }

    function test_gas_nonFinite_depth20() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _deepProof(20);
        _gas("non-finite 4 KiB depth 20", ctx, proof);
    }

    function test_gas_equivocation() public {
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _equivocation(keccak256("B"), EXAMPLES, PK);
        _gas("equivocation", ctx, proof);
    }

    function test_gas_headerMismatch() public {
        Arr[] memory update = _arrays();
        update[0].dims[0] = 1501;
        update[0].nbytes = 6004;
        (IFaultVerifier.FaultContext memory ctx, bytes memory proof) = _headerMismatch(update, _arrays());
        _gas("header mismatch (4 arrays, depth 2)", ctx, proof);
    }

    // ------------------------------------------------------------------ byte helpers

    function _cut(bytes memory b, uint256 n) internal pure returns (bytes memory c) {
        c = new bytes(n);
        for (uint256 i; i < n; ++i) {
            c[i] = b[i];
        }
    }

    function _tail(bytes memory b, uint256 from) internal pure returns (bytes memory c) {
        c = new bytes(b.length - from);
        for (uint256 i; i < c.length; ++i) {
            c[i] = b[from + i];
        }
    }

    function _withTotal(bytes memory header, uint256 total) internal pure returns (bytes memory) {
        return bytes.concat(_cut(header, header.length - 8), _u64(total));
    }
}
