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
from typing import Any

import numba as nb
import numpy as np

TILE = 512  # columns per tile in the coordinate-wise kernels (50 x 512 fp32 ~ L2)
_FM = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: inputs are checked anyway

MODE_MEDIAN = 0
MODE_TRIMMED = 1
MODE_BULYAN = 2


#: below this much work a kernel runs on the calling thread only: waking the worker
#: pool costs 0.05-1 ms (much more on a loaded machine), more than ~1M elements of
#: work.  The result does not depend on it: the column partition is fixed and
#: independent of the thread count.
SERIAL_BELOW = 1 << 20


def _run(kernel: Any, work: int, *args: Any) -> None:
    if work >= SERIAL_BELOW:
        # dynamic hand-out of the fixed blocks: a descheduled thread (2 busy cores) does
        # not stall the region; results do not depend on which thread runs a block
        with nb.parallel_chunksize(1):
            kernel(*args)
        return
    prev = nb.get_num_threads()
    nb.set_num_threads(1)
    try:
        kernel(*args)
    finally:
        nb.set_num_threads(prev)


def _n_blocks(n_units: int) -> int:
    """Fixed work partition: depends on the problem size only (determinism)."""
    return max(1, min(n_units, 64))


# --------------------------------------------------------------------------- checks


@nb.njit(parallel=True, cache=True, nogil=True)
def _nonfinite_rows_jit(X: np.ndarray, fmax: float, flags: np.ndarray) -> None:
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
    _run(_nonfinite_rows_jit, X.size, X, float(np.finfo(X.dtype).max), flags)
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
def _coordinate_kernel_jit(
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
        acc = np.empty(TILE, dtype=np.float64)
        med2 = np.empty(TILE, dtype=np.float64)
        for t in range(t0, t1):
            c0 = t * TILE
            w = min(TILE, d - c0)
            for r in range(m):
                buf[r, :w] = X[rows[r], c0 : c0 + w]
            for q in range(ncomp):
                bi = buf[ci[q]]
                bj = buf[cj[q]]
                for c in range(w):
                    x = bi[c]
                    y = bj[c]
                    bi[c] = min(x, y)
                    bj[c] = max(x, y)
            if mode == 0:
                ba = buf[a]
                bb = buf[b]
                for c in range(w):
                    out[c0 + c] = (np.float64(ba[c]) + np.float64(bb[c])) * 0.5
            elif mode == 1:
                acc[:w] = 0.0
                for r in range(a, b):
                    br = buf[r]
                    for c in range(w):
                        acc[c] += br[c]
                inv = 1.0 / (b - a)
                for c in range(w):
                    out[c0 + c] = acc[c] * inv
            else:
                # beta values nearest the median (key (|v - med|, v)) form a sorted window
                # [s*, s* + beta); sliding from s to s+1 pays iff 2 med - v[s] - v[s+beta]
                # > 0, which is non-increasing in s, so the window sum is the first window
                # plus the gains of every slide that pays -- all SIMD over columns.
                beta = a
                lo_mid = buf[(m - 1) // 2]
                hi_mid = buf[m // 2]
                for c in range(w):
                    med2[c] = np.float64(lo_mid[c]) + np.float64(hi_mid[c])  # 2 * median
                acc[:w] = 0.0
                for r in range(beta):
                    br = buf[r]
                    for c in range(w):
                        acc[c] += br[c]
                for s0 in range(m - beta):
                    bl = buf[s0]
                    bh = buf[s0 + beta]
                    for c in range(w):
                        vl = np.float64(bl[c])
                        vh = np.float64(bh[c])
                        acc[c] += (vh - vl) if med2[c] - vl - vh > 0.0 else 0.0
                inv = 1.0 / beta
                for c in range(w):
                    out[c0 + c] = acc[c] * inv


# ----------------------------------------------------------------- row combos


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _combine_rows_jit(
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
                br = base[c0 : c0 + w]
                for c in range(w):
                    acc[c] = base_coef * br[c]
            else:
                acc[:w] = 0.0
            for k in range(m):
                ck = coef[k]
                xr = X[rows[k], c0 : c0 + w]
                for c in range(w):
                    acc[c] += ck * xr[c]
            out[c0 : c0 + w] = acc[:w]


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _sq_dist_to_vector_jit(X: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out[i] = ||X[i] - v||^2 in float64 (one fixed vectorised order per row)."""
    n = X.shape[0]
    for i in nb.prange(n):
        xr = X[i]
        acc = 0.0
        for c in range(xr.shape[0]):
            t = np.float64(xr[c]) - v[c]
            acc += t * t
        out[i] = acc


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _pair_sq_dists_jit(X: np.ndarray, pi: np.ndarray, pj: np.ndarray, out: np.ndarray) -> None:
    """Direct float64 ||X[pi[k]] - X[pj[k]]||^2 for a list of pairs (refinement path)."""
    for k in nb.prange(pi.shape[0]):
        xi = X[pi[k]]
        xj = X[pj[k]]
        acc = 0.0
        for c in range(xi.shape[0]):
            t = np.float64(xi[c]) - np.float64(xj[c])
            acc += t * t
        out[k] = acc


GRAM_TILE = 1024  # columns per tile in the Gram kernel (4 x 4 register blocks)


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _gram_parts_jit(X: np.ndarray, proto: np.ndarray, parts: np.ndarray) -> None:
    """Partial centred Gram matrices, one per fixed column block.

    Per tile of GRAM_TILE columns: subtract the column mean (accumulated in float64 and
    rounded to the work dtype ``proto.dtype`` -- the subtraction is then exact for nearby
    values), then 4 x 4 register-blocked dot products in the work dtype over the tile
    (at most GRAM_TILE/16 terms per SIMD lane) added into float64.  NaN/inf in X
    propagate into the diagonal, which is how callers detect them cheaply.
    parts: (nblk, npad, npad) float64, npad = n rounded up to a multiple of 4; only the
    upper block triangle is written.
    """
    n, d = X.shape
    npad = parts.shape[1]
    ntiles = (d + GRAM_TILE - 1) // GRAM_TILE
    nblk = parts.shape[0]
    for blk in nb.prange(nblk):
        t0 = blk * ntiles // nblk
        t1 = (blk + 1) * ntiles // nblk
        buf = np.zeros((npad, GRAM_TILE), dtype=proto.dtype)
        G = np.zeros((npad, npad), dtype=np.float64)
        mu = np.empty(GRAM_TILE, dtype=np.float64)
        mus = np.empty(GRAM_TILE, dtype=X.dtype)
        for t in range(t0, t1):
            c0 = t * GRAM_TILE
            w = min(GRAM_TILE, d - c0)
            mu[:] = 0.0
            for r in range(n):
                xr = X[r, c0 : c0 + w]
                for c in range(w):
                    mu[c] += xr[c]
            for c in range(w):
                mus[c] = mu[c] * (1.0 / n)
            for r in range(n):
                xr = X[r, c0 : c0 + w]
                br = buf[r]
                for c in range(w):
                    br[c] = proto.dtype.type(xr[c]) - proto.dtype.type(mus[c])
                for c in range(w, GRAM_TILE):
                    br[c] = 0.0
            for bi in range(0, npad, 4):
                r0 = buf[bi + 0]
                r1 = buf[bi + 1]
                r2 = buf[bi + 2]
                r3 = buf[bi + 3]
                for bj in range(bi, npad, 4):
                    s0 = buf[bj + 0]
                    s1 = buf[bj + 1]
                    s2 = buf[bj + 2]
                    s3 = buf[bj + 3]
                    z = proto.dtype.type(0.0)
                    a00 = z
                    a01 = z
                    a02 = z
                    a03 = z
                    a10 = z
                    a11 = z
                    a12 = z
                    a13 = z
                    a20 = z
                    a21 = z
                    a22 = z
                    a23 = z
                    a30 = z
                    a31 = z
                    a32 = z
                    a33 = z
                    for c in range(GRAM_TILE):
                        x0 = r0[c]
                        x1 = r1[c]
                        x2 = r2[c]
                        x3 = r3[c]
                        y0 = s0[c]
                        y1 = s1[c]
                        y2 = s2[c]
                        y3 = s3[c]
                        a00 += x0 * y0
                        a01 += x0 * y1
                        a02 += x0 * y2
                        a03 += x0 * y3
                        a10 += x1 * y0
                        a11 += x1 * y1
                        a12 += x1 * y2
                        a13 += x1 * y3
                        a20 += x2 * y0
                        a21 += x2 * y1
                        a22 += x2 * y2
                        a23 += x2 * y3
                        a30 += x3 * y0
                        a31 += x3 * y1
                        a32 += x3 * y2
                        a33 += x3 * y3
                    G[bi + 0, bj + 0] += a00
                    G[bi + 0, bj + 1] += a01
                    G[bi + 0, bj + 2] += a02
                    G[bi + 0, bj + 3] += a03
                    G[bi + 1, bj + 0] += a10
                    G[bi + 1, bj + 1] += a11
                    G[bi + 1, bj + 2] += a12
                    G[bi + 1, bj + 3] += a13
                    G[bi + 2, bj + 0] += a20
                    G[bi + 2, bj + 1] += a21
                    G[bi + 2, bj + 2] += a22
                    G[bi + 2, bj + 3] += a23
                    G[bi + 3, bj + 0] += a30
                    G[bi + 3, bj + 1] += a31
                    G[bi + 3, bj + 2] += a32
                    G[bi + 3, bj + 3] += a33
        parts[blk] = G


def centered_gram_matrix(X: np.ndarray, work_dtype: np.dtype) -> np.ndarray:
    """Symmetric centred Gram (float64, n x n); fixed partition + ordered combine."""
    n, d = X.shape
    npad = (n + 3) // 4 * 4
    ntiles = (d + GRAM_TILE - 1) // GRAM_TILE
    nblk = _n_blocks(ntiles)
    parts = np.empty((nblk, npad, npad), dtype=np.float64)
    _run(_gram_parts_jit, X.size * max(1, n // 8), X, np.empty(0, dtype=work_dtype), parts)
    G = parts[0].copy()
    for k in range(1, nblk):
        G += parts[k]
    G = G[:n, :n]
    upper = np.triu(G)
    return upper + np.triu(G, 1).T


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _neighbour_means_jit(X: np.ndarray, excl: np.ndarray, k: int, out: np.ndarray) -> None:
    """out[i, c] = (sum_j X[j, c] - sum_q X[excl[i, q], c]) / k   (float64).

    NNM averages the n-f nearest neighbours; subtracting the f excluded rows from the
    column total costs n + n*f row passes instead of n*(n-f) (4x fewer at f = n/5).
    The column total is ~n|x| so the float64 cancellation error is ~1e-15 relative.
    """
    n, d = X.shape
    ne = excl.shape[1]
    ntiles = (d + 1023) // 1024
    nblk = min(ntiles, 64)
    inv = 1.0 / k
    for blk in nb.prange(nblk):
        c_start = (blk * ntiles // nblk) * 1024
        c_stop = min(d, ((blk + 1) * ntiles // nblk) * 1024)
        tot = np.empty(1024, dtype=np.float64)
        acc = np.empty(1024, dtype=np.float64)
        for c0 in range(c_start, c_stop, 1024):
            w = min(1024, c_stop - c0)
            tot[:w] = 0.0
            for r in range(n):
                xr = X[r, c0 : c0 + w]
                for c in range(w):
                    tot[c] += xr[c]
            for i in range(n):
                acc[:w] = tot[:w]
                for q in range(ne):
                    xr = X[excl[i, q], c0 : c0 + w]
                    for c in range(w):
                        acc[c] -= xr[c]
                orow = out[i, c0 : c0 + w]
                for c in range(w):
                    orow[c] = acc[c] * inv


# ------------------------------------------------------------ public wrappers


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
    """See :func:`_coordinate_kernel_jit`."""
    _run(_coordinate_kernel_jit, rows.size * X.shape[1] * 8, X, rows, ci, cj, mode, a, b, out)


def combine_rows(
    X: np.ndarray,
    rows: np.ndarray,
    coef: np.ndarray,
    base: np.ndarray,
    base_coef: float,
    out: np.ndarray,
) -> None:
    """See :func:`_combine_rows_jit`."""
    _run(_combine_rows_jit, (rows.size + 1) * X.shape[1], X, rows, coef, base, base_coef, out)


def sq_dist_to_vector(X: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """See :func:`_sq_dist_to_vector_jit`."""
    _run(_sq_dist_to_vector_jit, X.size, X, v, out)


def pair_sq_dists(X: np.ndarray, pi: np.ndarray, pj: np.ndarray, out: np.ndarray) -> None:
    """See :func:`_pair_sq_dists_jit`."""
    _run(_pair_sq_dists_jit, 2 * pi.size * X.shape[1], X, pi, pj, out)


def neighbour_means(X: np.ndarray, excl: np.ndarray, k: int, out: np.ndarray) -> None:
    """See :func:`_neighbour_means_jit` (excl: (n, f) rows excluded per output row)."""
    _run(_neighbour_means_jit, (excl.size + X.shape[0]) * X.shape[1], X, excl, k, out)
