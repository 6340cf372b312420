"""The README's journeys, as written, through the CLI and `flwr run`, on a persistent local
chain (anvil with a state file): the coordinator deploys, bonds and funds; participants
stake themselves; the coordinator runs the staked federation with `flwr run`; each
participant then claims with the published results file and verifies the round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation.chain.anvil import find_anvil
from federation.cli import main as fedstake
from federation.keys import dev_signer
from simulations.flwr_runner import FlwrRunner

pytestmark = [
    pytest.mark.slow,
    pytest.mark.anvil,
    pytest.mark.skipif(find_anvil() is None, reason="anvil not installed (make setup-contracts)"),
]
PARTICIPANTS = 3


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    code = fedstake(args)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out) if out.strip().startswith(("{", "[")) else out


def test_coordinator_and_participant_journeys(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    superlink: FlwrRunner,
) -> None:
    chain = f"anvil://?state={tmp_path / 'chain.json'}"
    dep = str(tmp_path / "deployment.json")
    base = ["--chain", chain, "--deployment", dep]
    # Coordinator: deploy, bond, fund the reward pool (dev account 0 on a local chain).
    _cli([*base, "deploy"], capsys)
    _cli([*base, "bond", "200"], capsys)
    _cli([*base, "fund", "100"], capsys)
    # Participants: tokens from the test token's faucet, then stake, each with its own key.
    for pid in range(PARTICIPANTS):
        monkeypatch.setenv("FEDSTAKE_PRIVATE_KEY", "0x" + bytes(dev_signer(1 + pid).key).hex())
        _cli([*base, "faucet"], capsys)
        _cli([*base, "stake", "50"], capsys)
    monkeypatch.delenv("FEDSTAKE_PRIVATE_KEY")
    # Coordinator: the staked federation on that deployment, through Flower.
    artifacts = tmp_path / "artifacts"
    summary_file = tmp_path / "summary.json"
    superlink.run(
        {
            "chain": chain,
            "deployment": dep,
            "num-server-rounds": 2,
            "strategy": "fedavg",
            "f": 0,
            "reward-budget": 10.0,
            "artifact-dir": str(artifacts),
            "summary-file": str(summary_file),
        },
        PARTICIPANTS,
        tmp_path / "flwr.log",
        timeout=600,
    )
    summary = json.loads(summary_file.read_text())
    assert summary["accounting"]["balanced"]
    store = Path(summary["artifacts"])
    # Participants: claim every settled round at once (the results files are found through
    # the rounds' provenance records), one with a results file named explicitly; then verify.
    rids = [r["round_id"] for r in summary["rounds"]]
    for pid in range(PARTICIPANTS):
        who = dev_signer(1 + pid)
        monkeypatch.setenv("FEDSTAKE_PRIVATE_KEY", "0x" + bytes(who.key).hex())
        if pid == 0:
            path = store / f"round-{rids[0]}-results.json"
            out = _cli([*base, "claim", str(rids[0]), "--results", str(path), "--json"], capsys)
            assert isinstance(out, dict) and [c["round"] for c in out["claimed"]] == rids[:1]
        out = _cli([*base, "claim", "--json"], capsys)
        assert isinstance(out, dict)
        assert [c["round"] for c in out["claimed"]] == (rids[1:] if pid == 0 else rids)
        for r in summary["rounds"]:
            assert int(r["rewards"][who.address]) > 0
    monkeypatch.delenv("FEDSTAKE_PRIVATE_KEY")
    for r in summary["rounds"]:
        assert fedstake([*base, "verify", str(r["round_id"])]) == 0  # store found on-chain
    capsys.readouterr()
    shown = _cli([*base, "round", "show", "1", "--json"], capsys)
    assert isinstance(shown, dict) and shown["status"] == "settled"
    assert len(shown["participants_detail"]) == PARTICIPANTS
