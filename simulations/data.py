"""Classification tasks split across Flower clients, offline and seeded.

Tasks (run-config key `task`):

* ``digits``: the 8×8 handwritten digits bundled with scikit-learn (1797 images, pixels
  scaled to [0, 1], 10 classes); no download.
* ``synthetic``: a seeded Gaussian mixture (`gaussian_mixture`): 64 features, 10 classes,
  one Gaussian per class, generated here, so it needs nothing at all.
* any ``datasets.Dataset`` the user registers with `register_dataset` (for example one
  loaded with flwr-datasets' `FederatedDataset` while online); nothing downloads here.

The training split is partitioned with flwr-datasets partitioners over an in-memory
`datasets.Dataset`, IID or Dirichlet(α) over labels (non-IID); the held-out split is the
server's central test set. Everything is seeded, so every client process (in-process or a
Ray worker) derives the same split without coordination.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasets import Dataset
from flwr_datasets.partitioner import DirichletPartitioner, IidPartitioner, Partitioner
from sklearn.datasets import load_digits

XY = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Task:
    """A classification task: flat float32 features, int64 labels in [0, n_classes)."""

    name: str
    n_features: int
    n_classes: int
    image_side: int | None  # square one-channel images (the CNN reshapes to side × side)
    load: Callable[[int], XY]  # seed → every example (x, y); the seed matters for synthetic


def _digits(seed: int) -> XY:
    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def gaussian_mixture(
    seed: int = 0,
    *,
    n_samples: int = 2000,
    n_features: int = 64,
    n_classes: int = 10,
    separation: float = 3.0,
) -> XY:
    """A seeded Gaussian-mixture classification problem.

    Class c has mean μ_c ~ N(0, (separation² / n_features)·I) (drawn once per seed) and
    examples x = μ_c + ε, ε ~ N(0, I), with balanced classes in a seeded order. Two class
    means are ≈ separation·√2 apart, so the default 3.0 gives ≈ 85-95 % accuracy to a
    linear model: learnable, not trivial.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    means = rng.normal(0.0, separation / math.sqrt(n_features), (n_classes, n_features))
    y = np.arange(n_samples, dtype=np.int64) % n_classes
    y = y[rng.permutation(n_samples)]
    x = means[y] + rng.normal(0.0, 1.0, (n_samples, n_features))
    return x.astype(np.float32), y


TASKS: dict[str, Task] = {
    "digits": Task("digits", 64, 10, 8, _digits),
    "synthetic": Task("synthetic", 64, 10, 8, lambda seed: gaussian_mixture(seed)),
}


def task_info(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def register_dataset(
    name: str,
    dataset: Dataset,
    *,
    features: str,
    label: str = "label",
    n_classes: int | None = None,
    scale: float = 1.0,
) -> Task:
    """Make any `datasets.Dataset` a task (run-config `task=NAME`): the hook for
    flwr-datasets' datasets when online. The caller loads it, nothing downloads here::

        from flwr_datasets import FederatedDataset
        ds = FederatedDataset(dataset="ylecun/mnist", partitioners={"train": 1}).load_split("train")
        register_dataset("mnist", ds, features="image", scale=1 / 255)

    `features` is a column of arrays, lists or PIL images (flattened to float32 and
    multiplied by `scale`); `label` a column of integer labels. Square one-channel images
    also fit the CNN. Register the same data under the same name in every process (the
    ServerApp and each ClientApp import it, e.g. from the App's module): the split and
    partitions are derived from the data and the run's seed.
    """
    x = np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in dataset[features]])
    x = (x * scale).astype(np.float32)
    y = np.asarray(dataset[label], dtype=np.int64)
    classes = int(n_classes if n_classes is not None else y.max() + 1)
    side = math.isqrt(x.shape[1])
    task = Task(
        name, x.shape[1], classes, side if side * side == x.shape[1] else None, lambda _: (x, y)
    )
    TASKS[name] = task
    _split.cache_clear()
    _partitioner.cache_clear()
    return task


@lru_cache(maxsize=4)
def _split(task: str, seed: int, test_fraction: float) -> tuple[XY, XY]:
    x, y = task_info(task).load(seed)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(test_fraction * len(x))
    return (x[order[n_test:]], y[order[n_test:]]), (x[order[:n_test]], y[order[:n_test]])


def holdout_set(
    seed: int = 0, test_fraction: float = 0.2, *, task: str = "digits", validation: int = 0
) -> XY:
    """The server's held-out test split, without its first `validation` examples (the
    coordinator's validation set, `validation_set`, when it has one)."""
    x, y = _split(task, seed, test_fraction)[1]
    if not 0 <= validation < len(x):
        raise ValueError(
            f"validation set of {validation} examples: the held-out split has {len(x)}"
        )
    return x[validation:], y[validation:]


def validation_set(size: int, seed: int = 0, *, task: str = "digits") -> XY:
    """The coordinator's validation ("root") set, as in FLTrust: the first `size` examples
    of the held-out split, which no client holds and the test set leaves out."""
    x, y = _split(task, seed, 0.2)[1]
    if not 0 < size < len(x):
        raise ValueError(f"validation set of {size} examples: the held-out split has {len(x)}")
    return x[:size], y[:size]


@lru_cache(maxsize=8)
def _partitioner(task: str, num_partitions: int, alpha: float | None, seed: int) -> Partitioner:
    x, y = _split(task, seed, 0.2)[0]
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
    partition_id: int,
    num_partitions: int,
    *,
    alpha: float | None = None,
    seed: int = 0,
    task: str = "digits",
) -> XY:
    """(x, y) of one client; `alpha=None` is IID, smaller alpha is more heterogeneous."""
    part = _partitioner(task, num_partitions, alpha, seed).load_partition(partition_id)
    x = np.asarray(part["x"], dtype=np.float32)
    y = np.asarray(part["label"], dtype=np.int64)
    return x, y
