"""Byzantine-robust aggregation rules over an (n, d) matrix of flattened updates.

Every rule:

* takes a float32/float64 numpy array or CPU torch tensor of shape (n, d) and returns the
  1-D aggregate in the same library and dtype (``nnm`` returns (n, d));
* checks its precondition up front and raises :class:`AggregationError` (a ValueError);
* rejects NaN/inf rows (exclude them before aggregating);
* never writes to its input and is deterministic (bit-identical output for the same
  input: fixed work partition, fixed reduction order, stable tie rules).

Conventions (see strategies/BENCHMARKS.md for how they relate to Flower/numpy/scipy):
Krum uses the paper's n-f-2 nearest *others*; ties go to the lowest index; even-n median
is the mean of the two middle values; trimmed mean drops exactly f per side.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from strategies import _kernels as kern
from strategies import distances as _dist
from strategies.distances import GramResult
from strategies.validation import (
    AggregationError,
    Prepared,
    check_byzantine_count,
    check_weights,
    prepare,
    wrap_like,
)

__all__ = [
    "AGGREGATORS",
    "AggregationError",
    "GeometricMedianResult",
    "aggregate",
    "bulyan",
    "centered_clipping",
    "geometric_median",
    "geometric_median_with_info",
    "krum",
    "krum_scores",
    "krum_select",
    "mean",
    "median",
    "multi_krum",
    "nnm",
    "trimmed_mean",
]


def _prepare_gram(updates: Any) -> Prepared:
    """Validate shape/dtype only: Gram-based rules detect NaN/inf from the Gram diagonal,
    mean/centered clipping from their float64 sums, median/trimmed mean while sorting
    (same error message), which saves a full pass over the data."""
    return prepare(updates, check_finite=False)


def distances_and_gram(X: np.ndarray) -> tuple[np.ndarray, GramResult]:
    """``strategies.distances.distances_and_gram`` with its O(n²) numpy epilogue (the
    finiteness test, D from the Gram matrix, the test for pairs to refine) in one compiled
    call: the same numbers (tested bit-identical), ~25 µs less per call, which matters at
    the lab's sizes.  The rare paths stay in ``distances``: NaN/inf rows or a float32
    overflow (non-finite Gram) and pairs that need refining."""
    use64 = X.dtype == np.float64
    G = kern.centered_gram_matrix(X, np.dtype(np.float64 if use64 else np.float32))
    D, bad, finite = kern.sq_distances_from_gram(G, float(_dist.REFINE_RATIO))
    if not finite:  # raises naming the bad row, or redoes the Gram in float64
        return _dist.distances_and_gram(X)
    if bad and X.shape[0] > 1:
        D = _dist._refine(X, G, D)
    return D, GramResult(G, use64)


def _finish(out64: np.ndarray, p: Prepared) -> Any:
    return wrap_like(out64.astype(p.array.dtype, copy=False), p)


_NO_BASE = np.empty(0, dtype=np.float64)


def _combine(X: np.ndarray, rows: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, bool]:
    """(Σ_k coef[k] X[rows[k]] accumulated in float64 and rounded once to X's dtype,
    whether every sum was finite)."""
    out = np.empty(X.shape[1], dtype=X.dtype)
    ok = kern.combine_rows(
        X,
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(coef, dtype=np.float64),
        _NO_BASE,
        0.0,
        out,
    )
    return out, ok


@lru_cache(maxsize=256)
def _all_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(arange(n), full(n, 1/n)): built once per n, private (kernels only read them)."""
    return np.arange(n, dtype=np.int64), np.full(n, 1.0 / n)


# ------------------------------------------------------------------------ mean


def mean(updates: Any, weights: Any = None) -> Any:
    """(Weighted) arithmetic mean; float64 accumulation. Not robust: the baseline."""
    p = _prepare_gram(updates)
    rows, coef = _all_rows(p.n)
    if weights is not None:
        w = check_weights(weights, p.n, rule="mean")
        coef = w / w.sum()
    out, finite = _combine(p.array, rows, coef)
    if not finite:  # NaN/inf in a row reaches every float64 sum it enters
        prepare(p.array)  # raises AggregationError naming the first bad row
    return wrap_like(out, p)


def _raise_if_nonfinite(values: np.ndarray, p: Prepared) -> None:
    """NaN/inf in any row reaches every float64 sum it enters (0 * inf is NaN too), so a
    finite result proves finite input; only otherwise do we scan for the bad row.
    Tested on the sum of the values (one vectorised pass, no temporary): it is NaN or
    inf iff some value is -- or, harmlessly, if finite values overflow it, in which
    case the scan finds no bad row."""
    if not math.isfinite(float(np.add.reduce(values))):
        prepare(p.array)  # raises AggregationError naming the first bad row


# --------------------------------------------------------- coordinate-wise rules


def _coordinate(
    X: np.ndarray, rows: np.ndarray, mode: int, a: int, b: int, outputs: tuple[int, ...]
) -> np.ndarray:
    ci, cj = kern.pruned_network(int(rows.size), outputs)
    out = np.empty(X.shape[1], dtype=np.float64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if not kern.coordinate_kernel(X, rows, ci, cj, mode, a, b, out):
        prepare(X)  # NaN/inf seen while sorting: raise naming the first bad row
    return out


def median(updates: Any) -> Any:
    """Coordinate-wise median; even n -> mean of the two middle values (breakdown 1/2)."""
    p = _prepare_gram(updates)  # NaN/inf are detected by the sorting kernel
    n = p.n
    lo, hi = (n - 1) // 2, n // 2
    out = _coordinate(p.array, _all_rows(n)[0], kern.MODE_MEDIAN, lo, hi, tuple(sorted({lo, hi})))
    return _finish(out, p)


def trimmed_mean(updates: Any, f: int) -> Any:
    """Per coordinate, drop the f largest and f smallest values and average the rest
    (Yin et al. 2018); needs n > 2f."""
    p = _prepare_gram(updates)  # NaN/inf are detected by the sorting kernel (or mean)
    f = check_byzantine_count(f, p.n, rule="trimmed_mean", need="n > 2f", ok=p.n > 2 * f)
    n = p.n
    if f == 0:
        return mean(updates)
    out = _coordinate(p.array, _all_rows(n)[0], kern.MODE_TRIMMED, f, n - f, tuple(range(f, n - f)))
    return _finish(out, p)


# ------------------------------------------------------------------ Krum family


def _krum_scores_from_d(D: np.ndarray, f: int, *, clamp: bool = False) -> np.ndarray:
    n = D.shape[0]
    k = max(1, n - f - 2) if clamp else n - f - 2
    off = np.sort(D.ravel()[_off_diagonal(n)], axis=1)  # (n, n-1): distances to others
    return off[:, :k].sum(axis=1)


@lru_cache(maxsize=64)
def _off_diagonal(n: int) -> np.ndarray:
    """Flat indices of the off-diagonal entries of an (n, n) matrix, row by row."""
    idx = np.arange(n * n).reshape(n, n)[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    idx.flags.writeable = False  # shared by every call
    return idx


def _select(scores: np.ndarray, m: int) -> np.ndarray:
    return np.argsort(scores, kind="stable")[:m].astype(np.int64)


def _check_krum(p: Prepared, f: int, rule: str) -> int:
    return check_byzantine_count(f, p.n, rule=rule, need="n > 2f + 2", ok=p.n > 2 * f + 2)


def krum_scores(updates: Any, f: int) -> np.ndarray:
    """Krum score per update: sum of squared distances to its n-f-2 nearest others
    (Blanchard et al. 2017).  float64 numpy (n,) regardless of the input library."""
    p = _prepare_gram(updates)
    f = _check_krum(p, f, "krum_scores")
    D, _ = distances_and_gram(p.array)
    return _krum_scores_from_d(D, f)


def krum_select(updates: Any, f: int, m: int) -> np.ndarray:
    """Indices of the m lowest Krum scores, in score order (ties -> lowest index)."""
    p = _prepare_gram(updates)
    f = _check_krum(p, f, "krum_select")
    m = _check_m(m, p.n, "krum_select")
    D, _ = distances_and_gram(p.array)
    return _select(_krum_scores_from_d(D, f), m)


def _check_m(m: Any, n: int, rule: str) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
        raise AggregationError(f"{rule}: m must be an int in [1, n={n}], got {m!r}")
    return int(m)


def krum(updates: Any, f: int) -> Any:
    """The single update with the lowest Krum score (a copy of that row); n > 2f+2."""
    p = _prepare_gram(updates)
    f = _check_krum(p, f, "krum")
    D, _ = distances_and_gram(p.array)
    i = int(_select(_krum_scores_from_d(D, f), 1)[0])
    return wrap_like(p.array[i].copy(), p)


def multi_krum(updates: Any, f: int, m: int | None = None) -> Any:
    """Mean of the m lowest-score updates (m defaults to n-f); n > 2f+2."""
    p = _prepare_gram(updates)
    f = _check_krum(p, f, "multi_krum")
    m = _check_m(p.n - f if m is None else m, p.n, "multi_krum")
    D, _ = distances_and_gram(p.array)
    sel = np.sort(_select(_krum_scores_from_d(D, f), m))  # sum in index order
    return wrap_like(_combine(p.array, sel, np.full(m, 1.0 / m))[0], p)


def _bulyan_select(D: np.ndarray, f: int, theta: int) -> np.ndarray:
    """Iterated Krum on the remaining set (El Mhamdi et al. 2018).

    The last selections run on only 2f+1..2f+2 remaining updates, where the paper's
    n'-f-2 neighbour count drops to f-1 or below (0 would make every score 0); like
    Flower's ``aggregate_bulyan`` we use max(1, n'-f-2) neighbours there.
    """
    remaining = list(range(D.shape[0]))
    chosen: list[int] = []
    for _ in range(theta):
        idx = np.array(remaining)
        sub = D[np.ix_(idx, idx)]
        scores = _krum_scores_from_d(sub, f, clamp=True)
        best = int(_select(scores, 1)[0])
        chosen.append(remaining.pop(best))
    return np.array(chosen, dtype=np.int64)


def bulyan(updates: Any, f: int) -> Any:
    """Bulyan: θ = n-2f updates by iterated Krum, then per coordinate the mean of the
    β = θ-2f selected values closest to their median (ties -> smaller value); n ≥ 4f+3."""
    p = _prepare_gram(updates)
    f = check_byzantine_count(f, p.n, rule="bulyan", need="n >= 4f + 3", ok=p.n >= 4 * f + 3)
    theta = p.n - 2 * f
    beta = theta - 2 * f
    D, _ = distances_and_gram(p.array)
    sel = np.sort(_bulyan_select(D, f, theta))
    out = _coordinate(p.array, sel, kern.MODE_BULYAN, beta, 0, tuple(range(theta)))
    return _finish(out, p)


# ------------------------------------------------------------- geometric median


@dataclass(frozen=True)
class GeometricMedianResult:
    """Geometric median plus convergence information."""

    median: Any
    iterations: int
    converged: bool
    coefficients: np.ndarray  # z = sum_i coefficients[i] * x_i


def _optimal_data_point(G: np.ndarray, D: np.ndarray, alpha: np.ndarray) -> int:
    """Index k of an input that *is* the geometric median, or -1.

    Weiszfeld converges only sublinearly towards an optimum that sits on a data point,
    so we test the exact optimality condition first (Vardi & Zhang 2000):
    x_k is optimal iff ||Σ_{i: x_i≠x_k} α_i (x_k−x_i)/||x_k−x_i|| || ≤ Σ_{i: x_i=x_k} α_i
    (we require < so that only a unique optimum short-cuts: ties like n = 2 keep the
    order-independent Weiszfeld path from the mean), evaluated as a quadratic form in
    the centred Gram matrix (O(n²) per candidate).
    """
    dist = np.sqrt(D)
    for k in kern.optimal_point_candidates(G, dist, alpha):  # a safe screen
        same = dist[k] == 0.0
        c = np.where(same, 0.0, alpha / np.where(same, 1.0, dist[k]))
        u = -c
        u[k] += c.sum()
        r2 = max(float(u @ G @ u), 0.0)
        if np.sqrt(r2) < alpha[same].sum() * (1.0 - 1e-9):  # strict: unique optimum
            return int(k)
    return -1


def _weiszfeld_coefficients(
    G: np.ndarray, D: np.ndarray, alpha: np.ndarray, eps: float, tol: float, max_iter: int
) -> tuple[np.ndarray, int, bool]:
    """Smoothed Weiszfeld in coefficient space.

    Every iterate is a convex combination z = Σ w_i x_i, so ||z - x_i||² =
    wᵀGw - 2(Gw)_i + G_ii with the centred Gram G: each iteration costs O(n²)
    instead of two passes over the (n, d) data.  Stops when the step
    ||z_{k+1} - z_k|| <= tol * scale, scale = RMS distance to the weighted mean.
    """
    diag = np.diag(G).copy()
    w = alpha / alpha.sum()
    Gw = G @ w
    scale = float(np.sqrt(max(float(w @ diag) - float(w @ Gw), 0.0)))
    if scale == 0.0:
        return w, 0, True
    k = _optimal_data_point(G, D, alpha)
    if k >= 0:
        w = np.zeros_like(alpha)
        w[k] = 1.0
        return w, 0, True
    thresh = tol * scale
    for it in range(1, max_iter + 1):
        Gw = G @ w
        # = alpha / max(eps, ||z - x_i||), ||z - x_i||² = wᵀGw - 2 (Gw)_i + G_ii
        beta = kern.weiszfeld_beta(w @ Gw, Gw, diag, alpha, eps)
        w_new, delta = kern.weiszfeld_normalise(beta, np.add.reduce(beta), w)
        step = math.sqrt(max(delta @ G @ delta, 0.0))
        w = w_new
        if step <= thresh:
            return w, it, True
    return w, max_iter, False


def geometric_median_with_info(
    updates: Any,
    weights: Any = None,
    *,
    eps: float = 1e-8,
    tol: float = 1e-7,
    max_iter: int = 1000,
) -> GeometricMedianResult:
    """Geometric median (RFA, Pillutla et al.) by smoothed Weiszfeld from the weighted
    mean, β_i = α_i / max(eps, ||z - x_i||), run to tolerance (not a fixed 3 steps)."""
    p = _prepare_gram(updates)
    alpha = (
        np.full(p.n, 1.0)
        if weights is None
        else check_weights(weights, p.n, rule="geometric_median")
    )
    if not (eps > 0 and tol > 0 and max_iter >= 1):
        raise AggregationError("geometric_median: need eps > 0, tol > 0, max_iter >= 1")
    if p.n == 1:
        prepare(updates)  # finiteness check (no Gram computed)
        coef, it, ok = np.ones(1), 0, True
    else:
        D, g = distances_and_gram(p.array)
        coef, it, ok = _weiszfeld_coefficients(
            g.gram, D, alpha, float(eps), float(tol), int(max_iter)
        )
    nz = np.flatnonzero(coef)  # rows with zero weight are skipped
    z, _ = _combine(p.array, nz, coef[nz])
    return GeometricMedianResult(wrap_like(z, p), it, ok, coef)


def geometric_median(
    updates: Any,
    weights: Any = None,
    *,
    eps: float = 1e-8,
    tol: float = 1e-7,
    max_iter: int = 1000,
) -> Any:
    """Geometric median; see :func:`geometric_median_with_info` for iterations."""
    return geometric_median_with_info(updates, weights, eps=eps, tol=tol, max_iter=max_iter).median


# ----------------------------------------------------------- centered clipping


def centered_clipping(updates: Any, center: Any, tau: float, iters: int = 1) -> Any:
    """Centered clipping (Karimireddy et al. 2021):
    v ← v + (1/n) Σ (x_i − v)·min(1, τ/||x_i − v||), ``iters`` times, v_0 = center
    (the previous aggregate; the rule is stateful across rounds)."""
    p = _prepare_gram(updates)
    c = prepare(_as_row(center), name="center")
    if c.d != p.d:
        raise AggregationError(f"centered_clipping: center has {c.d} params, updates {p.d}")
    if not (np.isfinite(tau) and tau > 0):
        raise AggregationError(f"centered_clipping: tau must be finite and > 0, got {tau}")
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 1:
        raise AggregationError(f"centered_clipping: iters must be an int >= 1, got {iters!r}")
    X = p.array
    n = p.n
    v = c.array[0].astype(np.float64)
    rows = _all_rows(n)[0]
    d2 = np.empty(n, dtype=np.float64)
    for _ in range(int(iters)):
        kern.sq_dist_to_vector(X, v, d2)
        _raise_if_nonfinite(d2, p)
        norm = np.sqrt(d2)
        scale = np.where(norm > tau, tau / np.where(norm > 0, norm, 1.0), 1.0) / n
        v_new = np.empty(p.d, dtype=np.float64)
        kern.combine_rows(X, rows, scale, v, 1.0 - float(scale.sum()), v_new)
        v = v_new
    return _finish(v, p)


def _as_row(center: Any) -> Any:
    if hasattr(center, "reshape") and getattr(center, "ndim", 0) == 1:
        return center.reshape(1, -1)
    return center


# --------------------------------------------------------------------------- NNM


def nnm(updates: Any, f: int) -> Any:
    """Nearest-neighbour mixing (Allouah et al. 2023): y_i = mean of the n-f nearest
    neighbours of x_i (itself included, then by distance, ties -> lowest index).
    Returns (n, d) to feed any aggregator, e.g. ``krum(nnm(x, f), f)``; needs f < n/2."""
    p = _prepare_gram(updates)
    f = check_byzantine_count(f, p.n, rule="nnm", need="f < n/2", ok=2 * f < p.n)
    n = p.n
    D, _ = distances_and_gram(p.array)
    idx = np.broadcast_to(np.arange(n), (n, n))
    not_self = 1 - np.eye(n, dtype=np.int64)
    order = np.lexsort((idx, not_self, D), axis=-1)  # per row: self, then distance, index
    # the f farthest are subtracted from the total (sorted: fixed subtraction order)
    excl = np.ascontiguousarray(np.sort(order[:, n - f :], axis=1), dtype=np.int64)
    out = np.empty((n, p.d), dtype=p.array.dtype)
    kern.neighbour_means(p.array, excl, n - f, out)
    return wrap_like(out, p)


# ---------------------------------------------------------------------- registry


def _f_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(updates: Any, f: int = 0, **kw: Any) -> Any:
        return fn(updates, f, **kw)

    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    call.takes_f = True  # type: ignore[attr-defined]
    return call


def _no_f(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(updates: Any, f: int = 0, **kw: Any) -> Any:
        return fn(updates, **kw)

    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    call.takes_f = False  # type: ignore[attr-defined]
    return call


def _check_arguments(key: str, call: Callable[..., Any], kw: dict[str, Any]) -> None:
    """A missing or unknown rule argument is an AggregationError naming it, not a raw TypeError
    from deep inside the call (e.g. centered_clipping without `center` and `tau`)."""
    fn = call.__wrapped__  # type: ignore[attr-defined]
    args: tuple[Any, ...] = (None, 0) if call.takes_f else (None,)  # type: ignore[attr-defined]
    try:
        inspect.signature(fn).bind(*args, **kw)
    except TypeError as exc:
        params = [p for p in inspect.signature(fn).parameters][len(args) :]
        raise AggregationError(
            f"{key}: {exc}; its arguments are {', '.join(params) or 'none'}"
        ) from None


#: name -> callable(updates, f=..., **kw); for configs (``aggregator = "krum"``)
AGGREGATORS: dict[str, Callable[..., Any]] = {
    "mean": _no_f(mean),
    "median": _no_f(median),
    "trimmed_mean": _f_only(trimmed_mean),
    "krum": _f_only(krum),
    "multi_krum": _f_only(multi_krum),
    "bulyan": _f_only(bulyan),
    "geometric_median": _no_f(geometric_median),
    "centered_clipping": _no_f(centered_clipping),
}


def aggregate(name: str, updates: Any, f: int = 0, *, pre: str | None = None, **kw: Any) -> Any:
    """Run a registered aggregator by name; ``pre="nnm"`` applies NNM mixing first.

    Aliases: ``-`` and ``_`` are interchangeable, case-insensitive
    (``"multi-krum"``, ``"trimmed-mean"``, ``"geomed"``/``"rfa"``, ``"cc"``).
    """
    key = name.strip().lower().replace("-", "_")
    key = {
        "geomed": "geometric_median",
        "rfa": "geometric_median",
        "cc": "centered_clipping",
        "multikrum": "multi_krum",
        "trimmedmean": "trimmed_mean",
    }.get(key, key)
    if key not in AGGREGATORS:
        raise AggregationError(
            f"unknown aggregator {name!r}; known: {', '.join(sorted(AGGREGATORS))}"
        )
    if pre is not None:
        if pre.lower() != "nnm":
            raise AggregationError(f"unknown pre-aggregation {pre!r}; known: nnm")
        updates = nnm(updates, f)
    _check_arguments(key, AGGREGATORS[key], kw)
    return AGGREGATORS[key](updates, f, **kw)
