"""Cross-round scoring state: per-identity update histories, JSON round-trippable.

Histories are kept as a fixed-size count sketch of the accumulated update (exact when the
model has at most `sketch_dim` coordinates), so state size does not grow with the model.
Count sketches preserve inner products in expectation, which is what FoolsGold's
cosine similarity needs; the hash is integer arithmetic (splitmix64), so it is the same
on every platform and numpy version, which `verify` re-runs rely on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_SPLITMIX_C1 = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_C2 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_C3 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _SPLITMIX_C1
        z = (z ^ (z >> np.uint64(30))) * _SPLITMIX_C2
        z = (z ^ (z >> np.uint64(27))) * _SPLITMIX_C3
        return z ^ (z >> np.uint64(31))


def sketch_rows(updates: np.ndarray, sketch_dim: int) -> np.ndarray:
    """Count-sketch each row of `updates` (n, d) into (n, k), float64; identity if d ≤ k."""
    u = np.asarray(updates, dtype=np.float64)
    n, d = u.shape
    if d <= sketch_dim:
        return u.copy()
    h = _splitmix64(np.arange(d, dtype=np.uint64))
    bucket = (h % np.uint64(sketch_dim)).astype(np.intp)
    sign = np.where((h >> np.uint64(63)) == 0, 1.0, -1.0)
    out = np.empty((n, sketch_dim), dtype=np.float64)
    for i in range(n):
        out[i] = np.bincount(bucket, weights=u[i] * sign, minlength=sketch_dim)
    return out


@dataclass
class ScoringState:
    """Histories keyed by str(participant id). Treat as a value: scoring returns a new one."""

    dim: int | None = None  # model dimension d the histories belong to
    sketch_dim: int = 1024
    last_round: int | None = None
    histories: dict[str, np.ndarray] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    # Evidence scorer: per-identity residual histories (sketched update − robust centre,
    # with momentum) and the sketched robust direction of recent rounds (peer basis).
    residuals: dict[str, np.ndarray] = field(default_factory=dict)
    direction: np.ndarray | None = None

    def copy(self) -> ScoringState:
        return ScoringState(
            dim=self.dim,
            sketch_dim=self.sketch_dim,
            last_round=self.last_round,
            histories={k: v.copy() for k, v in self.histories.items()},
            rounds=dict(self.rounds),
            residuals={k: v.copy() for k, v in self.residuals.items()},
            direction=None if self.direction is None else self.direction.copy(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 2,
            "dim": self.dim,
            "sketch_dim": self.sketch_dim,
            "last_round": self.last_round,
            "histories": {k: self.histories[k].tolist() for k in sorted(self.histories)},
            "rounds": {k: self.rounds[k] for k in sorted(self.rounds)},
            "residuals": {k: self.residuals[k].tolist() for k in sorted(self.residuals)},
            "direction": None if self.direction is None else self.direction.tolist(),
        }

    def to_json(self) -> str:
        """Exact: Python's float repr round-trips float64."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringState:
        if d.get("version") not in (1, 2):
            raise ValueError(f"unsupported scoring state version {d.get('version')!r}")
        direction = d.get("direction")
        return cls(
            dim=d["dim"],
            sketch_dim=int(d["sketch_dim"]),
            last_round=d["last_round"],
            histories={k: np.asarray(v, dtype=np.float64) for k, v in d["histories"].items()},
            rounds={k: int(v) for k, v in d["rounds"].items()},
            residuals={
                k: np.asarray(v, dtype=np.float64) for k, v in d.get("residuals", {}).items()
            },
            direction=None if direction is None else np.asarray(direction, dtype=np.float64),
        )

    @classmethod
    def from_json(cls, s: str) -> ScoringState:
        return cls.from_dict(json.loads(s))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoringState):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]
