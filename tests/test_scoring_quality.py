"""The quality harness runs and the defaults meet the targets on a small fresh sample."""

from __future__ import annotations

from strategies.scoring_quality import evaluate, main, markdown
from strategies.scoring_synthetic import ATTACKS, HETEROGENEITY, SyntheticSpec
from strategies.scoring_types import ScoringConfig


def test_moderate_heterogeneity_targets_on_unseen_seeds() -> None:
    r = evaluate(HETEROGENEITY["moderate"], 6, 3, 50_000, SyntheticSpec(d=300), ScoringConfig())
    for attack in ATTACKS:
        assert r[attack] >= 0.95, attack
    assert r["honest"] <= 0.01


def test_cli_prints_a_table(capsys) -> None:  # type: ignore[no-untyped-def]
    main(["--episodes", "1", "--rounds", "2", "--d", "200", "--levels", "low"])
    out = capsys.readouterr().out
    assert out.startswith("| heterogeneity |") and "| low |" in out
    assert markdown({}).count("\n") == 1
