"""Frozen dataclasses for everything the ledger reads: no raw tuples leave the facade."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from federation.protocol.merkle import MerkleTree, result_leaf
from federation.tx import Receipt


class RoundStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FINALIZED = 2
    SETTLED = 3
    EXPIRED = 4


class SlashState(IntEnum):
    """A participant's slash in a round: none, standing undisputed, or its dispute's outcome."""

    NONE = 0
    LOCKED = 1
    DISPUTED = 2
    REVERTED = 3
    CONFIRMED = 4


class DisputeKind(IntEnum):
    SLASH = 0
    RESULT = 1


class DisputeStatus(IntEnum):
    NONE = 0
    OPEN = 1
    UPHELD = 2
    REJECTED = 3


@dataclass(frozen=True)
class TxResult:
    """Outcome of a state-changing call; ``already_applied`` when it had landed before."""

    receipt: Receipt | None
    already_applied: bool = False
    value: Any = None

    @property
    def tx_hash(self) -> str | None:
        return self.receipt.tx_hash if self.receipt else None

    @property
    def gas_used(self) -> int:
        return self.receipt.gas_used if self.receipt else 0


@dataclass(frozen=True)
class StakeInfo:
    active: int
    unbonding: int
    unbond_release_at: int

    @property
    def slashable(self) -> int:
        return self.active + self.unbonding


@dataclass(frozen=True)
class StakingParams:
    token: str
    min_stake: int
    unbonding_delay: int
    total_staked: int
    total_locked: int


@dataclass(frozen=True)
class RoundConfig:
    """RoundManager's governance-set parameters (``Config`` in Solidity)."""

    min_coordinator_bond: int
    max_round_duration: int
    challenge_window: int
    max_slash_bps: int
    slash_pool_bps: int
    min_dispute_deposit: int
    treasury: str

    def as_tuple(self) -> tuple[int, int, int, int, int, int, str]:
        return (
            self.min_coordinator_bond,
            self.max_round_duration,
            self.challenge_window,
            self.max_slash_bps,
            self.slash_pool_bps,
            self.min_dispute_deposit,
            self.treasury,
        )


@dataclass(frozen=True)
class RoundParams:
    """What a round commits to at open (only its hash is stored; re-sent at finalize)."""

    global_model_hash: bytes
    config_hash: bytes
    participants_root: bytes

    def as_tuple(self) -> tuple[bytes, bytes, bytes]:
        return (self.global_model_hash, self.config_hash, self.participants_root)


@dataclass(frozen=True)
class RoundInfo:
    round_id: int
    coordinator: str
    reward_budget: int
    status: RoundStatus
    participant_count: int
    finalize_deadline: int
    challenge_deadline: int
    open_disputes: int
    result_voided: bool
    slashed_total: int
    params_hash: bytes
    total_rewards: int
    claimed: int
    results_root: bytes
    aggregate_hash: bytes
    slashes_hash: bytes = b"\x00" * 32


@dataclass(frozen=True)
class SlashEvidence:
    """One slash at finalize: the participant's own signed commitment plus selection proof."""

    participant: str
    update_hash: bytes
    num_examples: int
    reason: int
    slash_bps: int
    signature: bytes
    proof: tuple[bytes, ...]

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.participant,
            self.update_hash,
            self.num_examples,
            int(self.reason),
            self.slash_bps,
            self.signature,
            list(self.proof),
        )


@dataclass(frozen=True)
class SlashRecord:
    amount: int
    reason: int
    state: SlashState


@dataclass(frozen=True)
class DisputeInfo:
    dispute_id: int
    round_id: int
    disputer: str
    kind: DisputeKind
    status: DisputeStatus
    participant: str
    deposit: int
    slash_amount: int = 0


@dataclass(frozen=True)
class CoordinatorInfo:
    bond: int
    open_rounds: int


@dataclass(frozen=True)
class PoolInfo:
    reward_pool: int
    total_bonds: int
    total_dispute_deposits: int


@dataclass(frozen=True)
class RewardEntry:
    """One leaf of a round's results: what a participant did and earned."""

    participant: str
    update_hash: bytes
    score: int
    reward: int


@dataclass(frozen=True)
class RoundResults:
    """Results tree of one round: root for finalize, proofs for claims."""

    round_id: int
    entries: tuple[RewardEntry, ...]
    tree: MerkleTree = field(repr=False, compare=False)

    @classmethod
    def build(cls, round_id: int, entries: list[RewardEntry]) -> RoundResults:
        tree = MerkleTree(
            result_leaf(round_id, e.participant, e.update_hash, e.score, e.reward) for e in entries
        )
        return cls(round_id, tuple(entries), tree)

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total_rewards(self) -> int:
        return sum(e.reward for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what a coordinator publishes so participants can claim)."""
        return {
            "round_id": self.round_id,
            "root": "0x" + self.root.hex(),
            "entries": [
                {
                    "participant": e.participant,
                    "update_hash": "0x" + bytes(e.update_hash).hex(),
                    "score": e.score,
                    "reward": str(e.reward),
                }
                for e in self.entries
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundResults:
        entries = [
            RewardEntry(
                e["participant"],
                bytes.fromhex(e["update_hash"].removeprefix("0x")),
                int(e["score"]),
                int(e["reward"]),
            )
            for e in data["entries"]
        ]
        results = cls.build(int(data["round_id"]), entries)
        if "root" in data and data["root"] != "0x" + results.root.hex():
            raise ValueError("results file root does not match its entries")
        return results

    def entry(self, participant: str) -> RewardEntry:
        for e in self.entries:
            if e.participant.lower() == participant.lower():
                return e
        raise KeyError(f"{participant} has no result in round {self.round_id}")

    def proof(self, participant: str) -> list[bytes]:
        e = self.entry(participant)
        return self.tree.proof(
            result_leaf(self.round_id, e.participant, e.update_hash, e.score, e.reward)
        )


@dataclass(frozen=True)
class StakeEvent:
    kind: str  # "staked" | "unbond_requested" | "withdrawn"
    staker: str
    amount: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class RoundEvent:
    kind: str  # "opened" | "finalized" | "settled" | "expired" | "voided"
    round_id: int
    block_number: int
    tx_hash: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SlashEvent:
    round_id: int
    participant: str
    reason: int
    slash_bps: int
    amount: int
    update_hash: bytes
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class ClaimEvent:
    round_id: int
    participant: str
    amount: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class ModelVersion:
    """A provenance record: a model version and where it came from."""

    version_id: int
    weights_hash: bytes
    weights_uri: str
    dataset_root: bytes
    code_commit: bytes
    hyperparams_hash: bytes
    parent_version: int
    round_id: int
    recorded_at: int
    authorizer: str


@dataclass(frozen=True)
class VersionInput:
    """What a coordinator records for a new model version."""

    weights_hash: bytes
    weights_uri: str
    dataset_root: bytes = b"\x00" * 32
    code_commit: bytes = b"\x00" * 32
    hyperparams_hash: bytes = b"\x00" * 32
    parent_version: int = 0
    round_id: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.weights_hash,
            self.weights_uri,
            self.dataset_root,
            self.code_commit,
            self.hyperparams_hash,
            self.parent_version,
            self.round_id,
        )
