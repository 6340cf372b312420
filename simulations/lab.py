"""The poisoning lab: run scenarios, sweep them, report on them.

    result = simulate(Scenario.load("simulations/scenarios/alie-vs-krum.toml"), "out/one")
    sweep(scenario, {"f": [1, 2], "strategy": ["krum", "median"]}, "out/grid", workers=4)
    report("out/grid")   # summary.csv, targets.csv, REPORT.md, figures (lab_report)

`simulate` runs the reference app's coordinator on `InProcessGrid` (the real ServerApp,
ClientApp and mods, no Ray) and derives, per round: test accuracy and loss; the planted
backdoor's success; detection precision and recall (a participant is *detected* when
flagged by scoring, excluded, or slashed; the truth is every non-honest participant); the
honest false-flag and false-slash rates; and per class (honest, attacker, free-rider,
sybil) rewards, slashed stake, net P&L (rewards − slashed stake, in tokens) and gas. A
sweep's cells run in worker processes (the embedded chain and numba's state are per
process); a cell with a `result.json` is done and is not run again.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from simulations.lab_report import CLASSES, RESULT, SWEEP, csv_text, report
from simulations.scenario import Scenario, ScenarioError


def _tok(wei: int | str) -> float:
    return int(wei) / 10**18


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# -- one scenario -------------------------------------------------------------------------------
def simulate(scenario: Scenario, out_dir: str | Path, *, quiet: bool = True) -> dict[str, Any]:
    """Run `scenario`; write `result.json` (metrics), `rounds.csv` and `run-summary.json`
    (the coordinator's own summary) into `out_dir`; return the result."""
    from federation.flower.settings import TOKEN
    from federation.keys import dev_signer
    from simulations.flower_app import client_app, run
    from simulations.inprocess_grid import InProcessGrid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = scenario.to_run_config(artifact_dir=str(out / "artifacts"))
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    if quiet:
        flwr_logger.setLevel(logging.ERROR)
    t0 = time.perf_counter()
    try:  # quiet: the app's own progress lines go to stderr, stdout stays the caller's
        with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
            summary = run(InProcessGrid(client_app, scenario.clients, cfg), cfg)
    finally:
        flwr_logger.setLevel(level)
    seconds = time.perf_counter() - t0
    (out / "run-summary.json").write_text(json.dumps(summary, indent=1, default=str))

    members: dict[str, set[str]] = {c: set() for c in CLASSES}
    for pid in range(scenario.clients):
        members[class_of(scenario.behaviour_of(pid))].add(dev_signer(1 + pid).address)
    result = derive(summary, members, stake_wei=round(float(cfg["stake"]) * TOKEN))
    result.update(scenario=scenario.to_dict(), seconds=seconds)
    (out / "rounds.csv").write_text(csv_text(result["rounds"]))
    tmp = out / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out / RESULT)  # result.json appears only once the cell is complete
    return result


def class_of(behaviour: str) -> str:
    """The participant class a behaviour belongs to, for per-class economics."""
    if behaviour == "honest":
        return "honest"
    if behaviour in ("free-rider", "lazy"):
        return "free-rider"
    return "sybil" if behaviour == "sybil" else "attacker"


def derive(
    summary: Mapping[str, Any], members: Mapping[str, set[str]], *, stake_wei: int
) -> dict[str, Any]:
    """The lab's metrics from a staked run's summary; `members` maps class → addresses
    (CLASSES; empty classes are left out). Detection truth is every non-honest member."""
    present = [c for c in CLASSES if members.get(c)]
    honest = set(members.get("honest", set()))
    bad = set().union(*(members[c] for c in present if c != "honest"))
    settle_gas = summary.get("settle_gas", {})
    rounds: list[dict[str, Any]] = []
    totals = {"tp": 0, "detected": 0, "ff": 0, "fs": 0, "rounds": 0}
    cum = {c: {"rewards": 0, "slashed": 0} for c in present}
    for r in summary["rounds"]:
        flagged = {p for p, why in r["flags"].items() if why}
        excluded = {e["participant"] for e in r["exclusions"]}
        slashed_wei: dict[str, int] = {}
        for s in r["slashes"]:
            slashed_wei[s["participant"]] = slashed_wei.get(s["participant"], 0) + int(s["amount"])
        detected = flagged | excluded | set(slashed_wei)
        tp = len(detected & bad)
        row: dict[str, Any] = {
            "round": r["round_id"],
            "accuracy": r["accuracy"],
            "test_loss": r.get("test_loss"),
            "backdoor_success": r.get("backdoor_success"),
            "detected": len(detected),
            "precision": _ratio(tp, len(detected)),
            "recall": _ratio(tp, len(bad)),
            "honest_false_flag_rate": _ratio(len(detected & honest), len(honest)),
            "honest_false_slash_rate": _ratio(len(set(slashed_wei) & honest), len(honest)),
        }
        for c in present:
            who = members[c]
            rew = sum(int(v) for p, v in r["rewards"].items() if p in who)
            sl = sum(v for p, v in slashed_wei.items() if p in who)
            cum[c]["rewards"] += rew
            cum[c]["slashed"] += sl
            row[f"{c}_rewards"] = _tok(rew)
            row[f"{c}_slashed"] = _tok(sl)
            row[f"{c}_net"] = _tok(rew - sl)
            row[f"{c}_net_per_member"] = _tok(cum[c]["rewards"] - cum[c]["slashed"]) / len(who)
        settle = settle_gas.get(str(r["round_id"]), {})
        row["gas_round"] = sum(int(v) for v in r["gas"].values())
        row["gas_settle"] = sum(int(v) for v in settle.values())
        row["gas_total"] = row["gas_round"] + row["gas_settle"]
        rounds.append(row)
        totals["tp"] += tp
        totals["detected"] += len(detected)
        totals["ff"] += len(detected & honest)
        totals["fs"] += len(set(slashed_wei) & honest)
        totals["rounds"] += 1

    final_stakes = summary.get("participants", {})
    classes: dict[str, Any] = {}
    for c in present:
        who = members[c]
        n = len(who)
        rew, sl = cum[c]["rewards"], cum[c]["slashed"]
        if final_stakes:
            change = sum(
                int(final_stakes[p]["stake"]) - stake_wei for p in who if p in final_stakes
            )
        else:
            change = -sl
        classes[c] = {
            "members": n,
            "rewards": _tok(rew),
            "rewards_per_member": _tok(rew) / n,
            "slashed": _tok(sl),
            "stake_change": _tok(change),
            "net": _tok(rew - sl),
            "net_per_member": _tok(rew - sl) / n,
        }
    nr, nh, nb = totals["rounds"], len(honest), len(bad)
    final_acc = rounds[-1]["accuracy"] if rounds else None
    honest_reward = classes.get("honest", {}).get("rewards_per_member")

    def reward_ratio(c: str) -> float | None:
        if c not in classes or not honest_reward:
            return None
        return classes[c]["rewards_per_member"] / honest_reward

    attack_class = next((c for c in ("attacker", "sybil") if c in classes), None)
    return {
        "rounds": rounds,
        "classes": classes,
        "final": {
            "accuracy": final_acc,
            "test_loss": rounds[-1]["test_loss"] if rounds else None,
            "backdoor_success": rounds[-1]["backdoor_success"] if rounds else None,
            "precision": _ratio(totals["tp"], totals["detected"]),
            "recall": _ratio(totals["tp"], nb * nr),
            "honest_false_flag_rate": _ratio(totals["ff"], nh * nr),
            "honest_false_slash_rate": _ratio(totals["fs"], nh * nr),
            "attacker_pnl": classes[attack_class]["net_per_member"] if attack_class else None,
            "attacker_reward_ratio": reward_ratio(attack_class) if attack_class else None,
            "honest_pnl": classes.get("honest", {}).get("net_per_member"),
            "free_rider_pnl": classes.get("free-rider", {}).get("net_per_member"),
            "free_rider_reward_ratio": reward_ratio("free-rider"),
            "gas_total": sum(r["gas_total"] for r in rounds),
        },
        "accounting_balanced": summary.get("accounting", {}).get("balanced"),
        "verified": all(v["ok"] for v in summary.get("verify", {}).values()),
    }


# -- a sweep ------------------------------------------------------------------------------------
def cell_name(values: Mapping[str, Any]) -> str:
    """`{"f": 1, "strategy": "krum"}` → `f=1__strategy=krum` (safe as a directory name)."""
    parts = [f"{k}={v}" for k, v in values.items()]
    return re.sub(r"[^A-Za-z0-9=._+-]", "_", "__".join(parts)) or "base"


def cells(
    scenario: Scenario, axes: Mapping[str, Iterable[Any]]
) -> list[tuple[str, dict, Scenario]]:
    """Every cell of the cartesian product: (name, axis values, scenario), all checked."""
    keys = list(axes)
    out = []
    for combo in itertools.product(*(list(axes[k]) for k in keys)):
        values = dict(zip(keys, combo, strict=True))
        s = scenario.with_values(**values)
        typed = {k: s.value_of(k) for k in keys}
        out.append((cell_name(typed), typed, s))
    names = [c[0] for c in out]
    if len(set(names)) != len(names):
        raise ScenarioError("two sweep cells share a name: repeated axis values?")
    return out


def _run_cell(scenario: dict[str, Any], cell_dir: str) -> str:
    simulate(Scenario.from_dict(scenario), cell_dir)
    return cell_dir


def sweep(
    scenario: Scenario,
    axes: Mapping[str, Iterable[Any]],
    out_dir: str | Path,
    workers: int = 1,
    *,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every cell of `axes`' cartesian product into `out_dir/CELL/` (skipping cells that
    have a result.json); `workers` > 1 runs cells in that many processes. Returns one entry
    per cell: name, axis values, directory, and whether it `ran` now."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = cells(scenario, axes)
    listing = [
        {"name": name, "values": values, "dir": str(out / name), "ran": False}
        for name, values, _ in todo
    ]
    (out / SWEEP).write_text(
        json.dumps(
            {
                "scenario": scenario.to_dict(),
                "axes": {k: [v[k] for _, v, _ in todo] for k in axes},
                "cells": [{"name": c["name"], "values": c["values"]} for c in listing],
            },
            indent=1,
        )
    )
    pending = [
        (i, s) for i, (_, _, s) in enumerate(todo) if not (out / todo[i][0] / RESULT).exists()
    ]
    bar = _Progress(len(todo), len(todo) - len(pending), enabled=progress)
    try:
        if workers <= 1 or len(pending) <= 1:
            for i, s in pending:
                simulate(s, listing[i]["dir"])
                listing[i]["ran"] = True
                bar.advance(listing[i]["name"])
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = multiprocessing.get_context("spawn")  # no forked chain/numba/thread state
            with ProcessPoolExecutor(min(workers, len(pending)), mp_context=ctx) as pool:
                futures = {
                    pool.submit(_run_cell, s.to_dict(), listing[i]["dir"]): i for i, s in pending
                }
                for fut in as_completed(futures):
                    i = futures[fut]
                    fut.result()
                    listing[i]["ran"] = True
                    bar.advance(listing[i]["name"])
    finally:
        bar.close()
    return listing


class _Progress:
    """A rich progress bar on a terminal, plain lines otherwise (or nothing)."""

    def __init__(self, total: int, done: int, *, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self._rich: Any = None
        if not enabled:
            return
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._rich = Progress(transient=False)
            self._rich.start()
            self._task = self._rich.add_task("sweep", total=total, completed=done)
        else:
            print(f"sweep: {total} cells, {done} already done", file=sys.stderr, flush=True)

    def advance(self, name: str) -> None:
        self.done += 1
        if self._rich is not None:
            self._rich.update(self._task, advance=1, description=name)
        elif self.enabled:
            print(f"sweep: [{self.done}/{self.total}] {name}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


def parse_axis(text: str) -> tuple[str, list[str]]:
    """`"f=1,2"` → ("f", ["1", "2"]) (values are typed by the scenario's keys)."""
    key, eq, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not eq or not key.strip() or not items:
        raise ScenarioError(f"axis {text!r}: expected KEY=V1,V2,…")
    return key.strip(), items


__all__ = ["cells", "derive", "parse_axis", "report", "simulate", "sweep"]
