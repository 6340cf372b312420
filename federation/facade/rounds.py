"""Rounds: open, finalize (with slash evidence), settle, expire, claim, dispute."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_utils import to_checksum_address

from federation.errors import (
    ContractRevert,
    PreconditionError,
)
from federation.events import iter_events
from federation.facade.base import LedgerBase
from federation.keys import Signer
from federation.protocol.eip712 import Commitment, sign_commitment
from federation.protocol.merkle import MerkleTree, participant_leaf
from federation.types import (
    DisputeInfo,
    DisputeKind,
    DisputeStatus,
    RewardEntry,
    RoundInfo,
    RoundParams,
    RoundResults,
    RoundStatus,
    SlashEvidence,
    SlashRecord,
    SlashState,
    TxResult,
)


class RoundsMixin(LedgerBase):
    """A round's whole life on-chain."""

    # -- rounds ---------------------------------------------------------------------------
    def now(self) -> int:
        """Timestamp of the latest block (the contracts' clock)."""
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    @staticmethod
    def participants_tree(round_id: int, participants: Iterable[str]) -> MerkleTree:
        return MerkleTree(participant_leaf(round_id, p) for p in participants)

    def next_round_id(self) -> int:
        return int(self.round_manager.call("roundCount")) + 1

    def open_round(
        self,
        participants: Sequence[str] | None = None,
        *,
        reward_budget: int,
        global_model_hash: bytes,
        config_hash: bytes = b"\x00" * 32,
        params: RoundParams | None = None,
        participant_count: int | None = None,
        duration: int | None = None,
        finalize_deadline: int | None = None,
    ) -> TxResult:
        """Open a round; ``value`` is the new round id.

        Pass ``participants`` (the tree is built for the next round id) or ready ``params``
        plus ``participant_count``. The deadline defaults to now + maxRoundDuration.
        """
        if params is None:
            if not participants:
                raise PreconditionError("open_round needs the selected participants (or params=)")
            tree = self.participants_tree(self.next_round_id(), participants)
            params = RoundParams(global_model_hash, config_hash, tree.root)
            participant_count = len(participants)
        if participant_count is None:
            raise PreconditionError("open_round with params= also needs participant_count=")
        if finalize_deadline is None:
            span = duration if duration is not None else self.round_config().max_round_duration
            finalize_deadline = self.now() + span
        receipt = self.round_manager.send(
            self._me(),
            "openRound",
            params.as_tuple(),
            participant_count,
            reward_budget,
            finalize_deadline,
        )
        ev = self.round_manager.events_in(receipt, "RoundOpened")
        round_id = int(ev[0]["roundId"])
        self._round_params[round_id] = params
        return TxResult(receipt, value=round_id)

    def round_params(self, round_id: int) -> RoundParams:
        """The params a round was opened with (from its RoundOpened event)."""
        if round_id not in self._round_params:
            for rec in iter_events(
                self.round_manager,
                "RoundOpened",
                self.deployment.deploy_block,
                filters={"roundId": round_id},
            ):
                a = rec.args
                self._round_params[round_id] = RoundParams(
                    bytes(a["globalModelHash"]),
                    bytes(a["configHash"]),
                    bytes(a["participantsRoot"]),
                )
        try:
            return self._round_params[round_id]
        except KeyError:
            raise PreconditionError(f"round {round_id} was never opened") from None

    def get_round(self, round_id: int) -> RoundInfo:
        r = self.round_manager.call("getRound", round_id)
        return RoundInfo(
            round_id=round_id,
            coordinator=to_checksum_address(r[0]),
            reward_budget=int(r[1]),
            status=RoundStatus(int(r[2])),
            participant_count=int(r[3]),
            finalize_deadline=int(r[4]),
            challenge_deadline=int(r[5]),
            open_disputes=int(r[6]),
            result_voided=bool(r[7]),
            slashed_total=int(r[8]),
            params_hash=bytes(r[9]),
            total_rewards=int(r[10]),
            claimed=int(r[11]),
            results_root=bytes(r[12]),
            aggregate_hash=bytes(r[13]),
            slashes_hash=bytes(r[14]),
        )

    def round_count(self) -> int:
        return int(self.round_manager.call("roundCount"))

    def finalize_round(
        self,
        round_id: int,
        *,
        aggregate_hash: bytes,
        results: RoundResults | None = None,
        results_root: bytes | None = None,
        total_rewards: int | None = None,
        slashes: Sequence[SlashEvidence] = (),
        params: RoundParams | None = None,
    ) -> TxResult:
        """Finalize once. Re-sending a finalize that already landed returns already_applied."""
        if results is not None:
            results_root, total_rewards = results.root, results.total_rewards
        if results_root is None or total_rewards is None:
            raise PreconditionError(
                "finalize_round needs results= or results_root= + total_rewards="
            )
        info = self.get_round(round_id)
        if info.status in (RoundStatus.FINALIZED, RoundStatus.SETTLED):
            if info.results_root == results_root and info.aggregate_hash == aggregate_hash:
                return TxResult(None, already_applied=True)
            raise self.errors.InvalidRoundStatus(
                f"round {round_id} is already finalized with a different result "
                f"(root 0x{info.results_root.hex()}); a round is finalized at most once",
                {"roundId": round_id, "status": int(info.status)},
            )
        params = params or self.round_params(round_id)
        try:
            receipt = self.round_manager.send(
                self._me(),
                "finalizeRound",
                round_id,
                params.as_tuple(),
                aggregate_hash,
                results_root,
                total_rewards,
                [s.as_tuple() for s in _sorted_slashes(slashes)],
            )
        except ContractRevert as exc:
            if exc.error_name == "InvalidRoundStatus" and self._finalized_as(
                round_id, results_root, aggregate_hash
            ):
                return TxResult(None, already_applied=True)
            raise
        return TxResult(receipt)

    def _finalized_as(self, round_id: int, root: bytes, agg: bytes) -> bool:
        info = self.get_round(round_id)
        return (
            info.results_root == root
            and info.aggregate_hash == agg
            and info.status
            in (
                RoundStatus.FINALIZED,
                RoundStatus.SETTLED,
            )
        )

    def settle_round(self, round_id: int) -> TxResult:
        """Settle after the challenge window (anyone); a settled round is already_applied."""
        if self.get_round(round_id).status == RoundStatus.SETTLED:
            return TxResult(None, already_applied=True)
        try:
            return TxResult(self.round_manager.send(self._me(), "settleRound", round_id))
        except ContractRevert as exc:
            if exc.error_name == "InvalidRoundStatus" and (
                self.get_round(round_id).status == RoundStatus.SETTLED
            ):
                return TxResult(None, already_applied=True)
            raise

    def expire_round(self, round_id: int) -> TxResult:
        if self.get_round(round_id).status == RoundStatus.EXPIRED:
            return TxResult(None, already_applied=True)
        return TxResult(self.round_manager.send(self._me(), "expireRound", round_id))

    def is_claimed(self, round_id: int, participant: str | None = None) -> bool:
        return bool(self.round_manager.call("isClaimed", round_id, participant or self.address))

    def claim(
        self,
        round_id: int,
        results: RoundResults | None = None,
        *,
        participant: str | None = None,
        entry: RewardEntry | None = None,
        proof: Sequence[bytes] | None = None,
    ) -> TxResult:
        """Claim a settled round's reward (paid to the participant); never paid twice."""
        who = to_checksum_address(participant or self.address)
        if results is not None:
            entry, proof = results.entry(who), results.proof(who)
        if entry is None or proof is None:
            raise PreconditionError("claim needs results= or entry= + proof=")
        if self.is_claimed(round_id, who):
            return TxResult(None, already_applied=True)
        try:
            receipt = self.round_manager.send(
                self._me(),
                "claim",
                round_id,
                who,
                entry.update_hash,
                entry.score,
                entry.reward,
                list(proof),
            )
        except ContractRevert as exc:
            if exc.error_name == "AlreadyClaimed":
                return TxResult(None, already_applied=True)
            raise
        return TxResult(receipt, value=entry.reward)

    # -- commitments and slashing evidence -------------------------------------------------
    def sign_commitment(self, commitment: Commitment, signer: Signer | None = None) -> bytes:
        return sign_commitment(self.domain, commitment, (signer or self._me()).key)

    def verify_commitment_onchain(self, commitment: Commitment, signature: bytes) -> bool:
        """Check a signed commitment against the contract's own EIP-712 digest
        (``commitmentDigest``), recovering the signer as finalize's slash check does.
        """
        from eth_account import Account

        digest = self.commitment_digest_onchain(commitment)
        try:
            signer = Account._recover_hash(digest, signature=bytes(signature))
        except Exception:
            return False
        return signer == to_checksum_address(commitment.participant)

    def commitment_digest_onchain(self, commitment: Commitment) -> bytes:
        return bytes(self.round_manager.call("commitmentDigest", *commitment.as_tuple()))

    @staticmethod
    def slash_evidence(
        commitment: Commitment,
        signature: bytes,
        *,
        reason: int,
        slash_bps: int,
        participants: MerkleTree,
    ) -> SlashEvidence:
        leaf = participant_leaf(commitment.round_id, commitment.participant)
        return SlashEvidence(
            participant=to_checksum_address(commitment.participant),
            update_hash=bytes(commitment.update_hash),
            num_examples=commitment.num_examples,
            reason=int(reason),
            slash_bps=slash_bps,
            signature=bytes(signature),
            proof=tuple(participants.proof(leaf)),
        )

    def _round_slashes(self, round_id: int) -> list[tuple[str, int, int]]:
        """(participant, amount, reason) of a round's slashes, in finalize order (events)."""
        return [
            (
                to_checksum_address(r.args["participant"]),
                int(r.args["amount"]),
                int(r.args["reason"]),
            )
            for r in iter_events(
                self.round_manager,
                "ParticipantSlashed",
                self.deployment.deploy_block,
                filters={"roundId": round_id},
            )
        ]

    def get_slash(self, round_id: int, participant: str) -> SlashRecord:
        """Amount, reason and dispute state of a participant's slash in a round.

        The contract stores only a hash of the slash list, so amount and reason come from
        the ParticipantSlashed events and the state from ``slashState``.
        """
        who = to_checksum_address(participant)
        mine = [(a, r) for p, a, r in self._round_slashes(round_id) if p == who]
        if not mine:
            return SlashRecord(0, 0, SlashState.NONE)
        raw = int(self.round_manager.call("slashState", round_id, who))
        state = SlashState.LOCKED if raw == 0 else SlashState(raw + 1)
        return SlashRecord(mine[0][0], mine[0][1], state)

    # -- disputes -------------------------------------------------------------------------
    def dispute_slash(
        self, round_id: int, deposit: int, evidence_hash: bytes = b"\x00" * 32
    ) -> TxResult:
        self._pay(self.round_manager, deposit, "dispute deposit")
        # The contract stores only a hash of the slash list: send the list and our index.
        entries = self._round_slashes(round_id)
        index = next((i for i, (p, _, _) in enumerate(entries) if p == self.address), None)
        if index is None:
            raise PreconditionError(
                f"{self.address} was not slashed in round {round_id}: nothing to dispute"
            )
        receipt = self.round_manager.send(
            self._me(),
            "disputeSlash",
            round_id,
            [list(e) for e in entries],
            index,
            deposit,
            evidence_hash,
        )
        ev = self.round_manager.events_in(receipt, "DisputeOpened")
        return TxResult(receipt, value=int(ev[0]["disputeId"]))

    def dispute_result(
        self, round_id: int, deposit: int, evidence_hash: bytes = b"\x00" * 32
    ) -> TxResult:
        self._pay(self.round_manager, deposit, "dispute deposit")
        receipt = self.round_manager.send(
            self._me(), "disputeResult", round_id, deposit, evidence_hash
        )
        ev = self.round_manager.events_in(receipt, "DisputeOpened")
        return TxResult(receipt, value=int(ev[0]["disputeId"]))

    def resolve_dispute(self, dispute_id: int, uphold: bool, compensation: int = 0) -> TxResult:
        if self.get_dispute(dispute_id).status in (DisputeStatus.UPHELD, DisputeStatus.REJECTED):
            return TxResult(None, already_applied=True)
        return TxResult(
            self.round_manager.send(self._me(), "resolveDispute", dispute_id, uphold, compensation)
        )

    def get_dispute(self, dispute_id: int) -> DisputeInfo:
        d = self.round_manager.call("getDispute", dispute_id)
        return DisputeInfo(
            dispute_id=dispute_id,
            round_id=int(d[0]),
            disputer=to_checksum_address(d[1]),
            kind=DisputeKind(int(d[2])),
            status=DisputeStatus(int(d[3])),
            participant=to_checksum_address(d[4]),
            deposit=int(d[5]),
            slash_amount=int(d[6]),
        )


def _sorted_slashes(slashes: Sequence[SlashEvidence]) -> list[SlashEvidence]:
    """Ascending participant address: the order the contract requires (no duplicates)."""
    return sorted(slashes, key=lambda e: int(e.participant, 16))
