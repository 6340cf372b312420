"""One cell of the scoring sweep (`simulations.scoring_sweep`): its configuration, its
participants and its trajectory, scored by every scorer (`simulations.scoring_sweep_books`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simulations.scoring_sweep_books import (
    TOKEN,
    ScorerBook,
    legacy_method_supported,
    reference_supported,
)


@dataclass(frozen=True)
class SweepConfig:
    """What every cell shares (the axes are attack, momentum and split)."""

    clients: int = 25
    attackers: int = 5
    free_riders: int = 2
    rounds: int = 30
    epochs: int = 2
    lr: float = 0.5
    seed: int = 1
    root_size: int = 100
    stake_tokens: int = 100
    budget_tokens: int = 100
    task: str = "digits"
    model: str = "mlp"

    def check(self) -> None:
        if self.clients < 3 or self.rounds < 1 or self.epochs < 1 or not self.lr > 0:
            raise ValueError("clients ≥ 3, rounds ≥ 1, epochs ≥ 1 and lr > 0")
        if self.attackers < 0 or self.free_riders < 0:
            raise ValueError("attackers and free-riders must be ≥ 0")
        if self.clients - self.attackers - self.free_riders < 2:
            raise ValueError(
                f"{self.clients} clients leave fewer than 2 honest ones beside "
                f"{self.attackers} attackers and {self.free_riders} free-riders"
            )
        if self.root_size < 1 or self.stake_tokens < 1 or self.budget_tokens < 0:
            raise ValueError("root-size ≥ 1, stake ≥ 1 token, budget ≥ 0")


@dataclass(frozen=True)
class Attack:
    """One value of the attack axis: `NAME[:PARAM=VALUE…]`, checked against the registry."""

    label: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_attack(token: str, base: Mapping[str, Mapping[str, Any]] | None = None) -> Attack:
    """`"ipm:eps=0.1:evade=own"` → Attack("ipm:eps=0.1:evade=own", "ipm", {eps: 0.1, evade:
    "own"}); `base` (from `--attack-params`, `parse_attack_params`) gives defaults the
    token overrides. An unknown attack, parameter or value is a ValueError."""
    from simulations.attacks import ATTACKS, parse_attack_params

    name, *items = token.strip().split(":")
    if name == "none":
        if items:
            raise ValueError(f"attack {token!r}: 'none' takes no parameters")
        return Attack("none", "none")
    if name not in ATTACKS:
        known = ", ".join(["none", *sorted(set(ATTACKS) - {"free-rider"})])
        raise ValueError(f"unknown attack {name!r}; known: {known}")
    if name == "free-rider":
        raise ValueError("free-riders are their own class (--free-riders), not an attack here")
    params = dict((base or {}).get(name, {}))
    if items:
        parsed = parse_attack_params(",".join(f"{name}.{item}" for item in items))
        params.update(parsed.get(name, {}))
    ATTACKS[name].resolve(params)
    return Attack(token.strip(), name, params)


def parse_split(text: str) -> float | None:
    """`iid` (or `0`) → None; `dirA` (or a bare A > 0) → Dirichlet α = A."""
    t = text.strip().lower()
    if t in ("iid", "0", "0.0"):
        return None
    try:
        alpha = float(t.removeprefix("dir"))
    except ValueError:
        raise ValueError(f"split {text!r}: iid or dirALPHA (e.g. dir0.3)") from None
    if not alpha > 0:
        raise ValueError(f"split {text!r}: α must be > 0")
    return alpha


def split_name(alpha: float | None) -> str:
    return "iid" if alpha is None else f"dir{alpha:g}"


@dataclass(frozen=True)
class Cell:
    attack: Attack
    momentum: float
    alpha: float | None

    @property
    def name(self) -> str:
        text = f"m={self.momentum:g}__split={split_name(self.alpha)}__attack={self.attack.label}"
        return re.sub(r"[^A-Za-z0-9=._+-]", "_", text.replace(":", "+"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack.label,
            "attack_name": self.attack.name,
            "attack_params": dict(self.attack.params),
            "momentum": self.momentum,
            "split": split_name(self.alpha),
            "alpha": self.alpha,
        }


# -- the trajectory ----------------------------------------------------------
def root_and_test(cfg: SweepConfig) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]:
    """(root set, test set): the first `root_size` examples of the held-out split (a
    seeded random sample of the task; no client holds them) and the rest of it."""
    from simulations.data import holdout_set

    x, y = holdout_set(cfg.seed, task=cfg.task)
    if not 0 < cfg.root_size < len(x):
        raise ValueError(f"root-size {cfg.root_size}: the held-out split has {len(x)} examples")
    k = cfg.root_size
    return (x[:k], y[:k]), (x[k:], y[k:])


# The server's minibatch seed, apart from every client's partition id (the coordinator's
# `simulations.models.REFERENCE_PARTITION` where it exists).
REFERENCE_PARTITION = 2**20


def _through_float32(delta: np.ndarray, gv: np.ndarray, like: Mapping[str, np.ndarray]) -> Any:
    """The update as the wire carries it: g + Δ cast to the model's arrays, minus g."""
    from simulations.attacks import collusion

    return collusion.flatten(collusion.unflatten(gv + delta, like=like)) - gv


def _momentum(buffers: dict[int, np.ndarray], p: int, beta: float, fresh: np.ndarray) -> Any:
    """Worker momentum: m ← β·m + (1 − β)·Δ_fresh (m = 0 before the first round); the
    update sent. β = 0: Δ_fresh itself."""
    m = fresh if beta == 0 else beta * buffers.get(p, np.zeros_like(fresh)) + (1 - beta) * fresh
    buffers[p] = m
    return m


class Participants:
    """The cell's participants: who is who, their momentum buffers, and what each sends in
    a round (the lab app's `SimulatedParticipant`, replicated in-process)."""

    def __init__(self, cfg: SweepConfig, cell: Cell) -> None:
        from simulations.attacks import ATTACKS
        from simulations.data import task_info
        from simulations.models import LocalSetup

        self.cfg, self.n = cfg, cfg.clients
        self.spec = ATTACKS[cell.attack.name] if cell.attack.name != "none" else None
        self.params = self.spec.resolve(cell.attack.params) if self.spec else {}
        self.free_ride = ATTACKS["free-rider"]
        self.attackers = list(range(cfg.attackers)) if self.spec else []
        self.free_riders = list(range(cfg.attackers, cfg.attackers + cfg.free_riders))
        bad = set(self.attackers) | set(self.free_riders)
        self.honest = [p for p in range(self.n) if p not in bad]
        self.ids = [f"c{p:02d}" for p in range(self.n)]
        self.classes = {self.ids[p]: "honest" for p in self.honest}
        self.classes.update({self.ids[p]: "attacker" for p in self.attackers})
        self.classes.update({self.ids[p]: "free-rider" for p in self.free_riders})
        self.setup = LocalSetup(cfg.task, cfg.model, cfg.epochs, cfg.lr, cell.alpha, cfg.seed)
        self.task = task_info(cfg.task)
        self.beta = float(cell.momentum)
        self.buffers: dict[int, np.ndarray] = {}

    def members(self) -> dict[str, list[str]]:
        return {
            c: [p for p in self.ids if self.classes[p] == c]
            for c in ("honest", "attacker", "free-rider")
        }

    def _trained(
        self, p: int, g: Mapping[str, np.ndarray], gv: np.ndarray, rnd: int, poison: Any = None
    ) -> np.ndarray:
        from simulations.attacks import collusion
        from simulations.models import local_training

        fresh = local_training(self.setup, p, self.n, g, rnd, poison=poison)
        return _momentum(self.buffers, p, self.beta, collusion.flatten(fresh.arrays) - gv)

    def updates(self, g: Mapping[str, np.ndarray], rnd: int) -> np.ndarray:
        """(n, d) float64 deltas every participant sends in round `rnd` from global model
        `g`, in partition order, through the model's float32 arrays."""
        from simulations.attacks import DataView, RoundView, collusion

        gv = collusion.flatten(g)
        rngs = {p: np.random.default_rng([self.cfg.seed, rnd, p]) for p in range(self.n)}
        sent = {p: self._trained(p, g, gv, rnd) for p in self.honest}
        spec, params = self.spec, self.params
        own: dict[int, np.ndarray] = {}
        for p in self.attackers:
            assert spec is not None
            hook = None
            if spec.poison is not None:
                view = DataView(self.task.n_classes, self.task.image_side, rngs[p])
                poison = spec.poison
                hook = lambda x, y, _v=view, _h=poison: _h(x, y, _v, params)  # noqa: E731
            own[p] = self._trained(p, g, gv, rnd, hook)
        # the collusion channel: the honest updates of the round, and the colluders' own
        known = {**{p: sent[p] for p in self.honest}, **own}

        def channel(q: Sequence[int]) -> np.ndarray:
            return np.stack([known[i] for i in q])

        def view_of(p: int, own_update: np.ndarray, group: Sequence[int]) -> Any:
            return RoundView(
                g=gv,
                own=own_update,
                rng=rngs[p],
                n=self.n,
                group=tuple(group),
                honest_ids=tuple(self.honest),
                updates=channel,
            )

        for p in self.attackers:
            assert spec is not None
            if spec.craft is None:
                sent[p] = own[p]
            else:
                sent[p] = np.asarray(spec.craft(view_of(p, own[p], self.attackers), params))
        assert self.free_ride.craft is not None
        for p in self.free_riders:  # trains nothing: its own update only gives the length
            view = view_of(p, np.zeros(len(gv)), self.free_riders)
            sent[p] = self.free_ride.craft(view, self.free_ride.resolve())
        return np.stack([_through_float32(sent[p], gv, g) for p in range(self.n)])


def simulate_cell(cfg: SweepConfig, cell: Cell, scorers: Sequence[str]) -> dict[str, Any]:
    """One trajectory of `cell`, scored by every scorer: the cell's result (JSON-ready)."""
    from simulations.attacks import collusion
    from simulations.models import (
        evaluate,
        model_for,
        model_from_arrays,
        state_arrays,
        train,
        training_seed,
    )
    from strategies.aggregators import median, multi_krum

    t_start = time.perf_counter()
    who = Participants(cfg, cell)
    (xr, yr), (xt, yt) = root_and_test(cfg)
    books = [ScorerBook(s, who.ids, cfg.stake_tokens * TOKEN) for s in scorers]
    budget = cfg.budget_tokens * TOKEN
    g = state_arrays(model_for(cfg.task, cfg.model, cfg.seed))
    accuracy: list[float] = []
    fallbacks = 0
    train_s = 0.0
    f = cfg.attackers
    for rnd in range(1, cfg.rounds + 1):
        t0 = time.perf_counter()
        gv = collusion.flatten(g)
        deltas = who.updates(g, rnd)
        if cfg.clients > 2 * f + 2:
            agg = np.asarray(multi_krum(deltas, f), dtype=np.float64)
        else:  # as federation.aggregation.RuleAggregator: too few updates for the rule
            agg = np.asarray(median(deltas), dtype=np.float64)
            fallbacks += 1
        # the server's validation update, trained from the same global model
        ref_model = model_from_arrays(g, cfg.task, cfg.model)
        seed = training_seed(cfg.seed, rnd, REFERENCE_PARTITION)
        train(ref_model, xr, yr, epochs=cfg.epochs, lr=cfg.lr, seed=seed)
        reference = _through_float32(collusion.flatten(state_arrays(ref_model)) - gv, gv, g)
        train_s += time.perf_counter() - t0
        for book in books:
            book.score(rnd, deltas, who.ids, budget, reference, who.classes)
        t1 = time.perf_counter()
        g = collusion.unflatten(gv + agg, like=g)
        accuracy.append(evaluate(model_from_arrays(g, cfg.task, cfg.model), xt, yt)[1])
        train_s += time.perf_counter() - t1
    return {
        "cell": {**cell.to_dict(), "name": cell.name},
        "config": asdict(cfg),
        "scorers": {b.name: b.metrics(who.members(), cfg.rounds) for b in books},
        "members": who.members(),
        "accuracy": accuracy,
        "final_accuracy": accuracy[-1],
        "aggregator": {"rule": "multi-krum", "f": f, "median_fallbacks": fallbacks},
        "reference_supported": reference_supported(),
        "legacy_method_supported": legacy_method_supported(),
        "train_seconds": train_s,
        "seconds": time.perf_counter() - t_start,
    }
