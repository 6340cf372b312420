"""A scripted coordinator process, restartable at any point (crash-recovery tests).

    python -m simulations.crash_coordinator --rpc URL --deployment FILE --store DIR \\
        --rounds N --seed S [--budget WEI] [--claim]

It acts with the deployer/admin dev key on an existing chain (the participants were
staked beforehand), and on every start: `RoundEngine.resume()` first (finish what a killed
run left half done), then `settle_due()` (settle rounds past their challenge window, and
claim for the participants with ``--claim``), then runs rounds until the journal
(DIR/journal.jsonl) shows N decided rounds — a restart never runs extra rounds (a decided
round that expired because the coordinator was down past its deadline does not count). The
participants are simulated (same keys, data and behaviours from the seed every start),
the coordinator is the product's engine. Prints one JSON line per event on stdout.

Run it with ``FEDSTAKE_CRASH_AT`` set (see `federation.crashpoints`) to kill it at a step.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.engine import RoundEngine, manifest_name
from federation.journal import DECIDED, EXPIRED, FINALIZED, RECORDED, Journal
from federation.keys import dev_signers
from federation.ledger import Ledger
from federation.types import RoundStatus
from simulations.staked_round import Behaviour, SimParticipant, run_round

TOKEN = 10**18
# The participants: dev accounts 1..5; the last one flips the sign of its update.
BEHAVIOURS = (Behaviour.HONEST,) * 4 + (Behaviour.SIGN_FLIP,)
SHAPES = {"w": (4, 3), "b": (3,)}


def participant_signers(count: int = len(BEHAVIOURS)):  # type: ignore[no-untyped-def]
    """The participants' keys (dev accounts 1..count; account 0 is the coordinator)."""
    return dev_signers(1 + count)[1:]


def initial_model() -> dict[str, np.ndarray]:
    return {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}


def _train_towards(target: np.ndarray):  # type: ignore[no-untyped-def]
    def train(g, rng):  # type: ignore[no-untyped-def]
        w = g["w"] + 0.5 * (target - g["w"]) + rng.normal(0, 0.01, g["w"].shape)
        return {"w": w.astype(np.float32), "b": (g["b"] + np.float32(0.1)).astype(np.float32)}, 50

    return train


def participants(admin: Ledger, seed: int) -> list[SimParticipant]:
    """Deterministic from the seed: the same keys, data and behaviours on every start."""
    target = np.random.default_rng(seed).normal(0, 1, SHAPES["w"]).astype(np.float32)
    return [
        SimParticipant(admin.as_signer(s), b, _train_towards(target), np.random.default_rng(0))
        for s, b in zip(participant_signers(), BEHAVIOURS, strict=True)
    ]


def decided_rounds(journal: Journal) -> list[int]:
    """Rounds decided and not expired (a decision that never landed does not count)."""
    return sorted(
        rid for rid, e in journal.rounds().items() if e.has(DECIDED) and not e.has(EXPIRED)
    )


def current_model(engine: RoundEngine) -> dict[str, np.ndarray]:
    """The aggregate of the last decided round (the next round's global model)."""
    done = decided_rounds(engine.journal) if engine.journal else []
    if not done:
        return initial_model()
    manifest = engine.store.get_named(manifest_name(done[-1]))
    return engine.store.get(bytes.fromhex(manifest["aggregate_hash"]))


def emit(event: str, **data: Any) -> None:
    # flushed per line: a crash point exits without flushing Python's buffers
    print(json.dumps({"event": event, **data}, sort_keys=True), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulations.crash_coordinator")
    ap.add_argument("--rpc", required=True, help="http(s) RPC URL of the chain")
    ap.add_argument("--deployment", required=True, help="deployment file")
    ap.add_argument("--store", required=True, help="artifact store + journal directory")
    ap.add_argument("--rounds", type=int, required=True, help="decided rounds to reach")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=10 * TOKEN, help="reward budget per round")
    ap.add_argument("--claim", action="store_true", help="claim for participants at settle")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")

    coordinator = dev_signers(1)[0]
    admin = Ledger.open(args.rpc, args.deployment, coordinator)
    store_dir = Path(args.store)
    journal = Journal(store_dir / "journal.jsonl")
    engine = RoundEngine(
        admin,
        LocalArtifactStore(store_dir),
        RuleAggregator("median", 1),
        journal=journal,
        hyperparams={"seed": args.seed, "lr": 0.5},
        claim_for_participants=args.claim,
    )
    emit("started", decided=len(decided_rounds(journal)))

    # What a killed run left: decided but not recorded; was its finalize already on-chain?
    pending = {}
    for rid, e in sorted(journal.rounds().items()):
        if e.has(DECIDED) and not e.has(RECORDED) and not e.has(EXPIRED):
            if e.has(FINALIZED):
                pending[rid] = "journalled"
            elif admin.get_round(rid).status in (RoundStatus.FINALIZED, RoundStatus.SETTLED):
                pending[rid] = "already-landed"
            else:
                pending[rid] = "sent-now"
    for rid in engine.resume():
        info = admin.get_round(rid)
        emit(
            "resumed",
            round_id=rid,
            finalize=pending.get(rid),
            status=info.status.name,
            results_root=info.results_root.hex(),
        )

    rounds = journal.rounds()
    for rid in sorted(pending):
        if rounds[rid].has(EXPIRED):  # down past its finalize deadline
            emit("expired", round_id=rid, status=admin.get_round(rid).status.name)

    for rid, gas in sorted(engine.settle_due().items()):
        emit("settled", round_id=rid, gas=gas)

    people = participants(admin, args.seed)
    while len(decided_rounds(journal)) < args.rounds:
        rid = admin.next_round_id()
        for i, p in enumerate(people):  # per-round data: the same on every start
            p.rng = np.random.default_rng([args.seed, rid, i])
        out = run_round(engine, current_model(engine), people, args.budget)
        emit(
            "round",
            round_id=out.round_id,
            aggregate_hash=out.aggregate_hash.hex(),
            results_root=out.results.root.hex(),
            total_rewards=str(out.results.total_rewards),
            valid=len(out.valid),
            slashed=[s.participant for s in out.slashes],
            already_finalized=out.already_finalized,
            version_id=out.version_id,
        )
    emit("done", decided=decided_rounds(journal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
