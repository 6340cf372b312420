"""The one-call settlement path: attackers paid nothing (copies share one reward), verify
reproduces, states round-trip."""

from __future__ import annotations

import numpy as np

from strategies.scoring_settle import SettlementState, decide_round
from strategies.scoring_synthetic import SyntheticSpec, episode
from strategies.scoring_types import ReasonCode


def test_episode_settles_and_verify_reproduces_from_json() -> None:
    state = SettlementState()
    budget = 10**18 + 7
    stakes = {f"client-{j:02d}": 10**20 for j in range(25)}
    slashed: set[str] = set()
    for r, rnd in enumerate(episode(3, SyntheticSpec(d=300), rounds=5), start=1):
        blob = state.to_json()
        scores, decision, state = decide_round(r, rnd.updates, rnd.ids, stakes, budget, state)
        # a verifier holding only the JSON state and the artefacts gets the same result
        s2, d2, st2 = decide_round(
            r, rnd.updates, rnd.ids, stakes, budget, SettlementState.from_json(blob)
        )
        assert d2 == decision and st2.to_json() == state.to_json()
        assert scores is not None and s2 is not None and s2.to_dict() == scores.to_dict()
        assert sum(decision.rewards.values()) == budget
        honest = [
            decision.rewards[p] for p, k in zip(rnd.ids, rnd.kinds, strict=True) if k == "honest"
        ]
        assert sum(1 for v in honest if v > 0) >= 0.8 * len(honest)  # a lone signal withholds
        for pid, kind in zip(rnd.ids, rnd.kinds, strict=True):
            if kind == "copy":  # the two copies share one reward
                assert decision.rewards[pid] <= max(honest)
            elif kind != "honest":
                assert decision.rewards[pid] == 0
        slashed |= {s.participant for s in decision.slashes}
    kinds = dict(zip(rnd.ids, rnd.kinds, strict=True))
    assert {kinds[p] for p in slashed} <= {"sign_flip", "scaled", "noise", "copy", "zero"}
    assert {kinds[p] for p in slashed} >= {"noise", "copy", "zero"}


def test_only_upstream_failures() -> None:
    _, decision, state = decide_round(
        1, np.zeros((0, 4)), [], {"a": 100}, 50, upstream={"a": ReasonCode.FORGED_HASH}
    )
    assert decision.rewards == {"a": 0} and decision.unallocated == 50
    assert [(s.participant, s.reason, s.amount) for s in decision.slashes] == [
        ("a", ReasonCode.FORGED_HASH, 20)
    ]
    assert SettlementState.from_json(state.to_json()).to_json() == state.to_json()
