"""The side-by-side scoring sweep (`simulations.scoring_sweep`, issue #12) on a tiny grid:
8 clients (2 attackers, 1 free-rider), 4 rounds, attacks none and sign-flip."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulations.attacks import collusion
from simulations.models import LocalSetup, local_training, model_for, state_arrays
from simulations.scoring_sweep import CELLS_DIR, grid, main, parse_args, plan, sweep
from simulations.scoring_sweep_books import SCORERS, legacy_method_supported, reference_supported
from simulations.scoring_sweep_cell import (
    Cell,
    Participants,
    SweepConfig,
    _momentum,
    parse_attack,
    parse_split,
)

TINY = SweepConfig(clients=8, attackers=2, free_riders=1, rounds=4)
TINY_ARGS = ["--clients", "8", "--attackers", "2", "--free-riders", "1", "--rounds", "4"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Cell], list[str]]:
    out = tmp_path_factory.mktemp("scoring-sweep")
    cells = grid([parse_attack("none"), parse_attack("sign-flip")], [0.0], [None])
    lines: list[str] = []
    listing = sweep(TINY, cells, SCORERS, out, workers=1, command="tiny", progress=lines.append)
    assert all(c["ran"] for c in listing) and len(listing) == 2
    assert any("[2/2]" in line and "acc" in line for line in lines)  # per-cell progress
    return out, cells, lines


def _result(out: Path, cell: Cell) -> dict[str, Any]:
    return json.loads((out / CELLS_DIR / f"{cell.name}.json").read_text())


def test_legacy_pays_a_sign_flipper_less_than_the_honest(tiny: Any) -> None:
    out, cells, _ = tiny
    r = _result(out, cells[1])
    assert r["members"]["attacker"] == ["c00", "c01"] and r["members"]["free-rider"] == ["c02"]
    legacy = r["scorers"]["legacy"]
    assert not legacy["reference_passed"]
    assert legacy["config_method"] == ("legacy" if legacy_method_supported() else None)
    assert legacy["attacker_reward_ratio"] < 1.0
    assert legacy["attacker_pnl"] < legacy["honest_pnl"]
    # one trajectory scored three ways: the server scorer got the reference when it exists
    assert r["scorers"]["server"]["reference_passed"] == reference_supported()
    assert not r["scorers"]["peer"]["reference_passed"]
    assert len(r["accuracy"]) == 4 and r["final_accuracy"] == r["accuracy"][-1]
    # with no attack there are no attackers: their metrics are not applicable
    clean = _result(out, cells[0])
    assert clean["members"]["attacker"] == []
    assert clean["scorers"]["legacy"]["attacker_reward_ratio"] is None


def test_report_files(tiny: Any) -> None:
    out, cells, _ = tiny
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert len(rows) == len(cells) * len(SCORERS)
    assert {r["scorer"] for r in rows} == set(SCORERS)
    md = (out / "SWEEP.md").read_text()
    assert "tiny" in md  # the command line
    assert "## momentum β = 0, split iid" in md
    assert "`sign-flip`" in md and "`none`" in md
    assert "attacker ÷ honest reward · legacy" in md


def test_a_resumed_sweep_does_not_rerun_finished_cells(tiny: Any) -> None:
    out, cells, _ = tiny
    files = [out / CELLS_DIR / f"{c.name}.json" for c in cells]
    before = [f.stat().st_mtime_ns for f in files]
    listing = sweep(TINY, cells, SCORERS, out, workers=1, command="again", progress=print)
    assert not any(c["ran"] for c in listing)
    assert [f.stat().st_mtime_ns for f in files] == before
    assert json.loads((out / "sweep.json").read_text())["commands"] == ["tiny", "again"]
    # another configuration in the same directory is refused
    with pytest.raises(ValueError, match="another configuration"):
        sweep(SweepConfig(clients=8, attackers=2, free_riders=1, rounds=5), cells, SCORERS, out)


def test_unknown_names_are_errors_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "never"
    for bad in (
        ["--attacks", "none,sign-flip,bogus"],
        ["--scorers", "legacy,fancy"],
        ["--attacks", "alie:evade=sideways"],
        ["--attacks", "alie:zz=1"],
        ["--splits", "skewed"],
        ["--momentum", "1.5"],
    ):
        assert main(["--out", str(out), *TINY_ARGS, *bad]) == 2
        assert not out.exists()
    with pytest.raises(ValueError, match="unknown attack 'bogus'"):
        parse_attack("bogus")
    with pytest.raises(ValueError, match="free-riders are their own class"):
        parse_attack("free-rider")
    cfg, cells, scorers = plan(parse_args(["--out", str(out), *TINY_ARGS]))
    assert cfg == TINY and scorers == SCORERS
    assert len(cells) == 17 * 2 * 2  # the default grid: 17 attacks × momentum × split
    assert parse_split("iid") is None and parse_split("dir0.3") == 0.3


def test_evade_own_differs_per_attacker_none_is_identical() -> None:
    """What the sweep's attackers send in round 1: literal ALIE gives both attackers the same
    update; with evade=own each sends its own honest update + the same shift, so the two
    differ exactly as their own honest updates do."""
    g = state_arrays(model_for("digits", "mlp", TINY.seed))
    gv = collusion.flatten(g)
    plain = Participants(TINY, Cell(parse_attack("alie"), 0.0, None)).updates(g, 1)
    np.testing.assert_array_equal(plain[0], plain[1])
    own = Participants(TINY, Cell(parse_attack("alie:evade=own"), 0.0, None)).updates(g, 1)
    assert not np.array_equal(own[0], own[1])
    setup = LocalSetup("digits", "mlp", TINY.epochs, TINY.lr, None, TINY.seed)
    honest = [collusion.flatten(local_training(setup, p, 8, g, 1).arrays) - gv for p in (0, 1)]
    np.testing.assert_allclose(own[0] - own[1], honest[0] - honest[1], atol=1e-5)
    # the honest and free-rider rows are the same trajectory in both cells
    np.testing.assert_array_equal(plain[2:], own[2:])
    assert float(np.abs(plain[2]).max()) < 1e-5  # the free-rider: g + N(0, 1e-6²)


def test_momentum_buffer() -> None:
    buf: dict[int, np.ndarray] = {}
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    np.testing.assert_allclose(_momentum(buf, 0, 0.9, a), 0.1 * a)
    np.testing.assert_allclose(_momentum(buf, 0, 0.9, b), 0.9 * 0.1 * a + 0.1 * b)
    np.testing.assert_array_equal(_momentum(buf, 1, 0.0, b), b)
