"""Input checks and small helpers shared by both scorers (`strategies.scoring`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def deltas_from_weights(weights: np.ndarray, global_model: np.ndarray) -> np.ndarray:
    """(n, d) full local weights → (n, d) float64 deltas against the (d,) global model."""
    w = np.asarray(weights, dtype=np.float64)
    g = np.asarray(global_model, dtype=np.float64).reshape(-1)
    if w.ndim != 2 or w.shape[1] != g.shape[0]:
        raise ValueError(f"weights {w.shape} do not match global model ({g.shape[0]},)")
    return w - g


def as_matrix(updates: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """A float64 copy of `updates`, checked: non-empty (n, d), one unique id per row, finite."""
    u = np.array(updates, dtype=np.float64, copy=True)
    if u.ndim != 2 or u.shape[0] == 0 or u.shape[1] == 0:
        raise ValueError(f"updates must be a non-empty (n, d) matrix, got shape {u.shape}")
    if u.shape[0] != len(ids):
        raise ValueError(f"{u.shape[0]} updates but {len(ids)} participant ids")
    if len(set(ids)) != len(ids):
        raise ValueError("participant ids must be unique (compared as str)")
    if not np.all(np.isfinite(u)):
        raise ValueError("non-finite update: exclude it as MALFORMED before scoring")
    return u


def as_reference(reference: np.ndarray | None, d: int) -> np.ndarray | None:
    """The server's validation update as a finite float64 (d,) vector (None stays None)."""
    if reference is None:
        return None
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    if r.shape != (d,):
        raise ValueError(f"reference update has {r.shape[0]} values, the updates have {d}")
    if not np.all(np.isfinite(r)):
        raise ValueError("reference update is not finite")
    return r


def ratio(x: np.ndarray, ref: float) -> np.ndarray:
    """x / ref; with ref = 0: 0 where x is 0, inf elsewhere."""
    if ref > 0:
        return x / ref
    return np.where(x == 0, 0.0, np.inf)
