"""The deterministic heart of a round, shared by the round engine and `verify`.

Same replies → same valid set, faults, aggregate, scores, decision and slash list, bit for
bit, whatever order the replies arrived in (they are taken in participant-address order;
one participant's replies keep their arrival order, which is what makes "the first reply"
well defined for an equivocator). Kept apart from `federation.engine` so `verify` replays
exactly this code without the engine's chain and journal plumbing.

A participant's faults, by class (docs/protocol.md):

* provable — MALFORMED (non-finite value / header unlike the global model), NULL_UPDATE
  (signed the global model's hash), EQUIVOCATION (two different signed commitments for the
  round). Their slash carries a proof the contract's FaultVerifier checks at finalize, so
  it needs no arbiter and cannot be disputed;
* judged — FORGED_HASH, BAD_EXAMPLES (found by validation) and the statistical BYZANTINE,
  SYBIL, FREE_RIDER (scoring): pending through the challenge window, disputable.

One slash per participant: a provable fault beats a judged one (`strategies.policy`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from logging import getLogger
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from federation import faults
from federation.aggregation import AggregateResult, Aggregator
from federation.artifact_store import ArtifactStore
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment, Domain
from federation.protocol.merkle import MerkleTree
from federation.types import RewardEntry, RoundResults, SlashEvidence
from federation.validation import (
    Equivocation,
    Exclusion,
    Submission,
    ValidUpdate,
    equivocation,
    validate_submission,
)
from strategies.flower.arrays import ModelLayout, flatten
from strategies.policy import PolicyConfig, RoundDecision, is_provable
from strategies.scoring_settle import SettlementState, decide_round
from strategies.scoring_types import ReasonCode, RoundScores, ScoringConfig

log = getLogger("fedstake.engine")

ZERO32 = b"\x00" * 32
# Exclusion codes of replies whose signature does not commit the participant to them.
UNSIGNED_CODES = frozenset({"unsigned", "bad-signature", "wrong-signer", "replayed", "stale-model"})


@dataclass
class Timer:
    """Seconds per phase of a round (metrics)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, what: str) -> Any:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0


@dataclass(frozen=True)
class Fault:
    """What a participant is slashed for when the policy slashes it for `reason`: the
    signed reply the slash cites and, for a provable reason, the proof (else b"")."""

    participant: str
    reason: ReasonCode
    evidence: Submission
    proof: bytes = b""


@dataclass(frozen=True)
class Decided:
    """Everything one round decided from its replies."""

    replies: dict[str, Submission]  # participant → the reply that counts (its first)
    valid: list[ValidUpdate]
    exclusions: list[Exclusion]
    equivocations: list[Equivocation]
    faults: dict[str, Fault]  # at most one per participant, provable first
    aggregate: AggregateResult
    scores: RoundScores | None
    decision: RoundDecision
    after: SettlementState


def kept_replies(
    submissions: Sequence[Submission],
    *,
    round_id: int,
    domain: Domain,
    global_model_hash: bytes,
) -> tuple[list[Submission], dict[str, Equivocation]]:
    """Each participant's first reply, plus the first later one that proves an
    equivocation (anything else a participant sends again is dropped): in arrival order,
    with the equivocations found."""
    first: dict[str, Submission] = {}
    found: dict[str, Equivocation] = {}
    kept: list[Submission] = []
    for s in submissions:
        who = s.participant
        if who not in first:
            first[who] = s
            kept.append(s)
            continue
        if who in found:
            log.warning("round %d: dropped another reply of %s", round_id, who)
            continue
        eq = equivocation(
            first[who], s, round_id=round_id, domain=domain, global_model_hash=global_model_hash
        )
        if eq is None:
            log.warning(
                "round %d: dropped a second reply of %s (not an equivocation)", round_id, who
            )
            continue
        log.warning("round %d: %s signed two different commitments (equivocation)", round_id, who)
        found[who] = eq
        kept.append(s)
    return kept, found


def decide(
    round_id: int,
    participants: Sequence[str],
    submissions: Sequence[Submission],
    *,
    global_arrays: Mapping[str, np.ndarray],
    global_model_hash: bytes,
    domain: Domain,
    aggregator: Aggregator,
    stakes: Mapping[str, int],
    budget: int,
    state: SettlementState | None,
    scoring: ScoringConfig,
    policy: PolicyConfig,
    max_examples: int,
    timer: Timer | None = None,
    reference_arrays: Mapping[str, np.ndarray] | None = None,
) -> Decided:
    """Validate, aggregate, score and decide one round (pure but for the aggregator's own
    state, which the caller saves before and after). `reference_arrays`, when given, is
    the model the coordinator trained from the global model on its own validation set
    this round: usefulness is then measured against it (`strategies.scoring_evidence`)."""
    timer = timer or Timer()
    layout = ModelLayout.of(global_arrays)
    ordered = sorted(submissions, key=lambda s: s.participant.lower())  # stable
    valid: list[ValidUpdate] = []
    exclusions: list[Exclusion] = []
    with timer("validation"):
        kept, equivocations = kept_replies(
            ordered, round_id=round_id, domain=domain, global_model_hash=global_model_hash
        )
        replies: dict[str, Submission] = {}
        for sub in kept:
            if sub.participant in replies:
                continue  # an equivocation's second reply: evidence only
            replies[sub.participant] = sub
            out = validate_submission(
                sub,
                round_id=round_id,
                domain=domain,
                global_arrays=global_arrays,
                global_model_hash=global_model_hash,
                max_examples=max_examples,
                layout=layout,
            )
            if isinstance(out, ValidUpdate):
                valid.append(out)
            else:
                exclusions.append(out)
    found = _faults(replies, exclusions, equivocations)
    with timer("aggregation"):
        if valid:
            agg = aggregator.aggregate(round_id, global_arrays, valid)
        else:  # nothing usable came back: the model stays, signed bad replies are slashed
            agg = AggregateResult({k: np.array(v, copy=True) for k, v in global_arrays.items()})
    with timer("scoring"):
        g = flatten(global_arrays, layout)
        deltas = np.stack([v.weights for v in valid]) - g if valid else np.empty((0, layout.dim))
        reference = None
        if reference_arrays is not None:
            if ModelLayout.of(reference_arrays) != layout:
                raise ValueError(
                    "the reference model's arrays (names, shapes, dtypes) are not the "
                    "global model's"
                )
            reference = flatten(reference_arrays, layout) - g
        scores, decision, after = decide_round(
            round_id,
            deltas,
            [v.participant for v in valid],
            {p: int(stakes[p]) for p in participants},
            budget,
            state,
            upstream={p: f.reason for p, f in found.items()},
            scoring_config=scoring,
            policy_config=policy,
            reference=reference,
        )
    return Decided(
        replies,
        valid,
        exclusions,
        list(equivocations.values()),
        found,
        agg,
        scores,
        decision,
        after,
    )


def _faults(
    replies: Mapping[str, Submission],
    exclusions: Sequence[Exclusion],
    equivocations: Mapping[str, Equivocation],
) -> dict[str, Fault]:
    """One fault per participant found before scoring: the reply's own provable fault,
    else an equivocation, else the reply's judged fault."""
    out: dict[str, Fault] = {}
    for e in exclusions:
        if e.reason is not None:
            out[e.participant] = Fault(
                e.participant, e.reason, replies[e.participant], e.proof or b""
            )
    for who, eq in equivocations.items():
        current = out.get(who)
        if current is None or not is_provable(current.reason):
            out[who] = Fault(who, ReasonCode.EQUIVOCATION, eq.first, eq.proof)
    return out


def signed_replies(decided: Decided) -> dict[str, Submission]:
    """Replies whose signature commits their participant to this round (usable as
    evidence, and as the update hash of its result leaf)."""
    unsigned = {e.participant for e in decided.exclusions if e.code in UNSIGNED_CODES}
    return {
        p: s
        for p, s in decided.replies.items()
        if p not in unsigned and s.commitment is not None and s.signature is not None
    }


def build_results(round_id: int, participants: Sequence[str], decided: Decided) -> RoundResults:
    """One leaf per selected participant (in selection order); the update hash is the one
    they signed (zero when they sent no valid signature)."""
    signed = signed_replies(decided)
    d = decided.decision
    entries = [
        RewardEntry(
            participant=p,
            update_hash=_committed_hash(signed.get(p)),
            score=d.scores_ppm.get(p, 0),
            reward=d.rewards.get(p, 0),
        )
        for p in participants
    ]
    return RoundResults.build(round_id, entries)


def _committed_hash(sub: Submission | None) -> bytes:
    if sub is None or sub.commitment is None:
        return ZERO32
    return bytes(sub.commitment.update_hash)


def slash_evidence(
    round_id: int, participants: Sequence[str], decided: Decided, domain: Domain
) -> tuple[SlashEvidence, ...]:
    """Each of the decision's slashes with its evidence: the participant's own signed
    commitment, selection proof and, for a provable reason, the fault proof — checked here
    once more as the contract will check it; one that fails is left out (logged), so a
    finalize never reverts on a proof."""
    tree = Ledger.participants_tree(round_id, participants)
    signed = signed_replies(decided)
    out = []
    for s in decided.decision.slashes:
        fault = decided.faults.get(s.participant)
        if fault is not None and fault.reason == s.reason:
            sub, proof = fault.evidence, fault.proof
        else:  # a scoring flag on a valid (hence signed) update
            sub, proof = signed.get(s.participant), b""
        if sub is None or sub.commitment is None or sub.signature is None:
            log.warning("round %d: no signed commitment of %s to slash", round_id, s.participant)
            continue
        if is_provable(s.reason):
            why = faults.check(s.reason, sub.commitment, domain, proof)
            if why is not None:
                log.error(
                    "round %d: the %s proof against %s fails locally (%s); slash left out",
                    round_id,
                    s.reason.name,
                    s.participant,
                    why,
                )
                continue
        out.append(evidence_of(sub.commitment, sub.signature, int(s.reason), s.bps, tree, proof))
    return tuple(out)


def evidence_of(
    commitment: Commitment,
    signature: bytes,
    reason: int,
    bps: int,
    tree: MerkleTree,
    fault_proof: bytes,
) -> SlashEvidence:
    """finalizeRound's SlashEvidence for one slash."""
    ev = Ledger.slash_evidence(
        commitment, signature, reason=reason, slash_bps=bps, participants=tree
    )
    return replace(ev, fault_proof=bytes(fault_proof))


def slash_doc(ev: SlashEvidence) -> dict[str, Any]:
    """A slash as the manifest records it: everything finalize sent, proof included."""
    return {
        "participant": ev.participant,
        "reason": int(ev.reason),
        "reason_name": ReasonCode(int(ev.reason)).name,
        "class": "provable" if is_provable(ev.reason) else "judged",
        "bps": int(ev.slash_bps),
        "update_hash": bytes(ev.update_hash).hex(),
        "num_examples": int(ev.num_examples),
        "signature": bytes(ev.signature).hex(),
        "fault_proof": bytes(ev.fault_proof).hex(),
    }


def evidence_from_doc(round_id: int, doc: Mapping[str, Any], tree: MerkleTree) -> SlashEvidence:
    """Inverse of `slash_doc` (the selection proof is rebuilt from the participant tree)."""
    who = to_checksum_address(str(doc["participant"]))
    commitment = Commitment(
        round_id=round_id,
        participant=who,
        global_model_hash=ZERO32,  # not part of SlashEvidence
        update_hash=bytes.fromhex(str(doc["update_hash"])),
        num_examples=int(doc["num_examples"]),
    )
    return evidence_of(
        commitment,
        bytes.fromhex(str(doc["signature"])),
        int(doc["reason"]),
        int(doc["bps"]),
        tree,
        bytes.fromhex(str(doc.get("fault_proof") or "")),
    )


def submission_doc(
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
    """Inverse of `submission_doc` (arrays re-verified against their hash by the store)."""
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


__all__ = [
    "Decided",
    "Fault",
    "Timer",
    "build_results",
    "decide",
    "evidence_from_doc",
    "kept_replies",
    "signed_replies",
    "slash_doc",
    "slash_evidence",
    "submission_doc",
    "submission_from_doc",
]
