"""DESIGN step 4: the one validator of a participant's signed reply.

Signature, round and model binding are checked here; the update's content (names, dtypes,
shapes, finiteness, example count) by `strategies.update_checks`, the same check the
chain-free Flower strategies use. A failure is an `Exclusion`: the run goes on. It is
*slashable* (`reason` set) only when the participant's own valid signature commits to
the bad update, so a coordinator cannot slash somebody for bytes they did not sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from eth_utils import is_address, to_checksum_address

from federation.protocol.eip712 import Commitment, Domain, recover_commitment
from federation.protocol.update_hash import update_hash
from strategies.flower.arrays import ModelLayout
from strategies.scoring_types import ReasonCode
from strategies.update_checks import check_num_examples, check_update

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Submission:
    """What came back from one selected participant (a Flower reply, or a scripted one)."""

    participant: str  # the address the coordinator selected (bound to the node)
    arrays: Arrays
    num_examples: int
    commitment: Commitment | None  # None when the reply carried no readable commitment
    signature: bytes | None
    node_id: int | None = None


@dataclass(frozen=True)
class Exclusion:
    """A reply kept out of aggregation: a stable `code`, a `detail`, and the slash reason
    when the participant's own signature commits to the fault (None: not slashable)."""

    participant: str
    code: str
    detail: str
    reason: ReasonCode | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "participant": self.participant,
            "code": self.code,
            "detail": self.detail,
            "reason": None if self.reason is None else self.reason.name,
        }


@dataclass(frozen=True)
class ValidUpdate:
    """A submission that passed every check, with its float64 weights and hash."""

    submission: Submission
    weights: np.ndarray
    update_hash: bytes

    @property
    def participant(self) -> str:
        return self.submission.participant


def validate_submission(
    sub: Submission,
    *,
    round_id: int,
    domain: Domain,
    layout: ModelLayout,
    global_model_hash: bytes,
    max_examples: int = 10**9,
) -> ValidUpdate | Exclusion:
    """Check one reply in the order that decides what is slashable."""
    who = sub.participant
    c, sig = sub.commitment, sub.signature
    if c is None or sig is None:
        return Exclusion(who, "unsigned", "the reply carries no commitment and signature")
    try:
        signer = recover_commitment(domain, c, sig)
    except Exception as exc:  # malformed signature bytes
        return Exclusion(who, "bad-signature", f"unreadable signature ({exc})")
    if not is_address(c.participant) or to_checksum_address(c.participant) != signer:
        return Exclusion(who, "bad-signature", f"signature recovers to {signer}, not the signer")
    if signer != to_checksum_address(who):
        return Exclusion(who, "wrong-signer", f"signed by {signer}, selected {who}")
    if c.round_id != round_id:
        return Exclusion(who, "replayed", f"commitment is for round {c.round_id}, not {round_id}")
    if c.global_model_hash != global_model_hash:
        return Exclusion(who, "stale-model", "commitment is for another global model")
    # From here on the participant signed this round's commitment: faults are evidence.
    try:
        actual = update_hash(sub.arrays)
    except Exception as exc:  # arrays that cannot even be hashed
        return Exclusion(who, "malformed", f"arrays cannot be hashed ({exc})", ReasonCode.MALFORMED)
    if actual != c.update_hash:
        return Exclusion(
            who, "forged-hash", "arrays do not match the signed hash", ReasonCode.FORGED_HASH
        )
    weights, fault = check_update(sub.arrays, layout, ordered=True)
    if fault is not None or weights is None:
        assert fault is not None
        return Exclusion(who, fault.code, fault.detail, ReasonCode.MALFORMED)
    why = check_num_examples(c.num_examples, max_examples)
    if why is None and c.num_examples != sub.num_examples:
        why = f"signed {c.num_examples} examples, reported {sub.num_examples}"
    if why is not None:
        return Exclusion(who, "num-examples", why, ReasonCode.MALFORMED)
    return ValidUpdate(sub, weights, actual)


def layout_of(arrays: Mapping[str, np.ndarray]) -> ModelLayout:
    return ModelLayout.of(arrays)
