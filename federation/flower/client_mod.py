"""The participant's side of fedstake in any Flower ClientApp: one mod, outermost.

    from federation.flower import fedstake_mod, register_identity
    app = ClientApp(mods=[fedstake_mod, fixedclipping_mod])   # fedstake_mod first
    register_identity(app)

It answers the coordinator's identity query with an EIP-712 `NodeBinding` (address, node
id, run id, the coordinator's nonce), and signs every train reply: it hashes the reply's
arrays canonically — what actually leaves the node, after every inner mod — and signs a
`Commitment` (round id and global model hash taken from the incoming message, example
count from the reply's metrics), attached as the `fedstake.commitment` ConfigRecord.

The key comes from the node config and never leaves the node, nor is it logged:
  * `fedstake-key-env = "VAR"`: the hex private key is in environment variable VAR;
  * `fedstake-keystore = "PATH"` and `fedstake-password-env = "VAR"`: an encrypted
    keystore (`fedstake key new FILE`) and the variable holding its password;
  * simulation only: with no key configured, a node that has a `partition-id` in a run
    whose config sets `simulated-keys = true` uses development account 1 + partition-id
    (public keys, for simulations: on a real chain they hold no stake, so such a node is
    refused as not eligible; a key configured on the node always takes precedence).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from logging import WARNING

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.logger import log

from federation.errors import KeyLoadError
from federation.flower.records import (
    COMMITMENT,
    IDENTIFY,
    IDENTIFY_ACTION,
    IDENTIFY_MESSAGE_TYPE,
    IDENTITY,
    ROUND,
    RecordError,
    RoundInfo,
    arrays_of,
    commitment_record,
    run_id_bytes,
)
from federation.keys import Signer, dev_signer, from_keystore, from_private_key
from federation.protocol.eip712 import (
    Commitment,
    Domain,
    NodeBinding,
    sign_commitment,
    sign_node_binding,
)
from federation.protocol.update_hash import update_hash

CallNext = Callable[[Message, Context], Message]

KEY_ENV = "fedstake-key-env"
KEYSTORE = "fedstake-keystore"
PASSWORD_ENV = "fedstake-password-env"


@lru_cache(maxsize=256)
def _dev_signer(index: int) -> Signer:
    return dev_signer(index)  # a mnemonic derivation costs ~10 ms: once per node, not per reply


@lru_cache(maxsize=64)
def _env_signer(key: str) -> Signer:
    return from_private_key(key)


@lru_cache(maxsize=64)
def _keystore_signer(path: str, password_env: str) -> Signer:
    if not password_env or password_env not in os.environ:
        raise KeyLoadError(
            f"node config names keystore {path} but no password: set node config "
            f"{PASSWORD_ENV!r} to an environment variable that holds it"
        )
    return from_keystore(path, os.environ[password_env])


def node_signer(context: Context) -> Signer:
    """The participant's key, from node config (see the module docstring)."""
    cfg = context.node_config
    if KEY_ENV in cfg:
        var = str(cfg[KEY_ENV])
        if not os.environ.get(var):
            raise KeyLoadError(f"node config {KEY_ENV}={var!r} but ${var} is not set")
        return _env_signer(os.environ[var])
    if KEYSTORE in cfg:
        return _keystore_signer(str(cfg[KEYSTORE]), str(cfg.get(PASSWORD_ENV, "")))
    if "partition-id" in cfg and bool(context.run_config.get("simulated-keys", False)):
        return _dev_signer(1 + int(cfg["partition-id"]))
    raise KeyLoadError(
        f"no participant key: start the SuperNode with --node-config "
        f'\'{KEY_ENV}="VAR"\' (hex key in $VAR) or \'{KEYSTORE}="FILE" {PASSWORD_ENV}="VAR"\' '
        "(create one with `fedstake key new FILE`)"
    )


def identity_reply(msg: Message, context: Context, signer: Signer | None = None) -> Message:
    """Answer an identity query: a NodeBinding signed for this node, run and nonce."""
    q = msg.content.config_records[IDENTIFY]
    signer = signer or node_signer(context)
    domain = Domain(int(q["chain-id"]), str(q["contract"]))  # type: ignore[call-overload]
    binding = NodeBinding(
        participant=signer.address,
        flower_node_id=int(context.node_id),
        run_id=run_id_bytes(int(msg.metadata.run_id)),
        expiry=int(q["expiry"]),  # type: ignore[call-overload]
        nonce=bytes(q["nonce"]),  # type: ignore[call-overload]
    )
    sig = sign_node_binding(domain, binding, signer.key)
    record = ConfigRecord(
        {
            "address": signer.address,
            "node-id": str(context.node_id),
            "nonce": bytes(q["nonce"]),  # type: ignore[call-overload]
            "expiry": int(q["expiry"]),  # type: ignore[call-overload]
            "signature": sig,
        }
    )
    return Message(content=RecordDict({IDENTITY: record}), reply_to=msg)


def sign_reply(msg: Message, reply: Message, signer: Signer, info: RoundInfo) -> Message:
    """Attach the signed commitment to a train reply (arrays as they leave the node)."""
    (global_record,) = msg.content.array_records.values()
    received = update_hash(arrays_of(global_record))
    if received != info.global_model_hash:
        log(WARNING, "fedstake: the global model received does not match the round's hash")
    if len(reply.content.array_records) != 1 or len(reply.content.metric_records) != 1:
        raise RecordError("a train reply needs exactly one ArrayRecord and one MetricRecord")
    (arrays,) = reply.content.array_records.values()
    (metrics,) = reply.content.metric_records.values()
    commitment = Commitment(
        round_id=info.round_id,
        participant=signer.address,
        global_model_hash=received,  # what this node actually trained from
        update_hash=update_hash(arrays_of(arrays)),
        num_examples=_num_examples(metrics),
    )
    sig = sign_commitment(info.domain, commitment, signer.key)
    reply.content.config_records[COMMITMENT] = commitment_record(commitment, sig)
    return reply


def take_round_info(msg: Message) -> RoundInfo | None:
    """Read and remove our record from a train message, so inner mods and the app see the
    message exactly as a plain Flower strategy would have sent it (e.g. Flower's
    `fixedclipping_mod` insists on a single ConfigRecord)."""
    if msg.metadata.message_type.split(".")[0] != "train":
        return None
    rec = msg.content.config_records.get(ROUND)
    if rec is None:
        return None
    info = RoundInfo.from_record(rec)
    del msg.content.config_records[ROUND]
    return info


def _num_examples(metrics: MetricRecord) -> int:
    value = metrics.get("num-examples")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RecordError("the reply's MetricRecord needs a positive int 'num-examples'")
    return int(value)


def fedstake_mod(msg: Message, context: Context, call_next: CallNext) -> Message:
    """Flower mod: answer identity queries, sign train replies; pass everything else."""
    mtype = msg.metadata.message_type
    if mtype == IDENTIFY_MESSAGE_TYPE and IDENTIFY in msg.content.config_records:
        return identity_reply(msg, context)
    info = take_round_info(msg)
    if info is None:
        return call_next(msg, context)
    signer = node_signer(context)  # fail before training when there is no key
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    return sign_reply(msg, reply, signer, info)


def register_identity(app: ClientApp) -> ClientApp:
    """Register the identity query on `app` (Flower routes a message only to a registered
    function; `fedstake_mod` answers it before the function runs)."""

    @app.query(IDENTIFY_ACTION)
    def _identify(msg: Message, context: Context) -> Message:
        return identity_reply(msg, context)

    return app
