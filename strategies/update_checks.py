"""The one check of an update's content against the global model's layout.

Used by the chain-free Flower strategies (`strategies.flower.replies`) and by the staked
round engine (`federation.validation`), so both exclude exactly the same updates for the
same reasons. Works on a Flower `ArrayRecord` or a dict of numpy arrays; never mutates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from flwr.app import Array

from strategies.flower.arrays import ModelLayout, flatten


@dataclass(frozen=True)
class ContentFault:
    """Why an update's content is unusable: a stable `code` and a human `detail`."""

    code: str  # "keys" | "dtype" | "shape" | "non-finite"
    detail: str


def check_update(
    arrays: Mapping[str, Array | np.ndarray], layout: ModelLayout, *, ordered: bool = False
) -> tuple[np.ndarray | None, ContentFault | None]:
    """Flattened float64 weights of a well-formed update, or the first fault found.

    Well-formed: exactly the layout's array names (in its order when `ordered`: the
    canonical update hash depends on it), each with its dtype and shape, all finite.
    """
    got, want = set(arrays.keys()), set(layout.names)
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        return None, ContentFault("keys", f"missing {missing}, unexpected {extra}")
    if ordered and tuple(arrays.keys()) != layout.names:
        return None, ContentFault(
            "keys", f"arrays in order {list(arrays)}, expected {list(layout.names)}"
        )
    for spec in layout.specs:
        arr = arrays[spec.name]
        if np.dtype(arr.dtype) != spec.dtype:
            return None, ContentFault(
                "dtype", f"{spec.name}: dtype {arr.dtype}, expected {spec.dtype}"
            )
        if tuple(arr.shape) != spec.shape:
            return None, ContentFault(
                "shape", f"{spec.name}: shape {tuple(arr.shape)}, expected {spec.shape}"
            )
    weights = flatten(arrays, layout)
    if not np.all(np.isfinite(weights)):
        bad = int(np.count_nonzero(~np.isfinite(weights)))
        return None, ContentFault("non-finite", f"{bad} NaN/inf values")
    return weights, None


def check_num_examples(value: object, max_examples: int | None = None) -> str | None:
    """None when `value` is a usable example count, else why not."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return f"example count must be an int, got {type(value).__name__}"
    if int(value) <= 0:
        return f"example count must be positive, got {value}"
    if max_examples is not None and int(value) > max_examples:
        return f"example count {value} exceeds the bound {max_examples}"
    return None
