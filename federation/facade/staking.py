"""Participant staking (per-request unbonding, strikes, jail), coordinator bonds, the reward
pool and the treasury's pull payment."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from federation.errors import PreconditionError
from federation.facade.base import LedgerBase
from federation.protocol.eip712 import NodeBinding, sign_node_binding, verify_node_binding
from federation.types import (
    CoordinatorInfo,
    JailPolicy,
    PoolInfo,
    RoundConfig,
    StakeInfo,
    StakingParams,
    TxResult,
    UnbondRequest,
)


def _stake_info(raw: Any, requests: tuple[UnbondRequest, ...] | None) -> StakeInfo:
    active, strikes, jailed_from, jailed_until, unbonding = raw
    return StakeInfo(
        int(active),
        int(unbonding),
        int(strikes),
        int(jailed_from),
        int(jailed_until),
        requests,
    )


class StakingMixin(LedgerBase):
    """stake / top-up / unbond / withdraw; jail; bonds; reward pool; treasury."""

    # -- staking --------------------------------------------------------------------------
    def stake(self, amount: int) -> TxResult:
        """Stake ``amount`` (approves the StakeManager first when needed)."""
        self._pay(self.stake_manager, amount, "stake")
        return TxResult(self.stake_manager.send(self._me(), "stake", amount))

    def top_up(self, amount: int) -> TxResult:
        self._pay(self.stake_manager, amount, "top-up")
        return TxResult(self.stake_manager.send(self._me(), "topUp", amount))

    def request_unbond(self, amount: int) -> TxResult:
        """Queue ``amount`` for withdrawal; ``value`` is this request's own release time."""
        receipt = self.stake_manager.send(self._me(), "requestUnbond", amount)
        ev = self.stake_manager.events_in(receipt, "UnbondRequested")
        return TxResult(receipt, value=int(ev[0]["releaseAt"]) if ev else None)

    def withdraw(self) -> TxResult:
        """Withdraw every released unbond request; ``value`` is the amount paid.

        Nothing released yet raises ``NothingToWithdraw`` whose ``releaseAt`` is the
        earliest pending request's release time (0 when none is pending)."""
        receipt = self.stake_manager.send(self._me(), "withdraw")
        ev = self.stake_manager.events_in(receipt, "Withdrawn")
        return TxResult(receipt, value=int(ev[0]["amount"]) if ev else 0)

    def stake_of(self, account: str | None = None) -> StakeInfo:
        """Balances, strikes, jail window and every pending unbond request of ``account``."""
        who = account or self.address
        return _stake_info(
            self.stake_manager.call("stakeOf", who), tuple(self.unbond_requests(who))
        )

    def unbond_requests(self, account: str | None = None) -> list[UnbondRequest]:
        """Pending unbond requests, each with its own release time (contract order)."""
        rows = self.stake_manager.call("unbondRequests", account or self.address)
        return [UnbondRequest(int(a), int(t)) for a, t in rows]

    def withdrawable(self, account: str | None = None) -> int:
        """Unbonding stake of ``account`` that ``withdraw`` would pay now."""
        return int(self.stake_manager.call("withdrawable", account or self.address))

    def is_eligible(self, account: str | None = None, round_id: int | None = None) -> bool:
        """Whether ``account`` may be selected for ``round_id`` (default: the next round):
        active stake ≥ minimum and not jailed for that round."""
        who = account or self.address
        if round_id is None:
            return bool(self.stake_manager.call("isEligible", who))
        return bool(self.stake_manager.call("isEligibleFor", who, round_id))

    def stakes_of(self, accounts: list[str]) -> dict[str, StakeInfo]:
        """``stake_of`` without the unbond requests (``requests`` None) for many accounts,
        in one batched request where the RPC allows."""
        rows = self.stake_manager.call_many("stakeOf", [(a,) for a in accounts])
        return {a: _stake_info(r, None) for a, r in zip(accounts, rows, strict=True)}

    def eligibility(self, accounts: list[str], round_id: int | None = None) -> dict[str, bool]:
        """``is_eligible`` for many accounts in one batched request (where the RPC allows)."""
        if round_id is None:
            rows = self.stake_manager.call_many("isEligible", [(a,) for a in accounts])
        else:
            rows = self.stake_manager.call_many("isEligibleFor", [(a, round_id) for a in accounts])
        return {a: bool(r) for a, r in zip(accounts, rows, strict=True)}

    def jail_policy(self) -> JailPolicy:
        strikes, rounds = self.stake_manager.call("jailPolicy")
        return JailPolicy(int(strikes), int(rounds))

    def set_jail_policy(self, policy: JailPolicy) -> TxResult:
        """Set K strikes to jail (0: judged slashes never jail) and the jail term (admin)."""
        return TxResult(self.stake_manager.send(self._me(), "setJailPolicy", policy.as_tuple()))

    def sign_node_binding(
        self, flower_node_id: int, run_id: bytes, expiry: int, nonce: bytes = b"\x00" * 32
    ) -> bytes:
        """The participant's proof that Flower node ``flower_node_id`` holds this key."""
        binding = NodeBinding(self.address, flower_node_id, run_id, expiry, nonce)
        return sign_node_binding(self.domain, binding, self._me().key)

    def verify_node(self, binding: NodeBinding, signature: bytes) -> bool:
        """Coordinator's check before selecting: valid binding (this chain, contract, not
        expired at chain time) by an address that is staked and eligible."""
        now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
        return verify_node_binding(self.domain, binding, signature, now) and self.is_eligible(
            binding.participant
        )

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
        """Bond, unsettled rounds and the budgets they hold (bounded by bond × multiple)."""
        bond, open_rounds, locked = self.round_manager.call(
            "coordinatorInfo", coordinator or self.address
        )
        return CoordinatorInfo(int(bond), int(open_rounds), int(locked))

    def pool_info(self) -> PoolInfo:
        rm = self.round_manager
        return PoolInfo(
            reward_pool=int(rm.call("rewardPool")),
            total_bonds=int(rm.call("totalBonds")),
            total_dispute_deposits=int(rm.call("totalDisputeDeposits")),
            treasury_owed=int(rm.call("treasuryOwed")),
        )

    def round_config(self) -> RoundConfig:
        return RoundConfig.from_tuple(self.round_manager.call("config"))

    def set_round_config(self, config: RoundConfig) -> TxResult:
        return TxResult(self.round_manager.send(self._me(), "setConfig", config.as_tuple()))

    # -- treasury -------------------------------------------------------------------------
    def treasury_owed(self) -> int:
        """Settled slashes owed to the treasury and not yet pulled."""
        return int(self.round_manager.call("treasuryOwed"))

    def claim_treasury(self) -> TxResult:
        """Pull what the treasury is owed (only the configured treasury); ``value`` = paid.

        Treasury payments are pulled so a treasury that cannot receive never blocks a
        round's settlement."""
        treasury = self.round_config().treasury
        if treasury != self.address:
            raise PreconditionError(
                f"only the treasury {treasury} can pull the treasury's share, not "
                f"{self.address}: run `fedstake treasury claim` with the treasury's key"
            )
        owed = self.treasury_owed()
        if owed == 0:
            return TxResult(None, already_applied=True, value=0)
        receipt = self.round_manager.send(self._me(), "claimTreasury")
        ev = self.round_manager.events_in(receipt, "TreasuryClaimed")
        return TxResult(receipt, value=int(ev[0]["amount"]) if ev else owed)
