"""The global model's layout (names, shapes, dtypes) and flattening to one float64 vector.

Robust rules work on an (n, d) matrix; this module is the only place that maps a Flower
`ArrayRecord` to a row of it and back, in the global model's key order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from flwr.app import Array, ArrayRecord


@dataclass(frozen=True)
class ArraySpec:
    """Name, shape and numpy dtype of one array of the global model."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class ModelLayout:
    """All arrays of the global model, in record order."""

    specs: tuple[ArraySpec, ...]

    @classmethod
    def of(cls, record: Mapping[str, Array | np.ndarray]) -> ModelLayout:
        specs = []
        for name, arr in record.items():
            specs.append(ArraySpec(name, tuple(int(s) for s in arr.shape), np.dtype(arr.dtype)))
        return cls(tuple(specs))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @property
    def dim(self) -> int:
        return sum(s.size for s in self.specs)


def _numpy(array: Array | np.ndarray) -> np.ndarray:
    return array.numpy() if isinstance(array, Array) else np.asarray(array)


def flatten(record: Mapping[str, Array | np.ndarray], layout: ModelLayout) -> np.ndarray:
    """Concatenate the arrays (an ArrayRecord or a dict of numpy arrays) in layout order as
    float64 (no mutation)."""
    out = np.empty(layout.dim, dtype=np.float64)
    pos = 0
    for spec in layout.specs:
        out[pos : pos + spec.size] = _numpy(record[spec.name]).reshape(-1)
        pos += spec.size
    return out


def unflatten_arrays(vector: np.ndarray, layout: ModelLayout) -> dict[str, np.ndarray]:
    """Inverse of `flatten` into numpy arrays: each array's dtype back (integers rounded)."""
    v = np.asarray(vector, dtype=np.float64)
    if v.shape != (layout.dim,):
        raise ValueError(f"vector of shape {v.shape} does not fit a model of {layout.dim}")
    arrays: dict[str, np.ndarray] = {}
    pos = 0
    for spec in layout.specs:
        part = v[pos : pos + spec.size].reshape(spec.shape)
        if np.issubdtype(spec.dtype, np.integer) or spec.dtype == np.bool_:
            part = np.rint(part)
        arrays[spec.name] = np.ascontiguousarray(part.astype(spec.dtype))
        pos += spec.size
    return arrays


def unflatten(vector: np.ndarray, layout: ModelLayout) -> ArrayRecord:
    """Inverse of `flatten` into an ArrayRecord."""
    return ArrayRecord({k: Array(a) for k, a in unflatten_arrays(vector, layout).items()})
