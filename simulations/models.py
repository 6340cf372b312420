"""A small torch MLP for 8×8 digits, and train / evaluate loops for the Flower app."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def make_model(seed: int = 0, hidden: int = 32) -> nn.Module:
    """64 → hidden → 10 MLP with seeded initial weights (same on every process)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, seed: int = 0
) -> float:
    """Plain minibatch SGD; returns the mean loss of the last epoch."""
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    last = 0.0
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
    """(mean cross-entropy loss, accuracy)."""
    model.eval()
    logits = model(torch.from_numpy(x))
    loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(y)))
    acc = float((logits.argmax(1) == torch.from_numpy(y)).float().mean())
    return loss, acc
