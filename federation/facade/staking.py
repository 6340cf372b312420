"""Participant staking, coordinator bonds and the reward pool."""

from __future__ import annotations

from eth_utils import to_checksum_address

from federation.facade.base import LedgerBase
from federation.protocol.eip712 import NodeBinding, sign_node_binding, verify_node_binding
from federation.types import (
    CoordinatorInfo,
    PoolInfo,
    RoundConfig,
    StakeInfo,
    StakingParams,
    TxResult,
)


class StakingMixin(LedgerBase):
    """stake / top-up / unbond / withdraw; bonds; reward pool."""

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

    def stakes_of(self, accounts: list[str]) -> dict[str, StakeInfo]:
        """``stake_of`` for many accounts in one batched request (where the RPC allows)."""
        rows = self.stake_manager.call_many("stakeOf", [(a,) for a in accounts])
        return {
            a: StakeInfo(int(r[0]), int(r[1]), int(r[2]))
            for a, r in zip(accounts, rows, strict=True)
        }

    def eligibility(self, accounts: list[str]) -> dict[str, bool]:
        """``is_eligible`` for many accounts in one batched request (where the RPC allows)."""
        rows = self.stake_manager.call_many("isEligible", [(a,) for a in accounts])
        return {a: bool(r) for a, r in zip(accounts, rows, strict=True)}

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
