"""Policy: exact integer rewards, proportionality, strikes, immediacy, determinism, state."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.policy import (
    BPS,
    UPSTREAM,
    PolicyConfig,
    PolicyState,
    is_provable,
    settle_round,
    split_rewards,
)
from strategies.scoring_types import Flag, ParticipantScore, ReasonCode, Signals

_SIG = Signals(**{f.name: 0 for f in fields(Signals)})


def ps(pid: str, ppm: int, *flags: tuple[ReasonCode, bool]) -> ParticipantScore:
    fl = tuple(Flag(r, s, "test") for r, s in flags)
    return ParticipantScore(pid, 0.0 if fl else ppm / 1e6, 0 if fl else ppm, fl, _SIG)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 10**6), max_size=30),
    st.integers(0, 10**30),
)
def test_split_sum_exact_and_close_to_proportional(weights: dict[str, int], budget: int) -> None:
    shares = split_rewards(weights, budget)
    total = sum(weights.values())
    assert set(shares) == set(weights)
    assert all(isinstance(v, int) and v >= 0 for v in shares.values())
    if total == 0:
        assert sum(shares.values()) == 0
        return
    assert sum(shares.values()) == budget
    for p, w in weights.items():
        exact_floor = budget * w // total
        assert exact_floor <= shares[p] <= exact_floor + 1
    assert split_rewards(dict(reversed(list(weights.items()))), budget) == shares


def test_split_without_remainder_never_exceeds_budget() -> None:
    shares = split_rewards({"a": 1, "b": 1, "c": 1}, 100, remainder=False)
    assert shares == {"a": 33, "b": 33, "c": 33}
    assert split_rewards({"a": 1, "b": 1, "c": 1}, 100) == {"a": 34, "b": 33, "c": 33}


def test_flagged_get_nothing_and_rest_proportional() -> None:
    scores = [ps("a", 500_000), ps("b", 250_000), ps("c", 0, (ReasonCode.BYZANTINE, False))]
    dec, _ = settle_round(1, scores, {"a": 10, "b": 10, "c": 10}, 3_000)
    assert dec.rewards == {"a": 2_000, "b": 1_000, "c": 0}
    assert dec.slashes == ()  # first mild strike
    assert dec.flagged == {"c": (ReasonCode.BYZANTINE,)}
    assert dec.unallocated == 0


def test_nobody_eligible_leaves_budget_unallocated() -> None:
    dec, _ = settle_round(1, [ps("a", 0, (ReasonCode.SYBIL, False))], {}, 77)
    assert dec.rewards == {"a": 0} and dec.unallocated == 77


def test_byzantine_strikes_within_window() -> None:
    cfg = PolicyConfig(byzantine_strikes=3, strike_window=5)
    state = None
    stake = {"x": 1_000_000}
    bad = [ps("x", 0, (ReasonCode.BYZANTINE, False))]
    slashed = []
    for r in (1, 2, 3):
        dec, state = settle_round(r, bad, stake, 0, state, cfg)
        slashed.append(dec.slashes)
    assert slashed[0] == () and slashed[1] == ()
    (s,) = slashed[2]
    assert (s.reason, s.bps, s.amount, s.strikes) == (ReasonCode.BYZANTINE, 1_000, 100_000, 3)
    assert state is not None and "x" not in state.strikes  # consumed by the slash


def test_strikes_expire_outside_window() -> None:
    cfg = PolicyConfig(byzantine_strikes=2, strike_window=3)
    bad = [ps("x", 0, (ReasonCode.BYZANTINE, False))]
    good = [ps("x", 1)]
    _, s = settle_round(1, bad, {"x": 100}, 0, None, cfg)
    _, s = settle_round(2, good, {"x": 100}, 0, s, cfg)
    _, s = settle_round(3, good, {"x": 100}, 0, s, cfg)
    dec, s = settle_round(4, bad, {"x": 100}, 0, s, cfg)  # round 1 expired (4 - 3 = 1)
    assert dec.slashes == ()
    dec, s = settle_round(5, bad, {"x": 100}, 0, s, cfg)
    assert len(dec.slashes) == 1


def test_severe_and_upstream_are_immediate() -> None:
    scores = [ps("s", 0, (ReasonCode.BYZANTINE, True)), ps("h", 1_000_000)]
    upstream = {
        "m": ReasonCode.MALFORMED,
        "f": ReasonCode.FORGED_HASH,
        "e": ReasonCode.EQUIVOCATION,
        "n": ReasonCode.NULL_UPDATE,
        "x": ReasonCode.BAD_EXAMPLES,
    }
    stakes = {p: 10_000 for p in ("s", *upstream)} | {"h": 5}
    dec, _ = settle_round(1, scores, stakes, 10, upstream=upstream)
    got = {s.participant: (s.reason, s.amount) for s in dec.slashes}
    assert got == {
        "s": (ReasonCode.BYZANTINE, 1_000),
        "m": (ReasonCode.MALFORMED, 1_000),
        "f": (ReasonCode.FORGED_HASH, 2_000),
        "e": (ReasonCode.EQUIVOCATION, 1_000),
        "n": (ReasonCode.NULL_UPDATE, 1_000),
        "x": (ReasonCode.BAD_EXAMPLES, 1_000),
    }
    assert dec.rewards == {"e": 0, "f": 0, "h": 10, "m": 0, "n": 0, "s": 0, "x": 0}
    assert [s.participant for s in dec.slashes] == sorted(got)


def test_provable_slash_is_exactly_provable_bps_and_beats_a_larger_judged_one() -> None:
    """The contract accepts one size for a provable slash, whatever the judged cap; and a
    proven fault is preferred to a larger judged one (no dispute, jails at once)."""
    cfg = PolicyConfig(provable_bps=700, max_judged_bps=300, byzantine_bps=5_000)
    assert cfg.bps(ReasonCode.NULL_UPDATE) == 700 and cfg.bps(ReasonCode.BYZANTINE) == 300
    # an equivocator whose first reply was scored (and flagged) is slashed for equivocating
    scores = [ps("e", 0, (ReasonCode.BYZANTINE, True))]
    dec, _ = settle_round(
        1, scores, {"e": 10_000}, 0, None, cfg, upstream={"e": ReasonCode.EQUIVOCATION}
    )
    assert [(s.reason, s.bps) for s in dec.slashes] == [(ReasonCode.EQUIVOCATION, 700)]


def test_reason_at_zero_bps_costs_the_reward_but_never_slashes() -> None:
    cfg = PolicyConfig(byzantine_bps=0)
    dec, _ = settle_round(
        1, [ps("x", 0, (ReasonCode.BYZANTINE, True)), ps("h", 1)], {}, 9, None, cfg
    )
    assert dec.slashes == () and dec.rewards == {"h": 9, "x": 0}


def test_misfits_name_the_setting_that_does_not_fit_the_contract() -> None:
    assert PolicyConfig().misfits(1_000, 5_000) == []
    (provable,) = PolicyConfig().misfits(2_000, 5_000)
    assert provable.startswith("provable_bps = 1000") and "provableSlashBps is 2000" in provable
    judged = PolicyConfig(forged_hash_bps=3_000).misfits(1_000, 2_500)
    assert [m.split(" = ")[0] for m in judged] == ["forged_hash_bps"]


def test_one_slash_per_participant_largest_bps_and_cap() -> None:
    cfg = PolicyConfig(sybil_bps=3_000, free_rider_bps=9_000, max_judged_bps=4_000)
    flags = ((ReasonCode.SYBIL, True), (ReasonCode.FREE_RIDER, True))
    dec, _ = settle_round(1, [ps("x", 0, *flags)], {"x": 999}, 0, None, cfg)
    (s,) = dec.slashes
    assert (s.reason, s.bps, s.amount) == (ReasonCode.FREE_RIDER, 4_000, 999 * 4_000 // BPS)


def test_slash_never_exceeds_stake_and_missing_stake_is_zero() -> None:
    cfg = PolicyConfig(provable_bps=10_000)
    dec, _ = settle_round(1, [], {"a": 7}, 0, None, cfg, upstream={"a": 1, "b": 1})
    assert {s.participant: s.amount for s in dec.slashes} == {"a": 7, "b": 0}


def test_rejects_replay_and_bad_numbers() -> None:
    _, s = settle_round(3, [ps("a", 1)], {}, 1)
    with pytest.raises(ValueError):
        settle_round(3, [ps("a", 1)], {}, 1, s)
    with pytest.raises(ValueError):
        settle_round(4, [ps("a", 1)], {}, -1, s)
    with pytest.raises(ValueError):
        settle_round(4, [ps("a", 1)], {"a": 1.5}, 1, s)  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        settle_round(4, [ps("a", 1), ps("a", 2)], {}, 1, s)
    with pytest.raises(ValueError):
        settle_round(4, [], {}, 1, s, upstream={"a": ReasonCode.BYZANTINE})
    with pytest.raises(ValueError):
        PolicyConfig(byzantine_strikes=0)


def test_state_json_round_trip_reproduces_decisions() -> None:
    bad = [ps("x", 0, (ReasonCode.SYBIL, False)), ps("y", 3)]
    _d1, s1 = settle_round(1, bad, {"x": 50}, 9)
    restored = PolicyState.from_json(s1.to_json())
    assert restored.to_json() == s1.to_json()
    a, sa = settle_round(2, bad, {"x": 50}, 9, s1)
    b, sb = settle_round(2, bad, {"x": 50}, 9, restored)
    assert a == b and sa.to_json() == sb.to_json()
    assert len(a.slashes) == 1  # second SYBIL strike
    assert s1.to_json() == restored.to_json()  # inputs untouched


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.booleans()), min_size=1, max_size=20),
    st.integers(0, 10**24),
)
def test_decisions_invariants(rows: list[tuple[int, bool]], budget: int) -> None:
    scores = [
        ps(f"p{i}", w, (ReasonCode.BYZANTINE, False)) if bad else ps(f"p{i}", w)
        for i, (w, bad) in enumerate(rows)
    ]
    dec, _ = settle_round(1, scores, {}, budget)
    assert sum(dec.rewards.values()) <= budget
    for i, (_, bad) in enumerate(rows):
        if bad:
            assert dec.rewards[f"p{i}"] == 0
    if any(w > 0 and not bad for w, bad in rows):
        assert sum(dec.rewards.values()) == budget


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.sampled_from([None, *ReasonCode]),
            st.booleans(),
            st.integers(0, 10**24),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 10**21),
    st.randoms(use_true_random=False),
)
def test_permutation_invariant_and_slash_within_stake(rows, budget, rnd) -> None:  # type: ignore[no-untyped-def]
    scores, stakes, upstream = [], {}, {}
    for i, (w, reason, severe, stake) in enumerate(rows):
        pid = f"p{i}"
        stakes[pid] = stake
        if reason in UPSTREAM:
            upstream[pid] = reason
        elif reason is None:
            scores.append(ps(pid, w))
        else:
            scores.append(ps(pid, 0, (reason, severe)))
    dec, st1 = settle_round(1, scores, stakes, budget, upstream=upstream)
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    dec2, st2 = settle_round(1, shuffled, dict(reversed(stakes.items())), budget, upstream=upstream)
    assert dec == dec2 and st1.to_json() == st2.to_json()
    for s in dec.slashes:
        assert 0 <= s.amount <= stakes[s.participant]
        cfg = PolicyConfig()
        assert s.bps == (cfg.provable_bps if is_provable(s.reason) else s.bps)
        assert s.bps <= max(cfg.max_judged_bps, cfg.provable_bps)
    assert sum(dec.rewards.values()) <= budget
