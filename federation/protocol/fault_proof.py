"""Provable faults: the proofs the FaultVerifier contract checks at finalize, built and
checked in Python (docs/protocol.md, "Provable faults").

A provable slash needs no arbiter: the contract itself checks the proof against the
participant's signed commitment, and a proof that fails reverts the whole finalize. So the
coordinator must only ever submit proofs that pass, and `verify` must be able to re-check
a finalized round's proofs offline; both use this module, the one Python definition of the
encodings. ``check_fault`` re-implements the contract's checks step by step, in the same
order, and raises the Python twin of the contract's custom error, so a test can compare the
two on any input (tests/test_fault_proofs.py does, with hypothesis).

Encodings (``abi.encode``), by reason:

* NULL_UPDATE: empty; a fault iff the signed update hash equals the global model hash.
* EQUIVOCATION: ``(bytes32 otherUpdateHash, uint64 otherNumExamples, bytes otherSignature)``:
  a second commitment for the same (round, participant, global model), signed by the
  participant under the same EIP-712 domain, differing in update hash or example count.
* MALFORMED: ``(uint8 variant, LeafProof updateHeader, LeafProof second, uint256 offset)``,
  ``LeafProof = (uint256 index, bytes preimage, bytes32[] siblings)`` (update_hash.py's
  ``ChunkProof``): HEADER_MISMATCH — ``second`` is the global model's header leaf and the
  two headers differ (names, dtypes, shapes or chunk size); NON_FINITE — ``second`` is
  the update's chunk holding a float16/32/64 element whose exponent bits are all ones
  (NaN or ±Inf) at byte ``offset``.

Only the canonical ABI encoding is accepted (the contract checks every offset, length and
padding byte), so an altered byte never yields another valid proof of the same evidence.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.messages import SignableMessage
from eth_utils import keccak, to_canonical_address, to_checksum_address

from federation.protocol.eip712 import COMMITMENT_TYPE, Commitment, Domain, _signable
from federation.protocol.slash_reasons import SlashReason
from federation.protocol.update_hash import (
    CHUNK_SIZE,
    DOMAIN_TAG,
    Arrays,
    ChunkProof,
    _items,
    chunk_of_element,
    chunk_proof,
    leaf_hash,
)

__all__ = [
    "BadElementError",
    "BadEquivocationSignatureError",
    "BadHeaderError",
    "BadLeafProofError",
    "BadProofEncodingError",
    "FaultContext",
    "FaultProofError",
    "FaultVariant",
    "HeaderArray",
    "NoFaultError",
    "NotProvableError",
    "ParsedHeader",
    "check_fault",
    "commitment_struct_hash",
    "decode_equivocation",
    "decode_malformed",
    "domain_separator",
    "equivocation_proof",
    "header_mismatch_proof",
    "malformed_fault_proof",
    "malformed_proof",
    "non_finite_proof",
    "null_update_proof",
    "parse_header",
]


class FaultVariant(IntEnum):
    """The MALFORMED proof's variant byte (FaultVerifier.HEADER_MISMATCH / NON_FINITE)."""

    HEADER_MISMATCH = 1
    NON_FINITE = 2


LEAF_TYPE = "(uint256,bytes,bytes32[])"
MALFORMED_TYPES = ["uint8", LEAF_TYPE, LEAF_TYPE, "uint256"]
EQUIVOCATION_TYPES = ["bytes32", "uint64", "bytes"]

#: dtype.str of the arrays a NON_FINITE proof may point into → (item size, exponent mask).
FLOAT_DTYPES: dict[bytes, tuple[int, int]] = {
    b"<f2": (2, 0x7C00),
    b"<f4": (4, 0x7F800000),
    b"<f8": (8, 0x7FF0000000000000),
}
_U64_MAX = 2**64 - 1
_U256_MAX = 2**256 - 1
# secp256k1 group order: OpenZeppelin's ECDSA accepts only s ≤ N / 2 (no malleable twins)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_COMMITMENT_TYPEHASH = keccak(
    ("Commitment(" + ",".join(f"{f['type']} {f['name']}" for f in COMMITMENT_TYPE) + ")").encode()
)


# --------------------------------------------------------------------------- errors


class FaultProofError(ValueError):
    """A proof the FaultVerifier would reject; the subclass names which check failed (the
    contract's custom error of the same name), ``args_onchain`` its arguments."""

    solidity_error = ""

    def __init__(self, *args_onchain: int) -> None:
        self.args_onchain: tuple[int, ...] = tuple(args_onchain)
        detail = ", ".join(str(a) for a in args_onchain)
        super().__init__(f"{self.solidity_error}({detail}): {self.__doc__}")


class NotProvableError(FaultProofError):
    """the reason is not a provable fault"""

    solidity_error = "NotProvable"


class BadProofEncodingError(FaultProofError):
    """the proof is not the canonical encoding for this reason / variant"""

    solidity_error = "BadProofEncoding"


class BadLeafProofError(FaultProofError):
    """a leaf proof does not reach its root (0: the update header, 1: the second leaf)"""

    solidity_error = "BadLeafProof"


class BadHeaderError(FaultProofError):
    """the proven update header does not parse"""

    solidity_error = "BadHeader"


class BadElementError(FaultProofError):
    """the offset is not a whole element of a float array inside the chunk"""

    solidity_error = "BadElement"


class NoFaultError(FaultProofError):
    """the proven data shows no fault"""

    solidity_error = "NoFault"


class BadEquivocationSignatureError(FaultProofError):
    """the second commitment is not signed by the participant"""

    solidity_error = "BadEquivocationSignature"


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class FaultContext:
    """What the RoundManager checked before calling the verifier: the participant signed
    (update_hash, num_examples) for (round_id, global_model_hash) under the domain whose
    EIP-712 separator is ``domain_separator``. The contract's struct adds the reason."""

    round_id: int
    participant: str
    global_model_hash: bytes
    update_hash: bytes
    num_examples: int
    domain_separator: bytes

    @classmethod
    def of(cls, commitment: Commitment, domain: Domain) -> FaultContext:
        """The context of a signed commitment under `domain` (the RoundManager's)."""
        return cls(
            commitment.round_id,
            commitment.participant,
            bytes(commitment.global_model_hash),
            bytes(commitment.update_hash),
            commitment.num_examples,
            domain_separator(domain),
        )

    def as_tuple(self, reason: int) -> tuple[int, int, str, bytes, bytes, int, bytes]:
        """IFaultVerifier.FaultContext, as a contract call argument."""
        return (
            int(reason),
            self.round_id,
            to_checksum_address(self.participant),
            bytes(self.global_model_hash),
            bytes(self.update_hash),
            self.num_examples,
            bytes(self.domain_separator),
        )


def domain_separator(domain: Domain) -> bytes:
    """The EIP-712 domain separator (the RoundManager's ``_domainSeparatorV4()``), from
    eth-account's own encoding (the ``header`` of a typed-data message)."""
    probe = Commitment(0, "0x" + "00" * 20, bytes(32), bytes(32), 0)
    return bytes(_signable(domain, "Commitment", COMMITMENT_TYPE, probe.message()).header)


def commitment_struct_hash(
    round_id: int, participant: str, global_model_hash: bytes, update_hash: bytes, n: int
) -> bytes:
    """FedstakeProtocol.commitmentStructHash: the EIP-712 hashStruct of a Commitment."""
    return keccak(
        encode(
            ["bytes32", "uint256", "address", "bytes32", "bytes32", "uint64"],
            [
                _COMMITMENT_TYPEHASH,
                round_id,
                to_canonical_address(participant),
                bytes(global_model_hash),
                bytes(update_hash),
                n,
            ],
        )
    )


# --------------------------------------------------------------------------- building


def null_update_proof() -> bytes:
    """NULL_UPDATE needs no proof: the contract compares the two hashes it already has."""
    return b""


def equivocation_proof(other_commitment: Commitment, other_signature: bytes) -> bytes:
    """The proof that the participant also signed `other_commitment` (same round,
    participant and global model as the slashed one, another update or example count)."""
    return encode(
        EQUIVOCATION_TYPES,
        [
            bytes(other_commitment.update_hash),
            other_commitment.num_examples,
            bytes(other_signature),
        ],
    )


def malformed_proof(
    variant: FaultVariant, update_header: ChunkProof, second: ChunkProof, offset: int = 0
) -> bytes:
    """Encode a MALFORMED proof from two leaf proofs (update_hash.chunk_proof)."""
    return encode(
        MALFORMED_TYPES,
        [int(variant), _leaf_tuple(update_header), _leaf_tuple(second), offset],
    )


def header_mismatch_proof(update_arrays: Arrays, global_arrays: Arrays) -> bytes | None:
    """A HEADER_MISMATCH proof (the update's names/dtypes/shapes differ from the global
    model's), or None when the two headers are equal (nothing to prove)."""
    update_header = chunk_proof(update_arrays, 0)
    global_header = chunk_proof(global_arrays, 0)
    if update_header.data == global_header.data:
        return None
    return malformed_proof(FaultVariant.HEADER_MISMATCH, update_header, global_header)


def non_finite_proof(update_arrays: Arrays) -> bytes | None:
    """A NON_FINITE proof of the update's first provable non-finite value (NaN or ±Inf in a
    float16/32/64 array), or None if there is none.

    "Provable" because an element whose bytes straddle two chunks cannot be shown with one
    chunk; that only happens when an array starts at a payload offset that is not a
    multiple of its item size, and such an element is skipped for a later one.
    """
    items = _items(update_arrays)
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError("array names must be unique to address an element")
    start = 0
    for name, arr in items:
        spec = FLOAT_DTYPES.get(arr.dtype.str.encode("ascii"))
        if spec is not None and arr.size:
            size = spec[0]
            bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
            if bad.size:
                within = (start + bad * size) % CHUNK_SIZE + size <= CHUNK_SIZE
                provable = bad[within]
                if provable.size:
                    leaf, offset = chunk_of_element(items, name, int(provable[0]))
                    return malformed_proof(
                        FaultVariant.NON_FINITE,
                        chunk_proof(items, 0),
                        chunk_proof(items, leaf),
                        offset,
                    )
        start += arr.nbytes
    return None


def malformed_fault_proof(update_arrays: Arrays, global_arrays: Arrays) -> bytes | None:
    """A MALFORMED proof of whichever fault the update has: a header that differs from the
    global model's first (the cheaper proof), else a non-finite value; None if neither."""
    return header_mismatch_proof(update_arrays, global_arrays) or non_finite_proof(update_arrays)


def _leaf_tuple(p: ChunkProof) -> tuple[int, bytes, list[bytes]]:
    return (p.index, bytes(p.data), [bytes(s) for s in p.path])


# --------------------------------------------------------------------------- decoding


def _decode_canonical(types: Sequence[str], proof: bytes) -> tuple:
    """Decode, and accept only the bytes that re-encode identically: the canonical ABI
    encoding, exactly what the contract's strict calldata decoder accepts."""
    try:
        values = decode(list(types), proof)
    except (DecodingError, OverflowError, ValueError) as exc:
        raise BadProofEncodingError() from exc
    if encode(list(types), list(values)) != proof:
        raise BadProofEncodingError()
    return values


def decode_equivocation(proof: bytes) -> tuple[bytes, int, bytes]:
    """(otherUpdateHash, otherNumExamples, otherSignature) of an EQUIVOCATION proof."""
    other_hash, other_n, sig = _decode_canonical(EQUIVOCATION_TYPES, bytes(proof))
    return bytes(other_hash), int(other_n), bytes(sig)


def decode_malformed(proof: bytes) -> tuple[FaultVariant, ChunkProof, ChunkProof, int]:
    """(variant, update header proof, second leaf proof, offset) of a MALFORMED proof;
    BadProofEncodingError unless canonical with a known variant (and offset 0 for
    HEADER_MISMATCH, where it is unused)."""
    variant, header, second, offset = _decode_canonical(MALFORMED_TYPES, bytes(proof))
    if not (
        variant == FaultVariant.NON_FINITE
        or (variant == FaultVariant.HEADER_MISMATCH and offset == 0)
    ):
        raise BadProofEncodingError()
    return FaultVariant(variant), _chunk(header), _chunk(second), int(offset)


def _chunk(leaf: tuple[int, bytes, Sequence[bytes]]) -> ChunkProof:
    index, data, path = leaf
    return ChunkProof(int(index), bytes(data), tuple(bytes(s) for s in path))


# --------------------------------------------------------------------------- header


@dataclass(frozen=True)
class HeaderArray:
    """One array entry of an update header, with its byte range in the payload."""

    name: bytes
    dtype: bytes
    shape: tuple[int, ...]
    nbytes: int
    start: int


@dataclass(frozen=True)
class ParsedHeader:
    """An update header (docs/protocol.md, "Update hash"), as the contract parses it."""

    chunk_size: int
    arrays: tuple[HeaderArray, ...]
    total: int


def parse_header(data: bytes) -> ParsedHeader:
    """Parse a header leaf's preimage exactly as FaultVerifier does: every read bounds-checked,
    chunk size ≠ 0, total = Σ nbytes, nothing after. BadHeaderError otherwise."""
    n = len(data)
    tag = len(DOMAIN_TAG)
    if n < tag + 8 or data[:tag] != DOMAIN_TAG:
        raise BadHeaderError()
    chunk_size, count = struct.unpack_from("<II", data, tag)
    if chunk_size == 0:
        raise BadHeaderError()
    p = tag + 8
    total = 0
    arrays: list[HeaderArray] = []
    for _ in range(count):
        if p + 4 > n:
            raise BadHeaderError()
        (name_len,) = struct.unpack_from("<I", data, p)
        name = data[p + 4 : p + 4 + name_len]
        p += 4 + name_len
        if p + 4 > n:
            raise BadHeaderError()
        (dtype_len,) = struct.unpack_from("<I", data, p)
        p += 4
        if p + dtype_len > n:
            raise BadHeaderError()
        dtype = data[p : p + dtype_len]
        p += dtype_len
        if p + 4 > n:
            raise BadHeaderError()
        (ndim,) = struct.unpack_from("<I", data, p)
        dims_at = p + 4
        p += 4 + 8 * ndim
        if p + 8 > n:
            raise BadHeaderError()
        shape = struct.unpack_from(f"<{ndim}Q", data, dims_at)
        (nbytes,) = struct.unpack_from("<Q", data, p)
        p += 8
        arrays.append(HeaderArray(name, dtype, tuple(shape), nbytes, total))
        total += nbytes
    if p + 8 != n or struct.unpack_from("<Q", data, p)[0] != total:
        raise BadHeaderError()
    return ParsedHeader(chunk_size, tuple(arrays), total)


# --------------------------------------------------------------------------- checking


def check_fault(reason: int, ctx: FaultContext, proof: bytes) -> None:
    """Raise the FaultProofError the FaultVerifier would revert with, or return if `proof`
    proves `reason` against `ctx` (the contract's checks, in the contract's order)."""
    proof = bytes(proof)
    if reason == SlashReason.NULL_UPDATE:
        if proof:
            raise BadProofEncodingError()
        if bytes(ctx.update_hash) != bytes(ctx.global_model_hash):
            raise NoFaultError(reason)
    elif reason == SlashReason.EQUIVOCATION:
        _check_equivocation(ctx, proof)
    elif reason == SlashReason.MALFORMED:
        _check_malformed(ctx, proof)
    else:
        raise NotProvableError(reason)


def _check_equivocation(ctx: FaultContext, proof: bytes) -> None:
    other_hash, other_n, sig = decode_equivocation(proof)
    if other_hash == bytes(ctx.update_hash) and other_n == ctx.num_examples:
        raise NoFaultError(SlashReason.EQUIVOCATION)
    body = commitment_struct_hash(
        ctx.round_id, ctx.participant, ctx.global_model_hash, other_hash, other_n
    )
    message = SignableMessage(b"\x01", bytes(ctx.domain_separator), body)
    if _recover(message, sig) != to_checksum_address(ctx.participant):
        raise BadEquivocationSignatureError()


def _recover(message: SignableMessage, sig: bytes) -> str | None:
    """OpenZeppelin ECDSA.tryRecover's acceptance: 65 bytes r‖s‖v, v ∈ {27, 28}, 0 < r < N,
    0 < s ≤ N/2 (eth-account alone also takes EIP-155 v values and high s), then the
    recovery itself through eth-account; None where the contract gets no signer."""
    if len(sig) != 65:
        return None
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if v not in (27, 28) or not 0 < r < _SECP256K1_N or not 0 < s <= _SECP256K1_N // 2:
        return None
    try:
        return str(Account.recover_message(message, vrs=(v, r, s)))
    except Exception:  # not a point on the curve: ecrecover returns nothing
        return None


def _verify_leaf(leaf: ChunkProof, root: bytes, which: int) -> None:
    """The leaf must reach `root` with an index that has no bits beyond its path."""
    if leaf.index >> len(leaf.path) != 0 or leaf.root() != bytes(root):
        raise BadLeafProofError(which)


def _check_malformed(ctx: FaultContext, proof: bytes) -> None:
    variant, header, second, offset = decode_malformed(proof)
    if header.index != 0:
        raise BadLeafProofError(0)
    _verify_leaf(header, ctx.update_hash, 0)
    if variant == FaultVariant.HEADER_MISMATCH:
        if second.index != 0:
            raise BadLeafProofError(1)
        _verify_leaf(second, ctx.global_model_hash, 1)
        if leaf_hash(second.data) == leaf_hash(header.data):
            raise NoFaultError(SlashReason.MALFORMED)
        return
    if second.index == 0:
        raise BadLeafProofError(1)
    _verify_leaf(second, ctx.update_hash, 1)
    _check_non_finite(header, second, offset)


def _check_non_finite(header: ChunkProof, second: ChunkProof, offset: int) -> None:
    parsed = parse_header(header.data)
    if second.index - 1 > _U64_MAX or offset > _U64_MAX:
        pos = _U256_MAX
    else:
        pos = (second.index - 1) * parsed.chunk_size + offset
    holder = next((a for a in parsed.arrays if a.start <= pos < a.start + a.nbytes), None)
    size, mask = FLOAT_DTYPES.get(holder.dtype, (0, 0)) if holder is not None else (0, 0)
    if (
        holder is None
        or size == 0
        or (pos - holder.start) % size
        or pos + size > holder.start + holder.nbytes
        or len(second.data) > parsed.chunk_size
        or offset + size > len(second.data)
    ):
        raise BadElementError(pos)
    bits = int.from_bytes(second.data[offset : offset + size], "little")
    if bits & mask != mask:
        raise NoFaultError(SlashReason.MALFORMED)
