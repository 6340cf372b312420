"""Reward / slash policy: contribution scores → integer rewards and stake slashes.

Exact integer arithmetic throughout (token wei, basis points, score in ppm), so the
Merkle leaves and slash list built from a decision are reproducible bit for bit:

* Rewards: the round budget is split among *unflagged* participants in proportion to
  their on-chain score (ppm) by the largest-remainder method: floor shares first, then
  the leftover wei one each to the largest remainders (ties: lower participant id).
  Σ rewards == budget whenever someone is eligible, else 0; never more than the budget.
* Slashes: a fraction of stake (bps) per reason, in two classes (docs/protocol.md).
  *Provable* faults (MALFORMED, EQUIVOCATION, NULL_UPDATE) are checked by the contract
  itself, which accepts exactly one size for them (`provable_bps` must equal the
  RoundManager's provableSlashBps). *Judged* faults are capped by `max_judged_bps` (≤ the
  contract's maxJudgedSlashBps) and stay disputable: FORGED_HASH / BAD_EXAMPLES and
  *severe* scoring flags slash at once; BYZANTINE / SYBIL / FREE_RIDER need `k` strikes
  within a window of rounds, so one mild anomaly of an honest non-IID client costs that
  round's reward but no stake. A flag says what it costs (`Flag.withhold`: no reward this
  round; `Flag.strike`: counts as a strike) — the evidence scorer withholds on any one
  signal but strikes only on multi-signal evidence; a sybil group's flag strikes but
  keeps the (already shared) reward. One slash per participant per round: a provable one when
  there is one (the chain checks it, it cannot be disputed), else the largest bps. A
  reason configured at 0 bps flags (no reward) but never slashes.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from strategies.scoring_types import ParticipantScore, ReasonCode, RoundScores, _finite_or_none

BPS = 10_000

# Checked on-chain by the FaultVerifier at finalize; everything else is judged.
PROVABLE: frozenset[ReasonCode] = frozenset(
    {ReasonCode.MALFORMED, ReasonCode.EQUIVOCATION, ReasonCode.NULL_UPDATE}
)
# Found before scoring (reply validation), so the policy receives them as `upstream`.
UPSTREAM: frozenset[ReasonCode] = PROVABLE | {ReasonCode.FORGED_HASH, ReasonCode.BAD_EXAMPLES}


def is_provable(reason: ReasonCode | int) -> bool:
    """Whether the contract checks `reason` itself (a proof, no dispute)."""
    return int(reason) in {int(r) for r in PROVABLE}


@dataclass(frozen=True)
class PolicyConfig:
    """Policy thresholds (documented defaults; all integers)."""

    provable_bps: int = 1_000  # 10 % — must equal the RoundManager's provableSlashBps
    forged_hash_bps: int = 2_000  # 20 % — signed a hash that does not match the arrays
    bad_examples_bps: int = 1_000  # 10 % — signed an impossible or misreported example count
    byzantine_bps: int = 1_000  # 10 % — outlier, after strikes or when severe
    sybil_bps: int = 1_000  # 10 % — copy of another participant's update
    free_rider_bps: int = 500  # 5 % — sent (≈) the global model back
    max_judged_bps: int = 5_000  # cap of a judged slash (≤ the contract's maxJudgedSlashBps)
    byzantine_strikes: int = 3  # flags within `strike_window` rounds before a slash
    sybil_strikes: int = 2
    free_rider_strikes: int = 2
    strike_window: int = 5  # a strike of round r counts for rounds r … r + window − 1
    distribute_remainder: bool = True  # largest-remainder: Σ rewards == budget exactly

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool):
                continue
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        for name in ("byzantine_strikes", "sybil_strikes", "free_rider_strikes", "strike_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1")
        for name in ("max_judged_bps", "provable_bps"):
            if getattr(self, name) > BPS:
                raise ValueError(f"{name} must be ≤ 10000")

    def bps(self, reason: ReasonCode) -> int:
        """The slash size of `reason`: provable ones exactly `provable_bps` (the contract
        accepts no other), judged ones capped by `max_judged_bps`."""
        if reason in PROVABLE:
            return self.provable_bps
        table = {
            ReasonCode.FORGED_HASH: self.forged_hash_bps,
            ReasonCode.BAD_EXAMPLES: self.bad_examples_bps,
            ReasonCode.BYZANTINE: self.byzantine_bps,
            ReasonCode.SYBIL: self.sybil_bps,
            ReasonCode.FREE_RIDER: self.free_rider_bps,
        }
        return min(table[reason], self.max_judged_bps)

    def strikes_needed(self, reason: ReasonCode) -> int:
        table = {
            ReasonCode.BYZANTINE: self.byzantine_strikes,
            ReasonCode.SYBIL: self.sybil_strikes,
            ReasonCode.FREE_RIDER: self.free_rider_strikes,
        }
        return table.get(reason, 1)  # provable, FORGED_HASH, BAD_EXAMPLES: immediate

    def misfits(self, provable_slash_bps: int, max_judged_slash_bps: int) -> list[str]:
        """Why these bps would not pass a RoundManager configured with `provableSlashBps`
        and `maxJudgedSlashBps` (empty: they fit). The round engine refuses to start on
        any, so a finalize is never reverted for its slash sizes."""
        out = []
        if self.provable_bps not in (0, provable_slash_bps):
            out.append(
                f"provable_bps = {self.provable_bps}, but the RoundManager's provableSlashBps "
                f"is {provable_slash_bps}: every provable slash must be exactly that size "
                f"(set provable_bps={provable_slash_bps})"
            )
        for reason in sorted(set(ReasonCode) - PROVABLE):
            bps = self.bps(reason)
            if bps > max_judged_slash_bps:
                name = f"{reason.name.lower()}_bps"
                out.append(
                    f"{name} = {bps} (after max_judged_bps), above the RoundManager's "
                    f"maxJudgedSlashBps {max_judged_slash_bps} (lower {name} or max_judged_bps)"
                )
        return out


@dataclass
class PolicyState:
    """Strikes per participant and reason (rounds in which they were flagged)."""

    last_round: int | None = None
    strikes: dict[str, dict[int, list[int]]] = field(default_factory=dict)

    def copy(self) -> PolicyState:
        return PolicyState(
            self.last_round,
            {p: {r: list(v) for r, v in d.items()} for p, d in self.strikes.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "last_round": self.last_round,
            "strikes": {
                p: {str(r): self.strikes[p][r] for r in sorted(self.strikes[p])}
                for p in sorted(self.strikes)
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PolicyState:
        if d.get("version") != 1:
            raise ValueError(f"unsupported policy state version {d.get('version')!r}")
        strikes = {
            p: {int(r): [int(x) for x in v] for r, v in rs.items()}
            for p, rs in d["strikes"].items()
        }
        return cls(d["last_round"], strikes)

    @classmethod
    def from_json(cls, s: str) -> PolicyState:
        return cls.from_dict(json.loads(s))


@dataclass(frozen=True)
class Slash:
    participant: str
    reason: ReasonCode
    bps: int
    amount: int  # floor(stake * bps / 10000) ≤ stake
    strikes: int  # strikes counted for `reason` when it fired (1 for immediate)
    severe: bool
    strike_rounds: tuple[int, ...] = ()  # the rounds whose strikes this slash counted
    signals: tuple[tuple[str, float], ...] = ()  # what fired this round, with its value

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant,
            "reason": int(self.reason),
            "bps": self.bps,
            "amount": self.amount,
            "strikes": self.strikes,
            "severe": self.severe,
            "strike_rounds": list(self.strike_rounds),
            "signals": {k: _finite_or_none(v) for k, v in self.signals},
        }


@dataclass(frozen=True)
class RoundDecision:
    """Rewards (wei) for every participant, sorted by id; slashes sorted by id."""

    round_id: int
    budget: int
    rewards: dict[str, int]
    slashes: tuple[Slash, ...]
    scores_ppm: dict[str, int]
    flagged: dict[str, tuple[ReasonCode, ...]]

    @property
    def unallocated(self) -> int:
        return self.budget - sum(self.rewards.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_id": self.round_id,
            "budget": self.budget,
            "rewards": dict(self.rewards),
            "scores_ppm": dict(self.scores_ppm),
            "flagged": {p: [int(r) for r in rs] for p, rs in self.flagged.items()},
            "slashes": [s.to_dict() for s in self.slashes],
        }


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def split_rewards(
    weights: Mapping[str, int], budget: int, remainder: bool = True
) -> dict[str, int]:
    """Largest-remainder split of `budget` proportional to integer `weights` (ids sorted)."""
    _check_int("budget", budget)
    ids = sorted(weights)
    for p in ids:
        _check_int(f"weight of {p}", weights[p])
    total = sum(weights[p] for p in ids)
    if total == 0:
        return {p: 0 for p in ids}
    shares = {p: budget * weights[p] // total for p in ids}
    if remainder:
        left = budget - sum(shares.values())
        order = sorted(ids, key=lambda p: (-(budget * weights[p] % total), p))
        for p in order[:left]:
            shares[p] += 1
    return shares


def _scores_list(scores: RoundScores | Iterable[ParticipantScore]) -> list[ParticipantScore]:
    items = list(scores.participants if isinstance(scores, RoundScores) else scores)
    seen: set[str] = set()
    for s in items:
        if s.participant in seen:
            raise ValueError(f"duplicate participant {s.participant!r}")
        seen.add(s.participant)
    return items


def settle_round(
    round_id: int,
    scores: RoundScores | Iterable[ParticipantScore],
    stakes: Mapping[Hashable, int],
    budget: int,
    state: PolicyState | None = None,
    config: PolicyConfig | None = None,
    *,
    upstream: Mapping[Hashable, ReasonCode] | None = None,
) -> tuple[RoundDecision, PolicyState]:
    """Turn one round's scores into rewards and slashes. Pure: returns (decision, new state).

    `upstream` maps participants found at fault before scoring (reply validation: the
    reasons in UPSTREAM) to that reason; they are slashed at once, get no reward and are
    not scored even when their update was usable (an equivocator's first reply). Participants
    missing from `stakes` have stake 0 (their slash amount is 0 but is still listed).
    """
    cfg = config or PolicyConfig()
    prev = state or PolicyState()
    if isinstance(round_id, bool) or not isinstance(round_id, int):
        raise ValueError(f"round_id must be an int, got {round_id!r}")
    if prev.last_round is not None and round_id <= prev.last_round:
        raise ValueError(f"round {round_id} already settled (last {prev.last_round})")
    _check_int("budget", budget)
    stake = {str(p): _check_int(f"stake of {p}", v) for p, v in stakes.items()}
    pre = {str(p): ReasonCode(r) for p, r in (upstream or {}).items()}
    for p, r in pre.items():
        if r not in UPSTREAM:
            names = ", ".join(sorted(x.name for x in UPSTREAM))
            raise ValueError(f"upstream reason for {p} must be one of {names}, got {r.name}")
    items = [s for s in _scores_list(scores) if s.participant not in pre]

    # Everything flagged this round; which flags withhold the reward; which count strikes
    # (participant → [(reason, severe, signals)]).
    flagged: dict[str, set[ReasonCode]] = {p: {r} for p, r in pre.items()}
    withheld: set[str] = set(pre)
    counted: dict[str, list[tuple[ReasonCode, bool, tuple[tuple[str, float], ...]]]] = {
        p: [(r, True, ())] for p, r in pre.items()
    }
    for s in items:
        for fl in s.flags:
            flagged.setdefault(s.participant, set()).add(fl.reason)
            if fl.withhold:
                withheld.add(s.participant)
            if fl.strike or fl.severe:
                counted.setdefault(s.participant, []).append((fl.reason, fl.severe, fl.signals))

    weights = {s.participant: s.score_ppm for s in items if s.participant not in withheld}
    rewards = split_rewards(weights, budget, cfg.distribute_remainder)
    for p in withheld:
        rewards[p] = 0

    new_state = prev.copy()
    new_state.last_round = round_id
    horizon = round_id - cfg.strike_window  # strikes at rounds ≤ horizon have expired
    for p in list(new_state.strikes):
        kept = {r: [x for x in v if x > horizon] for r, v in new_state.strikes[p].items()}
        kept = {r: v for r, v in kept.items() if v}
        if kept:
            new_state.strikes[p] = kept
        else:
            del new_state.strikes[p]

    slashes: list[Slash] = []
    for p in sorted(counted):
        fired: list[Slash] = []
        severe_by_reason: dict[ReasonCode, bool] = {}
        signals_by_reason: dict[ReasonCode, tuple[tuple[str, float], ...]] = {}
        for reason, severe, signals in counted[p]:
            severe_by_reason[reason] = severe_by_reason.get(reason, False) or severe
            signals_by_reason[reason] = signals_by_reason.get(reason, ()) + signals
        for reason in sorted(severe_by_reason):
            severe = severe_by_reason[reason]
            hist = new_state.strikes.setdefault(p, {}).setdefault(int(reason), [])
            hist.append(round_id)
            count = len(hist)
            if severe or count >= cfg.strikes_needed(reason):
                bps = cfg.bps(reason)
                amount = stake.get(p, 0) * bps // BPS
                if bps > 0:  # a reason configured at 0 bps only costs the reward
                    fired.append(
                        Slash(
                            p,
                            reason,
                            bps,
                            amount,
                            count,
                            severe,
                            tuple(hist),
                            signals_by_reason[reason],
                        )
                    )
                del new_state.strikes[p][int(reason)]
        if not new_state.strikes.get(p):
            new_state.strikes.pop(p, None)
        if fired:
            slashes.append(max(fired, key=lambda s: (s.reason in PROVABLE, s.bps, -int(s.reason))))

    all_ids = sorted(set(rewards) | {s.participant for s in items})
    decision = RoundDecision(
        round_id=round_id,
        budget=budget,
        rewards={p: rewards.get(p, 0) for p in all_ids},
        slashes=tuple(slashes),
        scores_ppm={p: (0 if p in withheld else weights.get(p, 0)) for p in all_ids},
        flagged={p: tuple(sorted(flagged[p])) for p in sorted(flagged)},
    )
    return decision, new_state
