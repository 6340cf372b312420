"""Slash reason codes (uint8), as docs/protocol.md fixes them.

Two classes, because they are enforced differently: a *provable* fault comes with a proof
the FaultVerifier contract checks at finalize (no arbiter, not disputable, jails at once);
a *judged* fault is statistical, so it is capped, pending through the challenge window and
disputable. The values and the split are the contract's (FedstakeProtocol.isProvable).
"""

from enum import IntEnum


class SlashReason(IntEnum):
    """Why a participant is slashed; the value is what goes on-chain."""

    MALFORMED = 1  # provable: a non-finite value, or a header ≠ the global model's
    FORGED_HASH = 2  # judged: the arrays sent do not hash to the signed update hash
    BYZANTINE = 3  # judged: outlier
    SYBIL = 4  # judged: (near-)copy of another participant's update
    FREE_RIDER = 5  # judged: ≈ the global model, with noise
    EQUIVOCATION = 6  # provable: two signed commitments for one round
    NULL_UPDATE = 7  # provable: signed update hash = the global model's hash
    BAD_EXAMPLES = 8  # judged: signed numExamples above the maximum or ≠ the count reported


#: Reasons the contract checks itself (FaultVerifier); every other reason is judged.
PROVABLE: frozenset[SlashReason] = frozenset(
    {SlashReason.MALFORMED, SlashReason.EQUIVOCATION, SlashReason.NULL_UPDATE}
)


def is_provable(reason: int) -> bool:
    """Whether `reason` is a provable fault (FedstakeProtocol.isProvable): it needs a proof at
    finalize and cannot be disputed."""
    return reason in PROVABLE
