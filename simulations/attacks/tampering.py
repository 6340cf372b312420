"""Model poisoning that needs nothing but the attacker's own update Δ = w_local − g.

Updates are flat float64 vectors (the attacker sends g + returned vector). Pure functions
over numpy; every random draw comes from the `rng` passed in.
"""

from __future__ import annotations

import numpy as np


def sign_flip(update: np.ndarray, scale: float = 4.0) -> np.ndarray:
    """Sign flipping: −scale · Δ (Damaskinos et al., "Asynchronous Byzantine Machine
    Learning", ICML 2018; Li et al., "RSA", AAAI 2019 use scale 1). The default 4 is the
    fedstake demo's historical `sign-flip` (clearly hostile, still bounded)."""
    return -float(scale) * np.asarray(update, dtype=np.float64)


def gaussian_noise(
    update: np.ndarray, rng: np.random.Generator, sigma: float = 1.0, additive: bool = False
) -> np.ndarray:
    """Gaussian Byzantine update (Blanchard et al., "Machine Learning with Adversaries:
    Byzantine Tolerant Gradient Descent", NeurIPS 2017): N(0, σ²·I) in place of Δ, or
    Δ + N(0, σ²·I) with `additive`."""
    update = np.asarray(update, dtype=np.float64)
    noise = rng.normal(0.0, sigma, update.shape)
    return update + noise if additive else noise


def model_replacement(update: np.ndarray, factor: float) -> np.ndarray:
    """Scaling / model replacement (Bagdasaryan et al., "How To Backdoor Federated
    Learning", AISTATS 2020): send X̃ = g + γ(X − g), i.e. γ·Δ. With γ = n/η (n participants
    averaged, server learning rate η = 1 for FedAvg) the average becomes the attacker's
    (backdoored) model X, the other updates cancelling only approximately."""
    return float(factor) * np.asarray(update, dtype=np.float64)


def free_ride(size: int, rng: np.random.Generator, sigma: float = 1e-6) -> np.ndarray:
    """A free-rider trains nothing and sends the global model back, disguised with tiny
    noise N(0, σ²·I) (Lin et al., "Free-riders in Federated Learning: Attacks and Defenses",
    2019; Fraboni et al., AISTATS 2021)."""
    return rng.normal(0.0, sigma, int(size))
