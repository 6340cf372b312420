"""`verify`: re-running scripted rounds (honest + sign-flip + NaN + forged-hash replies)
from the chain and the artifact store, and naming exactly what a tampered manifest,
a corrupted artifact or a dishonest finalize changed. The CLI runs in-process against an
injected in-process ledger, and end to end on anvil (?state=) when anvil is installed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import federation.cli as cli
from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.chain import connect
from federation.chain.anvil import find_anvil
from federation.engine import RoundEngine, manifest_name, submission_from_doc
from federation.journal import Journal
from federation.ledger import Ledger
from federation.verify import VerifyError, VerifyReport, verify_round
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
BUDGET = 10 * TOKEN
GLOBAL = toy_model()
BEHAVIOURS = list(ATTACKED_MIX)
CHECKS = [
    "deployment",
    "decision hash",
    "artifacts uri",
    "round params",
    "config hash",
    "budget",
    "stakes",
    "eligibility",
    "global model",
    "submissions",
    "aggregator",
    "exclusions",
    "signatures",
    "results root",
    "published results",
    "total rewards",
    "slashes",
    "fault proofs",
    "aggregate hash",
]


def _federation(admin: Ledger, behaviours: list[Behaviour]) -> list[SimParticipant]:
    """Staked simulated participants on a fresh deployment."""
    return staked_participants(admin, behaviours)[0]


def _engine(admin: Ledger, store: Path, aggregator: Any = None) -> RoundEngine:
    return RoundEngine(
        admin,
        LocalArtifactStore(store),
        aggregator or RuleAggregator("median", 1),
        journal=Journal(store / "journal.jsonl"),
        hyperparams={"lr": 0.1, "epochs": 1},
    )


def _role(people: list[SimParticipant], b: Behaviour) -> str:
    return next(p.address for p in people if p.behaviour is b)


@dataclass
class Rounds:
    admin: Ledger
    people: list[SimParticipant]
    store: Path
    round_ids: list[int]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rounds]:
    """Two scripted rounds on one in-process deployment (the second starts from the first
    one's aggregate and carries its settlement state)."""
    store = tmp_path_factory.mktemp("store")
    admin = Ledger.deploy("inprocess://")
    people = _federation(admin, BEHAVIOURS)
    coord = _engine(admin, store)
    first = run_round(coord, GLOBAL, people, BUDGET)
    second = run_round(coord, first.aggregate_arrays, people, BUDGET)
    assert first.slashes and second.slashes  # attacked rounds, not only honest ones
    yield Rounds(admin, people, store, [first.round_id, second.round_id])
    admin.close()


def _copy(rounds: Rounds, tmp_path: Path) -> LocalArtifactStore:
    """A private copy of the rounds' store, to tamper with."""
    dst = tmp_path / "store"
    shutil.copytree(rounds.store, dst)
    return LocalArtifactStore(dst)


def _failed(report: VerifyReport) -> list[str]:
    return [c.name for c in report.checks if not c.ok]


# -- honest publication -----------------------------------------------------------------------
def test_verify_passes_on_honest_and_attacked_rounds(rounds: Rounds) -> None:
    store = LocalArtifactStore(rounds.store)
    slashed: set[str] = set()
    for rid in rounds.round_ids:
        report = verify_round(rounds.admin, store, rid)
        assert report.ok, report.render()
        assert [c.name for c in report.checks] == CHECKS
        assert all(c.ok and not c.skipped for c in report.checks)
        assert report.render().endswith(f"OK: all {len(CHECKS)} checks pass")
        doc = json.loads(json.dumps(report.to_dict()))
        assert doc["ok"] is True and doc["failed"] == []
        slashed |= {p for p, _, _ in report.check("slashes").actual}
    # the attackers are the ones the verified decisions slash (a provable fault jails: the
    # NaN sender is slashed in round 1 and not selected for round 2)
    assert {_role(rounds.people, b) for b in BEHAVIOURS[5:]} <= slashed
    assert _role(rounds.people, Behaviour.HONEST) not in slashed


def test_round_that_is_not_finalized_is_nothing_to_verify(rounds: Rounds) -> None:
    with pytest.raises(VerifyError, match="never opened"):
        verify_round(rounds.admin, LocalArtifactStore(rounds.store), 99)


def test_missing_manifest_says_which_store_to_pass(rounds: Rounds, tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="--store"):
        verify_round(rounds.admin, LocalArtifactStore(tmp_path), rounds.round_ids[0])


# -- tampered artifacts -----------------------------------------------------------------------
def _tamper_manifest(store: LocalArtifactStore, rid: int, fn: Callable[[dict], None]) -> None:
    doc = store.get_named(manifest_name(rid))
    fn(doc)
    store.put_named(manifest_name(rid), doc)


def test_tampered_stake_is_named(rounds: Rounds, tmp_path: Path) -> None:
    store = _copy(rounds, tmp_path)
    rid = rounds.round_ids[0]
    honest = _role(rounds.people, Behaviour.HONEST)

    def halve(doc: dict) -> None:
        doc["stakes"][honest] = str(50 * TOKEN)

    _tamper_manifest(store, rid, halve)
    report = verify_round(rounds.admin, store, rid)
    assert not report.ok
    stakes = report.check("stakes")
    assert not stakes.ok
    assert f"{honest}: manifest stake {50 * TOKEN}" in stakes.detail
    assert str(100 * TOKEN) in stakes.detail  # what the chain says it was
    assert stakes.actual[honest] == str(50 * TOKEN)
    assert "stakes" in report.render() and "MISMATCH" in report.render()


def test_tampered_stake_without_historical_state_is_caught_by_the_slash_amount(
    rounds: Rounds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruned node cannot say what a stake was: the amount the contract slashed can."""
    import federation.verify as verify

    def pruned(*args: Any) -> Any:
        raise ValueError("missing trie node")

    monkeypatch.setattr(verify, "_slashable_between", pruned)
    store = _copy(rounds, tmp_path)
    rid = rounds.round_ids[0]
    assert verify_round(rounds.admin, store, rid).ok  # nothing to contradict the manifest
    flipper = _role(rounds.people, Behaviour.SIGN_FLIP)  # slashed in this round

    def inflate(doc: dict) -> None:
        doc["stakes"][flipper] = str(200 * TOKEN)

    _tamper_manifest(store, rid, inflate)
    stakes = verify_round(rounds.admin, store, rid).check("stakes")
    assert not stakes.ok and stakes.actual[flipper] == str(200 * TOKEN)
    assert f"{flipper}: slashed {10 * TOKEN} at 1000 bps, but 1000 bps of the manifest " in (
        stakes.detail
    )
    assert "the node serves no state" in stakes.detail


def test_tampered_budget_is_named(rounds: Rounds, tmp_path: Path) -> None:
    store = _copy(rounds, tmp_path)
    rid = rounds.round_ids[1]

    def inflate(doc: dict) -> None:
        doc["budget"] = str(2 * BUDGET)

    _tamper_manifest(store, rid, inflate)
    report = verify_round(rounds.admin, store, rid)
    budget = report.check("budget")
    assert not report.ok and not budget.ok
    assert (budget.expected, budget.actual) == (str(BUDGET), str(2 * BUDGET))
    # the decision re-run with the wrong budget no longer reproduces the finalized rewards
    assert {"budget", "total rewards", "results root"} <= set(_failed(report))
    assert "deployment" not in _failed(report) and "slashes" not in _failed(report)
    # per-participant leaves: recomputed (with the bad budget) vs published
    assert "reward" in report.check("results root").detail


def test_corrupted_update_is_named(rounds: Rounds, tmp_path: Path) -> None:
    """An update file overwritten in place: the store re-hashes it and refuses it."""
    store = _copy(rounds, tmp_path)
    rid = rounds.round_ids[0]
    manifest = store.get_named(manifest_name(rid))
    docs = {d["participant"]: d for d in manifest["submissions"]}
    honest = _role(rounds.people, Behaviour.HONEST)
    other = _role(rounds.people, Behaviour.SIGN_FLIP)
    victim = store.path(bytes.fromhex(docs[honest]["arrays"]))
    victim.chmod(0o644)
    victim.write_bytes(store.path(bytes.fromhex(docs[other]["arrays"])).read_bytes())

    report = verify_round(rounds.admin, store, rid)
    subs = report.check("submissions")
    assert not report.ok and not subs.ok
    assert subs.detail.startswith(f"{honest}: artifact 0x{docs[honest]['arrays']} is corrupted")
    assert "results root" in _failed(report)  # without the reply, the round decides otherwise


def test_manifest_for_another_round_is_named(rounds: Rounds, tmp_path: Path) -> None:
    """Round 2's manifest published as round 1's: wrong round id and params."""
    store = _copy(rounds, tmp_path)
    first, second = rounds.round_ids
    store.put_named(manifest_name(first), store.get_named(manifest_name(second)))
    report = verify_round(rounds.admin, store, first)
    assert {"deployment", "round params"} <= set(_failed(report))
    assert f"round_id: this deployment has {first}, the manifest {second}" in (
        report.check("deployment").detail
    )
    assert "global model hash: opened with" in report.check("round params").detail


# -- a dishonest finalize ---------------------------------------------------------------------
@pytest.mark.parametrize("change", ["extra", "missing"])
def test_finalized_slash_list_differing_from_the_decision_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """The coordinator publishes the honest manifest but finalizes another slash list."""
    admin = Ledger.deploy("inprocess://")
    try:
        people = _federation(admin, BEHAVIOURS)
        coord = _engine(admin, tmp_path)
        honest = _role(people, Behaviour.HONEST)
        dropped: list[str] = []
        finalize = admin.finalize_round

        def dishonest(rid: int, **kw: Any) -> Any:
            slashes = list(kw["slashes"])
            if change == "missing":
                dropped.append(slashes.pop(0).participant)
            else:  # slash an honest participant with its own (valid) signed commitment
                m = coord.store.get_named(manifest_name(rid))
                sub = submission_from_doc(
                    coord.store, next(d for d in m["submissions"] if d["participant"] == honest)
                )
                assert sub.commitment is not None and sub.signature is not None
                tree = Ledger.participants_tree(rid, m["participants"])
                slashes.append(
                    Ledger.slash_evidence(
                        sub.commitment,
                        sub.signature,
                        reason=int(ReasonCode.BYZANTINE),
                        slash_bps=1_000,
                        participants=tree,
                    )
                )
            return finalize(rid, **{**kw, "slashes": slashes})

        monkeypatch.setattr(admin, "finalize_round", dishonest)
        out = run_round(coord, GLOBAL, people, BUDGET)

        report = verify_round(admin, coord.store, out.round_id)
        assert _failed(report) == ["slashes"], report.render()
        check = report.check("slashes")
        if change == "extra":
            assert [honest, 3, 1_000] in check.actual and [honest, 3, 1_000] not in check.expected
            assert f"{honest}: slashed on-chain (BYZANTINE, 1000 bps), the decision does not" in (
                check.detail
            )
        else:
            (who,) = dropped
            assert len(check.expected) == len(check.actual) + 1
            assert f"{who}: the decision slashes (" in check.detail
            assert "the chain has no slash" in check.detail
    finally:
        admin.close()


# -- a randomized aggregator ------------------------------------------------------------------
@dataclass(frozen=True)
class _RandomizedMedian(RuleAggregator):
    """A rule whose spec says its aggregate is not reproducible (as a sampling strategy's)."""

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "randomized": True}


def _custom_flower_strategy() -> Any:
    from flwr.serverapp.strategy import FedAvg

    from federation.flower.inner import InnerStrategyAggregator

    return InnerStrategyAggregator.wrapping(FedAvg())


@pytest.mark.parametrize(
    ("make", "skipped"),
    [
        (lambda: _RandomizedMedian("median", 0), ["aggregate hash"]),
        (_custom_flower_strategy, ["aggregator", "aggregate hash"]),
    ],
    ids=["randomized-rule", "custom-flower-strategy"],
)
def test_randomized_aggregator_skips_only_the_aggregate(
    tmp_path: Path, make: Callable[[], Any], skipped: list[str]
) -> None:
    """A randomized aggregate cannot be reproduced (and a custom strategy object cannot be
    rebuilt by name), but the decisions do not depend on it: they still verify."""
    admin = Ledger.deploy("inprocess://")
    try:
        people = _federation(admin, BEHAVIOURS[4:])
        coord = _engine(admin, tmp_path, make())
        out = run_round(coord, GLOBAL, people, BUDGET)
        report = verify_round(admin, coord.store, out.round_id)
        assert report.ok, report.render()
        agg = report.check("aggregate hash")
        assert agg.skipped and agg.detail == "skipped (randomized inner strategy)"
        assert "[skip] aggregate hash" in report.render()
        assert [c.name for c in report.checks if c.skipped] == skipped
        assert report.check("slashes").actual  # the attackers' slashes still verify
    finally:
        admin.close()


# -- the CLI ----------------------------------------------------------------------------------
@pytest.fixture
def cli_ledger(rounds: Rounds, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """The CLI on the rounds' in-process chain (which dies with its process): `_ledger`
    returns a view of it that the command's close() leaves running."""
    view = rounds.admin.as_signer(rounds.admin.signer)  # type: ignore[arg-type]
    monkeypatch.setattr(view, "close", lambda: None)
    monkeypatch.setattr(cli, "_ledger", lambda args: view)
    return view


def test_cli_verify_exit_codes(
    rounds: Rounds, cli_ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = rounds.round_ids[0]
    assert cli.main(["verify", str(rid), "--store", str(rounds.store)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"verify round {rid}") and f"OK: all {len(CHECKS)}" in out

    # default store: the file:// URI of the round's provenance record
    assert cli.main(["verify", str(rid), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and [c["name"] for c in doc["checks"]] == CHECKS

    store = _copy(rounds, tmp_path)
    _tamper_manifest(store, rid, lambda d: d.update(budget=str(3 * BUDGET)))
    assert cli.main(["verify", str(rid), "--store", store.root.as_uri()]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] budget" in out and f"actual:   {3 * BUDGET}" in out
    assert "MISMATCH" in out
    assert cli.main(["verify", str(rid), "--store", str(store.root), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "budget" in doc["failed"]


@pytest.mark.parametrize(
    ("store", "round_id", "message"),
    [
        ("empty", None, "round-{rid}-manifest.json is not in the store"),
        ("missing", None, "is not a directory on this machine"),
        ("empty", 99, "round 99 was never opened"),
    ],
    ids=["no-manifest", "no-store", "no-round"],
)
def test_cli_verify_usage_errors_exit_2(
    rounds: Rounds,
    cli_ledger: Ledger,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store: str,
    round_id: int | None,
    message: str,
) -> None:
    rid = round_id or rounds.round_ids[0]
    (tmp_path / "empty").mkdir()
    assert cli.main(["verify", str(rid), "--store", str(tmp_path / store)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fedstake: error:") and message.format(rid=rid) in err
    assert "--store" in err or round_id is not None  # says what to do


def test_cli_verify_without_provenance_needs_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A round whose aggregate has no provenance record: the store must be named."""
    admin = Ledger.deploy("inprocess://")
    try:
        people = _federation(admin, BEHAVIOURS[:5])
        coord = _engine(admin, tmp_path)
        monkeypatch.setattr(coord, "_record", lambda rid, agg: (0, 0))
        rid = run_round(coord, GLOBAL, people, BUDGET).round_id
        view = admin.as_signer(admin.signer)  # type: ignore[arg-type]
        monkeypatch.setattr(view, "close", lambda: None)
        monkeypatch.setattr(cli, "_ledger", lambda args: view)
        assert cli.main(["verify", str(rid)]) == 2
        assert "has no provenance record" in capsys.readouterr().err
        assert cli.main(["verify", str(rid), "--store", str(tmp_path)]) == 0
    finally:
        admin.close()


@pytest.mark.anvil
@pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent: run make setup-contracts")
def test_cli_verify_on_anvil_after_restart(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """End to end: rounds on anvil (?state=), then `fedstake verify` from a fresh process's
    point of view: a new anvil loaded from the state file, the store found by provenance."""
    url = f"anvil://?state={tmp_path / 'chain.json'}"
    dep = tmp_path / "deployment.json"
    admin = Ledger.deploy(connect(url), out=dep)
    try:
        people = _federation(admin, BEHAVIOURS)
        rid = run_round(_engine(admin, tmp_path / "store"), GLOBAL, people, BUDGET).round_id
    finally:
        admin.close()
    assert cli.main(["--chain", url, "--deployment", str(dep), "verify", str(rid)]) == 0, (
        capsys.readouterr()
    )
    assert f"OK: all {len(CHECKS)} checks pass" in capsys.readouterr().out
