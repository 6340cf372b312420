"""Backend lifecycle: anvil is stopped cleanly, never orphaned, and keeps ?state= across runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from federation.chain import connect
from federation.chain.anvil import AnvilChain, find_anvil
from federation.chain.inprocess import InProcessChain
from federation.errors import ConfigError

needs_anvil = pytest.mark.skipif(
    find_anvil() is None, reason="anvil binary absent: run make setup-contracts"
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_urls_select_backends() -> None:
    c = connect("inprocess://")
    assert isinstance(c, InProcessChain) and c.is_local and len(c.dev_signers()) == 10
    with pytest.raises(ConfigError, match="bad anvil:// option"):
        connect("anvil://?port=notanumber")


@needs_anvil
def test_anvil_close_stops_process_and_keeps_state(tmp_path) -> None:
    state = tmp_path / "state.json"
    c = connect(f"anvil://?state={state}")
    assert isinstance(c, AnvilChain)
    pid = c._proc.pid  # type: ignore[union-attr]
    c.mine(5)
    c.close()
    assert not _alive(pid)
    assert state.exists()
    again = connect(f"anvil://?state={state}")
    try:
        assert again.w3.eth.block_number >= 5
        assert again.chain_id == 31337
    finally:
        again.close()


@needs_anvil
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_anvil_dies_with_a_killed_parent() -> None:
    code = (
        "from federation.chain import connect\n"
        "c = connect('anvil://')\n"
        "print(c._proc.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "anvil outlived its parent"
