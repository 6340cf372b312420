"""Drop-in robust strategies, one per rule of `strategies.aggregators`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from strategies.flower.robust import RobustStrategy


class Median(RobustStrategy):
    """Coordinate-wise median (Yin et al. 2018); even n averages the two middle values."""

    rule_name = "median"


class TrimmedMean(RobustStrategy):
    """Coordinate-wise trimmed mean dropping `num_malicious` values per side."""

    rule_name = "trimmed_mean"


class Krum(RobustStrategy):
    """Krum (Blanchard et al. 2017), n − f − 2 nearest others; needs n > 2f + 2."""

    rule_name = "krum"


class MultiKrum(RobustStrategy):
    """Multi-Krum: unweighted mean of the m best Krum scores (m defaults to n − f)."""

    rule_name = "multi_krum"

    def __init__(self, *, num_to_select: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_to_select is not None:
            self.aggregator_kwargs["m"] = num_to_select


class Bulyan(RobustStrategy):
    """Bulyan (El Mhamdi et al. 2018); needs n ≥ 4f + 3."""

    rule_name = "bulyan"


class GeometricMedian(RobustStrategy):
    """Geometric median (RFA) by smoothed Weiszfeld to tolerance."""

    rule_name = "geometric_median"


class CenteredClipping(RobustStrategy):
    """Centered clipping (Karimireddy, He & Jaggi, ICML 2021) around the previous aggregate
    update: v ← v + (1/n) Σ (x_i − v)·min(1, τ/‖x_i − v‖), `iters` times.

    Stateful: v_0 of round t is the aggregate update of round t − 1 (zero at first); it is
    the strategy's `state()`, so a round can be re-run (`fedstake verify`) from it.
    τ: a fixed radius, or None (default) for an adaptive one, the round's median distance
    ‖x_i − v_0‖ — a fixed τ means nothing across models and learning rates (update norms
    here range over 10⁻¹…10¹), and the median distance clips every update farther than the
    typical honest one whatever the scale.
    """

    rule_name = "centered_clipping"

    def __init__(self, *, tau: float | None = None, iters: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if tau is not None and not (np.isfinite(tau) and tau > 0):
            raise ValueError(f"centered clipping: tau must be finite and > 0 or None, not {tau}")
        self.tau = tau
        self.iters = iters
        self.previous: np.ndarray | None = None

    def rule_kwargs(self, updates: np.ndarray) -> dict[str, Any]:
        center = self.previous
        if center is None or center.shape != (updates.shape[1],):
            center = np.zeros(updates.shape[1])
        tau = self.tau
        if tau is None:
            distances = np.linalg.norm(updates - center, axis=1)
            tau = float(np.median(distances)) or 1.0  # all updates at the centre: no clipping
        return {**self.aggregator_kwargs, "center": center, "tau": tau, "iters": self.iters}

    def after_aggregate(self, aggregate_update: np.ndarray) -> None:
        self.previous = aggregate_update.copy()

    def state(self) -> dict[str, np.ndarray]:
        return {} if self.previous is None else {"center": self.previous.copy()}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        center = state.get("center")
        self.previous = None if center is None else np.asarray(center, dtype=np.float64).copy()
