"""Provable-fault proofs as the round engine and `verify` use them.

A thin layer over `federation.protocol.fault_proof` (the one Python definition of the
encodings and of the FaultVerifier's checks): builders that raise instead of returning
None when there is nothing to prove, and a check that returns why a proof would revert
(None: the contract accepts it). The engine checks every proof here before finalize, so
a slash whose proof would fail is left out instead of reverting the whole finalize.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from federation.protocol import fault_proof as fp
from federation.protocol.eip712 import Commitment, Domain

HEADER_MISMATCH = int(fp.FaultVariant.HEADER_MISMATCH)
NON_FINITE = int(fp.FaultVariant.NON_FINITE)

Arrays = Mapping[str, np.ndarray]


def null_update_proof() -> bytes:
    """NULL_UPDATE: the contract compares the signed hash with the global model's."""
    return fp.null_update_proof()


def header_mismatch_proof(update: Arrays, global_arrays: Arrays) -> bytes:
    """The two header leaves (update vs global model); ValueError when they are equal."""
    proof = fp.header_mismatch_proof(update, global_arrays)
    if proof is None:
        raise ValueError("the update's header is the global model's")
    return proof


def non_finite_proof(update: Arrays) -> bytes:
    """The chunk holding the first provable NaN/±Inf; ValueError when there is none."""
    proof = fp.non_finite_proof(update)
    if proof is None:
        raise ValueError("no non-finite float element to point at")
    return proof


def equivocation_proof(other: Commitment, other_signature: bytes) -> bytes:
    """The participant's other signed commitment for the same round and model."""
    return fp.equivocation_proof(other, bytes(other_signature))


@lru_cache(maxsize=16)
def _separator(domain: Domain) -> bytes:
    return fp.domain_separator(domain)


def check(reason: int, commitment: Commitment, domain: Domain, proof: bytes) -> str | None:
    """None when `proof` proves `reason` against the signed `commitment` under `domain`
    exactly as the FaultVerifier checks it, else the contract error it would revert with."""
    ctx = fp.FaultContext(
        commitment.round_id,
        commitment.participant,
        bytes(commitment.global_model_hash),
        bytes(commitment.update_hash),
        commitment.num_examples,
        _separator(domain),
    )
    try:
        fp.check_fault(int(reason), ctx, bytes(proof))
    except fp.FaultProofError as exc:
        return str(exc)
    return None


__all__ = [
    "HEADER_MISMATCH",
    "NON_FINITE",
    "check",
    "equivocation_proof",
    "header_mismatch_proof",
    "non_finite_proof",
    "null_update_proof",
]
