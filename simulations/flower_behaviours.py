"""Misbehaving simulated participants inside a real Flower ClientApp.

Two kinds, chosen per partition by the run config's `behaviours = "PID:NAME,…"`:

* *training* behaviours change the update the participant then signs honestly through
  `fedstake_mod` (slashable evidence): sign-flip, noise, free-rider, nan, wrong-shape, lazy;
  crash raises inside the ClientApp (the node replies with an error: absent);
* *wire* behaviours tamper with what leaves the node after `fedstake_mod` signed it
  (`adversary_mod`, placed outside it): forged-hash (arrays changed after signing),
  forged-signature (another key signs), replay (last round's signed reply sent again),
  impersonate-K (answers with partition K's key, so two nodes claim one address).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message

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
from federation.keys import dev_signer, generate
from federation.protocol.eip712 import sign_commitment

Arrays = dict[str, np.ndarray]
TRAINING = {"honest", "sign-flip", "noise", "free-rider", "nan", "wrong-shape", "lazy", "crash"}
WIRE = {"forged-hash", "forged-signature", "replay"}


def check_behaviour(name: str) -> str:
    if name in TRAINING or name in WIRE or name.startswith("impersonate-"):
        return name
    known = [*sorted(TRAINING | WIRE), "impersonate-K"]
    raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(known)}")


def apply_training(name: str, g: Arrays, local: Arrays, rng: np.random.Generator) -> Arrays:
    """The update a participant with behaviour `name` sends (and signs)."""
    if name == "crash":  # the ClientApp dies mid-round: the node answers with an error
        raise RuntimeError("simulated client crash")
    if name == "sign-flip":
        return {k: (g[k] - 4.0 * (local[k] - g[k])).astype(g[k].dtype) for k in g}
    if name == "noise":
        return {k: (g[k] + rng.normal(0, 1, g[k].shape)).astype(g[k].dtype) for k in g}
    if name == "free-rider":
        return {k: (g[k] + rng.normal(0, 1e-6, g[k].shape)).astype(g[k].dtype) for k in g}
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
