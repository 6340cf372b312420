"""DESIGN step 4: the one validator of a participant's signed reply.

Signature, round and model binding are checked here; the update's content (names, dtypes,
shapes, finiteness, example count) by `strategies.update_checks`, the same check the
chain-free Flower strategies use. A failure is an `Exclusion`: the run goes on. It is
*slashable* (`reason` set) only when the participant's own valid signature commits to
the bad update, so a coordinator cannot slash somebody for bytes they did not sign.

Slashable faults come in two classes (docs/protocol.md, "Slash reason codes"):

* provable — the contract checks a proof at finalize, nobody can dispute it: a non-finite
  value or a header (names / dtypes / shapes) other than the global model's, proven
  against the signed update hash (MALFORMED); a signed update hash equal to the global
  model's (NULL_UPDATE); two different commitments signed for one round (EQUIVOCATION,
  `equivocation`). The proof is built here and checked locally (`federation.faults`):
  one that does not check leaves the reply excluded but unslashed, so a finalize never
  reverts on it;
* judged — the coordinator's word, disputable: arrays that do not hash to the signed
  hash (FORGED_HASH: only the coordinator saw the arrays), a signed example count above
  the bound or unlike the reported one (BAD_EXAMPLES).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from eth_utils import is_address, to_checksum_address

from federation import faults
from federation.protocol.eip712 import Commitment, Domain, recover_commitment
from federation.protocol.update_hash import update_hash
from strategies.flower.arrays import ModelLayout
from strategies.policy import is_provable
from strategies.scoring_types import ReasonCode
from strategies.update_checks import check_num_examples, check_update

Arrays = dict[str, np.ndarray]

# Content faults of `check_update` that a header proof shows (the rest: non-finite).
HEADER_CODES = frozenset({"keys", "dtype", "shape"})


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
    """A reply kept out of aggregation: a stable `code`, a `detail`, the slash reason when
    the participant's own signature commits to the fault (None: not slashable) and, for a
    provable reason, the proof the contract checks (b"" for a null update)."""

    participant: str
    code: str
    detail: str
    reason: ReasonCode | None = None
    proof: bytes | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "participant": self.participant,
            "code": self.code,
            "detail": self.detail,
            "reason": None if self.reason is None else self.reason.name,
            "proof": None if self.proof is None else self.proof.hex(),
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


def signed_for(
    sub: Submission, *, round_id: int, domain: Domain, global_model_hash: bytes
) -> Exclusion | None:
    """None when `sub` carries the selected participant's own signature over a commitment
    for this round and model (what makes its faults evidence), else why not."""
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
    if bytes(c.global_model_hash) != bytes(global_model_hash):
        return Exclusion(who, "stale-model", "commitment is for another global model")
    return None


def validate_submission(
    sub: Submission,
    *,
    round_id: int,
    domain: Domain,
    global_arrays: Mapping[str, np.ndarray],
    global_model_hash: bytes,
    max_examples: int = 10**9,
    layout: ModelLayout | None = None,
) -> ValidUpdate | Exclusion:
    """Check one reply in the order that decides what is slashable, and how."""
    who = sub.participant
    unsigned = signed_for(
        sub, round_id=round_id, domain=domain, global_model_hash=global_model_hash
    )
    if unsigned is not None:
        return unsigned
    c = sub.commitment
    assert c is not None
    # From here on the participant signed this round's commitment: faults are evidence.
    if bytes(c.update_hash) == bytes(global_model_hash):
        return _provable(
            Exclusion(
                who,
                "null-update",
                "the signed update hash is the global model's (nothing was trained)",
                ReasonCode.NULL_UPDATE,
                faults.null_update_proof(),
            ),
            c,
            domain,
        )
    try:
        actual = update_hash(sub.arrays)
    except Exception as exc:  # arrays that cannot even be hashed: nothing to prove with
        return Exclusion(
            who, "unhashable", f"arrays cannot be hashed ({exc})", ReasonCode.FORGED_HASH
        )
    if actual != bytes(c.update_hash):
        return Exclusion(
            who, "forged-hash", "arrays do not match the signed hash", ReasonCode.FORGED_HASH
        )
    layout = layout or ModelLayout.of(global_arrays)
    weights, fault = check_update(sub.arrays, layout, ordered=True)
    if fault is not None or weights is None:
        assert fault is not None
        try:
            if fault.code in HEADER_CODES:
                proof = faults.header_mismatch_proof(sub.arrays, global_arrays)
            else:
                proof = faults.non_finite_proof(sub.arrays)
        except Exception as exc:  # nothing in the bytes to point at: excluded, unslashed
            return Exclusion(who, fault.code, f"{fault.detail}; not provable ({exc})")
        return _provable(
            Exclusion(who, fault.code, fault.detail, ReasonCode.MALFORMED, proof), c, domain
        )
    why = check_num_examples(c.num_examples, max_examples)
    if why is None and c.num_examples != sub.num_examples:
        why = f"signed {c.num_examples} examples, reported {sub.num_examples}"
    if why is not None:
        return Exclusion(who, "num-examples", why, ReasonCode.BAD_EXAMPLES)
    return ValidUpdate(sub, weights, actual)


def _provable(ex: Exclusion, c: Commitment, domain: Domain) -> Exclusion:
    """`ex` when its proof checks locally against the signed commitment (what the
    contract will check), else the same exclusion without a slash."""
    assert ex.reason is not None and is_provable(ex.reason) and ex.proof is not None
    why = faults.check(ex.reason, c, domain, ex.proof)
    if why is None:
        return ex
    return Exclusion(ex.participant, ex.code, f"{ex.detail}; proof fails locally ({why})")


@dataclass(frozen=True)
class Equivocation:
    """Two different commitments the participant signed for one round: `first` is the
    reply that counts (aggregated when valid), `second`'s commitment is the proof."""

    participant: str
    first: Submission
    second: Submission
    proof: bytes


def equivocation(
    first: Submission,
    second: Submission,
    *,
    round_id: int,
    domain: Domain,
    global_model_hash: bytes,
) -> Equivocation | None:
    """The equivocation two replies of one participant prove, or None (a resend of the
    same commitment, a reply not validly signed for this round, or a proof that does not
    check locally)."""
    for sub in (first, second):
        if signed_for(sub, round_id=round_id, domain=domain, global_model_hash=global_model_hash):
            return None
    a, b = first.commitment, second.commitment
    assert a is not None and b is not None and second.signature is not None
    if (bytes(a.update_hash), a.num_examples) == (bytes(b.update_hash), b.num_examples):
        return None
    proof = faults.equivocation_proof(b, second.signature)
    if faults.check(ReasonCode.EQUIVOCATION, a, domain, proof) is not None:
        return None
    return Equivocation(to_checksum_address(first.participant), first, second, proof)


def layout_of(arrays: Mapping[str, np.ndarray]) -> ModelLayout:
    return ModelLayout.of(arrays)
