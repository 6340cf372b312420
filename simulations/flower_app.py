"""The reference Flower App: a staked federation training a digits MLP.

    flwr run . --federation-config "num-supernodes=10"
    flwr run . --run-config "strategy='krum' f=1 behaviours='0:sign-flip,1:free-rider'"

The ServerApp is the coordinator: `federation.flower` wraps the configured inner strategy
so every round is opened, validated, scored, finalized and recorded on-chain (run-config
keys: `federation.flower.settings.KEYS`, documented in the README). The ClientApp is a
participant: it trains on its partition of the task (`task`, `model`: digits MLP by
default) and `fedstake_mod` (outermost) signs what leaves the node. In simulation the
participants named in `behaviours` misbehave: attacks from `simulations.attacks` and
protocol faults change what they train on or send (`simulations.flower_behaviours`), and
`adversary_mod`, outside `fedstake_mod`, tampers with signed replies.

Honest training is one function, `simulations.models.local_training`, shared with the
collusion channel through which omniscient attackers recompute the honest updates.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
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
from simulations.attacks.poisoning import backdoor_success_rate
from simulations.data import client_data, holdout_set, validation_set
from simulations.flower_behaviours import (
    SimulatedParticipant,
    adversary_mod,
    backdoor_probe,
    check_run_config,
    train_setup,
)
from simulations.models import (
    evaluate,
    local_training,
    model_for,
    model_from_arrays,
    reference_training,
    state_arrays,
)


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


def _record(arrays: dict[str, np.ndarray]) -> ArrayRecord:
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def _local(context: Context, settings: RunSettings) -> tuple[np.ndarray, np.ndarray]:
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    setup = train_setup(settings)
    return client_data(pid, n, alpha=setup.alpha, seed=setup.seed, task=setup.task)


@client_app.train()
def client_train(msg: Message, context: Context) -> Message:
    """Train locally from the global model (`local_training`, the one honest training);
    a simulated attacker poisons its data first and/or crafts what it sends."""
    s = RunSettings.from_run_config(context.run_config)
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    rnd = int(msg.content["config"].get("server-round", 0))
    me = SimulatedParticipant(s, pid, n, rnd)
    g = arrays_of(msg.content["arrays"])
    local = local_training(train_setup(s), pid, n, g, rnd, poison=me.poison())
    sent = me.send(g, local.arrays)
    metrics = {"train-loss": local.loss, "num-examples": local.num_examples}
    content = RecordDict({"arrays": _record(sent), "metrics": MetricRecord(metrics)})
    return Message(content=content, reply_to=msg)


@client_app.evaluate()
def client_evaluate(msg: Message, context: Context) -> Message:
    s = RunSettings.from_run_config(context.run_config)
    model = model_from_arrays(arrays_of(msg.content["arrays"]), s.task, s.model)
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
        "scoring_basis": outcome.scores.basis if outcome.scores else None,
        "flags": flags,
        "rewards": {p: str(r) for p, r in outcome.decision.rewards.items()},
        "slashes": [
            {
                "participant": s.participant,
                "reason": s.reason.name,
                "bps": s.bps,
                "amount": str(s.amount),
                "strike_rounds": list(s.strike_rounds),
                "signals": {k: (v if math.isfinite(v) else None) for k, v in s.signals},
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
    check_run_config(s)
    t0 = time.perf_counter()
    x_test, y_test = holdout_set(seed=s.seed, task=s.task, validation=s.validation_examples)
    reference = None
    if s.validation_examples > 0:
        x_val, y_val = validation_set(s.validation_examples, seed=s.seed, task=s.task)
        reference = reference_training(train_setup(s), x_val, y_val)
    accuracy: dict[int, float] = {}
    test_loss: dict[int, float] = {}
    backdoor: dict[int, float] = {}
    probe = backdoor_probe(s)

    def central(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        model = model_from_arrays(arrays_of(arrays), s.task, s.model)
        loss, acc = evaluate(model, x_test, y_test)
        accuracy[server_round], test_loss[server_round] = acc, loss
        metrics = {"test-loss": loss, "test-acc": acc}
        if probe is not None:  # the planted backdoor's success on triggered test images
            trigger, target = probe
            asr = backdoor_success_rate(model, x_test, y_test, trigger, target)
            backdoor[server_round] = metrics["backdoor-success"] = asr
        return MetricRecord(metrics)

    initial = _record(state_arrays(model_for(s.task, s.model, seed=s.seed)))
    train_config = ConfigRecord({"local-epochs": s.local_epochs, "lr": s.learning_rate})
    summary: dict[str, Any] = {"settings": s.hyperparams(), "staked": s.staked}
    if not s.staked:  # the inner strategy alone: the baseline, and the chain-off benchmark
        strategy = build_strategy(s.strategy, s.f)
        strategy.start(
            grid, initial, num_rounds=s.rounds, train_config=train_config, evaluate_fn=central
        )
        summary.update(
            accuracy=accuracy,
            test_loss=test_loss,
            backdoor_success=backdoor,
            seconds=time.perf_counter() - t0,
        )
        _finish(s, summary)
        return summary

    reports: list[dict[str, Any]] = []
    fed = staked_federation(
        s,
        grid,
        dataset=_dataset_doc(s),
        on_round=lambda rnd, out: reports.append(_round_report(out, None)),
        reference=reference,
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
            r["test_loss"] = test_loss.get(i)
            r["backdoor_success"] = backdoor.get(i)
        summary.update(
            rounds=reports,
            artifacts=str(fed.store_path.resolve()),
            settle_gas={str(k): v for k, v in fed.strategy.settle_gas.items()},
        )
        if s.closing_audit:
            summary.update(_closing(fed, reports))
        summary.update(
            accuracy=accuracy,
            test_loss=test_loss,
            backdoor_success=backdoor,
            seconds=time.perf_counter() - t0,
        )
        _finish(s, summary)
        return summary
    finally:
        fed.close()


def _dataset_doc(s: RunSettings) -> dict[str, Any]:
    """What the provenance record's dataset fingerprint commits to."""
    name = {"digits": "sklearn-digits", "synthetic": "synthetic-gaussian-mixture"}.get(
        s.task, s.task
    )
    return {"name": name, "seed": s.seed, "alpha": s.dirichlet_alpha}


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
