"""Numba kernels behind the aggregators.

Design rules (why the code looks like this):

* Work is split over *fixed* column blocks (a function of d only, never of the thread
  count or timing) and every column / row is reduced in a fixed sequential order, so the
  same input gives bit-identical output on every run.
* Coordinate-wise rules (median, trimmed mean, Bulyan) sort each column with a sorting
  network applied *across* a tile of columns: a comparator (i, j) becomes an elementwise
  min/max of two contiguous rows of the tile, which the compiler vectorises (SIMD over
  columns).  No transposition is needed and a 50 x 128 float32 tile stays in L1.
* Sums over d accumulate in float64.
* ``cache=True`` so the JIT cost is paid once per machine; ``nogil=True`` so the Gram
  computation can overlap numba and BLAS calls from Python threads.
"""

from __future__ import annotations

from functools import lru_cache

import numba as nb
import numpy as np

TILE = 128  # columns per tile in the coordinate-wise kernels
_FM = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: inputs are checked anyway

MODE_MEDIAN = 0
MODE_TRIMMED = 1
MODE_BULYAN = 2


def _n_blocks(n_units: int) -> int:
    """Fixed work partition: depends on the problem size only (determinism)."""
    return max(1, min(n_units, 64))


# --------------------------------------------------------------------------- checks


@nb.njit(parallel=True, cache=True, nogil=True)
def _nonfinite_rows(X: np.ndarray, fmax: float, flags: np.ndarray) -> None:
    n, d = X.shape
    lim = X.dtype.type(fmax)
    for i in nb.prange(n):
        xr = X[i]
        cnt = 0
        for c in range(d):
            cnt += 0 if abs(xr[c]) <= lim else 1  # NaN compares False -> counted
        flags[i] = cnt != 0


def first_nonfinite_row(X: np.ndarray) -> int:
    """Index of the first row containing NaN/inf, or -1."""
    flags = np.zeros(X.shape[0], dtype=np.bool_)
    _nonfinite_rows(X, float(np.finfo(X.dtype).max), flags)
    hits = np.flatnonzero(flags)
    return int(hits[0]) if hits.size else -1


# ------------------------------------------------------------- sorting networks


@lru_cache(maxsize=256)
def batcher_network(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher odd-even merge sort comparators for n inputs (padding to a power of 2
    with +inf and dropping comparators that touch the padding is exact)."""
    p2 = 1
    while p2 < n:
        p2 *= 2
    comps: list[tuple[int, int]] = []
    p = 1
    while p < p2:
        k = p
        while k >= 1:
            j = k % p
            while j <= p2 - 1 - k:
                for i in range(min(k, p2 - j - k)):
                    a = i + j
                    b = i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        comps.append((a, b))
                j += 2 * k
            k //= 2
        p *= 2
    return tuple(comps)


@lru_cache(maxsize=1024)
def pruned_network(n: int, outputs: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Comparators of the sorting network that can influence the given output slots."""
    needed = set(outputs)
    keep: list[tuple[int, int]] = []
    for a, b in reversed(batcher_network(n)):
        if a in needed or b in needed:
            keep.append((a, b))
            needed.add(a)
            needed.add(b)
    keep.reverse()
    ci = np.array([a for a, _ in keep], dtype=np.int64)
    cj = np.array([b for _, b in keep], dtype=np.int64)
    return ci, cj


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def coordinate_kernel(
    X: np.ndarray,
    rows: np.ndarray,
    ci: np.ndarray,
    cj: np.ndarray,
    mode: int,
    a: int,
    b: int,
    out: np.ndarray,
) -> None:
    """Per column: sort X[rows, c] with the comparator network, then reduce.

    mode 0 (median): out = (s[a] + s[b]) / 2
    mode 1 (trimmed): out = mean(s[a:b])
    mode 2 (Bulyan): out = mean of the a values closest to the median of s
                     (ties -> the smaller value), summed in sorted order.
    """
    m = rows.shape[0]
    d = X.shape[1]
    ntiles = (d + TILE - 1) // TILE
    nblk = min(ntiles, 64)
    ncomp = ci.shape[0]
    for blk in nb.prange(nblk):
        t0 = blk * ntiles // nblk
        t1 = (blk + 1) * ntiles // nblk
        buf = np.empty((m, TILE), dtype=X.dtype)
        for t in range(t0, t1):
            c0 = t * TILE
            w = min(TILE, d - c0)
            for r in range(m):
                src = rows[r]
                for c in range(w):
                    buf[r, c] = X[src, c0 + c]
            for q in range(ncomp):
                i = ci[q]
                j = cj[q]
                bi = buf[i]
                bj = buf[j]
                for c in range(w):
                    x = bi[c]
                    y = bj[c]
                    bi[c] = x if x < y else y
                    bj[c] = y if x < y else x
            if mode == 0:
                for c in range(w):
                    out[c0 + c] = (np.float64(buf[a, c]) + np.float64(buf[b, c])) * 0.5
            elif mode == 1:
                inv = 1.0 / (b - a)
                for c in range(w):
                    acc = 0.0
                    for r in range(a, b):
                        acc += np.float64(buf[r, c])
                    out[c0 + c] = acc * inv
            else:
                beta = a
                for c in range(w):
                    med = (np.float64(buf[(m - 1) // 2, c]) + np.float64(buf[m // 2, c])) * 0.5
                    lo = (m - 1) // 2
                    hi = lo + 1
                    for _ in range(beta):
                        if hi >= m or (
                            lo >= 0 and med - np.float64(buf[lo, c]) <= np.float64(buf[hi, c]) - med
                        ):
                            lo -= 1
                        else:
                            hi += 1
                    acc = 0.0
                    for r in range(lo + 1, hi):
                        acc += np.float64(buf[r, c])
                    out[c0 + c] = acc / beta


# ----------------------------------------------------------------- row combos


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def combine_rows(
    X: np.ndarray,
    rows: np.ndarray,
    coef: np.ndarray,
    base: np.ndarray,
    base_coef: float,
    out: np.ndarray,
) -> None:
    """out[c] = base_coef * base[c] + sum_k coef[k] * X[rows[k], c]  (float64 accumulation,
    rows in the given order).  ``base`` may be empty when base_coef == 0."""
    d = X.shape[1]
    m = rows.shape[0]
    ntiles = (d + 1023) // 1024
    nblk = min(ntiles, 64)
    use_base = base_coef != 0.0
    for blk in nb.prange(nblk):
        c_start = (blk * ntiles // nblk) * 1024
        c_stop = min(d, ((blk + 1) * ntiles // nblk) * 1024)
        acc = np.empty(1024, dtype=np.float64)
        for c0 in range(c_start, c_stop, 1024):
            w = min(1024, c_stop - c0)
            if use_base:
                for c in range(w):
                    acc[c] = base_coef * base[c0 + c]
            else:
                for c in range(w):
                    acc[c] = 0.0
            for k in range(m):
                ck = coef[k]
                r = rows[k]
                for c in range(w):
                    acc[c] += ck * np.float64(X[r, c0 + c])
            for c in range(w):
                out[c0 + c] = acc[c]


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def sq_dist_to_vector(X: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out[i] = ||X[i] - v||^2 in float64 (fixed 8-lane accumulation order per row)."""
    n, d = X.shape
    for i in nb.prange(n):
        acc = np.zeros(8, dtype=np.float64)
        c = 0
        while c + 8 <= d:
            for k in range(8):
                t = np.float64(X[i, c + k]) - v[c + k]
                acc[k] += t * t
            c += 8
        tail = 0.0
        while c < d:
            t = np.float64(X[i, c]) - v[c]
            tail += t * t
            c += 1
        out[i] = (
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
        )


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def pair_sq_dists(X: np.ndarray, pi: np.ndarray, pj: np.ndarray, out: np.ndarray) -> None:
    """Direct float64 ||X[pi[k]] - X[pj[k]]||^2 for a list of pairs (refinement path)."""
    d = X.shape[1]
    for k in nb.prange(pi.shape[0]):
        i = pi[k]
        j = pj[k]
        acc = np.zeros(8, dtype=np.float64)
        c = 0
        while c + 8 <= d:
            for q in range(8):
                t = np.float64(X[i, c + q]) - np.float64(X[j, c + q])
                acc[q] += t * t
            c += 8
        tail = 0.0
        while c < d:
            t = np.float64(X[i, c]) - np.float64(X[j, c])
            tail += t * t
            c += 1
        out[k] = (
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
        )


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def center_chunk(X: np.ndarray, c0: int, c1: int, buf: np.ndarray) -> None:
    """buf[:, :c1-c0] = X[:, c0:c1] - column mean (mean accumulated in float64, then
    rounded to X's dtype so the subtraction is exact for nearby values).  ``buf`` must
    be C-contiguous with at least c1-c0 columns (so the loops vectorise)."""
    n = X.shape[0]
    w = c1 - c0
    mu = np.zeros(w, dtype=np.float64)
    for r in range(n):
        xr = X[r, c0:c1]
        for c in range(w):
            mu[c] += xr[c]
    inv = 1.0 / n
    mu32 = np.empty(w, dtype=X.dtype)
    for c in range(w):
        mu32[c] = mu[c] * inv
    for r in range(n):
        xr = X[r, c0:c1]
        br = buf[r]
        for c in range(w):
            br[c] = xr[c] - mu32[c]


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def center_chunk_f64(X: np.ndarray, c0: int, c1: int, buf: np.ndarray) -> None:
    """Like center_chunk but writes float64 differences (exact for float32 input)."""
    n = X.shape[0]
    w = c1 - c0
    mu = np.zeros(w, dtype=np.float64)
    for r in range(n):
        xr = X[r, c0:c1]
        for c in range(w):
            mu[c] += xr[c]
    inv = 1.0 / n
    for c in range(w):
        mu[c] = np.float64(X.dtype.type(mu[c] * inv))
    for r in range(n):
        xr = X[r, c0:c1]
        br = buf[r]
        for c in range(w):
            br[c] = np.float64(xr[c]) - mu[c]


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def neighbour_means(X: np.ndarray, nbr: np.ndarray, out: np.ndarray) -> None:
    """out[i, c] = mean_k X[nbr[i, k], c] (float64 accumulation, neighbour order fixed)."""
    n, d = X.shape
    k = nbr.shape[1]
    ntiles = (d + 511) // 512
    nblk = min(ntiles, 64)
    inv = 1.0 / k
    for blk in nb.prange(nblk):
        c_start = (blk * ntiles // nblk) * 512
        c_stop = min(d, ((blk + 1) * ntiles // nblk) * 512)
        acc = np.empty(512, dtype=np.float64)
        for c0 in range(c_start, c_stop, 512):
            w = min(512, c_stop - c0)
            for i in range(n):
                for c in range(w):
                    acc[c] = 0.0
                for q in range(k):
                    r = nbr[i, q]
                    for c in range(w):
                        acc[c] += X[r, c0 + c]
                for c in range(w):
                    out[i, c0 + c] = acc[c] * inv
