"""The quality harness runs and the defaults meet the targets on a small fresh sample."""

from __future__ import annotations

import pytest

from strategies.scoring_quality import evaluate, main, markdown
from strategies.scoring_synthetic import ATTACKS, HETEROGENEITY, SyntheticSpec
from strategies.scoring_types import ScoringConfig


@pytest.mark.parametrize(("method", "honest_flags"), [("evidence", 0.02), ("legacy", 0.01)])
def test_moderate_heterogeneity_targets_on_unseen_seeds(method: str, honest_flags: float) -> None:
    """Each synthetic attack is flagged with its reason; an honest flag (a withheld reward
    under the evidence scorer) is rare, and no honest participant is slashed."""
    cfg = ScoringConfig(method=method)
    r = evaluate(HETEROGENEITY["moderate"], 6, 3, 50_000, SyntheticSpec(d=300), cfg)
    for attack in ATTACKS:
        assert r[attack] >= 0.95, attack
    assert r["honest"] <= honest_flags
    assert r["honest_slashed"] == 0.0


def test_cli_prints_a_table(capsys) -> None:  # type: ignore[no-untyped-def]
    main(["--episodes", "1", "--rounds", "2", "--d", "200", "--levels", "low"])
    out = capsys.readouterr().out
    assert out.startswith("| heterogeneity |") and "| low |" in out
    assert markdown({}).count("\n") == 1


def test_scoring_benchmark_runs_and_reports_every_step(capsys) -> None:  # type: ignore[no-untyped-def]
    """`python -m strategies.bench_scoring` (SCORING.md's cost table) on a tiny round."""
    from strategies.bench_scoring import main as bench

    bench(["--n", "8", "--d", "300", "--repeat", "1", "--warm", "3", "--validation-sizes", "20"])
    out = capsys.readouterr().out
    for step in (
        "aggregation: multi-krum",
        "scoring: evidence, server validation update",
        "scoring: evidence, peer basis",
        "scoring: legacy",
        "| 20 examples |",
    ):
        assert step in out
