"""Drop-in robust strategies, one per rule of `strategies.aggregators`."""

from __future__ import annotations

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
    """Centered clipping (Karimireddy et al. 2021) around the previous aggregate update.

    Stateful: v_0 of round t is the aggregate update of round t − 1 (zero at first).
    """

    rule_name = "centered_clipping"

    def __init__(self, *, tau: float = 10.0, iters: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tau = tau
        self.iters = iters
        self.previous: np.ndarray | None = None

    def rule_kwargs(self, updates: np.ndarray) -> dict[str, Any]:
        center = self.previous
        if center is None or center.shape != (updates.shape[1],):
            center = np.zeros(updates.shape[1])
        return {**self.aggregator_kwargs, "center": center, "tau": self.tau, "iters": self.iters}

    def after_aggregate(self, aggregate_update: np.ndarray) -> None:
        self.previous = aggregate_update.copy()
