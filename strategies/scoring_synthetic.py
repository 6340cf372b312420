"""Synthetic federated rounds with known attackers, for measuring the scorer.

Honest client j in round r sends u = μ + δ_j + ε_{j,r}: μ the true direction (norm
`signal`), δ_j a persistent client drift (non-IID heterogeneity: norm `heterogeneity` ×
lognormal(0, `drift_spread`), random direction), ε fresh noise (norm ≈ `noise`).
Attackers, with persistent identities across the rounds of an episode:

* sign_flip — −(its own honest update);
* scaled    — `scale_factor` × its own honest update (model replacement style);
* noise     — Gaussian, per-coordinate std so the norm is `noise_factor` × the typical
  honest norm;
* copy      — a sybil pair: two identities send the same honest-looking update, each
  with a tiny private jitter (`jitter` × norm), so it is a near-copy, not bit-identical;
* zero      — a free rider: the global model back (delta = jitter-sized noise).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

ATTACKS = ("sign_flip", "scaled", "noise", "copy", "zero")
HETEROGENEITY = {"low": 0.5, "moderate": 1.0, "high": 2.0}


@dataclass(frozen=True)
class SyntheticSpec:
    n_honest: int = 19
    d: int = 1_000
    signal: float = 1.0
    noise: float = 1.0
    heterogeneity: float = 1.0
    drift_spread: float = 0.3
    scale_factor: float = 5.0
    noise_factor: float = 3.0
    jitter: float = 1e-3


@dataclass(frozen=True)
class SyntheticRound:
    updates: np.ndarray  # (n, d) float64 deltas
    ids: list[str]  # persistent identities, shuffled order each round
    kinds: list[str]  # "honest" or one of ATTACKS


def _unit(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.normal(size=d)
    return v / np.linalg.norm(v)


def episode(seed: int, spec: SyntheticSpec, rounds: int) -> Iterator[SyntheticRound]:
    """`rounds` rounds of one federation: 19 honest + sign_flip, scaled, noise, 2 copy, zero."""
    rng = np.random.default_rng(seed)
    d = spec.d
    mu = spec.signal * _unit(rng, d)
    kinds = ["honest"] * spec.n_honest + ["sign_flip", "scaled", "noise", "copy", "copy", "zero"]
    n = len(kinds)
    drift_norm = spec.heterogeneity * np.exp(rng.normal(0.0, spec.drift_spread, size=n))
    drifts = np.stack([_unit(rng, d) for _ in range(n)]) * drift_norm[:, None]
    typical = float(np.sqrt(spec.signal**2 + spec.heterogeneity**2 + spec.noise**2))
    copy_rows = [j for j, k in enumerate(kinds) if k == "copy"]
    for _ in range(rounds):
        own = mu + drifts + rng.normal(0.0, spec.noise / np.sqrt(d), size=(n, d))
        u = own.copy()
        for j, kind in enumerate(kinds):
            jit = rng.normal(0.0, spec.jitter * typical / np.sqrt(d), size=d)
            if kind == "sign_flip":
                u[j] = -own[j]
            elif kind == "scaled":
                u[j] = spec.scale_factor * own[j]
            elif kind == "noise":
                u[j] = rng.normal(0.0, spec.noise_factor * typical / np.sqrt(d), size=d)
            elif kind == "copy":
                u[j] = own[copy_rows[0]] + jit
            elif kind == "zero":
                u[j] = jit
        order = rng.permutation(n)
        yield SyntheticRound(
            u[order], [f"client-{j:02d}" for j in order], [kinds[j] for j in order]
        )
