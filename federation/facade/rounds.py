"""Rounds: open (for an expected id), finalize (result + evidenced slashes), settle,
expire, cancel, claim (participant proof + sum-tree proof)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_utils import to_checksum_address

from federation.errors import ContractRevert, PreconditionError
from federation.events import iter_events
from federation.facade.base import LedgerBase
from federation.keys import Signer
from federation.protocol.eip712 import Commitment, sign_commitment
from federation.protocol.merkle import MerkleTree, participant_leaf
from federation.protocol.sum_tree import SumProof
from federation.types import (
    ZERO32,
    RewardEntry,
    RoundFinalization,
    RoundInfo,
    RoundParams,
    RoundResults,
    RoundStatus,
    SlashEntry,
    SlashEvidence,
    TxResult,
)


class RoundsMixin(LedgerBase):
    """A round's whole life on-chain (disputes: ``facade.disputes``)."""

    # -- reads ----------------------------------------------------------------------------
    def now(self) -> int:
        """Timestamp of the latest block (the contracts' clock)."""
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    @staticmethod
    def participants_tree(round_id: int, participants: Iterable[str]) -> MerkleTree:
        return MerkleTree(participant_leaf(round_id, p) for p in participants)

    def round_count(self) -> int:
        return int(self.round_manager.call("roundCount"))

    def next_round_id(self) -> int:
        return self.round_count() + 1

    def active_rounds(self) -> int:
        """Rounds opened and not yet settled, expired or cancelled."""
        return int(self.round_manager.call("activeRounds"))

    def get_round(self, round_id: int) -> RoundInfo:
        r = self.round_manager.call("getRound", round_id)
        status = RoundStatus(int(r[2]))
        total = int(r[10])
        claimed = 0
        if status == RoundStatus.SETTLED and total and not bool(r[9]):
            claimed = self.claimed_total(round_id)
        return RoundInfo(
            round_id=round_id,
            coordinator=to_checksum_address(r[0]),
            reward_budget=int(r[1]),
            status=status,
            participant_count=int(r[3]),
            finalize_deadline=int(r[4]),
            challenge_deadline=int(r[5]),
            dispute_deadline=int(r[6]),
            open_slash_disputes=int(r[7]),
            open_result_disputes=int(r[8]),
            result_voided=bool(r[9]),
            total_rewards=total,
            slashed_total=int(r[11]),
            params_hash=bytes(r[12]),
            results_root=bytes(r[13]),
            aggregate_hash=bytes(r[14]),
            slashes_hash=bytes(r[15]),
            claimed=claimed,
        )

    def claimed_total(self, round_id: int) -> int:
        """Σ rewards claimed in a round (its RewardClaimed events)."""
        return sum(
            int(r.args["amount"])
            for r in iter_events(
                self.round_manager,
                "RewardClaimed",
                self.deployment.deploy_block,
                filters={"roundId": round_id},
            )
        )

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

    def finalization(self, round_id: int) -> RoundFinalization | None:
        """What finalize committed (decision hash, artifacts URI, deadlines); None before."""
        for rec in iter_events(
            self.round_manager,
            "RoundFinalized",
            self.deployment.deploy_block,
            filters={"roundId": round_id},
        ):
            a = rec.args
            return RoundFinalization(
                round_id=round_id,
                aggregate_hash=bytes(a["aggregateHash"]),
                results_root=bytes(a["resultsRoot"]),
                total_rewards=int(a["totalRewards"]),
                slashed_total=int(a["slashedTotal"]),
                slash_count=int(a["slashCount"]),
                challenge_deadline=int(a["challengeDeadline"]),
                dispute_deadline=int(a["disputeDeadline"]),
                decision_hash=bytes(a["decisionHash"]),
                artifacts_uri=str(a["artifactsURI"]),
                block_number=rec.block_number,
                tx_hash=rec.tx_hash,
            )
        return None

    # -- open -----------------------------------------------------------------------------
    def open_round(
        self,
        participants: Sequence[str] | None = None,
        *,
        reward_budget: int,
        global_model_hash: bytes,
        config_hash: bytes = ZERO32,
        params: RoundParams | None = None,
        participant_count: int | None = None,
        duration: int | None = None,
        finalize_deadline: int | None = None,
        expected_round_id: int | None = None,
    ) -> TxResult:
        """Open the next round; ``value`` is its id.

        Pass ``participants`` (the tree is built for the next round id, which is also the
        id the contract must give, else nothing is opened) or ready ``params`` plus
        ``participant_count`` (and ``expected_round_id``: the id their tree was built for).
        The deadline defaults to now + maxRoundDuration. When another coordinator takes
        the id first, ``UnexpectedRoundId`` says so: call again (a new tree, a new id).
        """
        expected = expected_round_id if expected_round_id is not None else self.next_round_id()
        if params is None:
            if not participants:
                raise PreconditionError("open_round needs the selected participants (or params=)")
            tree = self.participants_tree(expected, participants)
            params = RoundParams(global_model_hash, config_hash, tree.root)
            participant_count = len(participants)
        if participant_count is None:
            raise PreconditionError("open_round with params= also needs participant_count=")
        if finalize_deadline is None:
            span = duration if duration is not None else self.round_config().max_round_duration
            finalize_deadline = self.now() + span
        try:
            receipt = self.round_manager.send(
                self._me(),
                "openRound",
                expected,
                params.as_tuple(),
                participant_count,
                reward_budget,
                finalize_deadline,
            )
        except ContractRevert as exc:
            if exc.error_name == "UnexpectedRoundId":
                raise self._round_id_race(exc, expected) from None
            raise
        ev = self.round_manager.events_in(receipt, "RoundOpened")
        round_id = int(ev[0]["roundId"])
        self._round_params[round_id] = params
        return TxResult(receipt, value=round_id)

    def _round_id_race(self, exc: ContractRevert, expected: int) -> ContractRevert:
        nxt = int(exc.arguments.get("next", expected + 1))
        return type(exc)(
            f"round {expected} was taken by another coordinator's openRound before ours "
            f"landed (the next id is now {nxt}); the participant set was built for round "
            f"{expected}, so nothing was opened and nothing was spent: open the round again "
            "(Ledger.open_round rebuilds the participant tree for the new id)",
            exc.arguments,
        )

    # -- finalize -------------------------------------------------------------------------
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
        decision_hash: bytes = ZERO32,
        artifacts_uri: str = "",
    ) -> TxResult:
        """Finalize once: the result (sum-tree root and total, the decision file's hash and
        where the artifacts `verify` needs are) and the evidenced slashes (sorted here).
        Provable slashes carry their fault proof (the contract checks it; a bad proof
        reverts); judged ones none. Re-sending a finalize that landed is already_applied.
        """
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
        result = (aggregate_hash, results_root, total_rewards, decision_hash, artifacts_uri)
        try:
            receipt = self.round_manager.send(
                self._me(),
                "finalizeRound",
                round_id,
                params.as_tuple(),
                result,
                [s.as_tuple() for s in sorted_slashes(slashes)],
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
            and info.status in (RoundStatus.FINALIZED, RoundStatus.SETTLED)
        )

    # -- settle, expire, cancel -----------------------------------------------------------
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

    def cancel_round(self, round_id: int) -> TxResult:
        """Cancel an open or finalized, unsettled round (guardian: PAUSER_ROLE): its budget
        returns to the pool and every locked slash goes back where it was taken from.
        The slash list is read from the round's ParticipantSlashed events; ``value`` is the
        budget returned."""
        info = self.get_round(round_id)
        if info.status == RoundStatus.CANCELLED:
            return TxResult(None, already_applied=True)
        entries = self.round_slashes(round_id) if info.status == RoundStatus.FINALIZED else []
        receipt = self.round_manager.send(
            self._me(), "cancelRound", round_id, [e.as_tuple() for e in entries]
        )
        ev = self.round_manager.events_in(receipt, "RoundCancelled")
        return TxResult(receipt, value=int(ev[0]["budgetReturned"]) if ev else None)

    # -- claim ----------------------------------------------------------------------------
    def is_claimed(self, round_id: int, participant: str | None = None) -> bool:
        return bool(self.round_manager.call("isClaimed", round_id, participant or self.address))

    def claim(
        self,
        round_id: int,
        results: RoundResults | None = None,
        *,
        participant: str | None = None,
        entry: RewardEntry | None = None,
        proof: SumProof | None = None,
        participant_proof: Sequence[bytes] | None = None,
    ) -> TxResult:
        """Claim a settled round's reward (paid to the participant); never paid twice.

        Sends the round params, the participant's selection proof and its path in the
        results sum tree; from ``results`` (a published results file) or given."""
        who = to_checksum_address(participant or self.address)
        if results is not None:
            entry = entry or results.entry(who)
            proof = proof or results.proof(who)
            if participant_proof is None:
                participant_proof = results.participant_proof(who)
        if entry is None or proof is None or participant_proof is None:
            raise PreconditionError(
                "claim needs results= (or entry=, proof= and participant_proof=)"
            )
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
                self.round_params(round_id).as_tuple(),
                list(participant_proof),
                proof.as_tuple(),
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
        fault_proof: bytes = b"",
    ) -> SlashEvidence:
        """A slash's evidence: the signed commitment, the selection proof and, for a
        provable fault, its proof (``federation.protocol.fault_proof``)."""
        leaf = participant_leaf(commitment.round_id, commitment.participant)
        return SlashEvidence(
            participant=to_checksum_address(commitment.participant),
            update_hash=bytes(commitment.update_hash),
            num_examples=commitment.num_examples,
            reason=int(reason),
            slash_bps=slash_bps,
            signature=bytes(signature),
            proof=tuple(participants.proof(leaf)),
            fault_proof=bytes(fault_proof),
        )

    def round_slashes(self, round_id: int) -> list[SlashEntry]:
        """A round's applied slashes in finalize order (its ParticipantSlashed events): the
        list disputeSlash and cancelRound re-send (the contract stores only its hash)."""
        return [
            SlashEntry(
                to_checksum_address(r.args["participant"]),
                int(r.args["amount"]),
                int(r.args["reason"]),
                int(r.args["fromUnbonding"]),
                int(r.args["releaseAt"]),
            )
            for r in iter_events(
                self.round_manager,
                "ParticipantSlashed",
                self.deployment.deploy_block,
                filters={"roundId": round_id},
            )
        ]


def sorted_slashes(slashes: Sequence[SlashEvidence]) -> list[SlashEvidence]:
    """Ascending participant address: the order the contract requires (no duplicates)."""
    return sorted(slashes, key=lambda e: int(e.participant, 16))
