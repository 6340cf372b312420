"""Data poisoning: what an attacker does to its own local data before training honestly.

* label flipping (Tolpegin et al., "Data Poisoning Attacks Against Federated Learning
  Systems", ESORICS 2020; the y → C − 1 − y variant is Fang et al., USENIX Security 2020);
* a pixel-pattern backdoor (Gu et al., "BadNets", 2017; in federated learning Bagdasaryan
  et al., "How To Backdoor Federated Learning", AISTATS 2020): a trigger patch stamped on
  some local examples, relabelled to a target class;
* lazy clients, who train on a sliver of their data.

Pure functions over numpy; every random choice comes from the `rng` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def parse_label_map(text: str) -> dict[int, int]:
    """`"1>7;7>1"` → {1: 7, 7: 1} (labels not named keep their value)."""
    out: dict[int, int] = {}
    for item in text.replace(" ", "").split(";"):
        if not item:
            continue
        src, sep, dst = item.partition(">")
        if not sep or not src.lstrip("-").isdigit() or not dst.lstrip("-").isdigit():
            raise ValueError(f"label map item {item!r}: expected SRC>DST, e.g. '1>7;7>1'")
        if int(src) in out:
            raise ValueError(f"label map names {src} twice")
        out[int(src)] = int(dst)
    return out


def label_flip(
    y: np.ndarray,
    *,
    num_classes: int = 10,
    mapping: Mapping[int, int] | None = None,
    fraction: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Label flipping (Tolpegin et al., ESORICS 2020; Fang et al., USENIX Security 2020):
    y → C − 1 − y (`mapping=None`; on digits y → 9 − y), or y → mapping[y] for the labels
    it names (a permutation, or Tolpegin et al.'s source→target pairs).

    With `fraction` < 1 only ⌊fraction · N⌋ examples, drawn without replacement by `rng`,
    are flipped. Returns a new array; `y` is not modified.
    """
    y = np.asarray(y)
    out = y.copy()
    if fraction >= 1.0:
        idx = np.arange(len(y))
    else:
        if rng is None:
            raise ValueError("label_flip with fraction < 1 needs an rng")
        idx = np.sort(rng.choice(len(y), size=int(np.floor(fraction * len(y))), replace=False))
    if mapping is None:
        out[idx] = num_classes - 1 - y[idx]
    else:
        table = np.arange(num_classes, dtype=y.dtype)
        for src, dst in mapping.items():
            if not (0 <= src < num_classes and 0 <= dst < num_classes):
                raise ValueError(f"label map {src}>{dst} outside 0..{num_classes - 1}")
            table[src] = dst
        out[idx] = table[y[idx]]
    return out


@dataclass(frozen=True)
class Trigger:
    """A pixel pattern: the flat feature indices it sets, and the value it sets them to."""

    pixels: tuple[int, ...]
    value: float = 1.0


def corner_trigger(side: int = 8, size: int = 3, value: float = 1.0) -> Trigger:
    """A size × size square in the bottom-right corner of a side × side image (on the 8×8
    digits a region that is background in nearly every image; pixels are in [0, 1])."""
    if not 1 <= size <= side:
        raise ValueError(f"trigger size {size} must be within 1..{side}")
    rows = range(side - size, side)
    return Trigger(tuple(r * side + c for r in rows for c in range(side - size, side)), value)


def apply_trigger(x: np.ndarray, trigger: Trigger) -> np.ndarray:
    """Copies of the examples (rows of x) with the trigger stamped on."""
    out = np.array(x, copy=True)
    out[:, list(trigger.pixels)] = trigger.value
    return out


def backdoor_poison(
    x: np.ndarray,
    y: np.ndarray,
    *,
    trigger: Trigger,
    target: int,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-pattern backdoor (Gu et al., BadNets, 2017; Bagdasaryan et al., AISTATS 2020):
    stamp the trigger on ⌊fraction · N⌋ examples drawn without replacement and relabel
    them `target`; the others stay clean.

    Bagdasaryan et al. mix clean and backdoored inputs (about a third of each batch) so the
    model keeps its main-task accuracy. Returns (x', y', sorted indices of the poisoned
    examples)."""
    k = int(np.floor(fraction * len(x)))
    idx = np.sort(rng.choice(len(x), size=k, replace=False))
    xp, yp = np.array(x, copy=True), np.array(y, copy=True)
    xp[idx] = apply_trigger(x[idx], trigger)
    yp[idx] = target
    return xp, yp, idx


def backdoor_success_rate(
    model: Any, x: np.ndarray, y: np.ndarray, trigger: Trigger, target: int
) -> float:
    """Attack success rate: the fraction of test examples whose true label is not `target`
    that the model classifies as `target` once the trigger is stamped on them.

    `model` is a torch module or any callable mapping a float32 (n, d) array to class
    scores (n, C)."""
    keep = np.asarray(y) != target
    if not keep.any():
        return float("nan")
    xt = apply_trigger(np.asarray(x, dtype=np.float32)[keep], trigger)
    scores = _predict(model, xt)
    return float(np.mean(np.argmax(scores, axis=1) == target))


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the project
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()
    return np.asarray(model(x))


def lazy_subset(
    x: np.ndarray, y: np.ndarray, fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Lazy client (a cheap free-rider that still trains, cf. Lin et al. 2019): trains on
    the first max(1, ⌊fraction · N⌋) of its examples only."""
    k = max(1, int(np.floor(fraction * len(x) + 1e-9)))
    return x[:k], y[:k]
