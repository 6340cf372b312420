"""Legacy scorer (`method="legacy"`): attacks flagged with their reason, determinism, state."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.scoring import deltas_from_weights
from strategies.scoring import score_round as _score_round
from strategies.scoring_state import ScoringState, sketch_rows
from strategies.scoring_types import PPM, ReasonCode, ScoringConfig

LEGACY = ScoringConfig(method="legacy")


def score_round(*args: Any, **kwargs: Any) -> Any:
    """The legacy scorer unless a test passes its own config."""
    kwargs.setdefault("config", LEGACY)
    return _score_round(*args, **kwargs)


IDS = [f"0x{i:040x}" for i in range(12)]


def _round(seed: int, n: int = 12, d: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=d) * 0.1
    return mu + rng.normal(size=(n, d)) * 0.3


def _attacked(seed: int) -> np.ndarray:
    u = _round(seed)
    rng = np.random.default_rng(seed + 1000)
    u[0] = -u[0]  # sign flip
    u[1] = 5.0 * u[1]  # scaled
    u[2] = rng.normal(size=u.shape[1])  # noise
    u[4] = u[3]  # sybil copy
    u[5] = 0.0  # free rider
    return u


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_attack_flagged_with_its_reason(seed: int) -> None:
    scores, _ = score_round(_attacked(seed), IDS, round_id=1)
    reasons = [p.reasons for p in scores.participants]
    assert ReasonCode.BYZANTINE in reasons[0]
    assert ReasonCode.BYZANTINE in reasons[1]
    assert ReasonCode.BYZANTINE in reasons[2]
    assert reasons[3] == (ReasonCode.SYBIL,)
    assert reasons[4] == (ReasonCode.SYBIL,)
    assert reasons[5] == (ReasonCode.FREE_RIDER,)
    for p in scores.participants[6:]:
        assert not p.flagged, p
        assert 0.0 < p.score <= 1.0
    for p in scores.participants[:6]:
        assert p.score == 0.0 and p.score_ppm == 0


@pytest.mark.parametrize("seed", range(10, 20))
def test_honest_round_not_flagged(seed: int) -> None:
    scores, _ = score_round(_round(seed), IDS)
    assert not [p for p in scores.participants if p.flagged]


def test_scaled_attack_is_severe() -> None:
    scores, _ = score_round(_attacked(7), IDS)
    assert any(f.severe for f in scores.participants[1].flags)


def test_deterministic_and_pure() -> None:
    u = _attacked(4)
    before = u.copy()
    s1, st1 = score_round(u, IDS, round_id=3)
    s2, st2 = score_round(u, IDS, round_id=3)
    assert s1.to_dict() == s2.to_dict()
    assert st1.to_json() == st2.to_json()
    np.testing.assert_array_equal(u, before)


def test_state_not_mutated_and_json_round_trip_reproduces() -> None:
    state = ScoringState()
    _, s1 = score_round(_round(1), IDS, state, round_id=1)
    assert state.histories == {}
    restored = ScoringState.from_json(s1.to_json())
    assert restored == s1
    a, sa = score_round(_round(2), IDS, s1, round_id=2)
    b, sb = score_round(_round(2), IDS, restored, round_id=2)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert sa.to_json() == sb.to_json()


def test_round_must_increase_and_dimension_fixed() -> None:
    _, s = score_round(_round(1), IDS, round_id=5)
    with pytest.raises(ValueError):
        score_round(_round(2), IDS, s, round_id=5)
    with pytest.raises(ValueError):
        score_round(_round(2, d=400), IDS, s, round_id=6)


def test_rejects_bad_input() -> None:
    u = _round(1)
    with pytest.raises(ValueError):
        score_round(u, IDS[:-1])
    with pytest.raises(ValueError):
        score_round(u, [*IDS[:-1], IDS[0]])
    u[0, 0] = np.nan
    with pytest.raises(ValueError):
        score_round(u, IDS)


def test_history_catches_near_copies_the_round_test_misses() -> None:
    """Non-IID honest clients (persistent drift) and a sybil pair sharing one objective
    with private noise: each round the pair is not close enough to be a copy, but their
    accumulated histories converge while honest histories drift apart."""
    rng = np.random.default_rng(5)
    n, d = 12, 500
    mu = rng.normal(size=d) / np.sqrt(d)
    drift = rng.normal(size=(n, d)) / np.sqrt(d)
    state = None
    flagged_rounds = []
    for r in range(1, 7):
        u = mu + drift + rng.normal(size=(n, d)) / np.sqrt(d)
        shared = u[0].copy()  # one objective for both identities, plus private noise
        u[0] = shared + 0.3 * rng.normal(size=d) / np.sqrt(d)
        u[1] = shared + 0.3 * rng.normal(size=d) / np.sqrt(d)
        scores, state = score_round(u, IDS, state, round_id=r)
        p0, p1 = scores.participants[0], scores.participants[1]
        assert p0.signals.copy_ratio > ScoringConfig().copy_ratio  # not a per-round copy
        assert not any(p.flagged for p in scores.participants[2:]), r
        if ReasonCode.SYBIL in p0.reasons and ReasonCode.SYBIL in p1.reasons:
            flagged_rounds.append(r)
    assert flagged_rounds and min(flagged_rounds) >= ScoringConfig().history_min_rounds
    assert flagged_rounds[-1] == 6


def test_all_identical_updates_guarded() -> None:
    u = np.tile(_round(3)[0], (6, 1))
    scores, _ = score_round(u, IDS[:6])
    for p in scores.participants:
        assert p.reasons == (ReasonCode.SYBIL,)
        assert np.isfinite(p.signals.foolsgold_weight)


def test_all_zero_updates_are_free_riders() -> None:
    scores, _ = score_round(np.zeros((5, 10)), IDS[:5])
    assert all(p.reasons == (ReasonCode.FREE_RIDER,) for p in scores.participants)


def test_small_rounds() -> None:
    u = _round(1, n=1)
    (p,) = score_round(u, IDS[:1])[0].participants
    assert not p.flagged and 0 < p.score <= 1
    scores, _ = score_round(_round(1, n=3), IDS[:3])
    assert not any(p.flagged for p in scores.participants)


def test_deltas_from_weights() -> None:
    g = np.arange(4.0)
    w = np.stack([g + 1, g])
    np.testing.assert_array_equal(deltas_from_weights(w, g), [[1, 1, 1, 1], [0, 0, 0, 0]])
    with pytest.raises(ValueError):
        deltas_from_weights(w, np.zeros(3))


def test_sketch_preserves_cosine_roughly_and_is_identity_when_small() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 50))
    np.testing.assert_array_equal(sketch_rows(a, 64), a)
    x = rng.normal(size=(2, 20_000))
    x[1] = 0.8 * x[0] + 0.6 * rng.normal(size=20_000)
    s = sketch_rows(x, 1024)
    cos = s[0] @ s[1] / np.linalg.norm(s[0]) / np.linalg.norm(s[1])
    assert abs(cos - 0.8) < 0.1


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.integers(1, 30))
def test_scores_in_unit_interval_and_ppm_consistent(seed: int, n: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, d)) * rng.uniform(0.01, 10)
    scores, state = score_round(u, IDS[:n])
    for p in scores.participants:
        assert 0.0 <= p.score <= 1.0
        assert p.score_ppm == int(np.floor(p.score * PPM))
        assert (p.score == 0.0) or not p.flagged
    assert ScoringState.from_json(state.to_json()) == state


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_permuting_participants_permutes_results(seed: int) -> None:
    u = _attacked(seed % 1000)
    perm = np.random.default_rng(seed).permutation(len(IDS))
    a, _ = score_round(u, IDS)
    b, _ = score_round(u[perm], [IDS[i] for i in perm])
    fa = {p.participant: p.reasons for p in a.participants}
    fb = {p.participant: p.reasons for p in b.participants}
    assert fa == fb


def test_majority_of_free_riders_or_clones_does_not_flag_honest() -> None:
    """Zeros / clones are excluded from the reference statistics, so they cannot become
    the 'norm' that honest clients deviate from."""
    u = _round(8, n=9)
    zeros = u.copy()
    zeros[:5] = 0.0
    scores, _ = score_round(zeros, IDS[:9])
    assert [p.reasons for p in scores.participants[:5]] == [(ReasonCode.FREE_RIDER,)] * 5
    assert not any(p.flagged for p in scores.participants[5:])
    clones = u.copy()
    clones[:5] = u[0]
    scores, _ = score_round(clones, IDS[:9])
    assert [p.reasons for p in scores.participants[:5]] == [(ReasonCode.SYBIL,)] * 5
    assert not any(p.flagged for p in scores.participants[5:])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 999), st.sampled_from([1e-4, 0.5, 3.0, 1e3]))
def test_flags_invariant_to_the_update_scale(seed: int, c: float) -> None:
    """Every detector uses ratios, cosines or robust z: the units of the model's
    parameters (learning rate, layer scale) must not change who is flagged."""
    u = _attacked(seed)
    a, _ = score_round(u, IDS)
    b, _ = score_round(c * u, IDS)
    assert [p.reasons for p in a.participants] == [p.reasons for p in b.participants]
    for pa, pb in zip(a.participants, b.participants, strict=True):
        assert abs(pa.score - pb.score) < 1e-6
