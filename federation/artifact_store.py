"""Content-addressed store of updates, aggregates and round manifests, so anyone can
re-run a round (`verify`).

Arrays are keyed by their canonical update hash (docs/protocol.md), the same bytes32 the
participants sign and the contract records, so a stored object is self-verifying. JSON
documents (round manifests, settlement state) are keyed by the sha256 of their canonical
bytes. No pickle anywhere: arrays are `.npz` read with `allow_pickle=False`.

`ArtifactStore` is the interface another backend (IPFS, S3, …) implements;
`LocalArtifactStore` is a directory, the default.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

from federation.protocol.update_hash import update_hash


class ArtifactError(Exception):
    """A missing or corrupted artifact (the hash does not match the content)."""


@runtime_checkable
class ArtifactStore(Protocol):
    """What the round engine and `verify` need from a store."""

    def put(self, arrays: Mapping[str, np.ndarray], digest: bytes | None = None) -> bytes:
        """Store named arrays (idempotent); return their canonical update hash. `digest`
        is that hash when the caller has just computed it (validation does), so the bytes
        are not hashed twice; `get` re-verifies on every read anyway."""
        ...

    def get(self, digest: bytes) -> dict[str, np.ndarray]:
        """The arrays with that hash; raises ArtifactError if missing or corrupted."""
        ...

    def put_json(self, doc: Mapping[str, Any]) -> bytes:
        """Store a JSON document; return the sha256 of its canonical encoding."""
        ...

    def get_json(self, digest: bytes) -> dict[str, Any]: ...

    def put_named(self, name: str, doc: Mapping[str, Any]) -> None:
        """Write a named JSON document (a round's manifest or results file)."""
        ...

    def get_named(self, name: str) -> dict[str, Any]: ...

    def named_bytes(self, name: str) -> bytes:
        """A named document's bytes exactly as stored: a round's decision hash on-chain is
        keccak256 of these, so `verify` can tell an altered manifest."""
        ...

    def named_uri(self, name: str) -> str:
        """Where anyone can fetch a named document (a round's manifest: the
        artifactsURI committed at finalize)."""
        ...

    def uri(self, digest: bytes) -> str:
        """Where anyone can fetch the object (goes on-chain in the provenance record)."""
        ...

    def __contains__(self, digest: object) -> bool: ...


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """The bytes a JSON document is hashed over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


class LocalArtifactStore:
    """A directory: ``<hash>.npz`` for arrays, ``<hash>.json`` for documents."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_uri(cls, uri: str) -> LocalArtifactStore:
        """A store from a directory path or a ``file://`` URI (of the store or an object)."""
        path = Path(url2pathname(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
        if path.suffix in (".npz", ".json"):
            path = path.parent
        if not path.is_dir():
            raise ArtifactError(f"artifact store {uri} is not a directory on this machine")
        return cls(path)

    # -- arrays ---------------------------------------------------------------------------
    def put(self, arrays: Mapping[str, np.ndarray], digest: bytes | None = None) -> bytes:
        if digest is None:
            digest = update_hash(arrays)
        path = self.path(digest)
        if not path.exists():
            buf = io.BytesIO()
            # Order is part of the hash: keep it in an explicit index array.
            names = np.array(list(arrays.keys()))
            np.savez(buf, __order__=names, **{k: np.asarray(v) for k, v in arrays.items()})
            _write_atomic(path, buf.getvalue())
        return digest

    def get(self, digest: bytes) -> dict[str, np.ndarray]:
        """Load and re-verify an object; a corrupted file raises instead of lying."""
        path = self.path(digest)
        if not path.exists():
            raise ArtifactError(f"artifact 0x{digest.hex()} is not in the store {self.root}")
        with np.load(path, allow_pickle=False) as data:
            order = [str(n) for n in data["__order__"]]
            arrays = {name: data[name] for name in order}
        if update_hash(arrays) != digest:
            raise ArtifactError(f"artifact 0x{digest.hex()} is corrupted (hash mismatch)")
        return arrays

    # -- documents ------------------------------------------------------------------------
    def put_json(self, doc: Mapping[str, Any]) -> bytes:
        data = canonical_json(doc)
        digest = hashlib.sha256(data).digest()
        path = self.json_path(digest)
        if not path.exists():
            _write_atomic(path, data)
        return digest

    def get_json(self, digest: bytes) -> dict[str, Any]:
        path = self.json_path(digest)
        if not path.exists():
            raise ArtifactError(f"document 0x{digest.hex()} is not in the store {self.root}")
        data = path.read_bytes()
        if hashlib.sha256(data).digest() != digest:
            raise ArtifactError(f"document 0x{digest.hex()} is corrupted (hash mismatch)")
        doc: dict[str, Any] = json.loads(data)
        return doc

    # -- named documents (what participants and `verify` look up by round) -------------
    def put_named(self, name: str, doc: Mapping[str, Any]) -> None:
        _write_atomic(self.named_path(name), json.dumps(doc, indent=2, sort_keys=True).encode())

    def get_named(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.named_bytes(name))
        return doc

    def named_bytes(self, name: str) -> bytes:
        path = self.named_path(name)
        if not path.exists():
            raise ArtifactError(f"{path.name} is not in the store {self.root}")
        return path.read_bytes()

    def named_uri(self, name: str) -> str:
        return self.named_path(name).resolve().as_uri()

    def named_path(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"bad document name {name!r}")
        return self.root / f"{name}.json"

    # -- addressing -----------------------------------------------------------------------
    def uri(self, digest: bytes) -> str:
        path = self.path(digest) if self.path(digest).exists() else self.json_path(digest)
        return path.resolve().as_uri()

    def path(self, digest: bytes) -> Path:
        return self.root / f"{digest.hex()}.npz"

    def json_path(self, digest: bytes) -> Path:
        return self.root / f"{digest.hex()}.json"

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, bytes) and (
            self.path(digest).exists() or self.json_path(digest).exists()
        )
