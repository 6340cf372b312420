"""Small torch models for the tasks of `simulations.data`, the train / evaluate loops, and the
one definition of a participant's honest local training.

Models (run-config key `model`): ``mlp`` (64 → 32 → 10, the default), ``logreg``
(multinomial logistic regression, one linear layer) and ``cnn`` (two 3×3 convolutions for
square one-channel images such as the 8×8 digits). All are seeded: the same seed gives the
same initial weights in every process.

`local_training` is "honest local training of partition p from global model g in round r":
the reference ClientApp trains with it, and the collusion channel of omniscient attacks
(`simulations.attacks.collusion`) recomputes honest updates with it, bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from simulations.data import client_data, task_info

Arrays = dict[str, np.ndarray]
MODELS = ("mlp", "logreg", "cnn")


class SmallCNN(nn.Module):
    """conv 3×3 (1→8) · ReLU · maxpool 2 · conv 3×3 (8→16) · ReLU · avgpool to 2×2 · linear.
    On 8×8 digits: 1 → 8×4×4 → 16×2×2 = 64 features → n_classes (1 530 weights)."""

    def __init__(self, side: int, n_classes: int) -> None:
        super().__init__()
        self.side = side
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.squeeze = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear(64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, 1, self.side, self.side)
        h = self.pool(torch.relu(self.conv1(h)))
        h = self.squeeze(torch.relu(self.conv2(h)))
        return self.head(h.flatten(1))


def make_model(
    seed: int = 0,
    hidden: int = 32,
    *,
    kind: str = "mlp",
    n_features: int = 64,
    n_classes: int = 10,
    image_side: int | None = 8,
) -> nn.Module:
    """A model of `kind` with seeded initial weights (the same on every process)."""
    torch.manual_seed(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    if kind == "logreg":
        return nn.Sequential(nn.Linear(n_features, n_classes))
    if kind == "cnn":
        if image_side is None or image_side * image_side != n_features:
            raise ValueError(f"the cnn needs square one-channel images, not {n_features} features")
        return SmallCNN(image_side, n_classes)
    raise ValueError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")


def model_for(task: str, kind: str = "mlp", seed: int = 0) -> nn.Module:
    """The model `kind` shaped for `task` (features, classes, image side)."""
    t = task_info(task)
    return make_model(
        seed, kind=kind, n_features=t.n_features, n_classes=t.n_classes, image_side=t.image_side
    )


def state_arrays(model: nn.Module) -> Arrays:
    """The model's state as numpy arrays (copies), in state-dict order."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def model_from_arrays(arrays: Mapping[str, np.ndarray], task: str, kind: str) -> nn.Module:
    model = model_for(task, kind)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    return model


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread inside the block, the caller's count restored after.

    torch's CPU kernels give bit-identical results only for the same thread count, and
    the count a participant trains with would otherwise depend on where it runs: a Ray
    ClientApp actor of `flwr run` gets OMP_NUM_THREADS = its CPUs (2 by default), the
    in-process runner has the process's count (the machine's cores, OMP_NUM_THREADS, or
    whatever numba's OpenMP pool last set: torch and numba share one OpenMP runtime). With
    one thread both engines, and `verify`-style recomputation anywhere, train the same
    bits. For these small models one thread is also the fastest (2-8× here).
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, seed: int = 0
) -> float:
    """Plain minibatch SGD, on one thread (`one_thread`); returns the mean loss of the last
    epoch."""
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    last = 0.0
    with one_thread():
        for _ in range(epochs):
            perm = torch.randperm(len(xt), generator=g)
            total, count = 0.0, 0
            for i in range(0, len(xt), 32):
                idx = perm[i : i + 32]
                opt.zero_grad()
                loss = loss_fn(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                count += len(idx)
            last = total / max(count, 1)
    return last


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy), on one thread like `train` (same figures on
    every engine)."""
    model.eval()
    with one_thread():
        logits = model(torch.from_numpy(x))
        loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(y)))
    acc = float((logits.argmax(1) == torch.from_numpy(y)).float().mean())
    return loss, acc


# -- a participant's local training --------------------------------------------------------


@dataclass(frozen=True)
class LocalSetup:
    """Everything a participant's local training depends on besides (p, g, r)."""

    task: str = "digits"
    model: str = "mlp"
    epochs: int = 1
    lr: float = 0.1
    alpha: float | None = None  # Dirichlet α of the partition; None = IID
    seed: int = 0


@dataclass(frozen=True)
class LocalResult:
    arrays: Arrays  # the locally trained model, in the global model's array order
    loss: float  # mean training loss of the last epoch
    num_examples: int


Poison = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def training_seed(seed: int, server_round: int, partition_id: int) -> int:
    """The torch seed of partition p's minibatch order in round r of a run seeded `seed`."""
    return int(np.random.SeedSequence([seed, server_round, partition_id]).generate_state(1)[0])


def local_training(
    setup: LocalSetup,
    partition_id: int,
    num_partitions: int,
    global_arrays: Mapping[str, np.ndarray],
    server_round: int,
    *,
    poison: Poison | None = None,
) -> LocalResult:
    """Train partition `partition_id`'s data from `global_arrays` in `server_round`.

    Without `poison` this is exactly what an honest participant does (deterministic: the
    same inputs give bit-identical arrays in any process with the same torch build);
    `poison(x, y) -> (x', y')` changes the local data first (data-poisoning attacks).
    """
    x, y = client_data(
        partition_id, num_partitions, alpha=setup.alpha, seed=setup.seed, task=setup.task
    )
    if poison is not None:
        x, y = poison(x, y)
    model = model_from_arrays(global_arrays, setup.task, setup.model)
    loss = train(
        model,
        x,
        y,
        epochs=setup.epochs,
        lr=setup.lr,
        seed=training_seed(setup.seed, server_round, partition_id),
    )
    return LocalResult(state_arrays(model), float(loss), len(x))


# Seeds the coordinator's own minibatch order, apart from every client's partition id.
REFERENCE_PARTITION = 2**20


def reference_training(
    setup: LocalSetup, x: np.ndarray, y: np.ndarray
) -> Callable[[Mapping[str, np.ndarray], int], Arrays]:
    """The coordinator's trainer on its validation set (`federation.engine.ReferenceTrainer`):
    the same local procedure as a participant's, so its update is comparable to theirs
    (FLTrust's server model update). Deterministic, like `local_training`."""

    def train_reference(global_arrays: Mapping[str, np.ndarray], server_round: int) -> Arrays:
        model = model_from_arrays(global_arrays, setup.task, setup.model)
        seed = training_seed(setup.seed, server_round, REFERENCE_PARTITION)
        train(model, x, y, epochs=setup.epochs, lr=setup.lr, seed=seed)
        return state_arrays(model)

    return train_reference
