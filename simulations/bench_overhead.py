"""Overhead benchmark: the reference Flower App with the chain off vs on (not a test).

    python -m simulations.bench_overhead [--clients 20] [--rounds 10] [--repeat 2]
        [--engine flwr|inprocess] [--chain anvil://] [--out FILE.json]

Both configurations run the same app (`simulations.flower_app`), digits MLP, seed and
inner strategy (multi-krum, f=2), honest clients; they differ only in `staked`:

* off — `staked=false`: the inner strategy alone, no chain;
* on  — `staked=true chain=anvil://`: identify, open, validate, score, artifacts,
  finalize, provenance, settle and claims every round, setup (deploy + stakes) and the
  closing accounting + `verify` of every round included.

`--engine flwr` launches `flwr run . --stream` per run; the wall time is measured around
the subprocess (FAB build, Ray and ClientApp start-up included) and the ServerApp's own
`seconds` come from the summary. One local SuperLink serves every run: this script's own
(private FLWR_HOME and ports, started in this environment so the ServerApp finds the
pinned anvil), stopped by pid at the end; anyone else's SuperLink is left alone.
`--engine inprocess` runs `InProcessGrid` in this process (no Ray) and times every phase
(client SGD, client apps, identify, open, eligibility, conclude, settle + claims, setup,
closing) plus each Ledger call and JSON-RPC method. Off/on runs alternate (ABBA) to spread
drift over both; figures are medians over `--repeat`, after an untimed 1-round staked
warm-up (SuperLink start, imports, data caches, numba compile of the scoring kernels).

It prints Markdown tables (for the README) headed by the command line that reproduces
them, and writes everything as JSON with `--out`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simulations.flwr_runner import FlwrRunner

CONCLUDE_PARTS = ("validation", "aggregation", "scoring", "artifacts", "chain")
TARGET_PCT = 15.0


# -- run configs ----------------------------------------------------------------------------
def configs(args: argparse.Namespace, work: Path, tag: str) -> dict[str, dict[str, Any]]:
    """The two run configs (overrides of the app's defaults), identical but `staked`."""
    common = {
        "num-server-rounds": args.rounds,
        "strategy": args.strategy,
        "f": args.f,
        "seed": args.seed,
        "artifact-dir": str(work / "runs"),
    }
    return {
        "off": {**common, "staked": False, "summary-file": str(work / f"{tag}-off.json")},
        "on": {
            **common,
            "staked": True,
            "chain": args.chain,
            "closing-audit": args.audit,
            "summary-file": str(work / f"{tag}-on.json"),
        },
    }


# -- in-process profiling --------------------------------------------------------------------
class Profile:
    """Exclusive wall time per named section (a nested section is not counted twice),
    plus the outermost Ledger calls and every JSON-RPC request, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.ledger_seconds: dict[str, float] = defaultdict(float)
        self.ledger_calls: Counter[str] = Counter()
        self.rpc_seconds: dict[str, float] = defaultdict(float)
        self.rpc_calls: Counter[str] = Counter()
        self._stack: list[list[Any]] = []
        self._ledger_depth = 0

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        self._stack.append([name, 0.0])
        try:
            yield
        finally:
            _, child = self._stack.pop()
            total = time.perf_counter() - t0
            self.seconds[name] += total - child
            self.calls[name] += 1
            if self._stack:
                self._stack[-1][1] += total

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with self.section(name):
                return fn(*a, **k)

        return wrapper

    def ledger_timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            if self._ledger_depth:
                return fn(*a, **k)
            self._ledger_depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self._ledger_depth -= 1
                self.ledger_seconds[name] += time.perf_counter() - t0
                self.ledger_calls[name] += 1

        return wrapper

    def rpc_timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(provider: Any, method: Any, params: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(provider, method, params)
            finally:
                self.rpc_seconds[str(method)] += time.perf_counter() - t0
                self.rpc_calls[str(method)] += 1

        return wrapper


@contextlib.contextmanager
def instrumented(prof: Profile) -> Iterator[None]:
    """Wrap the app's and the federation's phases for one in-process run; restore after."""
    import inspect

    from web3 import HTTPProvider

    import simulations.flower_app as app
    from federation.engine import RoundEngine
    from federation.flower.strategy import StakedStrategy
    from federation.ledger import Ledger
    from simulations.inprocess_grid import InProcessGrid

    saved: list[tuple[Any, str, Any]] = []

    def patch(obj: Any, attr: str, new: Any) -> None:
        saved.append((obj, attr, obj.__dict__[attr] if attr in vars(obj) else None))
        setattr(obj, attr, new)

    def build_strategy(*a: Any, **k: Any) -> Any:  # the chain-off run's inner strategy
        strategy = original_build(*a, **k)
        strategy.aggregate_train = prof.timed("aggregation", strategy.aggregate_train)
        return strategy

    original_build = app.build_strategy
    patch(app, "build_strategy", build_strategy)
    patch(app, "local_training", prof.timed("client SGD (train)", app.local_training))
    patch(app, "evaluate", prof.timed("evaluation (clients + central)", app.evaluate))
    patch(
        app, "staked_federation", prof.timed("setup: anvil, deploy, stake", app.staked_federation)
    )
    patch(app, "_closing", prof.timed("closing: accounting + verify", app._closing))
    patch(
        InProcessGrid,
        "send_and_receive",
        prof.timed("client apps: mods, signing, messages", InProcessGrid.send_and_receive),
    )
    patch(StakedStrategy, "identify", prof.timed("identify (bindings)", StakedStrategy.identify))
    patch(
        StakedStrategy,
        "eligible_nodes",
        prof.timed("chain: eligibility checks", StakedStrategy.eligible_nodes),
    )
    patch(
        StakedStrategy, "_after_finalize", prof.timed("chain: warp", StakedStrategy._after_finalize)
    )
    patch(StakedStrategy, "settle", prof.timed("chain: settle + claims", StakedStrategy.settle))
    patch(RoundEngine, "open_round", prof.timed("chain: open round", RoundEngine.open_round))
    patch(RoundEngine, "conclude", prof.timed("conclude", RoundEngine.conclude))
    for name, member in inspect.getmembers(Ledger):
        raw = inspect.getattr_static(Ledger, name)
        if name.startswith("_") or not inspect.isfunction(raw) or not inspect.isfunction(member):
            continue  # static/class methods, properties, private helpers
        owner = next(c for c in Ledger.__mro__ if name in vars(c))
        if owner is Ledger:
            patch(Ledger, name, prof.ledger_timed(name, raw))
        else:  # defined on a mixin: shadow it on Ledger, restore by deleting
            saved.append((Ledger, name, None))
            setattr(Ledger, name, prof.ledger_timed(name, raw))
    patch(HTTPProvider, "make_request", prof.rpc_timed(HTTPProvider.make_request))
    try:
        yield
    finally:
        for obj, attr, old in reversed(saved):
            if old is None:
                with contextlib.suppress(AttributeError):
                    delattr(obj, attr)
            else:
                setattr(obj, attr, old)


def run_inprocess(cfg_over: dict[str, Any], clients: int) -> dict[str, Any]:
    from federation.flower.settings import run_config
    from simulations.flower_app import client_app, run
    from simulations.inprocess_grid import InProcessGrid

    cfg = run_config(**{k.replace("-", "_"): v for k, v in cfg_over.items()})
    prof = Profile()
    load0 = os.getloadavg()[0]
    with instrumented(prof), contextlib.redirect_stdout(sys.stderr):  # keep stdout the tables
        t0 = time.perf_counter()
        summary = run(InProcessGrid(client_app, clients, cfg), cfg)
        wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "load1": [load0, os.getloadavg()[0]],
        "summary": summary,
        "phases": dict(prof.seconds),
        "phase_calls": dict(prof.calls),
        "ledger": {k: [prof.ledger_calls[k], v] for k, v in prof.ledger_seconds.items()},
        "rpc": {k: [prof.rpc_calls[k], v] for k, v in prof.rpc_seconds.items()},
    }


# -- flwr run ---------------------------------------------------------------------------------
def run_flwr(
    runner: FlwrRunner, cfg: dict[str, Any], clients: int, timeout: float, log: Path
) -> dict[str, Any]:
    load0 = os.getloadavg()[0]
    wall = runner.run(cfg, clients, log, timeout)
    return {
        "wall": wall,
        "load1": [load0, os.getloadavg()[0]],
        "summary": json.loads(Path(cfg["summary-file"]).read_text()),
        "log": str(log),
    }


# -- figures -----------------------------------------------------------------------------------
def round_parts(summary: dict[str, Any]) -> dict[str, float]:
    """Server-side seconds of every round's conclude, summed over the rounds."""
    out = dict.fromkeys(CONCLUDE_PARTS, 0.0)
    for r in summary.get("rounds", []):
        for k, v in r.get("seconds", {}).items():
            out[k] = out.get(k, 0.0) + float(v)
    return out


def gas_per_round(summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    per: dict[str, list[int]] = defaultdict(list)
    for r in summary.get("rounds", []):
        for k in ("open", "finalize", "provenance"):
            per[k].append(int(r.get("gas", {}).get(k, 0)))
    for g in summary.get("settle_gas", {}).values():
        per["settle"].append(int(g.get("settle", 0)))
        per["claims"].append(int(g.get("claims", 0)))
    rounds = max(1, len(summary.get("rounds", [])))
    out = {
        k: {"mean": sum(v) / rounds, "min": min(v), "max": max(v), "n": len(v)}
        for k, v in per.items()
        if v
    }
    total = sum(sum(v) for v in per.values())
    out["total"] = {"mean": total / rounds, "min": 0, "max": 0, "n": rounds}
    return out


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def median_dict(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for d in dicts for k in d}
    return {k: med([d.get(k, 0.0) for d in dicts]) for k in keys}


def split_rows(runs: list[dict[str, Any]], engine: str) -> list[tuple[str, float]]:
    """(row, median seconds) of one configuration; rows sum to its median wall."""
    wall = med([r["wall"] for r in runs])
    parts = median_dict([round_parts(r["summary"]) for r in runs])
    rows: list[tuple[str, float]] = []
    if engine == "inprocess":
        phases = median_dict([r["phases"] for r in runs])
        conclude = phases.pop("conclude", 0.0)
        ordered = [
            "client SGD (train)",
            "client apps: mods, signing, messages",
            "evaluation (clients + central)",
            "identify (bindings)",
        ]
        rows += [(k, phases.pop(k, 0.0)) for k in ordered]
        if conclude or not phases.get("aggregation"):
            rows.append(("server: validation + hashing", parts["validation"]))
            rows.append(("server: aggregation (inner strategy)", parts["aggregation"]))
            rows.append(("server: scoring", parts["scoring"]))
            rows.append(("server: artifacts", parts["artifacts"]))
            rows.append(("chain: stakes read, finalize, provenance", parts["chain"]))
            rest = conclude - sum(parts.values())
            rows.append(("server: results, evidence, manifest, journal", rest))
            phases.pop("aggregation", None)
        else:
            rows.append(("server: aggregation (inner strategy)", phases.pop("aggregation")))
        rows += sorted(phases.items())
        rows.append(("other (Flower loop, model copies, grid)", wall - sum(v for _, v in rows)))
    else:
        server = med([float(r["summary"].get("seconds", 0.0)) for r in runs])
        rows.append(("flwr start-up: SuperLink, Ray, FAB (wall − ServerApp run)", wall - server))
        rows.append(("server: validation + hashing", parts["validation"]))
        rows.append(("server: aggregation (inner strategy, staked only)", parts["aggregation"]))
        rows.append(("server: scoring", parts["scoring"]))
        rows.append(("server: artifacts", parts["artifacts"]))
        rows.append(("chain: stakes read, finalize, provenance", parts["chain"]))
        rows.append(
            (
                "rest of the ServerApp run: ClientApps (Ray actors start, training, "
                "signing), messaging, evaluation; on: + setup, identify, open, "
                "eligibility, settle + claims, verify",
                server - sum(parts.values()),
            )
        )
    return rows


def fmt_s(v: float) -> str:
    return f"{v:.2f}"


def report(result: dict[str, Any]) -> str:
    engine = result["engine"]
    off, on = result["runs"]["off"], result["runs"]["on"]
    w_off, w_on = med([r["wall"] for r in off]), med([r["wall"] for r in on])
    extra = 100.0 * (w_on - w_off) / w_off
    result["figures"] = {"wall_off": w_off, "wall_on": w_on, "extra_pct": extra}
    lines = [
        f"`{result['command']}`",
        "",
        f"{result['machine']}; engine {engine}; {result['clients']} clients, "
        f"{result['rounds']} rounds, {result['strategy']} f={result['f']}, "
        f"digits MLP, seed {result['seed']}, honest; median of {result['repeat']}; "
        f"1-min load {result['load']}",
        "",
        "| | chain off (`staked=false`) | chain on (`staked=true`, "
        f"`{result['chain']}`) | extra | target ≤ {TARGET_PCT:.0f} % |",
        "|---|---:|---:|---:|:-:|",
        f"| wall time (s) | {w_off:.1f} | {w_on:.1f} | {w_on - w_off:+.1f} s = "
        f"{extra:+.1f} % | {'met' if extra <= TARGET_PCT else 'missed'} |",
    ]
    if engine == "flwr":
        s_off = med([float(r["summary"]["seconds"]) for r in off])
        s_on = med([float(r["summary"]["seconds"]) for r in on])
        lines.append(
            f"| ServerApp run (s, summary `seconds`) | {s_off:.1f} | {s_on:.1f} | "
            f"{s_on - s_off:+.1f} s = {100 * (s_on - s_off) / s_off:+.1f} % | |"
        )
    lines.append(
        f"| wall per round (s) | {w_off / result['rounds']:.2f} | {w_on / result['rounds']:.2f} "
        f"| {(w_on - w_off) / result['rounds']:+.2f} | |"
    )
    if engine == "inprocess":
        lines += [
            "",
            "In-process the chain-off run has no SuperLink, Ray or serialisation and the digits "
            "MLP trains in milliseconds, so this % is not the one to hold against the target "
            "(`--engine flwr` is); the split below says where the chain-on time goes.",
        ]
    rows_off = dict(split_rows(off, engine))
    rows_on = split_rows(on, engine)
    result["split"] = {"off": rows_off, "on": dict(rows_on)}
    lines += [
        "",
        "Where the time goes (s, whole run; medians, so columns sum to the wall time "
        "only approximately):",
        "",
        "| part | chain off | chain on | on, per round | share of on |",
        "|---|---:|---:|---:|---:|",
    ]
    seen = set()
    for name, v in rows_on + [(k, 0.0) for k in rows_off if k not in dict(rows_on)]:
        if name in seen:
            continue
        seen.add(name)
        lines.append(
            f"| {name} | {fmt_s(rows_off.get(name, 0.0))} | {fmt_s(v)} | "
            f"{v / result['rounds']:.3f} | {100 * v / w_on:.1f} % |"
        )
    lines.append(
        f"| **wall** | **{w_off:.2f}** | **{w_on:.2f}** | {w_on / result['rounds']:.3f} | |"
    )

    gas = gas_per_round(on[0]["summary"])
    result["gas_per_round"] = gas
    lines += [
        "",
        "Gas per round (chain on; identical across repeats):",
        "",
        "| call | gas / round |",
    ]
    lines.append("|---|---:|")
    names = {
        "open": "openRound",
        "finalize": "finalizeRound",
        "provenance": "recordVersion (provenance)",
        "settle": "settleRound",
        "claims": f"claims ({result['clients']} pull payments)",
        "total": "**total**",
    }
    for k, label in names.items():
        if k in gas:
            g = gas[k]
            spread = "" if g["min"] == g["max"] or k == "total" else f" ({g['min']:,}–{g['max']:,})"
            lines.append(f"| {label} | {g['mean']:,.0f}{spread} |")

    warm = result.get("warmup")
    if warm:
        lines += [
            "",
            f"Not in the medians: the untimed warm-up ({warm['what']}) took "
            f"{warm['wall']:.1f} s, of which scoring {warm['seconds'].get('scoring', 0):.2f} s "
            "(numba compiles the scoring kernels once per code location: for flwr, once per "
            "installed FAB).",
        ]
    if engine == "inprocess":
        ledger = median_calls([r["ledger"] for r in on])
        rpc = median_calls([r["rpc"] for r in on])
        result["chain_calls"] = {"ledger": ledger, "rpc": rpc}
        lines += [
            "",
            "Chain calls of the chain-on run (outermost Ledger calls; setup and verify included):",
            "",
            "| Ledger call | calls | s | ms/call |",
            "|---|---:|---:|---:|",
        ]
        for name, (n, s) in sorted(ledger.items(), key=lambda kv: -kv[1][1])[:14]:
            lines.append(f"| {name} | {n:.0f} | {s:.2f} | {1000 * s / max(1, n):.1f} |")
        lines += ["", "| JSON-RPC method | requests | s | ms/request |", "|---|---:|---:|---:|"]
        for name, (n, s) in sorted(rpc.items(), key=lambda kv: -kv[1][1])[:10]:
            lines.append(f"| {name} | {n:.0f} | {s:.2f} | {1000 * s / max(1, n):.1f} |")
    return "\n".join(lines)


def median_calls(dicts: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    keys = {k for d in dicts for k in d}
    return {
        k: [
            med([d.get(k, [0, 0.0])[0] for d in dicts]),
            med([d.get(k, [0, 0.0])[1] for d in dicts]),
        ]
        for k in keys
    }


# -- main ------------------------------------------------------------------------------------
def command_line(args: argparse.Namespace) -> str:
    parts = ["python -m simulations.bench_overhead", f"--engine {args.engine}"]
    parts += [f"--clients {args.clients}", f"--rounds {args.rounds}", f"--repeat {args.repeat}"]
    parts += [f"--chain {shlex.quote(args.chain)}"]
    if (args.strategy, args.f, args.seed) != ("multi-krum", 2, 0):
        parts += [f"--strategy {args.strategy}", f"--f {args.f}", f"--seed {args.seed}"]
    if args.audit:
        parts.append("--audit")
    if args.out:
        parts.append(f"--out {shlex.quote(args.out)}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--engine", choices=("flwr", "inprocess"), default="flwr")
    p.add_argument("--chain", default="anvil://")
    p.add_argument("--strategy", default="multi-krum")
    p.add_argument("--f", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--audit",
        action="store_true",
        help="include the closing audit (simulated claims, accounting, verify of every round)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per flwr run")
    p.add_argument("--out", default="", help="write the JSON result here")
    p.add_argument("--keep", action="store_true", help="keep summaries, logs and artifacts")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.clients < 1 or args.repeat < 1:
        p.error("--clients, --rounds and --repeat must be ≥ 1")

    work = Path(tempfile.mkdtemp(prefix="fedstake-bench-"))
    result: dict[str, Any] = {
        "command": command_line(args),
        "engine": args.engine,
        "clients": args.clients,
        "rounds": args.rounds,
        "repeat": args.repeat,
        "chain": args.chain,
        "strategy": args.strategy,
        "f": args.f,
        "seed": args.seed,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "runs": {"off": [], "on": []},
        "superlink": {},
    }
    loads = [os.getloadavg()[0]]
    runner = FlwrRunner(work) if args.engine == "flwr" else None
    try:
        # Not timed: the SuperLink's start, imports, data caches and the numba compile of
        # the scoring kernels (cached on disk next to the code: for flwr, in the installed
        # FAB, so the first staked run of every new FAB pays it; reported apart).
        warm = configs(args, work, "warmup")
        if runner is not None:
            result["superlink_start_s"] = runner.start()
            out = run_flwr(
                runner,
                warm["on"] | {"num-server-rounds": 1},
                3,
                args.timeout,
                work / "warmup-on.log",
            )
        else:
            run_inprocess(warm["off"] | {"num-server-rounds": 1}, 3)
            out = run_inprocess(warm["on"] | {"num-server-rounds": 1}, 3)
        result["warmup"] = {
            "what": "chain on, 1 round, 3 clients",
            "wall": out["wall"],
            "seconds": round_parts(out["summary"]),
        }
        for i in range(args.repeat):
            order = ("off", "on") if i % 2 == 0 else ("on", "off")
            for name in order:
                cfg = configs(args, work, f"r{i}")[name]
                if runner is None:
                    out = run_inprocess(cfg, args.clients)
                else:
                    log = work / f"r{i}-{name}.log"
                    out = run_flwr(runner, cfg, args.clients, args.timeout, log)
                verify = out["summary"].pop("verify", {})  # bulky: keep only whether all ok
                out["verified"] = all(v.get("ok") for v in verify.values())
                result["runs"][name].append(out)
                loads.append(os.getloadavg()[0])
                print(
                    f"[{i + 1}/{args.repeat}] chain {name}: {out['wall']:.1f} s wall "
                    f"(1-min load {out['load1'][0]:.1f} → {out['load1'][1]:.1f})",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if runner is not None:
            result["superlink"] = runner.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["load"] = f"{min(loads):.1f}–{max(loads):.1f}"
    text = report(result)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({**result, "markdown": text}, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
