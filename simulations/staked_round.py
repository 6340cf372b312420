"""One staked FL round driven by script: participants sign, the coordinator settles on-chain.

This is the round protocol of DESIGN.md without Flower in the loop, so researchers and the
demo can run it on any chain backend: open → train + sign → validate → robust aggregate +
score → policy → finalize (results root + slashes with the participants' own signed
commitments) → challenge window → settle → claim → provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from federation.ledger import Ledger, VersionInput
from federation.protocol.eip712 import Commitment, Domain, recover_commitment
from federation.protocol.update_hash import update_hash
from federation.types import RewardEntry, RoundResults, SlashEvidence
from simulations.artifact_store import ArtifactStore
from strategies.aggregators import aggregate
from strategies.flower.arrays import ModelLayout, flatten, unflatten_arrays
from strategies.policy import PolicyConfig, RoundDecision
from strategies.scoring_settle import SettlementState, decide_round
from strategies.scoring_types import ReasonCode, RoundScores, ScoringConfig
from strategies.validation import AggregationError

Arrays = dict[str, np.ndarray]
TrainFn = Callable[[Arrays, np.random.Generator], tuple[Arrays, int]]


class Behaviour(StrEnum):
    """What a simulated participant does with its update."""

    HONEST = "honest"
    SIGN_FLIP = "sign-flip"  # sends global − 4·(its honest delta)
    NOISE = "noise"  # sends global + N(0, 1)
    FREE_RIDER = "free-rider"  # sends the global model back unchanged
    NON_FINITE = "non-finite"  # a NaN in its update (a crashed or hostile client)
    FORGED_HASH = "forged-hash"  # signs one update, sends another


@dataclass(frozen=True)
class Submission:
    """What comes back from a participant (mirrors a Flower reply)."""

    participant: str
    arrays: Arrays
    num_examples: int
    commitment: Commitment
    signature: bytes


@dataclass(frozen=True)
class Exclusion:
    """A reply kept out of aggregation; `reason` is None when it is not slashable."""

    participant: str
    reason: ReasonCode | None
    detail: str


@dataclass
class SimParticipant:
    """A staked participant with local data and a behaviour."""

    ledger: Ledger
    behaviour: Behaviour
    train: TrainFn
    rng: np.random.Generator

    @property
    def address(self) -> str:
        return self.ledger.address

    def respond(self, round_id: int, global_arrays: Arrays, domain: Domain) -> Submission:
        """Train locally, then (mis)behave, hash and sign the commitment."""
        local, n = self.train(global_arrays, self.rng)
        sent = apply_behaviour(self.behaviour, global_arrays, local, self.rng)
        committed = sent
        if self.behaviour is Behaviour.FORGED_HASH:
            committed = local  # signs the honest update, sends a different one
        commitment = Commitment(
            round_id=round_id,
            participant=self.address,
            global_model_hash=update_hash(global_arrays),
            update_hash=update_hash(committed),
            num_examples=n,
        )
        signature = self.ledger.sign_commitment(commitment)
        return Submission(self.address, sent, n, commitment, signature)


def apply_behaviour(b: Behaviour, g: Arrays, local: Arrays, rng: np.random.Generator) -> Arrays:
    if b in (Behaviour.HONEST,):
        return local
    if b is Behaviour.SIGN_FLIP:
        return {k: (g[k] - 4.0 * (local[k] - g[k])).astype(g[k].dtype) for k in g}
    if b is Behaviour.NOISE:
        return {k: (g[k] + rng.normal(0, 1, g[k].shape)).astype(g[k].dtype) for k in g}
    if b is Behaviour.FREE_RIDER:
        return {k: g[k].copy() for k in g}
    if b is Behaviour.NON_FINITE:
        out = {k: v.copy() for k, v in local.items()}
        first = next(iter(out))
        out[first].reshape(-1)[0] = np.nan
        return out
    if b is Behaviour.FORGED_HASH:
        return {k: (local[k] + rng.normal(0, 0.05, g[k].shape)).astype(g[k].dtype) for k in g}
    raise ValueError(f"unknown behaviour {b!r}")


def validate_submission(
    sub: Submission,
    *,
    round_id: int,
    global_arrays: Arrays,
    domain: Domain,
    max_examples: int = 10**7,
    global_model_hash: bytes | None = None,
) -> Exclusion | None:
    """DESIGN step 4. Slashable only with a valid signature over this round's commitment.

    Pass `global_model_hash` when validating many replies, so it is hashed once.
    """
    gmh = global_model_hash if global_model_hash is not None else update_hash(global_arrays)
    c = sub.commitment
    try:
        signer = recover_commitment(domain, c, sub.signature)
    except Exception as exc:  # malformed signature bytes
        return Exclusion(sub.participant, None, f"unreadable signature ({exc})")
    if signer.lower() != sub.participant.lower() or c.participant.lower() != signer.lower():
        return Exclusion(sub.participant, None, f"signature recovers to {signer}")
    if c.round_id != round_id or c.global_model_hash != gmh:
        return Exclusion(sub.participant, None, "commitment is for another round or model")
    if update_hash(sub.arrays) != c.update_hash:
        return Exclusion(sub.participant, ReasonCode.FORGED_HASH, "arrays do not match hash")
    if list(sub.arrays) != list(global_arrays):
        return Exclusion(sub.participant, ReasonCode.MALFORMED, "array names differ")
    for k, g in global_arrays.items():
        a = sub.arrays[k]
        if a.shape != g.shape or a.dtype != g.dtype:
            return Exclusion(
                sub.participant,
                ReasonCode.MALFORMED,
                f"{k}: {a.dtype}{a.shape} ≠ {g.dtype}{g.shape}",
            )
        if not np.all(np.isfinite(a)):
            return Exclusion(sub.participant, ReasonCode.MALFORMED, f"{k}: non-finite values")
    if not 0 < c.num_examples <= max_examples or c.num_examples != sub.num_examples:
        return Exclusion(sub.participant, ReasonCode.MALFORMED, "example count out of bounds")
    return None


@dataclass(frozen=True)
class RoundOutcome:
    """Everything one round decided, for reports and for `verify`."""

    round_id: int
    global_arrays: Arrays
    aggregate_arrays: Arrays
    aggregate_hash: bytes
    exclusions: tuple[Exclusion, ...]
    scores: RoundScores | None  # None when no reply was valid
    decision: RoundDecision
    results: RoundResults
    slashes: tuple[SlashEvidence, ...]
    gas: dict[str, int] = field(default_factory=dict)
    version_id: int = 0


@dataclass
class StakedCoordinator:
    """The coordinator's side of a round, over any `Ledger` backend."""

    ledger: Ledger
    store: ArtifactStore
    aggregator: str = "multi_krum"
    f: int = 2
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    settlement: SettlementState | None = None  # scoring histories + policy strikes
    parent_version: int = 0
    hyperparams: Mapping[str, object] = field(default_factory=dict)

    def run_round(
        self,
        global_arrays: Arrays,
        participants: Sequence[SimParticipant],
        budget: int,
    ) -> RoundOutcome:
        """Open, collect, decide and finalize one round (settlement is separate)."""
        led = self.ledger
        selected = [p for p in participants if led.is_eligible(p.address)]
        addresses = [p.address for p in selected]
        config_hash = hashlib.sha256(
            json.dumps(dict(self.hyperparams), sort_keys=True).encode()
        ).digest()
        gmh = self.store.put(global_arrays)
        round_id = led.next_round_id()
        tree = led.participants_tree(round_id, addresses)
        opened = led.open_round(
            addresses, reward_budget=budget, global_model_hash=gmh, config_hash=config_hash
        )
        if opened.value != round_id:
            raise RuntimeError(
                f"round id raced with another coordinator (expected {round_id}, got "
                f"{opened.value}); rebuild the participant tree for round {opened.value}"
            )
        domain = led.domain

        subs = [p.respond(round_id, global_arrays, domain) for p in selected]
        valid: list[Submission] = []
        exclusions: list[Exclusion] = []
        for s in subs:
            ex = validate_submission(
                s,
                round_id=round_id,
                global_arrays=global_arrays,
                domain=domain,
                global_model_hash=gmh,
            )
            if ex is None:
                valid.append(s)
                self.store.put(s.arrays)
            else:
                exclusions.append(ex)

        layout = ModelLayout.of(global_arrays)
        g = flatten(global_arrays, layout)
        ids = [s.participant for s in valid]
        if valid:
            deltas = np.stack([flatten(s.arrays, layout) - g for s in valid])
            aggregate_arrays = unflatten_arrays(g + self._aggregate(deltas), layout)
        else:  # nothing usable came back: the model stays, the signed bad replies are slashed
            deltas = np.empty((0, layout.dim))
            aggregate_arrays = {k: v.copy() for k, v in global_arrays.items()}
        agg_hash = self.store.put(aggregate_arrays)
        stakes = {a: led.stake_of(a).slashable for a in addresses}
        upstream = {e.participant: e.reason for e in exclusions if e.reason is not None}
        scores, decision, self.settlement = decide_round(
            round_id,
            deltas,
            ids,
            stakes,
            budget,
            self.settlement,
            upstream=upstream,
            scoring_config=self.scoring,
            policy_config=self.policy,
        )

        by_addr = {s.participant: s for s in subs}
        entries = [
            RewardEntry(
                participant=a,
                update_hash=by_addr[a].commitment.update_hash,
                score=decision.scores_ppm.get(a, 0),
                reward=decision.rewards.get(a, 0),
            )
            for a in addresses
        ]
        results = RoundResults.build(round_id, entries)
        evidence = tuple(
            Ledger.slash_evidence(
                by_addr[s.participant].commitment,
                by_addr[s.participant].signature,
                reason=int(s.reason),
                slash_bps=s.bps,
                participants=tree,
            )
            for s in decision.slashes
            if s.participant in by_addr
        )
        fin = led.finalize_round(
            round_id, aggregate_hash=agg_hash, results=results, slashes=evidence
        )
        self._publish(round_id, results, scores, decision, exclusions)
        version = led.record_version(
            VersionInput(
                weights_hash=agg_hash,
                weights_uri=self.store.uri(agg_hash),
                hyperparams_hash=config_hash,
                parent_version=self.parent_version,
                round_id=round_id,
            )
        )
        self.parent_version = int(version.value)
        return RoundOutcome(
            round_id=round_id,
            global_arrays=global_arrays,
            aggregate_arrays=aggregate_arrays,
            aggregate_hash=agg_hash,
            exclusions=tuple(exclusions),
            scores=scores,
            decision=decision,
            results=results,
            slashes=evidence,
            gas={"open": opened.gas_used, "finalize": fin.gas_used},
            version_id=self.parent_version,
        )

    def _publish(
        self,
        round_id: int,
        results: RoundResults,
        scores: RoundScores | None,
        decision: RoundDecision,
        exclusions: Sequence[Exclusion],
    ) -> None:
        """Write what participants need to claim (`fedstake claim ROUND FILE`) and to audit."""
        root = self.store.root
        (root / f"round-{round_id}-results.json").write_text(
            json.dumps(results.to_dict(), indent=2)
        )
        audit = {
            "decision": decision.to_dict(),
            "scores": scores.to_dict() if scores else None,
            "exclusions": [
                {
                    "participant": e.participant,
                    "reason": e.reason and int(e.reason),
                    "detail": e.detail,
                }
                for e in exclusions
            ],
        }
        (root / f"round-{round_id}-decision.json").write_text(json.dumps(audit, indent=2))

    def _aggregate(self, deltas: np.ndarray) -> np.ndarray:
        """The configured rule; the median when too few updates remain for its precondition."""
        try:
            return np.asarray(aggregate(self.aggregator, deltas, f=self._f(len(deltas))))
        except AggregationError:
            return np.asarray(aggregate("median", deltas))

    def _f(self, n: int) -> int:
        """Clamp the Byzantine budget to what the rule tolerates for n valid updates."""
        limits = {"krum": (n - 3) // 2, "multi_krum": (n - 3) // 2, "bulyan": (n - 3) // 4}
        return max(0, min(self.f, limits.get(self.aggregator, (n - 1) // 2)))
