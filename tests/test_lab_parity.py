"""The lab's fast engine decides exactly what `flwr run` decides.

One attacked 2-round scenario through Flower's Simulation Engine (a local SuperLink) and
through `InProcessGrid` gives the same per-round decisions (valid set, absent, exclusions,
scores, flags, rewards, slashes, aggregate hash) and accuracy, bit for bit. Two things
made them differ, each pinned here: participants trained with however many torch threads
their process had (`simulations.models.one_thread`), and the aggregate's float sums ran in
the order of Flower's node ids, which a SuperLink draws at random (`InnerStrategyAggregator`
now numbers replies in address order)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from federation.flower.inner import InnerStrategyAggregator
from federation.validation import Submission, ValidUpdate
from simulations.bench_engine import decisions, differences, run_inprocess
from simulations.flwr_runner import FlwrRunner
from simulations.scenario import Scenario
from tests.test_flwr_run import _address, _flwr

SCENARIO = Scenario(name="parity", clients=7, attack="sign-flip", attackers=1, f=1, rounds=2)
# a sign-flipper (scored, slashed BYZANTINE), a signed NaN update (excluded and slashed
# MALFORMED) and a replay of last round's signed reply (node state across rounds); seven
# clients, so round 2 still has the 2f + 3 valid updates multi-krum needs
BEHAVIOURS = "0:sign-flip,1:nan,2:replay"


@pytest.mark.slow
def test_inprocess_and_flwr_run_decide_identically(superlink: FlwrRunner, tmp_path: Path) -> None:
    cfg = {**SCENARIO.to_run_config(), "behaviours": BEHAVIOURS}
    del cfg["artifact-dir"], cfg["summary-file"]  # per engine: _flwr sets its own
    n = SCENARIO.clients
    ours = run_inprocess({**cfg, "artifact-dir": str(tmp_path / "inprocess")}, n)["summary"]
    theirs = _flwr(superlink, tmp_path, n, **cfg)

    assert differences(theirs, ours) == []  # decisions and test accuracy, bit for bit
    assert decisions(theirs) == decisions(ours)
    # …and the scenario decided something worth comparing
    rounds = decisions(ours)
    assert len(rounds) == SCENARIO.rounds
    codes = {(e["participant"], e["code"]) for r in rounds for e in r["exclusions"]}
    assert (_address(1), "non-finite") in codes and (_address(2), "replayed") in codes
    slashed = {(s["participant"], s["reason"]) for r in rounds for s in r["slashes"]}
    assert {(_address(0), "BYZANTINE"), (_address(1), "MALFORMED")} <= slashed
    assert all(len(set(r["scores"].values())) > 1 for r in rounds)
    assert ours["accounting"]["balanced"] and theirs["accounting"]["balanced"]


@pytest.mark.parametrize("strategy", ["multi-krum", "centered-clipping", "fedavg"])
def test_the_aggregate_does_not_depend_on_flower_node_ids(strategy: str) -> None:
    """Same updates from the same addresses, other node ids: the same aggregate bits
    (float64 weights, where a different summation order shows in most coordinates)."""
    rng = np.random.default_rng(0)
    g = {"w": rng.standard_normal((40, 64)), "b": rng.standard_normal(10)}
    updates = [{k: v + 0.01 * rng.standard_normal(v.shape) for k, v in g.items()} for _ in range(7)]

    def aggregate(node_ids: list[int]) -> dict[str, np.ndarray]:
        valid = [
            ValidUpdate(
                Submission(f"0x{i + 1:040x}", u, 10, None, None, node_id=node),
                np.concatenate([a.ravel() for a in u.values()]),
                b"",
            )
            for i, (u, node) in enumerate(zip(updates, node_ids, strict=True))
        ]
        return InnerStrategyAggregator.named(strategy, 1).aggregate(1, g, valid).arrays

    ref = aggregate(list(range(1, 8)))
    for seed in range(3):  # node ids as a SuperLink draws them: random, in no useful order
        nodes = [int(x) for x in np.random.default_rng(seed).integers(1, 2**63, 7)]
        out = aggregate(nodes)
        assert all(np.array_equal(ref[k], out[k]) for k in ref), (strategy, nodes)
