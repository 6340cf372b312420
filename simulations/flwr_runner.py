"""`flwr run .` against a local SuperLink of our own: the demo, the end-to-end tests and
the overhead benchmark all run the App this way.

The SuperLink gets a private FLWR_HOME and private ports and is started in *this*
environment: the ServerApp inherits the SuperLink's environment and runs from the
installed app package (FAB), which has no `contracts/` to find anvil in. So `.venv/bin`
and the pinned native anvil go on PATH, and Flower's runtime dependency installation is
off (it would resolve a second torch, a CUDA build). Someone else's SuperLink is left
alone; ours is stopped by pid on `stop()` / leaving the `with` block.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from federation.chain.anvil import free_port

REPO = Path(__file__).resolve().parents[1]


def superlinks(pattern: str = "flower-superlink") -> set[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v.replace("'", "") + "'"
    return repr(v)


def run_config_arg(cfg: dict[str, Any]) -> str:
    return " ".join(f"{k}={toml_value(v)}" for k, v in cfg.items())


class FlwrRunner:
    """One private local SuperLink, reused by every `run()`."""

    def __init__(self, work: Path | None = None) -> None:
        from federation.foundry import find_tool

        self.work = Path(work or tempfile.mkdtemp(prefix="fedstake-flwr-"))
        self.port, self.control_port = free_port(), free_port()
        self.env = dict(os.environ)
        anvil = find_tool("anvil")
        path = [str(Path(sys.prefix) / "bin")] + ([str(Path(anvil).parent)] if anvil else [])
        self.env.update(
            FLWR_HOME=str(self.work / "flwr-home"),
            FLWR_LOCAL_SUPERLINK_HTTP_API_PORT=str(self.port),
            FLWR_LOCAL_CONTROL_API_PORT=str(self.control_port),
            FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
            PATH=os.pathsep.join([*path, self.env.get("PATH", "")]),
        )
        self.flwr = str(Path(sys.prefix) / "bin" / "flwr")
        self.pattern = f"flower-superlink.*--port {self.port}"
        self.before = superlinks()
        self.started: set[int] = set()

    def __enter__(self) -> FlwrRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> float:
        """Start the SuperLink now (`flwr ls` starts it lazily), so no run pays for it."""
        mine = superlinks(self.pattern)
        t0 = time.perf_counter()
        subprocess.run(
            [self.flwr, "ls"], cwd=REPO, env=self.env, capture_output=True, timeout=120, check=False
        )
        self.started |= superlinks(self.pattern) - mine
        return time.perf_counter() - t0

    def command(self, cfg: dict[str, Any], nodes: int) -> list[str]:
        return [
            self.flwr,
            "run",
            ".",
            "--federation-config",
            f"num-supernodes={nodes}",
            "--run-config",
            run_config_arg(cfg),
            "--stream",
        ]

    def run(self, cfg: dict[str, Any], nodes: int, log: Path, timeout: float = 900) -> float:
        """Run the App once; returns wall seconds. `flwr run` can exit 0 when the ServerApp
        failed, so a run that wrote no `summary-file` (when one is set) is an error too."""
        summary = Path(cfg["summary-file"]) if cfg.get("summary-file") else None
        if summary is not None:
            summary.unlink(missing_ok=True)
        cmd = self.command(cfg, nodes)
        t0 = time.perf_counter()
        with open(log, "w", encoding="utf-8") as fh:
            fh.write("$ " + shlex.join(cmd) + "\n")
            fh.flush()
            proc = subprocess.run(
                cmd, cwd=REPO, env=self.env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
            )
        wall = time.perf_counter() - t0
        self.started |= superlinks(self.pattern) - self.before
        if proc.returncode != 0 or (summary is not None and not summary.exists()):
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"flwr run failed (exit {proc.returncode}; log {log}):\n{tail}")
        return wall

    def stop(self) -> None:
        """Stop the SuperLink this runner started (by pid), and only that one."""
        self.started |= superlinks(self.pattern) - self.before
        for pid in sorted(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.started & superlinks(self.pattern) and time.monotonic() < deadline:
            time.sleep(0.2)
