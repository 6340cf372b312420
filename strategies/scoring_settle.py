"""One call from a round's updates to its settlement: scoring, then policy.

The chain layer's `finalize` and `verify` both call `decide_round` with the same inputs
and the same `SettlementState` JSON, so a verifier reproduces scores, rewards and slashes
exactly. Participants excluded upstream (malformed / forged) are passed in `upstream`
and are not scored.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.policy import PolicyConfig, PolicyState, RoundDecision, settle_round
from strategies.scoring import DEFAULT_CONFIG, score_round
from strategies.scoring_state import ScoringState
from strategies.scoring_types import ReasonCode, RoundScores, ScoringConfig


@dataclass
class SettlementState:
    """Cross-round state of scoring (histories) and policy (strikes), one JSON blob."""

    scoring: ScoringState = field(default_factory=ScoringState)
    policy: PolicyState = field(default_factory=PolicyState)

    def to_json(self) -> str:
        blob = {"scoring": self.scoring.to_dict(), "policy": self.policy.to_dict()}
        return json.dumps(blob, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, s: str) -> SettlementState:
        d: dict[str, Any] = json.loads(s)
        return cls(ScoringState.from_dict(d["scoring"]), PolicyState.from_dict(d["policy"]))


def decide_round(
    round_id: int,
    updates: np.ndarray,
    participant_ids: Sequence[Hashable],
    stakes: Mapping[Hashable, int],
    budget: int,
    state: SettlementState | None = None,
    *,
    upstream: Mapping[Hashable, ReasonCode] | None = None,
    scoring_config: ScoringConfig = DEFAULT_CONFIG,
    policy_config: PolicyConfig | None = None,
    reference: np.ndarray | None = None,
) -> tuple[RoundScores | None, RoundDecision, SettlementState]:
    """Score the valid updates (rows of `updates`, deltas) and settle the round.

    Contract: `round_id` strictly increases across calls on one state; `updates` is a
    finite float (n, d) matrix of deltas (local − global model) whose rows belong to the
    unique `participant_ids`; `stakes` and `budget` are non-negative ints (token wei);
    `upstream` maps participants found at fault before scoring (reply validation) to a
    reason in `strategies.policy.UPSTREAM`; `reference`, when given, is the coordinator's
    own (d,) delta on its validation set this round (`strategies.scoring.score_round`).
    Anything else raises ValueError before any state changes.

    With no valid update (`len(participant_ids) == 0`) only the upstream slashes apply,
    the scores are None and the budget stays unallocated. Pure: `state` is not modified.
    """
    prev = state or SettlementState(ScoringState(sketch_dim=scoring_config.sketch_dim))
    scores: RoundScores | None = None
    scoring_state = prev.scoring
    if len(participant_ids) > 0:
        scores, scoring_state = score_round(
            updates,
            participant_ids,
            prev.scoring,
            scoring_config,
            round_id=round_id,
            reference=reference,
        )
    decision, policy_state = settle_round(
        round_id,
        scores.participants if scores is not None else (),
        stakes,
        budget,
        prev.policy,
        policy_config,
        upstream=upstream,
    )
    return scores, decision, SettlementState(scoring_state, policy_state)
