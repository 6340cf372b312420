"""The ``fedstake`` CLI without a lasting chain: help on every command, parsing of amounts,
durations and addresses, keys (never overwritten, never printed), the embedded chain's
deploy warning, and errors that say what to do (missing deployment, unreachable RPC,
no password, broken pipe) without a traceback unless --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from federation import cli as cli_module
from federation.cli import amount, app
from federation.commands import common
from federation.commands.common import (
    fmt_duration,
    fmt_units,
    fmt_when,
    parse_address,
    parse_amount,
    parse_duration,
)
from federation.keys import from_keystore, generate
from tests.cli_helpers import assert_advice_exists, cli, fails, hex_key, ok

PW = {"FEDSTAKE_KEYSTORE_PASSWORD": "pw"}


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


ALL = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_the_command_tree_is_what_the_readme_lists() -> None:
    top = {c[0] for c in ALL}
    assert top >= {
        "chain",
        "deploy",
        "fund",
        "bond",
        "unbond-bond",
        "round",
        "settle",
        "registry",
        "pause",
        "unpause",
        "key",
        "stake",
        "unbond",
        "withdraw",
        "claim",
        "status",
        "dispute",
        "verify",
        "faucet",
        "approve",
        "info",
        "history",
        "role",
        "governance",
        "treasury",
    }
    assert {c for c in ALL if len(c) == 2} >= {
        ("chain", "up"),
        ("chain", "down"),
        ("chain", "fund"),
        ("chain", "warp"),
        ("round", "list"),
        ("round", "show"),
        ("round", "expire"),
        ("registry", "lineage"),
        ("key", "new"),
        ("key", "import"),
        ("key", "address"),
        ("dispute", "resolve"),
        ("dispute", "slash"),
        ("dispute", "result"),
        ("dispute", "list"),
        ("dispute", "timeout"),
        ("round", "cancel"),
        ("treasury", "claim"),
        ("treasury", "show"),
        ("governance", "status"),
        ("governance", "accept-admin"),
    }
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for c in ALL:
        if (
            not isinstance(typer.main.get_command(app).commands.get(c[0]), click.Group)
            or len(c) == 2
        ):
            assert f"fedstake {' '.join(c)}" in readme, f"README's CLI reference lacks {c}"


@pytest.mark.parametrize("command", [(), *ALL], ids=lambda c: " ".join(c) or "fedstake")
def test_help_on_every_command(command: tuple[str, ...]) -> None:
    r = ok(*command, "--help")
    assert "Usage" in r.out and r.err == ""


def test_json_on_every_command_that_prints_data() -> None:
    group = typer.main.get_command(app)
    quiet = {("chain", "down")}  # prints data too: checked below
    for c in ALL:
        cmd = group
        for part in c:
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        if isinstance(cmd, click.Group):
            continue
        names = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--json" in names or c in quiet, f"fedstake {' '.join(c)} has no --json"


# -- parsing and formatting ----------------------------------------------------------------------
def test_amounts() -> None:
    assert amount("1.5") == 15 * 10**17
    assert amount("7wei") == 7
    assert amount("1_000") == 1000 * 10**18
    assert parse_amount("0.25").wei(6) == 250_000
    for bad, why in [
        ("-5", "negative"),
        ("0", "zero"),
        ("abc", "not an amount"),
        ("1.5wei", "no fractions"),
        ("nan", "not an amount"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_amount(bad)
    with pytest.raises(common.CliError, match="more than 18 decimals"):
        amount("0.0000000000000000001")
    assert fmt_units(1234 * 10**18 + 5 * 10**17, 18) == "1,234.5"
    assert fmt_units(0, 18) == "0" and fmt_units(1, 18) == "0.000000000000000001"
    assert common.fmt_tokens(2355037621726007073, 18, "FED") == "2.355038 FED"
    assert common.fmt_tokens(1, 18, "FED") == "<0.000001 FED"
    assert common.fmt_tokens(10**24, 18, "FED") == "1,000,000 FED"
    assert common.fmt_tokens(7, 18, "FED", wei=True) == "7 wei"


def test_durations_and_dates() -> None:
    assert parse_duration("90s") == 90 and parse_duration("2h") == 7200
    assert parse_duration("3d") == 3 * 86400 and parse_duration("1h30m") == 5400
    assert parse_duration("45") == 45 and parse_duration("1w") == 604800
    for bad in ("", "soon", "2x", "h", "0s", "1h 2"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert fmt_duration(7201) == "2h 1s" and fmt_duration(90061) == "1d 1h"
    assert fmt_when(3600, 0) == "1970-01-01 01:00:00 UTC (in 1h)"
    assert fmt_when(0 + 60, 120).endswith("(1m ago)")
    assert common._warp_text(7201) == "2h1m" and common._warp_text(30) == "31s"


def test_addresses() -> None:
    a = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    assert parse_address(a) == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    for bad in ("0x12", "70997970c51812dc3a010c7d01b50e0d17dc79c8", "0x" + "zz" * 20):
        with pytest.raises(ValueError, match="not an address"):
            parse_address(bad)


def _dummy(abi_type: str) -> object:
    if abi_type.endswith("]"):
        return []
    if abi_type == "address":
        return "0x" + "ab" * 20
    if abi_type.startswith("bytes"):
        return b"\x00" * 32
    if abi_type == "bool":
        return False
    if abi_type == "string":
        return "x"
    return 1_700_000_000 if abi_type.startswith(("uint", "int")) else 1


def test_every_contract_error_is_explained_with_a_command_that_exists() -> None:
    """Each custom error of every shipped ABI becomes one line; any command it advises is real."""
    from federation.commands.advice import explain
    from federation.commands.common import Opts
    from federation.deploy import load_abis
    from federation.revert import error_class

    seen = set()
    for abi in load_abis().values():
        for entry in abi:
            if entry.get("type") != "error" or entry["name"] in seen:
                continue
            seen.add(entry["name"])
            args = {
                p["name"] or f"arg{i}": _dummy(p["type"]) for i, p in enumerate(entry["inputs"])
            }
            text = explain(error_class(entry["name"])("", args), Opts())
            assert text and "\n" not in text, entry["name"]
            assert_advice_exists(text, require=False)
    assert {"UnexpectedRoundId", "DisputeDeadlineNotPassed", "ProvenSlash", "NoFault"} <= seen


def test_usage_errors_are_one_line_with_exit_code_2() -> None:
    err = fails("fund", "-5", code=2, says="amount -5 is negative")
    assert "fedstake fund --help" in err and "whole number" not in err
    fails("stake", "lots", code=2, says="not an amount")
    fails("status", "0xnothex", code=2, says="not an address")
    fails("chain", "warp", "tomorrow", code=2, says="not a duration")
    fails("nosuchcommand", code=2, says="No such command")
    r = cli("chain")  # a group without a command: its help
    assert r.code == 2 and "Usage" in r.out


# -- keys ----------------------------------------------------------------------------------------
def test_key_new_writes_an_encrypted_keystore_and_never_overwrites(tmp_path: Path) -> None:
    ks = tmp_path / "k.json"
    info = ok("key", "new", str(ks), "--json", env=PW).json()
    assert from_keystore(ks, "pw").address == info["address"]
    assert "ciphertext" in json.loads(ks.read_text())["crypto"]
    assert (ks.stat().st_mode & 0o777) == 0o600
    before = ks.read_bytes()
    fails("key", "new", str(ks), says="never overwritten", env=PW)
    fails("key", "import", str(ks), says="never overwritten", env=PW)
    assert ks.read_bytes() == before
    human = ok("key", "new", str(tmp_path / "k2.json"), env=PW).out
    assert "FEDSTAKE_KEYSTORE" in human and "0x" in human
    assert ok("key", "address", str(ks)).out.strip() == info["address"]
    use = {"FEDSTAKE_KEYSTORE": str(ks)}
    assert ok("key", "address", "--json", env=use).json()["address"] == info["address"]


def test_key_import_takes_the_key_from_the_environment_and_never_prints_it(tmp_path: Path) -> None:
    key = generate()
    secret = hex_key(key)
    r = ok("key", "import", str(tmp_path / "i.json"), env={**PW, "FEDSTAKE_PRIVATE_KEY": secret})
    assert key.address in r.out and secret[2:] not in r.out + r.err
    assert from_keystore(tmp_path / "i.json", "pw").address == key.address
    assert ok("key", "address", env={"FEDSTAKE_PRIVATE_KEY": secret}).out.strip() == key.address
    fails(
        "key",
        "import",
        str(tmp_path / "j.json"),
        env={**PW, "FEDSTAKE_PRIVATE_KEY": "0x12"},
        says="malformed",
    )
    assert not (tmp_path / "j.json").exists()


def test_key_commands_without_a_terminal_or_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "_stdin_is_tty", lambda: False)
    fails("key", "new", str(tmp_path / "k.json"), says="FEDSTAKE_KEYSTORE_PASSWORD")
    assert not (tmp_path / "k.json").exists()
    fails(
        "key",
        "new",
        str(tmp_path / "k.json"),
        env={"FEDSTAKE_KEYSTORE_PASSWORD": ""},
        says="empty keystore password",
    )
    fails("key", "address", says="no key configured")
    fails("key", "address", str(tmp_path / "none.json"), says="no keystore at")
    ok("key", "new", str(tmp_path / "k.json"), env=PW)
    # a command that signs, with a keystore but no password variable and no terminal
    r = cli(
        "--deployment",
        str(tmp_path / "d.json"),
        "status",
        env={"FEDSTAKE_KEYSTORE": str(tmp_path / "k.json")},
    )
    assert r.code == 1 and "FEDSTAKE_KEYSTORE_PASSWORD" in r.err and "Traceback" not in r.err


# -- errors that say what to do ------------------------------------------------------------------
def test_missing_deployment_file(tmp_path: Path) -> None:
    err = fails(
        "--chain",
        "inprocess://",
        "--deployment",
        str(tmp_path / "x.json"),
        "status",
        says="no deployment file",
    )
    assert "deploy --out" not in err and "`fedstake deploy`" in err


def test_unreachable_rpc() -> None:
    err = fails("--chain", "http://127.0.0.1:9", "status", says="cannot reach the RPC")
    assert "fedstake chain up" in err


def test_a_dead_chain_up_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "chain.json").write_text(
        json.dumps(
            {
                "pid": 2**22 + 7,
                "url": "http://127.0.0.1:9",
                "port": 9,
                "chain_id": 31337,
                "state": "s.json",
                "log": "l",
                "started_at": 0,
            }
        )
    )
    fails("--home", str(home), "status", says="no longer running")
    fails("--home", str(home), "chain", "fund", generate().address, says="no longer running")
    assert "stopped" in ok("--home", str(home), "chain", "status").out
    ok("--home", str(home), "chain", "down")  # forgets the record
    fails("--home", str(home), "chain", "down", says="no local chain to stop")


def test_chain_commands_refuse_the_embedded_chain() -> None:
    fails("--chain", "inprocess://", "chain", "warp", "1h", says="dies when this command exits")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = cli(
        "--debug", "--chain", "inprocess://", "--deployment", str(tmp_path / "x.json"), "status"
    )
    assert r.code == 1 and "Traceback" in r.err and "no deployment file" in r.err


def test_deploy_on_the_embedded_chain_warns_and_never_overwrites(tmp_path: Path) -> None:
    dep = tmp_path / "d.json"
    r = ok("--chain", "inprocess://", "--deployment", str(dep), "deploy", "--json")
    assert "warning" in r.err and "dies when this command exits" in r.err
    assert "fedstake chain up" in r.err
    doc = r.json()
    assert json.loads(dep.read_text())["contracts"] == doc["contracts"]
    assert doc["min_stake"] == str(10 * 10**18)  # wei as strings under --json
    before = dep.read_text()
    err = fails("--chain", "inprocess://", "--deployment", str(dep), "deploy", says="--force")
    assert dep.read_text() == before
    assert_advice_exists(err)
    # the deployment names contracts that died with that command
    fails("--chain", "inprocess://", "--deployment", str(dep), "info", says="no contract code")


def test_old_entry_point_still_maps_to_main() -> None:
    assert cli_module.main(["--help"]) == 0


# -- output piped into a closed pipe (`fedstake … | head`) -----------------------------------------
@pytest.mark.parametrize("args", [["--help"], ["key", "address", "K"]], ids=["help", "data"])
def test_broken_pipe_is_quiet(tmp_path: Path, args: list[str]) -> None:
    ks = tmp_path / "k.json"
    ok("key", "new", str(ks), env=PW)
    args = [str(ks) if a == "K" else a for a in args]
    r, w = os.pipe()
    os.close(r)  # the reader is gone before anything is written
    proc = subprocess.run(
        [sys.executable, "-m", "federation.cli", *args],
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    os.close(w)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1, 141)
