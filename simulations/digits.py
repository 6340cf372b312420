"""Offline data: scikit-learn's bundled digits, split across clients with flwr-datasets.

Nothing downloads: the 1,797 8×8 images ship inside scikit-learn. A Dirichlet partitioner
over labels gives the non-IID clients that robust aggregation has to cope with.
"""

from __future__ import annotations

import numpy as np
from datasets import Dataset
from flwr_datasets.partitioner import DirichletPartitioner, IidPartitioner
from sklearn.datasets import load_digits

XY = tuple[np.ndarray, np.ndarray]


def load_digits_partitions(
    num_partitions: int,
    *,
    seed: int = 0,
    alpha: float | None = 1.0,
    test_fraction: float = 0.2,
) -> tuple[list[XY], XY]:
    """Return per-client (x, y) partitions of the training split and the test split.

    ``alpha=None`` gives IID partitions; smaller alpha is more heterogeneous.
    Features are scaled to [0, 1] as float64.
    """
    if num_partitions < 1:
        raise ValueError("num_partitions must be ≥ 1")
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float64)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(test_fraction * len(x))
    test, train = order[:n_test], order[n_test:]
    ds = Dataset.from_dict({"x": x[train].tolist(), "label": y[train].tolist()})
    if alpha is None:
        partitioner = IidPartitioner(num_partitions=num_partitions)
    else:
        partitioner = DirichletPartitioner(
            num_partitions=num_partitions,
            partition_by="label",
            alpha=alpha,
            min_partition_size=10,
            seed=seed,
        )
    partitioner.dataset = ds
    parts = []
    for i in range(num_partitions):
        part = partitioner.load_partition(i).with_format("numpy")
        parts.append((np.asarray(part["x"], dtype=np.float64), np.asarray(part["label"])))
    return parts, (x[test], y[test])
