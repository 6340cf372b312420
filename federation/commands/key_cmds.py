"""``fedstake key …``: a participant's key in an encrypted keystore file.

Keys never come from the command line and are never printed: ``key new`` generates one,
``key import`` reads it from $FEDSTAKE_PRIVATE_KEY or a hidden prompt (or a line on
stdin), and both write an encrypted V3 keystore (mode 0600) that is never overwritten.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from federation.commands import common
from federation.commands.common import CliError, JsonOpt, Output, opts_of
from federation.keys import (
    ENV_KEYSTORE,
    ENV_KEYSTORE_PASSWORD,
    ENV_PRIVATE_KEY,
    Signer,
    from_private_key,
    generate,
)

app = typer.Typer(
    name="key",
    help="Your signing key, kept in an encrypted keystore file.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="Keystore file to write (never overwritten).")]


def _refuse_existing(path: Path) -> None:
    if path.exists():
        other = path.with_name("new-" + path.name)
        raise CliError(
            f"{path} already exists and a keystore is never overwritten (that would lose its "
            f"key): choose another file, e.g. `fedstake key new {other}`"
        )


def _new_password() -> str:
    password = os.environ.get(ENV_KEYSTORE_PASSWORD)
    if password is None:
        if not common._stdin_is_tty():
            raise CliError(
                f"the new keystore needs a password and there is no terminal to ask on: set "
                f"{ENV_KEYSTORE_PASSWORD}, then run `fedstake key new FILE` again"
            )
        password = typer.prompt("new keystore password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise CliError(
            f"an empty keystore password is not allowed: set {ENV_KEYSTORE_PASSWORD} to a "
            "non-empty one, then run `fedstake key new FILE` again"
        )
    return password


def _write(signer: Signer, path: Path, password: str) -> None:
    """Encrypt to ``path``, created exclusively with mode 0600 (never replaces a file)."""
    from eth_account import Account

    data = json.dumps(Account.encrypt(signer.key, password))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _refuse_existing(path)
        raise
    with os.fdopen(fd, "w") as fh:
        fh.write(data)


def _report(out: Output, signer: Signer, path: Path, verb: str) -> None:
    if out.json:
        out.emit({"address": signer.address, "keystore": str(path)})
        return
    out.print(
        f"{verb} key {signer.address} in {path} (encrypted; the key itself is never shown)",
        f"use it: export {ENV_KEYSTORE}={path} and {ENV_KEYSTORE_PASSWORD}=… (or type the "
        "password when asked)",
    )
    out.next_steps("fedstake faucet", "fedstake stake 50")


@app.command("new")
def new(ctx: typer.Context, file: FileArg, json_: JsonOpt = False) -> None:
    """Create a key in an encrypted keystore (never overwrites a file).

    The password comes from FEDSTAKE_KEYSTORE_PASSWORD or a prompt."""
    out = Output(opts_of(ctx), json_)
    _refuse_existing(file)
    password = _new_password()
    signer = generate()
    _write(signer, file, password)
    _report(out, signer, file, "created")


@app.command("import")
def import_(ctx: typer.Context, file: FileArg, json_: JsonOpt = False) -> None:
    """Encrypt an existing key into a keystore (never overwrites a file).

    The key comes from FEDSTAKE_PRIVATE_KEY, a hidden prompt, or one line on stdin; never
    from the command line."""
    out = Output(opts_of(ctx), json_)
    _refuse_existing(file)
    raw = os.environ.get(ENV_PRIVATE_KEY)
    if not raw:
        if common._stdin_is_tty():
            raw = typer.prompt("private key (hex, hidden)", hide_input=True)
        else:
            raw = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if not raw:
        raise CliError(
            f"no key to import: set {ENV_PRIVATE_KEY} (or pipe the hex key on stdin), then "
            f"run `fedstake key import FILE` again"
        )
    signer = from_private_key(raw.strip())
    password = _new_password()
    _write(signer, file, password)
    _report(out, signer, file, "imported")


def keystore_address(path: Path) -> str:
    """The address a V3 keystore names, read without decrypting it."""
    from eth_utils import to_checksum_address

    try:
        data: Any = json.loads(path.read_text())
        return str(to_checksum_address("0x" + str(data["address"]).removeprefix("0x")))
    except FileNotFoundError:
        raise CliError(
            f"no keystore at {path}: create one with `fedstake key new {path}`"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise CliError(
            f"{path} is not a keystore with an address: create one with `fedstake key new FILE`"
        ) from None


@app.command("address")
def address(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Keystore file (default: $FEDSTAKE_KEYSTORE or $FEDSTAKE_PRIVATE_KEY)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Print the address of a keystore, or of the key the commands sign with."""
    out = Output(opts_of(ctx), json_)
    if file is not None:
        addr, source = keystore_address(file), str(file)
    elif os.environ.get(ENV_PRIVATE_KEY):
        addr, source = from_private_key(os.environ[ENV_PRIVATE_KEY]).address, ENV_PRIVATE_KEY
    elif os.environ.get(ENV_KEYSTORE):
        addr, source = keystore_address(Path(os.environ[ENV_KEYSTORE])), os.environ[ENV_KEYSTORE]
    else:
        raise CliError(
            f"no key configured: set {ENV_KEYSTORE} (create one with `fedstake key new FILE`) "
            f"or {ENV_PRIVATE_KEY}"
        )
    if out.json:
        out.emit({"address": addr, "source": source})
    else:
        out.print(addr)
