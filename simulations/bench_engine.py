"""Engine benchmark: the same scenario through `flwr run` and through `InProcessGrid`.

    python -m simulations.bench_engine [--clients 20] [--rounds 10] [--short 2]
        [--attack sign-flip] [--attacker-fraction 0.2] [--strategy multi-krum] [--f 2]
        [--seed 0] [--repeat 1] [--audit] [--chain-off] [--out-dir .fedstake/bench/engine]

One scenario (`simulations.scenario.Scenario`: digits MLP, staked, embedded chain
`inprocess://`, the first 20 % of the clients sign-flipping, multi-krum) runs side by side
through both ways of running the reference app (`simulations.flower_app`):

* `flwr run` — Flower's Simulation Engine behind a private local SuperLink
  (`simulations.flwr_runner.FlwrRunner`); wall time measured around the subprocess (FAB
  build and install, Ray, ClientApp actors, the ServerApp);
* in-process — `InProcessGrid` in this process, no Ray: the same ServerApp `run`,
  ClientApp and mods; wall time measured around `run`.

Each engine runs the scenario twice, with `--short` and with `--rounds` rounds, after an
untimed 1-round warm-up (imports, data caches, the numba compile of the scoring kernels:
for `flwr run` once per installed FAB). The steady-state cost of a round is the
difference of the two walls over the difference of their rounds; the start-up is what
remains of the short run (SuperLink work, FAB, Ray and actor start-up for `flwr run`; the
chain's deploy and stakes for both). The per-round
decisions (valid set, absent, exclusions, scores, flags, rewards, slashes, aggregate
hash) and the per-round test accuracy of both engines are compared for both run lengths.
With `--repeat N` every timed run is repeated (short/long order alternating) and the walls
are medians. `--chain-off` (`staked=false`: the inner strategy alone, no chain) isolates
what the engines themselves cost; accuracy is then what is compared.

The closing audit (simulated claims, the accounting check and `verify` of every round) is
off unless `--audit`: it is the same server-side code on both engines, runs once after the
last round, and on the embedded chain its cost grows with the square of the rounds
(`verify` reads events, and eth-tester finds each log's receipt by scanning the chain), so
it would swamp the per-round figures.

It prints a Markdown table (for the README) headed by the command line that reproduces
it, and writes everything as JSON into `--out-dir` (`engine.json`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulations.bench_overhead import med, run_flwr
from simulations.flwr_runner import FlwrRunner
from simulations.scenario import Scenario

# What a round decided: the keys of a round in the app's summary that must agree between
# engines for the same seed (gas and timings may legitimately differ; accuracy must not,
# and `differences` compares it too).
DECISION_KEYS = (
    "round_id",
    "valid",
    "absent",
    "exclusions",
    "scores",
    "flags",
    "rewards",
    "slashes",
    "aggregate_hash",
)


def decisions(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per round, what the coordinator decided (JSON-normalised, so a summary read back
    from `summary-file` and one returned by `run` compare equal)."""
    rounds = json.loads(json.dumps(summary["rounds"], default=str))
    return [{k: r[k] for k in DECISION_KEYS} for r in rounds]


def _accuracy(summary: Mapping[str, Any]) -> dict[str, float]:
    return {str(r): float(a) for r, a in summary.get("accuracy", {}).items()}


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Where two runs' decisions (staked runs) and per-round test accuracy differ, as
    `round N: KEY` / `accuracy` lines (empty: identical)."""
    out = [] if _accuracy(a) == _accuracy(b) else ["accuracy"]
    if "rounds" not in a and "rounds" not in b:  # chain off: no decisions
        return out
    da, db = decisions(a), decisions(b)
    if len(da) != len(db):
        return [*out, f"{len(da)} rounds vs {len(db)}"]
    return out + [
        f"round {ra['round_id']}: {k}"
        for ra, rb in zip(da, db, strict=True)
        for k in DECISION_KEYS
        if ra[k] != rb[k]
    ]


def scenario_of(args: argparse.Namespace) -> Scenario:
    return Scenario(
        name="bench-engine",
        clients=args.clients,
        attack=args.attack,
        attacker_fraction=args.attacker_fraction,
        strategy=args.strategy,
        f=args.f,
        rounds=args.rounds,
        chain="inprocess://",
        seed=args.seed,
    )


def run_inprocess(cfg: dict[str, Any], clients: int) -> dict[str, Any]:
    """One in-process run of the app (quiet: Flower's log and the app's lines to stderr)."""
    from simulations.flower_app import client_app, run
    from simulations.inprocess_grid import InProcessGrid

    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.ERROR)
    load0 = os.getloadavg()[0]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            t0 = time.perf_counter()
            summary = run(InProcessGrid(client_app, clients, cfg), cfg)
            wall = time.perf_counter() - t0
    finally:
        flwr_logger.setLevel(level)
    return {"wall": wall, "load1": [load0, os.getloadavg()[0]], "summary": summary}


def conclude_seconds(summary: Mapping[str, Any]) -> float:
    """Mean seconds per round of the round engine's conclude (validation, aggregation,
    scoring, artifacts, chain): server-side work, the same on both engines."""
    rounds = summary.get("rounds", [])
    total = sum(float(v) for r in rounds for v in r.get("seconds", {}).values())
    return total / max(1, len(rounds))


def split(
    short: list[dict[str, Any]], long: list[dict[str, Any]], n_short: int, n_long: int
) -> dict[str, float]:
    """Steady-state seconds per round and start-up seconds from the (median) walls of
    short and long runs."""
    wall_short = med([r["wall"] for r in short])
    wall_long = med([r["wall"] for r in long])
    per_round = (wall_long - wall_short) / (n_long - n_short)
    return {
        "wall_short": wall_short,
        "wall_long": wall_long,
        "per_round": per_round,
        "startup": wall_short - n_short * per_round,
        "server_seconds_long": med([float(r["summary"].get("seconds", 0.0)) for r in long]),
        "conclude_per_round": med([conclude_seconds(r["summary"]) for r in long]),
    }


def report(result: dict[str, Any]) -> str:
    f, i = result["figures"]["flwr"], result["figures"]["inprocess"]
    sp = result["speedup"]
    same = result["identical"]
    sc = result["scenario"]
    chain = (
        "chain off (`staked=false`: the inner strategy alone)"
        if result["chain_off"]
        else f"staked on `{sc['chain']}`"
    )
    repeat = f", median of {result['repeat']}" if result["repeat"] > 1 else ""
    lines = [
        f"`{result['command']}`",
        "",
        f"{result['machine']}; {sc['clients']} clients, {result['attackers']} of them "
        f"attacking ({sc['attack']}), {sc['strategy']} f={sc['f']}, digits MLP, {chain}, seed "
        f"{sc['seed']}; runs of {result['short']} and {result['rounds']} rounds per engine "
        f"after an untimed warm-up{repeat}; 1-min load {result['load']}",
        "",
        "| | `flwr run` (Simulation Engine) | in-process (`InProcessGrid`) | speed-up |",
        "|---|---:|---:|---:|",
        f"| wall, {result['rounds']} rounds (s) | {f['wall_long']:.1f} | {i['wall_long']:.1f} | "
        f"{sp['wall_long']:.1f}× |",
        f"| wall, {result['short']} rounds (s) | {f['wall_short']:.1f} | {i['wall_short']:.1f} | "
        f"{sp['wall_short']:.1f}× |",
        f"| per round, steady state (s) | {f['per_round']:.3f} | {i['per_round']:.3f} | "
        f"**{sp['per_round']:.1f}×** |",
        f"| start-up (s) | {f['startup']:.1f} | {i['startup']:.1f} | {sp['startup']:.1f}× |",
        f"| ServerApp run, {result['rounds']} rounds (s, summary `seconds`) | "
        f"{f['server_seconds_long']:.1f} | {i['server_seconds_long']:.1f} | |",
        *(
            []
            if result["chain_off"]
            else [
                f"| of a round: the round engine's conclude (validation … chain; s) | "
                f"{f['conclude_per_round']:.3f} | {i['conclude_per_round']:.3f} | |"
            ]
        ),
        "",
        "Per round = (wall of the long run − wall of the short run) / (difference in rounds); "
        "start-up = the short run's wall − its rounds × per round. Closing audit "
        + ("included." if result["audit"] else "off (`--audit` to include it)."),
        "",
        (
            "Test accuracy per round"
            if result["chain_off"]
            else "Decisions per round (valid, absent, exclusions, scores, flags, rewards, "
            "slashes, aggregate hash) and test accuracy"
        )
        + " identical between the engines: "
        + (
            f"**yes** ({result['short']}- and {result['rounds']}-round runs)"
            if same["short"] and same["long"]
            else f"**no** — short: {same['short_diff']}, long: {same['long_diff']}"
        ),
    ]
    if f["startup"] < 0 or i["startup"] < 0:
        lines += [
            "",
            "**A negative start-up: the cost of a round grew with the rounds, so the "
            "per-round figure is not a steady state.**",
        ]
    warm = result["warmup"]
    lines += [
        "",
        f"Not in the figures: the untimed warm-ups (1 round, 3 clients) took "
        f"{warm['flwr']:.1f} s (`flwr run`, SuperLink start {result['superlink_start_s']:.1f} s "
        f"apart) and {warm['inprocess']:.1f} s (in-process).",
    ]
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    parts = ["python -m simulations.bench_engine"]
    parts += [f"--clients {args.clients}", f"--rounds {args.rounds}", f"--short {args.short}"]
    parts += [f"--attack {args.attack}", f"--attacker-fraction {args.attacker_fraction:g}"]
    parts += [f"--strategy {args.strategy}", f"--f {args.f}", f"--seed {args.seed}"]
    if args.repeat > 1:
        parts.append(f"--repeat {args.repeat}")
    if args.audit:
        parts.append("--audit")
    if args.chain_off:
        parts.append("--chain-off")
    parts.append(f"--out-dir {shlex.quote(args.out_dir)}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=10, help="rounds of the long run")
    p.add_argument("--short", type=int, default=2, help="rounds of the short run")
    p.add_argument("--attack", default="sign-flip")
    p.add_argument("--attacker-fraction", type=float, default=0.2)
    p.add_argument("--strategy", default="multi-krum")
    p.add_argument("--f", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--audit",
        action="store_true",
        help="include the closing audit (simulated claims, accounting, verify of every round)",
    )
    p.add_argument("--repeat", type=int, default=1, help="timed runs per engine and length")
    p.add_argument(
        "--chain-off",
        action="store_true",
        help="staked=false: the inner strategy alone (what the engines themselves cost)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per flwr run")
    p.add_argument("--out-dir", default=".fedstake/bench/engine")
    p.add_argument("--keep", action="store_true", help="keep summaries, logs and artifacts")
    args = p.parse_args(argv)
    if args.clients < 1 or args.repeat < 1 or not 1 <= args.short < args.rounds:
        p.error("--clients ≥ 1, --repeat ≥ 1 and 1 ≤ --short < --rounds")

    scenario = scenario_of(args)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fedstake-bench-engine-"))

    def cfg(tag: str, rounds: int, clients: int = args.clients) -> dict[str, Any]:
        s = scenario.with_values(rounds=rounds, clients=clients)
        return s.to_run_config(
            artifact_dir=str(work / "runs" / tag),
            summary_file=str(work / f"{tag}.json"),
            closing_audit=args.audit,
            staked=not args.chain_off,
        )

    result: dict[str, Any] = {
        "command": command_line(args),
        "scenario": scenario.to_dict(),
        "attackers": scenario.num_attackers,
        "rounds": args.rounds,
        "short": args.short,
        "audit": args.audit,
        "chain_off": args.chain_off,
        "repeat": args.repeat,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "warmup": {},
        "runs": {e: {"short": [], "long": []} for e in ("flwr", "inprocess")},
    }
    loads = [os.getloadavg()[0]]

    def note(engine: str, tag: str, out: dict[str, Any]) -> None:
        out["summary"].pop("verify", None)  # bulky
        result["runs"][engine][tag].append(out)
        loads.append(os.getloadavg()[0])
        print(f"{engine} {tag}: {out['wall']:.1f} s wall", file=sys.stderr, flush=True)

    def timed_runs() -> list[tuple[str, int, int]]:
        """(tag, rounds, i) of every timed run, short/long order alternating."""
        pair = [("short", args.short), ("long", args.rounds)]
        return [(t, r, i) for i in range(args.repeat) for t, r in (pair[::-1] if i % 2 else pair)]

    try:
        with FlwrRunner(work / "flwr") as runner:  # stops the SuperLink it started
            result["superlink_start_s"] = runner.start()
            warm = run_flwr(runner, cfg("flwr-warmup", 1, 3), 3, args.timeout, work / "w.log")
            result["warmup"]["flwr"] = warm["wall"]
            for tag, rounds, i in timed_runs():
                name = f"flwr-{tag}-{i}"
                out = run_flwr(
                    runner, cfg(name, rounds), args.clients, args.timeout, work / f"{name}.log"
                )
                note("flwr", tag, out)
        result["warmup"]["inprocess"] = run_inprocess(cfg("inprocess-warmup", 1, 3), 3)["wall"]
        for tag, rounds, i in timed_runs():
            out = run_inprocess(cfg(f"inprocess-{tag}-{i}", rounds), args.clients)
            note("inprocess", tag, out)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    runs = result["runs"]
    fig = {
        e: split(runs[e]["short"], runs[e]["long"], args.short, args.rounds)
        for e in ("flwr", "inprocess")
    }
    result["figures"] = fig
    result["speedup"] = {
        k: fig["flwr"][k] / fig["inprocess"][k] if fig["inprocess"][k] > 0 else float("inf")
        for k in ("wall_short", "wall_long", "per_round", "startup")
    }
    diff = {  # every flwr run against every in-process run of the same length
        tag: sorted(
            {
                d
                for a in runs["flwr"][tag]
                for b in runs["inprocess"][tag]
                for d in differences(a["summary"], b["summary"])
            }
        )
        for tag in ("short", "long")
    }
    result["identical"] = {
        "short": not diff["short"],
        "long": not diff["long"],
        "short_diff": diff["short"],
        "long_diff": diff["long"],
    }
    result["load"] = f"{min(loads):.1f}–{max(loads):.1f}"
    text = report(result)
    print(text)
    (out_dir / "engine.json").write_text(
        json.dumps({**result, "markdown": text}, indent=2, default=str)
    )
    (out_dir / "engine.md").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
