"""The development chain of ``fedstake chain up``: anvil in the background, with a state file.

``chain up`` starts anvil (its own session, so it outlives the command) with ``--state
FILE`` and records ``pid``, URL and state file in ``HOME/chain.json``; every later command
finds the chain there. ``chain down`` stops exactly that pid (SIGINT, so anvil writes its
state) and removes the record. ``DevRpcChain`` is that chain seen over HTTP: the
development accounts sign by default, and time travel and balances work through anvil's
RPC methods.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from federation.chain.anvil import AnvilRpcMixin
from federation.chain.http import HttpChain
from federation.errors import ConfigError, RpcUnreachableError
from federation.keys import DEV_MNEMONIC, Signer, dev_signers

RECORD = "chain.json"
DEFAULT_PORT = 8545
DEV_CHAIN_ID = 31337


@dataclass
class DevChain:
    """What ``chain up`` started: enough to find it again and to stop exactly it."""

    pid: int
    url: str
    port: int
    chain_id: int
    state: str
    log: str
    started_at: float

    @classmethod
    def load(cls, home: Path) -> DevChain | None:
        path = Path(home) / RECORD
        try:
            data = json.loads(path.read_text())
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{path} is not a chain record written by `fedstake chain up`: delete it, "
                f"then run `fedstake chain up`"
            ) from None

    def save(self, home: Path) -> Path:
        path = Path(home) / RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)
        return path

    @staticmethod
    def remove(home: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (Path(home) / RECORD).unlink()

    def alive(self) -> bool:
        return _is_our_anvil(self.pid, self.port)


def _reap(pid: int) -> bool:
    """True when ``pid`` is our child and has exited (it is reaped then)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _is_our_anvil(pid: int, port: int) -> bool:
    """The process ``pid`` is alive and is the anvil serving ``port`` (not a reused pid)."""
    if pid <= 0 or _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now holds the pid
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        names = [Path(a.decode(errors="replace")).name for a in argv if a]
        return (
            bool(names)
            and "anvil" in names[0]
            and str(port) in [a.decode(errors="replace") for a in argv]
        )
    return True  # no /proc (macOS): trust the record


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(
    home: Path,
    state: Path,
    *,
    port: int | None = None,
    chain_id: int = DEV_CHAIN_ID,
    accounts: int = 10,
    timeout: float = 20.0,
) -> DevChain:
    """Start anvil detached (its own session), wait until it answers, record it."""
    from federation.chain.anvil import find_anvil, free_port
    from federation.foundry import SETUP_HINT

    binary = find_anvil()
    if binary is None:
        raise ConfigError(
            f"anvil not found (pinned in contracts/node_modules, or native on PATH): "
            f"{SETUP_HINT}, then `fedstake chain up`"
        )
    if port is None:
        port = DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port()
    elif not port_free(port):
        raise ConfigError(
            f"port {port} is in use: pick another with `fedstake chain up --port {port + 1}`"
        )
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    state = Path(state).resolve()
    state.parent.mkdir(parents=True, exist_ok=True)
    log_path = (home / "anvil.log").resolve()
    cmd = [
        binary,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        "--mnemonic",
        DEV_MNEMONIC,
        "--state",
        str(state),
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command; `chain down` stops it by pid
        )
    url = f"http://127.0.0.1:{port}"
    rec = DevChain(proc.pid, url, port, chain_id, str(state), str(log_path), time.time())
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-400:].strip().replace("\n", " | ")
            raise RpcUnreachableError(
                url, RuntimeError(f"anvil exited with status {proc.returncode}: {tail}")
            )
        if _answers(url):
            break
        if time.monotonic() > deadline:
            _signal(proc.pid, signal.SIGKILL)
            raise RpcUnreachableError(url, TimeoutError(f"anvil did not answer in {timeout}s"))
        time.sleep(0.05)
    rec.save(home)
    return rec


def _answers(url: str) -> bool:
    import requests

    try:
        r = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1
        )
        return r.ok and "result" in r.json()
    except Exception:
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stop(rec: DevChain, timeout: float = 15.0) -> bool:
    """Stop exactly the recorded anvil: SIGINT (it writes its state file), then TERM, KILL.

    False when that process was not running any more."""
    if not rec.alive():
        return False
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        _signal(rec.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not rec.alive():
                return True
            time.sleep(0.05)
    return not rec.alive()


class DevRpcChain(AnvilRpcMixin, HttpChain):
    """A development chain (anvil) over HTTP: dev accounts, time travel, balances."""

    is_local = True

    def __init__(self, url: str, signer: Signer | None = None) -> None:
        super().__init__(url, signer)
        self._dev = dev_signers(10)
        self._init_listeners()

    def rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            err = resp["error"]
            text = err.get("message", err) if isinstance(err, dict) else err
            raise ConfigError(
                f"the RPC at {self.url} refused {method} ({text}): this needs a local "
                f"development chain such as the one `fedstake chain up` starts"
            )
        return resp.get("result")

    def dev_signers(self) -> list[Signer]:
        return list(self._dev)

    def default_signer(self) -> Signer | None:
        return self._signer or self._dev[0]
