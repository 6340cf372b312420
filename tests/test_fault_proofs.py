"""Python's fault proofs and the FaultVerifier contract agree (hypothesis, embedded chain).

`federation.protocol.fault_proof` builds the proofs the coordinator submits and re-checks
them the way the contract does; here both run on the same inputs: every valid proof of each
provable fault passes in both; any altered byte of a chunk, path, header, index or signature
fails in both, with the same error; a finite update with the global header can never be
proven NON_FINITE (any leaf, any offset); arbitrary header bytes and arbitrary proof bytes
get the same answer from both. The verifier is deployed from the exported artifact
(federation/artifacts/FaultVerifier.json).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import keccak, to_canonical_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from web3.contract import Contract

from federation.chain import connect
from federation.deploy import load_artifact
from federation.protocol.eip712 import (
    COMMITMENT_TYPE,
    Commitment,
    Domain,
    _signable,
    sign_commitment,
)
from federation.protocol.fault_proof import (
    FaultContext,
    FaultProofError,
    FaultVariant,
    check_fault,
    commitment_struct_hash,
    decode_equivocation,
    decode_malformed,
    domain_separator,
    equivocation_proof,
    header_mismatch_proof,
    malformed_fault_proof,
    malformed_proof,
    non_finite_proof,
    null_update_proof,
    parse_header,
)
from federation.protocol.slash_reasons import PROVABLE, SlashReason, is_provable
from federation.protocol.update_hash import (
    CHUNK_SIZE,
    ChunkProof,
    chunk_proof,
    header_bytes,
    leaf_hash,
    node_hash,
    update_hash,
)
from federation.revert import is_revert, revert_data_from
from strategies.scoring_types import ReasonCode

CHAIN = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DOMAIN = Domain(31337, "0x" + "5a" * 20)
KEYS = [Account.from_key(keccak(text=f"fault-proof key {i}")) for i in range(3)]
MALFORMED, EQUIVOCATION, NULL = (
    SlashReason.MALFORMED,
    SlashReason.EQUIVOCATION,
    SlashReason.NULL_UPDATE,
)
Outcome = tuple[str, tuple[int, ...]] | None


# ----------------------------------------------------------------------------- chain


@pytest.fixture(scope="module")
def verifier() -> Iterator[Contract]:
    chain = connect("inprocess://")
    art = load_artifact("FaultVerifier")
    w3 = chain.w3
    tx = (
        w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        .constructor()
        .transact({"from": chain.dev_signers()[0].address})
    )
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    yield w3.eth.contract(address=address, abi=art.abi)
    chain.close()


def _errors(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    out = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item["inputs"]]
            sig = f"{item['name']}({','.join(types)})"
            out[keccak(text=sig)[:4]] = (item["name"], types)
    return out


def onchain(verifier: Contract, reason: int, ctx: FaultContext, proof: bytes) -> Outcome:
    """None if verifyFault passes, else (custom error, its arguments)."""
    try:
        verifier.functions.verifyFault(ctx.as_tuple(reason), proof).call()
    except Exception as exc:
        if not is_revert(exc):
            raise
        data = revert_data_from(exc) or b""
        known = _errors(verifier.abi).get(data[:4])
        # a panic or an empty revert would mean unsafe parsing: never expected
        assert known is not None, f"verifyFault reverted without a FaultVerifier error: {exc}"
        name, types = known
        return name, tuple(int(v) for v in decode(types, data[4:]))
    return None


def offchain(reason: int, ctx: FaultContext, proof: bytes) -> Outcome:
    try:
        check_fault(reason, ctx, proof)
    except FaultProofError as exc:
        return exc.solidity_error, exc.args_onchain
    return None


def both(verifier: Contract, reason: int, ctx: FaultContext, proof: bytes) -> Outcome:
    """The one answer Python and the contract agree on."""
    mine = offchain(reason, ctx, proof)
    theirs = onchain(verifier, reason, ctx, proof)
    assert mine == theirs, f"python {mine} != contract {theirs}"
    return mine


# ----------------------------------------------------------------------------- data

FLOATS = [np.float16, np.float32, np.float64]
names = st.text(alphabet="abcdefghij._", min_size=1, max_size=6)


@st.composite
def layouts(draw: st.DrawFn, min_arrays: int = 1) -> list[tuple[str, Any, tuple[int, ...]]]:
    """Array names (unique), float/int dtypes and shapes; up to ~12 KiB of payload."""
    n = draw(st.integers(min_arrays, 4))
    keys = draw(st.lists(names, min_size=n, max_size=n, unique=True))
    out = []
    for k in keys:
        dtype = draw(st.sampled_from([*FLOATS, np.float32, np.int32]))
        shape = tuple(draw(st.lists(st.integers(1, 40), min_size=1, max_size=3)))
        out.append((k, dtype, shape))
    return out


def _fill(layout: list[tuple[str, Any, tuple[int, ...]]], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, dtype, shape in layout:
        if np.issubdtype(dtype, np.floating):
            arrays[name] = (rng.standard_normal(shape) * 1e3).astype(dtype)
        else:
            arrays[name] = rng.integers(-(2**31), 2**31 - 1, shape, dtype=np.int64).astype(dtype)
    return arrays


def _ctx(arrays: dict[str, np.ndarray], global_arrays: dict[str, np.ndarray]) -> FaultContext:
    c = Commitment(5, KEYS[0].address, update_hash(global_arrays), update_hash(arrays), 77)
    return FaultContext.of(c, DOMAIN)


def _float_names(arrays: dict[str, np.ndarray]) -> list[str]:
    return [k for k, a in arrays.items() if a.dtype.kind == "f"]


# ----------------------------------------------------------------------------- definitions


def test_reason_codes_and_provable_set() -> None:
    assert {r.name: int(r) for r in SlashReason} == {r.name: int(r) for r in ReasonCode}
    assert {SlashReason.MALFORMED, SlashReason.EQUIVOCATION, SlashReason.NULL_UPDATE} == PROVABLE
    assert [r for r in range(10) if is_provable(r)] == [1, 6, 7]


def test_variant_codes_match_the_contract(verifier: Contract) -> None:
    assert verifier.functions.HEADER_MISMATCH().call() == FaultVariant.HEADER_MISMATCH
    assert verifier.functions.NON_FINITE().call() == FaultVariant.NON_FINITE


def test_struct_hash_and_domain_separator_are_eip712() -> None:
    c = Commitment(9, KEYS[1].address, b"\x01" * 32, b"\x02" * 32, 3)
    signable = _signable(DOMAIN, "Commitment", COMMITMENT_TYPE, c.message())
    assert commitment_struct_hash(*c.as_tuple()) == signable.body
    typehash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        typehash
        + keccak(text="fedstake")
        + keccak(text="1")
        + DOMAIN.chain_id.to_bytes(32, "big")
        + bytes(12)
        + to_canonical_address(DOMAIN.verifying_contract)
    )
    assert domain_separator(DOMAIN) == expected


def test_judged_reasons_are_not_provable_in_both(verifier: Contract) -> None:
    ctx = _ctx({"w": np.zeros(3, np.float32)}, {"w": np.zeros(3, np.float32)})
    for reason in [0, 2, 3, 4, 5, 8, 9, 255]:
        assert both(verifier, reason, ctx, b"") == ("NotProvable", (reason,))


# ----------------------------------------------------------------------------- null update


@CHAIN
@given(same=st.booleans(), h=st.binary(min_size=32, max_size=32), extra=st.binary(max_size=40))
def test_null_update(verifier: Contract, same: bool, h: bytes, extra: bytes) -> None:
    g = b"\x11" * 32
    ctx = FaultContext(1, KEYS[0].address, g, g if same else h, 1, domain_separator(DOMAIN))
    expect = None if same or h == g else ("NoFault", (int(NULL),))
    assert both(verifier, NULL, ctx, null_update_proof()) == expect
    if extra:
        assert both(verifier, NULL, ctx, extra) == ("BadProofEncoding", ())


# ----------------------------------------------------------------------------- equivocation


def _equivocation_case(
    key: int, other_hash: bytes, other_n: int, round_id: int
) -> tuple[FaultContext, Commitment, bytes]:
    me = KEYS[key]
    c = Commitment(round_id, me.address, b"\x33" * 32, b"\x44" * 32, 100)
    other = dataclasses.replace(c, update_hash=other_hash, num_examples=other_n)
    return FaultContext.of(c, DOMAIN), other, sign_commitment(DOMAIN, other, me.key)


@CHAIN
@given(
    key=st.integers(0, 2),
    other_hash=st.one_of(st.just(b"\x44" * 32), st.binary(min_size=32, max_size=32)),
    other_n=st.one_of(st.just(100), st.integers(0, 2**64 - 1)),
    round_id=st.integers(0, 2**256 - 1),
)
def test_equivocation_valid_proofs_pass_in_both(
    verifier: Contract, key: int, other_hash: bytes, other_n: int, round_id: int
) -> None:
    ctx, other, sig = _equivocation_case(key, other_hash, other_n, round_id)
    proof = equivocation_proof(other, sig)
    assert decode_equivocation(proof) == (other_hash, other_n, sig)
    same = other_hash == ctx.update_hash and other_n == ctx.num_examples
    assert both(verifier, EQUIVOCATION, ctx, proof) == (
        ("NoFault", (int(EQUIVOCATION),)) if same else None
    )


@CHAIN
@given(data=st.data())
def test_equivocation_any_altered_byte_fails_in_both(
    verifier: Contract, data: st.DataObject
) -> None:
    ctx, other, sig = _equivocation_case(0, b"\x55" * 32, 7, 3)
    proof = bytearray(equivocation_proof(other, sig))
    at = data.draw(st.integers(0, len(proof) - 1))
    proof[at] ^= data.draw(st.integers(1, 255))
    assert both(verifier, EQUIVOCATION, ctx, bytes(proof)) is not None


@CHAIN
@given(sig=st.binary(min_size=0, max_size=70), v=st.sampled_from([0, 1, 27, 28, 37, 38]))
def test_equivocation_odd_signatures_agree(verifier: Contract, sig: bytes, v: int) -> None:
    """Lengths other than 65, EIP-155 v values, high s, junk: Python accepts exactly what
    OpenZeppelin's ECDSA does."""
    ctx, other, good = _equivocation_case(1, b"\x66" * 32, 1, 1)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(good[32:64], "big")
    for candidate in (
        sig,
        good[:64] + bytes([v]),
        good[:32] + (n - s).to_bytes(32, "big") + bytes([v]),
    ):
        out = both(verifier, EQUIVOCATION, ctx, equivocation_proof(other, candidate))
        assert out == ("BadEquivocationSignature", ()) or candidate == good


# ----------------------------------------------------------------------------- malformed


@CHAIN
@given(layout=layouts(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_non_finite_valid_proof_passes_in_both(
    verifier: Contract, layout: list, seed: int, data: st.DataObject
) -> None:
    arrays = _fill(layout, seed)
    floats = _float_names(arrays)
    assume(floats)
    global_arrays = {k: np.zeros_like(a) for k, a in arrays.items()}
    assert non_finite_proof(arrays) is None
    name = data.draw(st.sampled_from(floats))
    flat = arrays[name].reshape(-1)
    i = data.draw(st.integers(0, flat.size - 1))
    flat[i] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    proof = non_finite_proof(arrays)
    ctx = _ctx(arrays, global_arrays)
    if proof is None:
        # only a value straddling two chunks is unprovable (an array misaligned to its items)
        variant = None
    else:
        variant, header, second, _ = decode_malformed(proof)
        assert variant == FaultVariant.NON_FINITE and header.index == 0 and second.index >= 1
        assert both(verifier, MALFORMED, ctx, proof) is None
        assert malformed_fault_proof(arrays, global_arrays) == proof
    start = sum(a.nbytes for a in list(arrays.values())[: list(arrays).index(name)])
    pos = start + i * arrays[name].itemsize
    straddles = pos % CHUNK_SIZE + arrays[name].itemsize > CHUNK_SIZE
    assert variant is not None or straddles


def _alter(p: ChunkProof, part: str, at: int, x: int) -> ChunkProof:
    if part == "data":
        data = bytearray(p.data)
        data[at % len(data)] ^= x
        return dataclasses.replace(p, data=bytes(data))
    if part == "path":
        assume(p.path)
        k = at % len(p.path)
        sib = bytearray(p.path[k])
        sib[at % 32] ^= x
        return dataclasses.replace(p, path=(*p.path[:k], bytes(sib), *p.path[k + 1 :]))
    return dataclasses.replace(p, index=p.index ^ (x << (at % 16)))


@CHAIN
@given(
    layout=layouts(),
    seed=st.integers(0, 2**32 - 1),
    leaf=st.sampled_from(["header", "second"]),
    part=st.sampled_from(["data", "path", "index"]),
    at=st.integers(0, 2**16),
    x=st.integers(1, 255),
)
def test_non_finite_altered_chunk_path_header_index_fails_in_both(
    verifier: Contract, layout: list, seed: int, leaf: str, part: str, at: int, x: int
) -> None:
    arrays = _fill(layout, seed)
    floats = _float_names(arrays)
    assume(floats)
    arrays[floats[0]].reshape(-1)[0] = np.nan
    proof = non_finite_proof(arrays)
    assume(proof is not None)
    _, header, second, offset = decode_malformed(proof)
    if leaf == "header":
        header = _alter(header, part, at, x)
    else:
        second = _alter(second, part, at, x)
    altered = malformed_proof(FaultVariant.NON_FINITE, header, second, offset)
    ctx = _ctx(arrays, arrays)
    assert both(verifier, MALFORMED, ctx, altered) is not None


@CHAIN
@given(layout=layouts(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_header_mismatch_valid_and_altered(
    verifier: Contract, layout: list, seed: int, data: st.DataObject
) -> None:
    global_arrays = _fill(layout, seed)
    change = data.draw(st.sampled_from(["shape", "dtype", "name", "drop", "same"]))
    arrays = dict(global_arrays)
    k = data.draw(st.sampled_from(list(arrays)))
    if change == "shape":
        arrays[k] = np.zeros(arrays[k].size + 1, arrays[k].dtype)
    elif change == "dtype":
        arrays[k] = arrays[k].astype(np.float64 if arrays[k].dtype != np.float64 else np.float32)
    elif change == "name":
        arrays = {(n + "x" if n == k else n): a for n, a in arrays.items()}
    elif change == "drop" and len(arrays) > 1:
        del arrays[k]
    ctx = _ctx(arrays, global_arrays)
    proof = header_mismatch_proof(arrays, global_arrays)
    if header_bytes(arrays) == header_bytes(global_arrays):
        assert proof is None
        forced = malformed_proof(
            FaultVariant.HEADER_MISMATCH, chunk_proof(arrays, 0), chunk_proof(global_arrays, 0)
        )
        assert both(verifier, MALFORMED, ctx, forced) == ("NoFault", (int(MALFORMED),))
        return
    assert proof is not None
    assert both(verifier, MALFORMED, ctx, proof) is None
    _, uh, gh, _ = decode_malformed(proof)
    which = data.draw(st.sampled_from(["update", "global"]))
    part = data.draw(st.sampled_from(["data", "path", "index"]))
    at, x = data.draw(st.integers(0, 2**16)), data.draw(st.integers(1, 255))
    if which == "update":
        uh = _alter(uh, part, at, x)
    else:
        gh = _alter(gh, part, at, x)
    altered = malformed_proof(FaultVariant.HEADER_MISMATCH, uh, gh)
    assert both(verifier, MALFORMED, ctx, altered) is not None


@CHAIN
@given(
    layout=layouts(),
    seed=st.integers(0, 2**32 - 1),
    leaf=st.integers(1, 2**16),
    offset=st.one_of(st.integers(0, CHUNK_SIZE + 16), st.integers(0, 2**256 - 1)),
)
def test_finite_update_with_the_global_header_is_never_proven(
    verifier: Contract, layout: list, seed: int, leaf: int, offset: int
) -> None:
    """A well-formed honest update (finite values, the global model's header) cannot be
    proven malformed: no leaf, no offset, and not its header."""
    arrays = _fill(layout, seed)
    global_arrays = {k: np.zeros_like(a) for k, a in arrays.items()}
    chunks = -(-sum(a.nbytes for a in arrays.values()) // CHUNK_SIZE)
    ctx = _ctx(arrays, global_arrays)
    proof = malformed_proof(
        FaultVariant.NON_FINITE,
        chunk_proof(arrays, 0),
        chunk_proof(arrays, 1 + (leaf - 1) % chunks),
        offset,
    )
    assert both(verifier, MALFORMED, ctx, proof) is not None
    assert malformed_fault_proof(arrays, global_arrays) is None
    forced = malformed_proof(
        FaultVariant.HEADER_MISMATCH, chunk_proof(arrays, 0), chunk_proof(global_arrays, 0)
    )
    assert both(verifier, MALFORMED, ctx, forced) == ("NoFault", (int(MALFORMED),))


@CHAIN
@given(
    header=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda h, cut, x: h[:cut] + bytes([h[cut % len(h)] ^ x]) + h[cut + 1 :],
            st.just(header_bytes({"a": np.zeros(3, np.float32), "b": np.zeros(2, np.float16)})),
            st.integers(0, 60),
            st.integers(0, 255),
        ),
    ),
    cut=st.integers(0, 80),
)
def test_arbitrary_header_bytes_agree(verifier: Contract, header: bytes, cut: int) -> None:
    """A participant may sign a tree over any header bytes: parsing them is bounded and safe
    in both (never a panic), and both answer alike."""
    chunk = np.full(64, np.nan, np.float32).tobytes()
    for h in (header, header[:cut]):
        root = node_hash(leaf_hash(h), leaf_hash(chunk))
        ctx = FaultContext(2, KEYS[0].address, bytes(32), root, 1, domain_separator(DOMAIN))
        proof = malformed_proof(
            FaultVariant.NON_FINITE,
            ChunkProof(0, h, (leaf_hash(chunk),)),
            ChunkProof(1, chunk, (leaf_hash(h),)),
            0,
        )
        out = both(verifier, MALFORMED, ctx, proof)
        try:
            parse_header(h)
        except FaultProofError:
            assert out == ("BadHeader", ())


@CHAIN
@given(proof=st.binary(max_size=600), reason=st.sampled_from([MALFORMED, EQUIVOCATION]))
def test_arbitrary_proof_bytes_agree(verifier: Contract, proof: bytes, reason: int) -> None:
    ctx = _ctx({"w": np.zeros(4, np.float32)}, {"w": np.ones(4, np.float32)})
    assert both(verifier, reason, ctx, proof) is not None


def test_malformed_encoding_is_strict(verifier: Contract) -> None:
    arrays = {"w": np.array([1.0, np.nan], np.float32)}
    ctx = _ctx(arrays, arrays)
    proof = non_finite_proof(arrays)
    assert proof is not None and both(verifier, MALFORMED, ctx, proof) is None
    bad = ("BadProofEncoding", ())
    assert both(verifier, MALFORMED, ctx, proof + bytes(32)) == bad
    assert both(verifier, MALFORMED, ctx, proof[:-32]) == bad
    assert both(verifier, MALFORMED, ctx, bytes([0] * 31 + [3]) + proof[32:]) == bad  # variant
    _, h, s, _ = decode_malformed(proof)
    as_mismatch = malformed_proof(FaultVariant.HEADER_MISMATCH, h, s, 4)  # offset must be 0
    assert both(verifier, MALFORMED, ctx, as_mismatch) == bad
    # the header leaf given as the chunk, and a chunk as the header
    assert both(verifier, MALFORMED, ctx, malformed_proof(FaultVariant.NON_FINITE, h, h, 4)) == (
        "BadLeafProof",
        (1,),
    )
    assert both(verifier, MALFORMED, ctx, malformed_proof(FaultVariant.NON_FINITE, s, s, 4)) == (
        "BadLeafProof",
        (0,),
    )
