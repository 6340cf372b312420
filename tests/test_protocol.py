"""The cross-language facts in federation/protocol against docs/protocol.md and the Solidity."""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.protocol import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    Commitment,
    Domain,
    MerkleTree,
    NodeBinding,
    SlashReason,
    participant_leaf,
    recover_commitment,
    result_leaf,
    sign_commitment,
    sign_node_binding,
    update_hash,
    verify_commitment,
    verify_node_binding,
    verify_proof,
)
from federation.protocol.eip712 import COMMITMENT_TYPE
from federation.protocol.update_hash import (
    CHUNK_SIZE,
    ChunkProof,
    chunk_of_element,
    chunk_proof,
    header_bytes,
    verify_chunk,
)

SOL = Path(__file__).resolve().parents[1] / "contracts/src/libraries/FedstakeProtocol.sol"
KEY = Account.from_key("0x" + "42" * 32)
DOMAIN = Domain(31337, "0x" + "12" * 20)


# ---- update hash ---------------------------------------------------------------------------
def _spec_hash(arrays: list[tuple[str, np.ndarray]], chunk: int = 4096) -> bytes:
    """docs/protocol.md's update hash written out literally, as an independent oracle: the
    whole payload in memory, leaves zero-padded to a power of two, the tree built naively."""
    header = b"fedstake/update/v2\x00" + struct.pack("<II", chunk, len(arrays))
    payload = b""
    for name, a in arrays:
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<")))
        n, d = name.encode(), a.dtype.str.encode()
        header += struct.pack("<I", len(n)) + n + struct.pack("<I", len(d)) + d
        header += struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", x) for x in a.shape)
        header += struct.pack("<Q", a.nbytes)
        payload += a.tobytes()
    header += struct.pack("<Q", len(payload))
    pieces = [header] + [payload[i : i + chunk] for i in range(0, len(payload), chunk)]
    nodes = [hashlib.sha256(b"\x00" + x).digest() for x in pieces]
    while len(nodes) & (len(nodes) - 1):
        nodes.append(bytes(32))  # 32 zero bytes: a padding leaf
    while len(nodes) > 1:
        nodes = [
            hashlib.sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest()
            for i in range(0, len(nodes), 2)
        ]
    return nodes[0]


def test_update_hash_golden_vector() -> None:
    arrays = [("w", np.arange(6, dtype="<f4").reshape(2, 3)), ("b", np.array([1, -2], "<i8"))]
    assert update_hash(arrays) == _spec_hash(arrays)
    # pinned: a change here breaks every signed commitment in the wild
    assert update_hash(dict(arrays)).hex() == (
        "ec567bf6304092074d82f0396713572befa9cf6a815911f71f7c1415cb39b999"
    )


def test_update_hash_of_many_chunks_across_array_boundaries() -> None:
    """Chunks straddling arrays, a short last chunk, a tree with padding, several threads."""
    rng = np.random.default_rng(1)
    arrays = [
        ("a", rng.standard_normal(1500).astype("<f4")),  # 6000 bytes: 1.46 chunks
        ("b", rng.standard_normal((7, 300)).astype("<f8")),  # 16800 bytes
        ("c", np.arange(5, dtype="|u1")),
    ]
    want = _spec_hash(arrays)
    assert update_hash(arrays) == want
    assert update_hash(arrays, threads=3) == want
    assert update_hash([], threads=1) == _spec_hash([])  # a header-only tree: one leaf


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.sampled_from(["<f4", "<f8", ">f4", "<i4", "|u1"]),
            st.lists(st.integers(1, 4), min_size=0, max_size=3),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    )
)
@settings(max_examples=40, deadline=None)
def test_update_hash_matches_spec(specs: list[tuple[str, str, list[int]]]) -> None:
    rng = np.random.default_rng(0)
    arrays = [
        (name, (rng.standard_normal(shape) * 10).astype(dtype)) for name, dtype, shape in specs
    ]
    assert update_hash(arrays) == _spec_hash(arrays)


def _proof_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    return {
        "w": rng.standard_normal((40, 80)).astype("<f4"),  # 12800 bytes
        "b": rng.standard_normal(80).astype("<f4"),  # 320: 4 chunks in all
    }


def test_every_leaf_has_a_proof_to_the_signed_root() -> None:
    arrays = _proof_arrays()
    root = update_hash(arrays)
    leaves = 1 + -(-(40 * 80 * 4 + 80 * 4) // CHUNK_SIZE)
    for index in range(leaves):
        proof = chunk_proof(arrays, index)
        assert verify_chunk(root, proof) and len(proof.path) == 3  # 5 leaves, padded to 8
    assert chunk_proof(arrays, 0).data == header_bytes(arrays)
    payload = arrays["w"].tobytes() + arrays["b"].tobytes()
    assert chunk_proof(arrays, 2).data == payload[CHUNK_SIZE : 2 * CHUNK_SIZE]
    with pytest.raises(IndexError):
        chunk_proof(arrays, leaves)


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_any_altered_byte_of_a_proof_fails(data: st.DataObject) -> None:
    """Flip one bit of the chunk, of any path node, or move the index: the proof no longer
    leads to the signed root."""
    arrays = _proof_arrays()
    root = update_hash(arrays)
    proof = chunk_proof(arrays, data.draw(st.integers(0, 3)))
    part = data.draw(st.sampled_from(["data", "path", "index"]))
    if part == "data":
        at = data.draw(st.integers(0, len(proof.data) - 1))
        bit = 1 << data.draw(st.integers(0, 7))
        forged = bytearray(proof.data)
        forged[at] ^= bit
        bad = ChunkProof(proof.index, bytes(forged), proof.path)
    elif part == "path":
        level = data.draw(st.integers(0, len(proof.path) - 1))
        node = bytearray(proof.path[level])
        node[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
        bad = ChunkProof(
            proof.index, proof.data, (*proof.path[:level], bytes(node), *proof.path[level + 1 :])
        )
    else:
        other = data.draw(st.integers(0, 7).filter(lambda i: i != proof.index))
        bad = ChunkProof(other, proof.data, proof.path)
    assert not verify_chunk(root, bad)


def test_a_nan_is_located_in_its_chunk() -> None:
    arrays = _proof_arrays()
    arrays["w"].reshape(-1)[1500] = np.nan
    leaf, offset = chunk_of_element(arrays, "w", 1500)
    assert (leaf, offset) == (1 + 6000 // CHUNK_SIZE, 6000 % CHUNK_SIZE)
    proof = chunk_proof(arrays, leaf)
    assert verify_chunk(update_hash(arrays), proof)
    value = np.frombuffer(proof.data[offset : offset + 4], "<f4")[0]
    assert np.isnan(value)
    assert chunk_of_element(arrays, "b", 0) == (1 + 12800 // CHUNK_SIZE, 12800 % CHUNK_SIZE)


def test_update_hash_is_order_and_layout_sensitive_but_byte_order_free() -> None:
    a, b = np.ones((2, 2), "<f4"), np.zeros(3, "<f4")
    assert update_hash([("a", a), ("b", b)]) != update_hash([("b", b), ("a", a)])
    assert update_hash([("a", a)]) != update_hash([("a", a.reshape(4))])
    assert update_hash([("a", a)]) != update_hash([("a", a.astype("<f8"))])
    assert update_hash([("a", a)]) == update_hash([("a", a.astype(">f4"))])
    m = np.arange(6, dtype="<f4").reshape(2, 3)
    assert update_hash([("m", m.T)]) == update_hash([("m", np.ascontiguousarray(m.T))])


# ---- Merkle --------------------------------------------------------------------------------
def test_leaf_encodings_are_double_hashed_abi_encode() -> None:
    p = "0x" + "ab" * 20
    assert participant_leaf(7, p) == keccak(keccak(encode(["uint256", "address"], [7, p])))
    u = b"\x05" * 32
    assert result_leaf(7, p, u, 9, 10) == keccak(
        keccak(encode(["uint256", "address", "bytes32", "uint256", "uint256"], [7, p, u, 9, 10]))
    )


def test_single_leaf_tree() -> None:
    leaf = participant_leaf(1, "0x" + "01" * 20)
    tree = MerkleTree([leaf])
    assert tree.root == leaf and tree.proof(leaf) == []


def test_duplicates_and_empty_rejected() -> None:
    leaf = participant_leaf(1, "0x" + "01" * 20)
    with pytest.raises(ValueError, match="duplicate"):
        MerkleTree([leaf, leaf])
    with pytest.raises(ValueError, match="at least one"):
        MerkleTree([])


@given(
    st.lists(st.binary(min_size=20, max_size=20), min_size=1, max_size=70, unique=True),
    st.randoms(use_true_random=False),
)
@settings(max_examples=60, deadline=None)
def test_every_proof_verifies_and_root_ignores_order(addrs: list[bytes], rnd) -> None:
    leaves = [participant_leaf(3, "0x" + a.hex()) for a in addrs]
    tree = MerkleTree(leaves)
    shuffled = list(leaves)
    rnd.shuffle(shuffled)
    assert MerkleTree(shuffled).root == tree.root
    for leaf in leaves:
        proof = tree.proof(leaf)
        assert verify_proof(proof, tree.root, leaf)
        assert len(proof) <= max(1, len(leaves)).bit_length()
    assert not verify_proof(
        tree.proof(leaves[0]), tree.root, participant_leaf(4, "0x" + addrs[0].hex())
    )


# ---- EIP-712 -------------------------------------------------------------------------------
def _commitment(round_id: int = 1) -> Commitment:
    return Commitment(round_id, KEY.address, b"\x01" * 32, b"\x02" * 32, 100)


def test_sign_recover_verify() -> None:
    c = _commitment()
    sig = sign_commitment(DOMAIN, c, KEY.key)
    assert len(sig) == 65 and sig[64] in (27, 28)
    s = int.from_bytes(sig[32:64], "big")
    assert s <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0  # low-s
    assert recover_commitment(DOMAIN, c, sig) == KEY.address
    assert verify_commitment(DOMAIN, c, sig)


@pytest.mark.parametrize(
    "other",
    [
        Domain(1, DOMAIN.verifying_contract),
        Domain(DOMAIN.chain_id, "0x" + "34" * 20),
        Domain(DOMAIN.chain_id, DOMAIN.verifying_contract, version="2"),
    ],
    ids=["other-chain", "other-contract", "other-version"],
)
def test_signature_bound_to_domain(other: Domain) -> None:
    sig = sign_commitment(DOMAIN, _commitment(), KEY.key)
    assert not verify_commitment(other, _commitment(), sig)


def test_signature_bound_to_round_and_signer() -> None:
    sig = sign_commitment(DOMAIN, _commitment(1), KEY.key)
    assert not verify_commitment(DOMAIN, _commitment(2), sig)
    impostor = Commitment(1, "0x" + "99" * 20, b"\x01" * 32, b"\x02" * 32, 100)
    assert not verify_commitment(DOMAIN, impostor, sig)
    assert not verify_commitment(DOMAIN, _commitment(1), b"\x00" * 65)


def test_node_binding() -> None:
    b = NodeBinding(KEY.address, 12345, b"\x07" * 32, expiry=2_000)
    sig = sign_node_binding(DOMAIN, b, KEY.key)
    assert verify_node_binding(DOMAIN, b, sig, now=1_000)
    assert not verify_node_binding(DOMAIN, b, sig, now=3_000)
    assert not verify_node_binding(Domain(1, DOMAIN.verifying_contract), b, sig)
    assert not verify_node_binding(DOMAIN, NodeBinding(KEY.address, 1, b"\x07" * 32, 2_000), sig)


# ---- agreement with the Solidity library -----------------------------------------------------
def test_solidity_library_agrees() -> None:
    if not SOL.exists():
        pytest.skip("contracts/src/libraries/FedstakeProtocol.sol not present")
    src = SOL.read_text()
    assert f'DOMAIN_NAME = "{DOMAIN_NAME}"' in src
    assert f'DOMAIN_VERSION = "{DOMAIN_VERSION}"' in src
    type_string = (
        "Commitment(" + ",".join(f"{f['type']} {f['name']}" for f in COMMITMENT_TYPE) + ")"
    )
    assert f'"{type_string}"' in src
    codes = dict(re.findall(r"REASON_([A-Z_]+) = (\d+);", src))
    assert codes == {r.name: str(r.value) for r in SlashReason}
