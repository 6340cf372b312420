"""Plain Flower strategies: bad replies are excluded (the run goes on), no mutation,
differential agreement with Flower's FedMedian / Krum on consistent replies."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Error,
    Message,
    Metadata,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp.exception import InconsistentMessageReplies
from flwr.serverapp.strategy import FedMedian, FedTrimmedAvg
from flwr.serverapp.strategy import Krum as FlowerKrum

from strategies.flower import (
    STRATEGIES,
    Bulyan,
    CenteredClipping,
    GeometricMedian,
    Krum,
    Median,
    ModelLayout,
    MultiKrum,
    RobustStrategy,
    TrimmedMean,
    flatten,
    stack_updates,
    unflatten,
    validate_replies,
)
from strategies.scoring_types import ReasonCode

SHAPES = {"w": (3, 4), "b": (4,)}


def _meta(node: int) -> Metadata:
    return Metadata(
        run_id=1,
        message_id=f"m{node}",
        src_node_id=node,
        dst_node_id=0,
        reply_to_message_id="",
        group_id="1",
        created_at=0.0,
        ttl=60.0,
        message_type="train",
    )


def global_model(seed: int = 0) -> ArrayRecord:
    rng = np.random.default_rng(seed)
    return ArrayRecord({k: Array(rng.normal(size=s).astype(np.float32)) for k, s in SHAPES.items()})


def reply(node: int, arrays: dict[str, np.ndarray] | None, num: object = 10, **extra) -> Message:
    content = RecordDict()
    if arrays is not None:
        content["arrays"] = ArrayRecord({k: Array(v) for k, v in arrays.items()})
    content["metrics"] = MetricRecord({"num-examples": num, "loss": 0.5})  # type: ignore[dict-item]
    for k, v in extra.items():
        content[k] = v
    return Message(content=content, metadata=_meta(node))


def honest(g: ArrayRecord, seed: int, scale: float = 0.01) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        k: (g[k].numpy() + scale * rng.normal(size=g[k].numpy().shape)).astype(np.float32)
        for k in g
    }


def bad_replies(g: ArrayRecord) -> list[Message]:
    base = honest(g, 99)
    nan = {k: v.copy() for k, v in base.items()}
    nan["w"][0, 0] = np.nan
    shape = {**base, "b": np.zeros(5, np.float32)}
    dtype = {**base, "b": base["b"].astype(np.float64)}
    missing = {"w": base["w"]}
    extra_key = {**base, "z": np.zeros(1, np.float32)}
    two = reply(106, base)
    two.content["arrays2"] = ArrayRecord({k: Array(v) for k, v in base.items()})
    err = Message(error=Error(code=0, reason="client crashed"), metadata=_meta(109))
    return [
        reply(100, nan),
        reply(101, shape),
        reply(102, dtype),
        reply(103, missing),
        reply(104, extra_key),
        reply(105, None),
        two,
        reply(107, base, num=0),
        reply(108, base, num=-3),
        err,
        reply(110, base, num=2.5),
    ]


EXPECTED_CODES = {
    100: "non-finite",
    101: "shape",
    102: "dtype",
    103: "keys",
    104: "keys",
    105: "array-records",
    106: "array-records",
    107: "num-examples",
    108: "num-examples",
    109: "error",
    110: "num-examples",
}


def test_validate_replies_excludes_each_bad_reply_with_its_reason() -> None:
    g = global_model()
    good = [reply(i, honest(g, i)) for i in (3, 1, 2)]
    valid, excluded = validate_replies(good + bad_replies(g), g)
    assert [v.node_id for v in valid] == [1, 2, 3]
    assert {e.node_id: e.code for e in excluded} == EXPECTED_CODES
    for e in excluded:
        assert e.reason == (None if e.code == "error" else ReasonCode.MALFORMED)


def test_stack_updates_are_deltas_in_valid_order() -> None:
    g = global_model()
    valid, _ = validate_replies([reply(2, honest(g, 2)), reply(1, honest(g, 1))], g)
    u = stack_updates(valid, g)
    gv = flatten(g, ModelLayout.of(g))
    assert u.shape == (2, 16) and u.dtype == np.float64
    np.testing.assert_array_equal(u[0], valid[0].weights - gv)
    assert stack_updates([], g).shape == (0, 16)


def test_duplicate_node_reply_excluded() -> None:
    g = global_model()
    valid, excluded = validate_replies([reply(1, honest(g, 1)), reply(1, honest(g, 2))], g)
    assert len(valid) == 1 and [e.code for e in excluded] == ["duplicate"]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_run_goes_on_with_bad_replies_and_messages_untouched(name: str) -> None:
    g = global_model()
    strategy = STRATEGIES[name](num_malicious=1)
    strategy.set_global_arrays(g)
    good = [reply(i, honest(g, i)) for i in range(1, 8)]
    replies = good + bad_replies(g)
    before = [{k: m.content["arrays"][k].numpy().copy() for k in m.content["arrays"]} for m in good]
    arrays, metrics = strategy.aggregate_train(1, replies)
    assert arrays is not None and metrics is not None
    assert list(arrays.keys()) == list(g.keys())
    for k in g:
        out = arrays[k].numpy()
        assert out.dtype == np.float32 and out.shape == SHAPES[k]
        assert np.all(np.isfinite(out))
        assert np.max(np.abs(out - g[k].numpy())) < 0.1  # stays near honest updates
    assert metrics["num-valid"] == 7 and metrics["num-excluded"] == len(EXPECTED_CODES)
    assert len(strategy.exclusions[1]) == len(EXPECTED_CODES)
    for m, b in zip(good, before, strict=True):
        assert list(m.content["arrays"].keys()) == list(b)
        for k in b:
            np.testing.assert_array_equal(m.content["arrays"][k].numpy(), b[k])


def test_robust_rules_resist_an_attacker_and_ignore_reported_counts() -> None:
    g = global_model()
    good = [reply(i, honest(g, i)) for i in range(1, 8)]
    evil = {k: g[k].numpy() + 100.0 for k in g}
    replies = [*good, reply(50, evil, num=10**9)]
    for cls in (Median, TrimmedMean, Krum, MultiKrum, GeometricMedian):
        strategy = cls(num_malicious=1)
        strategy.set_global_arrays(g)
        arrays, _ = strategy.aggregate_train(1, replies)
        assert arrays is not None
        assert np.max(np.abs(arrays["w"].numpy() - g["w"].numpy())) < 0.1, cls.__name__


def test_too_few_replies_falls_back_to_median() -> None:
    g = global_model()
    strategy = Bulyan(num_malicious=2)  # needs n ≥ 11
    strategy.set_global_arrays(g)
    arrays, metrics = strategy.aggregate_train(1, [reply(i, honest(g, i)) for i in range(1, 5)])
    assert arrays is not None and metrics is not None and metrics["fallback"] == 1


def test_all_bad_gives_no_model() -> None:
    g = global_model()
    strategy = Krum(num_malicious=0)
    strategy.set_global_arrays(g)
    assert strategy.aggregate_train(1, bad_replies(g)) == (None, None)


def test_centered_clipping_is_stateful_and_bounded() -> None:
    g = global_model()
    strategy = CenteredClipping(tau=1e-3, iters=1)
    strategy.set_global_arrays(g)
    replies = [reply(i, honest(g, i, scale=1.0)) for i in range(1, 6)]
    arrays, _ = strategy.aggregate_train(1, replies)
    assert arrays is not None and strategy.previous is not None
    step = flatten(arrays, ModelLayout.of(g)) - flatten(g, ModelLayout.of(g))
    assert np.linalg.norm(step) <= 1e-3 * (1 + 1e-5)


def test_nnm_option_and_custom_callable() -> None:
    g = global_model()
    replies = [reply(i, honest(g, i)) for i in range(1, 8)]
    s = Krum(num_malicious=1, pre="nnm")
    s.set_global_arrays(g)
    assert s.aggregate_train(1, replies)[0] is not None
    zero = RobustStrategy(lambda u: np.zeros(u.shape[1]))
    zero.set_global_arrays(g)
    arrays, _ = zero.aggregate_train(1, replies)
    assert arrays is not None
    np.testing.assert_array_equal(arrays["w"].numpy(), g["w"].numpy())
    with pytest.raises(ValueError):
        Krum(pre="bogus")
    with pytest.raises(TypeError):
        Krum(2)  # type: ignore[arg-type]  # f is keyword-only: num_malicious=2


def test_aggregate_evaluate_skips_bad_metric_replies() -> None:
    strategy = Median()
    good = [reply(i, None, num=10) for i in range(1, 4)]
    bad = [reply(10, None, num=0), reply(11, None, num=1.5)]
    bad.append(Message(error=Error(code=0, reason="x"), metadata=_meta(12)))
    m = strategy.aggregate_evaluate(1, good + bad)
    assert m is not None and m["loss"] == pytest.approx(0.5)
    assert strategy.aggregate_evaluate(1, bad) is None


def test_flatten_unflatten_round_trip_with_int_arrays() -> None:
    rec = ArrayRecord(
        {"a": Array(np.arange(6, dtype=np.int64).reshape(2, 3)), "b": Array(np.ones(2))}
    )
    layout = ModelLayout.of(rec)
    back = unflatten(flatten(rec, layout), layout)
    for k in rec:
        np.testing.assert_array_equal(back[k].numpy(), rec[k].numpy())
        assert back[k].numpy().dtype == rec[k].numpy().dtype


def _copy_replies(replies: list[Message]) -> list[Message]:
    return [
        Message(
            content=RecordDict(
                {
                    "arrays": ArrayRecord(
                        {k: Array(m.content["arrays"][k].numpy()) for k in m.content["arrays"]}
                    ),
                    "metrics": MetricRecord(dict(m.content["metrics"])),
                }
            ),
            metadata=_meta(m.metadata.src_node_id),
        )
        for m in replies
    ]


@pytest.mark.parametrize("n", [5, 6, 9])
def test_differential_median_vs_flower_fedmedian(n: int) -> None:
    g = global_model(1)
    replies = [reply(i, honest(g, 10 + i, scale=0.5)) for i in range(1, n + 1)]
    ours = Median()
    ours.set_global_arrays(g)
    a, _ = ours.aggregate_train(1, _copy_replies(replies))
    b, _ = FedMedian().aggregate_train(1, _copy_replies(replies))
    assert a is not None and b is not None
    for k in g:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("n", "beta"), [(5, 0.2), (10, 0.2), (10, 0.3), (7, 0.0)])
def test_differential_trimmed_mean_vs_flower_fedtrimmedavg(n: int, beta: float) -> None:
    """Flower trims int(beta * n) per side; ours trims f per side: equal for f = int(beta n)."""
    g = global_model(2)
    replies = [reply(i, honest(g, 20 + i, scale=0.5)) for i in range(1, n + 1)]
    ours = TrimmedMean(num_malicious=int(beta * n))
    ours.set_global_arrays(g)
    a, _ = ours.aggregate_train(1, _copy_replies(replies))
    b, _ = FedTrimmedAvg(beta=beta).aggregate_train(1, _copy_replies(replies))
    assert a is not None and b is not None
    for k in g:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_differential_krum_vs_flower_krum(seed: int) -> None:
    """Same rule when n > 2f + 2 (Flower clamps the neighbour count otherwise) and no
    near-ties (Flower's float32 uncentred Gram can flip those)."""
    g = global_model(seed)
    replies = [reply(i, honest(g, 100 * seed + i, scale=float(i))) for i in range(1, 9)]
    ours = Krum(num_malicious=2)
    ours.set_global_arrays(g)
    a, _ = ours.aggregate_train(1, _copy_replies(replies))
    b, _ = FlowerKrum(num_malicious_nodes=2).aggregate_train(1, _copy_replies(replies))
    assert a is not None and b is not None
    for k in g:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-6, atol=1e-6)


def test_flower_builtin_aborts_where_ours_goes_on() -> None:
    """The motivating difference: one bad reply stops Flower's FedMedian."""
    g = global_model()
    replies = [reply(i, honest(g, i)) for i in range(1, 5)] + [reply(9, None)]
    with pytest.raises(InconsistentMessageReplies):
        FedMedian().aggregate_train(1, [*_copy_replies(replies[:4]), reply(9, None)])
    ours = Median()
    ours.set_global_arrays(g)
    assert ours.aggregate_train(1, replies)[0] is not None


def test_configure_train_records_global_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from flwr.supercore.task_identity import TaskIdentity

    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 0)

    class FakeGrid:
        def get_node_ids(self) -> list[int]:
            return [1, 2, 3]

    g = global_model()
    s = Krum(num_malicious=0, min_available_nodes=1, min_train_nodes=1)
    msgs = list(s.configure_train(1, g, ConfigRecord(), FakeGrid()))  # type: ignore[arg-type]
    assert len(msgs) == 3 and s.global_arrays is g
