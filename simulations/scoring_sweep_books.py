"""The scorers of the scoring sweep (`simulations.scoring_sweep`) and each one's books:
its own SettlementState and stakes across rounds, rewards, slashes and flags per
participant, and the per-class metrics of a cell.

Scorers: ``legacy`` = ScoringConfig(method="legacy") without the reference (ScoringConfig()
where the field does not exist), ``server`` = ScoringConfig() with the server's validation
update as `reference=` (when `decide_round` takes it), ``peer`` = ScoringConfig() without
it. `PolicyConfig()` defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TOKEN = 10**18
SCORERS = ("legacy", "server", "peer")


# -- what the scoring engine offers today ---------------------------------------------------------
def reference_supported() -> bool:
    """Whether `decide_round` takes `reference=` (the server's validation update)."""
    from strategies.scoring_settle import decide_round

    return "reference" in inspect.signature(decide_round).parameters


def legacy_method_supported() -> bool:
    from strategies.scoring_types import ScoringConfig

    return "method" in {f.name for f in dataclasses.fields(ScoringConfig)}


def scorer_setup(name: str) -> tuple[Any, bool]:
    """(ScoringConfig, whether to pass the reference) of scorer `name`."""
    from strategies.scoring_types import ScoringConfig

    if name == "legacy":
        legacy = legacy_method_supported()
        return (ScoringConfig(method="legacy") if legacy else ScoringConfig()), False
    return ScoringConfig(), name == "server" and reference_supported()


class ScorerBook:
    """One scorer's cross-round state and its economics."""

    def __init__(self, name: str, ids: Sequence[str], stake: int) -> None:
        self.name = name
        self.config, self.with_reference = scorer_setup(name)
        self.state: Any = None
        self.stakes = {p: stake for p in ids}
        self.rewards = dict.fromkeys(ids, 0)
        self.slashed = dict.fromkeys(ids, 0)
        self.slash_events = dict.fromkeys(ids, 0)
        self.flag_events = dict.fromkeys(ids, 0)
        self.first_slash: dict[str, int] = {}
        self.per_round: list[dict[str, Any]] = []
        self.seconds = 0.0

    def score(
        self,
        rnd: int,
        deltas: np.ndarray,
        ids: Sequence[str],
        budget: int,
        reference: np.ndarray,
        classes: Mapping[str, str],
    ) -> None:
        from strategies.policy import PolicyConfig
        from strategies.scoring_settle import decide_round

        kw: dict[str, Any] = {"reference": reference} if self.with_reference else {}
        t0 = time.perf_counter()
        _, decision, self.state = decide_round(
            rnd,
            deltas,
            list(ids),
            dict(self.stakes),
            budget,
            self.state,
            scoring_config=self.config,
            policy_config=PolicyConfig(),
            **kw,
        )
        self.seconds += time.perf_counter() - t0
        row: dict[str, Any] = {"round": rnd}
        for c in set(classes.values()):
            row[f"{c}_rewards"] = 0.0
            row[f"{c}_slashed"] = 0.0
        for p, wei in decision.rewards.items():
            self.rewards[p] += int(wei)
            row[f"{classes[p]}_rewards"] += int(wei) / TOKEN
        for s in decision.slashes:
            self.stakes[s.participant] -= int(s.amount)
            self.slashed[s.participant] += int(s.amount)
            self.slash_events[s.participant] += 1
            self.first_slash.setdefault(s.participant, rnd)
            row[f"{classes[s.participant]}_slashed"] += int(s.amount) / TOKEN
        for p, reasons in decision.flagged.items():
            if reasons:
                self.flag_events[p] += 1
        self.per_round.append(row)

    def metrics(self, members: Mapping[str, list[str]], rounds: int) -> dict[str, Any]:
        def per_member(book: Mapping[str, int], c: str) -> float | None:
            who = members.get(c, [])
            return sum(book[p] for p in who) / TOKEN / len(who) if who else None

        def ratio(c: str) -> float | None:
            num, den = per_member(self.rewards, c), per_member(self.rewards, "honest")
            return None if num is None or not den else num / den

        def pnl(c: str) -> float | None:
            r, s = per_member(self.rewards, c), per_member(self.slashed, c)
            return None if r is None or s is None else r - s

        def ever(c: str) -> list[str]:
            return [p for p in members.get(c, []) if self.slash_events[p]]

        honest = members.get("honest", [])
        h_rounds = len(honest) * rounds
        out = {
            "attacker_reward_ratio": ratio("attacker"),
            "attacker_pnl": pnl("attacker"),
            "free_rider_reward_ratio": ratio("free-rider"),
            "free_rider_pnl": pnl("free-rider"),
            "honest_reward": per_member(self.rewards, "honest"),
            "honest_pnl": pnl("honest"),
            "honest_false_slash_rate": (
                sum(self.slash_events[p] for p in honest) / h_rounds if h_rounds else None
            ),
            "honest_false_flag_rate": (
                sum(self.flag_events[p] for p in honest) / h_rounds if h_rounds else None
            ),
            "honest_slashed": ever("honest"),
            "attackers_slashed": ever("attacker"),
            "free_riders_slashed": ever("free-rider"),
            "attacker_flag_rate": (
                sum(self.flag_events[p] for p in members["attacker"])
                / (len(members["attacker"]) * rounds)
                if members.get("attacker")
                else None
            ),
            "first_slash": dict(sorted(self.first_slash.items())),
            "reference_passed": self.with_reference,
            "config_method": getattr(self.config, "method", None),
            "seconds": self.seconds,
            "per_round": self.per_round,
        }
        return out
