"""Scoring cost per round next to the aggregation it accompanies (issue #12).

    python -m strategies.bench_scoring --n 50 --d 1000000 --repeat 5

Times, on one synthetic (n, d) round (float32 updates, as they arrive): Multi-Krum and the
coordinate-wise median (the aggregation), and `score_round` with the evidence scorer with
a server validation update (`reference`), without one (peer basis), and the legacy scorer
— each in steady state, i.e. after `--warm` earlier rounds so the residual histories and
their coordination tests are live. The usefulness estimate itself is the first-order one
(one dot product per participant: O(n·d)); the coordinator's own training on its
validation set is a separate cost, linear in the validation set's size, timed on the
reference app's digits MLP with `--validation-sizes`. Not a test: never run it in pytest.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from strategies import aggregators as agg
from strategies.scoring import score_round
from strategies.scoring_state import ScoringState
from strategies.scoring_types import ScoringConfig


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of `repeat` calls (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _round(rng: np.random.Generator, n: int, d: int, mu: np.ndarray) -> np.ndarray:
    return (mu + rng.standard_normal((n, d), dtype=np.float32) * 0.5).astype(np.float32)


def scoring_times(n: int, d: int, repeat: int, warm: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal(d, dtype=np.float32)
    ids = [f"0x{i:040x}" for i in range(n)]
    ref = (mu + rng.standard_normal(d, dtype=np.float32) * 0.2).astype(np.float32)
    evidence, legacy = ScoringConfig(), ScoringConfig(method="legacy")
    states: dict[str, ScoringState] = {}
    for name, cfg, reference in (
        ("server", evidence, ref),
        ("peer", evidence, None),
        ("legacy", legacy, None),
    ):
        state = ScoringState(sketch_dim=cfg.sketch_dim)
        for r in range(1, warm + 1):
            _, state = score_round(
                _round(rng, n, d, mu), ids, state, cfg, round_id=r, reference=reference
            )
        states[name] = state
    u = _round(rng, n, d, mu)
    f = max(1, n // 5)
    out = {
        "aggregation: multi-krum": _timed(lambda: agg.multi_krum(u, f), repeat),
        "aggregation: median": _timed(lambda: agg.median(u), repeat),
        "scoring: evidence, server validation update": _timed(
            lambda: score_round(
                u, ids, states["server"], evidence, round_id=warm + 1, reference=ref
            ),
            repeat,
        ),
        "scoring: evidence, peer basis": _timed(
            lambda: score_round(u, ids, states["peer"], evidence, round_id=warm + 1), repeat
        ),
        "scoring: legacy": _timed(
            lambda: score_round(u, ids, states["legacy"], legacy, round_id=warm + 1), repeat
        ),
    }
    return out


def reference_times(sizes: list[int], repeat: int) -> dict[int, float]:
    """Seconds of the coordinator's own local training on `size` validation examples (the
    reference app's digits MLP, one epoch): the cost the validation set adds per round."""
    from simulations.data import validation_set
    from simulations.models import LocalSetup, model_for, reference_training, state_arrays

    setup = LocalSetup(task="digits", model="mlp", epochs=1, lr=0.1)
    g = state_arrays(model_for("digits", "mlp"))
    out = {}
    for size in sizes:
        x, y = validation_set(size)
        train = reference_training(setup, x, y)
        out[size] = _timed(lambda train=train: train(g, 1), repeat)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--d", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warm", type=int, default=4, help="earlier rounds (histories live)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--validation-sizes", default="50,100,200,300")
    args = ap.parse_args(argv)
    rows = scoring_times(args.n, args.d, args.repeat, args.warm, args.seed)
    print(f"n = {args.n}, d = {args.d:,}, median of {args.repeat} (after {args.warm} rounds)\n")
    print("| step | seconds |\n|---|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v:.3f} |")
    sizes = [int(s) for s in args.validation_sizes.split(",") if s]
    if sizes:
        print("\n| coordinator's validation training (digits MLP, 1 epoch) | seconds |")
        print("|---|---:|")
        for size, secs in reference_times(sizes, args.repeat).items():
            print(f"| {size} examples | {secs:.4f} |")


if __name__ == "__main__":
    main()
