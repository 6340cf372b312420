"""The Foundry binaries (forge, anvil, cast) we run, resolved so their exit status reaches us.

The npm package's wrapper ``contracts/node_modules/.bin/<tool>`` (``@foundry-rs/<tool>`` 1.7.1)
spawns the real binary and exits 0 whatever it returned, and it stands between us and the pid
of an anvil we have to stop. ``contracts/tools/foundry`` is the one place that knows where npm
put the platform binary; we ask it (``--which``) and run that binary directly. A Foundry on
PATH is used only when the pinned one is not installed, and only if it is a native executable
(foundryup's), not a script such as the npm wrapper or ``contracts/tools/bin/<tool>``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOLVER = REPO_ROOT / "contracts" / "tools" / "foundry"
SETUP_HINT = "run `make setup-contracts` (npm ci in contracts/)"


def pinned_tool(name: str) -> str | None:
    """The platform binary of the pinned npm install, or None when it is not installed."""
    if not RESOLVER.is_file():
        return None  # an installed package without the repository's contracts/
    try:
        proc = subprocess.run(
            [str(RESOLVER), "--which", name], capture_output=True, text=True, check=False
        )
    except OSError:
        return None  # no POSIX shell to run the resolver (Windows)
    if proc.returncode != 0:
        return None  # not installed (the resolver exits 127 and says so on stderr)
    return proc.stdout.strip() or None


def native_tool_on_path(name: str) -> str | None:
    """``name`` on PATH if it is a native executable, not a script (``#!``)."""
    found = shutil.which(name)
    if found is None:
        return None
    try:
        with open(found, "rb") as f:
            if f.read(2) == b"#!":
                return None
    except OSError:
        return None
    return found


def find_tool(name: str) -> str | None:
    """The pinned ``name`` (forge, anvil, cast), else a native one on PATH, else None."""
    return pinned_tool(name) or native_tool_on_path(name)
