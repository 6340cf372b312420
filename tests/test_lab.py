"""The poisoning lab: scenarios from TOML, `simulate` on the embedded chain and its
metrics, a resumable `sweep`, `report`, and the `fedstake simulate | sweep | report` CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from federation.cli import main
from simulations.lab import cell_name, cells, class_of, report, simulate, sweep
from simulations.lab_report import check_targets, known_results, load_cells
from simulations.scenario import KEYS, Scenario, ScenarioError, keys_markdown

ROOT = Path(__file__).resolve().parents[1]
SMALL = Scenario(
    name="small", clients=6, attack="sign-flip", attackers=1, free_riders=1, f=1, rounds=2
)


def test_scenario_toml_round_trip(tmp_path: Path) -> None:
    s = Scenario(name="rt", clients=7, attack="alie", attackers=2, attack_params={"z": 1.5}, f=1)
    path = tmp_path / "s.toml"
    path.write_text(s.to_toml())
    assert Scenario.load(path) == s
    cfg = s.to_run_config()
    assert cfg["behaviours"] == "0:alie,1:alie"
    mixed = s.with_values(free_riders=2)
    assert mixed.to_run_config()["behaviours"] == "0:alie,1:alie,2:free-rider,3:free-rider"
    assert [mixed.behaviour_of(p) for p in (1, 3, 4)] == ["alie", "free-rider", "honest"]
    assert [class_of(b) for b in ("honest", "lazy", "free-rider", "sybil", "ipm")] == [
        "honest",
        "free-rider",
        "free-rider",
        "sybil",
        "attacker",
    ]
    assert cfg["attack-params"] == "alie.z=1.5"
    assert Scenario(attacker_fraction=0.3, clients=10).num_attackers == 3
    path.write_text("clients = 4\n")
    assert Scenario.load(path).name == "s"  # the file's stem


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("clientz = 3", "unknown scenario key"),
        ('attack = "bogus"', "unknown behaviour"),
        ('attack = "alie"\n[attack-params]\nq = 1', "no parameter 'q'"),
        ('strategy = "nope"', "unknown strategy"),
        ('policy = "nope"', "unknown policy-preset"),
        ('rounds = "two"', "expected int"),
        ("clients = 2\nattackers = 3", "3 attackers and 0 free-riders among 2"),
        ("clients = 3\nattackers = 1\nfree-riders = 3", "1 attackers and 3 free-riders"),
    ],
)
def test_scenario_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ScenarioError, match=match):
        Scenario.load(path)


def test_one_reference_documents_every_key() -> None:
    doc = (ROOT / "simulations" / "SCENARIOS.md").read_text()
    assert keys_markdown() in doc
    example = Scenario.load(ROOT / "simulations" / "scenarios" / "alie-vs-krum.toml")
    assert example.name == "alie-vs-krum" and example.attack == "alie"
    assert set(example.to_dict()) == set(KEYS)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("small")
    return out, simulate(SMALL, out)


def test_simulate_metrics_are_consistent(small: tuple[Path, dict[str, Any]]) -> None:
    out, result = small
    assert json.loads((out / "result.json").read_text()) == result
    assert (out / "rounds.csv").read_text().count("\n") == 1 + SMALL.rounds
    assert result["accounting_balanced"] and result["verified"]
    att, hon = result["classes"]["attacker"], result["classes"]["honest"]
    free = result["classes"]["free-rider"]
    assert (att["members"], free["members"], hon["members"]) == (1, 1, 4)
    assert set(result["classes"]) == {"honest", "attacker", "free-rider"}  # no sybil here
    # the sign-flipper is slashed or at least unrewarded; honest participants earn
    assert att["rewards"] == 0 or att["slashed"] > 0
    assert att["net"] < 0 or (att["net"] == 0 and att["rewards"] == 0)
    assert att["stake_change"] == pytest.approx(-att["slashed"])
    assert hon["net"] > 0 and hon["slashed"] == 0 and hon["stake_change"] == 0
    final = result["final"]
    assert final["attacker_pnl"] < 0 < final["honest_pnl"]
    assert final["honest_false_slash_rate"] == 0
    assert (
        final["free_rider_reward_ratio"] == free["rewards_per_member"] / hon["rewards_per_member"]
    )
    assert final["backdoor_success"] is None  # no backdoor planted
    for r in result["rounds"]:
        assert 0 <= r["accuracy"] <= 1 and r["gas_round"] > 0 and r["gas_settle"] > 0
        assert r["precision"] == 1.0  # only misbehaving participants are flagged
        assert r["attacker_net"] == pytest.approx(r["attacker_rewards"] - r["attacker_slashed"])
    assert sum(r["honest_net"] for r in result["rounds"]) == pytest.approx(hon["net"])
    assert result["rounds"][-1]["honest_net_per_member"] == pytest.approx(hon["net_per_member"])


def test_sweep_is_resumable_and_reported(tmp_path: Path) -> None:
    axes = {"f": ["1", "2"]}
    listing = sweep(SMALL.with_values(rounds=1), axes, tmp_path, workers=2, progress=False)
    assert [c["name"] for c in listing] == ["f=1", "f=2"] and all(c["ran"] for c in listing)
    stamps = {c["name"]: (tmp_path / c["name"] / "result.json").stat().st_mtime_ns for c in listing}
    again = sweep(SMALL.with_values(rounds=1), axes, tmp_path, progress=False)
    assert not any(c["ran"] for c in again)
    assert stamps == {
        c["name"]: (tmp_path / c["name"] / "result.json").stat().st_mtime_ns for c in again
    }
    written = report(tmp_path)
    assert written["cells"] == 2
    md = (tmp_path / "REPORT.md").read_text()
    assert "| f=1 |" in md and "| f=2 |" in md and "attacker P&L" in md
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    assert rows[0].startswith("cell,f,accuracy") and len(rows) == 3
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib missing: figures not checked")
    assert (tmp_path / "accuracy.png").stat().st_size > 0


def test_an_attack_parameter_is_a_sweep_axis() -> None:
    alie = Scenario(
        name="a", clients=6, attack="alie", attackers=2, attack_params={"knowledge": "full"}
    )
    grid = cells(alie, {"attack-params.z": ["0.5", "1.5"], "strategy": ["median"]})
    assert [name for name, _, _ in grid] == [
        "attack-params.z=0.5__strategy=median",
        "attack-params.z=1.5__strategy=median",
    ]
    _, values, s = grid[1]
    assert values == {"attack-params.z": "1.5", "strategy": "median"}
    assert s.attack_params == {"knowledge": "full", "z": "1.5"}
    assert s.to_run_config()["attack-params"] == "alie.knowledge=full,alie.z=1.5"
    with pytest.raises(ScenarioError, match="expected float"):
        alie.with_values(**{"attack-params.z": "high"})
    with pytest.raises(ScenarioError, match="no parameter 'q'"):
        alie.with_values(**{"attack-params.q": "1"})


def test_report_of_one_simulate(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    assert report(out)["cells"] == 1
    assert "| small |" in (out / "REPORT.md").read_text()


@pytest.mark.parametrize("command", ["simulate", "sweep", "report"])
def test_cli_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert f"fedstake {command}" in capsys.readouterr().out


def test_cli_report_and_bad_scenario(
    small: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = small
    assert main(["report", str(out)]) == 0
    assert "REPORT.md" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('attack = "bogus"\n')
    assert main(["simulate", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "unknown behaviour" in capsys.readouterr().err


def _fake_cell(out: Path, values: dict[str, Any], **final: Any) -> None:
    """A result.json with the fields the report reads (the report, not the run, is tested)."""
    base = {"accuracy": 0.9, "attacker_pnl": -5.0, "honest_false_slash_rate": 0.0}
    rounds = [
        {"round": i, "accuracy": 0.5 + 0.1 * i, "honest_net_per_member": float(i)} for i in (1, 2)
    ]
    (out / cell_name(values)).mkdir(parents=True)
    (out / cell_name(values) / "result.json").write_text(
        json.dumps(
            {
                "scenario": {"name": "fake", **values},
                "final": {**base, **final},
                "rounds": rounds,
                "classes": {},
                "accounting_balanced": True,
                "verified": True,
                "seconds": 1.0,
            }
        )
    )


def test_report_of_a_grid_checks_every_target(tmp_path: Path) -> None:
    """aggregator × attack × alpha: pivot tables per alpha, heatmaps, and the targets —
    each missed target names its cells; the accuracy gap is against the best clean run."""
    cells = {
        ("fedavg", "none", 0.0): {"accuracy": 0.95, "attacker_pnl": None},
        ("krum", "none", 0.0): {"accuracy": 0.90, "attacker_pnl": None},
        ("fedavg", "ipm", 0.0): {"accuracy": 0.10, "attacker_pnl": 3.0},  # pays the attacker
        ("krum", "ipm", 0.0): {"accuracy": 0.94, "free_rider_reward_ratio": 0.5},
        ("fedavg", "none", 0.3): {"accuracy": 0.80, "attacker_pnl": None},
        ("krum", "none", 0.3): {"accuracy": 0.70, "attacker_pnl": None},
        ("fedavg", "ipm", 0.3): {"accuracy": 0.20, "honest_false_slash_rate": 0.05},
        ("krum", "ipm", 0.3): {"accuracy": 0.75},  # best defence 5 points below clean
    }
    axes = {
        "strategy": ["fedavg", "krum"],
        "attack": ["none", "ipm"],
        "dirichlet-alpha": [0.0, 0.3],
    }
    listing = []
    for (strategy, attack, alpha), final in cells.items():
        values = {"strategy": strategy, "attack": attack, "dirichlet-alpha": alpha}
        _fake_cell(tmp_path, values, **final)
        listing.append({"name": cell_name(values), "values": values})
    (tmp_path / "sweep.json").write_text(
        json.dumps(
            {
                "axes": {k: [c["values"][k] for c in listing] for k in axes},
                "cells": listing,
            }
        )
    )
    found, _ = load_cells(tmp_path)
    verdicts = {t["cell"]: t for t in check_targets(found, axes)}
    name = {k: cell_name(dict(zip(axes, k, strict=True))) for k in cells}
    assert verdicts[name[("fedavg", "ipm", 0.0)]]["attacker_pnl<0"] is False
    assert verdicts[name[("krum", "ipm", 0.0)]]["attacker_pnl<0"] is True
    assert verdicts[name[("krum", "none", 0.0)]]["attacker_pnl<0"] is None  # no attacker
    assert verdicts[name[("krum", "ipm", 0.0)]]["free_rider<=10%"] is False
    assert verdicts[name[("fedavg", "ipm", 0.3)]]["false_slash<=1%"] is False
    assert (
        verdicts[name[("krum", "ipm", 0.0)]]["best_defence_within_2pts"] is True
    )  # 0.94 ≥ 0.95−0.02
    assert (
        verdicts[name[("fedavg", "ipm", 0.3)]]["best_defence_within_2pts"] is False
    )  # 0.75 < 0.78

    written = report(tmp_path)
    md = (tmp_path / "REPORT.md").read_text()
    assert "## dirichlet-alpha = 0.0" in md and "## dirichlet-alpha = 0.3" in md
    assert "| ipm | 0.100 | 0.940 |" in md  # the accuracy pivot: rows attacks, columns rules
    assert "**attacker_pnl<0**: 3/4 cells meet it; missed by: " + name[("fedavg", "ipm", 0.0)] in md
    assert (tmp_path / "targets.csv").read_text().count("\n") == 1 + len(cells)
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib missing: figures not checked")
    figures = {Path(f).name for f in written["figures"]}
    assert {"heatmap_dirichlet-alpha=0.3.png", "heatmap-pnl_dirichlet-alpha=0.0.png"} <= figures
    assert {"accuracy_dirichlet-alpha=0.0.png", "stake_dirichlet-alpha=0.3.png"} <= figures


def test_known_results_are_checked_from_the_cells() -> None:
    def cell(strategy: str, attack: str, acc: float, **final: Any) -> dict[str, Any]:
        values = {"strategy": strategy, "attack": attack}
        return {"name": cell_name(values), "values": values, "final": {"accuracy": acc, **final}}

    found = [
        cell("fedavg", "none", 0.95, honest_pnl=5.0),
        cell("median", "none", 0.93, honest_pnl=5.0),
        cell("centered-clipping", "none", 0.94, honest_pnl=5.0),
        cell("fedavg", "sign-flip", 0.10, attacker_pnl=-3.0, honest_pnl=4.0),
        cell("median", "sign-flip", 0.92, attacker_pnl=-3.0, honest_pnl=4.0),
        cell("median", "alie", 0.60, attacker_pnl=2.0, honest_pnl=4.0),
        cell("centered-clipping", "alie", 0.90, attacker_pnl=-1.0, honest_pnl=4.0),
    ]
    lines = known_results(found, ["strategy", "attack"])
    assert "- ✓ FedAvg collapses under sign-flip: accuracy -0.85" in lines
    assert "- ✓ median resists sign-flip: accuracy -0.01" in lines
    assert "- ✓ alie hurts median more than centered clipping: -0.33 vs -0.04" in lines
    assert "- ✗ attackers lose stake in 3/4 attacked cells (not in median/alie)" in lines
    assert "- ✓ honest participants gain in 7/7 cells" in lines
