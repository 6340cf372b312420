"""Contribution and anomaly scoring of one round's updates — the entry point.

Input convention: `updates` are *deltas* (local model − global model), flattened to
(n, d). Deltas make "free rider" (delta ≈ 0) and direction (cosine) meaningful; callers
holding full weights use `deltas_from_weights`. Everything runs in float64 with fixed
tie-breaking, so the same inputs and state give bit-identical outputs (`verify`) on the
same numpy/BLAS build; across machines float64 values may differ in the last ulp.

Two scorers, chosen by `ScoringConfig.method`: "evidence" (the default,
`strategies.scoring_evidence`: reward = measured usefulness, slash only on multi-signal
evidence across rounds) and "legacy" (`strategies.scoring_legacy`, the peer-cosine scorer
kept for the before/after comparison in SCORING.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from strategies.scoring_evidence import score_evidence
from strategies.scoring_inputs import as_matrix, as_reference, deltas_from_weights
from strategies.scoring_legacy import score_legacy
from strategies.scoring_state import ScoringState
from strategies.scoring_types import RoundScores, ScoringConfig

DEFAULT_CONFIG = ScoringConfig()

__all__ = ["DEFAULT_CONFIG", "deltas_from_weights", "score_round"]


def score_round(
    updates: np.ndarray,
    participant_ids: Sequence[Hashable],
    state: ScoringState | None = None,
    config: ScoringConfig = DEFAULT_CONFIG,
    *,
    round_id: int | None = None,
    reference: np.ndarray | None = None,
) -> tuple[RoundScores, ScoringState]:
    """Score one round. Pure: returns (scores, new state); `state` is not modified.

    `participant_ids` are keyed as `str(id)` in the state (use one spelling per address).
    `round_id`, when given, must increase across calls on the same state. `reference` is
    the coordinator's own update on its validation ("root") set this round, a (d,) delta
    like the rows of `updates` (FLTrust); without it usefulness is measured against the
    participants' recent robust direction, with weaker guarantees (SCORING.md). The
    legacy scorer ignores it.
    """
    ids = [str(p) for p in participant_ids]
    u = as_matrix(updates, ids)
    d = u.shape[1]
    ref = as_reference(reference, d)
    prev = state if state is not None else ScoringState(sketch_dim=config.sketch_dim)
    if prev.dim is not None and prev.dim != d:
        raise ValueError(f"state holds histories of dimension {prev.dim}, updates have {d}")
    if round_id is not None and prev.last_round is not None and round_id <= prev.last_round:
        raise ValueError(f"round {round_id} not after the state's last round {prev.last_round}")
    if config.method == "legacy":
        return score_legacy(u, ids, prev, config, round_id)
    return score_evidence(u, ids, prev, config, round_id, ref)
