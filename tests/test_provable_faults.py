"""Provable and judged faults through the round engine on the embedded chain.

One round with every fault a participant can sign: a NaN (MALFORMED, non-finite proof), a
wrong shape (MALFORMED, header proof), the global model's hash (NULL_UPDATE), two different
commitments (EQUIVOCATION) and arrays unlike the signed hash (FORGED_HASH, judged). The
provable slashes are checked by the FaultVerifier at finalize, settle without a dispute and
cannot be disputed; the judged one stays disputable and a dispute the arbiter leaves
undecided returns it. `verify` passes, and names an altered manifest or proof. Honest
updates (hypothesis) never yield a provable slash.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from federation import faults
from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.engine import RoundEngine, RoundOutcome, manifest_name
from federation.errors import ConfigError
from federation.journal import Journal
from federation.keys import generate
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment, Domain, sign_commitment
from federation.protocol.update_hash import update_hash
from federation.round_decision import decide, slash_evidence
from federation.types import DisputeStatus, RoundStatus, SlashState
from federation.validation import Submission, ValidUpdate, validate_submission
from federation.verify import verify_round
from simulations.accounting import check_accounting
from simulations.staked_round import Behaviour, SimParticipant, staked_participants, toy_model
from strategies.policy import PolicyConfig, is_provable
from strategies.scoring_types import ReasonCode, ScoringConfig

TOKEN = 10**18
BUDGET = 10 * TOKEN
GLOBAL = toy_model()
ROLES = ("nan", "shape", "null", "equivocate", "forged")
HONEST = 5


def _signed(
    p: SimParticipant,
    round_id: int,
    sent: dict[str, np.ndarray],
    committed: dict[str, np.ndarray] | None = None,
    n: int = 50,
) -> Submission:
    """`p`'s reply: `sent`, with a signed commitment to `committed` (default: `sent`)."""
    c = Commitment(round_id, p.address, update_hash(GLOBAL), update_hash(committed or sent), n)
    return Submission(p.address, sent, n, c, p.ledger.sign_commitment(c))


def _faulty_replies(people: dict[str, SimParticipant], round_id: int) -> list[Submission]:
    rng = np.random.default_rng(3)
    good = {"w": rng.normal(0, 1, (4, 3)).astype(np.float32), "b": np.ones(3, np.float32)}
    nan = {k: v.copy() for k, v in good.items()}
    nan["w"][2, 1] = np.nan
    shape = {"w": np.ones((3, 4), np.float32), "b": np.ones(3, np.float32)}
    other = {k: v + np.float32(0.5) for k, v in good.items()}
    return [
        _signed(people["nan"], round_id, nan),
        _signed(people["shape"], round_id, shape),
        _signed(people["null"], round_id, GLOBAL),
        _signed(people["equivocate"], round_id, good),
        _signed(people["forged"], round_id, other, committed=good),
        _signed(people["equivocate"], round_id, other),  # a second, different commitment
    ]


@dataclass
class Round:
    admin: Ledger
    arbiter: Ledger
    people: dict[str, SimParticipant]
    engine: RoundEngine
    out: RoundOutcome
    store: Path


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Round]:
    """One round: five honest participants and one of each fault (arbiter ≠ coordinator)."""
    store = tmp_path_factory.mktemp("store")
    arbiter = generate()
    admin = Ledger.deploy("inprocess://", arbiters=(arbiter.address,))
    admin.fund_eth(arbiter.address)
    sims, _ = staked_participants(admin, [Behaviour.HONEST] * (HONEST + len(ROLES)))
    people = dict(zip(ROLES, sims[HONEST:], strict=True))
    engine = RoundEngine(
        admin,
        LocalArtifactStore(store),
        RuleAggregator("median", 1),
        journal=Journal(store / "journal.jsonl"),
    )
    selected = [p.address for p in sims]
    opened = engine.open_round(selected, GLOBAL, BUDGET)
    honest = [p.respond(opened.round_id, GLOBAL, admin.domain) for p in sims[:HONEST]]
    out = engine.conclude(opened, honest + _faulty_replies(people, opened.round_id))
    yield Round(admin, admin.as_signer(arbiter), people, engine, out, store)
    admin.close()


@contextmanager
def _scratch(r: Round) -> Iterator[None]:
    """Chain and coordinator journal as they were after the round, once the test is done."""
    journal = r.store / "journal.jsonl"
    kept = journal.read_bytes()
    snap = r.admin.snapshot()
    try:
        yield
    finally:
        r.admin.revert(snap)
        journal.write_bytes(kept)


def _slashes(r: Round) -> dict[str, tuple[int, int, bytes]]:
    """participant → (reason, bps, fault proof) as finalize sent them."""
    return {e.participant: (e.reason, e.slash_bps, e.fault_proof) for e in r.out.slashes}


def test_each_fault_is_slashed_in_its_class(faulty: Round) -> None:
    cfg = faulty.admin.round_config()
    got = _slashes(faulty)
    want = {
        "nan": ReasonCode.MALFORMED,
        "shape": ReasonCode.MALFORMED,
        "null": ReasonCode.NULL_UPDATE,
        "equivocate": ReasonCode.EQUIVOCATION,
        "forged": ReasonCode.FORGED_HASH,
    }
    assert {role: got[p.address][0] for role, p in faulty.people.items()} == want
    assert len(got) == len(ROLES)  # honest participants are never slashed
    for p in faulty.people.values():
        reason, bps, proof = got[p.address]
        if is_provable(reason):
            assert bps == cfg.provable_slash_bps
            assert (proof == b"") == (reason == ReasonCode.NULL_UPDATE)
        else:
            assert 0 < bps <= cfg.max_judged_slash_bps and proof == b""
    # the chain agrees: one ParticipantSlashed per fault, provable ones jail at once
    onchain = {e.participant: (e.reason, e.slash_bps) for e in faulty.admin.slash_events()}
    assert onchain == {p: (r, b) for p, (r, b, _) in got.items()}
    for role in ("nan", "shape", "null", "equivocate"):
        assert not faulty.admin.is_eligible(faulty.people[role].address)
    assert faulty.admin.is_eligible(faulty.people["forged"].address)  # one judged strike


def test_malformed_proofs_are_of_the_right_variant(faulty: Round) -> None:
    """The NaN is proven by a chunk holding it, the wrong shape by the two headers."""
    got = _slashes(faulty)
    variant = {role: got[faulty.people[role].address][2][31] for role in ("nan", "shape")}
    assert variant == {"nan": faults.NON_FINITE, "shape": faults.HEADER_MISMATCH}
    excluded = {e.participant: e for e in faulty.out.exclusions}
    assert excluded[faulty.people["nan"].address].code == "non-finite"
    assert excluded[faulty.people["shape"].address].code == "shape"


def test_equivocators_first_reply_counts_and_is_aggregated(faulty: Round) -> None:
    who = faulty.people["equivocate"].address
    assert faulty.out.equivocations == (who,)
    assert who in faulty.out.valid  # the first reply is a good update: aggregated
    assert faulty.out.decision.rewards[who] == 0  # but never rewarded
    manifest = faulty.engine.store.get_named(manifest_name(faulty.out.round_id))
    first = next(d for d in manifest["submissions"] if d["participant"] == who)
    assert faulty.out.results.entry(who).update_hash.hex() == first["commitment"]["update_hash"]
    assert sum(d["participant"] == who for d in manifest["submissions"]) == 2


def test_provable_slash_cannot_be_disputed_and_settles_without_one(faulty: Round) -> None:
    admin, rid = faulty.admin, faulty.out.round_id
    with _scratch(faulty):
        nan = faulty.people["nan"].ledger
        admin.transfer_tokens(nan.address, admin.round_config().min_dispute_deposit)
        with pytest.raises(admin.errors.ProvenSlash):
            nan.dispute_slash(rid, admin.round_config().min_dispute_deposit)
        admin.advance_time(admin.round_config().challenge_window + 1)
        assert rid in faulty.engine.settle_due()
        assert admin.get_round(rid).status == RoundStatus.SETTLED
        assert admin.get_slash(rid, nan.address).state == SlashState.LOCKED  # stands
        assert check_accounting(admin).balanced


def test_judged_slash_disputed_and_left_undecided_is_returned(faulty: Round) -> None:
    """The forger disputes its judged slash; the arbiter does not decide by the deadline:
    the engine applies the default outcome (slash reverted, compensation from the
    coordinator's bond) and then settles the round."""
    admin, rid = faulty.admin, faulty.out.round_id
    with _scratch(faulty):
        forger = faulty.people["forged"].ledger
        slashed = admin.get_slash(rid, forger.address)
        assert slashed.state == SlashState.LOCKED and slashed.amount > 0
        deposit = admin.round_config().min_dispute_deposit
        admin.transfer_tokens(forger.address, deposit)
        stake_before = forger.stake_of().slashable
        dispute = forger.dispute_slash(rid, deposit).value
        admin.advance_time(admin.round_config().challenge_window + 1)
        assert faulty.engine.settle_due() == {}  # an open slash dispute blocks settlement
        info = admin.get_round(rid)
        admin.advance_time(info.dispute_deadline - admin.now() + 1)
        assert rid in faulty.engine.settle_due()
        assert admin.get_dispute(dispute).status == DisputeStatus.TIMED_OUT
        assert admin.get_slash(rid, forger.address).state == SlashState.REVERTED
        assert forger.stake_of().slashable == stake_before + slashed.amount
        assert admin.get_round(rid).status == RoundStatus.SETTLED
        assert check_accounting(admin).balanced


def test_arbiter_can_still_decide_before_the_deadline(faulty: Round) -> None:
    admin, rid = faulty.admin, faulty.out.round_id
    with _scratch(faulty):
        forger = faulty.people["forged"].ledger
        deposit = admin.round_config().min_dispute_deposit
        admin.transfer_tokens(forger.address, deposit)
        dispute = forger.dispute_slash(rid, deposit).value
        admin.grant_role("arbiter", admin.address)  # even an arbiter may not judge its round
        with pytest.raises(admin.errors.ArbiterIsCoordinator):
            admin.resolve_dispute(dispute, uphold=False)
        faulty.arbiter.resolve_dispute(dispute, uphold=False)
        assert admin.get_slash(rid, forger.address).state == SlashState.CONFIRMED


def test_verify_passes_and_checks_every_proof(faulty: Round) -> None:
    report = verify_round(faulty.admin, faulty.engine.store, faulty.out.round_id)
    assert report.ok, report.render()
    proofs = report.check("fault proofs")
    assert proofs.expected.startswith("4 provable") and proofs.actual == "4 proven"
    assert report.check("decision hash").actual == "0x" + faulty.out.decision_hash.hex()


def _copy(r: Round, tmp_path: Path) -> LocalArtifactStore:
    dst = tmp_path / "store"
    shutil.copytree(r.store, dst)
    return LocalArtifactStore(dst)


def test_verify_names_an_altered_manifest(faulty: Round, tmp_path: Path) -> None:
    store = _copy(faulty, tmp_path)
    name = manifest_name(faulty.out.round_id)
    doc = store.get_named(name)
    doc["hyperparams"] = {"note": "edited after finalize"}
    store.put_named(name, doc)
    report = verify_round(faulty.admin, store, faulty.out.round_id)
    assert "decision hash" in [c.name for c in report.failed]
    assert "altered or replaced" in report.check("decision hash").detail


def test_verify_names_an_altered_proof(faulty: Round, tmp_path: Path) -> None:
    store = _copy(faulty, tmp_path)
    name = manifest_name(faulty.out.round_id)
    doc = store.get_named(name)
    nan = faulty.people["nan"].address
    entry = next(s for s in doc["slashes"] if s["participant"] == nan)
    proof = bytearray.fromhex(entry["fault_proof"])
    proof[-1] ^= 0x01
    entry["fault_proof"] = proof.hex()
    store.put_named(name, doc)
    report = verify_round(faulty.admin, store, faulty.out.round_id)
    failed = {c.name for c in report.failed}
    assert {"decision hash", "fault proofs"} <= failed
    detail = report.check("fault proofs").detail
    assert f"{nan}: the MALFORMED proof does not check" in detail
    assert f"{nan}: the finalize transaction sent another" in detail


def test_policy_that_does_not_fit_the_contract_is_refused(faulty: Round, tmp_path: Path) -> None:
    provable = faulty.admin.round_config().provable_slash_bps
    with pytest.raises(ConfigError, match=rf"provable_bps = {provable + 1}.*provableSlashBps"):
        RoundEngine(
            faulty.admin,
            LocalArtifactStore(tmp_path),
            RuleAggregator("median", 1),
            policy=PolicyConfig(provable_bps=provable + 1),
        )
    cap = faulty.admin.round_config().max_judged_slash_bps
    with pytest.raises(ConfigError, match=r"forged_hash_bps .*maxJudgedSlashBps"):
        RoundEngine(
            faulty.admin,
            LocalArtifactStore(tmp_path),
            RuleAggregator("median", 1),
            policy=PolicyConfig(forged_hash_bps=cap + 1, max_judged_bps=10_000),
        )


# -- honest updates are never provably faulty ---------------------------------------------
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "11" * 20)
KEY = generate()
_finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    w=hnp.arrays(np.float32, (4, 3), elements=_finite),
    b=hnp.arrays(np.float32, (3,), elements=_finite),
    n=st.integers(1, 10**6),
)
def test_honest_updates_never_yield_a_provable_fault(w: np.ndarray, b: np.ndarray, n: int) -> None:
    """A finite update with the global model's header and its own signed hash is valid, and
    no proof of a provable fault against its commitment checks."""
    arrays = {"w": w, "b": b}
    gmh = update_hash(GLOBAL)
    uh = update_hash(arrays)
    if uh == gmh:  # the global model itself is a null update, not an honest one
        return
    c = Commitment(1, KEY.address, gmh, uh, n)
    sub = Submission(KEY.address, arrays, n, c, sign_commitment(DOMAIN, c, KEY.key))
    out = validate_submission(
        sub, round_id=1, domain=DOMAIN, global_arrays=GLOBAL, global_model_hash=gmh
    )
    assert isinstance(out, ValidUpdate)
    assert faults.check(ReasonCode.NULL_UPDATE, c, DOMAIN, b"") is not None
    for build in (
        lambda: faults.header_mismatch_proof(arrays, GLOBAL),
        lambda: faults.non_finite_proof(arrays),
    ):
        try:
            proof = build()
        except Exception:
            continue  # nothing to point at: no proof at all
        assert faults.check(ReasonCode.MALFORMED, c, DOMAIN, proof) is not None
    again = faults.equivocation_proof(c, sub.signature or b"")
    assert faults.check(ReasonCode.EQUIVOCATION, c, DOMAIN, again) is not None


def test_a_proof_that_fails_locally_is_left_out_never_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Belt and braces before finalize: a provable slash whose proof does not check is
    logged and left out, so the finalize cannot revert on it."""
    honest, bad = generate(), generate()
    gmh = update_hash(GLOBAL)

    def reply(key: Any, arrays: dict[str, np.ndarray]) -> Submission:
        c = Commitment(1, key.address, gmh, update_hash(arrays), 50)
        return Submission(key.address, arrays, 50, c, sign_commitment(DOMAIN, c, key.key))

    nan = {"w": np.full((4, 3), np.nan, np.float32), "b": np.ones(3, np.float32)}
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    who = [honest.address, bad.address]
    decided = decide(
        1,
        who,
        [reply(honest, ok), reply(bad, nan)],
        global_arrays=GLOBAL,
        global_model_hash=gmh,
        domain=DOMAIN,
        aggregator=RuleAggregator("median", 0),
        stakes=dict.fromkeys(who, 100),
        budget=10,
        state=None,
        scoring=ScoringConfig(),
        policy=PolicyConfig(),
        max_examples=100,
    )
    (sent,) = slash_evidence(1, who, decided, DOMAIN)
    assert (sent.participant, sent.reason) == (bad.address, ReasonCode.MALFORMED)
    fault = decided.faults[bad.address]
    broken = bytearray(fault.proof)
    broken[-1] ^= 1
    tampered = replace(decided, faults={bad.address: replace(fault, proof=bytes(broken))})
    assert slash_evidence(1, who, tampered, DOMAIN) == ()
    assert "fails locally" in caplog.text
