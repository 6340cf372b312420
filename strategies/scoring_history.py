"""Evidence across rounds: per-identity residual histories and the tests run on them.

A residual is an update minus the round's robust centre, scaled by the round's median
residual norm so every round weighs the same, and accumulated per identity with momentum
(in count-sketch space, `strategies.scoring_state`). Honest non-IID drift is real but it
differs per client, so honest histories stay spread apart; colluders who share an
objective — an ALIE/IPM shift, a flipped label map, a backdoor — share a component that
grows linearly with the rounds while their private noise (their own training, jitter)
grows with its square root. So coordination shows up in the histories even when every
single round looks honest (FoolsGold, Fung et al. 2020, on residuals instead of raw
updates, so the common honest direction does not make everybody look alike).
"""

from __future__ import annotations

import numpy as np

from strategies.scoring_signals import cosine_matrix


def accumulate(previous: np.ndarray | None, residual: np.ndarray, momentum: float) -> np.ndarray:
    """h ← momentum · h + r (h = r for an identity's first round)."""
    if previous is None:
        return residual.copy()
    return momentum * previous + residual


def scaled_residuals(sketched: np.ndarray, centre: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(sketched updates − sketched centre) / median residual norm of the `ref` rows."""
    r = sketched - centre
    scale = float(np.median(np.linalg.norm(r[ref], axis=1))) if ref.any() else 0.0
    return r / scale if scale > 0 else r


def groups(edges: np.ndarray) -> np.ndarray:
    """Connected components of a symmetric boolean (n, n) adjacency: the component id of
    each row is its lowest member's index (so ids are deterministic)."""
    n = len(edges)
    label = np.arange(n)
    for i in range(n):  # union-find by relabelling: n is a round's participants
        for j in np.flatnonzero(edges[i]):
            a, b = label[i], label[j]
            if a != b:
                lo, hi = min(a, b), max(a, b)
                label[label == hi] = lo
    return label


def coordination(
    hist: np.ndarray, eligible: np.ndarray, same_group: np.ndarray, partners: int
) -> np.ndarray:
    """The `partners`-th largest cosine of each eligible history to the other eligible
    identities outside its own sybil group: high only when that many others share its
    direction. One partner is FoolsGold's max; honest non-IID clients with the same
    dominant labels come in pairs, colluders in groups (NaN where undefined)."""
    out = np.full(len(hist), np.nan)
    idx = np.flatnonzero(eligible)
    if len(idx) < 2:
        return out
    cs = cosine_matrix(centred(hist[idx]))
    mask = same_group[np.ix_(idx, idx)]
    cs = np.where(mask, -np.inf, cs)
    np.fill_diagonal(cs, -np.inf)
    k = min(partners, len(idx) - 1)
    kth = -np.sort(-cs, axis=1)[:, k - 1]
    out[idx] = np.where(np.isfinite(kth), kth, np.nan)
    return out


def centred(h: np.ndarray) -> np.ndarray:
    """Histories minus their mean. Under non-IID data the robust centre is biased the same
    way for everybody (most clients lack a given class, so the coordinate-wise median
    ignores it), which gives every residual a shared component and makes honest histories
    look alike (measured: median max cosine 0.5 among honest clients at Dirichlet 0.3);
    removing the mean keeps what a group shares beyond what everybody shares."""
    return h - np.median(h, axis=0, keepdims=True)


def near_identical(hist: np.ndarray, eligible: np.ndarray, threshold: float) -> np.ndarray:
    """(n, n) boolean: both eligible and their histories' cosine ≥ `threshold`."""
    n = len(hist)
    out = np.zeros((n, n), dtype=bool)
    idx = np.flatnonzero(eligible)
    if len(idx) < 2:
        return out
    cs = cosine_matrix(hist[idx])
    np.fill_diagonal(cs, 0.0)
    out[np.ix_(idx, idx)] = cs >= threshold
    return out
