"""The evidence scorer: rewards follow measured usefulness, slashes need multi-signal
evidence across rounds, colluders stand out in their residual histories, sybils share."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.scoring import score_round
from strategies.scoring_settle import SettlementState, decide_round
from strategies.scoring_state import ScoringState
from strategies.scoring_types import BASIS_GUARANTEES, ReasonCode, ScoringConfig

D = 400
N_HONEST = 12
TOKEN = 10**18


def _world(seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    """A true descent direction mu and a persistent per-client drift (non-IID)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=D)
    mu *= 1.0 / np.linalg.norm(mu)
    drift = rng.normal(size=(N_HONEST, D))
    drift *= 0.8 / np.linalg.norm(drift, axis=1, keepdims=True)
    return rng, mu, drift


def _honest(rng: np.random.Generator, mu: np.ndarray, drift: np.ndarray) -> np.ndarray:
    noise = rng.normal(size=(len(drift), D)) * (0.8 / math.sqrt(D))
    return mu + drift + noise


def _ids(n: int) -> list[str]:
    return [f"p{i:02d}" for i in range(n)]


def _run(
    seed: int,
    rounds: int,
    attackers: int,
    craft: object,
    *,
    reference: bool = True,
    config: ScoringConfig | None = None,
) -> tuple[dict[str, int], dict[str, list[int]], list]:
    """Rounds of decide_round; returns rewards and slash rounds per id, and the scores."""
    rng, mu, drift = _world(seed)
    ids = _ids(N_HONEST + attackers)
    stakes = {p: 100 * TOKEN for p in ids}
    state: SettlementState | None = None
    rewards = dict.fromkeys(ids, 0)
    slashed: dict[str, list[int]] = {p: [] for p in ids}
    history = []
    for r in range(1, rounds + 1):
        honest = _honest(rng, mu, drift)
        bad = [craft(rng, honest, mu, i) for i in range(attackers)]  # type: ignore[operator]
        u = np.vstack([honest, *bad]) if bad else honest
        ref = mu + rng.normal(size=D) * (0.3 / math.sqrt(D)) if reference else None
        scores, decision, state = decide_round(
            r,
            u,
            ids,
            stakes,
            100 * TOKEN,
            state,
            scoring_config=config or ScoringConfig(),
            reference=ref,
        )
        for p, v in decision.rewards.items():
            rewards[p] += v
        for s in decision.slashes:
            slashed[s.participant].append(r)
            stakes[s.participant] -= s.amount
        history.append((scores, decision))
    return rewards, slashed, history


def _honest_mean(rewards: dict[str, int]) -> float:
    return float(np.mean([rewards[p] for p in _ids(N_HONEST)]))


def test_honest_participants_are_paid_and_never_slashed_despite_drift() -> None:
    for reference in (True, False):
        rewards, slashed, _ = _run(1, 15, 0, None, reference=reference)
        assert not any(slashed.values())
        assert min(rewards.values()) > 0.5 * _honest_mean(rewards)


@pytest.mark.parametrize(
    ("name", "craft"),
    [
        ("noise", lambda rng, h, mu, i: rng.normal(size=D) * 3.0 / math.sqrt(D)),
        ("sign-flip", lambda rng, h, mu, i: -h[i]),
        ("free-ride", lambda rng, h, mu, i: rng.normal(size=D) * 1e-9),
    ],
)
def test_useless_updates_earn_nothing_with_a_validation_set(name: str, craft: object) -> None:
    rewards, _, _ = _run(2, 6, 2, craft)
    honest = _honest_mean(rewards)
    for p in _ids(N_HONEST + 2)[N_HONEST:]:
        assert rewards[p] <= 0.1 * honest, (name, rewards[p] / honest)


def test_boosting_an_update_earns_no_more_than_sending_it() -> None:
    """Magnitudes are capped at the round's median norm: ×2 and ×5 earn the same."""
    _, _, hist = _run(3, 1, 2, lambda rng, h, mu, i: (2.0 + 3.0 * i) * h[0])
    scores = hist[0][0].by_id()
    x2, x5 = (scores[p] for p in _ids(N_HONEST + 2)[N_HONEST:])
    assert x2.signals.usefulness == pytest.approx(x2.signals.direction_cosine)
    assert x5.signals.usefulness == pytest.approx(x2.signals.usefulness)
    assert x5.score_ppm == 0  # and far: its reward is withheld


def test_distance_alone_withholds_the_reward_but_never_slashes() -> None:
    """A client far from everybody every round (its own heavy drift) that still points the
    right way: its reward is withheld while it is far, its stake is never touched."""
    own = np.random.default_rng(44).normal(size=D)
    own *= 5.0 / np.linalg.norm(own)
    rewards, slashed, hist = _run(4, 12, 1, lambda rng, h, mu, i: mu + own)
    far_id = _ids(N_HONEST + 1)[-1]
    far_rounds = [s.by_id()[far_id] for s, _ in hist]
    assert all(ReasonCode.BYZANTINE in p.reasons for p in far_rounds)
    assert all(p.score_ppm == 0 for p in far_rounds)
    assert not slashed[far_id] and rewards[far_id] == 0
    assert not any(f.strike for p in far_rounds for f in p.flags)


def test_a_sign_flipper_is_slashed_on_multi_signal_evidence_with_its_signals() -> None:
    _, slashed, hist = _run(5, 8, 1, lambda rng, h, mu, i: -4.0 * h[0])
    bad = _ids(N_HONEST + 1)[-1]
    assert slashed[bad]
    first = slashed[bad][0]
    (slash,) = [s for s in hist[first - 1][1].slashes if s.participant == bad]
    assert slash.reason == ReasonCode.BYZANTINE
    names = dict(slash.signals)
    assert "distance_z" in names and "direction_cosine" in names
    assert names["direction_cosine"] <= ScoringConfig().useless_cosine
    assert len(slash.strike_rounds) >= 1 and slash.strike_rounds[-1] == first
    doc = hist[first - 1][1].to_dict()["slashes"][0]
    assert doc["signals"]["direction_cosine"] == pytest.approx(names["direction_cosine"])


def test_colluders_sharing_a_shift_stand_out_in_their_residual_histories() -> None:
    """Five colluders each send their own honest update (own drift, own noise) plus a
    common shift (2.5× an honest client's drift, about what ALIE with jitter adds on real
    data): their residual histories share a direction that no three honest clients share.
    (A shift well below the honest spread is not caught: SCORING.md.)"""
    rng0 = np.random.default_rng(99)
    shift = rng0.normal(size=D)
    shift *= 2.0 / np.linalg.norm(shift)
    drift_c = rng0.normal(size=(5, D))
    drift_c *= 0.8 / np.linalg.norm(drift_c, axis=1, keepdims=True)

    def craft(rng: np.random.Generator, h: np.ndarray, mu: np.ndarray, i: int) -> np.ndarray:
        return mu + drift_c[i] + rng.normal(size=D) * (0.8 / math.sqrt(D)) + shift

    rewards, slashed, hist = _run(6, 12, 5, craft)
    colluders = _ids(N_HONEST + 5)[N_HONEST:]
    cfg = ScoringConfig()
    for scores, _ in hist[cfg.history_min_rounds - 1 :]:
        by = scores.by_id()
        honest_coord = max(by[p].signals.coordination for p in _ids(N_HONEST))
        for p in colluders:
            assert by[p].signals.coordination >= cfg.coordination_cosine > honest_coord
            assert ReasonCode.BYZANTINE in by[p].reasons and by[p].score_ppm == 0
    assert all(rewards[p] < 0.3 * _honest_mean(rewards) for p in colluders)
    assert not any(slashed[p] for p in _ids(N_HONEST))


def test_sybils_share_one_reward() -> None:
    def craft(rng: np.random.Generator, h: np.ndarray, mu: np.ndarray, i: int) -> np.ndarray:
        return h[0] + rng.normal(size=D) * 1e-7  # three identities copying one update

    _, _, hist = _run(7, 1, 3, craft)
    scores, decision = hist[0]
    group = ["p00", *_ids(N_HONEST + 3)[N_HONEST:]]
    for p in group:
        s = scores.by_id()[p]
        assert s.signals.group_size == 4
        assert ReasonCode.SYBIL in s.reasons
    together = sum(decision.rewards[p] for p in group)
    alone = float(np.mean([decision.rewards[p] for p in _ids(N_HONEST)[1:]]))
    assert together == pytest.approx(alone, rel=0.35)


def test_basis_is_recorded_with_its_guarantees() -> None:
    _, _, with_ref = _run(8, 1, 0, None, reference=True)
    _, _, without = _run(8, 1, 0, None, reference=False)
    assert with_ref[0][0].basis == "server"
    doc = without[0][0].to_dict()
    assert doc["basis"] == "peer" and doc["guarantees"] == BASIS_GUARANTEES["peer"]
    assert "weaker" in doc["guarantees"]


def test_deterministic_and_restorable_from_json() -> None:
    rng, mu, drift = _world(9)
    ids = _ids(N_HONEST)
    state = ScoringState()
    for r in range(1, 5):
        u = _honest(rng, mu, drift)
        ref = mu.copy()
        a, s1 = score_round(u, ids, state, round_id=r, reference=ref)
        b, s2 = score_round(
            u, ids, ScoringState.from_json(state.to_json()), round_id=r, reference=ref
        )
        assert a.to_dict() == b.to_dict() and s1.to_json() == s2.to_json()
        state = s1
    assert state.residuals and state.direction is not None
    v1 = {
        "version": 1,
        "dim": D,
        "sketch_dim": 1024,
        "last_round": 4,
        "histories": {},
        "rounds": {},
    }
    assert ScoringState.from_dict(v1).residuals == {}


def test_bad_reference_and_bad_method_are_errors() -> None:
    u = np.ones((3, 5))
    with pytest.raises(ValueError, match="reference update has 4 values"):
        score_round(u, _ids(3), reference=np.ones(4))
    with pytest.raises(ValueError, match="not finite"):
        score_round(u, _ids(3), reference=np.array([1.0, np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="unknown scoring method 'krum'"):
        ScoringConfig(method="krum")


def test_legacy_method_is_selectable_and_ignores_the_reference() -> None:
    rng, mu, drift = _world(10)
    u = _honest(rng, mu, drift)
    legacy = ScoringConfig(method="legacy")
    a, _ = score_round(u, _ids(N_HONEST), config=legacy, round_id=1)
    b, _ = score_round(u, _ids(N_HONEST), config=legacy, round_id=1, reference=mu)
    assert a.to_dict() == b.to_dict() and a.basis == "legacy"
