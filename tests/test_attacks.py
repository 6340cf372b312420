"""The attack library (`simulations.attacks`): each attack against its formula on small
hand-computed inputs, the collusion channel (honest updates recomputed bit for bit), the
registry and run-config checks, the new tasks and models, and short staked runs through
the real apps (InProcessGrid, embedded chain) with an ALIE and a backdoor attacker."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, Metadata, RecordDict

from federation.artifact_store import LocalArtifactStore
from federation.errors import ConfigError
from federation.flower.records import arrays_of
from federation.flower.settings import RunSettings, run_config
from federation.keys import dev_signer
from simulations.attacks import ATTACKS, KINDS, RoundView, collusion, parse_attack_params
from simulations.attacks.omniscient import (
    alie,
    alie_z,
    fang,
    fang_direction,
    fang_intervals,
    fang_krum,
    fang_krum_bound,
    fang_krum_selects,
    ipm,
    max_gamma,
    mean_std,
    min_max,
    min_max_threshold,
    min_sum,
    min_sum_threshold,
    perturbation,
)
from simulations.attacks.poisoning import (
    apply_trigger,
    backdoor_poison,
    backdoor_success_rate,
    corner_trigger,
    label_flip,
    lazy_subset,
    parse_label_map,
)
from simulations.attacks.sybil import sybil
from simulations.attacks.tampering import free_ride, gaussian_noise, model_replacement, sign_flip
from simulations.data import client_data, gaussian_mixture, holdout_set
from simulations.flower_app import client_app, client_train, run
from simulations.flower_behaviours import FAULTS, train_setup
from simulations.inprocess_grid import InProcessGrid
from simulations.models import (
    LocalSetup,
    evaluate,
    make_model,
    model_for,
    model_from_arrays,
    state_arrays,
    train,
)

H3 = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])  # μ = (3, 4), σ (ddof 1) = (2, √12)


# -- A Little Is Enough ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "m", "s", "p"),
    [(20, 4, 7, 0.65), (50, 12, 14, 0.72), (10, 2, 4, 0.6), (5, 1, 2, 0.6)],
)
def test_alie_z_is_the_papers_z_max(n: int, m: int, s: int, p: float) -> None:
    # s = ⌊n/2 + 1⌋ − m supporters, z = Φ⁻¹((n − s)/n)
    assert math.floor(n / 2 + 1) - m == s
    assert alie_z(n, m) == pytest.approx(NormalDist().inv_cdf(p), abs=1e-12)


def test_alie_z_hand_values_and_majority_refused() -> None:
    assert alie_z(20, 4) == pytest.approx(0.385320, abs=1e-6)  # Φ⁻¹(0.65)
    assert alie_z(50, 12) == pytest.approx(0.582842, abs=1e-6)  # Φ⁻¹(0.72)
    with pytest.raises(ValueError, match="no supporters"):
        alie_z(10, 6)  # s = 0: the attackers alone are a majority
    with pytest.raises(ValueError):
        alie_z(4, 4)


def test_alie_is_mean_minus_z_sigma() -> None:
    mu, sigma = mean_std(H3)
    np.testing.assert_allclose(mu, [3.0, 4.0])
    np.testing.assert_allclose(sigma, [2.0, math.sqrt(12.0)])
    np.testing.assert_allclose(alie(H3, 1.5), [0.0, 4.0 - 1.5 * math.sqrt(12.0)])
    np.testing.assert_allclose(alie(H3[:1], 3.0), H3[0])  # one honest update: σ = 0


# -- IPM, sign flip, noise, scaling, free-rider, sybil ---------------------------------------------
def test_ipm_is_minus_eps_mean() -> None:
    np.testing.assert_allclose(ipm(H3, 0.5), [-1.5, -2.0])
    np.testing.assert_allclose(ipm(H3, 10.0), [-30.0, -40.0])


def test_naive_model_attacks() -> None:
    d = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(sign_flip(d), [-4.0, 8.0, -2.0])
    np.testing.assert_array_equal(sign_flip(d, 1.0), -d)
    np.testing.assert_array_equal(model_replacement(d, 6.0), [6.0, -12.0, 3.0])
    ref = np.random.default_rng(7).normal(0.0, 0.3, 3)
    np.testing.assert_array_equal(gaussian_noise(d, np.random.default_rng(7), 0.3), ref)
    np.testing.assert_array_equal(
        gaussian_noise(d, np.random.default_rng(7), 0.3, additive=True), d + ref
    )
    tiny = free_ride(10_000, np.random.default_rng(1))
    assert tiny.shape == (10_000,) and 0.9e-6 < tiny.std() < 1.1e-6
    base = np.array([0.2, 0.4])
    ref = np.random.default_rng(3).normal(0.0, 1e-5, 2)
    np.testing.assert_array_equal(sybil(base, np.random.default_rng(3)), base + ref)


# -- min-max / min-sum -----------------------------------------------------------------------------
def test_min_max_and_min_sum_by_hand() -> None:
    """Honest (0,0) and (2,0): μ = (1,0), unit perturbation (−1,0), ∇m = (1 − γ, 0).
    Min-max: max((1−γ)², (1+γ)²) ≤ 4 ⇒ γ = 1. Min-sum: (1−γ)² + (1+γ)² = 2 + 2γ² ≤ 4 ⇒ γ = 1."""
    h = np.array([[0.0, 0.0], [2.0, 0.0]])
    assert min_max_threshold(h) == 4.0 and min_sum_threshold(h) == 4.0
    np.testing.assert_allclose(perturbation(h, "unit"), [-1.0, 0.0])
    for attack in (min_max, min_sum):
        v, gamma = attack(h, "unit")
        assert gamma == pytest.approx(1.0, abs=1e-5) and gamma <= 1.0
        np.testing.assert_allclose(v, [1.0 - gamma, 0.0])


def _closed_form(h: np.ndarray, p: np.ndarray, rule: str) -> float:
    """γ* exactly: min-sum Σ‖μ + γp − hᵢ‖² = S₀ + kγ²‖p‖²; min-max the smallest positive
    root of ‖μ − hᵢ + γp‖² = T over i."""
    mu = h.mean(axis=0)
    a = float(p @ p)
    if rule == "min-sum":
        s0 = float(((h - mu) ** 2).sum())
        return math.sqrt((min_sum_threshold(h) - s0) / (len(h) * a))
    t = min_max_threshold(h)
    roots = []
    for row in h:
        b, c = float(p @ (mu - row)), float((mu - row) @ (mu - row)) - t
        roots.append((-b + math.sqrt(b * b - a * c)) / a)
    return min(roots)


@pytest.mark.parametrize("direction", ["std", "unit", "sign"])
@pytest.mark.parametrize("scale", [1.0, 1000.0])  # 1000: γ* beyond the initial bracket
def test_min_max_min_sum_satisfy_their_constraint_and_are_maximal(
    direction: str, scale: float
) -> None:
    rng = np.random.default_rng(11)
    h = scale * (rng.normal(0.3, 1.0, (6, 9)))
    p = perturbation(h, direction)
    tol = 1e-5
    for attack, rule in ((min_max, "min-max"), (min_sum, "min-sum")):
        v, gamma = attack(h, direction, tol=tol)
        np.testing.assert_allclose(v, h.mean(axis=0) + gamma * p)
        d2 = ((h - v) ** 2).sum(axis=1)
        if rule == "min-max":
            assert d2.max() <= min_max_threshold(h)
            assert (((h - (v + tol * p)) ** 2).sum(axis=1)).max() > min_max_threshold(h)
        else:
            assert d2.sum() <= min_sum_threshold(h)
            assert (((h - (v + tol * p)) ** 2).sum(axis=1)).sum() > min_sum_threshold(h)
        assert _closed_form(h, p, rule) - tol <= gamma <= _closed_form(h, p, rule)


def test_max_gamma_bisection() -> None:
    assert max_gamma(lambda g: g <= 3.7) == pytest.approx(3.7, abs=1e-5)
    assert max_gamma(lambda g: g <= 123.4) == pytest.approx(123.4, abs=1e-5)  # > 2 · init
    assert max_gamma(lambda g: g <= 0.0) == 0.0


# -- Fang et al. -----------------------------------------------------------------------------------
def test_fang_matches_the_papers_construction() -> None:
    """Honest local models (rows); s = (−1, −1, +1, +1), b = 2:
    col 0: s=−1, w_max=3 > 0   → [w_max, b·w_max] = [3, 6]
    col 1: s=−1, w_max=−1 ≤ 0  → [w_max, w_max/b] = [−1, −0.5]
    col 2: s=+1, w_min=1 > 0   → [w_min/b, w_min] = [0.5, 1]
    col 3: s=+1, w_min=−3 ≤ 0  → [b·w_min, w_min] = [−6, −3]"""
    h = np.array([[1.0, -1.0, 2.0, -3.0], [3.0, -2.0, 4.0, -1.0], [2.0, -4.0, 1.0, -2.0]])
    s = np.array([-1.0, -1.0, 1.0, 1.0])
    lo, hi = fang_intervals(h, s, 2.0)
    np.testing.assert_array_equal(lo, [3.0, -1.0, 0.5, -6.0])
    np.testing.assert_array_equal(hi, [6.0, -0.5, 1.0, -3.0])
    u = np.random.default_rng(5).random(4)
    crafted = fang(h, s, np.random.default_rng(5), 2.0)
    np.testing.assert_allclose(crafted, lo + u * (hi - lo))
    assert np.all(crafted[:2] >= h.max(axis=0)[:2]) and np.all(crafted[2:] <= h.min(axis=0)[2:])
    # the direction: sign of the honest mean update, 0 counted as +1
    np.testing.assert_array_equal(fang_direction(np.array([[1.0, -1.0, 0.0]])), [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="b must be > 1"):
        fang_intervals(h, s, 1.0)


def test_fang_in_model_space_through_the_registry() -> None:
    g = np.array([10.0, -10.0])
    updates = np.array([[1.0, -1.0], [3.0, -2.0]])  # models g + Δ: (11, −11), (13, −12)
    view = RoundView(
        g=g,
        own=np.zeros(2),
        rng=np.random.default_rng(2),
        n=3,
        group=(0,),
        honest_ids=(1, 2),
        updates=lambda ids: updates,
    )
    sent = ATTACKS["fang"].craft(view, ATTACKS["fang"].resolve())  # type: ignore[misc]
    # s = (+1, −1): coordinate 0 pushed below w_min = 11 into [5.5, 11], 1 above w_max = −11
    u = np.random.default_rng(2).random(2)
    expected = np.array([5.5 + u[0] * 5.5, -11.0 + u[1] * 5.5]) - g
    np.testing.assert_allclose(sent, expected)


# -- Fang et al. on Krum ---------------------------------------------------------------------------
# Honest updates a_i·(1, 1, 1, 1), a = (−1, 1, 2, 4, 7): d = 4, so every distance is 2·|a_i − a_j|
# and s = sign(μ) = (+1, +1, +1, +1), w'_1 = −λ·s is the scalar −λ on the same line.
FK_A = np.array([-1.0, 1.0, 2.0, 4.0, 7.0])
FK_H = np.outer(FK_A, np.ones(4))


def _krum_scores(rows: np.ndarray, f: int) -> np.ndarray:
    """Krum's scores from scratch: sum of the n − f − 2 smallest squared distances."""
    n = len(rows)
    d2 = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2)
    return np.array([np.sort(np.delete(d2[i], i))[: n - f - 2].sum() for i in range(n)])


def test_fang_krum_by_hand() -> None:
    """c = 2, f = c = 2, m = 7. Bound: Γ(i) = the m − c − 2 = 3 nearest honest; sums of
    |a_l − a_i| over them: −1: 2+3+5 = 10, 1: 1+2+3 = 6, 2: 1+2+3 = 6, 4: 2+3+3 = 8,
    7: 3+5+6 = 14; min 6, i.e. 12 in ℝ⁴; max ‖Δ_i‖ = 2·7 = 14:
    λ_upper = 12/((7 − 4 − 1)·√4) + 14/√4 = 3 + 7 = 10.
    Krum (n − f − 2 = 3 neighbours, squared scalar distances ×4) with the two copies at −λ:
    λ = 10: copies 0 + 81 + 121 = 202 vs honest 1: 1 + 4 + 9 = 14;
    λ = 5: 0 + 16 + 36 = 52 vs 14;  λ = 2.5: 0 + 2.25 + 12.25 = 14.5 vs honest −1:
    2.25 + 2.25 + 4 = 8.5;  λ = 1.25: 0 + 0.0625 + 5.0625 = 5.125 vs −1: 4.125;
    λ = 0.625: 0 + 0.140625 + 2.640625 = 2.78125 vs −1: 4.28125, 1: 6.28…, 2: 1 + 4 + 4 = 9
    ⇒ selected after 4 halvings: λ = 10/2⁴ = 0.625."""
    s = fang_direction(FK_H)
    np.testing.assert_array_equal(s, np.ones(4))
    assert fang_krum_bound(FK_H, 2) == pytest.approx(10.0, abs=1e-12)
    crafted, lam = fang_krum(FK_H, s, 2)
    assert lam == 10.0 / 2**4 == 0.625
    np.testing.assert_array_equal(crafted, np.tile(-0.625 * s, (2, 1)))  # eps = 0: copies
    for lam_k, picked in [(10.0, False), (5.0, False), (2.5, False), (1.25, False), (0.625, True)]:
        rows = np.vstack([FK_H, np.tile(-lam_k * s, (2, 1))])
        scores = _krum_scores(rows, 2)
        assert (int(np.argmin(scores)) >= 5) is picked  # our own Krum, independently
        assert fang_krum_selects(FK_H, np.tile(-lam_k * s, (2, 1)), 2) is picked
    np.testing.assert_allclose(
        _krum_scores(np.vstack([FK_H, crafted]), 2)[[0, 5]], [4 * 4.28125, 4 * 2.78125]
    )


def test_fang_krum_single_attacker_falls_back_to_the_threshold() -> None:
    """c = 1, f = 1 (3 neighbours): the lone −λ scores (1−λ)² + (1+λ)² + (2+λ)² =
    6 + 4λ + 3λ² (×4), honest 1 at most 1 + (1+λ)² + 4 = 6 + 2λ + λ²: never selected, so
    λ halves below the threshold and the threshold is sent; two colluders succeed."""
    s = fang_direction(FK_H)
    crafted, lam = fang_krum(FK_H, s, 1)
    assert lam == 1e-5 and crafted.shape == (1, 4)
    np.testing.assert_array_equal(crafted[0], -1e-5 * s)
    assert fang_krum(FK_H, s, 1, threshold=0.1)[1] == 0.1
    assert fang_krum(FK_H, s, 2)[1] == 0.625


def test_fang_krum_more_colluders_push_further() -> None:
    """Honest updates clustered away from the origin (‖μ‖² = 2·d): one to three colluders
    cannot make Krum pick −λ·s at any λ ≥ threshold; from four on they can, and λ grows
    with c. Krum on honest ∪ crafted then selects a crafted row."""
    rng = np.random.default_rng(0)
    h = rng.normal(0.0, 1.0, (10, 50)) + math.sqrt(2.0)
    s = fang_direction(h)
    lams = [fang_krum(h, s, c)[1] for c in range(1, 8)]
    assert lams[:3] == [1e-5] * 3
    assert 1e-5 < lams[3] < lams[4] < lams[5] < lams[6]
    for c in range(4, 8):
        crafted, lam = fang_krum(h, s, c, eps=1e-4, rng=np.random.default_rng(c))
        assert lam <= fang_krum_bound(h, c)
        rows = np.vstack([h, crafted])
        assert int(np.argmin(_krum_scores(rows, c))) >= len(h)
        assert fang_krum_selects(h, crafted, c)
        # the halving stopped at the first success: 2λ was not selected (λ < bound)
        if lam < fang_krum_bound(h, c):
            assert not fang_krum_selects(h, np.tile(-2 * lam * s, (c, 1)), c)
        # rows 1… are within eps·‖λ·s‖ of w'_1 = −λ·s
        dist = np.linalg.norm(crafted[1:] - crafted[0], axis=1)
        np.testing.assert_allclose(dist, 1e-4 * lam * math.sqrt(50))
        np.testing.assert_array_equal(crafted[0], -lam * s)


def test_fang_krum_assumed_f_and_invalid_parameters() -> None:
    s = fang_direction(FK_H)
    # the rule's f given apart from c. f = 1 (4 neighbours, scalar squares): at λ = 1.25
    # the copies score 0 + 0.0625 + 5.0625 + 10.5625 = 15.6875 > honest 1's
    # 1 + 4 + 2·5.0625 = 15.125; at λ = 0.625, 0 + 0.140625 + 2.640625 + 6.890625 =
    # 9.671875 < 1 + 4 + 2·2.640625 = 10.28125 (honest 1, the lowest honest): λ = 0.625.
    # f = 0 (5 neighbours, the far 7 counts): no λ ≥ threshold works.
    assert fang_krum(FK_H, s, 2, f=1)[1] == 0.625
    rows = np.vstack([FK_H, np.tile(-0.625 * s, (2, 1))])
    np.testing.assert_allclose(_krum_scores(rows, 1)[[1, 5]], [4 * 10.28125, 4 * 9.671875])
    assert fang_krum(FK_H, s, 2, f=0)[1] == 1e-5
    for kwargs, msg in [
        ({"c": 3}, "n > 2f"),  # f = c = 3: 8 updates, Krum needs 9
        ({"c": 2, "f": -1}, "n > 2f"),
        ({"c": 2, "threshold": 0.0}, "threshold must be > 0"),
        ({"c": 2, "eps": -1.0, "rng": np.random.default_rng(0)}, "eps must be ≥ 0"),
        ({"c": 2, "eps": 1e-3}, "needs an rng"),
        ({"c": 4, "f": 1}, "more than c \\+ 1 honest"),  # m − 2c − 1 = 0
        ({"c": 0, "f": 1}, "c ≥ 1"),
    ]:
        with pytest.raises(ValueError, match=msg):
            fang_krum(FK_H, s, **kwargs)
    with pytest.raises(ValueError, match="direction must have shape"):
        fang_krum(FK_H, s[:3], 2)
    with pytest.raises(ValueError, match="expected float"):
        parse_attack_params("fang-krum.eps=tiny")
    with pytest.raises(ValueError, match="no parameter 'b'"):
        parse_attack_params("fang-krum.b=2")


def _fang_krum_view(pid: int, group: tuple[int, ...], rows: dict[int, np.ndarray]) -> RoundView:
    return RoundView(
        g=np.zeros(4),
        own=rows[pid],
        rng=np.random.default_rng([0, 1, pid]),
        n=len(rows),
        group=group,
        honest_ids=tuple(q for q in rows if q not in group),
        updates=lambda ids: np.stack([rows[q] for q in ids]),
    )


def test_fang_krum_group_through_the_registry() -> None:
    """Two colluders (partitions 0, 1) beside the five hand-example updates: both derive
    λ = 0.625 alone; the leader (lowest id) sends w'_1 = −λ·s exactly, the other w'_1
    moved by eps·‖λ·s‖; Krum on what is sent picks a crafted update."""
    rows = {0: np.full(4, 0.3), 1: np.full(4, -0.2)}  # the colluders' own honest updates
    rows.update({2 + i: FK_H[i] for i in range(5)})
    spec = ATTACKS["fang-krum"]
    assert spec.kind == "omniscient" and spec.params["threshold"].default == 1e-5
    p = spec.resolve()
    sent = [spec.craft(_fang_krum_view(pid, (0, 1), rows), p) for pid in (0, 1)]  # type: ignore[misc]
    np.testing.assert_array_equal(sent[0], -0.625 * np.ones(4))
    gap = float(np.linalg.norm(sent[1] - sent[0]))
    assert gap == pytest.approx(1e-4 * 0.625 * 2.0) and gap > 0
    assert fang_krum_selects(FK_H, np.stack(sent), 2)
    # the same view again: the same update (deterministic for a seed)
    again = spec.craft(_fang_krum_view(1, (0, 1), rows), p)  # type: ignore[misc]
    np.testing.assert_array_equal(again, sent[1])
    # parameters from attack-params; a negative eps is refused
    q = spec.resolve(parse_attack_params("fang-krum.f=1,fang-krum.eps=0")["fang-krum"])
    assert q["f"] == 1 and q["eps"] == 0.0
    with pytest.raises(ValueError, match="eps must be ≥ 0"):
        spec.craft(_fang_krum_view(1, (0, 1), rows), {**p, "eps": -1.0})  # type: ignore[misc]


def test_fang_krum_attackers_in_the_app() -> None:
    """Partitions 0…3 run fang-krum among 11 (seven honest ClientApps): the leader signs
    g + w'_1, w'_1 = −λ·s of the honest replies' updates with λ from `fang_krum`, exactly
    (cast to the model's dtype); the other three send distinct near-copies; Krum (f = 4) on
    the honest replies plus the four sent picks a crafted one. (With 2 of 7, or 3 of 9,
    colluders λ falls back to the threshold on digits: the honest updates cluster too far
    from −λ·s.)"""
    n, group = 11, range(4)
    cfg = run_config(behaviours=",".join(f"{p}:fang-krum" for p in group))
    g = state_arrays(make_model(seed=0))
    gv = collusion.flatten(g)
    honest = np.stack([collusion.flatten(_reply_arrays(p, n, cfg, g, 1)) - gv for p in range(4, n)])
    s = fang_direction(honest)
    crafted, lam = fang_krum(honest, s, 4)
    assert lam > 1e-5  # the attack found a λ Krum accepts
    sent = [_reply_arrays(pid, n, cfg, g, 1) for pid in group]
    expected = collusion.unflatten(gv + crafted[0], like=g)
    for k in g:
        assert sent[0][k].tobytes() == expected[k].tobytes()
    flat = np.stack([collusion.flatten(a) - gv for a in sent])
    assert len({row.tobytes() for row in flat}) == 4  # four distinct updates …
    gaps = np.linalg.norm(flat[1:] - flat[0], axis=1)
    assert np.all(gaps < 2e-4 * np.linalg.norm(flat[0]))  # … within ≈ eps·‖λ·s‖ of w'_1
    assert fang_krum_selects(honest, flat, 4)


# -- data poisoning --------------------------------------------------------------------------------
def test_label_flip() -> None:
    y = np.array([0, 1, 2, 9, 4])
    np.testing.assert_array_equal(label_flip(y), [9, 8, 7, 0, 5])  # y → 9 − y
    assert parse_label_map("1>7;7>1") == {1: 7, 7: 1}
    flipped = label_flip(np.array([1, 7, 3]), mapping={1: 7, 7: 1})
    np.testing.assert_array_equal(flipped, [7, 1, 3])
    half = label_flip(y, fraction=0.4, rng=np.random.default_rng(0))
    idx = np.sort(np.random.default_rng(0).choice(5, size=2, replace=False))
    expected = y.copy()
    expected[idx] = 9 - y[idx]
    np.testing.assert_array_equal(half, expected)
    np.testing.assert_array_equal(y, [0, 1, 2, 9, 4])  # input untouched
    with pytest.raises(ValueError, match="SRC>DST"):
        parse_label_map("1-7")


def test_backdoor_poisons_exactly_the_chosen_examples() -> None:
    x, y = client_data(0, 4)
    trig = corner_trigger(8, 3)
    assert trig.pixels == (45, 46, 47, 53, 54, 55, 61, 62, 63)  # bottom-right 3×3
    xp, yp, idx = backdoor_poison(
        x, y, trigger=trig, target=0, fraction=0.3, rng=np.random.default_rng(4)
    )
    assert len(idx) == int(0.3 * len(x))
    np.testing.assert_array_equal(
        idx, np.sort(np.random.default_rng(4).choice(len(x), len(idx), replace=False))
    )
    other = np.setdiff1d(np.arange(len(x)), idx)
    assert np.all(xp[idx][:, list(trig.pixels)] == 1.0) and np.all(yp[idx] == 0)
    np.testing.assert_array_equal(xp[other], x[other])
    np.testing.assert_array_equal(yp[other], y[other])
    rest = [i for i in range(64) if i not in trig.pixels]
    np.testing.assert_array_equal(xp[idx][:, rest], x[idx][:, rest])
    sx, _ = lazy_subset(x, y, 0.05)
    assert len(sx) == max(1, len(x) // 20) and np.array_equal(sx, x[: len(sx)])


def test_backdoor_success_rate_of_a_backdoored_and_a_clean_model() -> None:
    x, y = client_data(0, 1)
    xt, yt = holdout_set()
    trig = corner_trigger(8, 3)
    xp, yp, _ = backdoor_poison(
        x, y, trigger=trig, target=0, fraction=0.3, rng=np.random.default_rng(0)
    )
    clean, dirty = make_model(seed=1), make_model(seed=1)
    train(clean, x, y, epochs=5, lr=0.5, seed=0)
    train(dirty, xp, yp, epochs=5, lr=0.5, seed=0)
    assert backdoor_success_rate(dirty, xt, yt, trig, 0) > 0.9
    assert backdoor_success_rate(clean, xt, yt, trig, 0) < 0.3
    assert evaluate(dirty, xt, yt)[1] > 0.85  # the main task still works
    # any callable returning class scores works too
    always_zero = lambda a: np.tile(np.eye(10)[0], (len(a), 1))  # noqa: E731
    assert backdoor_success_rate(always_zero, xt, yt, trig, 0) == 1.0
    assert apply_trigger(xt[:2], trig)[:, 63].tolist() == [1.0, 1.0]


# -- the collusion channel -------------------------------------------------------------------------
def _context(pid: int, n: int, cfg: dict[str, Any]) -> Context:
    return Context(
        run_id=1,
        node_id=100 + pid,
        node_config={"partition-id": pid, "num-partitions": n},
        state=RecordDict(),
        run_config=dict(cfg),
    )


def _train_msg(g: ArrayRecord, rnd: int, node: int) -> Message:
    meta = Metadata(
        run_id=1,
        message_id=f"m{node}",
        src_node_id=0,
        dst_node_id=node,
        reply_to_message_id="",
        group_id=str(rnd),
        created_at=0.0,
        ttl=60.0,
        message_type="train",
    )
    content = RecordDict({"arrays": g, "config": ConfigRecord({"server-round": rnd})})
    return Message(content=content, metadata=meta)


def _reply_arrays(
    pid: int, n: int, cfg: dict[str, Any], g: dict[str, np.ndarray], rnd: int
) -> dict[str, np.ndarray]:
    rec = ArrayRecord({k: Array(v) for k, v in g.items()})
    reply = client_train(_train_msg(rec, rnd, 100 + pid), _context(pid, n, cfg))
    return arrays_of(reply.content["arrays"])


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_collusion_reproduces_honest_updates_bit_for_bit(model: str) -> None:
    cfg = run_config(model=model, local_epochs=2, dirichlet_alpha=0.5, seed=3)
    setup = train_setup(RunSettings.from_run_config(cfg))
    g = state_arrays(model_for("digits", model, seed=9))
    collusion.clear()
    for pid in (1, 3):
        sent = _reply_arrays(pid, 4, cfg, g, rnd=2)  # what the honest ClientApp replies
        copy = collusion.honest_result(setup, pid, 4, g, 2).arrays  # what an attacker recomputes
        assert list(sent) == list(copy)
        for k in sent:
            assert sent[k].dtype == copy[k].dtype and sent[k].tobytes() == copy[k].tobytes()
    collusion.honest_updates(setup, [1, 3], 4, g, 2)  # cached: no new training
    assert collusion.stats() == {"trainings": 2, "hits": 2}


def test_collusion_is_the_same_in_a_fresh_process() -> None:
    """Ray workers recompute in their own process: same bytes there as here."""
    setup = LocalSetup(seed=1)
    g = state_arrays(make_model(seed=4))
    here = collusion.model_hash(collusion.honest_result(setup, 2, 5, g, 3).arrays)
    code = (
        "from simulations.attacks import collusion;"
        "from simulations.models import LocalSetup, make_model, state_arrays;"
        "g = state_arrays(make_model(seed=4));"
        "r = collusion.honest_result(LocalSetup(seed=1), 2, 5, g, 3);"
        "print(collusion.model_hash(r.arrays))"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == here


def test_alie_attacker_in_the_app_sends_the_formula_of_the_real_honest_replies() -> None:
    """Partition 0 runs ALIE among 5; what its ClientApp sends is g + μ − z·σ of the
    updates the four honest ClientApps actually send, z = z_max(n=5, m=1)."""
    cfg = run_config(behaviours="0:alie")
    g = state_arrays(make_model(seed=0))
    gv = collusion.flatten(g)
    honest = np.stack([collusion.flatten(_reply_arrays(p, 5, cfg, g, 1)) - gv for p in range(1, 5)])
    sent = _reply_arrays(0, 5, cfg, g, 1)
    expected = collusion.unflatten(gv + alie(honest, alie_z(5, 1)), like=g)
    for k in g:
        assert sent[k].tobytes() == expected[k].tobytes()
    cfg = run_config(behaviours="0:ipm,1:ipm", attack_params="ipm.eps=2")
    honest = np.stack([collusion.flatten(_reply_arrays(p, 5, cfg, g, 1)) - gv for p in range(2, 5)])
    for pid in (0, 1):
        sent = collusion.flatten(_reply_arrays(pid, 5, cfg, g, 1))
        np.testing.assert_allclose(sent - gv, -2.0 * honest.mean(axis=0), atol=1e-6)


# -- registry and run config -----------------------------------------------------------------------
def test_registry_entries_are_complete() -> None:
    assert {"label-flip", "sign-flip", "noise", "scaling", "backdoor", "alie", "ipm"} <= set(
        ATTACKS
    )
    assert {"min-max", "min-sum", "fang", "fang-krum", "sybil", "free-rider", "lazy"} <= set(
        ATTACKS
    )
    for name, spec in ATTACKS.items():
        assert spec.name == name and spec.kind in KINDS
        assert spec.poison is not None or spec.craft is not None
        assert spec.function.__doc__ and spec.source
        spec.resolve()  # every parameter has a default
    # the historical behaviour names still work
    assert {"sign-flip", "noise", "free-rider", "lazy"} <= set(ATTACKS)
    assert {"nan", "wrong-shape", "crash"} == FAULTS


def test_attack_params_parse_and_errors() -> None:
    assert parse_attack_params("alie.z=1.5,scaling.factor=10") == {
        "alie": {"z": 1.5},
        "scaling": {"factor": 10.0},
    }
    assert parse_attack_params("min-max.direction=sign, noise.additive=true") == {
        "min-max": {"direction": "sign"},
        "noise": {"additive": True},
    }
    assert parse_attack_params("") == {}
    for bad, msg in [
        ("alie.q=1", "no parameter 'q'"),
        ("alei.z=1", "unknown attack 'alei'"),
        ("alie.z=big", "expected float"),
        ("min-max.direction=up", "one of std, unit, sign"),
        ("alie=1", "ATTACK.PARAM=VALUE"),
        ("alie.z=1,alie.z=2", "given twice"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_attack_params(bad)


@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        ({"behaviours": "0:alei"}, "unknown behaviour 'alei'"),
        ({"behaviours": "x:alie"}, "PID:NAME"),
        ({"attack_params": "alie.zz=1"}, "no parameter 'zz'"),
        ({"model": "resnet"}, "unknown model 'resnet'"),
        ({"task": "cifar"}, "unknown task 'cifar'"),
    ],
)
def test_server_app_refuses_bad_attack_config_at_start_up(
    tmp_path: Path, overrides: dict[str, Any], msg: str
) -> None:
    cfg = run_config(artifact_dir=str(tmp_path), **overrides)
    with pytest.raises(ConfigError, match=msg):
        run(InProcessGrid(client_app, 2, cfg), cfg)
    assert not any(tmp_path.iterdir())  # refused before any chain or store was made


# -- tasks and models ------------------------------------------------------------------------------
def test_synthetic_task_is_seeded_and_partitioned() -> None:
    a, b, c = gaussian_mixture(0), gaussian_mixture(0), gaussian_mixture(1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].dtype == np.float32 and a[0].shape == (2000, 64) and set(a[1]) == set(range(10))
    sizes = [len(client_data(p, 5, task="synthetic", alpha=0.3)[1]) for p in range(5)]
    assert sum(sizes) == 1600 and min(sizes) >= 5
    x, y = client_data(0, 1, task="synthetic")
    model = make_model(seed=0, kind="logreg")
    train(model, x, y, epochs=10, lr=0.1)
    assert evaluate(model, *holdout_set(task="synthetic"))[1] > 0.75


@pytest.mark.parametrize("kind", ["mlp", "logreg", "cnn"])
def test_models_are_seeded_and_classify_digits(kind: str) -> None:
    a, b = make_model(seed=5, kind=kind), make_model(seed=5, kind=kind)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert a(torch.zeros(3, 64)).shape == (3, 10)
    x, y = client_data(0, 2)
    loss = train(a, x, y, epochs=5, lr=0.5, seed=0)
    assert loss < 1.5 and evaluate(a, *holdout_set())[1] > 0.6


def test_unknown_or_misfit_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        make_model(kind="resnet")
    with pytest.raises(ValueError, match="square"):
        make_model(kind="cnn", n_features=50, image_side=None)


# -- staked runs through the real apps -------------------------------------------------------------
def _address(pid: int) -> str:
    return dev_signer(1 + pid).address


def _staked(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    cfg = run_config(artifact_dir=str(tmp_path / "runs"), num_server_rounds=2, **overrides)
    return run(InProcessGrid(client_app, 6, cfg), cfg)


def _settled_and_verified(summary: dict[str, Any]) -> None:
    assert len(summary["rounds"]) == 2
    assert summary["accounting"]["balanced"], summary["accounting"]
    assert summary["verify"] and all(v["ok"] for v in summary["verify"].values())
    for r in summary["rounds"]:
        assert len(r["valid"]) == 6 and not r["exclusions"]  # well-formed, signed updates


def test_staked_run_with_alie_attackers(tmp_path: Path) -> None:
    """Two ALIE attackers among six on median: the run settles, balances and verifies, and
    in the artifact store (what each round committed to) every attacker's signed update is
    g + μ − z·σ of the honest participants' signed updates, bit for bit."""
    summary = _staked(tmp_path, behaviours="0:alie,1:alie", strategy="median", f=2)
    _settled_and_verified(summary)
    assert summary["backdoor_success"] == {}  # nobody plants a backdoor: not measured
    assert all(r["backdoor_success"] is None for r in summary["rounds"])
    store = LocalArtifactStore(summary["artifacts"])
    for r in summary["rounds"]:
        manifest = store.get_named(f"round-{r['round_id']}-manifest")
        sent = {
            s["participant"]: store.get(bytes.fromhex(s["arrays"])) for s in manifest["submissions"]
        }
        g = store.get(bytes.fromhex(manifest["global_model_hash"]))
        gv = collusion.flatten(g)
        honest = np.stack([collusion.flatten(sent[_address(p)]) - gv for p in range(2, 6)])
        expected = collusion.unflatten(gv + alie(honest, alie_z(6, 2)), like=g)
        for pid in (0, 1):
            assert all(sent[_address(pid)][k].tobytes() == expected[k].tobytes() for k in g)


def test_staked_run_with_a_backdoor_attacker(tmp_path: Path) -> None:
    """Model replacement carrying the pixel-pattern backdoor (factor and target from
    `attack-params`) under FedAvg: the run settles, balances and verifies, and each round
    reports the backdoor's success on the round's aggregate with that trigger and target."""
    summary = _staked(
        tmp_path,
        behaviours="2:scaling",
        attack_params="scaling.factor=3,scaling.target=7,scaling.patch=2",
        strategy="fedavg",
        f=0,
    )
    _settled_and_verified(summary)
    store = LocalArtifactStore(summary["artifacts"])
    x, y = holdout_set(seed=0, task="digits")
    trigger = corner_trigger(8, 2, 1.0)
    for r in summary["rounds"]:
        model = model_from_arrays(store.get(bytes.fromhex(r["aggregate_hash"])), "digits", "mlp")
        assert r["backdoor_success"] == backdoor_success_rate(model, x, y, trigger, 7)
        assert r["backdoor_success"] != backdoor_success_rate(model, x, y, trigger, 0)
    assert summary["backdoor_success"][2] == summary["rounds"][-1]["backdoor_success"]


# -- evasion: colluders that differ as honest clients do ------------------------------------------
def test_evade_by_hand() -> None:
    """H3: μ = (3, 4), σ = (2, √12), σ̄ = (2 + √12)/2. A crafted (0, 0) and an own (10, 10):
    none → crafted; own → own + (crafted − μ) = (7, 6); jitter → crafted + N(0, σ̄²) from the
    rng given (the same draw for the same seed)."""
    from simulations.attacks.omniscient import EVASIONS, evade

    assert EVASIONS == ("none", "own", "jitter")
    crafted, own = np.zeros(2), np.full(2, 10.0)
    np.testing.assert_array_equal(evade(crafted, H3, own, "none"), crafted)
    np.testing.assert_array_equal(evade(crafted, H3, own, "own"), [7.0, 6.0])
    sd = (2.0 + math.sqrt(12.0)) / 2
    want = np.random.default_rng(5).normal(0.0, sd, 2)
    np.testing.assert_allclose(evade(crafted, H3, own, "jitter", np.random.default_rng(5)), want)
    # the jitter's spread is σ̄, measured on many coordinates
    h = np.random.default_rng(0).normal(0.0, 0.3, (10, 20_000))
    x = evade(np.zeros(20_000), h, np.zeros(20_000), "jitter", np.random.default_rng(1))
    assert float(x.std()) == pytest.approx(float(mean_std(h)[1].mean()), rel=0.02)
    with pytest.raises(ValueError, match="unknown evasion"):
        evade(crafted, H3, own, "sideways")
    with pytest.raises(ValueError, match="needs an rng"):
        evade(crafted, H3, own, "jitter")
    with pytest.raises(ValueError, match="own update of shape"):
        evade(crafted, H3, np.zeros(3), "own")


def _colluder_view(pid: int, own: dict[int, np.ndarray], honest: np.ndarray) -> RoundView:
    """Colluders 0…2 (own updates `own`) beside honest partitions 3… (rows of `honest`)."""
    rows = {**own, **{3 + i: r for i, r in enumerate(honest)}}
    return RoundView(
        g=np.zeros(honest.shape[1]),
        own=own[pid],
        rng=np.random.default_rng([0, 1, pid]),
        n=len(rows),
        group=(0, 1, 2),
        honest_ids=tuple(range(3, 3 + len(honest))),
        updates=lambda ids: np.stack([rows[q] for q in ids]),
    )


@pytest.mark.parametrize("name", ["alie", "ipm", "min-max", "min-sum", "mimic"])
def test_evade_through_the_registry(name: str) -> None:
    """`evade` of the omniscient attacks: none (alie, ipm, min-max, min-sum's default) gives
    every colluder the same vector; own gives colluder i own_i + (crafted − μ), so the
    colluders differ exactly as their own honest updates do; jitter (mimic's default)
    differs per colluder too."""
    rng = np.random.default_rng(3)
    honest = rng.normal(0.1, 0.5, (8, 40))
    own = {p: rng.normal(0.1, 0.5, 40) for p in range(3)}
    spec = ATTACKS[name]
    assert spec.params["evade"].choices == ("none", "own", "jitter")
    assert spec.resolve()["evade"] == ("jitter" if name == "mimic" else "none")
    assert spec.craft is not None

    def sent(evade: str) -> list[np.ndarray]:
        p = spec.resolve(parse_attack_params(f"{name}.evade={evade}")[name])
        return [spec.craft(_colluder_view(pid, own, honest), p) for pid in range(3)]  # type: ignore[misc]

    plain = sent("none")
    assert all(np.array_equal(plain[0], s) for s in plain[1:])
    mu = honest.mean(axis=0)
    for pid, s in enumerate(sent("own")):
        np.testing.assert_allclose(s, own[pid] + (plain[0] - mu), atol=1e-12)
    for evasive in (sent("own"), sent("jitter")):
        assert len({s.tobytes() for s in evasive}) == 3
    with pytest.raises(ValueError, match="one of none, own, jitter"):
        parse_attack_params(f"{name}.evade=sideways")
    assert "evade" not in ATTACKS["sign-flip"].params and "evade" not in ATTACKS["fang"].params
