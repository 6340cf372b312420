"""The Ledger: one typed facade over every fedstake contract capability.

Coordinators, participants, the Flower strategy and the simulations use only this class
(and the dataclasses in ``federation.types``); nothing else in the project calls web3.
Reads return frozen dataclasses; writes return ``TxResult``; a revert raises the
contract's custom error as a Python exception (``ledger.errors.NotStaked``…).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from federation import hints as _hints  # noqa: F401 - registers what-to-do hints
from federation.chain import Chain, connect
from federation.contract import BoundContract
from federation.deployment import Deployment
from federation.errors import (
    ConfigError,
    ContractRevert,
    InsufficientAllowanceError,
    InsufficientBalanceError,
    KeyLoadError,
    PreconditionError,
)
from federation.events import LogRecord, iter_events
from federation.keys import Signer
from federation.protocol.eip712 import Commitment, Domain, sign_commitment
from federation.protocol.merkle import MerkleTree, participant_leaf
from federation.revert import RevertDecoder
from federation.tx import TxPolicy, TxSender
from federation.types import (
    ClaimEvent,
    CoordinatorInfo,
    DisputeInfo,
    DisputeKind,
    DisputeStatus,
    PoolInfo,
    RewardEntry,
    RoundConfig,
    RoundEvent,
    RoundInfo,
    RoundParams,
    RoundResults,
    RoundStatus,
    SlashEvent,
    SlashEvidence,
    SlashRecord,
    SlashState,
    StakeEvent,
    StakeInfo,
    StakingParams,
    TxResult,
)

log = logging.getLogger(__name__)

STAKE_MANAGER = "StakeManager"
ROUND_MANAGER = "RoundManager"
PROVENANCE = "ProvenanceRegistry"
TOKEN = "token"
CORE = (STAKE_MANAGER, ROUND_MANAGER, PROVENANCE)

ROLES = {
    "admin": b"\x00" * 32,
    "coordinator": keccak(text="COORDINATOR_ROLE"),
    "arbiter": keccak(text="ARBITER_ROLE"),
    "pauser": keccak(text="PAUSER_ROLE"),
}


def _round_cache(sender: TxSender, chain: Chain) -> dict[int, RoundParams]:
    """Round params cache shared by every Ledger on one TxSender; emptied on snapshot revert."""
    cache: dict[int, RoundParams] | None = getattr(sender, "_round_params_cache", None)
    if cache is None:
        cache = {}
        sender._round_params_cache = cache  # type: ignore[attr-defined]
        chain.on_revert(cache.clear)
    return cache


@dataclass(frozen=True)
class ModelVersion:
    """A provenance record: a model version and where it came from."""

    version_id: int
    weights_hash: bytes
    weights_uri: str
    dataset_root: bytes
    code_commit: bytes
    hyperparams_hash: bytes
    parent_version: int
    round_id: int
    recorded_at: int
    authorizer: str


@dataclass(frozen=True)
class VersionInput:
    """What a coordinator records for a new model version."""

    weights_hash: bytes
    weights_uri: str
    dataset_root: bytes = b"\x00" * 32
    code_commit: bytes = b"\x00" * 32
    hyperparams_hash: bytes = b"\x00" * 32
    parent_version: int = 0
    round_id: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.weights_hash,
            self.weights_uri,
            self.dataset_root,
            self.code_commit,
            self.hyperparams_hash,
            self.parent_version,
            self.round_id,
        )


class Ledger:
    """Typed access to one fedstake deployment, acting as ``signer``."""

    def __init__(
        self,
        chain: Chain,
        deployment: Deployment,
        signer: Signer | None = None,
        *,
        policy: TxPolicy | None = None,
        abis: dict[str, list[dict[str, Any]]] | None = None,
        _sender: TxSender | None = None,
    ) -> None:
        from federation.deploy import load_abis

        self.chain = chain
        self.deployment = deployment
        self.signer = signer if signer is not None else chain.default_signer()
        self._abis = abis or load_abis()
        if _sender is None:
            decoder = RevertDecoder(self._abis.values())
            _sender = TxSender(chain.w3, decoder, policy or TxPolicy())
            chain.on_revert(_sender.nonces.reset)
        self.tx = _sender
        self.errors = self.tx.decoder.namespace()
        self.stake_manager = self._bind(STAKE_MANAGER)
        self.round_manager = self._bind(ROUND_MANAGER)
        self.provenance = self._bind(PROVENANCE)
        self.token = BoundContract("token", deployment.token, self._abis["token"], self.tx)
        self._round_params = _round_cache(self.tx, chain)

    def _bind(self, name: str) -> BoundContract:
        return BoundContract(name, self.deployment.address(name), self._abis[name], self.tx)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        chain: Chain | str | None = None,
        deployment: Deployment | str | Path = "deployment.json",
        signer: Signer | None = None,
        *,
        policy: TxPolicy | None = None,
    ) -> Ledger:
        """Connect and check the deployment file against the chain (id and code)."""
        owned = not isinstance(chain, Chain)
        if not isinstance(chain, Chain):
            chain = connect(chain, signer)
        try:
            path = None
            if not isinstance(deployment, Deployment):
                path = str(deployment)
                deployment = Deployment.load(deployment)
            from federation.deploy import abi_version

            deployment.check_abi(abi_version(), path)
            deployment.check_against(chain.w3, path)
            return cls(chain, deployment, signer, policy=policy)
        except BaseException:
            if owned:
                chain.close()
            raise

    @classmethod
    def deploy(cls, chain: Chain | str | None = None, **kwargs: Any) -> Ledger:
        """Deploy everything (see ``federation.deploy.deploy``) and return a Ledger on it."""
        from federation.deploy import deploy

        if not isinstance(chain, Chain):
            chain = connect(chain)
        ledger = deploy(chain, **kwargs)
        assert isinstance(ledger, Ledger)
        return ledger

    def as_signer(self, signer: Signer) -> Ledger:
        """The same ledger acting as another account (shares nonces and caches)."""
        other = Ledger(self.chain, self.deployment, signer, abis=self._abis, _sender=self.tx)
        return other

    @property
    def address(self) -> str:
        return self._me().address

    def _me(self) -> Signer:
        if self.signer is None:
            raise KeyLoadError(
                "this ledger has no signing key: set FEDSTAKE_PRIVATE_KEY or FEDSTAKE_KEYSTORE "
                "(or pass signer=) to send transactions"
            )
        return self.signer

    @property
    def domain(self) -> Domain:
        """EIP-712 domain of this deployment (chain id + RoundManager proxy)."""
        return Domain(self.deployment.chain_id, self.round_manager.address)

    # -- token ----------------------------------------------------------------------------
    def token_balance(self, account: str | None = None) -> int:
        return int(self.token.call("balanceOf", account or self.address))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self.token.call("allowance", owner, spender))

    def approve(self, spender: str, amount: int) -> TxResult:
        return TxResult(self.token.send(self._me(), "approve", spender, amount))

    def faucet(self) -> TxResult:
        """One drip of the local test token's faucet to the caller (rate-limited)."""
        if not self.deployment.local_token:
            raise PreconditionError(
                "faucet is only available with the local test token; get tokens from the "
                "token's issuer on this chain"
            )
        return TxResult(self.token.send(self._me(), "faucet"))

    def transfer_tokens(self, to: str, amount: int) -> TxResult:
        """Send tokens (e.g. the deployer hands out test supply to participants)."""
        have = self.token_balance()
        if have < amount:
            raise InsufficientBalanceError(
                "token balance for transfer", have, amount, "transfer less or get more tokens"
            )
        return TxResult(self.token.send(self._me(), "transfer", to, amount))

    def fund_eth(self, account: str, wei: int = 10**21) -> None:
        """Give an account gas money (local chains only)."""
        self.chain.set_eth_balance(account, wei)
        self.tx.nonces.reset()

    def _pay(self, spender: BoundContract, amount: int, what: str) -> None:
        """Check balance, and approve ``spender`` if the allowance is short."""
        me = self.address
        have = self.token_balance(me)
        if have < amount:
            hint = (
                "mint test tokens with Ledger.faucet / `fedstake faucet`"
                if self.deployment.local_token
                else "acquire more of the staking token"
            )
            raise InsufficientBalanceError(f"token balance for {what}", have, amount, hint)
        if self.allowance(me, spender.address) < amount:
            if not self.auto_approve:
                raise InsufficientAllowanceError(
                    self.allowance(me, spender.address), amount, spender.name
                )
            self.approve(spender.address, 2**256 - 1)

    auto_approve: bool = True

    # -- staking --------------------------------------------------------------------------
    def stake(self, amount: int) -> TxResult:
        """Stake ``amount`` (approves the StakeManager first when needed)."""
        self._pay(self.stake_manager, amount, "stake")
        return TxResult(self.stake_manager.send(self._me(), "stake", amount))

    def top_up(self, amount: int) -> TxResult:
        self._pay(self.stake_manager, amount, "top-up")
        return TxResult(self.stake_manager.send(self._me(), "topUp", amount))

    def request_unbond(self, amount: int) -> TxResult:
        return TxResult(self.stake_manager.send(self._me(), "requestUnbond", amount))

    def withdraw(self) -> TxResult:
        receipt = self.stake_manager.send(self._me(), "withdraw")
        ev = self.stake_manager.events_in(receipt, "Withdrawn")
        return TxResult(receipt, value=int(ev[0]["amount"]) if ev else 0)

    def stake_of(self, account: str | None = None) -> StakeInfo:
        active, unbonding, release = self.stake_manager.call("stakeOf", account or self.address)
        return StakeInfo(int(active), int(unbonding), int(release))

    def is_eligible(self, account: str | None = None) -> bool:
        return bool(self.stake_manager.call("isEligible", account or self.address))

    def staking_params(self) -> StakingParams:
        sm = self.stake_manager
        return StakingParams(
            token=to_checksum_address(sm.call("token")),
            min_stake=int(sm.call("minStake")),
            unbonding_delay=int(sm.call("unbondingDelay")),
            total_staked=int(sm.call("totalStaked")),
            total_locked=int(sm.call("totalLocked")),
        )

    def set_min_stake(self, amount: int) -> TxResult:
        return TxResult(self.stake_manager.send(self._me(), "setMinStake", amount))

    def set_unbonding_delay(self, seconds: int) -> TxResult:
        return TxResult(self.stake_manager.send(self._me(), "setUnbondingDelay", seconds))

    # -- pool and bonds -------------------------------------------------------------------
    def fund_reward_pool(self, amount: int) -> TxResult:
        self._pay(self.round_manager, amount, "reward pool funding")
        return TxResult(self.round_manager.send(self._me(), "fundRewardPool", amount))

    def post_bond(self, amount: int) -> TxResult:
        self._pay(self.round_manager, amount, "coordinator bond")
        return TxResult(self.round_manager.send(self._me(), "postBond", amount))

    def withdraw_bond(self, amount: int) -> TxResult:
        return TxResult(self.round_manager.send(self._me(), "withdrawBond", amount))

    def coordinator_info(self, coordinator: str | None = None) -> CoordinatorInfo:
        bond, open_rounds = self.round_manager.call("coordinatorInfo", coordinator or self.address)
        return CoordinatorInfo(int(bond), int(open_rounds))

    def pool_info(self) -> PoolInfo:
        rm = self.round_manager
        return PoolInfo(
            reward_pool=int(rm.call("rewardPool")),
            total_bonds=int(rm.call("totalBonds")),
            total_dispute_deposits=int(rm.call("totalDisputeDeposits")),
        )

    def round_config(self) -> RoundConfig:
        c = self.round_manager.call("config")
        return RoundConfig(
            int(c[0]),
            int(c[1]),
            int(c[2]),
            int(c[3]),
            int(c[4]),
            int(c[5]),
            to_checksum_address(c[6]),
        )

    def set_round_config(self, config: RoundConfig) -> TxResult:
        return TxResult(self.round_manager.send(self._me(), "setConfig", config.as_tuple()))

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
                [s.as_tuple() for s in slashes],
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
        """The contract's own check of a signed commitment (``verifyCommitment``).

        Falls back to the contract's ``commitmentDigest`` plus ecrecover when the deployed
        RoundManager predates the ``verifyCommitment`` view.
        """
        if self.round_manager.has_function("verifyCommitment"):
            return bool(
                self.round_manager.call(
                    "verifyCommitment", *commitment.as_tuple(), bytes(signature)
                )
            )
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

    def get_slash(self, round_id: int, participant: str) -> SlashRecord:
        amount, reason, state = self.round_manager.call("getSlash", round_id, participant)
        return SlashRecord(int(amount), int(reason), SlashState(int(state)))

    # -- disputes -------------------------------------------------------------------------
    def dispute_slash(
        self, round_id: int, deposit: int, evidence_hash: bytes = b"\x00" * 32
    ) -> TxResult:
        self._pay(self.round_manager, deposit, "dispute deposit")
        receipt = self.round_manager.send(
            self._me(), "disputeSlash", round_id, deposit, evidence_hash
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
        )

    # -- provenance -----------------------------------------------------------------------
    def record_version(self, version: VersionInput) -> TxResult:
        receipt = self.provenance.send(self._me(), "recordVersion", version.as_tuple())
        ev = self.provenance.events_in(receipt, "ModelVersionRecorded")
        return TxResult(receipt, value=int(ev[0]["versionId"]))

    def get_version(self, version_id: int) -> ModelVersion:
        v = self.provenance.call("getVersion", version_id)
        return ModelVersion(
            version_id=version_id,
            weights_hash=bytes(v[0]),
            dataset_root=bytes(v[1]),
            code_commit=bytes(v[2]),
            hyperparams_hash=bytes(v[3]),
            parent_version=int(v[4]),
            round_id=int(v[5]),
            recorded_at=int(v[6]),
            authorizer=to_checksum_address(v[7]),
            weights_uri=str(v[8]),
        )

    def version_of_weights(self, weights_hash: bytes) -> int:
        return int(self.provenance.call("versionOfWeights", weights_hash))

    def lineage(self, version_id: int, max_depth: int = 64) -> list[ModelVersion]:
        """The version and its ancestors, newest first."""
        ids = self.provenance.call("lineage", version_id, max_depth)
        return [self.get_version(int(i)) for i in ids]

    # -- roles, pause, upgrade ------------------------------------------------------------
    def _contracts(self, names: Iterable[str] | None) -> list[BoundContract]:
        by_name = {c.name: c for c in (self.stake_manager, self.round_manager, self.provenance)}
        return [by_name[n] for n in (names or CORE)]

    def grant_role(self, role: str, account: str, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if not c.call("hasRole", ROLES[role], account):
                c.send(self._me(), "grantRole", ROLES[role], account)

    def revoke_role(self, role: str, account: str, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if c.call("hasRole", ROLES[role], account):
                c.send(self._me(), "revokeRole", ROLES[role], account)

    def has_role(
        self, role: str, account: str | None = None, contract: str = ROUND_MANAGER
    ) -> bool:
        return bool(
            self._contracts([contract])[0].call("hasRole", ROLES[role], account or self.address)
        )

    def pause(self, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if not c.call("paused"):
                c.send(self._me(), "pause")

    def unpause(self, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if c.call("paused"):
                c.send(self._me(), "unpause")

    def paused(self, contract: str = ROUND_MANAGER) -> bool:
        return bool(self._contracts([contract])[0].call("paused"))

    def upgrade(self, name: str, artifact: str, init_data: bytes = b"") -> TxResult:
        """Deploy implementation ``artifact`` and point proxy ``name`` at it (admin only)."""
        from federation.deploy import deploy_implementation

        impl = deploy_implementation(self.tx, self._me(), artifact)
        bound = self._contracts([name])[0]
        receipt = bound.send(self._me(), "upgradeToAndCall", impl, init_data)
        self.deployment.implementations[name] = impl
        return TxResult(receipt, value=impl)

    def implementation(self, name: str) -> str:
        """The implementation behind a proxy (ERC-1967 slot)."""
        slot = int("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc", 16)
        raw = self.chain.w3.eth.get_storage_at(self.deployment.address(name), slot)
        return to_checksum_address(bytes(raw)[-20:])

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

    # -- local-chain helpers ---------------------------------------------------------------
    def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward (local chains only)."""
        self.chain.advance_time(seconds)

    def snapshot(self) -> Any:
        """Snapshot a local chain (pair with ``revert``; simulations and tests)."""
        return self.chain.snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self.chain.revert(snapshot_id)

    def close(self) -> None:
        self.chain.close()

    def __repr__(self) -> str:
        who = self.signer.address if self.signer else "read-only"
        return f"Ledger(chain={self.chain.url}, chain_id={self.deployment.chain_id}, as={who})"


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
