"""`make demo` end to end (one round): exits 0 only when the accounting balances."""

from __future__ import annotations

import pytest

from simulations.demo import main


def test_demo_one_round_balances(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["--rounds", "1", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "balanced to the wei" in out
    assert "FORGED_HASH" in out and "MALFORMED" in out
    assert (tmp_path / "round-1-results.json").exists()
