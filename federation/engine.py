"""The coordinator's round engine: the one implementation of DESIGN's round protocol.

The Flower wrapper strategy (`federation.flower.strategy`), the demo, the tests and any
scripted coordinator call this class; simulations only replace the participants.

    open_round(participants, global model, budget)          → on-chain RoundOpened
    conclude(opened, submissions)                           → validate → aggregate → score
        → decide → publish artifacts + manifest → finalize → provenance
    settle_due()                                            → settle rounds past their window
    resume()                                                → finish what a crash left

The decision itself is `federation.round_decision.decide`, which `verify` replays. Provable
faults go to finalize with their proofs (checked locally first: a finalize never reverts on
a proof), judged ones as pending, disputable slashes; finalize commits the keccak256 of the
round's manifest as stored (the decision file `verify` replays) and the manifest's URI.

Every step is journalled (`federation.journal`) before the next relies on it, and every
on-chain write is idempotent (a finalize that already landed is detected), so a restarted
coordinator finishes each round exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from logging import getLogger
from typing import Any

import numpy as np
from eth_utils import keccak, to_checksum_address

from federation.aggregation import Aggregator, load_state, state_of
from federation.artifact_store import ArtifactStore
from federation.crashpoints import crash_point
from federation.errors import ConfigError
from federation.journal import (
    CANCELLED,
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
from federation.round_decision import (
    Decided,
    Timer,
    build_results,
    decide,
    evidence_from_doc,
    kept_replies,
    slash_doc,
    slash_evidence,
    submission_doc,
    submission_from_doc,
)
from federation.types import (
    RoundResults,
    RoundStatus,
    SlashEvidence,
    VersionInput,
)
from federation.validation import Exclusion, Submission
from strategies.policy import PolicyConfig, RoundDecision
from strategies.scoring_settle import SettlementState
from strategies.scoring_types import RoundScores, ScoringConfig

log = getLogger("fedstake.engine")

Arrays = dict[str, np.ndarray]
ZERO32 = b"\x00" * 32
MANIFEST_VERSION = 2
OPEN_ATTEMPTS = 3  # openRound for the next id, again when another coordinator took it


def contract_slash_bps(ledger: Ledger) -> tuple[int, int]:
    """(provableSlashBps, maxJudgedSlashBps) of the deployment's RoundManager."""
    cfg = ledger.round_config()
    return int(cfg.provable_slash_bps), int(cfg.max_judged_slash_bps)


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
    decision_hash: bytes = ZERO32
    equivocations: tuple[str, ...] = ()
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
            "equivocations": float(len(self.equivocations)),
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


# The coordinator's own training on its validation ("root") set: (global model arrays,
# round id) → the model trained from them. Deterministic, so a re-run gives the same bits;
# its output is stored with the round and `verify` scores against the stored copy.
ReferenceTrainer = Callable[[Mapping[str, np.ndarray], int], Mapping[str, np.ndarray]]


class RoundEngine:
    """The coordinator's side of every round, over any `Ledger` backend and store.

    With a `reference` trainer, each round's usefulness is measured against the
    coordinator's own update on its validation set (FLTrust-style); without one, against
    the participants' recent robust direction, which the decision file marks as weaker.
    """

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
        reference: ReferenceTrainer | None = None,
    ) -> None:
        self.ledger = ledger
        self.reference = reference
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
        self.check_policy()
        self._restore_state()

    def check_policy(self) -> None:
        """Refuse a policy whose slash sizes the RoundManager would reject at finalize:
        a provable slash must be exactly provableSlashBps, a judged one at most
        maxJudgedSlashBps (read from the contract, so a misconfigured coordinator stops at
        start-up instead of reverting its first finalize)."""
        provable, judged = contract_slash_bps(self.ledger)
        problems = self.policy.misfits(provable, judged)
        if problems:
            raise ConfigError(
                "the reward/slash policy does not fit this deployment's RoundManager:\n  "
                + "\n  ".join(problems)
            )

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
        for attempt in range(OPEN_ATTEMPTS):
            expected = led.next_round_id()
            self._check_eligible(addrs, expected)
            try:
                opened = led.open_round(
                    list(addrs),
                    reward_budget=budget,
                    global_model_hash=gmh,
                    config_hash=cfg,
                    duration=duration,
                    expected_round_id=expected,
                )
                break
            except led.errors.UnexpectedRoundId:  # another coordinator took the id first
                if attempt + 1 == OPEN_ATTEMPTS:
                    raise
                log.warning("round %d was taken by another coordinator; opening again", expected)
        round_id = int(opened.value)  # == expected: openRound reverts on another id
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

    def _check_eligible(self, addrs: Sequence[str], round_id: int) -> None:
        """Every selected participant may take part in round `round_id` (staked at least
        the minimum and not jailed for it): `verify` checks the same at the round's open."""
        ok = self.ledger.eligibility(list(addrs), round_id)
        bad = [a for a in addrs if not ok[a]]
        if bad:
            raise ValueError(
                f"not eligible for round {round_id} (below the minimum stake or jailed): "
                + ", ".join(bad)
            )

    # -- conclude -------------------------------------------------------------------------
    def conclude(self, opened: OpenedRound, submissions: Iterable[Submission]) -> RoundOutcome:
        """Validate, aggregate, score, decide, publish, finalize and record one round.

        Submissions from addresses that were not selected are ignored (logged); a selected
        participant with no submission is absent: no reward, no slash. A participant's
        first reply is the one that counts; a later one signed over another commitment is
        kept as the proof of an equivocation, any other is dropped.
        """
        timer = Timer()
        led = self.ledger
        rid = opened.round_id
        selected = set(opened.participants)
        arrived: list[Submission] = []
        for s in submissions:
            who = to_checksum_address(s.participant)
            if who not in selected:
                log.warning("round %d: ignored a reply from %s (not selected)", rid, who)
                continue
            arrived.append(s if s.participant == who else _with_participant(s, who))
        subs, _ = kept_replies(
            arrived, round_id=rid, domain=led.domain, global_model_hash=opened.global_model_hash
        )
        replied = {s.participant for s in subs}
        absent = tuple(p for p in opened.participants if p not in replied)
        global_arrays = self.store.get(opened.global_model_hash)
        with timer("chain"):
            stakes = {p: st.slashable for p, st in led.stakes_of(list(opened.participants)).items()}
        prior = self.settlement
        state_before = self._put_aggregator_state()
        reference_arrays: dict[str, np.ndarray] | None = None
        reference_hash: bytes | None = None
        if self.reference is not None:
            with timer("reference"):
                trained = self.reference(global_arrays, rid)
                reference_arrays = {k: np.asarray(v) for k, v in trained.items()}
            reference_hash = self.store.put(reference_arrays)
        decided = decide(
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
            reference_arrays=reference_arrays,
        )
        agg = decided.aggregate
        if agg.fallback:
            log.warning("round %d: %s", rid, agg.fallback)
        with timer("artifacts"):
            agg_hash = self.store.put(agg.arrays)
            hashed = {id(v.submission): v.update_hash for v in decided.valid}  # from validation
            submitted = [submission_doc(self.store, s, hashed.get(id(s))) for s in subs]
        results = build_results(rid, opened.participants, decided)
        evidence = slash_evidence(rid, opened.participants, decided, led.domain)
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
            "reference_hash": None if reference_hash is None else reference_hash.hex(),
            "max_examples": self.max_examples,
            "stakes": {p: str(v) for p, v in stakes.items()},
            "settlement_before": None if prior is None else json.loads(prior.to_json()),
            "submissions": submitted,
            "absent": list(absent),
            "exclusions": [e.to_dict() for e in decided.exclusions],
            "equivocations": [
                {"participant": e.participant, "proof": e.proof.hex()}
                for e in decided.equivocations
            ],
            "aggregate_hash": agg_hash.hex(),
            "fallback": agg.fallback,
            "results": results.to_dict(),
            "slashes": [slash_doc(e) for e in evidence],
            "decision": decided.decision.to_dict(),
            "scores": decided.scores.to_dict() if decided.scores else None,
        }
        with timer("artifacts"):
            decision_hash, uri = self._publish(rid, manifest, results)
        self.settlement = decided.after
        if self.journal:
            self.journal.append(
                DECIDED,
                rid,
                aggregate_hash=agg_hash.hex(),
                decision_hash=decision_hash.hex(),
                artifacts_uri=uri,
            )
        self._save_state()
        crash_point("before-finalize")  # testing hook (federation.crashpoints)
        with timer("chain"):
            fin = led.finalize_round(
                rid,
                aggregate_hash=agg_hash,
                results=results,
                slashes=evidence,
                decision_hash=decision_hash,
                artifacts_uri=uri,
            )
        self._journal(FINALIZED, rid, gas=fin.gas_used)
        with timer("chain"):
            version_id, rec_gas = self._record(rid, agg_hash)
        gas = {"open": opened.gas, "finalize": fin.gas_used, "provenance": rec_gas}
        log.info(
            "round %d finalized: %d valid, %d excluded, %d absent, %d slashed",
            rid,
            len(decided.valid),
            len(decided.exclusions),
            len(absent),
            len(evidence),
        )
        return RoundOutcome(
            round_id=rid,
            aggregate_arrays=decided.aggregate.arrays,
            aggregate_hash=agg_hash,
            valid=tuple(v.participant for v in decided.valid),
            exclusions=tuple(decided.exclusions),
            absent=absent,
            scores=decided.scores,
            decision=decided.decision,
            results=results,
            slashes=evidence,
            fallback=decided.aggregate.fallback,
            decision_hash=decision_hash,
            equivocations=tuple(e.participant for e in decided.equivocations),
            gas=gas,
            seconds=dict(timer.seconds),
            version_id=version_id,
            already_finalized=fin.already_applied,
        )

    def _publish(
        self, round_id: int, manifest: Mapping[str, Any], results: RoundResults
    ) -> tuple[bytes, str]:
        """Store the round's decision file and results; (keccak256 of the manifest's bytes
        as stored, its URI): what finalize commits so `verify` can tell an altered one."""
        name = manifest_name(round_id)
        self.store.put_named(name, manifest)
        self.store.put_named(f"round-{round_id}-results", results.to_dict())
        return decision_hash_of(self.store, round_id), self.store.named_uri(name)

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
        no longer be finalized; apply the default outcome of disputes the arbiter left
        undecided past their round's dispute deadline (they would block settlement).
        Returns gas per settled round."""
        if self.journal is None:
            return {}
        claiming = claim and self.claim_for_participants
        led = self.ledger
        now = led.now()
        done: dict[int, dict[str, int]] = {}
        for rid, entry in sorted(self.journal.rounds().items()):
            if entry.has(SETTLED) and (entry.has(CLAIMED) or not claiming):
                continue
            if entry.ended:
                continue
            info = led.get_round(rid)
            if info.status == RoundStatus.CANCELLED:
                self._journal(CANCELLED, rid)
                log.warning("round %d was cancelled by the guardian", rid)
                continue
            if info.status == RoundStatus.OPEN and not entry.has(DECIDED):
                if now > info.finalize_deadline:
                    led.expire_round(rid)
                    self._journal(EXPIRED, rid)
                continue
            if info.status == RoundStatus.FINALIZED:
                if now <= info.challenge_deadline:
                    continue
                if now > info.dispute_deadline and (
                    info.open_slash_disputes or info.open_result_disputes
                ):
                    self._time_out_disputes(rid)
                    info = led.get_round(rid)
                if info.open_slash_disputes or (
                    info.open_result_disputes and now <= info.dispute_deadline
                ):
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

    def _time_out_disputes(self, round_id: int) -> None:
        """Every open dispute of the round takes its default outcome (anyone may do this
        once the dispute deadline has passed): a slash dispute reverts the slash and pays
        compensation from this coordinator's bond, a result dispute leaves the result."""
        led = self.ledger
        for d in led.list_disputes(round_id, open_only=True):
            if d.timeout_due(led.now()):
                led.timeout_dispute(d.dispute_id)
                log.warning(
                    "round %d: dispute %d timed out (the arbiter did not decide): %s",
                    round_id,
                    d.dispute_id,
                    d.default_outcome,
                )

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

        Decided but not finalized → finalize exactly what was decided (the manifest as
        stored: its hash is the decision hash; a finalize that did land is recognised), or,
        when the coordinator was down past the round's finalize deadline, expire it and
        forget its decision; finalized but not recorded → record provenance; opened but
        never decided (the replies died with the process) → expired once its deadline
        passes (`settle_due`). Returns the round ids it finished.
        """
        if self.journal is None:
            return []
        finished = []
        errors = self.ledger.errors
        for rid, entry in sorted(self.journal.rounds().items()):
            if entry.has(DECIDED) and not entry.has(RECORDED) and not entry.ended:
                manifest = self.store.get_named(manifest_name(rid))
                agg_hash = bytes.fromhex(manifest["aggregate_hash"])
                if not entry.has(FINALIZED):
                    decision_hash = decision_hash_of(self.store, rid)
                    journalled = entry.steps[DECIDED].get("decision_hash")
                    if journalled is not None and journalled != decision_hash.hex():
                        raise RuntimeError(
                            f"round {rid}: {manifest_name(rid)} changed after it was decided "
                            f"(hash {decision_hash.hex()}, journalled {journalled}); a human "
                            "must look before anything is finalized"
                        )
                    try:
                        fin = self.ledger.finalize_round(
                            rid,
                            aggregate_hash=agg_hash,
                            results=RoundResults.from_dict(manifest["results"]),
                            slashes=evidence_from_manifest(manifest),
                            decision_hash=decision_hash,
                            artifacts_uri=self.store.named_uri(manifest_name(rid)),
                        )
                    except (errors.FinalizeDeadlinePassed, errors.InvalidRoundStatus):
                        status = self.ledger.get_round(rid).status
                        if status not in (
                            RoundStatus.OPEN,
                            RoundStatus.EXPIRED,
                            RoundStatus.CANCELLED,
                        ):
                            raise  # finalized with another result: a human must look
                        self._forget_decided(
                            rid, manifest, cancelled=status == RoundStatus.CANCELLED
                        )
                        continue
                    self._journal(FINALIZED, rid, gas=fin.gas_used, resumed=True)
                    log.warning(
                        "round %d: resumed finalize (%s)",
                        rid,
                        "it had landed" if fin.already_applied else "sent now",
                    )
                if self.ledger.get_round(rid).status == RoundStatus.CANCELLED:
                    self._journal(CANCELLED, rid)  # no provenance for a cancelled round
                    log.warning("round %d was cancelled by the guardian after finalize", rid)
                    continue
                self._record(rid, agg_hash)
                finished.append(rid)
        return finished

    def _forget_decided(
        self, round_id: int, manifest: Mapping[str, Any], *, cancelled: bool = False
    ) -> None:
        """A decided round whose finalize can no longer land: expire it (its budget goes
        back to the pool, nobody is paid or slashed) unless the guardian cancelled it and,
        when it is the latest decided round, put the settlement state back to before its
        decision."""
        assert self.journal is not None
        if not cancelled:
            self.ledger.expire_round(round_id)  # already_applied when it is expired
        later = any(r > round_id and e.has(DECIDED) for r, e in self.journal.rounds().items())
        if not later:
            before = manifest.get("settlement_before")
            self.settlement = (
                None if before is None else SettlementState.from_json(json.dumps(before))
            )
            self._load_aggregator_state(manifest.get("aggregator_state_before"))
            self._save_state()
        if cancelled:
            self._journal(CANCELLED, round_id, decided=True)
            log.warning("round %d was cancelled by the guardian before its finalize", round_id)
            return
        self._journal(EXPIRED, round_id, decided=True)
        log.warning("round %d: its finalize deadline passed while down; expired", round_id)


def _with_participant(s: Submission, who: str) -> Submission:
    return Submission(who, s.arrays, s.num_examples, s.commitment, s.signature, s.node_id)


def decision_hash_of(store: ArtifactStore, round_id: int) -> bytes:
    """keccak256 of round `round_id`'s manifest bytes as stored: the decisionHash its
    finalize commits to (and `verify` recomputes)."""
    return keccak(store.named_bytes(manifest_name(round_id)))


def evidence_from_manifest(manifest: Mapping[str, Any]) -> tuple[SlashEvidence, ...]:
    """The finalize call's slash list, rebuilt from a decided round's manifest."""
    rid = int(manifest["round_id"])
    tree = Ledger.participants_tree(rid, manifest["participants"])
    return tuple(evidence_from_doc(rid, d, tree) for d in manifest["slashes"])


__all__ = [
    "Decided",
    "OpenedRound",
    "RoundEngine",
    "RoundOutcome",
    "build_results",
    "committed_config",
    "config_hash_of",
    "contract_slash_bps",
    "decide",
    "decision_hash_of",
    "evidence_from_manifest",
    "manifest_name",
    "slash_evidence",
    "submission_from_doc",
]
