"""Digits (bundled with scikit-learn, no download) split across Flower clients.

The training split is partitioned with flwr-datasets partitioners over an in-memory
`datasets.Dataset`, IID or Dirichlet over labels (non-IID); the held-out split is the
server's central test set. Everything is seeded, so every client process derives the
same split without coordination.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasets import Dataset
from flwr_datasets.partitioner import DirichletPartitioner, IidPartitioner, Partitioner
from sklearn.datasets import load_digits

XY = tuple[np.ndarray, np.ndarray]


@lru_cache(maxsize=1)
def _split(seed: int, test_fraction: float) -> tuple[XY, XY]:
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(test_fraction * len(x))
    return (x[order[n_test:]], y[order[n_test:]]), (x[order[:n_test]], y[order[:n_test]])


def holdout_set(seed: int = 0, test_fraction: float = 0.2) -> XY:
    """The server's held-out split."""
    return _split(seed, test_fraction)[1]


@lru_cache(maxsize=4)
def _partitioner(num_partitions: int, alpha: float | None, seed: int) -> Partitioner:
    x, y = _split(seed, 0.2)[0]
    ds = Dataset.from_dict({"x": x.tolist(), "label": y.tolist()})
    part: Partitioner
    if alpha is None:
        part = IidPartitioner(num_partitions=num_partitions)
    else:
        part = DirichletPartitioner(
            num_partitions=num_partitions,
            partition_by="label",
            alpha=alpha,
            min_partition_size=5,
            seed=seed,
        )
    part.dataset = ds
    return part


def client_data(
    partition_id: int, num_partitions: int, *, alpha: float | None = None, seed: int = 0
) -> XY:
    """(x, y) of one client; `alpha=None` is IID, smaller alpha is more heterogeneous."""
    part = _partitioner(num_partitions, alpha, seed).load_partition(partition_id)
    x = np.asarray(part["x"], dtype=np.float32)
    y = np.asarray(part["label"], dtype=np.int64)
    return x, y
