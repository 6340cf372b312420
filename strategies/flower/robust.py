"""`RobustStrategy`: Flower's FedAvg plumbing with a robust rule over validated updates.

Sampling and message construction are FedAvg's. Aggregation differs in three ways:
each reply is validated on its own (bad ones are excluded and recorded, the run goes
on); the rule runs on *updates* (reply − global model), which makes centered clipping
and NNM meaningful and is equivalent for translation-equivariant rules; and client-
reported example counts are not used as weights (a Byzantine client can inflate them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from logging import INFO, WARNING
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.common.logger import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from strategies.aggregators import aggregate, median, nnm
from strategies.flower.arrays import ModelLayout, flatten, unflatten
from strategies.flower.replies import Excluded, ValidReply, stack_updates, validate_replies
from strategies.validation import AggregationError

Rule = Callable[[np.ndarray], np.ndarray]


class RobustStrategy(FedAvg):
    """Robust aggregation by a named rule of `strategies.aggregators` (or a callable).

    `num_malicious` is the f of the rule. When too few replies remain for the rule's
    precondition (e.g. Krum needs n > 2f + 2), the round falls back to the coordinate-wise
    median (breakdown 1/2) and says so in the metrics (`fallback` = 1).
    `pre="nnm"` applies nearest-neighbour mixing first. Exclusions per round are kept in
    `self.exclusions[server_round]`.
    """

    rule_name: str = "median"

    def __init__(
        self,
        aggregator: str | Rule | None = None,
        *,
        num_malicious: int = 0,
        pre: str | None = None,
        aggregator_kwargs: Mapping[str, Any] | None = None,
        **fedavg_kwargs: Any,
    ) -> None:
        super().__init__(**fedavg_kwargs)
        if isinstance(num_malicious, bool) or not isinstance(num_malicious, int):
            raise ValueError(f"num_malicious must be an int, got {num_malicious!r}")
        if num_malicious < 0:
            raise ValueError("num_malicious must be ≥ 0")
        if aggregator is not None and not (isinstance(aggregator, str) or callable(aggregator)):
            raise TypeError(f"aggregator must be a rule name or a callable, got {aggregator!r}")
        if pre is not None and pre.lower() != "nnm":
            raise ValueError(f"unknown pre-aggregation {pre!r}; known: nnm")
        self.aggregator = aggregator if aggregator is not None else self.rule_name
        self.num_malicious = num_malicious
        self.pre = pre
        self.aggregator_kwargs = dict(aggregator_kwargs or {})
        self.global_arrays: ArrayRecord | None = None
        self.exclusions: dict[int, list[Excluded]] = {}

    # ------------------------------------------------------------------ hooks

    def set_global_arrays(self, arrays: ArrayRecord) -> None:
        """The model the next replies were trained from (set by `configure_train`)."""
        self.global_arrays = arrays

    def aggregate_matrix(self, updates: np.ndarray) -> np.ndarray:
        """The robust rule on an (n, d) float64 matrix of updates → (d,) float64."""
        u = nnm(updates, self.num_malicious) if self.pre else updates
        if callable(self.aggregator):
            out = self.aggregator(u)
        else:
            out = aggregate(self.aggregator, u, self.num_malicious, **self.rule_kwargs(u))
        return np.asarray(out, dtype=np.float64)

    def rule_kwargs(self, updates: np.ndarray) -> dict[str, Any]:
        """Extra keyword arguments of the rule for this round (overridden by rules)."""
        return dict(self.aggregator_kwargs)

    def after_aggregate(self, aggregate_update: np.ndarray) -> None:
        """Called with the round's aggregate update (stateful rules keep it)."""

    def state(self) -> dict[str, np.ndarray]:
        """What a stateful rule carries into the next round ({}: stateless)."""
        return {}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore `state()` (a journal after a crash, `verify` re-running a round)."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    # ------------------------------------------------------------ Flower API

    def summary(self) -> None:
        name = self.aggregator if isinstance(self.aggregator, str) else "custom"
        log(INFO, "\t├──> Robust rule: %s, f = %d, pre = %s", name, self.num_malicious, self.pre)
        super().summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self.set_global_arrays(arrays)
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        if self.global_arrays is None:
            raise RuntimeError("aggregate_train before configure_train / set_global_arrays")
        valid, excluded = validate_replies(
            list(replies), self.global_arrays, num_examples_key=self.weighted_by_key
        )
        self.exclusions[server_round] = excluded
        for e in excluded:
            log(
                WARNING,
                "round %d: excluded node %d (%s: %s)",
                server_round,
                e.node_id,
                e.code,
                e.detail,
            )
        log(INFO, "aggregate_train: %d valid, %d excluded replies", len(valid), len(excluded))
        if not valid:
            return None, None
        layout = ModelLayout.of(self.global_arrays)
        g = flatten(self.global_arrays, layout)
        updates = stack_updates(valid, self.global_arrays)
        fallback = 0
        try:
            agg = self.aggregate_matrix(updates)
        except AggregationError as err:
            log(WARNING, "round %d: %s; falling back to the median", server_round, err)
            agg = np.asarray(median(updates), dtype=np.float64)
            fallback = 1
        self.after_aggregate(agg)
        arrays = unflatten(g + agg, layout)
        metrics = self._train_metrics(valid)
        metrics["num-valid"] = len(valid)
        metrics["num-excluded"] = len(excluded)
        metrics["fallback"] = fallback
        return arrays, metrics

    def _train_metrics(self, valid: list[ValidReply]) -> MetricRecord:
        try:
            return self.train_metrics_aggr_fn(
                [r.message.content for r in valid], self.weighted_by_key
            )
        except Exception as err:  # client metrics are untrusted input: never abort on them
            log(WARNING, "train metrics not aggregated: %s", err)
            return MetricRecord()

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Like FedAvg, but replies without one MetricRecord holding a positive int
        example count and finite numbers are skipped rather than aborting the run."""
        good = []
        for msg in replies:
            if msg.has_error():
                continue
            records = list(msg.content.metric_records.values())
            if len(records) != 1:
                continue
            count = records[0].get(self.weighted_by_key)
            if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
                continue
            values = [v for v in records[0].values() if not isinstance(v, list)]
            if not all(np.isfinite(float(v)) for v in values):
                continue
            good.append(msg.content)
        if not good:
            return None
        try:
            return self.evaluate_metrics_aggr_fn(good, self.weighted_by_key)
        except Exception as err:
            log(WARNING, "evaluate metrics not aggregated: %s", err)
            return None
