"""The poisoning lab: scenarios from TOML, `simulate` on the embedded chain and its
metrics, a resumable `sweep`, `report`, and the `fedstake simulate | sweep | report` CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from federation.cli import main
from simulations.lab import report, simulate, sweep
from simulations.scenario import KEYS, Scenario, ScenarioError, keys_markdown

ROOT = Path(__file__).resolve().parents[1]
SMALL = Scenario(name="small", clients=6, attack="sign-flip", attackers=1, f=1, rounds=2)


def test_scenario_toml_round_trip(tmp_path: Path) -> None:
    s = Scenario(name="rt", clients=7, attack="alie", attackers=2, attack_params={"z": 1.5}, f=1)
    path = tmp_path / "s.toml"
    path.write_text(s.to_toml())
    assert Scenario.load(path) == s
    cfg = s.to_run_config()
    assert cfg["behaviours"] == "0:alie,1:alie"
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
        ("clients = 2\nattackers = 3", "3 attackers among 2"),
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
    assert (att["members"], hon["members"]) == (1, 5)
    # the sign-flipper is slashed or at least unrewarded; honest participants earn
    assert att["rewards"] == 0 or att["slashed"] > 0
    assert att["net"] < 0 or (att["net"] == 0 and att["rewards"] == 0)
    assert att["stake_change"] == pytest.approx(-att["slashed"])
    assert hon["net"] > 0 and hon["slashed"] == 0 and hon["stake_change"] == 0
    final = result["final"]
    assert final["attacker_pnl"] < 0 < final["honest_pnl"]
    assert final["honest_false_slash_rate"] == 0
    for r in result["rounds"]:
        assert 0 <= r["accuracy"] <= 1 and r["gas_round"] > 0 and r["gas_settle"] > 0
        assert r["recall"] == 1.0 and r["precision"] == 1.0  # flagged and slashed
        assert r["attacker_net"] == pytest.approx(r["attacker_rewards"] - r["attacker_slashed"])
    assert sum(r["honest_net"] for r in result["rounds"]) == pytest.approx(hon["net"])


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
