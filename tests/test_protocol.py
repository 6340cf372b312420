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

SOL = Path(__file__).resolve().parents[1] / "contracts/src/libraries/FedstakeProtocol.sol"
KEY = Account.from_key("0x" + "42" * 32)
DOMAIN = Domain(31337, "0x" + "12" * 20)


# ---- update hash ---------------------------------------------------------------------------
def _spec_hash(arrays: list[tuple[str, np.ndarray]]) -> bytes:
    """docs/protocol.md's update hash written out literally, as an independent oracle."""
    out = b"fedstake/update/v1\x00"
    for name, a in arrays:
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<")))
        n, d = name.encode(), a.dtype.str.encode()
        out += struct.pack("<I", len(n)) + n + struct.pack("<I", len(d)) + d
        out += struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", x) for x in a.shape)
        out += struct.pack("<Q", a.nbytes) + a.tobytes()
    return hashlib.sha256(out).digest()


def test_update_hash_golden_vector() -> None:
    arrays = [("w", np.arange(6, dtype="<f4").reshape(2, 3)), ("b", np.array([1, -2], "<i8"))]
    assert update_hash(arrays) == _spec_hash(arrays)
    # pinned: a change here breaks every signed commitment in the wild
    assert update_hash(dict(arrays)).hex() == (
        "bd774d6b2caf2dd76a128c52668f1398f6e5d9d104e8696091c1d3829bfd5bbd"
    )


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
