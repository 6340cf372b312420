"""Chain backends chosen by one URL-like setting.

``inprocess://``                          eth-tester/py-evm in this process (default)
``anvil://[?state=FILE&port=N&chain_id=N&block_time=S]``  anvil we start and stop
``http(s)://HOST[:PORT][/PATH]``          any RPC; key from FEDSTAKE_PRIVATE_KEY or a keystore
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from federation.chain.base import Chain
from federation.errors import ConfigError
from federation.keys import Signer

ENV_CHAIN_URL = "FEDSTAKE_CHAIN"
DEFAULT_URL = "inprocess://"

__all__ = ["DEFAULT_URL", "ENV_CHAIN_URL", "Chain", "connect"]


def connect(url: str | None = None, signer: Signer | None = None) -> Chain:
    """Open the chain named by ``url`` (or $FEDSTAKE_CHAIN, or inprocess://)."""
    url = url or os.environ.get(ENV_CHAIN_URL) or DEFAULT_URL
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    if scheme == "inprocess":
        from federation.chain.inprocess import InProcessChain

        return InProcessChain(url)
    if scheme == "anvil":
        from federation.chain.anvil import AnvilChain

        try:
            return AnvilChain(
                url,
                state=query.get("state"),
                port=int(query["port"]) if "port" in query else None,
                chain_id=int(query.get("chain_id", 31337)),
                accounts=int(query.get("accounts", 10)),
                block_time=float(query["block_time"]) if "block_time" in query else None,
            )
        except ValueError as exc:
            raise ConfigError(f"bad anvil:// option in {url!r}: {exc}") from None
    if scheme in ("http", "https"):
        from federation.chain.http import HttpChain

        if signer is None:
            from federation.errors import KeyLoadError
            from federation.keys import from_env

            try:
                signer = from_env()
            except KeyLoadError:
                signer = None  # read-only use is fine; sending will say which env var to set
        return HttpChain(url, signer)
    raise ConfigError(
        f"unknown chain URL {url!r}: use inprocess://, anvil://[?state=FILE] or "
        f"http(s)://host:port (set it with --chain or ${ENV_CHAIN_URL})"
    )
