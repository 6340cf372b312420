"""The reference Flower App's handlers in-process (no Ray): honest and sign-flipping
clients, and the inner-strategy factory by name."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, Metadata, RecordDict
from flwr.serverapp.strategy import FedAvg

from federation.flower.inner import build_strategy
from federation.flower.settings import run_config
from simulations.data import client_data, holdout_set
from simulations.flower_app import client_evaluate, client_train
from simulations.models import make_model
from strategies.flower import Krum, RobustStrategy, validate_replies

RUN_CONFIG = run_config(num_server_rounds=1, behaviours="0:sign-flip")


def _context(pid: int) -> Context:
    return Context(
        run_id=1,
        node_id=100 + pid,
        node_config={"partition-id": pid, "num-partitions": 4},
        state=RecordDict(),
        run_config=dict(RUN_CONFIG),
    )


def _instruction(arrays: ArrayRecord, node: int, kind: str = "train") -> Message:
    meta = Metadata(
        run_id=1,
        message_id=f"i{node}",
        src_node_id=0,
        dst_node_id=node,
        reply_to_message_id="",
        group_id="1",
        created_at=0.0,
        ttl=60.0,
        message_type=kind,
    )
    content = RecordDict({"arrays": arrays, "config": ConfigRecord({"server-round": 1})})
    return Message(content=content, metadata=meta)


def test_partitions_cover_the_training_split() -> None:
    sizes = [len(client_data(p, 4)[1]) for p in range(4)]
    x_test, _ = holdout_set()
    assert sum(sizes) + len(x_test) == 1797
    x, y = client_data(0, 4, alpha=0.5)
    assert x.dtype == np.float32 and x.shape[1] == 64 and len(x) == len(y) > 0


def test_train_replies_validate_and_malicious_client_flips_its_update() -> None:
    g = ArrayRecord(torch_state_dict=make_model().state_dict())
    replies = [client_train(_instruction(g, 100 + p), _context(p)) for p in range(4)]
    valid, excluded = validate_replies(replies, g)
    assert len(valid) == 4 and excluded == []
    gv = np.concatenate([a.numpy().ravel() for a in g.values()])
    deltas = [v.weights - gv for v in sorted(valid, key=lambda v: v.node_id)]
    honest_mean = np.mean(deltas[1:], axis=0)
    assert float(deltas[0] @ honest_mean) < 0 < float(deltas[1] @ honest_mean)


def test_evaluate_reply() -> None:
    g = ArrayRecord(torch_state_dict=make_model().state_dict())
    reply = client_evaluate(_instruction(g, 101, "evaluate"), _context(1))
    m = reply.content["metrics"]
    assert 0.0 <= m["eval-acc"] <= 1.0 and m["num-examples"] > 0


def test_build_strategy_by_name() -> None:
    s = build_strategy("krum", 1)
    assert isinstance(s, Krum) and s.num_malicious == 1
    assert isinstance(build_strategy("multi-krum", 0), RobustStrategy)
    assert isinstance(build_strategy("fedavg", 0), FedAvg)
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        build_strategy("nope", 0)
