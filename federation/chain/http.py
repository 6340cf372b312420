"""``http(s)://``: any JSON-RPC endpoint; the signer comes from env or a keystore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from web3 import HTTPProvider, Web3

from federation.chain.base import CHAIN_ID_CACHE
from federation.errors import RpcUnreachableError
from federation.keys import Signer


def redact_url(url: str) -> str:
    """Drop credentials and query strings (API keys often live there) for display."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path
    if len(path) > 12:  # e.g. /v3/<api-key>
        path = path[:4] + "…"
    return urlunsplit((parts.scheme, host, path, "", ""))


class _RedactedError(Exception):
    """A transport error whose text no longer carries the URL's path or credentials."""

    def __init__(self, exc: BaseException, url: str) -> None:
        text = str(exc)
        parts = urlsplit(url)
        for secret in (parts.path, parts.query, parts.password or "", parts.username or ""):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        super().__init__(f"{type(exc).__name__}: {text}")


class HttpChain:
    is_local = False

    def __init__(self, url: str, signer: Signer | None = None, timeout: float = 30.0) -> None:
        self.url = redact_url(url)
        self.w3 = Web3(
            HTTPProvider(
                url,
                request_kwargs={"timeout": timeout},
                exception_retry_configuration=None,
                **CHAIN_ID_CACHE,
            )
        )
        try:
            self.chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise RpcUnreachableError(self.url, _RedactedError(exc, url)) from None
        self._signer = signer

    def dev_signers(self) -> list[Signer]:
        return []

    def default_signer(self) -> Signer | None:
        return self._signer

    def _local_only(self, what: str) -> Any:
        raise NotImplementedError(
            f"{what} is only available on local chains (inprocess://, anvil://)"
        )

    def snapshot(self) -> Any:
        return self._local_only("snapshot")

    def revert(self, snapshot_id: Any) -> None:
        self._local_only("revert")

    def advance_time(self, seconds: int) -> None:
        self._local_only("advance_time")

    def mine(self, blocks: int = 1) -> None:
        self._local_only("mine")

    def set_eth_balance(self, address: str, wei: int) -> None:
        self._local_only("set_eth_balance")

    def on_revert(self, callback: Callable[[], None]) -> None:
        """Remote chains never revert to snapshots."""

    def close(self) -> None:
        """The HTTP session closes with the process."""
