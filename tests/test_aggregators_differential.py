"""Differential tests against Flower 1.42, numpy and scipy where conventions agree.

Where they differ (documented in strategies/BENCHMARKS.md):
* Flower Krum clamps the neighbour count to max(1, n-f-2) and accepts n <= 2f+2; we
  raise there.  For n > 2f+2 both use the paper's n-f-2, so results agree.
* Flower's new (Message API) Bulyan selects θ by one-shot Multi-Krum; the paper (and
  Flower's legacy ``aggregate_bulyan``, and ours) iterate Krum on the remaining set.
* Flower's Multi-Krum averages weighted by client-reported example counts; ours is an
  unweighted mean (counts are not trusted), so we compare with equal counts.
* scipy/Flower trimmed means cut ``int(proportion * n)`` per side; we take f directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from flwr.app import ArrayRecord, RecordDict
from flwr.server.strategy.aggregate import (
    aggregate_bulyan,
    aggregate_krum,
    aggregate_median,
    aggregate_trimmed_avg,
)
from flwr.serverapp.strategy.fedtrimmedavg import trim_mean as flwr_trim_mean
from flwr.serverapp.strategy.multikrum import select_multikrum
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import aggregators as agg

DIFF = settings(max_examples=30, deadline=None)


def sample(seed: int, n: int, d: int, dtype=np.float64, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (offset + rng.standard_normal((n, d))).astype(dtype)


def legacy(X: np.ndarray) -> list[tuple[list[np.ndarray], int]]:
    """Flower legacy input: one layer per client, equal example counts."""
    return [([row.copy()], 10) for row in X]


@DIFF
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 40))
def test_median_matches_numpy_and_flower(seed: int, n: int, d: int) -> None:
    X = sample(seed, n, d)
    np.testing.assert_array_equal(agg.median(X), np.median(X, axis=0))
    np.testing.assert_array_equal(agg.median(X), aggregate_median(legacy(X))[0])
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(agg.median(X32), np.median(X32, axis=0), rtol=1e-7, atol=0)


@DIFF
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 40), st.data())
def test_trimmed_mean_matches_scipy_and_flower(seed, n, d, data) -> None:
    f = data.draw(st.integers(0, (n - 1) // 2))
    X = sample(seed, n, d)
    prop = (f + 0.25) / n  # int(prop * n) == f without floating-point surprises
    want = scipy.stats.trim_mean(X, prop, axis=0)
    np.testing.assert_allclose(agg.trimmed_mean(X, f), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        agg.trimmed_mean(X, f), aggregate_trimmed_avg(legacy(X), prop)[0], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        agg.trimmed_mean(X, f), flwr_trim_mean(X, prop), rtol=1e-12, atol=1e-12
    )


@DIFF
@given(st.integers(0, 2**32 - 1), st.integers(5, 25), st.integers(1, 30), st.data())
def test_krum_and_multi_krum_match_flower_legacy(seed, n, d, data) -> None:
    f = data.draw(st.integers(0, (n - 3) // 2))
    X = sample(seed, n, d)
    np.testing.assert_array_equal(agg.krum(X, f), aggregate_krum(legacy(X), f, 0)[0])
    m = data.draw(st.integers(1, n))
    np.testing.assert_allclose(
        agg.multi_krum(X, f, m), aggregate_krum(legacy(X), f, m)[0], rtol=1e-12, atol=1e-12
    )


@DIFF
@given(st.integers(0, 2**32 - 1), st.integers(5, 25), st.integers(1, 30), st.data())
def test_krum_select_matches_flower_message_api(seed, n, d, data) -> None:
    f = data.draw(st.integers(0, (n - 3) // 2))
    m = data.draw(st.integers(1, n))
    X = sample(seed, n, d)  # zero offset: Flower's uncentred Gram is accurate enough here
    contents = [RecordDict({"arrays": ArrayRecord([row.copy()])}) for row in X]
    chosen = select_multikrum(contents, f, m)
    flower_idx = [next(i for i, c in enumerate(contents) if c is ch) for ch in chosen]
    assert agg.krum_select(X, f, m).tolist() == flower_idx


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(7, 19), st.integers(1, 20), st.data())
def test_bulyan_matches_flower_legacy(seed, n, d, data) -> None:
    f = data.draw(st.integers(0, (n - 3) // 4))
    X = sample(seed, n, d)
    want = aggregate_bulyan(legacy(X), f, aggregate_krum, to_keep=0)[0]
    np.testing.assert_allclose(agg.bulyan(X, f), want, rtol=1e-12, atol=1e-12)


def naive_weiszfeld(X: np.ndarray, eps: float = 1e-8, iters: int = 20000) -> np.ndarray:
    z = X.mean(axis=0)
    for _ in range(iters):
        w = 1.0 / np.maximum(eps, np.linalg.norm(X - z, axis=1))
        z_new = (w[:, None] * X).sum(0) / w.sum()
        if np.linalg.norm(z_new - z) < 1e-13:
            return z_new
        z = z_new
    return z


@pytest.mark.parametrize("seed", range(5))
def test_geometric_median_matches_naive_weiszfeld(seed: int) -> None:
    X = sample(seed, 9, 6) * np.random.default_rng(seed).uniform(0.5, 3, size=(9, 1))
    np.testing.assert_allclose(
        agg.geometric_median(X, tol=1e-12), naive_weiszfeld(X), rtol=1e-8, atol=1e-8
    )


def test_float32_rules_agree_with_float64_references() -> None:
    X = sample(42, 21, 5000, np.float32, offset=2.0)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(agg.mean(X), X64.mean(0), rtol=1e-6)
    np.testing.assert_allclose(
        agg.trimmed_mean(X, 4), scipy.stats.trim_mean(X64, 4.25 / 21, axis=0), rtol=1e-6
    )
    np.testing.assert_array_equal(
        agg.krum(X, 4), aggregate_krum(legacy(X64), 4, 0)[0].astype(np.float32)
    )
