"""Data types of anomaly/contribution scoring: reason codes, flags, per-participant results.

Kept apart from the maths so the chain layer can import the types (and the on-chain reason
codes) without pulling in the aggregators.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

PPM = 1_000_000


def _finite_or_none(v: Any) -> Any:
    """Strict JSON has no NaN/inf: undefined signals (too few peers) become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class ReasonCode(IntEnum):
    """Slash reason codes, identical to the uint8 codes of docs/protocol.md."""

    MALFORMED = 1  # non-finite / wrong shape (from reply validation upstream)
    FORGED_HASH = 2  # signed hash does not match the arrays (chain layer)
    BYZANTINE = 3  # outlier by distance or direction (scoring)
    SYBIL = 4  # (near-)copy of another participant's update (scoring)
    FREE_RIDER = 5  # update ≈ 0, i.e. local model ≈ global model (scoring)
    EQUIVOCATION = 6  # two signed commitments for one round (provable on-chain)
    NULL_UPDATE = 7  # signed update hash = the global model's hash (provable on-chain)
    BAD_EXAMPLES = 8  # signed numExamples above the maximum or ≠ the count reported (judged)


@dataclass(frozen=True)
class Flag:
    """One reason to distrust a participant this round.

    What it costs is explicit: `withhold` zeroes this round's reward; `strike` counts
    towards the reason's strikes (a slash once enough fall within the policy's window);
    `severe` slashes at once. The legacy scorer's flags do all of withhold and strike; the
    evidence scorer strikes only on multi-signal evidence (SCORING.md). `signals` names
    every signal that fired with its value and threshold — the structured reason a slash
    cites in the decision file.
    """

    reason: ReasonCode
    severe: bool
    detail: str
    strike: bool = True
    withhold: bool = True
    signals: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": int(self.reason),
            "severe": self.severe,
            "strike": self.strike,
            "withhold": self.withhold,
            "detail": self.detail,
            "signals": {k: _finite_or_none(v) for k, v in self.signals},
        }


@dataclass(frozen=True)
class Signals:
    """Raw per-participant signals, kept for auditing and `verify` re-runs."""

    distance: float  # ||u_i - c||, c = coordinate-wise median of the reference set
    # (the round's updates minus free riders and copies)
    distance_ratio: float  # distance / median distance
    robust_z: float  # (distance - median) / (1.4826 * MAD), MAD floored
    cosine: float  # cos(u_i, c); 0 when either is the zero vector
    peer_cosine: float  # median cosine to the other non-free-rider updates (leave-one-out)
    cosine_z: float  # robust z of the peer-cosine shortfall (median - value), MAD floored
    krum_score: float  # Krum score (n-f-2 nearest), NaN when n is too small
    krum_rank: int  # 0 = best Krum score; ties go to the lower index
    norm_ratio: float  # ||u_i|| / median ||u||
    copy_ratio: float  # nearest-peer distance / median nearest-peer distance
    nearest: int  # input index of the nearest non-free-rider peer this round (-1 if none)
    history_copy_ratio: float  # copy ratio of unit histories among clean peers (NaN if n/a)
    history_max_cosine: float  # FoolsGold max cosine to a clean peer's history (0 if flagged)
    foolsgold_weight: float  # FoolsGold weight in [0, 1] among clean peers (audit only)
    # Evidence scorer only (NaN / 0 under the legacy one):
    direction_cosine: float = math.nan  # cos(u_i, direction): the server's update or peers'
    usefulness: float = math.nan  # max(0, direction cosine) × min(1, ‖u_i‖ / median norm)
    residual_cosine: float = math.nan  # cos(residual history, direction), NaN while young
    coordination: float = math.nan  # max cos of the residual history to another's
    group_size: int = 1  # identities sharing one reward with this one (sybil group)


@dataclass(frozen=True)
class ParticipantScore:
    """Score of one participant: contribution in [0, 1] (0 when flagged) and flags."""

    participant: str
    score: float
    score_ppm: int  # floor(score * 1e6), the on-chain unit
    flags: tuple[Flag, ...]
    signals: Signals

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def reasons(self) -> tuple[ReasonCode, ...]:
        return tuple(sorted({f.reason for f in self.flags}))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["signals"] = {k: _finite_or_none(v) for k, v in d["signals"].items()}
        d["flags"] = [f.to_dict() for f in self.flags]
        return d


@dataclass(frozen=True)
class RoundScores:
    """All participants of one round, in input order."""

    round_id: int | None
    participants: tuple[ParticipantScore, ...]
    f: int = 0  # the Byzantine budget used for the Krum signal
    # What usefulness was measured against: "server" (the coordinator's validation set,
    # FLTrust-style), "peer" (the recent robust global direction: weaker guarantees, an
    # attacking majority of the reference set can steer it) or "legacy" (peer cosines).
    basis: str = "legacy"

    def by_id(self) -> dict[str, ParticipantScore]:
        return {p.participant: p for p in self.participants}

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_id": self.round_id,
            "f": self.f,
            "basis": self.basis,
            "guarantees": BASIS_GUARANTEES[self.basis],
            "participants": [p.to_dict() for p in self.participants],
        }


BASIS_GUARANTEES: dict[str, str] = {
    "server": "usefulness measured against the coordinator's own validation update",
    "peer": (
        "no server validation set: usefulness is measured against the participants' own "
        "robust aggregate direction, so colluders that steer it are not caught by it "
        "(weaker guarantees, see SCORING.md)"
    ),
    "legacy": "legacy peer-cosine scoring (measured in SCORING.md; not recommended)",
}


@dataclass(frozen=True)
class ScoringConfig:
    """Thresholds of the detectors. Defaults tuned on seeds disjoint from the report's.

    See strategies/SCORING.md for the measured recall / false-flag rates of these defaults.
    """

    # BYZANTINE by distance: robust z above `z_threshold` AND distance ≥ ratio × median.
    # The ratio guard stops high-dimensional concentration (tiny MAD) from flagging
    # ordinary non-IID spread. 3.5 is Iglewicz & Hoaglin's modified z-score cut.
    z_threshold: float = 3.5
    distance_ratio_min: float = 2.0
    # Immediate (severe) when both are far beyond the cut.
    severe_z: float = 10.0
    severe_distance_ratio: float = 3.0
    # BYZANTINE by direction: median cosine to the peers ≤ `cosine_max` AND robust z of
    # the shortfall above `cosine_z_threshold` (pointing away from everybody else).
    cosine_max: float = 0.0
    cosine_z_threshold: float = 3.5
    severe_cosine: float = -0.5
    # FREE_RIDER: ||u_i|| ≤ ratio × median norm (an exactly zero update always counts).
    free_rider_norm_ratio: float = 0.05
    # SYBIL: nearest-peer distance ≤ ratio × median nearest-peer distance, or
    # ≤ rtol × ||u_i|| (catches a copy *majority*, where the median itself is ~0).
    copy_ratio: float = 0.1
    copy_rtol: float = 1e-6
    # SYBIL across rounds: once an identity has `history_min_rounds` rounds of
    # accumulated history, the copy test on unit-normalised histories: nearest-peer
    # distance ≤ ratio × the median one. Relative on purpose: FoolsGold's absolute
    # weights punish honest IID clients, whose histories are all alike.
    history_min_rounds: int = 3
    history_copy_ratio: float = 0.3
    # Outlier tests need a few peers to estimate a spread.
    min_participants: int = 5
    # Krum signal: f = min(ceil(krum_f_fraction * n), (n - 3) // 2).
    krum_f_fraction: float = 0.25
    # MAD is floored at this fraction of |median| so identical honest values do not
    # turn a rounding difference into an outlier.
    mad_floor_rel: float = 0.05
    foolsgold_kappa: float = 1.0
    sketch_dim: int = 1024
    # Which scorer: "evidence" (usefulness + multi-signal evidence across rounds) or
    # "legacy" (the peer-cosine scorer measured in SCORING.md's "before" column).
    method: str = "evidence"
    # -- evidence scorer ---------------------------------------------------------------
    # USELESS: cosine to the direction (the server's validation update, else the peers'
    # recent robust direction) at most this. Withholds the reward.
    useless_cosine: float = 0.0
    # DETRIMENTAL: the residual history (update − robust centre, accumulated with
    # `residual_momentum`) points against the direction: cosine ≤ −this. Same family as
    # USELESS (a skewed honest client trips both for one reason).
    detrimental_cosine: float = 0.1
    # COORDINATED: the residual history's cosine (histories centred on their coordinate-wise
    # median) to the `coordination_partners`-th most similar identity ≥ this. Honest
    # non-IID clients pair up by dominant label; colluders come in groups (SCORING.md).
    coordination_cosine: float = 0.6
    coordination_partners: int = 3
    # SYBIL: raw residual histories this similar form one group sharing one reward.
    sybil_cosine: float = 0.95
    residual_momentum: float = 0.9
    # Peer basis: the direction is the robust centres accumulated with this momentum.
    direction_momentum: float = 0.9
    # A round is a strike only when this many of the three families (distance,
    # direction — useless AND detrimental, or useless and severely far — and
    # coordination) fire together. Severe (slash at once): far beyond
    # `severe_z` / `severe_distance_ratio` AND a direction cosine ≤ `severe_cosine`.
    strike_signals: int = 2

    def __post_init__(self) -> None:
        if self.method not in SCORING_METHODS:
            raise ValueError(
                f"unknown scoring method {self.method!r}; known: {', '.join(SCORING_METHODS)}"
            )
        if not 0.0 <= self.residual_momentum < 1.0 or not 0.0 <= self.direction_momentum < 1.0:
            raise ValueError("residual_momentum and direction_momentum must be in [0, 1)")
        if not 1 <= self.strike_signals <= 3:
            raise ValueError(f"strike_signals must be 1…3, got {self.strike_signals}")
        if self.coordination_partners < 1:
            raise ValueError("coordination_partners must be ≥ 1")
        if self.sketch_dim < 1 or self.history_min_rounds < 1:
            raise ValueError("sketch_dim and history_min_rounds must be ≥ 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SCORING_METHODS: tuple[str, ...] = ("evidence", "legacy")


__all__ = [
    "PPM",
    "Flag",
    "ParticipantScore",
    "ReasonCode",
    "RoundScores",
    "ScoringConfig",
    "Signals",
]
