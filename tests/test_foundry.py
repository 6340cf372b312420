"""Foundry tools run so that their exit status reaches us (never through the npm wrapper)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from federation.chain.anvil import AnvilChain, find_anvil
from federation.errors import RpcUnreachableError
from federation.foundry import REPO_ROOT, RESOLVER, find_tool, native_tool_on_path

TOOLS_BIN = REPO_ROOT / "contracts" / "tools" / "bin"
pinned = pytest.mark.skipif(
    find_tool("forge") is None or find_anvil() is None,
    reason="Foundry absent: run make setup-contracts",
)


def _is_script(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"#!"


@pinned
@pytest.mark.parametrize("via", ["find_tool", "tools/bin"])
def test_forge_failure_is_a_nonzero_exit(via: str) -> None:
    forge = find_tool("forge") if via == "find_tool" else str(TOOLS_BIN / "forge")
    assert forge is not None
    ok = subprocess.run([forge, "--version"], capture_output=True, check=False)
    assert ok.returncode == 0
    # The npm wrapper exits 0 here too; forge itself rejects the subcommand with 2.
    bad = subprocess.run([forge, "no-such-subcommand"], capture_output=True, check=False)
    assert bad.returncode != 0


@pinned
def test_find_anvil_is_the_binary_not_the_npm_wrapper() -> None:
    anvil = find_anvil()
    assert anvil is not None
    assert not _is_script(anvil), f"{anvil} is a script, not anvil"
    assert Path(anvil).resolve() != (REPO_ROOT / "contracts/node_modules/.bin/anvil").resolve()
    assert subprocess.run([anvil, "--version"], capture_output=True, check=False).returncode == 0


@pinned
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/exe")
def test_anvil_chain_pid_is_anvils_own() -> None:
    chain = AnvilChain()
    try:
        pid = chain._proc.pid  # type: ignore[union-attr]
        assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(str(find_anvil()))
    finally:
        chain.close()


@pinned
def test_anvil_that_exits_on_start_up_is_reported(tmp_path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(RpcUnreachableError, match=r"anvil exited with status [1-9]"):
        AnvilChain(state=str(state))


def test_scripts_on_path_are_not_taken_for_a_native_tool(tmp_path, monkeypatch) -> None:
    script = tmp_path / "forge"
    script.write_text("#!/bin/sh\nexit 0\n")  # what the npm wrapper (a node script) looks like
    native = tmp_path / "anvil"
    native.write_bytes(b"\x7fELF not really")
    script.chmod(0o755)
    native.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert native_tool_on_path("forge") is None
    assert native_tool_on_path("anvil") == str(native)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_resolver_without_node_modules_names_the_fix(tmp_path) -> None:
    copy = tmp_path / "tools" / "foundry"
    copy.parent.mkdir()
    shutil.copy2(RESOLVER, copy)
    proc = subprocess.run([str(copy), "forge", "test"], capture_output=True, text=True)
    assert proc.returncode == 127
    assert "make setup-contracts" in proc.stderr
