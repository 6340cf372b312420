"""Simulated participants for scripted staked rounds (no Flower in the loop).

The coordinator is the product's `federation.engine.RoundEngine`; this module only replaces
the participants: each trains locally, (mis)behaves, hashes and signs its commitment with
its own key. `run_round` is the scripted loop tests and benchmarks use on any chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from federation.engine import RoundEngine, RoundOutcome
from federation.ledger import Ledger
from federation.protocol.eip712 import Commitment, Domain
from federation.protocol.update_hash import update_hash
from federation.validation import Submission

Arrays = dict[str, np.ndarray]
TrainFn = Callable[[Arrays, np.random.Generator], tuple[Arrays, int]]


class Behaviour(StrEnum):
    """What a simulated participant does with its update."""

    HONEST = "honest"
    SIGN_FLIP = "sign-flip"  # sends global − 4·(its honest delta)
    NOISE = "noise"  # sends global + N(0, 1)
    FREE_RIDER = "free-rider"  # sends the global model back unchanged
    NON_FINITE = "non-finite"  # a NaN in its update (a crashed or hostile client)
    FORGED_HASH = "forged-hash"  # signs one update, sends another


@dataclass
class SimParticipant:
    """A staked participant with local data and a behaviour."""

    ledger: Ledger
    behaviour: Behaviour
    train: TrainFn
    rng: np.random.Generator

    @property
    def address(self) -> str:
        return self.ledger.address

    def respond(self, round_id: int, global_arrays: Arrays, domain: Domain) -> Submission:
        """Train locally, then (mis)behave, hash and sign the commitment."""
        local, n = self.train(global_arrays, self.rng)
        sent = apply_behaviour(self.behaviour, global_arrays, local, self.rng)
        committed = sent
        if self.behaviour is Behaviour.FORGED_HASH:
            committed = local  # signs the honest update, sends a different one
        commitment = Commitment(
            round_id=round_id,
            participant=self.address,
            global_model_hash=update_hash(global_arrays),
            update_hash=update_hash(committed),
            num_examples=n,
        )
        signature = self.ledger.sign_commitment(commitment)
        return Submission(self.address, sent, n, commitment, signature)


def apply_behaviour(b: Behaviour, g: Arrays, local: Arrays, rng: np.random.Generator) -> Arrays:
    if b in (Behaviour.HONEST,):
        return local
    if b is Behaviour.SIGN_FLIP:
        return {k: (g[k] - 4.0 * (local[k] - g[k])).astype(g[k].dtype) for k in g}
    if b is Behaviour.NOISE:
        return {k: (g[k] + rng.normal(0, 1, g[k].shape)).astype(g[k].dtype) for k in g}
    if b is Behaviour.FREE_RIDER:
        return {k: g[k].copy() for k in g}
    if b is Behaviour.NON_FINITE:
        out = {k: v.copy() for k, v in local.items()}
        first = next(iter(out))
        out[first].reshape(-1)[0] = np.nan
        return out
    if b is Behaviour.FORGED_HASH:
        return {k: (local[k] + rng.normal(0, 0.05, g[k].shape)).astype(g[k].dtype) for k in g}
    raise ValueError(f"unknown behaviour {b!r}")


def run_round(
    engine: RoundEngine,
    global_arrays: Arrays,
    participants: Sequence[SimParticipant],
    budget: int,
) -> RoundOutcome:
    """One scripted round: the engine opens it for the eligible participants, each responds,
    the engine concludes (validate → … → finalize → provenance). Settlement is separate."""
    led = engine.ledger
    selected = [p for p in participants if led.is_eligible(p.address)]
    opened = engine.open_round([p.address for p in selected], global_arrays, budget)
    subs = [p.respond(opened.round_id, global_arrays, led.domain) for p in selected]
    return engine.conclude(opened, subs)


# Five honest participants and the three faults a round must survive (scripted tests).
ATTACKED_MIX: tuple[Behaviour, ...] = (Behaviour.HONEST,) * 5 + (
    Behaviour.SIGN_FLIP,
    Behaviour.NON_FINITE,
    Behaviour.FORGED_HASH,
)


def toy_model() -> Arrays:
    """The toy task's initial global model `{"w": (4, 3), "b": (3,)}`, all zeros."""
    return {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3, np.float32)}


def toy_train(target: np.ndarray) -> TrainFn:
    """A participant on the toy task `{"w": (4, 3), "b": (3,)}`: its local optimum is
    `target` plus a little noise (tests and scripted examples)."""

    def train(g: Arrays, rng: np.random.Generator) -> tuple[Arrays, int]:
        w = g["w"] + target + rng.normal(0, 0.01, g["w"].shape).astype(np.float32)
        return {"w": w.astype(np.float32), "b": g["b"] + np.float32(0.1)}, 50

    return train


def staked_participants(
    admin: Ledger,
    behaviours: Sequence[Behaviour],
    *,
    seed: int = 0,
    stake: int = 100 * 10**18,
    bond: int = 500 * 10**18,
    pool: int = 100 * 10**18,
) -> tuple[list[SimParticipant], np.ndarray]:
    """Development accounts 1… staked as toy-task participants with these behaviours; the
    coordinator (`admin`) posts its bond and funds the pool. Returns them and the target."""
    from federation.keys import dev_signers

    target = np.random.default_rng(seed).normal(0, 1, (4, 3)).astype(np.float32)
    people = []
    for i, (signer, b) in enumerate(
        zip(dev_signers(1 + len(behaviours))[1:], behaviours, strict=True)
    ):
        led = admin.as_signer(signer)
        admin.fund_eth(led.address, 10 * 10**18)
        admin.transfer_tokens(led.address, stake)
        led.stake(stake)
        people.append(SimParticipant(led, b, toy_train(target), np.random.default_rng(i)))
    admin.post_bond(bond)
    admin.fund_reward_pool(pool)
    return people, target
