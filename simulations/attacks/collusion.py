"""The collusion channel of omniscient attacks: honest updates recomputed, not collected.

An omniscient adversary knows what the honest clients know: their partition ids, their
data (every partition is derived from the run's seed) and their training seeds. So an
attacker does not need the server, or shared memory with other clients, to learn the
round's honest updates: it trains honest copies itself, from the same global model, with
`simulations.models.local_training`, the very function honest ClientApps train with, and
gets the same arrays bit for bit. This works the same in `InProcessGrid` and in Ray
workers under `flwr run`.

Results are cached per process by (round, global-model hash, setup, partition), so several
attackers in one process (InProcessGrid, or one Ray worker playing several nodes) share
one computation, and "full" and "own" knowledge share the partitions they have in common.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from simulations.models import LocalResult, LocalSetup, local_training

_CACHE: OrderedDict[tuple[object, ...], LocalResult] = OrderedDict()
_MAX_ENTRIES = 256
_stats = {"trainings": 0, "hits": 0}


def model_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over (name, dtype, shape, little-endian bytes) of every array, in order."""
    h = hashlib.sha256()
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def flatten(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The arrays as one float64 vector, in their order."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays.values()])


def unflatten(vector: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`vector` back into arrays shaped (and typed) like `like`."""
    out, at = {}, 0
    for name, a in like.items():
        a = np.asarray(a)
        out[name] = np.asarray(vector[at : at + a.size]).reshape(a.shape).astype(a.dtype)
        at += a.size
    if at != len(vector):
        raise ValueError(f"vector of {len(vector)} values for arrays of {at}")
    return out


def honest_result(
    setup: LocalSetup,
    partition_id: int,
    num_partitions: int,
    global_arrays: Mapping[str, np.ndarray],
    server_round: int,
    *,
    global_hash: str | None = None,
) -> LocalResult:
    """Partition `partition_id`'s honest local training in `server_round` (cached)."""
    ghash = global_hash or model_hash(global_arrays)
    key = (server_round, ghash, setup, num_partitions, partition_id)
    hit = _CACHE.get(key)
    if hit is not None:
        _stats["hits"] += 1
        _CACHE.move_to_end(key)
        return hit
    result = local_training(setup, partition_id, num_partitions, global_arrays, server_round)
    _stats["trainings"] += 1
    _CACHE[key] = result
    while len(_CACHE) > _MAX_ENTRIES:
        _CACHE.popitem(last=False)
    return result


def honest_updates(
    setup: LocalSetup,
    partitions: Sequence[int],
    num_partitions: int,
    global_arrays: Mapping[str, np.ndarray],
    server_round: int,
) -> np.ndarray:
    """The honest updates Δ_p = w_p − g of `partitions` as a (k, d) float64 matrix, rows in
    the order given."""
    if not partitions:
        raise ValueError("no partitions to recompute")
    ghash = model_hash(global_arrays)
    g = flatten(global_arrays)
    rows = [
        flatten(
            honest_result(
                setup, p, num_partitions, global_arrays, server_round, global_hash=ghash
            ).arrays
        )
        - g
        for p in partitions
    ]
    return np.stack(rows)


def stats() -> dict[str, int]:
    """Local trainings computed and cache hits in this process (tests, benchmarks)."""
    return dict(_stats)


def clear() -> None:
    _CACHE.clear()
    _stats.update(trainings=0, hits=0)
