"""``fedstake simulate | sweep | report``: the poisoning lab (`simulations.lab`).

The lab lives in the `simulations` package, which depends on `federation`, never the other
way round: these commands import it when they run, and say so clearly when it is missing
(an installed wheel without the repository's `simulations/`). Scenario keys and outputs:
`simulations/SCENARIOS.md`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from federation.commands.common import CliError, JsonOpt, Output, opts_of

if TYPE_CHECKING:  # a type only; the lab is imported when a command runs
    from simulations.scenario import Scenario

ScenarioArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="Scenario TOML file.")
]


def _lab() -> ModuleType:
    try:
        import simulations.lab as lab
    except ImportError as exc:
        raise CliError(
            "the poisoning lab needs the `simulations` package of the fedstake repository: "
            f"run from a checkout installed with `pip install -e .[dev]` ({exc})"
        ) from None
    return lab


def _scenario(path: Path) -> Scenario:
    _lab()
    from simulations.scenario import Scenario

    return Scenario.load(path)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The run's own progress lines go to stderr: stdout carries only the result."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def simulate(
    ctx: typer.Context,
    scenario: ScenarioArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default: lab/NAME).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Run one scenario (embedded chain by default): result.json, rounds.csv, REPORT.md."""
    o = Output(opts_of(ctx), json_)
    lab = _lab()
    s = _scenario(scenario)
    target = out or Path("lab") / s.name
    with _quiet_stdout():
        result = lab.simulate(s, target)
        lab.report(target)
    if o.json:
        o.emit({"dir": str(target), "final": result["final"], "classes": result["classes"]})
        return
    f = result["final"]
    o.print(
        f"{s.name}: final accuracy {f['accuracy']:.3f}, attacker P&L {f['attacker_pnl']}, "
        f"honest P&L {f['honest_pnl']}, detection recall {f['recall']}, "
        f"honest false-slash rate {f['honest_false_slash_rate']}",
        f"results in {target} (REPORT.md, rounds.csv, result.json)",
    )


def sweep(
    ctx: typer.Context,
    scenario: ScenarioArg,
    axis: Annotated[
        list[str],
        typer.Option("--axis", help="KEY=V1,V2,… (repeatable): a scenario key and its values."),
    ],
    workers: Annotated[int, typer.Option(min=1, help="Cells run in parallel processes.")] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default: lab/NAME-sweep).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Run the cartesian product of the axes, one directory per cell, then the report.
    Resumable: cells that have a result.json are not run again."""
    o = Output(opts_of(ctx), json_)
    lab = _lab()
    s = _scenario(scenario)
    axes: dict[str, list[str]] = {}
    for text in axis:
        key, values = lab.parse_axis(text)
        if key in axes:
            raise CliError(f"--axis {key} given twice: list its values once, comma-separated")
        axes[key] = values
    target = out or Path("lab") / f"{s.name}-sweep"
    with _quiet_stdout():
        listing = lab.sweep(s, axes, target, workers=workers)
        written = lab.report(target)
    ran = sum(c["ran"] for c in listing)
    if o.json:
        o.emit({"dir": str(target), "cells": listing, "report": written})
        return
    o.print(f"{len(listing)} cells ({ran} run now) in {target}; see {written['report']}")


def report(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="A simulate or sweep output.")
    ],
    json_: JsonOpt = False,
) -> None:
    """Collect a simulate or sweep directory into summary.csv, REPORT.md and figures."""
    o = Output(opts_of(ctx), json_)
    written = _lab().report(directory)
    if o.json:
        o.emit(written)
        return
    o.print(f"{written['cells']} cell(s): {written['report']}, {written['summary']}")
    for fig in written["figures"]:
        o.print(f"figure: {fig}")
