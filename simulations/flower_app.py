"""Flower App: digits MLP trained with a robust strategy, some clients sign-flipping.

    flwr run . --federation-config "num-supernodes=6"
    flwr run . --run-config "aggregator='median' num-malicious=2"

Run config keys ([tool.flwr.app.config]): num-server-rounds, aggregator (a name of
`strategies.flower.STRATEGIES`, or "fedavg" for Flower's FedAvg as the baseline),
num-malicious (clients with partition-id < this send −(their update); also the f of the
rule), local-epochs, learning-rate; optional: dirichlet-alpha (0 = IID, the default),
seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, Strategy

from simulations.data import client_data, holdout_set
from simulations.models import evaluate, make_model, train
from strategies.flower import STRATEGIES

client_app = ClientApp()
server_app = ServerApp()


def _alpha(cfg: dict[str, Any]) -> float | None:
    alpha = float(cfg.get("dirichlet-alpha", 0.0))
    return alpha if alpha > 0 else None


def _local(context: Context) -> tuple[np.ndarray, np.ndarray]:
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    cfg = dict(context.run_config)
    return client_data(pid, n, alpha=_alpha(cfg), seed=int(cfg.get("seed", 0)))


@client_app.train()
def client_train(msg: Message, context: Context) -> Message:
    """Train locally; a malicious client sends global − (local − global) (sign flip)."""
    cfg = dict(context.run_config)
    model = make_model()
    global_state = msg.content["arrays"].to_torch_state_dict()
    model.load_state_dict(global_state)
    x, y = _local(context)
    rnd = int(msg.content["config"].get("server-round", 0))
    loss = train(
        model,
        x,
        y,
        epochs=int(cfg["local-epochs"]),
        lr=float(cfg["learning-rate"]),
        seed=rnd * 1000 + int(context.node_config["partition-id"]),
    )
    state = model.state_dict()
    if int(context.node_config["partition-id"]) < int(cfg["num-malicious"]):
        state = {k: 2 * global_state[k] - v for k, v in state.items()}
    content = RecordDict(
        {
            "arrays": ArrayRecord(torch_state_dict=state),
            "metrics": MetricRecord({"train-loss": loss, "num-examples": len(x)}),
        }
    )
    return Message(content=content, reply_to=msg)


@client_app.evaluate()
def client_evaluate(msg: Message, context: Context) -> Message:
    model = make_model()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    x, y = _local(context)
    loss, acc = evaluate(model, x, y)
    metrics = MetricRecord({"eval-loss": loss, "eval-acc": acc, "num-examples": len(x)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)


def make_strategy(name: str, num_malicious: int) -> Strategy:
    """A robust strategy by name ("fedavg" gives Flower's FedAvg as the baseline)."""
    key = name.strip().lower().replace("-", "_")
    if key == "fedavg":
        return FedAvg(fraction_evaluate=0.0)
    if key not in STRATEGIES:
        raise ValueError(f"unknown aggregator {name!r}; known: fedavg, {', '.join(STRATEGIES)}")
    return STRATEGIES[key](num_malicious=num_malicious, fraction_evaluate=0.0)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    strategy = make_strategy(str(cfg["aggregator"]), int(cfg["num-malicious"]))
    x_test, y_test = holdout_set(seed=int(cfg.get("seed", 0)))

    def central(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        model = make_model()
        model.load_state_dict(arrays.to_torch_state_dict())
        loss, acc = evaluate(model, x_test, y_test)
        return MetricRecord({"test-loss": loss, "test-acc": acc})

    train_config = ConfigRecord(
        {"local-epochs": int(cfg["local-epochs"]), "lr": float(cfg["learning-rate"])}
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(torch_state_dict=make_model().state_dict()),
        num_rounds=int(cfg["num-server-rounds"]),
        train_config=train_config,
        evaluate_fn=central,
    )
    final = result.evaluate_metrics_serverapp
    if final:
        last = final[max(final)]
        print(f"final test accuracy ({cfg['aggregator']}): {float(last['test-acc']):.3f}")
