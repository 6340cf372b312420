"""End to end through `flwr run` (Flower's Simulation Engine, a local SuperLink): the
staked federation on the embedded chain with misbehaving participants, and an honest one
on anvil. The runs share the session's local SuperLink and build the App from a copy of
its sources (tests/conftest.py: `superlink`, `flwr_app`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation.chain.anvil import find_anvil
from federation.keys import dev_signer
from simulations.flwr_runner import FlwrRunner

pytestmark = pytest.mark.slow


def _flwr(runner: FlwrRunner, tmp: Path, nodes: int, **config: Any) -> dict[str, Any]:
    summary = tmp / "summary.json"
    cfg = {"artifact-dir": str(tmp / "runs"), "summary-file": str(summary), **config}
    runner.run(cfg, nodes, tmp / "flwr.log", timeout=600)
    return json.loads(summary.read_text())


def _address(pid: int) -> str:
    return dev_signer(1 + pid).address


def test_attacked_federation_on_the_embedded_chain(superlink: FlwrRunner, tmp_path: Path) -> None:
    s = _flwr(
        superlink,
        tmp_path,
        12,  # six misbehaving, one impersonated, one unstaked, four honest
        **{
            "num-server-rounds": 2,
            "strategy": "multi-krum",
            "f": 1,
            "behaviours": "0:sign-flip,1:nan,2:wrong-shape,3:forged-signature,4:replay,"
            "5:impersonate-6",
            "unstaked-partitions": "7",
            "local-epochs": 2,
            "learning-rate": 0.3,
        },
    )
    assert s["accounting"]["balanced"]
    assert all(v["ok"] for v in s["verify"].values()), s["verify"]
    codes = {
        (e["participant"], e["code"], e["reason"]) for r in s["rounds"] for e in r["exclusions"]
    }
    assert (_address(1), "non-finite", "MALFORMED") in codes
    assert (_address(2), "shape", "MALFORMED") in codes
    assert (_address(3), "bad-signature", None) in codes
    assert (_address(4), "replayed", None) in codes
    assert s["refused"]["address-taken"] == 2 and s["refused"]["not-eligible"] >= 1
    slashed = {(x["participant"], x["reason"]) for r in s["rounds"] for x in r["slashes"]}
    assert (_address(0), "BYZANTINE") in slashed
    assert (_address(1), "MALFORMED") in slashed
    assert all(str(r["round_id"]) in s["settle_gas"] for r in s["rounds"])  # settled
    assert s["accuracy"]["2"] > s["accuracy"]["0"]


@pytest.mark.anvil
@pytest.mark.skipif(find_anvil() is None, reason="anvil not installed (make setup-contracts)")
def test_honest_federation_on_anvil_pays_everyone(superlink: FlwrRunner, tmp_path: Path) -> None:
    s = _flwr(
        superlink,
        tmp_path,
        4,
        **{"num-server-rounds": 2, "chain": "anvil://", "strategy": "fedavg", "f": 0},
    )
    assert s["accounting"]["balanced"]
    assert all(v["ok"] for v in s["verify"].values())
    everyone = {_address(p) for p in range(4)}
    for r in s["rounds"]:
        assert not r["exclusions"] and not r["slashes"]
        assert {a for a, v in r["rewards"].items() if int(v) > 0} == everyone
    assert {a for a, v in s["participants"].items() if int(v["wallet"]) > 0} == everyone
