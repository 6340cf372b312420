"""The coordinator's write-ahead journal: what it did, so a restart resumes, never repeats.

One JSON object per line, appended and fsync'ed before the step it announces is relied on.
Replaying the file gives, per round, the last step reached; the round engine's `resume`
finishes each unfinished round from there (idempotent on-chain calls make a step that
landed but was not journalled safe to redo).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The steps of a round, in order; EXPIRED and CANCELLED (by the guardian) end a round early.
OPENED, DECIDED, FINALIZED, RECORDED, SETTLED, CLAIMED, EXPIRED, CANCELLED = (
    "opened",
    "decided",
    "finalized",
    "recorded",
    "settled",
    "claimed",
    "expired",
    "cancelled",
)
_ORDER = {s: i for i, s in enumerate((OPENED, DECIDED, FINALIZED, RECORDED, SETTLED, CLAIMED))}


@dataclass
class RoundEntry:
    """Everything journalled about one round."""

    round_id: int
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def last(self) -> str:
        for end in (CANCELLED, EXPIRED):
            if end in self.steps:
                return end
        return max(self.steps, key=lambda s: _ORDER.get(s, -1))

    def has(self, step: str) -> bool:
        return step in self.steps

    @property
    def ended(self) -> bool:
        """Expired or cancelled: nothing is left to do for the round."""
        return EXPIRED in self.steps or CANCELLED in self.steps


class Journal:
    """Append-only JSON-lines file; a torn last line (crash mid-write) is ignored."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, step: str, round_id: int | None = None, **data: Any) -> None:
        record = {"step": step, "round_id": round_id, **data}
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash: the step it announced did not happen

    def rounds(self) -> dict[int, RoundEntry]:
        out: dict[int, RoundEntry] = {}
        for rec in self.records():
            rid = rec.get("round_id")
            if rid is None:
                continue
            entry = out.setdefault(int(rid), RoundEntry(int(rid)))
            entry.steps[str(rec["step"])] = rec
        return out

    def latest(self, step: str) -> dict[str, Any] | None:
        """The last record of a round-less step (e.g. "state")."""
        found = None
        for rec in self.records():
            if rec["step"] == step:
                found = rec
        return found
