"""Sybils: one adversary behind several staked identities.

A sybil group of k identities sends one base update (the group leader's honest update,
recomputed by each member through the collusion channel) plus tiny per-identity noise, so
the copies are not byte-identical but nearly collinear (Fung et al., "The Limitations of
Federated Learning in Sybil Settings" (FoolsGold), RAID 2020).
"""

from __future__ import annotations

import numpy as np


def sybil(base: np.ndarray, rng: np.random.Generator, sigma: float = 1e-5) -> np.ndarray:
    """Sybil copy (Fung et al., FoolsGold, RAID 2020): base + N(0, σ²·I), one identity's
    copy of the group's base update."""
    base = np.asarray(base, dtype=np.float64)
    return base + rng.normal(0.0, sigma, base.shape)
