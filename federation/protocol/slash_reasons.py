"""Slash reason codes (uint8), as docs/protocol.md fixes them."""

from enum import IntEnum


class SlashReason(IntEnum):
    """Why a participant is slashed; the value is what goes on-chain."""

    MALFORMED = 1
    FORGED_HASH = 2
    BYZANTINE = 3
    SYBIL = 4
    FREE_RIDER = 5
