"""`make demo` end to end (one round, through `flwr run`): exits 0 only when the accounting
balances and every round verifies; it stops the SuperLink it started."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from simulations.demo import main
from simulations.flwr_runner import superlinks

pytestmark = pytest.mark.slow


def _superlinks_under(path: Path) -> set[int]:
    """Running SuperLinks whose command line names a file under `path` (the local SuperLink
    `flwr` starts keeps its log and database in its FLWR_HOME): this test's, and not those
    another test or process on the machine may start meanwhile."""
    found = set()
    for pid in superlinks():
        with contextlib.suppress(OSError):
            if str(path) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.add(pid)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="process checks read /proc (Linux)")
def test_demo_one_round_balances_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--rounds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "balanced to the wei" in out and "verify round 1: ok" in out
    assert "FORGED_HASH" in out and "MALFORMED" in out and "bad-signature" in out
    assert "plain FedAvg" in out
    assert list(tmp_path.glob("artifacts/*/round-1-results.json"))
    # the SuperLink flwr run started (its home under tmp_path) ran, and is stopped
    assert list(tmp_path.glob("flwr/flwr-home/local-superlink/superlink.log"))
    assert not _superlinks_under(tmp_path.resolve())
