"""Merkle trees whose proofs verify in OpenZeppelin's ``MerkleProof``.

Leaves are double-hashed ``keccak256(bytes.concat(keccak256(abi.encode(...))))`` and
inner nodes hash sorted pairs, exactly as docs/protocol.md fixes them. Leaves are
sorted by hash before building, so a set of participants has one root whatever
order the caller lists them in; an odd node is carried up a layer unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_abi import encode
from eth_utils import keccak, to_canonical_address


def _double_hash(types: list[str], values: list[object]) -> bytes:
    return keccak(keccak(encode(types, values)))


def participant_leaf(round_id: int, participant: str) -> bytes:
    """Leaf of the selected-participants tree: (roundId, participant)."""
    return _double_hash(["uint256", "address"], [round_id, to_canonical_address(participant)])


def result_leaf(
    round_id: int, participant: str, update_hash: bytes, score: int, reward: int
) -> bytes:
    """Leaf of the results tree: (roundId, participant, updateHash, score ppm, reward wei)."""
    return _double_hash(
        ["uint256", "address", "bytes32", "uint256", "uint256"],
        [round_id, to_canonical_address(participant), bytes(update_hash), score, reward],
    )


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative pair hash: keccak of the smaller value first."""
    return keccak(a + b) if a < b else keccak(b + a)


def verify_proof(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """Python twin of ``MerkleProof.verify`` (used to check proofs before sending)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


class MerkleTree:
    """A tree over 32-byte leaves; ``root`` and ``proof(leaf)`` for on-chain checks."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        ordered = sorted(bytes(leaf) for leaf in leaves)
        if not ordered:
            raise ValueError("a Merkle tree needs at least one leaf")
        if any(len(leaf) != 32 for leaf in ordered):
            raise ValueError("Merkle leaves must be 32 bytes")
        if len(set(ordered)) != len(ordered):
            raise ValueError("duplicate Merkle leaf: each participant may appear once")
        self._index = {leaf: i for i, leaf in enumerate(ordered)}
        self._layers: list[list[bytes]] = [ordered]
        layer = ordered
        while len(layer) > 1:
            nxt = [hash_pair(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
            if len(layer) % 2:
                nxt.append(layer[-1])
            self._layers.append(nxt)
            layer = nxt

    @property
    def root(self) -> bytes:
        return self._layers[-1][0]

    @property
    def leaves(self) -> list[bytes]:
        return list(self._layers[0])

    def __len__(self) -> int:
        return len(self._layers[0])

    def __contains__(self, leaf: object) -> bool:
        return leaf in self._index

    def proof(self, leaf: bytes) -> list[bytes]:
        """Sibling hashes from the leaf up to (not including) the root."""
        try:
            index = self._index[bytes(leaf)]
        except KeyError:
            raise KeyError("leaf is not in this Merkle tree") from None
        proof: list[bytes] = []
        for layer in self._layers[:-1]:
            sibling = index ^ 1
            if sibling < len(layer):
                proof.append(layer[sibling])
            index //= 2
        return proof
