"""Content-addressed store of updates and aggregates, so anyone can re-run a round.

Objects are keyed by their canonical update hash (docs/protocol.md), the same bytes32 the
participants sign and the contract records, so a stored object is self-verifying.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from federation.protocol.update_hash import update_hash


class ArtifactStore:
    """A directory of ``<sha256 hex>.npz`` files; arrays keep their names and order."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, arrays: Mapping[str, np.ndarray]) -> bytes:
        """Store ``arrays`` (idempotent) and return their canonical hash."""
        digest = update_hash(arrays)
        path = self.path(digest)
        if not path.exists():
            buf = io.BytesIO()
            # Order is part of the hash: keep it in an explicit index array.
            names = np.array(list(arrays.keys()))
            np.savez(buf, __order__=names, **{k: np.asarray(v) for k, v in arrays.items()})
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(buf.getvalue())
            tmp.replace(path)
        return digest

    def get(self, digest: bytes) -> dict[str, np.ndarray]:
        """Load and re-verify an object; a corrupted file raises instead of lying."""
        with np.load(self.path(digest), allow_pickle=False) as data:
            order = [str(n) for n in data["__order__"]]
            arrays = {name: data[name] for name in order}
        if update_hash(arrays) != digest:
            raise ValueError(f"artifact {digest.hex()} is corrupted (hash mismatch)")
        return arrays

    def uri(self, digest: bytes) -> str:
        return self.path(digest).resolve().as_uri()

    def path(self, digest: bytes) -> Path:
        return self.root / f"{digest.hex()}.npz"

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, bytes) and self.path(digest).exists()
