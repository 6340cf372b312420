"""A stateful aggregation rule (centered clipping: its centre is the previous round's
aggregate update) in the staked federation: each round's manifest commits to the state it
started from and ended with, `verify` re-runs the round from it and chains it to the
previous round, and a restarted coordinator picks it up from the journal."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from federation.aggregation import state_of
from federation.artifact_store import LocalArtifactStore
from federation.engine import RoundEngine, manifest_name
from federation.flower.inner import InnerStrategyAggregator
from federation.journal import Journal
from federation.ledger import Ledger
from federation.protocol.update_hash import update_hash
from federation.verify import verify_round
from simulations.staked_round import ATTACKED_MIX, run_round, staked_participants, toy_model
from strategies.aggregators import centered_clipping
from strategies.flower import CenteredClipping


def test_adaptive_tau_is_the_median_distance_to_the_centre() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 40))
    x[0] *= 50  # one far update: clipped to the typical radius
    rule = CenteredClipping(num_malicious=0)
    center = rng.normal(size=40) * 0.1
    rule.load_state({"center": center})
    kwargs = rule.rule_kwargs(x)
    tau = float(np.median(np.linalg.norm(x - center, axis=1)))
    assert kwargs["tau"] == tau
    assert np.array_equal(rule.aggregate_matrix(x), centered_clipping(x, center, tau, 3))
    assert np.linalg.norm(rule.aggregate_matrix(x) - center) < np.linalg.norm(x[0] - center) / 10
    with pytest.raises(ValueError, match="tau must be finite"):
        CenteredClipping(tau=0.0)
    with pytest.raises(ValueError, match="keeps no state"):
        InnerStrategyAggregator.named("median").load_state({"center": center})


@dataclass
class Rounds:
    admin: Ledger
    store: Path
    round_ids: list[int]


@pytest.fixture(scope="module")
def cc_rounds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rounds]:
    """Three scripted rounds under centered clipping on one in-process deployment, each
    starting from the previous aggregate."""
    store = tmp_path_factory.mktemp("cc")
    admin = Ledger.deploy("inprocess://")
    people = staked_participants(admin, list(ATTACKED_MIX))[0]
    engine = RoundEngine(
        admin,
        LocalArtifactStore(store),
        InnerStrategyAggregator.named("centered-clipping", 1),
        journal=Journal(store / "journal.jsonl"),
    )
    arrays, ids = toy_model(), []
    for _ in range(3):
        out = run_round(engine, arrays, people, 10**19)
        arrays, ids = out.aggregate_arrays, [*ids, out.round_id]
    yield Rounds(admin, store, ids)
    admin.close()


def _manifest(store: Path, rid: int) -> dict[str, Any]:
    return LocalArtifactStore(store).get_named(manifest_name(rid))


def test_state_is_committed_chained_and_verified(cc_rounds: Rounds) -> None:
    m = [_manifest(cc_rounds.store, r) for r in cc_rounds.round_ids]
    assert m[0]["aggregator_state_before"] is None  # zero centre in the first round
    assert all(x["aggregator_state_after"] for x in m)
    for prev, cur in itertools.pairwise(m):
        assert cur["aggregator_state_before"] == prev["aggregator_state_after"]
    for rid in cc_rounds.round_ids:
        report = verify_round(cc_rounds.admin, LocalArtifactStore(cc_rounds.store), rid)
        assert report.ok, report.render()
        assert report.check("aggregator state").ok and report.check("aggregate hash").ok


def test_a_restarted_coordinator_resumes_from_the_journalled_state(cc_rounds: Rounds) -> None:
    engine = RoundEngine(
        cc_rounds.admin,
        LocalArtifactStore(cc_rounds.store),
        InnerStrategyAggregator.named("centered-clipping", 1),
        journal=Journal(cc_rounds.store / "journal.jsonl"),
    )
    last = _manifest(cc_rounds.store, cc_rounds.round_ids[-1])
    assert update_hash(state_of(engine.aggregator)).hex() == last["aggregator_state_after"]


def test_verify_refuses_a_centre_the_previous_round_did_not_leave(
    cc_rounds: Rounds, tmp_path: Path
) -> None:
    """A coordinator that swaps the centre (round 3 claims the one round 1 left) is caught
    even though the aggregate then re-runs consistently from the claimed centre."""
    dst = tmp_path / "store"
    shutil.copytree(cc_rounds.store, dst)
    store = LocalArtifactStore(dst)
    r1, _, r3 = cc_rounds.round_ids
    doc = store.get_named(manifest_name(r3))
    doc["aggregator_state_before"] = store.get_named(manifest_name(r1))["aggregator_state_after"]
    store.put_named(manifest_name(r3), doc)
    report = verify_round(cc_rounds.admin, store, r3)
    state = report.check("aggregator state")
    assert not state.ok and f"another state than round {r3 - 1} left" in state.detail
