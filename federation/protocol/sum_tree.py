"""The results Merkle sum tree (docs/protocol.md, "Results sum tree"); the Solidity side is
``contracts/src/libraries/SumTree.sol``.

Every node carries the sum of the rewards beneath it and the root commits to the total, so
a claim proof checks the sums on its path: leaves that add up to more than the declared
total cannot reach the root, and no late claimer can be starved by earlier over-payments.

    leaf = (resultLeaf(roundId, participant, updateHash, score, reward), reward)
    node = (keccak256(abi.encode(bytes32 hL, uint256 sL, bytes32 hR, uint256 sR)), sL + sR)

Leaves stay in the order given (the coordinator's; a claimer proves its position), padded
to a power of two with (bytes32(0), 0); a single leaf is its own root; a proof is the leaf's
index and the sibling hashes and sums from the leaf up, the sibling on the left where bit l
of the index is 1 (as the sha256 update tree).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from eth_abi import encode
from eth_utils import keccak

from federation.protocol.merkle import result_leaf

ZERO = bytes(32)
_U256 = 2**256


class MalformedSumProofError(ValueError):
    """SumTree.MalformedSumProof: the proof's lengths differ or its index has bits beyond
    its depth."""


class SumOverflowError(ValueError):
    """The sums on a path exceed uint256 (the contract's checked addition reverts)."""


def node(hl: bytes, sl: int, hr: bytes, sr: int) -> bytes:
    """Hash of an inner node (SumTree.node)."""
    return keccak(encode(["bytes32", "uint256", "bytes32", "uint256"], [hl, sl, hr, sr]))


@dataclass(frozen=True)
class SumProof:
    """A leaf's path to the root: its index and the sibling (hash, sum) pairs from the leaf up
    (SumTree.Proof)."""

    index: int
    hashes: tuple[bytes, ...]
    sums: tuple[int, ...]

    def as_tuple(self) -> tuple[int, list[bytes], list[int]]:
        """SumTree.Proof, as a contract call argument."""
        return (self.index, [bytes(h) for h in self.hashes], [int(s) for s in self.sums])


def root_of(leaf: bytes, amount: int, proof: SumProof) -> tuple[bytes, int]:
    """The (hash, sum) of the root reached from (leaf, amount) along `proof` — SumTree.rootOf,
    including its reverts (MalformedSumProofError, SumOverflowError)."""
    n = len(proof.hashes)
    if len(proof.sums) != n or (n < 256 and proof.index >> n != 0):
        raise MalformedSumProofError("sum proof lengths differ or index beyond its depth")
    h, total, idx = bytes(leaf), int(amount), proof.index
    for sh, ss in zip(proof.hashes, proof.sums, strict=True):
        h = node(bytes(sh), ss, h, total) if idx & 1 else node(h, total, bytes(sh), ss)
        total += ss
        if total >= _U256:
            raise SumOverflowError("sum proof sums exceed uint256")
        idx >>= 1
    return h, total


def verify(root: bytes, total: int, leaf: bytes, amount: int, proof: SumProof) -> bool:
    """Whether (leaf, amount) reaches (root, total) along `proof` (what ``claim`` checks)."""
    try:
        return root_of(leaf, amount, proof) == (bytes(root), int(total))
    except (MalformedSumProofError, SumOverflowError):
        return False


class SumTree:
    """A sum tree over (leaf hash, amount) pairs in the given order."""

    def __init__(self, entries: Iterable[tuple[bytes, int]]) -> None:
        items = [(bytes(h), int(a)) for h, a in entries]
        if not items:
            raise ValueError("a sum tree needs at least one leaf")
        if any(len(h) != 32 for h, _ in items):
            raise ValueError("sum tree leaves must be 32 bytes")
        if any(not 0 <= a < _U256 for _, a in items):
            raise ValueError("sum tree amounts must be uint256")
        if sum(a for _, a in items) >= _U256:
            raise ValueError("sum tree total exceeds uint256")
        width = 1
        while width < len(items):
            width *= 2
        level = items + [(ZERO, 0)] * (width - len(items))
        self._levels: list[list[tuple[bytes, int]]] = [level]
        while len(level) > 1:
            level = [
                (node(level[i][0], level[i][1], level[i + 1][0], level[i + 1][1]),
                 level[i][1] + level[i + 1][1])
                for i in range(0, len(level), 2)
            ]  # fmt: skip
            self._levels.append(level)
        self._count = len(items)

    @property
    def root(self) -> bytes:
        """The root hash (finalize's resultsRoot)."""
        return self._levels[-1][0][0]

    @property
    def total(self) -> int:
        """The sum of every amount (finalize's totalRewards)."""
        return self._levels[-1][0][1]

    @property
    def leaves(self) -> list[tuple[bytes, int]]:
        """The (leaf, amount) pairs in order, without padding."""
        return list(self._levels[0][: self._count])

    def __len__(self) -> int:
        return self._count

    def proof(self, index: int) -> SumProof:
        """The path of leaf `index` (what ``claim`` sends)."""
        if not 0 <= index < self._count:
            raise IndexError(f"leaf {index} of a sum tree with {self._count} leaves")
        hashes: list[bytes] = []
        sums: list[int] = []
        i = index
        for level in self._levels[:-1]:
            h, s = level[i ^ 1]
            hashes.append(h)
            sums.append(s)
            i >>= 1
        return SumProof(index, tuple(hashes), tuple(sums))

    def verify(self, index: int, proof: SumProof | None = None) -> bool:
        """Whether leaf `index` (with `proof`, default its own) reaches this root and total."""
        leaf, amount = self._levels[0][index]
        return verify(self.root, self.total, leaf, amount, proof or self.proof(index))


class ResultRow(Protocol):
    """What a results leaf is made of (federation.types.RewardEntry has these fields)."""

    participant: str
    update_hash: bytes
    score: int
    reward: int


def result_sum_tree(
    round_id: int, rows: Sequence[ResultRow] | Sequence[tuple[str, bytes, int, int]]
) -> SumTree:
    """The round's results tree: one leaf per row (participant, update hash, score ppm,
    reward wei), in the order given, with the existing result leaf (merkle.result_leaf)."""
    entries = []
    for row in rows:
        if isinstance(row, tuple):
            participant, update, score, reward = row
        else:
            participant, update, score, reward = (
                row.participant,
                row.update_hash,
                row.score,
                row.reward,
            )
        entries.append((result_leaf(round_id, participant, update, score, reward), int(reward)))
    return SumTree(entries)
