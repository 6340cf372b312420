"""What every chain backend offers: a Web3, its chain id, and local-chain conveniences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from web3 import Web3

from federation.keys import Signer

# web3 asks eth_chainId before every call and estimate (a third of all requests in a
# staked round); a provider's chain id cannot change, so that one answer is cached.
CHAIN_ID_CACHE: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {"eth_chainId"},
}


@runtime_checkable
class Chain(Protocol):
    """A connected chain. Local backends also offer dev accounts, snapshots and time travel."""

    w3: Web3
    url: str
    chain_id: int
    is_local: bool

    def dev_signers(self) -> list[Signer]:
        """Pre-funded accounts (local chains); empty for a remote RPC."""
        ...

    def default_signer(self) -> Signer | None:
        """The account that deploys and pays by default (dev account 0, or the env key)."""
        ...

    def snapshot(self) -> Any: ...

    def revert(self, snapshot_id: Any) -> None: ...

    def advance_time(self, seconds: int) -> None: ...

    def mine(self, blocks: int = 1) -> None: ...

    def set_eth_balance(self, address: str, wei: int) -> None: ...

    def on_revert(self, callback: Callable[[], None]) -> None:
        """Register a callback run after a snapshot revert (e.g. forget cached nonces)."""
        ...

    def close(self) -> None: ...


class LocalChainMixin:
    """Shared bookkeeping for revert listeners."""

    def _init_listeners(self) -> None:
        self._revert_listeners: list[Callable[[], None]] = []

    def on_revert(self, callback: Callable[[], None]) -> None:
        self._revert_listeners.append(callback)

    def _notify_revert(self) -> None:
        for cb in list(self._revert_listeners):
            cb()


class NotLocalChainError(Exception):
    """Raised when a local-chain-only action is asked of a remote RPC."""
