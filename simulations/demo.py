"""`make demo`: a staked Flower federation through `flwr run`, on an embedded chain.

Ten participants train a digits MLP through Flower's Simulation Engine; five misbehave:
one flips its update's sign, one free-rides, one sends NaNs, one changes its update after
signing it, one forges its signature. The ServerApp opens every round on an in-process
chain, validates the signed replies, aggregates with Multi-Krum, scores, finalizes
rewards and slashes (each slash carrying the participant's own signed commitment), lets
the challenge window pass, settles, claims, and finally checks the token accounting to
the wei and re-verifies every round from the chain and the artifact store. The same
participants and seeds then run under plain FedAvg with no chain, for comparison.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from federation.flower.settings import TOKEN, run_config
from federation.keys import dev_signer
from simulations.flower_app import client_app, run
from simulations.flwr_runner import FlwrRunner
from simulations.inprocess_grid import InProcessGrid

NODES = 10
BASIS_TEXT = {
    "server": "the coordinator's own update on its validation set",
    "peer": "the participants' recent robust direction (no validation set: weaker)",
    "legacy": "peer cosines (legacy scorer)",
}
BEHAVIOURS = {0: "sign-flip", 1: "free-rider", 2: "nan", 3: "forged-hash", 4: "forged-signature"}
SETTINGS = {
    "strategy": "multi-krum",
    "f": 2,
    "local-epochs": 3,
    "learning-rate": 0.5,
    "dirichlet-alpha": 1.0,
    "seed": 7,
    # The coordinator's own validation set: rewards follow each update's measured
    # usefulness against the coordinator's update on it (strategies/SCORING.md).
    "validation-examples": 100,
    "behaviours": ",".join(f"{p}:{b}" for p, b in BEHAVIOURS.items()),
}


@functools.cache
def _roles() -> dict[str, str]:
    """Address → "pID:behaviour" of the simulated participants (derived once: a key
    derivation costs ~10 ms)."""
    return {
        dev_signer(1 + pid).address: f"p{pid}:{BEHAVIOURS.get(pid, 'honest')}"
        for pid in range(NODES)
    }


def _role(address: str) -> str:
    return _roles().get(address, address)


def _tok(wei: int | str) -> str:
    return f"{int(wei) / TOKEN:,.3f}"


def report(summary: dict[str, Any]) -> None:
    for r in summary["rounds"]:
        acc = r["accuracy"]
        gas = r["gas"]
        print(
            f"round {r['round_id']}: accuracy {acc:.3f}  gas open {gas['open']:,} "
            f"finalize {gas['finalize']:,} provenance {gas['provenance']:,}"
            + (f"  [{r['fallback']}]" if r["fallback"] else "")
        )
        if r.get("scoring_basis"):
            print(f"  usefulness measured against: {BASIS_TEXT[r['scoring_basis']]}")
        for e in r["exclusions"]:
            why = e["reason"] or "not slashable"
            print(
                f"  excluded {_role(e['participant']):<20} {e['code']:<14} {why:<12} {e['detail']}"
            )
        for who, score in sorted(r["scores"].items(), key=lambda kv: _role(kv[0])):
            flags = ",".join(r["flags"].get(who, [])) or "-"
            reward = _tok(r["rewards"].get(who, 0))
            print(f"  scored   {_role(who):<20} score {score:.3f} reward {reward:>7}  {flags}")
        for s in r["slashes"]:
            signals = s.get("signals", {}).items()
            why = ", ".join(f"{k} {v:.3g}" for k, v in signals if v is not None)
            print(
                f"  slashed  {_role(s['participant']):<20} {s['reason']:<12} "
                f"{s['bps'] / 100:.1f}% = {_tok(s['amount'])} FED" + (f"  ({why})" if why else "")
            )
    print()
    print("participants at the end (stake / wallet, FED):")
    for who, v in sorted(summary["participants"].items(), key=lambda kv: _role(kv[0])):
        print(f"  {_role(who):<20} stake {_tok(v['stake']):>9}  wallet {_tok(v['wallet']):>8}")
    acct = summary["accounting"]
    print(
        f"token accounting: contracts hold {acct['held']} wei, owe {acct['owed']} wei → "
        + ("balanced to the wei" if acct["balanced"] else "IMBALANCED")
    )
    for rid, v in summary["verify"].items():
        bad = [c["name"] for c in v["report"]["checks"] if not c["ok"]]
        print(f"verify round {rid}: {'ok' if v['ok'] else 'MISMATCH ' + ', '.join(bad)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None, help="run directory (default: a temp dir)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.out or tempfile.mkdtemp(prefix="fedstake-demo-")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary_file = out / "summary.json"
    staked = {
        **SETTINGS,
        "num-server-rounds": args.rounds,
        "artifact-dir": str(out / "artifacts"),
        "summary-file": str(summary_file),
    }
    print(
        f"fedstake demo: flwr run with {NODES} simulated participants "
        f"({len(BEHAVIOURS)} misbehaving), {args.rounds} rounds, embedded chain"
    )
    with FlwrRunner(out / "flwr") as runner:  # stops the SuperLink it started
        runner.run(staked, NODES, out / "flwr-run.log")
    summary = json.loads(summary_file.read_text())
    report(summary)

    plain = {**SETTINGS, "strategy": "fedavg", "staked": False, "num-server-rounds": args.rounds}
    baseline_cfg = run_config(**{k.replace("-", "_"): v for k, v in plain.items()})
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.ERROR)  # the baseline's round-by-round log is not the demo
    try:
        baseline = run(InProcessGrid(client_app, NODES, baseline_cfg), baseline_cfg)
    finally:
        flwr_logger.setLevel(level)
    ours = summary["accuracy"][str(args.rounds)]
    theirs = baseline["accuracy"][args.rounds]
    print(
        f"the same participants and seeds under plain FedAvg, no chain: accuracy {theirs:.3f} "
        f"(fedstake + multi-krum: {ours:.3f})"
    )
    print(f"artifacts, journal and manifests: {summary['artifacts']}")
    print(f"flwr output: {out / 'flwr-run.log'}")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    ok = summary["accounting"]["balanced"] and all(v["ok"] for v in summary["verify"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
