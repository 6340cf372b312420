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
