"""`verify`: re-run a finalized round from the chain and the artifact store.

What a slashed participant (or anyone) runs before disputing: the round's manifest is
loaded from the coordinator's artifact store, tied to this deployment and to the params
the round was opened with, every stored reply is reloaded (the store re-hashes the
arrays) and re-validated (signatures recover), and the round is decided again with
`federation.engine.decide`, the code the coordinator ran. Each fact is one named `Check`
with what the recomputation expects and what the chain (or the manifest) says:

    deployment, decision hash, artifacts uri, round params, config hash, budget, stakes,
    eligibility, global model, submissions, aggregator, exclusions, signatures,
    results root, published results, total rewards, slashes, fault proofs, aggregate hash

The decision hash is keccak256 of the manifest's bytes as stored, which finalize committed
on-chain with the manifest's URI: an altered manifest fails it whatever else it changes.
A provable slash's proof is checked here as the contract's FaultVerifier checked it, and
compared with the bytes the finalize transaction actually sent; a judged slash must be
what the replayed decision slashes (same reason, same bps).

`verify_round` raises `VerifyError` only when there is nothing to verify (the round is
not finalized, the manifest is not in this store); every disagreement is a failed check
in the report. The report renders for humans (`render`) and as JSON (`to_dict`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from federation import faults
from federation.aggregation import (
    AggregateResult,
    Aggregator,
    aggregator_from_spec,
    load_state,
    state_of,
)
from federation.artifact_store import ArtifactError, ArtifactStore
from federation.engine import committed_config, config_hash_of, manifest_name
from federation.errors import FedstakeError
from federation.events import iter_events
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment
from federation.protocol.update_hash import update_hash
from federation.round_decision import (
    Decided,
    build_results,
    decide,
    slash_doc,
    slash_evidence,
    submission_from_doc,
)
from federation.types import (
    RewardEntry,
    RoundFinalization,
    RoundInfo,
    RoundResults,
    RoundStatus,
    SlashEvent,
)
from federation.validation import Submission, ValidUpdate
from strategies.policy import PolicyConfig, is_provable
from strategies.scoring_settle import SettlementState
from strategies.scoring_types import ReasonCode, ScoringConfig

BPS = 10_000
# finalizeRound(uint256, RoundParams, RoundResult, SlashEvidence[]): selector and arguments.
_FINALIZE_ARGS = [
    "uint256",
    "(bytes32,bytes32,bytes32)",
    "(bytes32,bytes32,uint128,bytes32,string)",
    "(address,bytes32,uint64,uint8,uint16,bytes,bytes32[],bytes)[]",
]
_FINALIZE = (
    keccak(text=f"finalizeRound({','.join(_FINALIZE_ARGS)})")[:4],
    _FINALIZE_ARGS,
)
# Exclusion codes of replies whose signature does not commit this participant to them.
_UNSIGNED = {"unsigned", "bad-signature", "wrong-signer"}


class VerifyError(FedstakeError):
    """Nothing to verify: the round is not finalized, or the store lacks its manifest."""


@dataclass(frozen=True)
class Check:
    """One compared fact: what the recomputation expects, what the chain/manifest says."""

    name: str
    ok: bool
    expected: Any = None
    actual: Any = None
    detail: str = ""
    skipped: bool = False

    @property
    def status(self) -> str:
        return "skip" if self.skipped else ("ok" if self.ok else "FAIL")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class VerifyReport:
    """Every check of one round; `ok` when none failed (skipped checks do not fail)."""

    round_id: int
    ok: bool
    checks: list[Check]
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, round_id: int, checks: list[Check], notes: list[str]) -> VerifyReport:
        return cls(round_id, all(c.ok for c in checks), list(checks), list(notes))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r} (have: {', '.join(c.name for c in self.checks)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_id": self.round_id,
            "ok": self.ok,
            "failed": [c.name for c in self.failed],
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }

    def render(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"verify round {self.round_id}"]
        lines += [f"  note: {n}" for n in self.notes]
        for c in self.checks:
            head = f"  [{c.status:>4}] {c.name:<{width}}"
            if c.ok and not c.skipped:
                lines.append(f"{head}  {_brief(c.actual)}")
                if c.detail:
                    lines += [f"  {'':6} {'':<{width}}  {d}" for d in c.detail.splitlines()]
                continue
            pad = f"  {'':6} {'':<{width}}  "
            if c.skipped:
                lines.append(f"{head}  {c.detail}".rstrip())
                continue
            lines.append(f"{head}  expected: {_short(c.expected)}")
            lines.append(f"{pad}actual:   {_short(c.actual)}")
            lines += [f"{pad}{d}" for d in c.detail.splitlines()]
        if self.ok:
            lines.append(f"OK: all {len(self.checks)} checks pass")
        else:
            names = ", ".join(c.name for c in self.failed)
            lines.append(
                f"MISMATCH: {len(self.failed)} of {len(self.checks)} checks fail ({names})"
            )
        return "\n".join(lines)


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _brief(value: Any, limit: int = 100) -> str:
    """One line for a passing check (the whole value is in `to_dict`)."""
    text = _short(value)
    if isinstance(value, dict) and len(value) <= 4:
        text = ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    if len(text) <= limit or not isinstance(value, list | dict):
        return text
    return f"{len(value)} entries"


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _unhex(text: str) -> bytes:
    return bytes.fromhex(str(text).removeprefix("0x"))


def _reason(code: int) -> str:
    try:
        return ReasonCode(int(code)).name
    except ValueError:
        return f"reason {code}"


def params_hash_of(global_model_hash: bytes, config_hash: bytes, participants_root: bytes) -> bytes:
    """keccak256(abi.encode(bytes32, bytes32, bytes32)), as RoundManager stores it."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32"],
            [global_model_hash, config_hash, participants_root],
        )
    )


# -- the entry point ----------------------------------------------------------------------
def finalized_round(ledger: Ledger, round_id: int) -> RoundInfo:
    """The round's on-chain record; VerifyError unless it was finalized (or settled)."""
    info = ledger.get_round(round_id)
    if info.status == RoundStatus.NONE:
        raise VerifyError(
            f"round {round_id} was never opened on this deployment "
            f"({ledger.round_count()} rounds exist): check the round id and --deployment"
        )
    unfinalized = info.status in (RoundStatus.OPEN, RoundStatus.EXPIRED) or (
        info.status == RoundStatus.CANCELLED and ledger.finalization(round_id) is None
    )
    if unfinalized:
        raise VerifyError(
            f"round {round_id} is {info.status.name.lower()}, not finalized: there is no "
            "decision to verify (verify a round once its coordinator has finalized it)"
        )
    return info


def verify_round(ledger: Ledger, store: ArtifactStore, round_id: int) -> VerifyReport:
    """Re-run round `round_id` from its manifest and compare with what the chain holds."""
    info = finalized_round(ledger, round_id)
    try:
        manifest = store.get_named(manifest_name(round_id))
    except ArtifactError as exc:
        raise VerifyError(
            f"{exc}: pass --store with the artifact store of round {round_id}'s coordinator "
            f"(the directory that holds {manifest_name(round_id)}.json)"
        ) from None
    except ValueError as exc:  # not JSON: the coordinator published garbage
        return VerifyReport.of(
            round_id,
            [Check("manifest", False, "a JSON manifest", "unreadable", f"manifest: {exc}")],
            [],
        )
    return _Verifier(ledger, store, round_id, info, manifest).run()


class _KeepGlobal:
    """Stand-in when the manifest's aggregator cannot be rebuilt: decisions do not depend
    on the aggregate, so results and slashes are still recomputed."""

    def spec(self) -> dict[str, Any]:
        return {"kind": "unavailable"}

    def aggregate(
        self, round_id: int, global_arrays: Mapping[str, np.ndarray], valid: Sequence[ValidUpdate]
    ) -> AggregateResult:
        return AggregateResult({k: np.array(v, copy=True) for k, v in global_arrays.items()})


@dataclass
class _Recomputed:
    subs: list[Submission]
    decided: Decided
    results: RoundResults
    slashes: list[tuple[str, int, int, bytes]]  # participant, reason, bps, update hash
    evidence: dict[str, dict[str, Any]]  # participant → its slash as the manifest records it

    @property
    def exclusions(self) -> list[Any]:
        return self.decided.exclusions

    @property
    def aggregate(self) -> AggregateResult:
        return self.decided.aggregate


class _Verifier:
    def __init__(
        self,
        ledger: Ledger,
        store: ArtifactStore,
        round_id: int,
        info: RoundInfo,
        manifest: dict[str, Any],
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.rid = round_id
        self.info = info
        self.m = manifest
        self.checks: list[Check] = []
        self.notes: list[str] = []
        self._onchain_slashes: list[SlashEvent] | None = None

    def add(self, name: str, ok: bool, expected: Any, actual: Any, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), expected, actual, detail))
        return bool(ok)

    def skip(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, None, None, detail, skipped=True))

    def report(self) -> VerifyReport:
        return VerifyReport.of(self.rid, self.checks, self.notes)

    # -- the sequence ---------------------------------------------------------------------
    def run(self) -> VerifyReport:
        info = self.info
        self.notes.append(
            f"round {self.rid} is {info.status.name.lower()}; coordinator {info.coordinator}"
            + ("; its result was VOIDED by an upheld dispute" if info.result_voided else "")
        )
        try:
            participants = [to_checksum_address(p) for p in self.m["participants"]]
            gmh = _unhex(self.m["global_model_hash"])
            cfg = _unhex(self.m["config_hash"])
            budget = int(self.m["budget"])
            spec = dict(self.m["aggregator"])
            stakes = {to_checksum_address(p): int(v) for p, v in self.m["stakes"].items()}
            before = self.m.get("settlement_before")
            state = None if before is None else SettlementState.from_json(json.dumps(before))
            scoring = ScoringConfig(**self.m["scoring"])
            policy = PolicyConfig(**self.m["policy"])
            max_examples = int(self.m["max_examples"])
            docs = list(self.m["submissions"])
            ref_hex = self.m.get("reference_hash")
            reference_hash = None if ref_hex is None else _unhex(ref_hex)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.add(
                "manifest",
                False,
                "a complete manifest",
                "malformed",
                f"{manifest_name(self.rid)} cannot be read: {type(exc).__name__}: {exc}",
            )
            return self.report()

        self.check_deployment()
        fin = self.check_decision_hash()
        self.check_artifacts_uri(fin)
        self.check_params(participants, gmh, cfg)
        self.check_config(cfg, spec)
        self.add(
            "budget",
            budget == info.reward_budget,
            str(info.reward_budget),
            str(budget),
            ""
            if budget == info.reward_budget
            else "the manifest's budget is not the reward budget the round was opened with",
        )
        self.check_stakes(participants, stakes)
        self.check_eligibility(participants)
        global_arrays = self.load_global(gmh)
        subs = self.load_submissions(docs, participants)
        aggregator, randomized = self.rebuild_aggregator(spec)
        stateful = self.load_aggregator_state(aggregator)
        if global_arrays is None:
            self.notes.append("without the global model the round was not re-run")
            return self.report()
        reference_arrays = None
        if reference_hash is not None:
            reference_arrays = self.load_reference(reference_hash)
            if reference_arrays is None:
                return self.report()
        try:
            again = self.recompute(
                participants,
                subs,
                global_arrays,
                gmh,
                aggregator,
                stakes,
                budget,
                state,
                scoring,
                policy,
                max_examples,
                reference_arrays,
            )
        except Exception as exc:  # the manifest's inputs make the engine itself fail
            self.add(
                "recompute",
                False,
                "the round re-runs",
                f"{type(exc).__name__}: {exc}",
                "re-running the round from the manifest failed; nothing below could be compared",
            )
            return self.report()
        self.check_exclusions(again)
        self.check_signatures(again)
        self.check_results(again)
        self.check_published_results()
        self.add(
            "total rewards",
            again.results.total_rewards == info.total_rewards,
            str(again.results.total_rewards),
            str(info.total_rewards),
            ""
            if again.results.total_rewards == info.total_rewards
            else "the rewards finalized on-chain do not add up to the recomputed decision's",
        )
        self.check_slashes(again)
        self.check_fault_proofs(again, participants, gmh, fin)
        self.check_aggregate(again, randomized)
        if stateful:
            self.check_aggregator_state(aggregator)
        return self.report()

    # -- identity of the round ------------------------------------------------------------
    def check_deployment(self) -> None:
        dep = self.ledger.deployment
        want = {
            "chain_id": dep.chain_id,
            "round_manager": to_checksum_address(self.ledger.round_manager.address),
            "round_id": self.rid,
        }
        try:
            have = {
                "chain_id": int(self.m.get("chain_id", -1)),
                "round_manager": to_checksum_address(str(self.m.get("round_manager"))),
                "round_id": int(self.m.get("round_id", -1)),
            }
        except (TypeError, ValueError):
            have = {
                "chain_id": self.m.get("chain_id"),
                "round_manager": self.m.get("round_manager"),
                "round_id": self.m.get("round_id"),
            }
        bad = [
            f"{k}: this deployment has {want[k]}, the manifest {have[k]}"
            for k in want
            if want[k] != have[k]
        ]
        self.add(
            "deployment",
            not bad,
            want,
            have,
            "the manifest is for another deployment or round\n" + "\n".join(bad) if bad else "",
        )

    def check_decision_hash(self) -> RoundFinalization | None:
        """The manifest in this store is, byte for byte, the decision file the coordinator
        committed at finalize (keccak256 in the RoundFinalized event)."""
        fin = self.ledger.finalization(self.rid)
        name = manifest_name(self.rid)
        mine = keccak(self.store.named_bytes(name))
        if fin is None:
            self.add(
                "decision hash",
                False,
                "the RoundFinalized event's decision hash",
                _hex(mine),
                "the node serves no RoundFinalized event for the round: what finalize "
                "committed cannot be compared",
            )
            return None
        ok = mine == fin.decision_hash
        self.add(
            "decision hash",
            ok,
            _hex(fin.decision_hash),
            _hex(mine),
            ""
            if ok
            else f"{name}.json is not the decision file committed at finalize (keccak256 of "
            "its bytes differs): it was altered or replaced after the round was finalized",
        )
        return fin

    def check_artifacts_uri(self, fin: RoundFinalization | None) -> None:
        """The URI committed at finalize names this round's manifest (where anyone fetches
        what `verify` needs)."""
        name = manifest_name(self.rid)
        if fin is None:
            self.skip("artifacts uri", "skipped (no RoundFinalized event)")
            return
        here = self.store.named_uri(name)
        uri = fin.artifacts_uri
        names_it = uri == here or uri.rstrip("/").endswith(f"/{name}.json")
        detail = ""
        if not names_it:
            detail = f"the URI committed at finalize does not name {name}.json"
        elif uri != here:
            detail = f"read from another copy of the store: {here}"
        self.add("artifacts uri", names_it, f".../{name}.json", uri, detail)

    def check_eligibility(self, participants: list[str]) -> None:
        """No selected participant was jailed (or under the minimum stake) for this round
        when it was opened: `isEligibleFor(p, round)` at the RoundOpened block (or just
        before it), which needs a node that serves that historical state."""
        opened = _event_block(self.ledger, "RoundOpened", self.rid)
        if opened is None:
            self.skip("eligibility", "skipped (the RoundOpened event is not served)")
            return
        sm = self.ledger.stake_manager
        bad: list[str] = []
        try:
            for p in participants:
                blocks = (max(opened - 1, 0), opened)
                if not any(sm.call("isEligibleFor", p, self.rid, block=b) for b in blocks):
                    bad.append(p)
        except Exception as exc:  # a pruned node: no state at that block
            self.skip(
                "eligibility",
                f"skipped (the node serves no state at block {opened}: {type(exc).__name__})",
            )
            return
        self.add(
            "eligibility",
            not bad,
            "every selected participant eligible for the round at its open",
            f"{len(participants) - len(bad)} of {len(participants)} eligible",
            "\n".join(
                f"{p}: not eligible for round {self.rid} when it was opened (jailed, or "
                "below the minimum stake)"
                for p in bad
            ),
        )

    def check_params(self, participants: list[str], gmh: bytes, cfg: bytes) -> None:
        tree = Ledger.participants_tree(self.rid, participants)
        mine = params_hash_of(gmh, cfg, tree.root)
        ok = mine == self.info.params_hash
        detail = []
        if not ok:
            detail.append("the manifest does not describe the round that was opened on-chain")
            try:
                opened = self.ledger.round_params(self.rid)
                for what, a, b in (
                    ("global model hash", opened.global_model_hash, gmh),
                    ("config hash", opened.config_hash, cfg),
                    ("participants root", opened.participants_root, tree.root),
                ):
                    if a != b:
                        detail.append(f"{what}: opened with {_hex(a)}, manifest gives {_hex(b)}")
            except FedstakeError as exc:
                detail.append(f"(RoundOpened event unavailable: {exc})")
        if len(participants) != self.info.participant_count:
            ok = False
            detail.append(
                f"participant count: opened for {self.info.participant_count}, the manifest "
                f"lists {len(participants)}"
            )
        if len(set(participants)) != len(participants):
            ok = False
            detail.append("the manifest lists a participant twice")
        self.add("round params", ok, _hex(self.info.params_hash), _hex(mine), "\n".join(detail))

    def check_config(self, cfg: bytes, spec: Mapping[str, Any]) -> None:
        """The aggregator spec, hyperparameters, scoring and policy configuration and the
        example bound are what the config hash committed to at open."""
        hyper = self.m.get("hyperparams") or {}
        try:
            mine = config_hash_of(
                committed_config(
                    hyper,
                    spec,
                    self.m.get("scoring") or {},
                    self.m.get("policy") or {},
                    int(self.m.get("max_examples", 0)),
                )
            )
        except (TypeError, ValueError) as exc:
            self.add("config hash", False, _hex(cfg), f"unhashable: {exc}", str(exc))
            return
        self.add(
            "config hash",
            mine == cfg,
            _hex(cfg),
            _hex(mine),
            ""
            if mine == cfg
            else "the manifest's hyperparams + aggregator spec hash to another config than the "
            "one the round was opened with (the aggregation rule was changed after opening)",
        )

    # -- artifacts ------------------------------------------------------------------------
    def load_global(self, gmh: bytes) -> dict[str, np.ndarray] | None:
        try:
            arrays = self.store.get(gmh)
        except ArtifactError as exc:
            self.add(
                "global model",
                False,
                _hex(gmh),
                "unavailable",
                f"{exc}; the round cannot be re-run without it",
            )
            return None
        self.add(
            "global model",
            True,
            _hex(gmh),
            _hex(gmh),
            f"{len(arrays)} arrays, re-hashed by the store",
        )
        return arrays

    def load_reference(self, digest: bytes) -> dict[str, np.ndarray] | None:
        """The coordinator's validation-set model the round was scored against. Its bytes
        are committed (the manifest's hash is on-chain); whether it was honestly trained
        can only be checked by whoever holds the validation set."""
        try:
            arrays = self.store.get(digest)
        except ArtifactError as exc:
            self.add(
                "reference model",
                False,
                _hex(digest),
                "unavailable",
                f"{exc}; the round's usefulness scores cannot be recomputed without it",
            )
            return None
        self.add(
            "reference model",
            True,
            _hex(digest),
            _hex(digest),
            "the coordinator's validation-set update the round was scored against",
        )
        return arrays

    def load_submissions(
        self, docs: list[dict[str, Any]], participants: list[str]
    ) -> list[Submission]:
        subs: list[Submission] = []
        problems: list[str] = []
        selected = set(participants)
        seen: set[str] = set()
        twice: set[str] = set()
        for d in docs:
            who = str(d.get("participant"))
            try:
                s = submission_from_doc(self.store, d)
            except ArtifactError as exc:
                problems.append(f"{who}: {exc}")
                continue
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{who}: unreadable submission record ({exc})")
                continue
            if who not in selected:
                problems.append(f"{who}: submitted but was not selected for the round")
            if who in twice:
                problems.append(f"{who}: more than two submissions")
            elif who in seen:
                twice.add(who)
                self.notes.append(
                    f"{who} replied twice (kept as the evidence of an equivocation; the "
                    "first reply is the one that counts)"
                )
            seen.add(who)
            if d.get("arrays") is None:
                self.notes.append(
                    f"{who}'s arrays were not stored (they could not be hashed when the "
                    "round was decided); re-validated as an empty reply"
                )
            subs.append(s)
        self.add(
            "submissions",
            not problems,
            f"{len(docs)} stored replies, each re-hashing to its hash",
            f"{len(subs)} loaded" + (f", {len(problems)} not" if problems else ""),
            "\n".join(problems),
        )
        return subs

    def rebuild_aggregator(self, spec: Mapping[str, Any]) -> tuple[Aggregator, bool]:
        randomized = bool(spec.get("randomized"))
        try:
            agg = aggregator_from_spec(spec)
        except Exception as exc:  # unknown kind, strategy not installed here
            if randomized:  # its aggregate is not checked anyway: only say so
                self.skip(
                    "aggregator",
                    f"skipped (not rebuilt here: {exc}; decisions do not depend on it)",
                )
                return _KeepGlobal(), randomized
            self.add(
                "aggregator",
                False,
                dict(spec),
                f"{type(exc).__name__}: {exc}",
                "the manifest's aggregator cannot be rebuilt here; results and slashes "
                "are recomputed without it, the aggregate is not",
            )
            return _KeepGlobal(), randomized
        self.add("aggregator", True, dict(spec), agg.spec())
        return agg, randomized

    # -- the decision ---------------------------------------------------------------------
    def recompute(
        self,
        participants: list[str],
        subs: list[Submission],
        global_arrays: dict[str, np.ndarray],
        gmh: bytes,
        aggregator: Aggregator,
        stakes: dict[str, int],
        budget: int,
        state: SettlementState | None,
        scoring: ScoringConfig,
        policy: PolicyConfig,
        max_examples: int,
        reference_arrays: dict[str, np.ndarray] | None = None,
    ) -> _Recomputed:
        decided = decide(
            self.rid,
            participants,
            subs,
            global_arrays=global_arrays,
            global_model_hash=gmh,
            domain=self.ledger.domain,
            aggregator=aggregator,
            stakes={p: stakes.get(p, 0) for p in participants},
            budget=budget,
            state=state,
            scoring=scoring,
            policy=policy,
            max_examples=max_examples,
            reference_arrays=reference_arrays,
        )
        results = build_results(self.rid, participants, decided)
        evidence = slash_evidence(self.rid, participants, decided, self.ledger.domain)
        slashes = sorted(
            (
                (e.participant, int(e.reason), int(e.slash_bps), bytes(e.update_hash))
                for e in evidence
            ),
            key=lambda t: int(t[0], 16),
        )
        docs = {e.participant: slash_doc(e) for e in evidence}
        return _Recomputed(subs, decided, results, slashes, docs)

    def check_exclusions(self, again: _Recomputed) -> None:
        mine = sorted(
            [e.participant, e.code, None if e.reason is None else e.reason.name]
            for e in again.exclusions
        )
        published = sorted(
            [str(e.get("participant")), str(e.get("code")), e.get("reason")]
            for e in self.m.get("exclusions", [])
        )
        diff = _keyed_diff(
            {p: (c, r) for p, c, r in mine},
            {p: (c, r) for p, c, r in published},
            "recomputed",
            "manifest",
        )
        self.add("exclusions", mine == published, mine, published, "\n".join(diff))

    def check_signatures(self, again: _Recomputed) -> None:
        """Every slash's evidence is a stored reply whose signature recovers to the slashed
        participant and commits to the update hash the chain recorded."""
        unsigned = {
            e.participant: f"{e.code}: {e.detail}" for e in again.exclusions if e.code in _UNSIGNED
        }
        by_who = again.decided.replies
        bad: list[str] = []
        for ev in self.onchain_slashes():
            s = by_who.get(ev.participant)
            if s is None or s.commitment is None:
                bad.append(f"{ev.participant}: slashed on-chain, but no signed reply is stored")
            elif ev.participant in unsigned:
                bad.append(
                    f"{ev.participant}: slashed on-chain, but the stored signature "
                    f"does not commit them ({unsigned[ev.participant]})"
                )
            elif bytes(s.commitment.update_hash) != ev.update_hash:
                bad.append(
                    f"{ev.participant}: slashed for update {_hex(ev.update_hash)}, the "
                    f"stored commitment is to {_hex(s.commitment.update_hash)}"
                )
        signed = len(by_who) - len(unsigned)
        notes = [f"{p}: excluded unslashed ({why})" for p, why in sorted(unsigned.items())]
        self.add(
            "signatures",
            not bad,
            "every slash backed by the participant's own stored signature",
            f"{signed} of {len(by_who)} replies signed by their participant",
            "\n".join(bad + notes),
        )

    def check_stakes(self, participants: list[str], stakes: dict[str, int]) -> None:
        """The stakes the policy used are the participants' slashable stakes on-chain at
        some block between the round's opening and its finalize (the coordinator reads them
        in between). Needs a node with that historical state; without it, the slash amounts
        the contract locked (from the stake at finalize) are the check."""
        problems: list[str] = []
        wrong: set[str] = set()
        for p in participants:
            if p not in stakes:
                wrong.add(p)
                problems.append(f"{p}: no stake in the manifest")
        for p in stakes:
            if p not in set(participants):
                wrong.add(p)
                problems.append(f"{p}: a stake in the manifest but not selected")
        opened = _event_block(self.ledger, "RoundOpened", self.rid)
        finalized = _event_block(self.ledger, "RoundFinalized", self.rid)
        onchain: dict[str, list[str]] | None = None
        fallback = ""
        if opened is None or finalized is None:
            fallback = "the round's RoundOpened/RoundFinalized events are not served"
        else:
            last = max(opened, finalized - 1)
            span = f"at block {opened}" if last == opened else f"in blocks {opened}…{last}"
            try:
                values = _slashable_between(self.ledger, participants, opened, last)
            except Exception as exc:  # a pruned node: no state at those blocks
                fallback = f"the node serves no state {span} ({type(exc).__name__})"
            else:
                onchain = {p: [str(v) for v in sorted(values[p])] for p in participants}
                for p in participants:
                    if p in stakes and stakes[p] not in values[p]:
                        wrong.add(p)
                        problems.append(
                            f"{p}: manifest stake {stakes[p]}, on-chain slashable stake {span}: "
                            + " or ".join(onchain[p])
                        )
        slashed = 0
        for ev in self.onchain_slashes():
            s = stakes.get(ev.participant)
            if s is None or ev.slash_bps == 0:
                continue
            slashed += 1
            implied = s * ev.slash_bps // BPS
            if implied == ev.amount:
                continue
            why = (
                f"{ev.participant}: slashed {ev.amount} at {ev.slash_bps} bps, but "
                f"{ev.slash_bps} bps of the manifest stake {s} is {implied}"
            )
            if onchain is None:
                wrong.add(ev.participant)
                problems.append(why)
            elif ev.participant not in wrong:  # the exact check passed: explain only
                self.notes.append(f"stakes: {why} (the stake changed before finalize)")
        have = {p: str(v) for p, v in sorted(stakes.items())}
        expected: Any = onchain
        if onchain is None:
            expected = "slash amount = manifest stake × bps / 10000, for each on-chain slash"
            problems.append(
                f"{fallback}: checked against the amounts of the {slashed} on-chain slashes only"
            )
        elif wrong:  # show the participants that differ, not all of them
            expected = {p: onchain.get(p, "not selected") for p in sorted(wrong)}
            have = {p: have.get(p, "none") for p in sorted(wrong)}
        self.add("stakes", not wrong, expected, have, "\n".join(problems))

    def check_results(self, again: _Recomputed) -> None:
        mine, chain = again.results.root, self.info.results_root
        ok = mine == chain
        detail: list[str] = []
        if not ok:
            try:
                published = RoundResults.from_dict(self.m["results"])
            except (KeyError, TypeError, ValueError) as exc:
                detail.append(f"the manifest's results are unreadable ({exc})")
            else:
                diff = _leaf_diff(again.results.entries, published.entries)
                if published.root == chain:
                    detail.append(
                        "the coordinator finalized its published results, which the "
                        "recomputation does not reproduce:"
                    )
                    detail += diff or ["(same leaves in another order)"]
                elif not diff:
                    detail.append(
                        "the manifest's results match the recomputation, but the coordinator "
                        f"finalized another root ({_hex(chain)}) whose leaves it did not publish"
                    )
                else:
                    detail.append(
                        f"the manifest's results (root {_hex(published.root)}) match neither "
                        "the recomputation nor the chain; recomputed vs manifest:"
                    )
                    detail += diff
        self.add("results root", ok, _hex(mine), _hex(chain), "\n".join(detail))

    def check_published_results(self) -> None:
        """The results file claimants read is the tree finalized on-chain."""
        name = f"round-{self.rid}-results"
        try:
            doc = self.store.get_named(name)
        except (ArtifactError, ValueError):
            self.skip("published results", f"{name}.json is not in the store")
            return
        try:
            root = RoundResults.from_dict(doc).root
        except (KeyError, TypeError, ValueError) as exc:
            self.add(
                "published results",
                False,
                _hex(self.info.results_root),
                "unreadable",
                f"{name}.json: {exc}",
            )
            return
        ok = root == self.info.results_root
        self.add(
            "published results",
            ok,
            _hex(self.info.results_root),
            _hex(root),
            ""
            if ok
            else f"{name}.json is not the tree finalized on-chain: its proofs cannot claim",
        )

    def check_slashes(self, again: _Recomputed) -> None:
        mine = [[p, r, b] for p, r, b, _ in again.slashes]
        chain_events = sorted(self.onchain_slashes(), key=lambda e: int(e.participant, 16))
        chain = [[e.participant, e.reason, e.slash_bps] for e in chain_events]
        detail: list[str] = []
        want = {p: (r, b) for p, r, b in mine}
        have = {p: (r, b) for p, r, b in chain}
        for p in sorted(set(want) | set(have), key=lambda a: int(a, 16)):
            w, h = want.get(p), have.get(p)
            if w == h:
                continue
            if h is None:
                assert w is not None
                detail.append(
                    f"{p}: the decision slashes ({_reason(w[0])}, {w[1]} bps), "
                    "the chain has no slash"
                )
            elif w is None:
                detail.append(
                    f"{p}: slashed on-chain ({_reason(h[0])}, {h[1]} bps), the "
                    "decision does not slash them"
                )
            else:
                detail.append(
                    f"{p}: the decision slashes ({_reason(w[0])}, {w[1]} bps), "
                    f"the chain ({_reason(h[0])}, {h[1]} bps)"
                )
        hashes = {p: u for p, _, _, u in again.slashes}
        for e in chain_events:
            if e.participant in hashes and hashes[e.participant] != e.update_hash:
                detail.append(
                    f"{e.participant}: slashed for update {_hex(e.update_hash)}, "
                    f"the decision for {_hex(hashes[e.participant])}"
                )
        published = sorted(
            (
                [str(s["participant"]), int(s["reason"]), int(s["bps"])]
                for s in self.m.get("slashes", [])
            ),
            key=lambda t: int(str(t[0]), 16),
        )
        if published != mine:
            self.notes.append(
                "the manifest's published slash list differs from the recomputed one: "
                + _short(published)
            )
        self.add("slashes", mine == chain and not detail, mine, chain, "\n".join(detail))

    def check_fault_proofs(
        self,
        again: _Recomputed,
        participants: list[str],
        gmh: bytes,
        fin: RoundFinalization | None,
    ) -> None:
        """Each provable slash on-chain: the manifest records it with the reason, size and
        update hash the ParticipantSlashed event shows; its proof checks (as the contract's
        FaultVerifier checked it); the replayed round builds the same proof; and it is the
        proof the finalize transaction actually sent (when the node serves that tx)."""
        events = [e for e in self.onchain_slashes() if is_provable(e.reason)]
        recorded = {str(d.get("participant")): d for d in self.m.get("slashes", [])}
        sent = self._sent_slashes(fin)
        problems: list[str] = []
        failing: set[str] = set()
        for ev in events:
            who, why = ev.participant, _reason(ev.reason)
            before = len(problems)
            doc = recorded.get(who)
            if doc is None:
                problems.append(f"{who}: slashed on-chain ({why}), no such slash in the manifest")
                failing.add(who)
                continue
            try:
                proof = bytes.fromhex(str(doc.get("fault_proof") or ""))
                num_examples = int(doc["num_examples"])
                claimed = (int(doc["reason"]), int(doc["bps"]), str(doc["update_hash"]))
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{who}: unreadable slash record in the manifest ({exc})")
                failing.add(who)
                continue
            if claimed != (ev.reason, ev.slash_bps, ev.update_hash.hex()):
                problems.append(
                    f"{who}: the manifest records ({_reason(claimed[0])}, {claimed[1]} bps, "
                    f"update 0x{claimed[2]}), the chain ({why}, {ev.slash_bps} bps, "
                    f"update {_hex(ev.update_hash)})"
                )
            c = Commitment(self.rid, who, gmh, ev.update_hash, num_examples)
            failure = faults.check(ev.reason, c, self.ledger.domain, proof)
            if failure is not None:
                problems.append(f"{who}: the {why} proof does not check ({failure})")
            mine = again.evidence.get(who)
            if mine is None or mine["fault_proof"] != proof.hex():
                problems.append(
                    f"{who}: the replayed round does not build this {why} proof"
                    if mine is None or int(mine["reason"]) == ev.reason
                    else f"{who}: the replayed round slashes for {_reason(int(mine['reason']))}"
                )
            if sent is not None and sent.get(who) != (num_examples, proof):
                problems.append(
                    f"{who}: the finalize transaction sent another commitment or proof than "
                    "the manifest records"
                )
            if len(problems) > before:
                failing.add(who)
        if sent is None and events:
            self.notes.append(
                "fault proofs: the finalize transaction's calldata was not compared (not "
                "served, or not a direct finalizeRound call)"
            )
        self.add(
            "fault proofs",
            not problems,
            f"{len(events)} provable slash(es), each proven",
            f"{len(events) - len(failing)} proven",
            "\n".join(problems),
        )

    def _sent_slashes(self, fin: RoundFinalization | None) -> dict[str, tuple[int, bytes]] | None:
        """participant → (numExamples, faultProof) as the finalize transaction sent them,
        decoded from its calldata; None when that is unavailable."""
        if fin is None:
            return None
        rm = self.ledger.round_manager
        try:
            tx = self.ledger.chain.w3.eth.get_transaction(fin.tx_hash)
            data = bytes(tx["input"])
            if to_checksum_address(str(tx["to"])) != rm.address or data[:4] != _FINALIZE[0]:
                return None
            _, _, _, slashes = abi_decode(_FINALIZE[1], data[4:])
        except Exception:  # not served, or another entry point (a multisig, a relay)
            return None
        # SlashEvidence = (participant, updateHash, numExamples, reason, slashBps, signature,
        # proof, faultProof)
        return {to_checksum_address(row[0]): (int(row[2]), bytes(row[7])) for row in slashes}

    def load_aggregator_state(self, aggregator: Aggregator) -> bool:
        """Give the rebuilt aggregator the state the round started from (a stateful rule:
        centered clipping's centre); True when the round has such a state to check."""
        before = self.m.get("aggregator_state_before")
        if before is None and self.m.get("aggregator_state_after") is None:
            return False
        try:
            load_state(aggregator, self.store.get(_unhex(before)) if before else {})
        except (ArtifactError, ValueError) as exc:
            self.add(
                "aggregator state",
                False,
                "the state the round started from",
                f"{type(exc).__name__}: {exc}",
                "the rule's state before the round cannot be loaded; its aggregate cannot "
                "be reproduced",
            )
            return False
        return True

    def check_aggregator_state(self, aggregator: Aggregator) -> None:
        """The state the rule ends the round with is the one the manifest commits to, and
        the state it started from is where the coordinator's previous round of the same
        rule left it — so the centre cannot be chosen freely."""
        after = state_of(aggregator)
        mine = update_hash(after).hex() if after else None
        claimed = self.m.get("aggregator_state_after")
        problems = []
        if mine != claimed:
            problems.append("the recomputed state after the round is not the manifest's")
        previous = self._previous_manifest()
        before = self.m.get("aggregator_state_before")
        if previous is not None and previous.get("aggregator") == self.m.get("aggregator"):
            if previous.get("aggregator_state_after") != before:
                problems.append(
                    f"the round started from another state than round {previous['round_id']} left"
                )
        elif before is not None:
            self.notes.append("aggregator state: no earlier round of this rule to chain to")
        self.add("aggregator state", not problems, str(mine), str(claimed), "\n".join(problems))

    def _previous_manifest(self) -> dict[str, Any] | None:
        for rid in range(self.rid - 1, 0, -1):
            try:
                return self.store.get_named(manifest_name(rid))
            except ArtifactError:
                continue
        return None

    def check_aggregate(self, again: _Recomputed, randomized: bool) -> None:
        chain = self.info.aggregate_hash
        if randomized:
            self.skip("aggregate hash", "skipped (randomized inner strategy)")
            return
        rebuilt = self.check_or_none("aggregator")
        if rebuilt is not None and not rebuilt.ok:
            self.skip("aggregate hash", "skipped (the aggregator could not be rebuilt)")
            return
        try:
            mine = update_hash(again.aggregate.arrays)
        except Exception as exc:
            self.add("aggregate hash", False, f"unhashable: {exc}", _hex(chain), str(exc))
            return
        ok = mine == chain
        detail = []
        if not ok:
            published = self.m.get("aggregate_hash")
            if published and _unhex(published) == chain:
                detail.append(
                    "the coordinator finalized the aggregate its manifest names, "
                    "which the recomputation does not reproduce"
                )
            if (self.m.get("fallback") or None) != (again.aggregate.fallback or None):
                detail.append(
                    f"fallback: manifest {self.m.get('fallback')!r}, recomputed "
                    f"{again.aggregate.fallback!r}"
                )
        self.add("aggregate hash", ok, _hex(mine), _hex(chain), "\n".join(detail))

    # -- helpers --------------------------------------------------------------------------
    def check_or_none(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def onchain_slashes(self) -> list[SlashEvent]:
        if self._onchain_slashes is None:
            self._onchain_slashes = self.ledger.slash_events(self.rid)
        return self._onchain_slashes


def _keyed_diff(want: Mapping[str, Any], have: Mapping[str, Any], a: str, b: str) -> list[str]:
    out = []
    for p in sorted(set(want) | set(have)):
        if want.get(p) != have.get(p):
            out.append(f"{p}: {a} {want.get(p, 'none')}, {b} {have.get(p, 'none')}")
    return out


def _leaf_diff(mine: Sequence[RewardEntry], theirs: Sequence[RewardEntry]) -> list[str]:
    """Per participant, which fields of the result leaf differ (recomputed vs published)."""
    a = {e.participant: e for e in mine}
    b = {e.participant: e for e in theirs}
    out = []
    for p in list(a) + [q for q in b if q not in a]:
        x, y = a.get(p), b.get(p)
        if x is None:
            out.append(f"{p}: a leaf in the manifest, none recomputed")
            continue
        if y is None:
            out.append(f"{p}: recomputed a leaf, none in the manifest")
            continue
        fields = []
        if x.update_hash != y.update_hash:
            fields.append(
                f"update hash recomputed {_hex(x.update_hash)}, manifest {_hex(y.update_hash)}"
            )
        if x.score != y.score:
            fields.append(f"score recomputed {x.score}, manifest {y.score} ppm")
        if x.reward != y.reward:
            fields.append(f"reward recomputed {x.reward}, manifest {y.reward} wei")
        if fields:
            out.append(f"{p}: " + "; ".join(fields))
    return out


def _event_block(ledger: Ledger, event: str, round_id: int) -> int | None:
    for rec in iter_events(
        ledger.round_manager, event, ledger.deployment.deploy_block, filters={"roundId": round_id}
    ):
        return rec.block_number
    return None


_STAKE_EVENTS = ("Staked", "Withdrawn", "SlashLocked", "SlashUnlocked")


def _slashable_between(
    ledger: Ledger, participants: Sequence[str], first: int, last: int
) -> dict[str, set[int]]:
    """Every value each participant's slashable stake (active + unbonding) took in the
    blocks first…last: its value at `first` and after each stake event in between."""
    blocks: dict[str, set[int]] = {p: {first} for p in participants}
    if last > first:
        for event in _STAKE_EVENTS:
            for rec in iter_events(ledger.stake_manager, event, first + 1, last):
                who = to_checksum_address(rec.args["staker"])
                if who in blocks:
                    blocks[who].add(rec.block_number)
    out: dict[str, set[int]] = {}
    for p, bs in blocks.items():
        values = set()
        for b in sorted(bs):
            values.add(int(ledger.stake_manager.call("slashableStake", p, block=b)))
        out[p] = values
    return out


__all__ = [
    "Check",
    "VerifyError",
    "VerifyReport",
    "finalized_round",
    "params_hash_of",
    "verify_round",
]
