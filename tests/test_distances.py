"""Accuracy and invariants of strategies.distances.pairwise_sq_distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import distances
from strategies.validation import AggregationError


def reference(X: np.ndarray) -> np.ndarray:
    """float64 direct differences, row by row."""
    Xd = X.astype(np.float64)
    return np.stack([((Xd - Xd[i]) ** 2).sum(axis=1) for i in range(Xd.shape[0])])


def max_rel_err(D: np.ndarray, R: np.ndarray) -> float:
    off = ~np.eye(R.shape[0], dtype=bool) & (R > 0)
    return float((np.abs(D - R)[off] / R[off]).max())


def weights_like(seed: int, n: int, d: int, offset: float, spread: float = 0.01) -> np.ndarray:
    """Realistic model weights: a large common offset plus small per-client updates."""
    rng = np.random.default_rng(seed)
    base = offset * (1.0 + 0.1 * rng.standard_normal(d))
    return (base + spread * rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.parametrize("offset", [0.5, 1.0, 5.0])
@pytest.mark.parametrize("d", [1_000, 100_003])
def test_relative_error_below_1e6_on_realistic_weights(offset: float, d: int) -> None:
    X = weights_like(int(offset * 10) + d, 30, d, offset)
    assert max_rel_err(distances.pairwise_sq_distances(X), reference(X)) < 1e-6


@pytest.mark.slow
def test_relative_error_d_1e6() -> None:
    X = weights_like(1, 20, 1_000_000, 5.0)
    assert max_rel_err(distances.pairwise_sq_distances(X), reference(X)) < 1e-6


def test_flowers_uncentred_float32_gram_is_much_worse() -> None:
    """Documents why we centre: Flower 1.42's compute_distances on the same data."""
    from flwr.app import ArrayRecord
    from flwr.serverapp.strategy.multikrum import compute_distances

    X = weights_like(2, 20, 100_000, 5.0)
    R = reference(X)
    ours = max_rel_err(distances.pairwise_sq_distances(X), R)
    flower = max_rel_err(compute_distances([ArrayRecord([x]) for x in X]), R)
    assert ours < 1e-6 < 1e-3 < flower


def test_near_copies_and_exact_copies_are_accurate() -> None:
    """Sybil copies: tiny distances next to large ones are refined in float64."""
    X = weights_like(3, 12, 50_000, 5.0)
    rng = np.random.default_rng(3)
    X[4] = X[1]
    X[5] = X[1] + (1e-5 * rng.standard_normal(X.shape[1])).astype(np.float32)
    D = distances.pairwise_sq_distances(X)
    R = reference(X)
    assert D[1, 4] == 0.0 and D[4, 1] == 0.0
    assert max_rel_err(D, R) < 1e-6


def test_outlier_far_away_keeps_honest_distances_accurate() -> None:
    X = weights_like(4, 15, 20_000, 2.0)
    X[0] *= 1e4  # a scaled (model-replacement) update
    assert max_rel_err(distances.pairwise_sq_distances(X), reference(X)) < 1e-6


def test_float32_overflow_falls_back_to_float64() -> None:
    X = weights_like(5, 6, 1_000, 1.0)
    X[2] = 3e30
    D = distances.pairwise_sq_distances(X)
    assert np.all(np.isfinite(D))
    assert max_rel_err(D, reference(X)) < 1e-6


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 15),
    st.integers(1, 3000),
    st.sampled_from([np.float32, np.float64]),
    st.floats(-100, 100),
)
def test_invariants(seed: int, n: int, d: int, dtype, offset: float) -> None:
    rng = np.random.default_rng(seed)
    X = (offset + rng.standard_normal((n, d))).astype(dtype)
    D = distances.pairwise_sq_distances(X)
    assert D.dtype == np.float64 and D.shape == (n, n)
    assert np.all(np.diag(D) == 0.0)
    np.testing.assert_array_equal(D, D.T)
    assert np.all(D >= 0.0)
    R = reference(X)
    np.testing.assert_allclose(D, R, rtol=1e-6, atol=1e-9 * max(1.0, float(R.max())))
    np.testing.assert_array_equal(D, distances.pairwise_sq_distances(X))  # deterministic


def test_torch_input_and_no_mutation() -> None:
    X = weights_like(6, 9, 777, 0.5)
    before = X.copy()
    D_np = distances.pairwise_sq_distances(X)
    D_t = distances.pairwise_sq_distances(torch.from_numpy(X))
    assert isinstance(D_t, np.ndarray)
    np.testing.assert_array_equal(D_np, D_t)
    np.testing.assert_array_equal(X, before)


def test_rejects_bad_input() -> None:
    with pytest.raises(AggregationError, match="row 1 contains NaN"):
        distances.pairwise_sq_distances(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    with pytest.raises(AggregationError, match="2-D"):
        distances.pairwise_sq_distances(np.zeros(3))
