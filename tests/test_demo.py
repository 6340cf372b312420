"""`make demo` end to end (one round, through `flwr run`): exits 0 only when the accounting
balances and every round verifies; it stops the SuperLink it started."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.demo import main
from simulations.flwr_runner import superlinks

pytestmark = pytest.mark.slow


def test_demo_one_round_balances_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = superlinks()
    assert main(["--rounds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "balanced to the wei" in out and "verify round 1: ok" in out
    assert "FORGED_HASH" in out and "MALFORMED" in out and "bad-signature" in out
    assert "plain FedAvg" in out
    assert list(tmp_path.glob("artifacts/*/round-1-results.json"))
    assert superlinks() <= before  # the SuperLink flwr run left behind is stopped
