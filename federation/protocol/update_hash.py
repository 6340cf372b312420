"""Canonical hash of a model update, so a signature commits to exact arrays.

Defined in docs/protocol.md: a domain tag, then for each array in record order its name,
dtype string, shape, byte length and raw C-order little-endian bytes, all under sha256.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping

import numpy as np

DOMAIN_TAG = b"fedstake/update/v1\x00"


def _little_endian(array: np.ndarray) -> np.ndarray:
    """Return a C-contiguous copy whose dtype is little-endian (or byte-order free)."""
    arr = np.asarray(array)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def update_hash(arrays: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> bytes:
    """sha256 over named arrays in the given order; returns 32 bytes (the on-chain bytes32)."""
    items = arrays.items() if isinstance(arrays, Mapping) else arrays
    h = hashlib.sha256(DOMAIN_TAG)
    for name, array in items:
        arr = _little_endian(array)
        name_b = name.encode("utf-8")
        dtype_b = arr.dtype.str.encode("ascii")
        h.update(struct.pack("<I", len(name_b)) + name_b)
        h.update(struct.pack("<I", len(dtype_b)) + dtype_b)
        h.update(struct.pack("<I", arr.ndim))
        for dim in arr.shape:
            h.update(struct.pack("<Q", dim))
        h.update(struct.pack("<Q", arr.nbytes))
        h.update(arr.tobytes(order="C"))
    return h.digest()
