"""What fedstake adds to Flower messages: record names and their fields, one definition.

Server → node:
  * identity query (message type `query.fedstake_identify`): ConfigRecord `IDENTIFY`
    {nonce, run-id, chain-id, contract, expiry};
  * train message: ConfigRecord `ROUND` {round-id, chain-id, contract, global-model-hash}.
Node → server:
  * identity reply: ConfigRecord `IDENTITY` {address, signature, node-id, nonce, expiry};
  * train reply: ConfigRecord `COMMITMENT` {address, round-id, global-model-hash,
    update-hash, num-examples, signature}, beside the reply's ArrayRecord and MetricRecord.

Built-in Flower strategies accept extra ConfigRecords in replies; the wrapper strips ours
before delegating anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord

from federation.protocol.eip712 import Commitment, Domain

IDENTIFY = "fedstake.identify"
IDENTITY = "fedstake.identity"
ROUND = "fedstake.round"
COMMITMENT = "fedstake.commitment"
IDENTIFY_ACTION = "fedstake_identify"
IDENTIFY_MESSAGE_TYPE = f"query.{IDENTIFY_ACTION}"


class RecordError(ValueError):
    """A fedstake record is missing a field or has one of the wrong type."""


def _get(record: Mapping[str, object], key: str, kind: type) -> object:
    if key not in record:
        raise RecordError(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RecordError(f"field {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def run_id_bytes(run_id: int) -> bytes:
    """A Flower run id (uint64) as the bytes32 of `NodeBinding.runId`."""
    return int(run_id).to_bytes(32, "big")


@dataclass(frozen=True)
class RoundInfo:
    """What a train message tells the node to sign for."""

    round_id: int
    domain: Domain
    global_model_hash: bytes

    def to_record(self) -> ConfigRecord:
        return ConfigRecord(
            {
                "round-id": self.round_id,
                "chain-id": self.domain.chain_id,
                "contract": self.domain.verifying_contract,
                "global-model-hash": self.global_model_hash,
            }
        )

    @classmethod
    def from_record(cls, rec: Mapping[str, object]) -> RoundInfo:
        return cls(
            int(_get(rec, "round-id", int)),  # type: ignore[call-overload]
            Domain(int(_get(rec, "chain-id", int)), str(_get(rec, "contract", str))),  # type: ignore[call-overload]
            bytes(_get(rec, "global-model-hash", bytes)),  # type: ignore[call-overload]
        )


def commitment_record(c: Commitment, signature: bytes) -> ConfigRecord:
    return ConfigRecord(
        {
            "address": c.participant,
            "round-id": c.round_id,
            "global-model-hash": bytes(c.global_model_hash),
            "update-hash": bytes(c.update_hash),
            "num-examples": c.num_examples,
            "signature": bytes(signature),
        }
    )


def commitment_from_record(rec: Mapping[str, object]) -> tuple[Commitment, bytes]:
    c = Commitment(
        round_id=int(_get(rec, "round-id", int)),  # type: ignore[call-overload]
        participant=str(_get(rec, "address", str)),
        global_model_hash=bytes(_get(rec, "global-model-hash", bytes)),  # type: ignore[call-overload]
        update_hash=bytes(_get(rec, "update-hash", bytes)),  # type: ignore[call-overload]
        num_examples=int(_get(rec, "num-examples", int)),  # type: ignore[call-overload]
    )
    return c, bytes(_get(rec, "signature", bytes))  # type: ignore[call-overload]


def arrays_of(record: ArrayRecord) -> dict[str, np.ndarray]:
    """An ArrayRecord as numpy arrays, in record order (the order the update hash uses)."""
    return {name: record[name].numpy() for name in record}
