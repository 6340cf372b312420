"""Frozen dataclasses for everything the ledger reads: no raw tuples leave the facade.

The field order of every ``as_tuple`` is the Solidity struct's (IRoundManager,
IStakeManager), so a struct change shows up here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from federation.protocol.merkle import MerkleTree, participant_leaf, result_leaf
from federation.protocol.slash_reasons import is_provable
from federation.protocol.sum_tree import SumProof, SumTree
from federation.tx import Receipt

ZERO32 = b"\x00" * 32


class RoundStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FINALIZED = 2
    SETTLED = 3
    EXPIRED = 4
    CANCELLED = 5


class SlashState(IntEnum):
    """A participant's slash in a round: none, standing undisputed, or its dispute's outcome.

    The contract's ``SlashState`` has no "no slash" value (its ``None`` is "undisputed");
    here NONE means the participant was not slashed and LOCKED is the contract's ``None``.
    """

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
    TIMED_OUT = 4
    REFUNDED = 5


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


# -- staking ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnbondRequest:
    """One pending unbond request: ``amount`` withdrawable from ``release_at`` (its own timer)."""

    amount: int
    release_at: int


@dataclass(frozen=True)
class StakeInfo:
    """A staker's balances and record (``IStakeManager.StakeInfo`` + its unbond requests).

    ``requests`` is None when it was not read (``stakes_of`` reads balances only).
    """

    active: int
    unbonding: int
    strikes: int = 0
    jailed_from_round: int = 0
    jailed_until_round: int = 0
    requests: tuple[UnbondRequest, ...] | None = None

    @property
    def slashable(self) -> int:
        return self.active + self.unbonding

    @property
    def next_release_at(self) -> int:
        """When the earliest pending request releases (0: none pending or not read)."""
        return min((r.release_at for r in self.requests or ()), default=0)

    @property
    def unbond_release_at(self) -> int:
        """When the last pending request releases, i.e. everything is withdrawable (0: none)."""
        return max((r.release_at for r in self.requests or ()), default=0)

    def withdrawable_at(self, now: int) -> int:
        """Σ of the requests released at ``now`` (what ``withdraw`` would pay)."""
        return sum(r.amount for r in self.requests or () if r.release_at <= now)

    def eligible_from_round(self) -> int:
        """First round id a jail term allows (1 when never jailed)."""
        return self.jailed_until_round + 1


@dataclass(frozen=True)
class JailPolicy:
    """``IStakeManager.JailPolicy``: K judged slashes (0: never) jail for ``jail_rounds`` rounds."""

    strikes_to_jail: int
    jail_rounds: int

    def as_tuple(self) -> tuple[int, int]:
        return (self.strikes_to_jail, self.jail_rounds)


@dataclass(frozen=True)
class StakingParams:
    token: str
    min_stake: int
    unbonding_delay: int
    total_staked: int
    total_locked: int


# -- rounds -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundConfig:
    """RoundManager's governance-set parameters (``IRoundManager.Config``)."""

    min_coordinator_bond: int
    max_round_duration: int
    challenge_window: int
    dispute_window: int
    max_judged_slash_bps: int
    provable_slash_bps: int
    slash_pool_bps: int
    budget_bond_multiple: int
    timeout_compensation_bps: int
    min_dispute_deposit: int
    treasury: str

    @property
    def max_slash_bps(self) -> int:
        """The judged-slash cap (the name before provable and judged faults were split)."""
        return self.max_judged_slash_bps

    @property
    def min_unbonding_delay(self) -> int:
        """The StakeManager's unbonding delay must exceed this (IRoundTiming)."""
        return self.max_round_duration + self.challenge_window + self.dispute_window

    def max_budget(self, bond: int) -> int:
        """The most a coordinator with ``bond`` may hold in unsettled round budgets."""
        return bond * self.budget_bond_multiple

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.min_coordinator_bond,
            self.max_round_duration,
            self.challenge_window,
            self.dispute_window,
            self.max_judged_slash_bps,
            self.provable_slash_bps,
            self.slash_pool_bps,
            self.budget_bond_multiple,
            self.timeout_compensation_bps,
            self.min_dispute_deposit,
            self.treasury,
        )

    @classmethod
    def from_tuple(cls, c: Any) -> RoundConfig:
        from eth_utils import to_checksum_address

        return cls(*(int(v) for v in c[:10]), to_checksum_address(c[10]))


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
    """``IRoundManager.Round`` plus what the facade derives (``claimed`` from events)."""

    round_id: int
    coordinator: str
    reward_budget: int
    status: RoundStatus
    participant_count: int
    finalize_deadline: int
    challenge_deadline: int
    dispute_deadline: int
    open_slash_disputes: int
    open_result_disputes: int
    result_voided: bool
    total_rewards: int
    slashed_total: int
    params_hash: bytes
    results_root: bytes
    aggregate_hash: bytes
    slashes_hash: bytes = ZERO32
    claimed: int = 0  # Σ RewardClaimed (events; the contract keeps no counter)

    @property
    def open_disputes(self) -> int:
        return self.open_slash_disputes + self.open_result_disputes

    def settle_blocker(self, now: int) -> str | None:
        """Why ``settleRound`` would revert at ``now`` (None: it can settle)."""
        if self.status != RoundStatus.FINALIZED:
            return f"it is {self.status.name.lower()}: only a finalized round settles"
        if now <= self.challenge_deadline:
            return "challenge window open"
        if self.open_slash_disputes:
            return f"{self.open_slash_disputes} open slash dispute(s)"
        if self.open_result_disputes and now <= self.dispute_deadline:
            return f"{self.open_result_disputes} open result dispute(s)"
        return None


@dataclass(frozen=True)
class RoundFinalization:
    """What finalize committed to beyond the stored round: ``RoundFinalized``'s fields."""

    round_id: int
    aggregate_hash: bytes
    results_root: bytes
    total_rewards: int
    slashed_total: int
    slash_count: int
    challenge_deadline: int
    dispute_deadline: int
    decision_hash: bytes
    artifacts_uri: str
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class SlashEvidence:
    """One slash at finalize: the participant's own signed commitment plus selection proof,
    and for a provable fault the proof the FaultVerifier checks (empty for a judged one)."""

    participant: str
    update_hash: bytes
    num_examples: int
    reason: int
    slash_bps: int
    signature: bytes
    proof: tuple[bytes, ...]
    fault_proof: bytes = b""

    @property
    def provable(self) -> bool:
        return is_provable(self.reason)

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.participant,
            self.update_hash,
            self.num_examples,
            int(self.reason),
            self.slash_bps,
            self.signature,
            list(self.proof),
            bytes(self.fault_proof),
        )


@dataclass(frozen=True)
class SlashEntry:
    """One applied slash as ParticipantSlashed emitted it (``IRoundManager.SlashEntry``):
    the round's list of these is what disputeSlash and cancelRound re-send."""

    participant: str
    amount: int
    reason: int
    from_unbonding: int
    release_at: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.participant, self.amount, self.reason, self.from_unbonding, self.release_at)


@dataclass(frozen=True)
class SlashRecord:
    """A participant's slash in a round: amount, reason, dispute state, where it came from."""

    amount: int
    reason: int
    state: SlashState
    from_unbonding: int = 0
    release_at: int = 0

    @property
    def provable(self) -> bool:
        return is_provable(self.reason)


@dataclass(frozen=True)
class DisputeInfo:
    """A dispute with its deadline: after ``resolve_by`` the default outcome applies."""

    dispute_id: int
    round_id: int
    disputer: str
    kind: DisputeKind
    status: DisputeStatus
    participant: str
    deposit: int
    slash_amount: int = 0
    from_unbonding: int = 0
    release_at: int = 0
    resolve_by: int = 0  # the round's dispute deadline (0: not read)
    round_cancelled: bool = False

    @property
    def default_outcome(self) -> str:
        """What ``timeout_dispute`` does if the arbiter has not decided by ``resolve_by``."""
        if self.round_cancelled:
            return "deposit refunded (round cancelled)"
        if self.kind == DisputeKind.SLASH:
            return "slash reverted, deposit back, compensation from the coordinator's bond"
        return "result stands, deposit back"

    def timeout_due(self, now: int) -> bool:
        """Whether ``timeout_dispute`` can apply the default outcome at ``now``."""
        return self.status == DisputeStatus.OPEN and (
            self.round_cancelled or (self.resolve_by > 0 and now > self.resolve_by)
        )


@dataclass(frozen=True)
class CoordinatorInfo:
    bond: int
    open_rounds: int
    locked_budget: int = 0


@dataclass(frozen=True)
class PoolInfo:
    reward_pool: int
    total_bonds: int
    total_dispute_deposits: int
    treasury_owed: int = 0


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RewardEntry:
    """One leaf of a round's results: what a participant did and earned."""

    participant: str
    update_hash: bytes
    score: int
    reward: int


@dataclass(frozen=True)
class RoundResults:
    """A round's results as a Merkle sum tree (root and total for finalize, proofs for
    claims) plus its participant set (a claim proves the claimer was selected).

    ``participants`` defaults to the entries' addresses (the engine writes one entry per
    selected participant); give it when some selected participant has no entry.
    """

    round_id: int
    entries: tuple[RewardEntry, ...]
    tree: SumTree = field(repr=False, compare=False)
    participants: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        round_id: int,
        entries: list[RewardEntry] | tuple[RewardEntry, ...],
        participants: list[str] | tuple[str, ...] | None = None,
    ) -> RoundResults:
        tree = SumTree(
            [
                (result_leaf(round_id, e.participant, e.update_hash, e.score, e.reward), e.reward)
                for e in entries
            ]
        )
        members = tuple(participants) if participants else tuple(e.participant for e in entries)
        return cls(round_id, tuple(entries), tree, members)

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total_rewards(self) -> int:
        return sum(e.reward for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what a coordinator publishes so participants can claim)."""
        doc: dict[str, Any] = {
            "round_id": self.round_id,
            "root": "0x" + self.root.hex(),
            "total_rewards": str(self.total_rewards),
            "tree": "sum-v1",
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
        if self.participants != tuple(e.participant for e in self.entries):
            doc["participants"] = list(self.participants)
        return doc

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
        results = cls.build(int(data["round_id"]), entries, data.get("participants"))
        if "root" in data and data["root"] != "0x" + results.root.hex():
            raise ValueError("results file root does not match its entries")
        return results

    def entry(self, participant: str) -> RewardEntry:
        return self.entries[self._index(participant)]

    def _index(self, participant: str) -> int:
        for i, e in enumerate(self.entries):
            if e.participant.lower() == participant.lower():
                return i
        raise KeyError(f"{participant} has no result in round {self.round_id}")

    def proof(self, participant: str) -> SumProof:
        """The participant's path in the results sum tree (what ``claim`` sends)."""
        return self.tree.proof(self._index(participant))

    def participants_tree(self) -> MerkleTree:
        return MerkleTree(participant_leaf(self.round_id, p) for p in self.participants)

    def participant_proof(self, participant: str) -> list[bytes]:
        """Selection proof of ``participant`` against the round's participantsRoot."""
        return self.participants_tree().proof(participant_leaf(self.round_id, participant))


# -- history ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StakeEvent:
    kind: str  # "staked" | "unbond_requested" | "withdrawn"
    staker: str
    amount: int
    block_number: int
    tx_hash: str
    release_at: int = 0  # unbond_requested: the request's own release time


@dataclass(frozen=True)
class RoundEvent:
    kind: str  # "opened" | "finalized" | "settled" | "expired" | "cancelled" | "voided"
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
    from_unbonding: int = 0
    release_at: int = 0

    @property
    def provable(self) -> bool:
        return is_provable(self.reason)

    def entry(self) -> SlashEntry:
        return SlashEntry(
            self.participant, self.amount, self.reason, self.from_unbonding, self.release_at
        )


@dataclass(frozen=True)
class ClaimEvent:
    round_id: int
    participant: str
    amount: int
    block_number: int
    tx_hash: str


# -- provenance and governance ----------------------------------------------------------------
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
    """What a coordinator records for a new model version (the round's aggregate)."""

    weights_hash: bytes
    weights_uri: str
    dataset_root: bytes = ZERO32
    code_commit: bytes = ZERO32
    hyperparams_hash: bytes = ZERO32
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


@dataclass(frozen=True)
class GovernanceCall:
    """One call a timelock operation makes: ``fn(*args)`` on the contract named ``contract``."""

    contract: str
    fn: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TimelockOperation:
    """A batch scheduled on the governance timelock (OpenZeppelin TimelockController)."""

    op_id: bytes
    targets: tuple[str, ...]
    payloads: tuple[bytes, ...]
    salt: bytes
    predecessor: bytes = ZERO32
    ready_at: int = 0  # 0: not scheduled; 1: done (TimelockController's _DONE_TIMESTAMP)
    description: str = ""

    @property
    def values(self) -> tuple[int, ...]:
        return (0,) * len(self.targets)

    @property
    def done(self) -> bool:
        return self.ready_at == 1


@dataclass(frozen=True)
class AdminState:
    """Who administers one proxy and where the transfer to the timelock stands."""

    contract: str
    admin: str
    pending_admin: str | None
    accept_after: int  # the pending transfer's schedule (0: none pending)
    admin_delay: int


@dataclass(frozen=True)
class GovernanceInfo:
    """The governance timelock and the proxies' admin transfer to it."""

    timelock: str | None
    min_delay: int
    unbonding_delay: int
    admins: tuple[AdminState, ...]
    accept_operation: TimelockOperation | None

    @property
    def timelocked(self) -> bool:
        """Every proxy is administered by the timelock."""
        return self.timelock is not None and all(a.admin == self.timelock for a in self.admins)
