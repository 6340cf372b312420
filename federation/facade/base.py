"""Shared state and helpers of the Ledger facade: signer, EIP-712 domain, token payments."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from federation.chain import Chain
from federation.contract import BoundContract
from federation.deployment import Deployment
from federation.errors import (
    InsufficientAllowanceError,
    InsufficientBalanceError,
    KeyLoadError,
    PreconditionError,
)
from federation.keys import Signer
from federation.protocol.eip712 import Domain
from federation.tx import TxSender
from federation.types import (
    RoundParams,
    TxResult,
)

STAKE_MANAGER = "StakeManager"
ROUND_MANAGER = "RoundManager"
PROVENANCE = "ProvenanceRegistry"
FAULT_VERIFIER = "FaultVerifier"
TIMELOCK = "TimelockController"
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


class LedgerBase:
    """State every facade part shares; the parts only add methods."""

    chain: Chain
    deployment: Deployment
    signer: Signer | None
    tx: TxSender
    errors: Any
    stake_manager: BoundContract
    round_manager: BoundContract
    provenance: BoundContract
    token: BoundContract
    timelock: BoundContract | None
    _round_params: dict[int, RoundParams]
    auto_approve: bool = True

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
        """One drip of the local test token's faucet to the caller (rate-limited; the
        faucet exists only on development chains)."""
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
                "get test tokens with `fedstake faucet` (Ledger.faucet)"
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
