"""How the round engine turns valid updates into the next global model.

An `Aggregator` is rebuilt from its JSON `spec()` (written into each round's manifest),
so `verify` re-runs exactly the aggregation the coordinator ran. Two kinds:

* `RuleAggregator` — a robust rule of `strategies.aggregators` over the (n, d) matrix of
  updates (reply − global model), in float64;
* `federation.flower.inner.InnerStrategyAggregator` — any Flower Message-API strategy's
  own `aggregate_train` (FedAvg, Krum, FedMedian, DP wrappers…), fed fresh messages.

Falling back to the median when too few valid updates remain for a rule is allowed, but
it is reported in `AggregateResult.fallback` (logged, counted, written to the decision).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from federation.validation import ValidUpdate
from strategies.aggregators import AGGREGATORS, aggregate
from strategies.flower.arrays import ModelLayout, flatten, unflatten_arrays
from strategies.validation import AggregationError

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class AggregateResult:
    """The new global model, and whether the configured rule really produced it."""

    arrays: Arrays
    fallback: str | None = None  # why the median replaced the configured rule
    metrics: dict[str, float] = field(default_factory=dict)


class Aggregator(Protocol):
    def spec(self) -> dict[str, Any]:
        """JSON-ready description; `aggregator_from_spec(spec())` rebuilds an equal one."""
        ...

    def aggregate(
        self, round_id: int, global_arrays: Mapping[str, np.ndarray], valid: Sequence[ValidUpdate]
    ) -> AggregateResult:
        """Aggregate at least one valid update (the engine keeps the model when none)."""
        ...


# The largest f each rule tolerates for n updates (its precondition).
_F_LIMIT = {
    "krum": lambda n: (n - 3) // 2,
    "multi_krum": lambda n: (n - 3) // 2,
    "bulyan": lambda n: (n - 3) // 4,
    "trimmed_mean": lambda n: (n - 1) // 2,
}


def _rule_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in AGGREGATORS:
        raise ValueError(f"unknown aggregation rule {name!r}; known: {', '.join(AGGREGATORS)}")
    return key


@dataclass(frozen=True)
class RuleAggregator:
    """A rule of `strategies.aggregators` with Byzantine budget `f`, on update deltas."""

    rule: str
    f: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", _rule_name(self.rule))
        if isinstance(self.f, bool) or not isinstance(self.f, int) or self.f < 0:
            raise ValueError(f"f must be a non-negative int, got {self.f!r}")

    def spec(self) -> dict[str, Any]:
        return {"kind": "rule", "rule": self.rule, "f": self.f}

    def aggregate(
        self, round_id: int, global_arrays: Mapping[str, np.ndarray], valid: Sequence[ValidUpdate]
    ) -> AggregateResult:
        layout = ModelLayout.of(global_arrays)
        g = flatten(global_arrays, layout)
        deltas = np.stack([v.weights for v in valid]) - g
        n = len(valid)
        f = self.f
        if self.rule in _F_LIMIT and f > _F_LIMIT[self.rule](n):
            return self._median(
                g, deltas, layout, f"{self.rule} needs more than {n} updates for f={f}"
            )
        try:
            out = np.asarray(aggregate(self.rule, deltas, f=f), dtype=np.float64)
        except AggregationError as exc:
            return self._median(g, deltas, layout, str(exc))
        return AggregateResult(unflatten_arrays(g + out, layout))

    @staticmethod
    def _median(
        g: np.ndarray, deltas: np.ndarray, layout: ModelLayout, why: str
    ) -> AggregateResult:
        out = np.asarray(aggregate("median", deltas), dtype=np.float64)
        return AggregateResult(unflatten_arrays(g + out, layout), fallback=f"median: {why}")


def state_of(aggregator: Aggregator) -> dict[str, np.ndarray]:
    """A stateful aggregator's state carried into the next round (centered clipping's
    centre); {} for the stateless ones. The engine commits it in each round's manifest so
    `verify` can re-run the round from it."""
    get = getattr(aggregator, "state", None)
    return dict(get()) if callable(get) else {}


def load_state(aggregator: Aggregator, state: Mapping[str, np.ndarray]) -> None:
    """Restore `state_of` (after a crash, or in `verify`); a stateless aggregator given a
    non-empty state is an error."""
    load = getattr(aggregator, "load_state", None)
    if callable(load):
        load(state)
    elif state:
        raise ValueError(f"aggregator {aggregator.spec()} keeps no state, got {sorted(state)}")


def aggregator_from_spec(spec: Mapping[str, Any]) -> Aggregator:
    """Rebuild an aggregator from a manifest's spec (an unknown kind is an error)."""
    kind = spec.get("kind")
    if kind == "rule":
        return RuleAggregator(str(spec["rule"]), int(spec.get("f", 0)))
    if kind == "flower":
        from federation.flower.inner import InnerStrategyAggregator

        return InnerStrategyAggregator.from_spec(spec)
    raise ValueError(f"unknown aggregator kind {kind!r} in spec {dict(spec)}")
