"""The legacy scorer: peer-cosine anomaly flags and closeness-to-the-crowd contribution.

Kept as `ScoringConfig(method="legacy")` so the before/after sweep (SCORING.md) can run
both side by side on the same updates; the default is `strategies.scoring_evidence`.

Input convention: `updates` are *deltas* (local model − global model), flattened to
(n, d). Deltas make "free rider" (delta ≈ 0) and direction (cosine) meaningful; callers
holding full weights use `deltas_from_weights`. Everything runs in float64 with fixed
tie-breaking, so the same inputs and state give bit-identical outputs (`verify`).

Signals (see `Signals`): robust z of the distance to the coordinate-wise median of the
reference set, leave-one-out peer cosine, Krum rank, nearest-peer copy ratio this round
and over accumulated per-identity histories, the FoolsGold weight of those histories
(audit only), and the norm ratio for free riders. Bit-identical means: on the same
numpy/BLAS build; across machines the float64 values may differ in the last ulp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from strategies.aggregators import median
from strategies.distances import pairwise_sq_distances
from strategies.scoring_inputs import ratio
from strategies.scoring_signals import (
    copy_ratios,
    cosines_to,
    foolsgold_weights,
    history_copy_ratios,
    krum_f,
    krum_ranks,
    nearest_peers,
    peer_cosines,
    robust_z,
)
from strategies.scoring_state import ScoringState, sketch_rows
from strategies.scoring_types import (
    PPM,
    Flag,
    ParticipantScore,
    ReasonCode,
    RoundScores,
    ScoringConfig,
    Signals,
)


def score_legacy(
    u: np.ndarray,
    ids: Sequence[str],
    prev: ScoringState,
    cfg: ScoringConfig,
    round_id: int | None,
) -> tuple[RoundScores, ScoringState]:
    """Score one round (inputs already checked by `strategies.scoring.score_round`)."""
    n, d = u.shape

    # Free riders: (almost) no change to the global model, relative to peers.
    norms = np.linalg.norm(u, axis=1)
    norm_ratio = ratio(norms, float(np.median(norms)))
    free = norms == 0
    if n >= 2:
        free |= norm_ratio <= cfg.free_rider_norm_ratio

    # Copies of another participant's update this round.
    active = ~free
    sq = np.asarray(pairwise_sq_distances(u), dtype=np.float64) if n >= 2 else np.zeros((n, n))
    if n >= 2:
        _, nn_idx = nearest_peers(sq, active)
        nn = np.full(n, np.inf)
        has = nn_idx >= 0
        nn[has] = np.linalg.norm(u[has] - u[nn_idx[has]], axis=1)  # exact, not via Gram
        cratio = copy_ratios(nn, active)
    else:
        nn, nn_idx, cratio = np.full(n, np.inf), np.full(n, -1), np.full(n, np.inf)
    copy = active & ((cratio <= cfg.copy_ratio) | (nn <= cfg.copy_rtol * norms))

    # Reference set for the outlier statistics: neither free riders nor copies, so that
    # a majority of zeros or clones cannot become "the norm" that honest clients deviate
    # from (which would flag them as severe outliers).
    ref = active & ~copy
    if not ref.any():
        ref = active if active.any() else np.ones(n, dtype=bool)

    outlier_tests = int(ref.sum()) >= cfg.min_participants

    # Far: distance to a robust centre of the reference set.
    center = np.asarray(median(u[ref]), dtype=np.float64)
    dist = np.array([np.linalg.norm(u[i] - center) for i in range(n)])
    dist_ratio = ratio(dist, float(np.median(dist[ref])))
    z = robust_z(dist, cfg.mad_floor_rel, ref)
    cos = cosines_to(u, center)
    far = outlier_tests & ~free & (z >= cfg.z_threshold) & (dist_ratio >= cfg.distance_ratio_min)
    far_severe = far & (z >= cfg.severe_z) & (dist_ratio >= cfg.severe_distance_ratio)

    # Away: direction relative to the peers that are not far (far ones would widen the
    # spread of the cosines and hide a sign flip among them).
    dir_ref = ref & ~far if (ref & ~far).any() else ref
    pcos = peer_cosines(sq, norms, dir_ref)
    cos_z = robust_z(-pcos, cfg.mad_floor_rel, dir_ref)
    away = outlier_tests & ~free & ~far
    away &= (pcos <= cfg.cosine_max) & (cos_z >= cfg.cosine_z_threshold)
    away_severe = away & (pcos <= cfg.severe_cosine)

    # Krum rank (a ranking signal, not a flag).
    f = krum_f(n, cfg.krum_f_fraction)
    kscores, kranks = krum_ranks(u, f)

    # Accumulated per-identity histories (FoolsGold) and history copies.
    new_state = prev.copy()
    sk = sketch_rows(u, new_state.sketch_dim)
    hist = np.empty_like(sk)
    for i, pid in enumerate(ids):
        old = new_state.histories.get(pid)
        hist[i] = sk[i] if old is None else old + sk[i]
        new_state.histories[pid] = hist[i].copy()
        new_state.rounds[pid] = new_state.rounds.get(pid, 0) + 1
    new_state.dim = d
    if round_id is not None:
        new_state.last_round = round_id
    # FoolsGold (audit signal) among the participants no per-round detector flagged:
    # otherwise one obvious outlier (most "unique") rescales every honest weight to 0.
    clean = active & ~copy & ~far & ~away
    fg_w = np.zeros(n)
    fg_max = np.zeros(n)
    if clean.any():
        fg_w[clean], fg_max[clean] = foolsgold_weights(hist[clean], cfg.foolsgold_kappa)
    rounds_seen = np.array([new_state.rounds[p] for p in ids])
    hist_ok = clean & (rounds_seen >= cfg.history_min_rounds)
    hist_ok &= np.linalg.norm(hist, axis=1) > 0
    hratio = history_copy_ratios(hist, hist_ok)
    hcopy = hist_ok & (np.nan_to_num(hratio, nan=np.inf) <= cfg.history_copy_ratio)

    # Contribution: alignment × closeness × Krum standing. (Not × the FoolsGold weight:
    # near-identical honest IID updates get weight ≈ 0 there, i.e. no reward.)
    cos_ref = float(np.median(pcos[dir_ref]))
    if cos_ref > 0:
        align = np.clip(pcos / cos_ref, 0.0, 1.0)
    else:
        align = np.clip((1.0 + pcos) / 2.0, 0.0, 1.0)
    close = 1.0 / (1.0 + np.maximum(z, 0.0) / cfg.z_threshold)
    standing = 1.0 - 0.5 * kranks / max(n - 1, 1)
    contribution = align * close * standing

    results = []
    for i, pid in enumerate(ids):
        flags: list[Flag] = []
        if free[i]:
            flags.append(Flag(ReasonCode.FREE_RIDER, False, f"norm ratio {norm_ratio[i]:.3g}"))
        if copy[i]:
            detail = f"copy of {ids[int(nn_idx[i])]}, copy ratio {cratio[i]:.3g}"
            flags.append(Flag(ReasonCode.SYBIL, False, detail))
        elif hcopy[i]:
            detail = f"history copy ratio {hratio[i]:.3g}, history cosine {fg_max[i]:.3g}"
            flags.append(Flag(ReasonCode.SYBIL, False, detail))
        if far[i]:
            detail = f"distance z {z[i]:.3g}, ratio {dist_ratio[i]:.3g}"
            flags.append(Flag(ReasonCode.BYZANTINE, bool(far_severe[i]), detail))
        elif away[i]:
            detail = f"peer cosine {pcos[i]:.3g}, z {cos_z[i]:.3g}"
            flags.append(Flag(ReasonCode.BYZANTINE, bool(away_severe[i]), detail))
        score = 0.0 if flags else float(contribution[i])
        signals = Signals(
            distance=float(dist[i]),
            distance_ratio=float(dist_ratio[i]),
            robust_z=float(z[i]),
            cosine=float(cos[i]),
            peer_cosine=float(pcos[i]),
            cosine_z=float(cos_z[i]),
            krum_score=float(kscores[i]),
            krum_rank=int(kranks[i]),
            norm_ratio=float(norm_ratio[i]),
            copy_ratio=float(cratio[i]),
            nearest=int(nn_idx[i]),
            history_copy_ratio=float(hratio[i]),
            history_max_cosine=float(fg_max[i]),
            foolsgold_weight=float(fg_w[i]),
        )
        ppm = min(PPM, max(0, math.floor(score * PPM)))
        results.append(ParticipantScore(pid, score, ppm, tuple(flags), signals))
    return RoundScores(round_id, tuple(results), f), new_state
