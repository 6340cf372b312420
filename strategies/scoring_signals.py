"""Per-participant anomaly signals, each a small pure function over float64 arrays.

All ties are broken towards the lower index (stable sorts, argmin), so a `verify` re-run
reproduces every number.
"""

from __future__ import annotations

import math

import numpy as np

from strategies.aggregators import krum_scores

_TINY = 1e-300
MAD_TO_SIGMA = 1.4826  # MAD of a normal sample x 1.4826 estimates its sigma


def robust_z(x: np.ndarray, floor_rel: float, ref: np.ndarray | None = None) -> np.ndarray:
    """(x - median) / (1.4826 MAD), median and MAD over the `ref` rows (default all),
    the MAD floored at floor_rel x |median| (and > 0)."""
    base = x if ref is None else x[ref]
    med = float(np.median(base))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(base - med)))
    scale = max(mad, floor_rel * abs(med), _TINY)
    return (x - med) / scale


def cosines_to(u: np.ndarray, c: np.ndarray) -> np.ndarray:
    """cos(u_i, c); 0 where either vector is exactly zero (no direction to compare)."""
    un = np.linalg.norm(u, axis=1)
    cn = float(np.linalg.norm(c))
    dots = u @ c
    denom = un * cn
    out = np.zeros(len(u), dtype=np.float64)
    ok = denom > 0
    out[ok] = np.clip(dots[ok] / denom[ok], -1.0, 1.0)
    return out


def nearest_peers(sq_dist: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest active peer of each row: (distance, index); inf / -1 when there is none."""
    n = len(sq_dist)
    d = np.array(sq_dist, dtype=np.float64, copy=True)
    d[:, ~active] = np.inf
    d[np.arange(n), np.arange(n)] = np.inf
    idx = np.argmin(d, axis=1)  # first minimum: lowest index on ties
    best = d[np.arange(n), idx]
    idx = np.where(np.isfinite(best), idx, -1)
    return np.sqrt(np.maximum(best, 0.0)), idx


def copy_ratios(nn: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Nearest-peer distance over the median nearest-peer distance of active rows."""
    ref = nn[active & np.isfinite(nn)]
    med = float(np.median(ref)) if ref.size else 0.0
    out = np.full(len(nn), np.inf)
    if med > 0:
        out = nn / med
    else:
        out[nn == 0] = 0.0
    return np.where(np.isfinite(nn), out, np.inf)


def krum_f(n: int, fraction: float) -> int:
    """Byzantine budget for the Krum signal: as assumed, capped by Krum's n > 2f + 2."""
    return max(0, min(math.ceil(fraction * n), (n - 3) // 2))


def krum_ranks(u: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Krum scores and ranks (0 = best, ties to the lower index); NaN / 0 if n < 3."""
    n = len(u)
    if n < 3:
        return np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    scores = np.asarray(krum_scores(u, f), dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    return scores, ranks


def cosine_matrix(h: np.ndarray) -> np.ndarray:
    """Pairwise cosine of rows; rows that are exactly zero are similar to nothing (0)."""
    norms = np.linalg.norm(h, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    unit = h / safe[:, None]
    cs = np.clip(unit @ unit.T, -1.0, 1.0)
    cs[norms == 0, :] = 0.0
    cs[:, norms == 0] = 0.0
    np.fill_diagonal(cs, 0.0)
    return cs


def foolsgold_weights(h: np.ndarray, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """FoolsGold (Fung et al. 2020) weights from accumulated histories, with pardoning.

    Returns (weights in [0, 1], max cosine to any peer). Where every weight would be 0
    (all histories identical: the 0/0 case) the signal carries no information, and all
    weights are 1; the per-round copy detector decides such cases.
    """
    n = len(h)
    if n < 2:
        return np.ones(n), np.zeros(n)
    cs = cosine_matrix(h)
    maxcs = cs.max(axis=1)
    pardoned = cs.copy()
    for i in range(n):
        for j in range(n):
            if i != j and maxcs[i] < maxcs[j] and maxcs[j] > 0:
                pardoned[i, j] *= maxcs[i] / maxcs[j]
    wv = np.clip(1.0 - pardoned.max(axis=1), 0.0, 1.0)
    top = float(wv.max())
    if top <= 0.0:
        return np.ones(n), maxcs
    wv = wv / top
    wv[wv >= 1.0] = 0.99
    with np.errstate(divide="ignore"):
        logit = kappa * (np.log(wv / (1.0 - wv)) + 0.5)
    logit[wv <= 0.0] = 0.0
    return np.clip(logit, 0.0, 1.0), maxcs


def peer_cosines(sq_dist: np.ndarray, norms: np.ndarray, peers: np.ndarray) -> np.ndarray:
    """Median cosine of each update to the *other* updates of the `peers` set.

    Leave-one-out by construction: a cosine to a centre that includes the update itself
    is biased towards it (a sign-flipped update still correlates with its own share of
    the median), which hides sign flips when honest updates are noisy. The Gram matrix is
    recovered from the pairwise distances, so no second pass over the (n, d) data.
    """
    n = len(norms)
    gram = (norms[:, None] ** 2 + norms[None, :] ** 2 - sq_dist) / 2.0
    denom = norms[:, None] * norms[None, :]
    cs = np.zeros((n, n), dtype=np.float64)
    ok = denom > 0
    cs[ok] = np.clip(gram[ok] / denom[ok], -1.0, 1.0)
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        others = peers.copy()
        others[i] = False
        if others.any():
            out[i] = float(np.median(cs[i, others]))
    return out


def history_copy_ratios(hist: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Copy ratio of unit-normalised histories among `eligible` rows (NaN elsewhere).

    With persistent non-IID drift, honest histories drift apart linearly in the number
    of rounds while the private noise of a sybil pair sharing one objective grows only
    with its square root: their ratio shrinks round after round.
    """
    out = np.full(len(hist), np.nan)
    idx = np.flatnonzero(eligible)
    if len(idx) < 3:
        return out
    h = hist[idx]
    unit = h / np.linalg.norm(h, axis=1)[:, None]
    gram = np.clip(unit @ unit.T, -1.0, 1.0)
    sq = np.maximum(2.0 - 2.0 * gram, 0.0)
    nn, _ = nearest_peers(sq, np.ones(len(idx), dtype=bool))
    out[idx] = copy_ratios(nn, np.ones(len(idx), dtype=bool))
    return out
