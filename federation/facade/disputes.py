"""Disputes: a slashed participant's own dispute of a judged slash, anyone's dispute of a
result, the arbiter's decision before the round's dispute deadline, and the default outcome
anyone applies after it (``timeout_dispute``)."""

from __future__ import annotations

from eth_utils import to_checksum_address

from federation.errors import PreconditionError
from federation.events import iter_events
from federation.facade.rounds import RoundsMixin
from federation.types import (
    ZERO32,
    DisputeInfo,
    DisputeKind,
    DisputeStatus,
    RoundStatus,
    SlashRecord,
    SlashState,
    TxResult,
)

_FINAL = (
    DisputeStatus.UPHELD,
    DisputeStatus.REJECTED,
    DisputeStatus.TIMED_OUT,
    DisputeStatus.REFUNDED,
)


class DisputesMixin(RoundsMixin):
    """Slash and result disputes with deadlines and default outcomes."""

    def get_slash(self, round_id: int, participant: str) -> SlashRecord:
        """Amount, reason, origin and dispute state of a participant's slash in a round.

        The contract stores only a hash of the slash list, so amount and reason come from
        the ParticipantSlashed events and the state from ``slashState``.
        """
        who = to_checksum_address(participant)
        mine = [e for e in self.round_slashes(round_id) if e.participant == who]
        if not mine:
            return SlashRecord(0, 0, SlashState.NONE)
        raw = int(self.round_manager.call("slashState", round_id, who))
        state = SlashState(raw + 1)
        if state in (SlashState.LOCKED, SlashState.DISPUTED) and (
            self.get_round(round_id).status == RoundStatus.CANCELLED
        ):
            state = SlashState.REVERTED  # cancelling returned every slash still standing
        e = mine[0]
        return SlashRecord(e.amount, e.reason, state, e.from_unbonding, e.release_at)

    def dispute_slash(self, round_id: int, deposit: int, evidence_hash: bytes = ZERO32) -> TxResult:
        """Dispute the caller's own judged slash in ``round_id`` within the challenge
        window; ``value`` is the dispute id. A provable slash cannot be disputed."""
        entries = self.round_slashes(round_id)
        index = next((i for i, e in enumerate(entries) if e.participant == self.address), None)
        if index is None:
            raise PreconditionError(
                f"{self.address} was not slashed in round {round_id}: nothing to dispute"
            )
        self._pay(self.round_manager, deposit, "dispute deposit")
        receipt = self.round_manager.send(
            self._me(),
            "disputeSlash",
            round_id,
            [e.as_tuple() for e in entries],
            index,
            deposit,
            evidence_hash,
        )
        ev = self.round_manager.events_in(receipt, "DisputeOpened")
        return TxResult(receipt, value=int(ev[0]["disputeId"]))

    def dispute_result(
        self, round_id: int, deposit: int, evidence_hash: bytes = ZERO32
    ) -> TxResult:
        """Dispute a round's result (anyone, within the challenge window); ``value`` = id."""
        self._pay(self.round_manager, deposit, "dispute deposit")
        receipt = self.round_manager.send(
            self._me(), "disputeResult", round_id, deposit, evidence_hash
        )
        ev = self.round_manager.events_in(receipt, "DisputeOpened")
        return TxResult(receipt, value=int(ev[0]["disputeId"]))

    def resolve_dispute(self, dispute_id: int, uphold: bool, compensation: int = 0) -> TxResult:
        """The arbiter's decision (never the round's own coordinator), before the round's
        dispute deadline; a dispute already closed is already_applied."""
        if self.get_dispute(dispute_id).status in _FINAL:
            return TxResult(None, already_applied=True)
        return TxResult(
            self.round_manager.send(self._me(), "resolveDispute", dispute_id, uphold, compensation)
        )

    def timeout_dispute(self, dispute_id: int) -> TxResult:
        """Apply an undecided dispute's default outcome (anyone) once its round's dispute
        deadline has passed, or refund it when the round was cancelled. A slash dispute's
        default reverts the slash and pays compensation from the coordinator's bond; a
        result dispute's leaves the result standing and returns the deposit. Too early
        raises a PreconditionError naming the deadline; ``value`` is the new status."""
        d = self.get_dispute(dispute_id)
        if d.status == DisputeStatus.NONE:
            raise PreconditionError(f"there is no dispute {dispute_id}")
        if d.status in _FINAL:
            return TxResult(None, already_applied=True, value=d.status)
        now = self.now()
        if not d.timeout_due(now):
            raise PreconditionError(
                f"dispute {dispute_id}'s default outcome applies only after round "
                f"{d.round_id}'s dispute deadline {d.resolve_by} (unix s; now {now}, "
                f"{d.resolve_by - now + 1} s to go): until then the arbiter decides it"
            )
        receipt = self.round_manager.send(self._me(), "timeoutDispute", dispute_id)
        return TxResult(receipt, value=self.get_dispute(dispute_id).status)

    def dispute_count(self) -> int:
        return int(self.round_manager.call("disputeCount"))

    def get_dispute(self, dispute_id: int) -> DisputeInfo:
        """A dispute with its round's dispute deadline (``resolve_by``)."""
        d = self.round_manager.call("getDispute", dispute_id)
        round_id = int(d[0])
        resolve_by, cancelled = 0, False
        if round_id:
            info = self.get_round(round_id)
            resolve_by, cancelled = info.dispute_deadline, info.status == RoundStatus.CANCELLED
        return DisputeInfo(
            dispute_id=dispute_id,
            round_id=round_id,
            disputer=to_checksum_address(d[1]),
            kind=DisputeKind(int(d[2])),
            status=DisputeStatus(int(d[3])),
            participant=to_checksum_address(d[4]),
            deposit=int(d[5]),
            slash_amount=int(d[6]),
            from_unbonding=int(d[7]),
            release_at=int(d[8]),
            resolve_by=resolve_by,
            round_cancelled=cancelled,
        )

    def dispute_ids(self, round_id: int | None = None) -> list[int]:
        """Ids of the disputes opened (in one round), from DisputeOpened events."""
        filters = {"roundId": round_id} if round_id is not None else None
        return [
            int(r.args["disputeId"])
            for r in iter_events(
                self.round_manager, "DisputeOpened", self.deployment.deploy_block, filters=filters
            )
        ]

    def list_disputes(
        self, round_id: int | None = None, *, open_only: bool = False
    ) -> list[DisputeInfo]:
        """Disputes (of one round) with deadline and default outcome, oldest first."""
        out = [self.get_dispute(i) for i in self.dispute_ids(round_id)]
        return [d for d in out if d.status == DisputeStatus.OPEN] if open_only else out
