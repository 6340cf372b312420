"""Reply validation that excludes bad replies instead of aborting the run.

Flower's built-in strategies raise `InconsistentMessageReplies` when a single reply is
malformed, which lets one client stop everybody's training. Here each reply is checked
on its own against the global model's layout, and a bad one is excluded with a recorded
reason. The chain wrapper reuses `validate_replies` before hashing and scoring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, Message

from strategies.flower.arrays import ModelLayout, flatten
from strategies.scoring_types import ReasonCode
from strategies.update_checks import check_num_examples, check_update


@dataclass(frozen=True)
class Excluded:
    """A reply left out of aggregation, and why.

    `code` is a short stable string; `reason` is MALFORMED when the content itself is bad
    (slashable if signed), None when it is not the participant's update that is wrong
    (an error reply, a duplicate).
    """

    node_id: int
    code: str
    detail: str
    reason: ReasonCode | None


@dataclass(frozen=True)
class ValidReply:
    """A reply that passed every check, with its flattened float64 weights."""

    node_id: int
    message: Message
    weights: np.ndarray
    num_examples: int


def _num_examples(msg: Message, key: str) -> tuple[int | None, str]:
    records = list(msg.content.metric_records.values())
    if len(records) != 1:
        return None, f"expected exactly one MetricRecord, got {len(records)}"
    if key not in records[0]:
        return None, f"MetricRecord lacks {key!r}"
    why = check_num_examples(records[0][key])
    return (None, why) if why else (int(records[0][key]), "")


def _array_record(msg: Message, key: str | None) -> tuple[ArrayRecord | None, str]:
    records = msg.content.array_records
    if len(records) != 1:
        return None, f"expected exactly one ArrayRecord, got {len(records)}"
    name, record = next(iter(records.items()))
    if key is not None and name != key:
        return None, f"ArrayRecord under {name!r}, expected {key!r}"
    return record, ""


def validate_replies(
    replies: Iterable[Message],
    global_arrays: ArrayRecord,
    *,
    arrayrecord_key: str | None = None,
    num_examples_key: str = "num-examples",
) -> tuple[list[ValidReply], list[Excluded]]:
    """Split replies into valid ones (sorted by node id) and excluded ones.

    A valid reply: no error; exactly one ArrayRecord (under `arrayrecord_key` if given)
    with exactly the global model's keys, shapes and dtypes, all values finite; exactly
    one MetricRecord whose `num_examples_key` is a positive int; first reply of its node.
    Messages are read, never modified.
    """
    layout = ModelLayout.of(global_arrays)
    valid: list[ValidReply] = []
    excluded: list[Excluded] = []
    seen: set[int] = set()
    for msg in replies:
        node = int(msg.metadata.src_node_id)
        if msg.has_error():
            excluded.append(Excluded(node, "error", str(msg.error.reason), None))
            continue
        if node in seen:
            excluded.append(Excluded(node, "duplicate", "second reply from this node", None))
            continue
        seen.add(node)
        record, detail = _array_record(msg, arrayrecord_key)
        if record is None:
            excluded.append(Excluded(node, "array-records", detail, ReasonCode.MALFORMED))
            continue
        weights, fault = check_update(record, layout)
        if fault is not None or weights is None:
            assert fault is not None
            excluded.append(Excluded(node, fault.code, fault.detail, ReasonCode.MALFORMED))
            continue
        count, why = _num_examples(msg, num_examples_key)
        if count is None:
            excluded.append(Excluded(node, "num-examples", why, ReasonCode.MALFORMED))
            continue
        valid.append(ValidReply(node, msg, weights, count))
    valid.sort(key=lambda r: r.node_id)
    excluded.sort(key=lambda e: e.node_id)
    return valid, excluded


def stack_updates(valid: list[ValidReply], global_arrays: ArrayRecord) -> np.ndarray:
    """(n, d) float64 updates (reply − global model) of valid replies, in their order.

    The matrix the robust rule and `strategies.scoring.score_round` both consume.
    """
    g = flatten(global_arrays, ModelLayout.of(global_arrays))
    if not valid:
        return np.zeros((0, g.shape[0]))
    return np.stack([r.weights for r in valid]) - g
