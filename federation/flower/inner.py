"""Any Flower strategy as the round engine's aggregator, and the strategies by name.

The wrapper hands the inner strategy's `aggregate_train` fresh reply messages built from
the *validated* updates (our records stripped, sorted by participant address, numbered
1…n in that order as their source node ids), so the inner rule decides the aggregate and
`verify` can re-run it from the artifact store. Built-in strategies that `pop()` arrays
out of replies only ever see these copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    FedAvg,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
    Strategy,
)

from federation.aggregation import AggregateResult, RuleAggregator
from federation.flower.records import arrays_of
from federation.validation import ValidUpdate
from strategies.flower import STRATEGIES as ROBUST
from strategies.flower.robust import RobustStrategy

# Every inner strategy samples from the nodes the wrapper allows; evaluation is central.
_COMMON = {
    "fraction_train": 1.0,
    "fraction_evaluate": 0.0,
    "min_train_nodes": 1,
    "min_evaluate_nodes": 1,
    "min_available_nodes": 1,
}


def _flower(cls: type[Strategy], **fixed: Any) -> Callable[[int, Mapping[str, Any]], Strategy]:
    def make(f: int, options: Mapping[str, Any]) -> Strategy:
        kw = dict(_COMMON)
        kw.update(fixed)
        if "num_malicious_nodes" in fixed:
            kw["num_malicious_nodes"] = f
        kw.update(options)
        return cls(**kw)

    return make


def _ours(name: str) -> Callable[[int, Mapping[str, Any]], Strategy]:
    def make(f: int, options: Mapping[str, Any]) -> Strategy:
        return ROBUST[name](num_malicious=f, **{**_COMMON, **options})

    return make


# Name → factory(f, options). Flower's own under their Flower names; ours by rule name.
STRATEGIES: dict[str, Callable[[int, Mapping[str, Any]], Strategy]] = {
    "fedavg": _flower(FedAvg),
    "fedprox": _flower(FedProx),
    "fedmedian": _flower(FedMedian),
    "fedtrimmedavg": _flower(FedTrimmedAvg),
    "flwr-krum": _flower(Krum, num_malicious_nodes=0),
    "flwr-multikrum": _flower(MultiKrum, num_malicious_nodes=0),
    **{
        n.replace("_", "-"): _ours(n)
        for n in (
            "median",
            "trimmed_mean",
            "krum",
            "multi_krum",
            "bulyan",
            "geometric_median",
            "centered_clipping",
        )
    },
}


def strategy_names() -> list[str]:
    return sorted(STRATEGIES)


def build_strategy(
    name: str,
    f: int = 0,
    options: Mapping[str, Any] | None = None,
    *,
    dp_clipping_norm: float = 0.0,
    dp_noise_multiplier: float = 0.0,
    dp_num_sampled: int = 0,
) -> Strategy:
    """A strategy by name; an unknown name is an error (never a silent fallback).

    With `dp_clipping_norm > 0` it is wrapped in Flower's
    `DifferentialPrivacyClientSideFixedClipping` (clients clip with `fixedclipping_mod`).
    """
    key = name.strip().lower().replace("_", "-")
    if key not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(strategy_names())}")
    inner = STRATEGIES[key](int(f), dict(options or {}))
    if dp_clipping_norm > 0:
        inner = DifferentialPrivacyClientSideFixedClipping(
            inner,
            noise_multiplier=float(dp_noise_multiplier),
            clipping_norm=float(dp_clipping_norm),
            num_sampled_clients=max(1, int(dp_num_sampled)),
        )
    return inner


@dataclass
class InnerStrategyAggregator:
    """A Flower strategy's `aggregate_train` as the engine's aggregation step."""

    strategy: Strategy
    spec_: dict[str, Any]

    @classmethod
    def named(
        cls, name: str, f: int = 0, options: Mapping[str, Any] | None = None, **dp: Any
    ) -> InnerStrategyAggregator:
        strategy = build_strategy(name, f, options, **dp)
        noisy = (
            float(dp.get("dp_noise_multiplier", 0.0)) > 0
            and float(dp.get("dp_clipping_norm", 0.0)) > 0
        )
        spec = {
            "kind": "flower",
            "strategy": name,
            "f": int(f),
            "options": dict(options or {}),
            "dp": {k: v for k, v in dp.items()},
            "randomized": noisy,
        }
        return cls(strategy, spec)

    @classmethod
    def wrapping(cls, strategy: Strategy) -> InnerStrategyAggregator:
        """Any other strategy object: works, but `verify` cannot rebuild it by name."""
        spec = {
            "kind": "flower",
            "strategy": f"custom:{type(strategy).__qualname__}",
            "randomized": True,
        }
        return cls(strategy, spec)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> InnerStrategyAggregator:
        name = str(spec["strategy"])
        if name.startswith("custom:"):
            raise ValueError(f"strategy {name} was a custom object; it cannot be rebuilt by name")
        return cls.named(
            name, int(spec.get("f", 0)), spec.get("options"), **dict(spec.get("dp") or {})
        )

    def spec(self) -> dict[str, Any]:
        return dict(self.spec_)

    def _robust(self) -> RobustStrategy | None:
        target = self.strategy
        while not isinstance(target, RobustStrategy) and hasattr(target, "strategy"):
            target = target.strategy  # a DP wrapper around one of ours
        return target if isinstance(target, RobustStrategy) else None

    def state(self) -> dict[str, np.ndarray]:
        """The inner rule's state carried across rounds (centered clipping's centre)."""
        target = self._robust()
        return target.state() if target is not None else {}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        target = self._robust()
        if target is not None:
            target.load_state(state)
        elif state:
            raise ValueError(f"{self.spec_['strategy']} keeps no state, got {sorted(state)}")

    def aggregate(
        self, round_id: int, global_arrays: Mapping[str, np.ndarray], valid: Sequence[ValidUpdate]
    ) -> AggregateResult:
        replies = [_reply(round_id, i, v) for i, v in enumerate(valid)]
        record = ArrayRecord({k: Array(np.asarray(v)) for k, v in global_arrays.items()})
        target = self._robust()
        if target is not None:
            target.set_global_arrays(record)
        arrays, metrics = self.strategy.aggregate_train(round_id, replies)
        if arrays is None:
            fallback = RuleAggregator("median").aggregate(round_id, global_arrays, valid)
            return AggregateResult(
                fallback.arrays, fallback="median: the inner strategy returned no model"
            )
        out = arrays_of(arrays)
        out = {
            k: np.asarray(out[k], dtype=np.asarray(global_arrays[k]).dtype) for k in global_arrays
        }
        m = {
            k: float(v)
            for k, v in (metrics or MetricRecord()).items()
            if isinstance(v, int | float)
        }
        fallback = "median: too few valid updates for the rule" if m.get("fallback") else None
        return AggregateResult(out, fallback=fallback, metrics=m)


def _reply(round_id: int, index: int, v: ValidUpdate) -> Message:
    sub = v.submission
    content = RecordDict(
        {
            "arrays": ArrayRecord({k: Array(np.asarray(a)) for k, a in sub.arrays.items()}),
            "metrics": MetricRecord({"num-examples": int(sub.num_examples)}),
        }
    )
    meta = Metadata(
        run_id=0,
        message_id=f"fedstake-{round_id}-{index}",
        # Not the Flower node id: our robust strategies order replies by node id (their
        # float sums follow that order), and a SuperLink hands out random node ids, so the
        # aggregate's last bits would depend on them, not only on the updates.
        src_node_id=index + 1,
        dst_node_id=0,
        reply_to_message_id=f"fedstake-{round_id}",
        group_id=str(round_id),
        created_at=0.0,
        ttl=0.0,
        message_type="train",
    )
    return Message(content=content, metadata=meta)
