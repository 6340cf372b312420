"""The reference Flower App: a staked federation training a digits MLP.

    flwr run . --federation-config "num-supernodes=10"
    flwr run . --run-config "strategy='krum' f=1 behaviours='0:sign-flip,1:free-rider'"

The ServerApp is the coordinator: `federation.flower` wraps the configured inner strategy
so every round is opened, validated, scored, finalized and recorded on-chain (run-config
keys: `federation.flower.settings.KEYS`, documented in the README). The ClientApp is a
participant: it trains on its digits partition and `fedstake_mod` (outermost) signs what
leaves the node. In simulation, `adversary_mod` sits outside it to play the misbehaving
participants named in `behaviours`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import fixedclipping_mod
from flwr.serverapp import Grid, ServerApp
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM

from federation.engine import RoundOutcome
from federation.flower.client_mod import fedstake_mod, register_identity
from federation.flower.inner import build_strategy
from federation.flower.records import arrays_of
from federation.flower.server import staked_federation
from federation.flower.settings import TOKEN, RunSettings
from simulations.data import client_data, holdout_set
from simulations.flower_behaviours import adversary_mod, apply_training, check_behaviour
from simulations.models import evaluate, make_model, train


def optional_clipping_mod(msg: Message, context: Context, call_next: Any) -> Message:
    """Flower's client-side DP clipping when the server's DP wrapper asks for it."""
    config = next(iter(msg.content.config_records.values()), {})
    if msg.metadata.message_type.split(".")[0] == "train" and KEY_CLIPPING_NORM in config:
        return fixedclipping_mod(msg, context, call_next)
    return call_next(msg, context)


# fedstake_mod is outermost of the real participant's mods: it signs what leaves the node,
# after clipping. adversary_mod only simulates attackers tampering after signing.
client_app = ClientApp(mods=[adversary_mod, fedstake_mod, optional_clipping_mod])
register_identity(client_app)
server_app = ServerApp()


def _numpy_state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _record(arrays: dict[str, np.ndarray]) -> ArrayRecord:
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def _model_from(arrays: dict[str, np.ndarray]) -> torch.nn.Module:
    model = make_model()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    return model


def _local(context: Context, settings: RunSettings) -> tuple[np.ndarray, np.ndarray]:
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    alpha = settings.dirichlet_alpha if settings.dirichlet_alpha > 0 else None
    return client_data(pid, n, alpha=alpha, seed=settings.seed)


@client_app.train()
def client_train(msg: Message, context: Context) -> Message:
    """Train locally from the global model; a simulated attacker then (mis)behaves."""
    s = RunSettings.from_run_config(context.run_config)
    pid = int(context.node_config["partition-id"])
    behaviour = check_behaviour(s.behaviour_of(pid))
    g = arrays_of(msg.content["arrays"])
    model = _model_from(g)
    x, y = _local(context, s)
    if behaviour == "lazy":
        x, y = x[: max(1, len(x) // 20)], y[: max(1, len(y) // 20)]
    rnd = int(msg.content["config"].get("server-round", 0))
    loss = train(model, x, y, epochs=s.local_epochs, lr=s.learning_rate, seed=rnd * 1000 + pid)
    rng = np.random.default_rng(rnd * 1000 + pid)
    sent = apply_training(behaviour, g, _numpy_state(model), rng)
    content = RecordDict(
        {
            "arrays": _record(sent),
            "metrics": MetricRecord({"train-loss": float(loss), "num-examples": len(x)}),
        }
    )
    return Message(content=content, reply_to=msg)


@client_app.evaluate()
def client_evaluate(msg: Message, context: Context) -> Message:
    s = RunSettings.from_run_config(context.run_config)
    model = _model_from(arrays_of(msg.content["arrays"]))
    x, y = _local(context, s)
    loss, acc = evaluate(model, x, y)
    metrics = MetricRecord({"eval-loss": loss, "eval-acc": acc, "num-examples": len(x)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)


def _round_report(outcome: RoundOutcome, accuracy: float | None) -> dict[str, Any]:
    scores = {p.participant: p.score for p in outcome.scores.participants} if outcome.scores else {}
    flags = (
        {p.participant: [r.name for r in p.reasons] for p in outcome.scores.participants}
        if outcome.scores
        else {}
    )
    return {
        "round_id": outcome.round_id,
        "accuracy": accuracy,
        "valid": list(outcome.valid),
        "absent": list(outcome.absent),
        "exclusions": [e.to_dict() for e in outcome.exclusions],
        "scores": scores,
        "flags": flags,
        "rewards": {p: str(r) for p, r in outcome.decision.rewards.items()},
        "slashes": [
            {
                "participant": s.participant,
                "reason": s.reason.name,
                "bps": s.bps,
                "amount": str(s.amount),
            }
            for s in outcome.decision.slashes
        ],
        "fallback": outcome.fallback,
        "gas": outcome.gas,
        "seconds": outcome.seconds,
        "version": outcome.version_id,
        "aggregate_hash": outcome.aggregate_hash.hex(),
    }


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    run(grid, context.run_config)


def run(grid: Grid, run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The coordinator's whole run on any grid (Flower's, or `InProcessGrid`); returns the
    summary it also writes to `summary-file`."""
    s = RunSettings.from_run_config(run_config)
    for item in s.behaviours.replace(" ", "").split(","):
        if item:
            check_behaviour(item.partition(":")[2])
    t0 = time.perf_counter()
    x_test, y_test = holdout_set(seed=s.seed)
    accuracy: dict[int, float] = {}

    def central(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        loss, acc = evaluate(_model_from(arrays_of(arrays)), x_test, y_test)
        accuracy[server_round] = acc
        return MetricRecord({"test-loss": loss, "test-acc": acc})

    initial = _record(_numpy_state(make_model(seed=s.seed)))
    train_config = ConfigRecord({"local-epochs": s.local_epochs, "lr": s.learning_rate})
    summary: dict[str, Any] = {"settings": s.hyperparams(), "staked": s.staked}
    if not s.staked:  # the inner strategy alone: the baseline, and the chain-off benchmark
        strategy = build_strategy(s.strategy, s.f)
        strategy.start(
            grid, initial, num_rounds=s.rounds, train_config=train_config, evaluate_fn=central
        )
        summary.update(accuracy=accuracy, seconds=time.perf_counter() - t0)
        _finish(s, summary)
        return summary

    reports: list[dict[str, Any]] = []
    fed = staked_federation(
        s,
        grid,
        dataset={"name": "sklearn-digits", "seed": s.seed, "alpha": s.dirichlet_alpha},
        on_round=lambda rnd, out: reports.append(_round_report(out, None)),
    )
    try:
        fed.strategy.start(
            grid,
            initial,
            num_rounds=s.rounds,
            timeout=s.round_timeout,
            train_config=train_config,
            evaluate_fn=central,
        )
        fed.strategy.settle(claim=s.closing_audit)
        for i, r in enumerate(reports, start=1):
            r["accuracy"] = accuracy.get(i)
        summary.update(
            rounds=reports,
            artifacts=str(fed.store_path.resolve()),
            settle_gas={str(k): v for k, v in fed.strategy.settle_gas.items()},
        )
        if s.closing_audit:
            summary.update(_closing(fed, reports))
        summary.update(accuracy=accuracy, seconds=time.perf_counter() - t0)
        _finish(s, summary)
        return summary
    finally:
        fed.close()


def _closing(fed: Any, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Accounting to the wei and `verify` of every round, from chain + artifacts."""
    from federation.verify import verify_round
    from simulations.accounting import check_accounting

    led = fed.ledger
    acct = check_accounting(led)
    verified = {}
    for r in reports:
        rep = verify_round(led, fed.engine.store, r["round_id"])
        verified[r["round_id"]] = {"ok": rep.ok, "report": rep.to_dict()}
    role_balances = {
        p: {"stake": str(led.stake_of(p).slashable), "wallet": str(led.token_balance(p))}
        for p in sorted(
            {
                a
                for r in reports
                for a in r["valid"] + r["absent"] + [e["participant"] for e in r["exclusions"]]
            }
        )
    }
    return {
        "rounds": reports,
        "refused": dict(fed.strategy.refusal_counts),
        "settle_gas": {str(k): v for k, v in fed.strategy.settle_gas.items()},
        "accounting": {"held": str(acct.held), "owed": str(acct.owed), "balanced": acct.balanced},
        "verify": verified,
        "participants": role_balances,
        "artifacts": str(fed.store_path.resolve()),
        "token": TOKEN,
    }


def _finish(s: RunSettings, summary: dict[str, Any]) -> None:
    if s.summary_file:
        path = Path(s.summary_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2, default=str))
    print(f"fedstake run finished in {summary.get('seconds', 0):.1f} s", flush=True)
