"""Misbehaving simulated participants inside a real Flower ClientApp.

Chosen per partition by the run config's `behaviours = "PID:NAME,…"`:

* *attacks*: every name in `simulations.attacks.ATTACKS` (label-flip, backdoor, lazy,
  sign-flip, noise, scaling, free-rider, alie, ipm, min-max, min-sum, fang, fang-krum,
  sybil), with
  parameters from `attack-params = "ATTACK.PARAM=VALUE,…"`. They change the data the
  participant trains on and/or the update it then signs honestly through `fedstake_mod`
  (slashable evidence); omniscient ones learn the round's honest updates through the
  collusion channel (`simulations.attacks.collusion`), never through the server;
* *protocol faults*: nan and wrong-shape (a malformed signed update), crash (raises inside
  the ClientApp: the node replies with an error, absent);
* *wire* behaviours tamper with what leaves the node after `fedstake_mod` signed it
  (`adversary_mod`, placed outside it): forged-hash (arrays changed after signing),
  forged-signature (another key signs), replay (last round's signed reply sent again),
  impersonate-K (answers with partition K's key, so two nodes claim one address).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message

from federation.errors import ConfigError
from federation.flower.client_mod import identity_reply, sign_reply
from federation.flower.records import (
    COMMITMENT,
    IDENTIFY,
    IDENTIFY_MESSAGE_TYPE,
    ROUND,
    RoundInfo,
    commitment_from_record,
    commitment_record,
)
from federation.flower.settings import RunSettings
from federation.keys import dev_signer, generate
from federation.protocol.eip712 import sign_commitment
from simulations.attacks import (
    ATTACKS,
    DataView,
    RoundView,
    collusion,
    parse_attack_params,
    poisoning,
)
from simulations.data import task_info
from simulations.models import MODELS, LocalSetup, Poison

Arrays = dict[str, np.ndarray]
FAULTS = {"nan", "wrong-shape", "crash"}
TRAINING = {"honest", *FAULTS, *ATTACKS}
WIRE = {"forged-hash", "forged-signature", "replay"}


def check_behaviour(name: str) -> str:
    if name in TRAINING or name in WIRE or name.startswith("impersonate-"):
        return name
    known = [*sorted(TRAINING | WIRE), "impersonate-K"]
    raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(known)}")


def check_run_config(s: RunSettings) -> None:
    """The ServerApp's start-up check of the app's keys: task, model, every `PID:NAME` of
    `behaviours` and every `attack-params` item (ConfigError naming what is wrong)."""
    try:
        task_info(s.task)
        if s.model not in MODELS:
            raise ValueError(f"unknown model {s.model!r}; known: {', '.join(MODELS)}")
        for item in s.behaviours.replace(" ", "").split(","):
            if item:
                pid, sep, name = item.partition(":")
                if not sep or not pid.isdigit():
                    raise ValueError(f"behaviours item {item!r}: expected PID:NAME")
                check_behaviour(name)
        parse_attack_params(s.attack_params)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def backdoor_probe(s: RunSettings) -> tuple[poisoning.Trigger, int] | None:
    """The (trigger, target label) of the run's pixel-pattern backdoor, for the server's
    attack-success measurement; None when no participant plants one. Every backdoor
    behaviour of a run shares one parametrisation (`attack-params` is per attack name), so
    the first one found is the run's."""
    task = task_info(s.task)
    for item in s.behaviours.replace(" ", "").split(","):
        name = item.partition(":")[2]
        spec = ATTACKS.get(name)
        if spec is None or "target" not in spec.params or "patch" not in spec.params:
            continue
        p = spec.resolve(parse_attack_params(s.attack_params).get(spec.name))
        if not p.get("backdoor", True) or task.image_side is None:
            continue
        trigger = poisoning.corner_trigger(task.image_side, int(p["patch"]), float(p["value"]))
        return trigger, int(p["target"])
    return None


def train_setup(s: RunSettings) -> LocalSetup:
    """What every participant's local training depends on, from the run config."""
    alpha = s.dirichlet_alpha if s.dirichlet_alpha > 0 else None
    return LocalSetup(s.task, s.model, s.local_epochs, s.learning_rate, alpha, s.seed)


@dataclass
class SimulatedParticipant:
    """Partition `pid` in round `server_round`, as the run config makes it behave."""

    settings: RunSettings
    pid: int
    num_partitions: int
    server_round: int

    @cached_property
    def behaviour(self) -> str:
        return check_behaviour(self.settings.behaviour_of(self.pid))

    @cached_property
    def rng(self) -> np.random.Generator:
        """The attacker's randomness: seeded by (run seed, round, partition)."""
        return np.random.default_rng([self.settings.seed, self.server_round, self.pid])

    @property
    def setup(self) -> LocalSetup:
        return train_setup(self.settings)

    def _params(self) -> dict[str, object]:
        spec = ATTACKS[self.behaviour]
        return spec.resolve(parse_attack_params(self.settings.attack_params).get(spec.name))

    def _staked(self) -> list[int]:
        skip = self.settings.unstaked_partitions
        return [q for q in range(self.num_partitions) if q not in skip]

    def poison(self) -> Poison | None:
        """The data hook of a data-poisoning attack (None: trains on its data as is)."""
        spec = ATTACKS.get(self.behaviour)
        if spec is None or spec.poison is None:
            return None
        hook, params = spec.poison, self._params()
        task = task_info(self.settings.task)
        view = DataView(task.n_classes, task.image_side, self.rng)
        return lambda x, y: hook(x, y, view, params)

    def send(self, g: Arrays, local: Arrays) -> Arrays:
        """The update this participant sends (and signs), from its locally trained one."""
        name = self.behaviour
        spec = ATTACKS.get(name)
        if spec is None or spec.craft is None:
            return apply_training(name, g, local, self.rng)
        staked = self._staked()
        behaviour_of = self.settings.behaviour_of
        setup, n, rnd = self.setup, self.num_partitions, self.server_round
        gv = collusion.flatten(g)
        view = RoundView(
            g=gv,
            own=collusion.flatten(local) - gv,
            rng=self.rng,
            n=len(staked),
            group=tuple(q for q in staked if behaviour_of(q) == name),
            honest_ids=tuple(q for q in staked if behaviour_of(q) == "honest"),
            updates=lambda ids: collusion.honest_updates(setup, ids, n, g, rnd),
        )
        return collusion.unflatten(gv + spec.craft(view, self._params()), like=g)


def apply_training(name: str, g: Arrays, local: Arrays, rng: np.random.Generator) -> Arrays:
    """The update a participant with a protocol fault (or honest) sends and signs."""
    if name == "crash":  # the ClientApp dies mid-round: the node answers with an error
        raise RuntimeError("simulated client crash")
    if name == "nan":
        out = {k: v.copy() for k, v in local.items()}
        next(iter(out.values())).reshape(-1)[0] = np.nan
        return out
    if name == "wrong-shape":
        first = next(iter(local))
        return {**local, first: np.zeros((1, 1), local[first].dtype)}
    return local


CallNext = Callable[[Message, Context], Message]


def adversary_mod(msg: Message, context: Context, call_next: CallNext) -> Message:
    """Outermost mod of simulated clients: wire behaviours (a no-op for honest ones)."""
    name = _behaviour(context)
    impersonated = None
    if name.startswith("impersonate-"):
        impersonated = dev_signer(1 + int(name.removeprefix("impersonate-")))
        mtype = msg.metadata.message_type
        if mtype == IDENTIFY_MESSAGE_TYPE and IDENTIFY in msg.content.config_records:
            return identity_reply(msg, context, signer=impersonated)
    rec = msg.content.config_records.get(ROUND)
    info = RoundInfo.from_record(rec) if rec is not None else None
    reply = call_next(msg, context)
    if info is None or reply.has_error() or COMMITMENT not in reply.content.config_records:
        return reply
    if impersonated is not None:
        del reply.content.config_records[COMMITMENT]
        return sign_reply(msg, reply, impersonated, info)
    if name == "forged-hash":
        (arrays,) = reply.content.array_records.values()
        for key in list(arrays.keys()):
            a = arrays[key].numpy().copy()
            a.reshape(-1)[0] += 1.0
            arrays[key] = Array(a)
    elif name == "forged-signature":
        c, _ = commitment_from_record(reply.content.config_records[COMMITMENT])
        forged = sign_commitment(info.domain, c, generate().key)
        reply.content.config_records[COMMITMENT] = commitment_record(c, forged)
    elif name == "replay":
        return _replay(context, reply)
    return reply


def _replay(context: Context, reply: Message) -> Message:
    """Send the previous round's signed reply instead of this one (honest in round 1)."""
    state = context.state
    (key,) = reply.content.array_records.keys()
    current_arrays = reply.content.array_records[key]
    current_commit = reply.content.config_records[COMMITMENT]
    old_arrays, old_commit = state.get(_SAVED_ARRAYS), state.get(_SAVED_COMMIT)
    state[_SAVED_ARRAYS] = current_arrays
    state[_SAVED_COMMIT] = current_commit
    if isinstance(old_arrays, ArrayRecord) and isinstance(old_commit, ConfigRecord):
        reply.content.array_records[key] = old_arrays
        reply.content.config_records[COMMITMENT] = old_commit
    return reply


_SAVED_ARRAYS = "fedstake-replay-arrays"
_SAVED_COMMIT = "fedstake-replay-commitment"


def _behaviour(context: Context) -> str:
    spec = str(context.run_config.get("behaviours", ""))
    pid = int(context.node_config.get("partition-id", -1))
    for item in spec.replace(" ", "").split(","):
        if item and int(item.partition(":")[0]) == pid:
            return check_behaviour(item.partition(":")[2])
    return "honest"
