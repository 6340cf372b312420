"""Omniscient model poisoning: attacks crafted from the round's honest updates.

Every function takes the honest updates as an (k, d) float array (one row per honest
client, k ≥ 1) and returns the malicious d-vector that each colluding attacker sends
(the attackers learn the honest updates through `simulations.attacks.collusion`, never
through the server); `evade` then makes colluders differ from one another as honest
clients do, and `mimic` sends the honest mean. Arithmetic is float64; the functions are
pure (randomness only from the `rng` passed in) and deterministic.

Conventions: μ is the coordinate-wise mean and σ the coordinate-wise *sample* standard
deviation (ddof = 1, as `torch.std` in the authors' code; 0 when k = 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

DIRECTIONS = ("std", "unit", "sign")


def _rows(honest: np.ndarray) -> np.ndarray:
    h = np.asarray(honest, dtype=np.float64)
    if h.ndim != 2 or len(h) < 1:
        raise ValueError(f"honest updates must be a non-empty (k, d) array, not {h.shape}")
    return h


def mean_std(honest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate-wise (μ, σ) of the honest updates, σ with ddof = 1 (zero when k = 1)."""
    h = _rows(honest)
    mu = h.mean(axis=0)
    sigma = h.std(axis=0, ddof=1) if len(h) > 1 else np.zeros_like(mu)
    return mu, sigma


# -- A Little Is Enough ----------------------------------------------------------------------


def alie_z(n: int, m: int) -> float:
    """z_max of "A Little Is Enough" (Baruch, Baruch & Goldberg, NeurIPS 2019, Alg. 3):
    with n workers of which m are corrupted, s = ⌊n/2 + 1⌋ − m honest workers must be
    won over ("supporters"), and z_max = Φ⁻¹((n − s)/n), Φ the standard normal CDF: the
    largest shift for which a coordinate μ − z·σ is still closer to the mean than the
    values of s honest workers. E.g. n = 20, m = 4: s = 7, z = Φ⁻¹(0.65) ≈ 0.3853.

    (Some re-implementations use (n − m − s)/(n − m); this is the paper's formula.)"""
    if n < 1 or not 0 <= m < n:
        raise ValueError(f"ALIE needs n ≥ 1 workers and 0 ≤ m < n attackers (n={n}, m={m})")
    s = math.floor(n / 2 + 1) - m
    p = (n - s) / n
    if not 0.0 < p < 1.0:
        raise ValueError(
            f"ALIE: with n={n}, m={m} the attackers need no supporters (s={s}); set z yourself"
        )
    return NormalDist().inv_cdf(p)


def alie(honest: np.ndarray, z: float) -> np.ndarray:
    """A Little Is Enough (Baruch et al. 2019): every attacker sends μ − z·σ, a small
    coordinate-wise shift that stays within the honest spread, so median-, trimmed-mean-
    and Krum-type rules keep it while it biases the aggregate against the descent."""
    mu, sigma = mean_std(honest)
    return mu - float(z) * sigma


# -- Inner Product Manipulation ----------------------------------------------------------------


def ipm(honest: np.ndarray, eps: float = 0.5) -> np.ndarray:
    """Inner Product Manipulation (Xie, Koyejo & Gupta, "Fall of Empires: Breaking
    Byzantine-tolerant SGD by Inner Product Manipulation", UAI 2019): every attacker
    sends −ε·μ, so the aggregate's inner product with the true mean turns negative. A small
    ε keeps the attackers near the honest cluster (distance-based rules such as Krum
    select them); a large ε (≫ 1) drags means and, with enough attackers, medians."""
    mu, _ = mean_std(honest)
    return -float(eps) * mu


# -- min-max / min-sum --------------------------------------------------------------------------


def perturbation(honest: np.ndarray, direction: str = "std") -> np.ndarray:
    """The perturbation ∇p of Shejwalkar & Houmansadr (NDSS 2021): −σ ("std", inverse
    standard deviation), −μ/‖μ‖ ("unit", inverse unit vector) or −sign(μ) ("sign")."""
    mu, sigma = mean_std(honest)
    if direction == "std":
        return -sigma
    if direction == "unit":
        norm = float(np.linalg.norm(mu))
        return -mu / norm if norm > 0 else np.zeros_like(mu)
    if direction == "sign":
        return -np.sign(mu)
    raise ValueError(f"unknown perturbation direction {direction!r}; known: {DIRECTIONS}")


def _sq_dists(v: np.ndarray, h: np.ndarray) -> np.ndarray:
    diff = h - v[None, :]
    return np.einsum("ij,ij->i", diff, diff)


def _pairwise_sq(h: np.ndarray) -> np.ndarray:
    # Row by row from differences (not the Gram identity): the same arithmetic as the
    # candidate's distances, so a constraint that holds with equality is not lost to
    # cancellation.
    return np.stack([_sq_dists(row, h) for row in h])


def min_max_threshold(honest: np.ndarray) -> float:
    """max_{i,j} ‖∇i − ∇j‖²: the largest squared distance between two honest updates."""
    return float(_pairwise_sq(_rows(honest)).max())


def min_sum_threshold(honest: np.ndarray) -> float:
    """max_i Σ_j ‖∇i − ∇j‖²: the largest sum of squared distances of one honest update."""
    return float(_pairwise_sq(_rows(honest)).sum(axis=1).max())


def min_max_ok(candidate: np.ndarray, honest: np.ndarray, threshold: float) -> bool:
    """Min-max constraint: max_i ‖∇m − ∇i‖² ≤ threshold."""
    return bool(_sq_dists(candidate, _rows(honest)).max() <= threshold)


def min_sum_ok(candidate: np.ndarray, honest: np.ndarray, threshold: float) -> bool:
    """Min-sum constraint: Σ_i ‖∇m − ∇i‖² ≤ threshold."""
    return bool(_sq_dists(candidate, _rows(honest)).sum() <= threshold)


def max_gamma(feasible: Callable[[float], bool], init: float = 10.0, tol: float = 1e-5) -> float:
    """The largest γ ≥ 0 with feasible(γ), for a feasible set [0, γ*] (both constraints
    are convex in γ and hold at γ = 0), to within `tol`: the returned γ is feasible and
    γ + tol is not. Bisection as the paper's Algorithm 1 (start at γ = init, halve the
    step), preceded by doubling while `init` is still feasible, so a γ* above 2·init is
    found too."""
    if feasible(init):
        lo, hi = init, 2.0 * init
        while feasible(hi):
            lo, hi = hi, 2.0 * hi
            if hi > 1e30:  # the constraint does not bind (zero perturbation)
                return lo
    else:
        lo, hi = 0.0, init
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _optimised(
    honest: np.ndarray, direction: str, init: float, tol: float, rule: str
) -> tuple[np.ndarray, float]:
    h = _rows(honest)
    mu, _ = mean_std(h)
    p = perturbation(h, direction)
    if not np.any(p):
        return mu, 0.0
    if rule == "min-max":
        t = min_max_threshold(h)
        gamma = max_gamma(lambda g: min_max_ok(mu + g * p, h, t), init, tol)
    else:
        t = min_sum_threshold(h)
        gamma = max_gamma(lambda g: min_sum_ok(mu + g * p, h, t), init, tol)
    return mu + gamma * p, gamma


def min_max(
    honest: np.ndarray, direction: str = "std", init: float = 10.0, tol: float = 1e-5
) -> tuple[np.ndarray, float]:
    """Min-max (Shejwalkar & Houmansadr, "Manipulating the Byzantine: Optimizing Model
    Poisoning Attacks and Defenses for Federated Learning", NDSS 2021):
    ∇m = μ + γ·∇p with the largest γ such that max_i ‖∇m − ∇i‖ ≤ max_{i,j} ‖∇i − ∇j‖
    (no farther from any honest update than the two farthest honest updates are from
    each other). Returns (∇m, γ)."""
    return _optimised(honest, direction, init, tol, "min-max")


def min_sum(
    honest: np.ndarray, direction: str = "std", init: float = 10.0, tol: float = 1e-5
) -> tuple[np.ndarray, float]:
    """Min-sum (Shejwalkar & Houmansadr 2021): ∇m = μ + γ·∇p with the largest γ such that
    Σ_i ‖∇m − ∇i‖² ≤ max_i Σ_j ‖∇i − ∇j‖² (its sum of squared distances to the honest
    updates is no larger than any honest update's). Returns (∇m, γ)."""
    return _optimised(honest, direction, init, tol, "min-sum")


# -- Fang et al. on median / trimmed mean ----------------------------------------------------


def fang_direction(honest_updates: np.ndarray) -> np.ndarray:
    """s_j: the sign of the change of global parameter j without attack, estimated (full
    knowledge) as sign(μ_j) of the honest updates; 0 is treated as +1."""
    mu, _ = mean_std(honest_updates)
    return np.where(mu < 0, -1.0, 1.0)


def fang_intervals(
    honest: np.ndarray, direction: np.ndarray, b: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per coordinate, the interval [lo, hi] Fang et al. sample the crafted value from
    (w_max,j / w_min,j: largest / smallest honest value of coordinate j, b > 1):

    * s_j = −1 (the parameter would decrease; push it up):
      [w_max,j, b·w_max,j] if w_max,j > 0, else [w_max,j, w_max,j / b];
    * s_j = +1 (push it down):
      [w_min,j / b, w_min,j] if w_min,j > 0, else [b·w_min,j, w_min,j].
    """
    if b <= 1:
        raise ValueError(f"Fang's b must be > 1, not {b}")
    h = _rows(honest)
    w_max, w_min = h.max(axis=0), h.min(axis=0)
    up = np.asarray(direction) < 0
    lo = np.where(up, w_max, np.where(w_min > 0, w_min / b, b * w_min))
    hi = np.where(up, np.where(w_max > 0, b * w_max, w_max / b), w_min)
    return lo, hi


def fang(
    honest: np.ndarray, direction: np.ndarray, rng: np.random.Generator, b: float = 2.0
) -> np.ndarray:
    """The full-knowledge attack of Fang, Cao, Jia & Gong ("Local Model Poisoning Attacks
    to Byzantine-Robust Federated Learning", USENIX Security 2020, §4) on trimmed mean,
    used unchanged on median: each crafted value is drawn uniformly from
    `fang_intervals` (lo + u·(hi − lo), u ~ U[0, 1) from `rng`), beyond the honest extreme
    on the side opposite to the parameter's direction of change. The paper works on local
    models (b = 2 in its experiments); pass updates to attack in update space."""
    lo, hi = fang_intervals(honest, direction, b)
    return lo + rng.random(lo.shape) * (hi - lo)


# -- Fang et al. on Krum ---------------------------------------------------------------------


def fang_krum_bound(honest: np.ndarray, c: int) -> float:
    """λ_upper of Fang et al. (2020, §3.2, full knowledge), with the k honest updates
    Δ_i = w_i − w_Re (rows), c crafted ones, m = k + c workers and d parameters:

        λ_upper = 1/((m − 2c − 1)·√d) · min_i Σ_{l∈Γ(i)} ‖Δ_l − Δ_i‖
                  + 1/√d · max_i ‖Δ_i‖,

    Γ(i) the m − c − 2 = k − 2 honest updates nearest to Δ_i (Euclidean, not squared,
    distances; ‖Δ_i‖ = D(w_i, w_Re)). Needs m − 2c − 1 > 0, i.e. k ≥ c + 2."""
    h = _rows(honest)
    k, d = h.shape
    if c < 1 or k - c - 1 < 1:
        raise ValueError(
            f"Fang's Krum bound needs c ≥ 1 and more than c + 1 honest updates "
            f"(m − 2c − 1 > 0); got c={c}, {k} honest"
        )
    dist = np.sqrt(_pairwise_sq(h))
    near = np.sort(dist + np.diag(np.full(k, np.inf)), axis=1)[:, : k - 2].sum(axis=1)
    norms = np.sqrt(np.einsum("ij,ij->i", h, h))
    return float(near.min() / ((k - c - 1) * math.sqrt(d)) + norms.max() / math.sqrt(d))


def fang_krum_selects(honest: np.ndarray, crafted: np.ndarray, f: int) -> bool:
    """Whether Krum with budget f (`strategies.aggregators.krum_select`) picks one of the
    crafted rows among honest ∪ crafted (ties go to the honest rows, listed first)."""
    from strategies.aggregators import krum_select

    h = _rows(honest)
    rows = np.vstack([h, np.atleast_2d(crafted)])
    return bool(krum_select(rows, f, 1)[0] >= len(h))


def fang_krum_near(w1: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """A crafted model "close to" w'_1: w'_1 + eps·‖w'_1‖·u, u a uniformly random unit
    vector from `rng` (Euclidean distance eps·‖w'_1‖ = eps·λ·√d), eps ≥ 0."""
    if eps < 0:
        raise ValueError(f"eps must be ≥ 0, not {eps}")
    u = rng.standard_normal(len(w1))
    norm = float(np.linalg.norm(u))
    return w1 + (float(eps) * float(np.linalg.norm(w1)) / norm) * u if norm > 0 else w1.copy()


def fang_krum(
    honest: np.ndarray,
    direction: np.ndarray,
    c: int,
    f: int | None = None,
    threshold: float = 1e-5,
    eps: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, float]:
    """The full-knowledge attack of Fang, Cao, Jia & Gong ("Local Model Poisoning Attacks
    to Byzantine-Robust Federated Learning", USENIX Security 2020, §3.2 "Attacking
    Krum"): the c compromised workers send w'_1 = w_Re − λ·s (s the sign vector of the
    parameters' change without attack, `fang_direction`) and w'_2…w'_c within ε of w'_1,
    with λ as large as Krum allows: start at `fang_krum_bound` and halve λ until Krum
    (budget f, default c) on the honest updates plus c copies of w'_1 selects a crafted
    one, or λ < `threshold` (the paper's 1e-5), in which case λ = threshold.

    In update space (Δ = w − w_Re, so w_Re ↦ 0 and w'_1 ↦ −λ·s; Krum and every distance
    are the same as between models). Returns (crafted (c, d), λ): row 0 is −λ·s, rows
    1…c−1 `fang_krum_near` it at relative distance `eps` (needs `rng`; eps = 0: copies).
    The search uses exact copies, so λ depends only on (honest, s, c, f, threshold) and
    every colluder computes the same one."""
    h = _rows(honest)
    s = np.asarray(direction, dtype=np.float64)
    if s.shape != (h.shape[1],):
        raise ValueError(f"direction must have shape ({h.shape[1]},), not {s.shape}")
    f = c if f is None else f
    if f < 0 or len(h) + c <= 2 * f + 2:
        raise ValueError(f"Krum needs n > 2f + 2 with n = {len(h)} honest + {c} crafted; got f={f}")
    if not threshold > 0:
        raise ValueError(f"Fang's threshold must be > 0, not {threshold}")
    if eps < 0 or (eps > 0 and rng is None):
        raise ValueError(f"eps must be ≥ 0 (and > 0 needs an rng), not {eps}")
    lam = fang_krum_bound(h, c)
    while not fang_krum_selects(h, np.tile(-lam * s, (c, 1)), f):
        lam /= 2.0
        if lam < threshold:
            lam = float(threshold)
            break
    w1 = -lam * s
    rows = [w1] + [
        fang_krum_near(w1, eps, rng) if eps > 0 and rng is not None else w1.copy()
        for _ in range(c - 1)
    ]
    return np.stack(rows), lam


# -- mimicry and evasion ---------------------------------------------------------------------

EVASIONS = ("none", "own", "jitter")


def mimic(honest: np.ndarray) -> np.ndarray:
    """Mimicry: every colluder sends μ, the mean of the honest updates it learnt through
    the collusion channel. It does no work of its own and does not harm the model: an
    attack on the rewards (a free ride that looks like the honest centre), not on the
    aggregate. (Not the "mimic" of Karimireddy, He & Jaggi, ICLR 2022, which copies one
    chosen honest worker.) Colluders sending μ are exact copies of one another: pair it
    with `evade` (the registry's default for it is ``jitter``)."""
    mu, _ = mean_std(honest)
    return mu


def evade(
    crafted: np.ndarray,
    honest: np.ndarray,
    own: np.ndarray,
    mode: str = "none",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Make colluders differ from one another as honest clients do, keeping the attack.

    The omniscient attacks above give every colluder the same vector `crafted`, so the
    colluders are exact copies of one another, which a copy (sybil) test sees at once.
    With μ the mean of `honest` (the updates the attack was computed from) and
    σ̄ = mean_j σ_j their mean per-coordinate sample standard deviation (ddof = 1):

    * ``none``: `crafted` unchanged (every colluder sends the same vector);
    * ``own``: own + (crafted − μ), the colluder's OWN honest update moved by the attack's
      shift from the honest mean: it spreads around the crafted point exactly as the
      colluders' honest updates spread around μ;
    * ``jitter``: crafted + N(0, σ̄²·I), drawn from `rng` (one generator per colluder):
      spread like the honest updates, independently of the colluder's own data.
    """
    crafted = np.asarray(crafted, dtype=np.float64)
    if mode == "none":
        return crafted
    if mode == "own":
        mu, _ = mean_std(honest)
        own = np.asarray(own, dtype=np.float64)
        if own.shape != crafted.shape:
            raise ValueError(f"own update of shape {own.shape}, crafted {crafted.shape}")
        return own + (crafted - mu)
    if mode == "jitter":
        if rng is None:
            raise ValueError("evade='jitter' needs an rng")
        _, sigma = mean_std(honest)
        return crafted + rng.normal(0.0, float(sigma.mean()), crafted.shape)
    raise ValueError(f"unknown evasion {mode!r}; known: {', '.join(EVASIONS)}")
