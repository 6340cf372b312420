"""Transactions as a production client sends them.

Per-account nonces (thread-safe, resynced after errors or snapshot reverts), EIP-1559
fees with a legacy fallback, gas estimation with a margin (the estimate is also the
revert check: a failing call raises the contract's custom error before anything is
signed), receipts with N confirmations, and retries with exponential backoff on
transient transport errors — never on reverts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from federation.crashpoints import crash_point
from federation.errors import (
    ContractRevert,
    InsufficientBalanceError,
    TransactionFailedError,
    TransientRpcError,
)
from federation.keys import Signer
from federation.revert import RevertDecoder, is_revert, revert_data_from

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class TxPolicy:
    """How transactions are priced, retried and confirmed."""

    confirmations: int = 1
    gas_margin: float = 1.25
    gas_extra: int = 10_000
    max_retries: int = 5
    backoff_base_s: float = 0.2
    backoff_max_s: float = 8.0
    receipt_timeout_s: float = 180.0
    poll_interval_s: float = 0.05
    priority_fee_wei: int | None = None
    max_fee_multiplier: int = 2


@dataclass(frozen=True)
class Receipt:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    logs: tuple[Any, ...] = field(repr=False)
    raw: Any = field(repr=False, compare=False)


_TRANSIENT_WORDS = (
    "timeout",
    "timed out",
    "rate limit",
    "too many requests",
    "temporarily",
    "connection reset",
    "connection aborted",
    "remote end closed",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
    "header not found",
    "busy",
)


def is_transient(exc: BaseException) -> bool:
    """Transport trouble worth retrying; a revert or a validation error never is."""
    if isinstance(exc, ContractLogicError | ContractRevert):
        return False
    try:
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
        if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
            return exc.response.status_code == 429 or exc.response.status_code >= 500
    except ImportError:  # pragma: no cover - requests ships with web3
        pass
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    from web3.exceptions import RequestTimedOut, TooManyRequests

    if isinstance(exc, RequestTimedOut | TooManyRequests):
        return True
    text = str(exc).lower()
    return "revert" not in text and any(w in text for w in _TRANSIENT_WORDS)


def _is_out_of_funds(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "afford" in text or "insufficient funds" in text


def _is_nonce_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "nonce too low" in text or "invalid transaction nonce" in text


def with_retries(fn: Callable[[], T], policy: TxPolicy, what: str) -> T:
    """Run ``fn``; on a transient error back off (exponential, jittered) and try again."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            if attempt > policy.max_retries:
                raise TransientRpcError(
                    f"{what} failed after {policy.max_retries} retries: {exc}; the RPC is "
                    f"unreliable — try again later or use another endpoint"
                ) from exc
            delay = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** (attempt - 1))
            delay *= 0.5 + random.random() / 2
            log.warning("%s: transient error (%s), retry %d in %.2fs", what, exc, attempt, delay)
            time.sleep(delay)


class NonceManager:
    """Next nonce per account; thread-safe; forgets everything on ``reset``."""

    def __init__(self, w3: Web3) -> None:
        self._w3 = w3
        self._next: dict[str, int] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def lock(self, address: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(address, threading.RLock())

    def reserve(self, address: str) -> int:
        """Take the next nonce (call with ``lock(address)`` held)."""
        if address not in self._next:
            self._next[address] = int(self._w3.eth.get_transaction_count(address, "pending"))
        nonce = self._next[address]
        self._next[address] = nonce + 1
        return nonce

    def forget(self, address: str) -> None:
        self._next.pop(address, None)

    def reset(self) -> None:
        with self._guard:
            self._next.clear()


class TxSender:
    """Signs and sends contract calls for any number of local signers."""

    def __init__(self, w3: Web3, decoder: RevertDecoder, policy: TxPolicy | None = None) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.policy = policy or TxPolicy()
        self.nonces = NonceManager(w3)
        self._supports_1559: bool | None = None

    # -- reads ---------------------------------------------------------------------------
    def call(self, tx: dict[str, Any], context: str = "", block: Any = "latest") -> bytes:
        """eth_call; a revert raises the decoded ContractRevert subclass."""
        try:
            return bytes(
                with_retries(lambda: self.w3.eth.call(tx, block), self.policy, context or "call")
            )
        except Exception as exc:
            if not is_revert(exc):
                raise
            raise self.decoder.decode(revert_data_from(exc), context) from None

    def estimate_gas(self, tx: dict[str, Any], context: str = "") -> int:
        try:
            return int(
                with_retries(
                    lambda: self.w3.eth.estimate_gas(tx), self.policy, context or "estimate"
                )
            )
        except Exception as exc:
            if not is_revert(exc):
                raise
            raise self.decoder.decode(revert_data_from(exc), context) from None

    # -- fees ----------------------------------------------------------------------------
    def fee_fields(self) -> dict[str, int]:
        """EIP-1559 fields when the chain has a base fee, else a legacy gas price."""
        block = with_retries(lambda: self.w3.eth.get_block("latest"), self.policy, "get_block")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {
                "gasPrice": int(
                    with_retries(lambda: self.w3.eth.gas_price, self.policy, "gas_price")
                )
            }
        tip = self.policy.priority_fee_wei
        if tip is None:
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except Exception:
                tip = 10**9
        return {
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": int(base_fee) * self.policy.max_fee_multiplier + tip,
        }

    # -- sending -------------------------------------------------------------------------
    def send(
        self,
        signer: Signer,
        to: str | None,
        data: bytes,
        value: int = 0,
        gas: int | None = None,
        context: str = "",
    ) -> Receipt:
        """Estimate (reverts raise here), sign, broadcast, wait; returns the receipt."""
        sender = signer.address
        base: dict[str, Any] = {"from": sender, "data": data, "value": value}
        if to is not None:
            base["to"] = to_checksum_address(to)
        if gas is None:
            try:
                estimate = self.estimate_gas(base, context)
            except (ContractRevert, TransientRpcError):
                raise
            except Exception as exc:
                if _is_out_of_funds(exc):
                    self._check_eth(sender, 21_000, self.fee_fields(), value, force=True)
                raise
            gas = int(estimate * self.policy.gas_margin) + self.policy.gas_extra
            block_limit = int(self.w3.eth.get_block("latest")["gasLimit"])
            gas = min(gas, block_limit, max(estimate, 16_777_216))
        fees = self.fee_fields()
        self._check_eth(sender, gas, fees, value)
        tx_hash = ""
        with self.nonces.lock(sender):
            for attempt in range(2):
                nonce = self.nonces.reserve(sender)
                tx = {**base, "gas": gas, "nonce": nonce, "chainId": self._chain_id(), **fees}
                try:
                    raw = signer.sign_transaction(tx)
                    tx_hash = self._broadcast(raw, context)
                    break
                except Exception as exc:
                    self.nonces.forget(sender)
                    # someone else used our nonce (another process, a dev helper): resync once
                    if attempt == 0 and _is_nonce_error(exc):
                        log.info("%s: nonce %d taken, resyncing", context, nonce)
                        continue
                    raise
        # testing hook: die after the broadcast, before the receipt (context = Contract.fn)
        crash_point(f"after-send:{context.rpartition('.')[2]}")
        return self.wait(tx_hash, context, tx=base)

    def _chain_id(self) -> int:
        if not hasattr(self, "_cached_chain_id"):
            self._cached_chain_id = int(self.w3.eth.chain_id)
        return self._cached_chain_id

    def _check_eth(
        self, sender: str, gas: int, fees: dict[str, int], value: int, force: bool = False
    ) -> None:
        price = fees.get("maxFeePerGas", fees.get("gasPrice", 0))
        need = gas * price + value
        have = int(self.w3.eth.get_balance(sender))
        if have < need or force:
            raise InsufficientBalanceError(
                f"ETH for gas on {sender}",
                have,
                need,
                "fund the account with the chain's native currency (on a local chain: "
                f"`fedstake chain fund {sender}`, or Ledger.fund_eth)",
            )

    def _broadcast(self, raw: bytes, context: str) -> str:
        """Send raw bytes; a retry that finds the transaction already known is a success."""
        tx_hash = "0x" + keccak(raw).hex()

        def attempt() -> str:
            try:
                return "0x" + bytes(self.w3.eth.send_raw_transaction(raw)).hex()
            except Exception as exc:
                text = str(exc).lower()
                if "already known" in text or "already imported" in text:
                    return tx_hash
                if _is_nonce_error(exc) and self._known(tx_hash):
                    return tx_hash
                raise

        try:
            return with_retries(attempt, self.policy, context or "send_raw_transaction")
        except Exception as exc:
            if not is_revert(exc):  # eth-tester executes on send
                raise
            raise self.decoder.decode(revert_data_from(exc), context) from None

    def _known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)
            return True
        except TransactionNotFound:
            return False

    def wait(self, tx_hash: str, context: str = "", tx: dict[str, Any] | None = None) -> Receipt:
        """Poll for the receipt, then for ``confirmations`` blocks on top of it."""
        deadline = time.monotonic() + self.policy.receipt_timeout_s
        receipt = None
        while receipt is None:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                receipt = None
            except Exception as exc:
                if not is_transient(exc):
                    raise
            if receipt is None:
                if time.monotonic() > deadline:
                    raise TransactionFailedError(
                        f"transaction {tx_hash} not mined after {self.policy.receipt_timeout_s}s "
                        f"({context}); it may still land — check it before re-sending"
                    )
                time.sleep(self.policy.poll_interval_s)
        if int(receipt["status"]) != 1:
            self._raise_mined_revert(receipt, tx, context)
        needed = self.policy.confirmations
        while needed > 1:
            head = int(self.w3.eth.block_number)
            if head - int(receipt["blockNumber"]) + 1 >= needed:
                break
            if time.monotonic() > deadline:
                raise TransactionFailedError(
                    f"transaction {tx_hash} has fewer than {needed} confirmations after "
                    f"{self.policy.receipt_timeout_s}s ({context})"
                )
            time.sleep(self.policy.poll_interval_s)
        return Receipt(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice", 0) or 0),
            logs=tuple(receipt["logs"]),
            raw=receipt,
        )

    def _raise_mined_revert(self, receipt: Any, tx: dict[str, Any] | None, context: str) -> None:
        """Replay the call just before the block to recover the custom error."""
        if tx is not None:
            block = max(0, int(receipt["blockNumber"]) - 1)
            try:
                self.w3.eth.call(tx, block)
            except Exception as exc:
                if is_revert(exc):
                    raise self.decoder.decode(revert_data_from(exc), context) from None
        raise TransactionFailedError(
            f"transaction {receipt['transactionHash'].hex()} reverted on-chain ({context})"
        )
