"""``anvil://``: an anvil node we start on a free loopback port and stop on close.

The process is tied to ours (PR_SET_PDEATHSIG on Linux, plus ``close``/atexit), so it
never outlives the Python process. ``?state=FILE`` loads and dumps the chain to a file,
so a local chain survives restarts.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from web3 import HTTPProvider, Web3

from federation.chain.base import CHAIN_ID_CACHE, LocalChainMixin
from federation.errors import ConfigError, RpcUnreachableError
from federation.foundry import SETUP_HINT, find_tool
from federation.keys import DEV_MNEMONIC, Signer, dev_signers


def find_anvil() -> str | None:
    """The pinned anvil binary, else a native anvil on PATH (federation.foundry).

    Never the npm wrapper: its pid is not anvil's, and it exits 0 when anvil fails.
    """
    return find_tool("anvil")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so anvil is never orphaned."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class AnvilRpcMixin(LocalChainMixin):
    """Anvil's development RPC methods (snapshots, time travel, balances), over the
    class's own ``rpc(method, params)``: shared by the anvil we start (`AnvilChain`) and
    one started by `fedstake chain up` and reached over HTTP."""

    def rpc(self, method: str, params: list[Any]) -> Any:
        raise NotImplementedError

    def snapshot(self) -> Any:
        return self.rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"anvil refused to revert to snapshot {snapshot_id}")
        self._notify_revert()

    def advance_time(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [max(1, int(seconds))])
        self.rpc("evm_mine", [])

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])


class AnvilChain(AnvilRpcMixin):
    is_local = True

    def __init__(
        self,
        url: str = "anvil://",
        *,
        state: str | None = None,
        port: int | None = None,
        chain_id: int = 31337,
        accounts: int = 10,
        block_time: float | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self._init_listeners()
        self.url = url
        binary = find_anvil()
        if binary is None:
            raise ConfigError(
                "anvil not found (pinned in contracts/node_modules, or native on PATH): "
                f"{SETUP_HINT}, or use inprocess://"
            )
        self.port = port or free_port()
        self.state = state
        cmd = [
            binary,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(chain_id),
            "--accounts",
            str(accounts),
            "--mnemonic",
            DEV_MNEMONIC,
            "--silent",
        ]
        if state:
            cmd += ["--state", state]
        if block_time:
            cmd += ["--block-time", str(block_time)]
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        atexit.register(self.close)
        self.rpc_url = f"http://127.0.0.1:{self.port}"
        self.w3 = Web3(
            HTTPProvider(
                self.rpc_url,
                request_kwargs={"timeout": 60},
                exception_retry_configuration=None,
                **CHAIN_ID_CACHE,
            )
        )
        self._wait_ready(startup_timeout)
        self.chain_id = int(self.w3.eth.chain_id)
        self._signers = dev_signers(min(accounts, 10))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                rc = self._proc.returncode
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode()[-500:]
                self.close()
                raise RpcUnreachableError(
                    self.rpc_url, RuntimeError(f"anvil exited with status {rc} on start-up: {err}")
                )
            try:
                self.w3.eth.chain_id  # noqa: B018 - a probe
                return
            except Exception:
                time.sleep(0.05)
        self.close()
        raise RpcUnreachableError(self.rpc_url, TimeoutError("anvil did not start in time"))

    def rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result")

    def dev_signers(self) -> list[Signer]:
        return list(self._signers)

    def default_signer(self) -> Signer | None:
        return self._signers[0]

    def close(self) -> None:
        """SIGINT first (anvil dumps --state on a clean shutdown), then TERM, then KILL."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
