"""A multinomial logistic regression in numpy: small, exact and fast enough for the demo.

Local training is deterministic given the generator, which keeps a demo round
reproducible for `verify`.
"""

from __future__ import annotations

import numpy as np

Arrays = dict[str, np.ndarray]


def init_model(num_features: int, num_classes: int) -> Arrays:
    """Zero weights: every participant starts from the same global model."""
    return {
        "weight": np.zeros((num_features, num_classes), dtype=np.float32),
        "bias": np.zeros((num_classes,), dtype=np.float32),
    }


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_proba(model: Arrays, x: np.ndarray) -> np.ndarray:
    return _softmax(x @ model["weight"].astype(np.float64) + model["bias"].astype(np.float64))


def accuracy(model: Arrays, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(predict_proba(model, x), axis=1) == y))


def train_sgd(
    model: Arrays,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    epochs: int = 2,
    lr: float = 0.5,
    batch_size: int = 32,
) -> Arrays:
    """Mini-batch SGD on cross-entropy; returns new float32 arrays (input untouched)."""
    w = model["weight"].astype(np.float64)
    b = model["bias"].astype(np.float64)
    classes = w.shape[1]
    onehot = np.eye(classes)[y]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            p = _softmax(x[idx] @ w + b)
            grad = (p - onehot[idx]) / len(idx)
            w -= lr * (x[idx].T @ grad)
            b -= lr * grad.sum(axis=0)
    return {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}
