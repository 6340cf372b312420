"""The coordinator's round engine: the one implementation of DESIGN's round protocol.

The Flower wrapper strategy (`federation.flower.strategy`), the demo, the tests and any
scripted coordinator call this class; simulations only replace the participants.

    open_round(participants, global model, budget)          → on-chain RoundOpened
    conclude(opened, submissions)                           → validate → aggregate → score
        → decide → publish artifacts + manifest → finalize → provenance
    settle_due()                                            → settle rounds past their window
    resume()                                                → finish what a crash left

Every step is journalled (`federation.journal`) before the next relies on it, and every
on-chain write is idempotent (a finalize that already landed is detected), so a restarted
coordinator finishes each round exactly once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from logging import getLogger
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from federation.aggregation import AggregateResult, Aggregator, load_state, state_of
from federation.artifact_store import ArtifactStore
from federation.crashpoints import crash_point
from federation.journal import (
    CLAIMED,
    DECIDED,
    EXPIRED,
    FINALIZED,
    OPENED,
    RECORDED,
    SETTLED,
    Journal,
)
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment
from federation.types import (
    RewardEntry,
    RoundResults,
    RoundStatus,
    SlashEvidence,
    VersionInput,
)
from federation.validation import Exclusion, Submission, ValidUpdate, validate_submission
from strategies.flower.arrays import ModelLayout, flatten
from strategies.policy import PolicyConfig, RoundDecision
from strategies.scoring_settle import SettlementState, decide_round
from strategies.scoring_types import RoundScores, ScoringConfig

log = getLogger("fedstake.engine")

Arrays = dict[str, np.ndarray]
ZERO32 = b"\x00" * 32
MANIFEST_VERSION = 1


def manifest_name(round_id: int) -> str:
    return f"round-{round_id}-manifest"


def config_hash_of(hyperparams: Mapping[str, Any]) -> bytes:
    """sha256 of the canonical JSON of the round's configuration (goes on-chain at open)."""
    blob = json.dumps(dict(hyperparams), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).digest()


def committed_config(
    hyperparams: Mapping[str, Any],
    aggregator_spec: Mapping[str, Any],
    scoring: Mapping[str, Any],
    policy: Mapping[str, Any],
    max_examples: int,
) -> dict[str, Any]:
    """Everything a round's decisions depend on besides its inputs: the config hash at open
    commits to exactly this, so `verify` can trust the manifest's copy of it."""
    return {
        **dict(hyperparams),
        "aggregator": dict(aggregator_spec),
        "scoring": dict(scoring),
        "policy": dict(policy),
        "max_examples": int(max_examples),
    }


@dataclass(frozen=True)
class OpenedRound:
    """A round opened on-chain, waiting for its replies."""

    round_id: int
    participants: tuple[str, ...]  # checksummed, in the order of the participant tree
    global_model_hash: bytes
    config_hash: bytes
    budget: int
    finalize_deadline: int
    gas: int = 0


@dataclass(frozen=True)
class RoundOutcome:
    """Everything one round decided, for metrics, reports and `verify`."""

    round_id: int
    aggregate_arrays: Arrays
    aggregate_hash: bytes
    valid: tuple[str, ...]
    exclusions: tuple[Exclusion, ...]
    absent: tuple[str, ...]
    scores: RoundScores | None
    decision: RoundDecision
    results: RoundResults
    slashes: tuple[SlashEvidence, ...]
    fallback: str | None
    gas: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    version_id: int = 0
    already_finalized: bool = False

    def metrics(self) -> dict[str, float]:
        """Flat numbers for Flower's MetricRecord (per-round history)."""
        m: dict[str, float] = {
            "valid": float(len(self.valid)),
            "excluded": float(len(self.exclusions)),
            "absent": float(len(self.absent)),
            "slashed": float(len(self.slashes)),
            "rewards-wei": float(sum(self.decision.rewards.values())),
            "fallback": 1.0 if self.fallback else 0.0,
        }
        for e in self.exclusions:
            key = f"excluded-{e.code}"
            m[key] = m.get(key, 0.0) + 1.0
        for k, v in self.gas.items():
            m[f"gas-{k}"] = float(v)
        for k, v in self.seconds.items():
            m[f"seconds-{k}"] = float(v)
        return m


@dataclass
class _Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, what: str) -> Any:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0


def decide(
    round_id: int,
    participants: Sequence[str],
    submissions: Sequence[Submission],
    *,
    global_arrays: Mapping[str, np.ndarray],
    global_model_hash: bytes,
    domain: Any,
    aggregator: Aggregator,
    stakes: Mapping[str, int],
    budget: int,
    state: SettlementState | None,
    scoring: ScoringConfig,
    policy: PolicyConfig,
    max_examples: int,
    timer: _Timer | None = None,
) -> tuple[
    list[ValidUpdate],
    list[Exclusion],
    AggregateResult,
    RoundScores | None,
    RoundDecision,
    SettlementState,
]:
    """The deterministic heart of a round, shared by the engine and `verify`.

    Same inputs → same valid set, aggregate, scores and decision, bit for bit: replies
    are processed in participant-address order whatever order they arrived in.
    """
    timer = timer or _Timer()
    layout = ModelLayout.of(global_arrays)
    valid: list[ValidUpdate] = []
    exclusions: list[Exclusion] = []
    with timer("validation"):
        for sub in sorted(submissions, key=lambda s: s.participant.lower()):
            out = validate_submission(
                sub,
                round_id=round_id,
                domain=domain,
                layout=layout,
                global_model_hash=global_model_hash,
                max_examples=max_examples,
            )
            (valid if isinstance(out, ValidUpdate) else exclusions).append(out)  # type: ignore[arg-type]
    with timer("aggregation"):
        if valid:
            agg = aggregator.aggregate(round_id, global_arrays, valid)
        else:  # nothing usable came back: the model stays, signed bad replies are slashed
            agg = AggregateResult({k: np.array(v, copy=True) for k, v in global_arrays.items()})
    with timer("scoring"):
        g = flatten(global_arrays, layout)
        deltas = np.stack([v.weights for v in valid]) - g if valid else np.empty((0, layout.dim))
        upstream = {e.participant: e.reason for e in exclusions if e.reason is not None}
        scores, decision, after = decide_round(
            round_id,
            deltas,
            [v.participant for v in valid],
            {p: int(stakes[p]) for p in participants},
            budget,
            state,
            upstream=upstream,
            scoring_config=scoring,
            policy_config=policy,
        )
    return valid, exclusions, agg, scores, decision, after


def build_results(
    round_id: int,
    participants: Sequence[str],
    submissions: Sequence[Submission],
    exclusions: Sequence[Exclusion],
    decision: RoundDecision,
) -> RoundResults:
    """One leaf per selected participant; the update hash is the one they signed (zero
    when they sent no valid signature)."""
    signed = _signed_commitments(submissions, exclusions)
    entries = [
        RewardEntry(
            participant=p,
            update_hash=_committed_hash(signed.get(p)),
            score=decision.scores_ppm.get(p, 0),
            reward=decision.rewards.get(p, 0),
        )
        for p in participants
    ]
    return RoundResults.build(round_id, entries)


def _committed_hash(sub: Submission | None) -> bytes:
    if sub is None or sub.commitment is None:
        return ZERO32
    return bytes(sub.commitment.update_hash)


_UNSIGNED_CODES = {"unsigned", "bad-signature", "wrong-signer", "replayed", "stale-model"}


def _signed_commitments(
    submissions: Sequence[Submission], exclusions: Sequence[Exclusion]
) -> dict[str, Submission]:
    """Submissions whose signature is valid for this round (usable as evidence)."""
    unsigned = {e.participant for e in exclusions if e.code in _UNSIGNED_CODES}
    return {
        s.participant: s
        for s in submissions
        if s.participant not in unsigned and s.commitment is not None
    }


def slash_evidence(
    round_id: int,
    participants: Sequence[str],
    submissions: Sequence[Submission],
    exclusions: Sequence[Exclusion],
    decision: RoundDecision,
) -> tuple[SlashEvidence, ...]:
    """Each slash carries the participant's own signed commitment and selection proof."""
    tree = Ledger.participants_tree(round_id, participants)
    signed = _signed_commitments(submissions, exclusions)
    out = []
    for s in decision.slashes:
        sub = signed.get(s.participant)
        if sub is None or sub.commitment is None or sub.signature is None:
            log.warning("round %d: no signed commitment of %s to slash", round_id, s.participant)
            continue
        out.append(
            Ledger.slash_evidence(
                sub.commitment,
                sub.signature,
                reason=int(s.reason),
                slash_bps=s.bps,
                participants=tree,
            )
        )
    return tuple(out)


class RoundEngine:
    """The coordinator's side of every round, over any `Ledger` backend and store."""

    def __init__(
        self,
        ledger: Ledger,
        store: ArtifactStore,
        aggregator: Aggregator,
        *,
        journal: Journal | None = None,
        scoring: ScoringConfig | None = None,
        policy: PolicyConfig | None = None,
        hyperparams: Mapping[str, Any] | None = None,
        dataset_fingerprint: bytes = ZERO32,
        code_commit: bytes = ZERO32,
        max_examples: int = 10**9,
        claim_for_participants: bool = False,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.aggregator = aggregator
        self.journal = journal
        self.scoring = scoring or ScoringConfig()
        self.policy = policy or PolicyConfig()
        self.hyperparams = dict(hyperparams or {})
        self.dataset_fingerprint = dataset_fingerprint
        self.code_commit = code_commit
        self.max_examples = max_examples
        self.claim_for_participants = claim_for_participants
        self.settlement: SettlementState | None = None
        self.parent_version = 0
        self._restore_state()

    # -- state across rounds ----------------------------------------------------------------
    def _restore_state(self) -> None:
        rec = self.journal.latest("state") if self.journal else None
        if rec is None:
            return
        if rec.get("settlement"):
            doc = self.store.get_json(bytes.fromhex(rec["settlement"]))
            self.settlement = SettlementState.from_json(json.dumps(doc))
        self._load_aggregator_state(rec.get("aggregator"))
        self.parent_version = int(rec.get("parent_version", 0))

    def _put_aggregator_state(self) -> str | None:
        """The aggregator's state in the store (hex hash), None when it keeps none."""
        state = state_of(self.aggregator)
        return self.store.put(state).hex() if state else None

    def _load_aggregator_state(self, digest: str | None) -> None:
        load_state(self.aggregator, self.store.get(bytes.fromhex(digest)) if digest else {})

    def _save_state(self) -> None:
        if self.journal is None:
            return
        digest = None
        if self.settlement is not None:
            digest = self.store.put_json(json.loads(self.settlement.to_json())).hex()
        self.journal.append(
            "state",
            settlement=digest,
            aggregator=self._put_aggregator_state(),
            parent_version=self.parent_version,
        )

    @property
    def config_hash(self) -> bytes:
        return config_hash_of(
            committed_config(
                self.hyperparams,
                self.aggregator.spec(),
                asdict(self.scoring),
                asdict(self.policy),
                self.max_examples,
            )
        )

    # -- open -----------------------------------------------------------------------------
    def open_round(
        self,
        participants: Sequence[str],
        global_arrays: Mapping[str, np.ndarray],
        budget: int,
        *,
        duration: int | None = None,
    ) -> OpenedRound:
        """Open a round for the selected (eligible) participants; store the global model."""
        if not participants:
            raise ValueError("a round needs at least one selected participant")
        addrs = tuple(to_checksum_address(p) for p in participants)
        if len(set(addrs)) != len(addrs):
            raise ValueError("a participant was selected twice")
        led = self.ledger
        gmh = self.store.put(dict(global_arrays))
        cfg = self.config_hash
        opened = led.open_round(
            list(addrs),
            reward_budget=budget,
            global_model_hash=gmh,
            config_hash=cfg,
            duration=duration,
        )
        round_id = int(opened.value)
        params = led.round_params(round_id)
        tree = led.participants_tree(round_id, addrs)
        if params.participants_root != tree.root:
            raise RuntimeError(
                f"round {round_id} was opened with a participant root for another round id "
                "(two coordinators opened at once); expire it with `fedstake` and retry"
            )
        info = led.get_round(round_id)
        out = OpenedRound(
            round_id, addrs, gmh, cfg, budget, info.finalize_deadline, opened.gas_used
        )
        if self.journal:
            self.journal.append(
                OPENED,
                round_id,
                participants=list(addrs),
                global_model_hash=gmh.hex(),
                config_hash=cfg.hex(),
                budget=str(budget),
                finalize_deadline=out.finalize_deadline,
                gas=out.gas,
            )
        log.info("round %d opened for %d participants", round_id, len(addrs))
        return out

    # -- conclude -------------------------------------------------------------------------
    def conclude(self, opened: OpenedRound, submissions: Iterable[Submission]) -> RoundOutcome:
        """Validate, aggregate, score, decide, publish, finalize and record one round.

        Submissions from addresses that were not selected are ignored (logged); a selected
        participant with no submission is absent: no reward, no slash.
        """
        timer = _Timer()
        led = self.ledger
        rid = opened.round_id
        selected = set(opened.participants)
        subs: list[Submission] = []
        seen: set[str] = set()
        for s in submissions:
            who = to_checksum_address(s.participant)
            if who not in selected or who in seen:
                log.warning("round %d: ignored a reply from %s (not selected or twice)", rid, who)
                continue
            seen.add(who)
            subs.append(s if s.participant == who else _with_participant(s, who))
        absent = tuple(p for p in opened.participants if p not in seen)
        global_arrays = self.store.get(opened.global_model_hash)
        with timer("chain"):
            stakes = {p: st.slashable for p, st in led.stakes_of(list(opened.participants)).items()}
        prior = self.settlement
        state_before = self._put_aggregator_state()
        valid, exclusions, agg, scores, decision, after = decide(
            rid,
            opened.participants,
            subs,
            global_arrays=global_arrays,
            global_model_hash=opened.global_model_hash,
            domain=led.domain,
            aggregator=self.aggregator,
            stakes=stakes,
            budget=opened.budget,
            state=prior,
            scoring=self.scoring,
            policy=self.policy,
            max_examples=self.max_examples,
            timer=timer,
        )
        if agg.fallback:
            log.warning("round %d: %s", rid, agg.fallback)
        with timer("artifacts"):
            agg_hash = self.store.put(agg.arrays)
            hashed = {v.participant: v.update_hash for v in valid}  # from validation
            submitted = [_submission_doc(self.store, s, hashed.get(s.participant)) for s in subs]
        results = build_results(rid, opened.participants, subs, exclusions, decision)
        evidence = slash_evidence(rid, opened.participants, subs, exclusions, decision)
        manifest = {
            "version": MANIFEST_VERSION,
            "round_id": rid,
            "chain_id": led.deployment.chain_id,
            "round_manager": led.deployment.address("RoundManager"),
            "participants": list(opened.participants),
            "global_model_hash": opened.global_model_hash.hex(),
            "config_hash": opened.config_hash.hex(),
            "hyperparams": json.loads(json.dumps(self.hyperparams, default=str)),
            "budget": str(opened.budget),
            "aggregator": self.aggregator.spec(),
            "aggregator_state_before": state_before,
            "aggregator_state_after": self._put_aggregator_state(),
            "scoring": asdict(self.scoring),
            "policy": asdict(self.policy),
            "max_examples": self.max_examples,
            "stakes": {p: str(v) for p, v in stakes.items()},
            "settlement_before": None if prior is None else json.loads(prior.to_json()),
            "submissions": submitted,
            "absent": list(absent),
            "exclusions": [e.to_dict() for e in exclusions],
            "aggregate_hash": agg_hash.hex(),
            "fallback": agg.fallback,
            "results": results.to_dict(),
            "slashes": [
                {"participant": s.participant, "reason": int(s.reason), "bps": s.slash_bps}
                for s in evidence
            ],
            "decision": decision.to_dict(),
            "scores": scores.to_dict() if scores else None,
        }
        with timer("artifacts"):
            self.store.put_named(manifest_name(rid), manifest)
            self.store.put_named(f"round-{rid}-results", results.to_dict())
        self.settlement = after
        if self.journal:
            self.journal.append(DECIDED, rid, aggregate_hash=agg_hash.hex())
        self._save_state()
        crash_point("before-finalize")  # testing hook (federation.crashpoints)
        with timer("chain"):
            fin = led.finalize_round(
                rid, aggregate_hash=agg_hash, results=results, slashes=evidence
            )
        self._journal(FINALIZED, rid, gas=fin.gas_used)
        with timer("chain"):
            version_id, rec_gas = self._record(rid, agg_hash)
        gas = {"open": opened.gas, "finalize": fin.gas_used, "provenance": rec_gas}
        log.info(
            "round %d finalized: %d valid, %d excluded, %d absent, %d slashed",
            rid,
            len(valid),
            len(exclusions),
            len(absent),
            len(evidence),
        )
        return RoundOutcome(
            round_id=rid,
            aggregate_arrays=agg.arrays,
            aggregate_hash=agg_hash,
            valid=tuple(v.participant for v in valid),
            exclusions=tuple(exclusions),
            absent=absent,
            scores=scores,
            decision=decision,
            results=results,
            slashes=evidence,
            fallback=agg.fallback,
            gas=gas,
            seconds=dict(timer.seconds),
            version_id=version_id,
            already_finalized=fin.already_applied,
        )

    def _record(self, round_id: int, agg_hash: bytes) -> tuple[int, int]:
        """Provenance of the round's aggregate (once: weights already recorded are reused)."""
        led = self.ledger
        existing = led.version_of_weights(agg_hash)
        gas = 0
        if existing:
            version_id = existing
        else:
            tx = led.record_version(
                VersionInput(
                    weights_hash=agg_hash,
                    weights_uri=self.store.uri(agg_hash),
                    dataset_root=self.dataset_fingerprint,
                    code_commit=self.code_commit,
                    hyperparams_hash=self.config_hash,
                    parent_version=self.parent_version,
                    round_id=round_id,
                )
            )
            version_id, gas = int(tx.value), tx.gas_used
        self.parent_version = version_id
        self._journal(RECORDED, round_id, version=version_id)
        self._save_state()
        return version_id, gas

    def _journal(self, step: str, round_id: int, **data: Any) -> None:
        if self.journal:
            self.journal.append(step, round_id, **data)

    # -- settle ---------------------------------------------------------------------------
    def settle_due(self, *, claim: bool = True) -> dict[int, dict[str, int]]:
        """Settle every journalled round whose challenge window has passed (and, with
        `claim`, claim for the participants when configured); expire opened rounds that can
        no longer be finalized. Returns gas per settled round."""
        if self.journal is None:
            return {}
        claiming = claim and self.claim_for_participants
        led = self.ledger
        now = led.now()
        done: dict[int, dict[str, int]] = {}
        for rid, entry in sorted(self.journal.rounds().items()):
            if entry.has(SETTLED) and (entry.has(CLAIMED) or not claiming):
                continue
            if entry.has(EXPIRED):
                continue
            info = led.get_round(rid)
            if info.status == RoundStatus.OPEN and not entry.has(DECIDED):
                if now > info.finalize_deadline:
                    led.expire_round(rid)
                    self._journal(EXPIRED, rid)
                continue
            if info.status == RoundStatus.FINALIZED:
                if now <= info.challenge_deadline or info.open_disputes:
                    continue
                tx = led.settle_round(rid)
                self._journal(SETTLED, rid, gas=tx.gas_used)
                done[rid] = {"settle": tx.gas_used}
            elif info.status == RoundStatus.SETTLED and not entry.has(SETTLED):
                self._journal(SETTLED, rid, gas=0)
                done[rid] = {"settle": 0}
            elif info.status != RoundStatus.SETTLED:
                continue
            if claiming and not entry.has(CLAIMED):
                claimed, gas = self._claim_all(rid)
                self._journal(CLAIMED, rid, amount=str(claimed), gas=gas)
                done.setdefault(rid, {})["claims"] = gas
        return done

    def _claim_all(self, round_id: int) -> tuple[int, int]:
        """Trigger every reward's pull payment (paid to the participant, never twice)."""
        results = RoundResults.from_dict(self.store.get_named(f"round-{round_id}-results"))
        total = gas = 0
        for e in results.entries:
            if e.reward > 0:
                tx = self.ledger.claim(round_id, results, participant=e.participant)
                if not tx.already_applied:
                    total += e.reward
                    gas += tx.gas_used
        return total, gas

    # -- crash recovery -------------------------------------------------------------------
    def resume(self) -> list[int]:
        """Finish rounds a previous run of this coordinator left half done.

        Decided but not finalized → finalize exactly what was decided (a finalize that did
        land is recognised), or, when the coordinator was down past the round's finalize
        deadline, expire it and forget its decision; finalized but not recorded → record
        provenance; opened but never decided (the replies died with the process) → expired
        once its deadline passes (`settle_due`). Returns the round ids it finished.
        """
        if self.journal is None:
            return []
        finished = []
        errors = self.ledger.errors
        for rid, entry in sorted(self.journal.rounds().items()):
            if entry.has(DECIDED) and not entry.has(RECORDED) and not entry.has(EXPIRED):
                manifest = self.store.get_named(manifest_name(rid))
                results = RoundResults.from_dict(manifest["results"])
                agg_hash = bytes.fromhex(manifest["aggregate_hash"])
                evidence = _evidence_from_manifest(manifest)
                if not entry.has(FINALIZED):
                    try:
                        fin = self.ledger.finalize_round(
                            rid, aggregate_hash=agg_hash, results=results, slashes=evidence
                        )
                    except (errors.FinalizeDeadlinePassed, errors.InvalidRoundStatus):
                        if self.ledger.get_round(rid).status not in (
                            RoundStatus.OPEN,
                            RoundStatus.EXPIRED,
                        ):
                            raise  # finalized with another result: a human must look
                        self._expire_decided(rid, manifest)
                        continue
                    self._journal(FINALIZED, rid, gas=fin.gas_used, resumed=True)
                    log.warning(
                        "round %d: resumed finalize (%s)",
                        rid,
                        "it had landed" if fin.already_applied else "sent now",
                    )
                self._record(rid, agg_hash)
                finished.append(rid)
        return finished

    def _expire_decided(self, round_id: int, manifest: Mapping[str, Any]) -> None:
        """A decided round whose finalize can no longer land: expire it (its budget goes
        back to the pool, nobody is paid or slashed) and, when it is the latest decided
        round, put the settlement state back to before its decision."""
        assert self.journal is not None
        self.ledger.expire_round(round_id)  # already_applied when it is expired
        later = any(r > round_id and e.has(DECIDED) for r, e in self.journal.rounds().items())
        if not later:
            before = manifest.get("settlement_before")
            self.settlement = (
                None if before is None else SettlementState.from_json(json.dumps(before))
            )
            self._load_aggregator_state(manifest.get("aggregator_state_before"))
            self._save_state()
        self._journal(EXPIRED, round_id, decided=True)
        log.warning("round %d: its finalize deadline passed while down; expired", round_id)


def _with_participant(s: Submission, who: str) -> Submission:
    return Submission(who, s.arrays, s.num_examples, s.commitment, s.signature, s.node_id)


def _submission_doc(
    store: ArtifactStore, s: Submission, digest: bytes | None = None
) -> dict[str, Any]:
    """What `verify` needs to re-validate a reply: its arrays (if storable) and signature.
    `digest` is the arrays' hash when validation already computed it."""
    arrays_hash = None
    try:
        arrays_hash = store.put(s.arrays, digest).hex()
    except Exception as exc:  # arrays that cannot even be hashed or saved
        log.warning("reply of %s not stored: %s", s.participant, exc)
    c = s.commitment
    return {
        "participant": s.participant,
        "node_id": s.node_id,
        "arrays": arrays_hash,
        "num_examples": int(s.num_examples),
        "signature": None if s.signature is None else bytes(s.signature).hex(),
        "commitment": None
        if c is None
        else {
            "round_id": c.round_id,
            "participant": c.participant,
            "global_model_hash": bytes(c.global_model_hash).hex(),
            "update_hash": bytes(c.update_hash).hex(),
            "num_examples": c.num_examples,
        },
    }


def submission_from_doc(store: ArtifactStore, doc: Mapping[str, Any]) -> Submission:
    """Inverse of `_submission_doc` (arrays re-verified against their hash by the store)."""
    c = doc.get("commitment")
    commitment = (
        None
        if c is None
        else Commitment(
            round_id=int(c["round_id"]),
            participant=str(c["participant"]),
            global_model_hash=bytes.fromhex(c["global_model_hash"]),
            update_hash=bytes.fromhex(c["update_hash"]),
            num_examples=int(c["num_examples"]),
        )
    )
    arrays = store.get(bytes.fromhex(doc["arrays"])) if doc.get("arrays") else {}
    sig = doc.get("signature")
    return Submission(
        participant=str(doc["participant"]),
        arrays=arrays,
        num_examples=int(doc["num_examples"]),
        commitment=commitment,
        signature=None if sig is None else bytes.fromhex(sig),
        node_id=doc.get("node_id"),
    )


def _evidence_from_manifest(manifest: Mapping[str, Any]) -> tuple[SlashEvidence, ...]:
    """Rebuild the finalize call's slash list from a decided round's manifest."""
    rid = int(manifest["round_id"])
    tree = Ledger.participants_tree(rid, manifest["participants"])
    by_addr = {d["participant"]: d for d in manifest["submissions"]}
    out = []
    for s in manifest["slashes"]:
        d = by_addr[s["participant"]]
        c = d["commitment"]
        commitment = Commitment(
            round_id=int(c["round_id"]),
            participant=str(c["participant"]),
            global_model_hash=bytes.fromhex(c["global_model_hash"]),
            update_hash=bytes.fromhex(c["update_hash"]),
            num_examples=int(c["num_examples"]),
        )
        out.append(
            Ledger.slash_evidence(
                commitment,
                bytes.fromhex(d["signature"]),
                reason=int(s["reason"]),
                slash_bps=int(s["bps"]),
                participants=tree,
            )
        )
    return tuple(out)


__all__ = [
    "OpenedRound",
    "RoundEngine",
    "RoundOutcome",
    "build_results",
    "committed_config",
    "config_hash_of",
    "decide",
    "manifest_name",
    "slash_evidence",
    "submission_from_doc",
]
