"""Scoring quality on synthetic rounds: recall per attack and honest false flags.

    python -m strategies.scoring_quality --episodes 200 --rounds 5 --seed-base 10000

A unit-level check on synthetic Gaussian rounds (`--method evidence|legacy`). The
legacy defaults were tuned on seeds 0…999 (`--seed-base 0`); the evidence scorer was
tuned and is reported on real training (`simulations.scoring_sweep`, SCORING.md). A
detection counts when the participant is flagged with the expected reason (BYZANTINE for
sign_flip/scaled/noise, SYBIL for copy, FREE_RIDER for zero). "honest slashed" runs the
default policy over each episode.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace

from strategies.policy import PolicyConfig, settle_round
from strategies.scoring import score_round
from strategies.scoring_synthetic import ATTACKS, HETEROGENEITY, SyntheticSpec, episode
from strategies.scoring_types import ReasonCode, ScoringConfig

EXPECTED = {
    "sign_flip": ReasonCode.BYZANTINE,
    "scaled": ReasonCode.BYZANTINE,
    "noise": ReasonCode.BYZANTINE,
    "copy": ReasonCode.SYBIL,
    "zero": ReasonCode.FREE_RIDER,
}


def evaluate(
    level: float,
    episodes: int,
    rounds: int,
    seed_base: int,
    spec: SyntheticSpec,
    config: ScoringConfig,
) -> dict[str, float]:
    """Rates for one heterogeneity level over `episodes` × `rounds` rounds."""
    spec = replace(spec, heterogeneity=level)
    hits: Counter[str] = Counter()
    total: Counter[str] = Counter()
    honest_slashed_ids = 0
    honest_ids = 0
    for e in range(episodes):
        state, pstate = None, None
        slashed: set[str] = set()
        for r, rnd in enumerate(episode(seed_base + e, spec, rounds), start=1):
            scores, state = score_round(rnd.updates, rnd.ids, state, config, round_id=r)
            decision, pstate = settle_round(r, scores, {}, 0, pstate, PolicyConfig())
            slashed |= {s.participant for s in decision.slashes}
            for p, kind in zip(scores.participants, rnd.kinds, strict=True):
                total[kind] += 1
                if kind == "honest":
                    hits[kind] += int(p.flagged)
                else:
                    hits[kind] += int(EXPECTED[kind] in p.reasons)
            honest = {pid for pid, k in zip(rnd.ids, rnd.kinds, strict=True) if k == "honest"}
        honest_ids += len(honest)
        honest_slashed_ids += len(slashed & honest)
    out = {k: hits[k] / total[k] for k in (*ATTACKS, "honest")}
    out["honest_rounds"] = total["honest"]
    out["honest_slashed"] = honest_slashed_ids / max(honest_ids, 1)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(results: dict[str, dict[str, float]]) -> str:
    head = "| heterogeneity | " + " | ".join(ATTACKS) + " | honest false flags | honest slashed |"
    sep = "|" + "---|" * (len(ATTACKS) + 3)
    rows = [head, sep]
    for name, r in results.items():
        cells = [_pct(r[a]) for a in ATTACKS]
        ff = f"{_pct(r['honest'])} of {int(r['honest_rounds'])}"
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {ff} | {_pct(r['honest_slashed'])} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed-base", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=1_000)
    ap.add_argument("--levels", default="low,moderate,high")
    ap.add_argument("--scale-factor", type=float, default=SyntheticSpec.scale_factor)
    ap.add_argument("--noise-factor", type=float, default=SyntheticSpec.noise_factor)
    ap.add_argument("--method", default="evidence", help="scorer: evidence or legacy")
    ap.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = ap.parse_args(argv)
    spec = SyntheticSpec(d=args.d, scale_factor=args.scale_factor, noise_factor=args.noise_factor)
    t0 = time.perf_counter()
    results = {
        name: evaluate(
            HETEROGENEITY[name],
            args.episodes,
            args.rounds,
            args.seed_base,
            spec,
            ScoringConfig(method=args.method),
        )
        for name in args.levels.split(",")
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(markdown(results))
        print(
            f"\n{args.episodes} episodes × {args.rounds} rounds per level, 19 honest + 6 "
            f"attackers, d = {args.d}, scaled ×{args.scale_factor:g}, "
            f"noise ×{args.noise_factor:g}, seeds from {args.seed_base}; "
            f"{time.perf_counter() - t0:.0f} s"
        )


if __name__ == "__main__":
    main()
