"""History: stakes, rounds, slashes and claims from events, in block-range pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_utils import to_checksum_address

from federation.contract import BoundContract
from federation.events import LogRecord, iter_events
from federation.facade.base import LedgerBase
from federation.types import (
    ClaimEvent,
    RoundEvent,
    SlashEvent,
    StakeEvent,
)


class HistoryMixin(LedgerBase):
    """Event queries returning dataclasses."""

    # -- history --------------------------------------------------------------------------
    def _events(
        self,
        contract: BoundContract,
        event: str,
        from_block: int | None,
        to_block: int | None,
        page: int,
        filters: dict[str, Any] | None = None,
    ) -> Iterable[LogRecord]:
        start = self.deployment.deploy_block if from_block is None else from_block
        return iter_events(contract, event, start, to_block, page, filters)

    def stake_events(
        self,
        staker: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = 5_000,
    ) -> list[StakeEvent]:
        out: list[StakeEvent] = []
        f = {"staker": staker} if staker else None
        for event, kind in (
            ("Staked", "staked"),
            ("UnbondRequested", "unbond_requested"),
            ("Withdrawn", "withdrawn"),
        ):
            for r in self._events(self.stake_manager, event, from_block, to_block, page, f):
                out.append(
                    StakeEvent(
                        kind,
                        to_checksum_address(r.args["staker"]),
                        int(r.args["amount"]),
                        r.block_number,
                        r.tx_hash,
                        int(r.args.get("releaseAt", 0)),
                    )
                )
        return sorted(out, key=lambda e: e.block_number)

    def round_events(
        self, from_block: int | None = None, to_block: int | None = None, page: int = 5_000
    ) -> list[RoundEvent]:
        out: list[tuple[int, int, RoundEvent]] = []
        for event, kind in (
            ("RoundOpened", "opened"),
            ("RoundFinalized", "finalized"),
            ("RoundSettled", "settled"),
            ("RoundExpired", "expired"),
            ("RoundCancelled", "cancelled"),
            ("RoundResultVoided", "voided"),
        ):
            for r in self._events(self.round_manager, event, from_block, to_block, page):
                data = {k: v for k, v in r.args.items() if k != "roundId"}
                out.append(
                    (
                        r.block_number,
                        r.log_index,
                        RoundEvent(kind, int(r.args["roundId"]), r.block_number, r.tx_hash, data),
                    )
                )
        return [e for _, _, e in sorted(out, key=lambda t: (t[0], t[1]))]

    def slash_events(
        self,
        round_id: int | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = 5_000,
    ) -> list[SlashEvent]:
        f = {"roundId": round_id} if round_id is not None else None
        return [
            SlashEvent(
                int(r.args["roundId"]),
                to_checksum_address(r.args["participant"]),
                int(r.args["reason"]),
                int(r.args["slashBps"]),
                int(r.args["amount"]),
                bytes(r.args["updateHash"]),
                r.block_number,
                r.tx_hash,
                int(r.args["fromUnbonding"]),
                int(r.args["releaseAt"]),
            )
            for r in self._events(
                self.round_manager, "ParticipantSlashed", from_block, to_block, page, f
            )
        ]

    def claim_events(
        self,
        round_id: int | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        page: int = 5_000,
    ) -> list[ClaimEvent]:
        f = {"roundId": round_id} if round_id is not None else None
        return [
            ClaimEvent(
                int(r.args["roundId"]),
                to_checksum_address(r.args["participant"]),
                int(r.args["amount"]),
                r.block_number,
                r.tx_hash,
            )
            for r in self._events(
                self.round_manager, "RewardClaimed", from_block, to_block, page, f
            )
        ]
