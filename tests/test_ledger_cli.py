"""The ``fedstake`` CLI: a local anvil chain that survives restarts through ?state=FILE."""

from __future__ import annotations

import json

import pytest

from federation.chain.anvil import find_anvil
from federation.cli import amount, main


def test_amount_parsing() -> None:
    assert amount("1.5") == 15 * 10**17
    assert amount("7wei") == 7
    with pytest.raises(Exception, match="whole number"):
        amount("0.0000000000000000001")


@pytest.mark.anvil
@pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent: run make setup-contracts")
def test_cli_deploy_stake_status_across_anvil_restarts(tmp_path, capsys) -> None:
    chain = f"anvil://?state={tmp_path / 'chain.json'}"
    dep = str(tmp_path / "deployment.json")
    base = ["--chain", chain, "--deployment", dep]
    assert main([*base, "deploy"]) == 0
    capsys.readouterr()
    assert main([*base, "stake", "25"]) == 0  # a fresh anvil, loaded from the state file
    assert json.loads(capsys.readouterr().out)["already_applied"] is False
    assert main([*base, "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert int(status["stake"]["active"]) == 25 * 10**18
    assert main([*base, "history", "stakes"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    # the same deployment file against another chain: a clear error, exit code 1
    assert main(["--chain", "inprocess://", "--deployment", dep, "status"]) == 1
    err = capsys.readouterr().err
    assert "chain id 31337" in err and "--chain" in err


def test_cli_missing_deployment_file(tmp_path, capsys) -> None:
    assert (
        main(["--chain", "inprocess://", "--deployment", str(tmp_path / "x.json"), "status"]) == 1
    )
    assert "fedstake deploy" in capsys.readouterr().err


def test_cli_new_key_writes_an_encrypted_keystore(tmp_path, capsys, monkeypatch) -> None:
    from federation.keys import from_keystore

    monkeypatch.setenv("FEDSTAKE_KEYSTORE_PASSWORD", "pw")
    out = tmp_path / "k.json"
    assert main(["new-key", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert from_keystore(out, "pw").address == info["address"]
    assert "ciphertext" in json.loads(out.read_text())["crypto"]
