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
* Every kernel is compiled twice from one source (:class:`Kernel`): on numba's thread
  pool for large inputs, serially on the calling thread below ``SERIAL_BELOW_NS`` of
  estimated work (the lab's sizes), where a parallel region's wake-up and -- on a busy
  2-core machine -- its stalls cost more than the work.  Same bits either way.
* ``cache=True`` so the JIT cost is paid once per machine; ``nogil=True`` so the Gram
  computation can overlap numba and BLAS calls from Python threads.
"""

from __future__ import annotations

import types
from functools import lru_cache
from typing import Any

import numba as nb
import numpy as np

TILE = 512  # columns per tile in the coordinate-wise kernels (50 x 512 fp32 ~ L2)
_FM = {"reassoc", "contract", "nsz", "arcp"}  # no nnan/ninf: inputs are checked anyway
#: without reassoc: for kernels whose unrolled chains must keep their written order
_FM_ORDERED = {"contract", "nsz", "arcp"}

MODE_MEDIAN = 0
MODE_TRIMMED = 1
MODE_BULYAN = 2


#: a kernel whose estimated serial run time is below this many ns runs its *serial*
#: compilation on the calling thread, at or above it on numba's pool; see ``_run``.
#: 7 ms, from measurement on this 2-core machine (strategies/BENCHMARKS.md, "Lab
#: sizes"): quiet, the pool pays off from ~0.1 ms of work; loaded (other processes or
#: the lab's own parallel sweep cells), a parallel region stalls 5-16 ms waiting for a
#: descheduled worker, 10-100x the work at the lab's sizes, where the serial kernels
#: already beat every competitor.  7 ms puts every kernel at the lab's sizes (n <= 50,
#: d <= 1e5; largest: the Gram at n = 50, d = 1e5, 6.2 ms) except NNM's (11 ms) below,
#: and every kernel at n = 50, d = 1e6 (`make bench-aggregators`, >= 8.2 ms) above.
SERIAL_BELOW_NS = 7_000_000.0

#: serial cost model (ns per unit of each kernel's work, float32, this 2-core AMD EPYC;
#: float64 is up to 2x more, which only moves the switch point): only used to pick the
#: path, never affects a result.  Units: gram (npad^2 / 2 + 4n) * d multiply-adds;
#: coordinate (comparators + rows) * d; the row kernels rows * d elements.
NS_GRAM = 0.04
NS_COORDINATE = 0.15
NS_ROWS = 0.2
NS_SCAN = 0.07


class Kernel:
    """One kernel source compiled twice: ``par`` (``parallel=True``, the fixed column
    blocks handed out over numba's pool) and ``ser`` (``parallel=False``: ``prange`` is a
    plain ``range``, no threading layer at all).  Same source, same fixed blocks, same
    per-element operation order, so both give bit-identical results (tested); the serial
    copy has its own name so that numba's on-disk cache keeps the two apart."""

    def __init__(self, fn: Any, **opts: Any) -> None:
        self.par = nb.njit(parallel=True, cache=True, nogil=True, **opts)(fn)
        ser_fn = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__
        )
        ser_fn.__qualname__ = fn.__qualname__ + "_serial"
        ser_fn.__doc__ = fn.__doc__
        self.ser = nb.njit(parallel=False, cache=True, nogil=True, **opts)(ser_fn)
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any) -> Any:  # the parallel one, as the old @njit function
        return self.par(*args)


def kernel(**opts: Any) -> Any:
    """Decorator: ``@kernel(fastmath=...)`` -> :class:`Kernel`."""
    return lambda fn: Kernel(fn, **opts)


def _run(k: Kernel, est_ns: float, *args: Any) -> None:
    """Run ``k`` serially when its estimated serial time is below ``SERIAL_BELOW_NS``,
    else on numba's thread pool.

    Why a threshold: a parallel region costs a pool wake-up and a join (tens of µs on a
    quiet machine) and, on a loaded 2-core machine, waits for its slowest thread: one
    descheduled worker stalls the region for a scheduler time slice (4-16 ms measured).
    The lab's inputs (n <= 50, d <= 1e5) are that small.  Measured serial/parallel
    crossovers on this machine are in strategies/BENCHMARKS.md ("Lab sizes").
    The result does not depend on the path: the column partition is fixed and
    independent of the thread count, and both compilations share one source (tested).
    """
    if est_ns < SERIAL_BELOW_NS:
        k.ser(*args)
        return
    # dynamic hand-out of the fixed blocks: a descheduled thread (2 busy cores) does
    # not stall the region; results do not depend on which thread runs a block
    with nb.parallel_chunksize(1):
        k.par(*args)


def gram_ns(n: int, d: int) -> float:
    """Estimated serial ns of :func:`centered_gram_matrix` (see ``NS_GRAM``)."""
    npad = (n + 3) // 4 * 4
    return NS_GRAM * (npad * npad / 2 + 4 * n) * d


def coordinate_ns(ncomp: int, m: int, d: int) -> float:
    """Estimated serial ns of :func:`coordinate_kernel` (see ``NS_COORDINATE``)."""
    return NS_COORDINATE * (ncomp + m) * d


def rows_ns(rows: int, d: int) -> float:
    """Estimated serial ns of a kernel that streams ``rows`` rows of length d once."""
    return NS_ROWS * rows * d


def _n_blocks(n_units: int) -> int:
    """Fixed work partition: depends on the problem size only (determinism)."""
    return max(1, min(n_units, 64))


# --------------------------------------------------------------------------- checks


@kernel()
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
    _run(_nonfinite_rows_jit, NS_SCAN * X.size, X, float(np.finfo(X.dtype).max), flags)
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


@kernel(fastmath=_FM)
def _coordinate_kernel_jit(
    X: np.ndarray,
    rows: np.ndarray,
    ci: np.ndarray,
    cj: np.ndarray,
    mode: int,
    a: int,
    b: int,
    out: np.ndarray,
    fmax: float,
    nonfinite: np.ndarray,
) -> None:
    """Per column: sort X[rows, c] with the comparator network, then reduce.

    mode 0 (median): out = (s[a] + s[b]) / 2
    mode 1 (trimmed): out = mean(s[a:b])
    mode 2 (Bulyan): out = mean of the a values closest to the median of s
                     (ties -> the smaller value), summed in sorted order.
    nonfinite[blk] is set when block blk's rows hold NaN/inf (|x| > fmax, the dtype's
    largest finite value; NaN compares False), counted while copying the tile: this
    saves the separate finiteness pass over the input (one read of X) of these rules.
    """
    m = rows.shape[0]
    d = X.shape[1]
    ntiles = (d + TILE - 1) // TILE
    nblk = min(ntiles, 64)
    ncomp = ci.shape[0]
    lim = X.dtype.type(fmax)
    for blk in nb.prange(nblk):
        t0 = blk * ntiles // nblk
        t1 = (blk + 1) * ntiles // nblk
        buf = np.empty((m, TILE), dtype=X.dtype)
        acc = np.empty(TILE, dtype=np.float64)
        med2 = np.empty(TILE, dtype=np.float64)
        cnt = 0
        for t in range(t0, t1):
            c0 = t * TILE
            w = min(TILE, d - c0)
            for r in range(m):
                src = X[rows[r], c0 : c0 + w]
                dst = buf[r]
                for c in range(w):
                    v = src[c]
                    dst[c] = v
                    cnt += 0 if abs(v) <= lim else 1
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
        nonfinite[blk] = cnt != 0


# ----------------------------------------------------------------- row combos


#: columns per tile of the row-combining kernel: its float64 accumulator (64 KiB) stays in
#: L2 while 4 input rows stream past it; longer row segments than 1024 columns prefetch
#: better (measured 1.8 -> 1.1 ms for a 50 x 1e5 float64 mean).  Per-column arithmetic,
#: hence the result, does not depend on it.
ROW_TILE = 8192
_F64_MAX = float(np.finfo(np.float64).max)


@kernel(fastmath=_FM_ORDERED)
def _combine_rows_jit(
    X: np.ndarray,
    rows: np.ndarray,
    coef: np.ndarray,
    base: np.ndarray,
    base_coef: float,
    out: np.ndarray,
    nonfinite: np.ndarray,
) -> None:
    """out[c] = base_coef * base[c] + sum_k coef[k] * X[rows[k], c]  (float64 accumulation,
    rows in the given order), rounded once to ``out``'s dtype (float32 or float64, so a
    caller needs no separate cast).  ``base`` may be empty when base_coef == 0.
    nonfinite[blk] is set when a float64 sum of block blk is NaN/inf (the caller's
    finiteness test: NaN/inf in a row reaches every sum it enters)."""
    d = X.shape[1]
    m = rows.shape[0]
    ntiles = (d + ROW_TILE - 1) // ROW_TILE
    nblk = min(ntiles, 64)
    use_base = base_coef != 0.0
    for blk in nb.prange(nblk):
        c_start = (blk * ntiles // nblk) * ROW_TILE
        c_stop = min(d, ((blk + 1) * ntiles // nblk) * ROW_TILE)
        acc = np.empty(ROW_TILE, dtype=np.float64)
        cnt = 0
        for c0 in range(c_start, c_stop, ROW_TILE):
            w = min(ROW_TILE, c_stop - c0)
            if use_base:
                br = base[c0 : c0 + w]
                for c in range(w):
                    acc[c] = base_coef * br[c]
            else:
                acc[:w] = 0.0
            # four rows per pass over the tile: the accumulator is loaded and stored once
            # per 4 rows instead of per row (2x faster in cache); every element still
            # gets acc = acc + coef[k] * x[k] for k = 0, 1, ... in order (no reassoc)
            m4 = m - m % 4
            for k in range(0, m4, 4):
                k0 = coef[k]
                k1 = coef[k + 1]
                k2 = coef[k + 2]
                k3 = coef[k + 3]
                x0 = X[rows[k], c0 : c0 + w]
                x1 = X[rows[k + 1], c0 : c0 + w]
                x2 = X[rows[k + 2], c0 : c0 + w]
                x3 = X[rows[k + 3], c0 : c0 + w]
                for c in range(w):
                    a = acc[c]
                    a += k0 * x0[c]
                    a += k1 * x1[c]
                    a += k2 * x2[c]
                    a += k3 * x3[c]
                    acc[c] = a
            for k in range(m4, m):
                ck = coef[k]
                xr = X[rows[k], c0 : c0 + w]
                for c in range(w):
                    acc[c] += ck * xr[c]
            orow = out[c0 : c0 + w]
            for c in range(w):
                v = acc[c]
                orow[c] = v
                cnt += 0 if abs(v) <= _F64_MAX else 1
        nonfinite[blk] = cnt != 0


@kernel(fastmath=_FM)
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


@kernel(fastmath=_FM)
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


@kernel(fastmath=_FM)
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
    _run(_gram_parts_jit, gram_ns(n, d), X, np.empty(0, dtype=work_dtype), parts)
    return _combine_parts_jit(parts, n)


@nb.njit(cache=True, nogil=True)  # no fastmath: the "+ 0.0" below must stay
def _combine_parts_jit(parts: np.ndarray, n: int) -> np.ndarray:
    """Sum the partial Gram matrices in block order and mirror the upper triangle.

    One compiled pass instead of ~2 nblk + 5 numpy calls (µs each, which is most of the
    cost at the lab's sizes); the same float64 operations in the same order as
    ``G = parts[0] + parts[1] + ...; np.triu(G) + np.triu(G, 1).T``: the mirrored and
    the kept entries get ``+ 0.0`` exactly as there (which turns -0.0 into +0.0).
    """
    G = parts[0].copy()
    for k in range(1, parts.shape[0]):
        G += parts[k]
    out = np.empty((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(n):
            out[i, j] = G[i, j] + 0.0 if i <= j else 0.0 + G[j, i]
    return out


@nb.njit(cache=True, nogil=True)  # no fastmath: must round exactly like numpy
def sq_distances_from_gram(G: np.ndarray, refine_ratio: float) -> tuple[np.ndarray, bool, bool]:
    """``strategies.distances.sq_distances_from_gram`` in one compiled pass, plus whether
    any pair needs ``distances._refine`` (its test: G_ii + G_jj > ratio * D_ij and
    G_ii + G_jj > 0 for some i < j), plus whether G is finite (``distances.centered_gram``'s
    test; NaN/inf rows reach the diagonal).  Same float64 operations in the same order as the
    numpy version: D_ij = max((G_ii + G_jj) - 2 G_ij, 0), then (D_ij + D_ji) * 0.5, zero
    diagonal (bit-identity is tested).  Its ~10 numpy calls of µs each were most of the
    cost of the distance-based rules at the lab's sizes."""
    n = G.shape[0]
    finite = True
    for i in range(n):
        for j in range(n):
            finite &= abs(G[i, j]) <= 1.7976931348623157e308
    D = np.empty((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(n):
            v = (G[i, i] + G[j, j]) - 2.0 * G[i, j]
            D[i, j] = v if (v >= 0.0 or v != v) else 0.0  # np.maximum(v, 0.0)
    out = np.empty((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(n):
            out[i, j] = (D[i, j] + D[j, i]) * 0.5
        out[i, i] = 0.0
    bad = False
    for i in range(n):
        for j in range(i + 1, n):
            s = G[i, i] + G[j, j]
            if s > refine_ratio * out[i, j] and s > 0.0:
                bad = True
    return out, bad, finite


# ------------------------------------------------ small O(n^2) helpers (no fastmath)
#
# The O(n^2) steps of the distance-based rules are a few µs of arithmetic but were ~1 µs
# of numpy call overhead per operation, which dominated at the lab's sizes.  These
# helpers do the same IEEE operations in the same order as the numpy code they replace
# (no fastmath: no contraction into FMA, no reassociation), so results are unchanged
# (tested bit-identical); sums whose numpy order is an implementation detail (pairwise
# summation, BLAS) stay in numpy.


@nb.njit(cache=True, nogil=True)
def weiszfeld_beta(
    wgw: float, gw: np.ndarray, diag: np.ndarray, alpha: np.ndarray, eps: float
) -> np.ndarray:
    """beta = alpha / np.maximum(eps, np.sqrt(np.maximum(wgw - 2.0 * gw + diag, 0.0)))."""
    n = gw.shape[0]
    beta = np.empty(n, dtype=np.float64)
    for i in range(n):
        d2 = (wgw - 2.0 * gw[i]) + diag[i]
        d2 = d2 if (d2 >= 0.0 or d2 != d2) else 0.0
        dist = np.sqrt(d2)
        beta[i] = alpha[i] / (eps if eps >= dist else dist)  # NaN dist stays NaN
    return beta


@nb.njit(cache=True, nogil=True)
def weiszfeld_normalise(
    beta: np.ndarray, total: float, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(w_new, delta) = (beta / total, beta / total - w)."""
    n = beta.shape[0]
    w_new = np.empty(n, dtype=np.float64)
    delta = np.empty(n, dtype=np.float64)
    for i in range(n):
        w_new[i] = beta[i] / total
        delta[i] = w_new[i] - w[i]
    return w_new, delta


@nb.njit(cache=True, nogil=True)
def optimal_point_candidates(G: np.ndarray, dist: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Indices k (ascending) that may pass the geometric median's exact optimality test
    (``aggregators._optimal_data_point``): every k whose residual r_k² = uᵀGu is below
    the threshold (Σ_{x_i = x_k} α_i · (1 - 1e-9))² up to a bound on rounding,
    1e-10 · |u|ᵀ|G||u| absolute and 1e-10 relative on the threshold (rounding differences
    between any two summation orders are ~n·1e-16 of these).  A screen only: the exact
    test runs on the survivors, so the result does not depend on this arithmetic."""
    n = G.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    u = np.empty(n, dtype=np.float64)
    for k in range(n):
        total = 0.0
        same = 0.0
        for i in range(n):
            if dist[k, i] == 0.0:
                u[i] = 0.0
                same += alpha[i]
            else:
                u[i] = -alpha[i] / dist[k, i]
                total -= u[i]
        u[k] += total
        r2 = 0.0
        bound = 0.0
        for i in range(n):
            for j in range(n):
                r2 += u[i] * G[i, j] * u[j]
                bound += abs(u[i] * G[i, j] * u[j])
        thr = same * ((1.0 - 1e-9) * (1.0 + 1e-10))
        keep[k] = max(r2 - 1e-10 * bound, 0.0) < thr * thr
    return np.flatnonzero(keep)


#: columns per tile of the NNM kernel (float64 column totals + one accumulator)
NNM_TILE = 4096


@kernel(fastmath=_FM_ORDERED)
def _neighbour_means_jit(X: np.ndarray, excl: np.ndarray, k: int, out: np.ndarray) -> None:
    """out[i, c] = (sum_j X[j, c] - sum_q X[excl[i, q], c]) / k   (float64).

    NNM averages the n-f nearest neighbours; subtracting the f excluded rows from the
    column total costs n + n*f row passes instead of n*(n-f) (4x fewer at f = n/5).
    The column total is ~n|x| so the float64 cancellation error is ~1e-15 relative.
    Rows are summed / subtracted four per pass over the tile (one accumulator load and
    store per 4 rows), each element still in the order j = 0, 1, ... / q = 0, 1, ...
    """
    n, d = X.shape
    ne = excl.shape[1]
    ntiles = (d + NNM_TILE - 1) // NNM_TILE
    nblk = min(ntiles, 64)
    inv = 1.0 / k
    n4 = n - n % 4
    ne4 = ne - ne % 4
    for blk in nb.prange(nblk):
        c_start = (blk * ntiles // nblk) * NNM_TILE
        c_stop = min(d, ((blk + 1) * ntiles // nblk) * NNM_TILE)
        tot = np.empty(NNM_TILE, dtype=np.float64)
        acc = np.empty(NNM_TILE, dtype=np.float64)
        for c0 in range(c_start, c_stop, NNM_TILE):
            w = min(NNM_TILE, c_stop - c0)
            tot[:w] = 0.0
            for r in range(0, n4, 4):
                x0 = X[r, c0 : c0 + w]
                x1 = X[r + 1, c0 : c0 + w]
                x2 = X[r + 2, c0 : c0 + w]
                x3 = X[r + 3, c0 : c0 + w]
                for c in range(w):
                    t = tot[c]
                    t += x0[c]
                    t += x1[c]
                    t += x2[c]
                    t += x3[c]
                    tot[c] = t
            for r in range(n4, n):
                xr = X[r, c0 : c0 + w]
                for c in range(w):
                    tot[c] += xr[c]
            for i in range(n):
                acc[:w] = tot[:w]
                for q in range(0, ne4, 4):
                    x0 = X[excl[i, q], c0 : c0 + w]
                    x1 = X[excl[i, q + 1], c0 : c0 + w]
                    x2 = X[excl[i, q + 2], c0 : c0 + w]
                    x3 = X[excl[i, q + 3], c0 : c0 + w]
                    for c in range(w):
                        t = acc[c]
                        t -= x0[c]
                        t -= x1[c]
                        t -= x2[c]
                        t -= x3[c]
                        acc[c] = t
                for q in range(ne4, ne):
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
) -> bool:
    """See :func:`_coordinate_kernel_jit`; returns False when the rows hold NaN/inf
    (``out`` is then meaningless)."""
    est = coordinate_ns(ci.size, rows.size, X.shape[1])
    flags = np.zeros(64, dtype=np.bool_)
    fmax = float(np.finfo(X.dtype).max)
    _run(_coordinate_kernel_jit, est, X, rows, ci, cj, mode, a, b, out, fmax, flags)
    return np.count_nonzero(flags) == 0


def combine_rows(
    X: np.ndarray,
    rows: np.ndarray,
    coef: np.ndarray,
    base: np.ndarray,
    base_coef: float,
    out: np.ndarray,
) -> bool:
    """See :func:`_combine_rows_jit`; returns False when a sum is NaN/inf."""
    flags = np.zeros(64, dtype=np.bool_)
    est = rows_ns(rows.size + 1, X.shape[1])
    _run(_combine_rows_jit, est, X, rows, coef, base, base_coef, out, flags)
    return np.count_nonzero(flags) == 0


def sq_dist_to_vector(X: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """See :func:`_sq_dist_to_vector_jit`."""
    _run(_sq_dist_to_vector_jit, rows_ns(X.shape[0], X.shape[1]), X, v, out)


def pair_sq_dists(X: np.ndarray, pi: np.ndarray, pj: np.ndarray, out: np.ndarray) -> None:
    """See :func:`_pair_sq_dists_jit`."""
    _run(_pair_sq_dists_jit, rows_ns(2 * pi.size, X.shape[1]), X, pi, pj, out)


def neighbour_means(X: np.ndarray, excl: np.ndarray, k: int, out: np.ndarray) -> None:
    """See :func:`_neighbour_means_jit` (excl: (n, f) rows excluded per output row)."""
    est = rows_ns(excl.size + X.shape[0], X.shape[1])
    _run(_neighbour_means_jit, est, X, excl, k, out)
