"""The round engine through scripted participants: reply validation, settlement on-chain,
accounting to the wei, median fallback."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from federation import faults
from federation.aggregation import RuleAggregator
from federation.artifact_store import ArtifactError, LocalArtifactStore
from federation.engine import RoundEngine, decision_hash_of, manifest_name
from federation.journal import Journal
from federation.keys import generate
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment, Domain, sign_commitment
from federation.protocol.update_hash import update_hash
from federation.types import RoundResults, RoundStatus
from federation.validation import Exclusion, Submission, ValidUpdate, validate_submission
from federation.verify import verify_round
from simulations.accounting import check_accounting
from simulations.staked_round import (
    ATTACKED_MIX,
    Behaviour,
    SimParticipant,
    run_round,
    staked_participants,
    toy_model,
)
from strategies.scoring_types import ReasonCode

TOKEN = 10**18
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "11" * 20)
GLOBAL = toy_model()


def _submission(signer, arrays, *, round_id=1, sign_arrays=None, key=None, n=50, sent_n=None):  # type: ignore[no-untyped-def]
    c = Commitment(
        round_id, signer.address, update_hash(GLOBAL), update_hash(sign_arrays or arrays), n
    )
    sig = sign_commitment(DOMAIN, c, (key or signer).key)
    return Submission(signer.address, arrays, n if sent_n is None else sent_n, c, sig)


def _check(sub: Submission) -> Exclusion | None:
    out = validate_submission(
        sub,
        round_id=1,
        domain=DOMAIN,
        global_arrays=GLOBAL,
        global_model_hash=update_hash(GLOBAL),
        max_examples=100,
    )
    return None if isinstance(out, ValidUpdate) else out


def test_valid_submission_passes() -> None:
    s = generate()
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    assert _check(_submission(s, ok)) is None


def test_signature_by_another_key_is_excluded_but_not_slashable() -> None:
    s, mallory = generate(), generate()
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    ex = _check(_submission(s, ok, key=mallory))
    assert ex is not None and ex.reason is None and ex.code == "bad-signature"


def test_replayed_commitment_from_another_round_is_excluded_not_slashable() -> None:
    s = generate()
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    ex = _check(_submission(s, ok, round_id=2))
    assert ex is not None and ex.reason is None and ex.code == "replayed"


def test_hash_mismatch_is_forged_hash() -> None:
    s = generate()
    sent = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    signed = {"w": np.zeros((4, 3), np.float32), "b": np.ones(3, np.float32)}
    ex = _check(_submission(s, sent, sign_arrays=signed))
    assert ex is not None and ex.reason == ReasonCode.FORGED_HASH


@pytest.mark.parametrize(
    ("arrays", "variant"),
    [
        (
            {"w": np.full((4, 3), np.nan, np.float32), "b": np.ones(3, np.float32)},
            faults.NON_FINITE,
        ),
        ({"w": np.ones((3, 4), np.float32), "b": np.ones(3, np.float32)}, faults.HEADER_MISMATCH),
        ({"w": np.ones((4, 3), np.float64), "b": np.ones(3, np.float32)}, faults.HEADER_MISMATCH),
        ({"b": np.ones(3, np.float32), "w": np.ones((4, 3), np.float32)}, faults.HEADER_MISMATCH),
    ],
    ids=["nan", "shape", "dtype", "order"],
)
def test_malformed_updates_are_provably_malformed(
    arrays: dict[str, np.ndarray], variant: int
) -> None:
    """Signed non-finite or misshapen updates are MALFORMED with a proof that checks."""
    s = generate()
    sub = _submission(s, arrays)
    ex = _check(sub)
    assert ex is not None and ex.reason == ReasonCode.MALFORMED and ex.proof
    assert ex.proof[31] == variant  # abi.encode(uint8 variant, ...)
    assert sub.commitment is not None
    assert faults.check(ReasonCode.MALFORMED, sub.commitment, DOMAIN, ex.proof) is None


def test_signed_global_model_hash_is_a_null_update() -> None:
    ex = _check(_submission(generate(), dict(GLOBAL)))
    assert ex is not None and ex.reason == ReasonCode.NULL_UPDATE and ex.proof == b""


@pytest.mark.parametrize(("n", "sent_n"), [(101, 101), (50, 49)], ids=["above-max", "misreported"])
def test_example_count_faults_are_judged(n: int, sent_n: int) -> None:
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    ex = _check(_submission(generate(), ok, n=n, sent_n=sent_n))
    assert ex is not None and ex.reason == ReasonCode.BAD_EXAMPLES and ex.proof is None


def test_big_endian_update_is_not_provably_malformed() -> None:
    """Same bytes in the canonical (little-endian) header as the global model: excluded
    for its dtype, but no header proof could show a difference, so it is not slashed."""
    arrays = {"w": np.ones((4, 3), ">f4"), "b": np.ones(3, np.float32)}
    ex = _check(_submission(generate(), arrays))
    assert ex is not None and ex.code == "dtype" and ex.reason is None


def test_unreadable_signature_is_excluded() -> None:
    s = generate()
    ok = {"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)}
    sub = replace(_submission(s, ok), signature=b"\x01" * 10)
    ex = _check(sub)
    assert ex is not None and ex.reason is None


def test_artifact_store_round_trip_and_corruption(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalArtifactStore(tmp_path)
    digest = store.put(GLOBAL)
    assert digest in store
    back = store.get(digest)
    assert list(back) == list(GLOBAL) and all(np.array_equal(back[k], GLOBAL[k]) for k in GLOBAL)
    assert store.put(GLOBAL) == digest  # idempotent
    other = store.put({"w": np.ones((4, 3), np.float32), "b": np.ones(3, np.float32)})
    store.path(digest).write_bytes(store.path(other).read_bytes())
    with pytest.raises(ArtifactError, match="corrupted"):
        store.get(digest)


BEHAVIOURS = list(ATTACKED_MIX)


ARBITER = generate()


def _federation(
    behaviours: list[Behaviour],
) -> tuple[Ledger, list[SimParticipant], np.ndarray]:
    """A fresh in-process deployment (its arbiter is not the coordinator) with staked
    simulated participants."""
    admin = Ledger.deploy("inprocess://", arbiters=(ARBITER.address,))
    admin.fund_eth(ARBITER.address)
    people, target = staked_participants(admin, behaviours)
    return admin, people, target


def _engine(admin: Ledger, tmp_path, rule: str, f: int) -> RoundEngine:  # type: ignore[no-untyped-def]
    return RoundEngine(
        admin,
        LocalArtifactStore(tmp_path),
        RuleAggregator(rule, f),
        journal=Journal(tmp_path / "journal.jsonl"),
    )


def test_round_settles_on_chain_and_balances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Honest, sign-flip, free-rider, NaN and forged participants through one real round."""
    admin, people, target = _federation(BEHAVIOURS)
    coord = _engine(admin, tmp_path, "median", 1)

    out = run_round(coord, GLOBAL, people, 10 * TOKEN)

    role = {p.address: p.behaviour for p in people}
    excluded = {role[e.participant]: e.reason for e in out.exclusions}
    assert excluded == {
        Behaviour.NON_FINITE: ReasonCode.MALFORMED,
        Behaviour.FORGED_HASH: ReasonCode.FORGED_HASH,
    }
    slashed = {role[s.participant] for s in out.decision.slashes}
    assert {Behaviour.SIGN_FLIP, Behaviour.NON_FINITE, Behaviour.FORGED_HASH} <= slashed
    assert Behaviour.HONEST not in slashed
    assert out.aggregate_hash in coord.store
    published = RoundResults.from_dict(
        json.loads((tmp_path / f"round-{out.round_id}-results.json").read_text())
    )
    manifest = coord.store.get_named(f"round-{out.round_id}-manifest")
    assert manifest["aggregate_hash"] == out.aggregate_hash.hex()
    assert published.root == out.results.root  # what `fedstake claim` reads
    # The aggregate is near the honest target despite the attackers.
    assert np.allclose(out.aggregate_arrays["w"], target, atol=0.05)

    for s in out.decision.slashes:
        assert admin.get_slash(out.round_id, s.participant).amount == s.amount
    admin.chain.advance_time(admin.round_config().challenge_window + 1)
    admin.settle_round(out.round_id)
    assert admin.get_round(out.round_id).status == RoundStatus.SETTLED
    paid = 0
    for p in people:
        if out.results.entry(p.address).reward:
            paid += p.ledger.claim(out.round_id, out.results).value
            assert p.ledger.claim(out.round_id, out.results).already_applied  # never twice
    assert paid == out.decision.budget - out.decision.unallocated
    honest_rewards = [
        out.decision.rewards[p.address] for p in people if p.behaviour is Behaviour.HONEST
    ]
    assert all(r > 0 for r in honest_rewards), (honest_rewards, out.scores)
    acct = check_accounting(admin)
    assert acct.balanced, acct
    assert admin.lineage(out.version_id)[0].round_id == out.round_id


def test_voided_round_returns_budget_and_still_balances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An upheld result dispute voids the round: no claims, budget back, accounting exact."""
    admin, people, _ = _federation(BEHAVIOURS[:6])
    coord = _engine(admin, tmp_path, "median", 1)
    out = run_round(coord, GLOBAL, people, 10 * TOKEN)
    pool_before = admin.pool_info().reward_pool
    deposit = admin.round_config().min_dispute_deposit
    challenger = people[0].ledger
    admin.transfer_tokens(challenger.address, deposit)
    dispute_id = challenger.dispute_result(out.round_id, deposit).value
    assert check_accounting(admin).balanced
    admin.as_signer(ARBITER).resolve_dispute(dispute_id, uphold=True)
    admin.chain.advance_time(admin.round_config().challenge_window + 1)
    admin.settle_round(out.round_id)
    info = admin.get_round(out.round_id)
    assert info.result_voided and info.status == RoundStatus.SETTLED
    assert admin.pool_info().reward_pool >= pool_before + out.decision.budget
    honest = next(p for p in people if out.results.entry(p.address).reward > 0)
    with pytest.raises(admin.errors.RoundVoided):
        honest.ledger.claim(out.round_id, out.results)
    acct = check_accounting(admin)
    assert acct.balanced, acct
    assert acct.outstanding_rewards == 0


def test_round_with_no_valid_reply_still_settles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every reply is bad: the model stays, the signers are slashed, nobody is paid."""
    admin, people, _ = _federation([Behaviour.NON_FINITE, Behaviour.FORGED_HASH] * 2)
    coord = _engine(admin, tmp_path, "krum", 1)
    out = run_round(coord, GLOBAL, people, 10 * TOKEN)
    assert out.scores is None
    assert all(np.array_equal(out.aggregate_arrays[k], GLOBAL[k]) for k in GLOBAL)
    assert len(out.slashes) == 4 and sum(out.decision.rewards.values()) == 0
    admin.chain.advance_time(admin.round_config().challenge_window + 1)
    admin.settle_round(out.round_id)
    assert check_accounting(admin).balanced


def test_too_few_updates_for_krum_fall_back_to_median(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two valid updates cannot satisfy Krum's n > 2f + 2: the round goes on with the median."""
    admin, people, target = _federation([Behaviour.HONEST] * 2 + [Behaviour.NON_FINITE])
    coord = _engine(admin, tmp_path, "krum", 1)
    out = run_round(coord, GLOBAL, people, 10 * TOKEN)
    assert np.allclose(out.aggregate_arrays["w"], target, atol=0.05)
    assert out.fallback is not None and out.fallback.startswith("median")
    assert out.metrics()["fallback"] == 1.0
    manifest = coord.store.get_named(f"round-{out.round_id}-manifest")
    assert manifest["fallback"] == out.fallback  # written into the round's decision


# -- crash recovery in-process (the anvil subprocess version: tests/test_crash_recovery.py) --
class _CrashError(Exception):
    """Stands for the process dying at the crash point."""


def _decided_then_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Ledger, LocalArtifactStore]:
    """Round 1 decided and journalled, the coordinator dead before its finalize."""
    import federation.engine as engine_module

    def crash(name: str) -> None:
        if name == "before-finalize":
            raise _CrashError(name)

    admin, people, _ = _federation(BEHAVIOURS[:7])  # honest, sign-flip, NaN
    coord = _engine(admin, tmp_path, "median", 1)
    with monkeypatch.context() as m:
        m.setattr(engine_module, "crash_point", crash)
        with pytest.raises(_CrashError):
            run_round(coord, GLOBAL, people, 10 * TOKEN)
    assert admin.get_round(1).status == RoundStatus.OPEN
    return admin, LocalArtifactStore(tmp_path)


def test_resume_finalizes_the_stored_decision_with_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, store = _decided_then_crashed(tmp_path, monkeypatch)
    again = _engine(admin, tmp_path, "median", 1)
    assert again.resume() == [1]
    fin = admin.finalization(1)
    assert fin is not None
    assert fin.decision_hash == decision_hash_of(store, 1)
    assert fin.artifacts_uri == store.named_uri(manifest_name(1))
    reasons = {e.reason for e in admin.slash_events(1)}
    assert ReasonCode.MALFORMED in reasons  # the provable slash went through with its proof
    assert verify_round(admin, store, 1).ok


def test_resume_refuses_a_manifest_altered_after_the_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, store = _decided_then_crashed(tmp_path, monkeypatch)
    doc = store.get_named(manifest_name(1))
    doc["slashes"] = []
    store.put_named(manifest_name(1), doc)
    with pytest.raises(RuntimeError, match="changed after it was decided"):
        _engine(admin, tmp_path, "median", 1).resume()
    assert admin.get_round(1).status == RoundStatus.OPEN  # nothing sent


def test_round_cancelled_while_the_coordinator_was_down_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, _ = _decided_then_crashed(tmp_path, monkeypatch)
    admin.cancel_round(1)  # the guardian
    again = _engine(admin, tmp_path, "median", 1)
    assert again.settlement is not None  # the journalled decision's state
    assert again.resume() == []
    assert again.settlement is None  # back to before the forgotten decision
    assert again.journal is not None and again.journal.rounds()[1].ended
    assert again.settle_due() == {}
    assert check_accounting(admin).balanced


def test_rounds_scored_against_the_coordinators_validation_update(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With a reference trainer the engine stores the coordinator's own update with the
    round, scores usefulness against it (basis "server"), and `verify` re-scores from the
    stored copy; without that copy the round cannot be re-checked."""
    admin, people, target = _federation([Behaviour.HONEST] * 5 + [Behaviour.NOISE])
    calls: list[int] = []

    def reference(g, round_id):  # type: ignore[no-untyped-def]
        calls.append(round_id)
        return {"w": g["w"] + target, "b": g["b"] + np.float32(0.1)}

    coord = RoundEngine(
        admin,
        LocalArtifactStore(tmp_path),
        RuleAggregator("median", 1),
        journal=Journal(tmp_path / "journal.jsonl"),
        reference=reference,
    )
    out = run_round(coord, GLOBAL, people, 10 * TOKEN)
    assert calls == [out.round_id]
    manifest = coord.store.get_named(manifest_name(out.round_id))
    stored = coord.store.get(bytes.fromhex(manifest["reference_hash"]))
    assert np.array_equal(stored["w"], GLOBAL["w"] + target)
    assert manifest["scores"]["basis"] == "server"
    role = {p.address: p.behaviour for p in people}
    noise = next(a for a, b in role.items() if b is Behaviour.NOISE)
    assert out.decision.rewards[noise] == 0
    assert all(out.decision.rewards[a] > 0 for a, b in role.items() if b is Behaviour.HONEST)
    assert verify_round(admin, coord.store, out.round_id).ok

    coord.store.path(bytes.fromhex(manifest["reference_hash"])).unlink()
    report = verify_round(admin, coord.store, out.round_id)
    assert not report.ok and not report.check("reference model").ok


def test_a_reference_model_unlike_the_global_model_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    admin, people, _ = _federation([Behaviour.HONEST] * 3)
    coord = RoundEngine(
        admin,
        LocalArtifactStore(tmp_path),
        RuleAggregator("median", 1),
        reference=lambda g, r: {"w": np.zeros((3, 4), np.float32), "b": g["b"]},
    )
    with pytest.raises(ValueError, match="reference model's arrays"):
        run_round(coord, GLOBAL, people, 10 * TOKEN)
