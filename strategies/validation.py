"""Input checks shared by the aggregators.

Every rule validates its input up front so that a bad update fails loudly with a
clear message instead of silently poisoning a sort or a Gram matrix (NaN sorts last,
``topk`` puts it first, medians return NaN ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AggregationError",
    "Prepared",
    "check_byzantine_count",
    "check_weights",
    "prepare",
    "wrap_like",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class AggregationError(ValueError):
    """Raised when updates or parameters violate an aggregator's precondition."""


@dataclass(frozen=True)
class Prepared:
    """A validated (n, d) C-contiguous numpy view plus how to convert results back."""

    array: np.ndarray
    is_torch: bool

    @property
    def n(self) -> int:
        return int(self.array.shape[0])

    @property
    def d(self) -> int:
        return int(self.array.shape[1])


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _as_numpy(updates: Any) -> tuple[np.ndarray, bool]:
    if _is_torch(updates):
        if updates.device.type != "cpu":
            raise AggregationError(
                f"torch input must live on the CPU, got device {updates.device}; call .cpu()"
            )
        # .numpy() shares memory with the tensor: zero copy, so we must never write to it.
        return updates.detach().numpy(), True
    if isinstance(updates, np.ndarray):
        return updates, False
    raise AggregationError(
        f"updates must be a numpy array or a torch tensor, got {type(updates).__name__}"
    )


def prepare(updates: Any, *, name: str = "updates", check_finite: bool = True) -> Prepared:
    """Validate an (n, d) float32/float64 matrix of flattened updates.

    Returns a C-contiguous numpy view (zero-copy when already contiguous) that callers
    must treat as read-only.
    """
    arr, is_torch = _as_numpy(updates)
    if arr.ndim != 2:
        raise AggregationError(
            f"{name} must be 2-D (n_updates, n_params), got shape {tuple(arr.shape)}"
        )
    n, d = arr.shape
    if n < 1 or d < 1:
        raise AggregationError(f"{name} is empty: shape {tuple(arr.shape)}")
    if arr.dtype not in _FLOAT_DTYPES:
        raise AggregationError(
            f"{name} must be float32 or float64, got {arr.dtype}; cast it explicitly"
        )
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if check_finite:
        from strategies._kernels import first_nonfinite_row

        bad = first_nonfinite_row(arr)
        if bad >= 0:
            raise AggregationError(
                f"{name} row {bad} contains NaN or infinity; exclude non-finite updates "
                "before aggregating"
            )
    return Prepared(arr, is_torch)


def wrap_like(result: np.ndarray, prepared: Prepared) -> Any:
    """Return ``result`` in the input's library (torch in -> torch out)."""
    if prepared.is_torch:
        import torch

        return torch.from_numpy(np.ascontiguousarray(result))
    return result


def check_byzantine_count(f: Any, n: int, *, rule: str, need: str, ok: bool) -> int:
    """Check that f is a non-negative int and the rule's precondition ``ok`` holds."""
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)):
        raise AggregationError(f"{rule}: f must be an int, got {type(f).__name__}")
    if f < 0:
        raise AggregationError(f"{rule}: f must be >= 0, got {f}")
    if not ok:
        raise AggregationError(f"{rule} needs {need}; got n={n}, f={f}")
    return int(f)


def check_weights(weights: Any, n: int, *, rule: str) -> np.ndarray:
    """Validate non-negative finite weights with a positive sum; returns float64 (n,)."""
    raw = weights.detach().cpu().numpy() if _is_torch(weights) else weights
    try:
        w = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AggregationError(f"{rule}: weights must be numeric, got {type(weights)}") from exc
    if w.ndim != 1 or w.shape[0] != n:
        raise AggregationError(f"{rule}: weights must have shape ({n},), got {tuple(w.shape)}")
    if not np.all(np.isfinite(w)):
        raise AggregationError(f"{rule}: weights must be finite")
    if np.any(w < 0):
        raise AggregationError(f"{rule}: weights must be non-negative")
    total = float(w.sum())
    if not total > 0.0:
        raise AggregationError(f"{rule}: weights must have a positive sum")
    return w
