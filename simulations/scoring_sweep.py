"""Side-by-side scoring sweep on real training (issue #12).

For each cell of a grid (attack × honest client momentum × data split) this simulates ONE
federated training trajectory on scikit-learn's digits with real local training, and
scores every round of it with several scoring configurations through
`strategies.scoring_settle.decide_round`, accumulating the economics (rewards, slashes,
P&L) per class of participant. Scoring does not influence the aggregate (the aggregate is
Multi-Krum with f = the number of attackers; scoring only decides rewards and slashes), so
scoring the same trajectory several ways is an exact side-by-side comparison.

    make scoring-sweep            # the full default grid into .fedstake/lab/scoring-sweep
    .venv/bin/python -m simulations.scoring_sweep --out lab/scoring-sweep --workers 2
    .venv/bin/python -m simulations.scoring_sweep --out /tmp/s --attacks none,sign-flip \\
        --momentum 0 --splits iid --rounds 10 --scorers legacy,peer

Participants: partitions 0…A−1 attack (the `--attacks` axis; `none` = they train
honestly), the next F are free-riders (the registry's `free-rider` craft: the global model
plus N(0, 1e-6²) noise), the rest are honest. Everything the lab's reference app does per
participant is replicated in-process (`simulations.flower_behaviours`): honest local
training is `simulations.models.local_training`; an attacker's randomness is one generator
seeded by (seed, round, partition), used by its data poisoning and then its craft; an
omniscient attacker's `RoundView` has n = every participant, its colluders in `group`,
the honest partitions in `honest_ids`, and the collusion channel returns the round's honest
updates (what the honest clients send). Every sent update goes through the model's float32
arrays, as on the wire.

Honest client momentum β (Karimireddy, He & Jaggi, "Learning from History for Byzantine
Robust Optimization", ICML 2021): each honest client, and each attacker's own training,
keeps a buffer across rounds, m ← β·m + (1 − β)·Δ_fresh (m = 0 before round 1), and sends m.
β = 0 is plain local SGD.

Defaults: 25 clients (5 attackers, 2 free-riders, 18 honest), 30 rounds, 2 local epochs of
minibatch SGD (batch 32) at lr 0.5 (as simulations/scenarios/lab-sweep.toml; honest runs
reach ≈ 0.95 test accuracy at β = 0 and 0.88-0.93 at β = 0.9), the mlp, seed 1. Multi-Krum's
f is the configured number of attackers in every cell, `none` included.

The server's validation ("root") set, as in FLTrust (Cao et al., NDSS 2021): the first
`root_size` examples of the held-out split (a seeded random sample that no client holds:
the coordinator's `validation_set`); accuracy is measured on the rest of the held-out split,
disjoint from it. Each round the server trains a copy of the global model on the root set
with the clients' local procedure (no momentum) and passes its delta as `reference=` to
`decide_round`, when `decide_round` has that keyword (`inspect.signature`).

Scorers (`--scorers`): ``legacy`` = ScoringConfig(method="legacy") without the reference,
``server`` = ScoringConfig() with the reference, ``peer`` = ScoringConfig() without it.
Each keeps its own SettlementState and its own stakes (a slash lowers the stake of later
rounds); `PolicyConfig()` defaults. Every participant stakes 100 tokens, each round's budget
is 100 tokens.

Outputs in `--out`: one `cells/CELL.json` per cell (a cell whose file exists with every
requested scorer is not run again: an interrupted sweep resumes), `sweep.json` (the
configuration and every command line that ran it), `summary.csv` and `SWEEP.md`
(`simulations.scoring_sweep_report`). A cell is `simulations.scoring_sweep_cell`; the
scorers' books are `simulations.scoring_sweep_books`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulations.scoring_sweep_books import SCORERS
from simulations.scoring_sweep_cell import (
    Attack,
    Cell,
    SweepConfig,
    parse_attack,
    parse_split,
    simulate_cell,
)

# The literal omniscient attacks and their evasive ("own") variants; ipm with ε = 0.1.
DEFAULT_ATTACKS = (
    "none",
    "sign-flip",
    "noise",
    "label-flip",
    "scaling",
    "lazy",
    "alie:evade=own",
    "ipm:eps=0.1:evade=own",
    "min-max:evade=own",
    "min-sum:evade=own",
    "fang-krum",
    "sybil",
    "mimic",
    "alie",
    "ipm:eps=0.1",
    "min-max",
    "min-sum",
)
DEFAULT_MOMENTUM = (0.0, 0.9)
DEFAULT_SPLITS = ("iid", "dir0.3")
CELLS_DIR = "cells"
SWEEP_JSON = "sweep.json"


def grid(
    attacks: Sequence[Attack], momenta: Sequence[float], alphas: Sequence[float | None]
) -> list[Cell]:
    out = [Cell(a, m, s) for m in momenta for s in alphas for a in attacks]
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError("two cells share a name: a value repeated on an axis?")
    return out


def check_scorers(names: Sequence[str]) -> tuple[str, ...]:
    bad = [s for s in names if s not in SCORERS]
    if bad or not names:
        raise ValueError(f"unknown scorer(s) {bad}; known: {', '.join(SCORERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a scorer is repeated: {list(names)}")
    return tuple(names)


# -- the sweep ------------------------------------------------------------------------------------
def cell_path(out: Path, cell: Cell) -> Path:
    return out / CELLS_DIR / f"{cell.name}.json"


def is_done(out: Path, cell: Cell, scorers: Sequence[str]) -> bool:
    path = cell_path(out, cell)
    if not path.exists():
        return False
    try:
        have = json.loads(path.read_text())["scorers"]
    except (ValueError, KeyError):
        return False
    return all(s in have for s in scorers)


def _write_cell(out: Path, cell: Cell, result: Mapping[str, Any]) -> None:
    path = cell_path(out, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)  # the file appears only once the cell is complete


def _worker_init() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def _run_cell(cfg: dict[str, Any], cell: Cell, scorers: tuple[str, ...], out: str) -> dict:
    result = simulate_cell(SweepConfig(**cfg), cell, scorers)
    _write_cell(Path(out), cell, result)
    return result


def _check_config(out: Path, cfg: SweepConfig, command: str) -> None:
    """Refuse to mix cells of another configuration into `out`; record the command."""
    path = out / SWEEP_JSON
    doc: dict[str, Any] = {"config": asdict(cfg), "commands": []}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") != asdict(cfg):
            diff = {
                k: (old.get("config", {}).get(k), v)
                for k, v in asdict(cfg).items()
                if old.get("config", {}).get(k) != v
            }
            raise ValueError(f"{out} holds a sweep of another configuration {diff}; use --out")
        doc = old
    doc["commands"].append(command)
    path.write_text(json.dumps(doc, indent=1))


def _progress_line(i: int, total: int, cell: Cell, r: Mapping[str, Any]) -> str:
    parts = [f"{s} {m['seconds']:.1f}" for s, m in r["scorers"].items()]
    return (
        f"[{i}/{total}] {cell.name}: acc {r['final_accuracy']:.3f}  {r['seconds']:.1f} s "
        f"(training {r['train_seconds']:.1f}, " + ", ".join(parts) + ")"
    )


def sweep(
    cfg: SweepConfig,
    cells: Sequence[Cell],
    scorers: Sequence[str],
    out: str | Path,
    *,
    workers: int = 2,
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every cell not yet done into `out` (resumable), then write summary.csv and
    SWEEP.md. Returns one entry per cell: name and whether it `ran` now."""
    from simulations.scoring_sweep_report import write_report

    cfg.check()
    scorers = check_scorers(scorers)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    _check_config(outp, cfg, command)
    pending = [c for c in cells if not is_done(outp, c, scorers)]
    say(f"scoring sweep: {len(cells)} cells, {len(cells) - len(pending)} already done")
    ran: set[str] = set()
    t0 = time.perf_counter()
    if workers <= 1 or len(pending) <= 1:
        for i, c in enumerate(pending, 1):
            r = _run_cell(asdict(cfg), c, scorers, str(outp))
            ran.add(c.name)
            say(_progress_line(i, len(pending), c, r))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(workers, len(pending)), mp_context=ctx, initializer=_worker_init
        ) as pool:
            futures = {
                pool.submit(_run_cell, asdict(cfg), c, scorers, str(outp)): c for c in pending
            }
            for i, fut in enumerate(as_completed(futures), 1):
                c = futures[fut]
                r = fut.result()
                ran.add(c.name)
                say(_progress_line(i, len(pending), c, r))
    if pending:
        say(f"scoring sweep: {len(pending)} cells in {time.perf_counter() - t0:.1f} s")
    write_report(outp, cells, scorers, command=command)
    return [{"name": c.name, "ran": c.name in ran} for c in cells]


# -- command line ---------------------------------------------------------------------------------
def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    d = SweepConfig()
    p = argparse.ArgumentParser(
        prog="python -m simulations.scoring_sweep",
        description="Score one real training trajectory per cell with several scorers "
        "side by side (issue #12).",
    )
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.add_argument("--attacks", default=",".join(DEFAULT_ATTACKS), help="NAME[:PARAM=VALUE…],…")
    p.add_argument("--attack-params", default="", help="defaults as ATTACK.PARAM=VALUE,…")
    p.add_argument("--scorers", default=",".join(SCORERS), help="legacy,server,peer")
    p.add_argument("--momentum", default="0,0.9", help="honest client momentum β values")
    p.add_argument("--splits", default="iid,dir0.3", help="iid and/or dirALPHA values")
    p.add_argument("--clients", type=int, default=d.clients)
    p.add_argument("--attackers", type=int, default=d.attackers)
    p.add_argument("--free-riders", type=int, default=d.free_riders)
    p.add_argument("--rounds", type=int, default=d.rounds)
    p.add_argument("--epochs", type=int, default=d.epochs, help="local epochs")
    p.add_argument("--lr", type=float, default=d.lr, help="local SGD learning rate")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--root-size", type=int, default=d.root_size, help="server validation set")
    p.add_argument("--workers", type=int, default=2, help="cells run in this many processes")
    p.add_argument("--report-only", action="store_true", help="re-render SWEEP.md, run nothing")
    return p.parse_args(argv)


def plan(args: argparse.Namespace) -> tuple[SweepConfig, list[Cell], tuple[str, ...]]:
    """Everything the command line asks for, checked before anything runs (ValueError)."""
    from simulations.attacks import parse_attack_params

    cfg = SweepConfig(
        clients=args.clients,
        attackers=args.attackers,
        free_riders=args.free_riders,
        rounds=args.rounds,
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        root_size=args.root_size,
    )
    cfg.check()
    scorers = check_scorers([s.strip() for s in args.scorers.split(",") if s.strip()])
    base = parse_attack_params(args.attack_params)
    attacks = [parse_attack(t, base) for t in args.attacks.split(",") if t.strip()]
    if not attacks:
        raise ValueError("no attack given")
    momenta = _floats(args.momentum)
    if not momenta or any(not 0.0 <= m < 1.0 for m in momenta):
        raise ValueError(f"momentum values must be in [0, 1): {args.momentum!r}")
    alphas = [parse_split(s) for s in args.splits.split(",") if s.strip()]
    if not alphas:
        raise ValueError("no split given")
    return cfg, grid(attacks, momenta, alphas), scorers


def main(argv: Sequence[str] | None = None) -> int:
    import shlex

    args = parse_args(argv)
    try:
        cfg, cells, scorers = plan(args)
    except ValueError as exc:
        print(f"scoring sweep: {exc}", file=sys.stderr)
        return 2
    words = list(sys.orig_argv) if argv is None else ["python", "-m", __name__, *argv]
    command = " ".join(shlex.quote(w) for w in words)
    if args.report_only:
        from simulations.scoring_sweep_report import write_report

        ran = Path(args.out) / SWEEP_JSON  # the report names the command that ran the cells
        if ran.exists() and json.loads(ran.read_text()).get("commands"):
            command = json.loads(ran.read_text())["commands"][-1]
        write_report(Path(args.out), cells, scorers, command=command)
        return 0
    sweep(cfg, cells, scorers, args.out, workers=args.workers, command=command)
    print(Path(args.out) / "SWEEP.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
