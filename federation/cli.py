"""``fedstake``: one CLI for the local chain, coordinators, participants and verifiers.

Built with typer (rich help, tables). Every command takes ``--help``; those that print
data take ``--json`` (amounts in wei as strings, times in unix seconds) and ``--wei``.
The chain comes from --chain or $FEDSTAKE_CHAIN, else the chain ``fedstake chain up``
started (recorded in $FEDSTAKE_HOME/chain.json, default .fedstake/), else the embedded
``inprocess://`` chain, which dies with each command. The key comes from
$FEDSTAKE_PRIVATE_KEY or an encrypted keystore ($FEDSTAKE_KEYSTORE, password in
$FEDSTAKE_KEYSTORE_PASSWORD or prompted), never from the command line; local
development chains default to development account 0.

Exit codes: 0 success; 1 an error (one line on stderr saying what to do, no traceback
unless --debug); 2 a usage error. ``verify``: 0 every check passes, 1 a mismatch, 2
nothing could be verified.

``main(argv)`` is the testable entry point (and the ``fedstake`` console script).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from federation.commands import (
    chain_cmds,
    coordinator,
    governance_cmds,
    key_cmds,
    lab_cmds,
    participant,
    round_cmds,
)
from federation.commands.common import (
    DEFAULT_DEPLOYMENT,
    DEFAULT_HOME,
    ENV_CHAIN,
    ENV_DEBUG,
    ENV_DEPLOYMENT,
    ENV_HOME,
    Opts,
    connect_chain,
    env_signer,
    parse_amount,
)

if TYPE_CHECKING:
    from federation.ledger import Ledger

__all__ = ["amount", "app", "main"]

LOCAL, COORD, PART, ANYONE = "Local chain", "Coordinator", "Participant", "Anyone"
LAB = "Researcher (poisoning lab)"
_current = Opts()  # the options of the command running now (error messages use its units)


def amount(text: str) -> int:
    """'12.5' tokens → wei (18 decimals); '123wei' stays wei. ValueError when invalid."""
    return parse_amount(text).wei(18)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fedstake {version('fedstake')}")
        raise typer.Exit(0)


app = typer.Typer(
    name="fedstake",
    help="Staked federated learning on an EVM chain: local chain, coordinator, participant "
    "and verifier commands. `fedstake COMMAND --help` explains each one.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain",
            envvar=ENV_CHAIN,
            help="inprocess:// (embedded, dies with the command), anvil://?state=FILE, or an "
            "RPC URL. Default: the chain `fedstake chain up` started, else inprocess://.",
        ),
    ] = None,
    deployment: Annotated[
        Path,
        typer.Option(envvar=ENV_DEPLOYMENT, help="Deployment file (written by deploy)."),
    ] = Path(DEFAULT_DEPLOYMENT),
    home: Annotated[
        Path,
        typer.Option(envvar=ENV_HOME, help="Where `chain up` keeps its record and state."),
    ] = Path(DEFAULT_HOME),
    confirmations: Annotated[
        int, typer.Option(min=0, help="Blocks to wait after each transaction.")
    ] = 1,
    no_auto_approve: Annotated[
        bool,
        typer.Option(
            "--no-auto-approve", help="Do not approve token spending; use `fedstake approve`."
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="JSON output for any command.")] = False,
    wei: Annotated[bool, typer.Option("--wei", help="Amounts in wei for any command.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar=ENV_DEBUG, help="Show tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the version."),
    ] = False,
) -> None:
    global _current
    _current = Opts(
        chain=chain,
        deployment=deployment,
        home=home,
        confirmations=confirmations,
        auto_approve=not no_auto_approve,
        json=json_,
        wei=wei,
        debug=debug,
    )
    ctx.obj = _current


def _ledger(opts: Opts) -> Ledger:
    """The deployment's Ledger for one command (tests replace this to inject a ledger)."""
    from federation.ledger import Ledger
    from federation.tx import TxPolicy

    signer = env_signer()
    chain = connect_chain(opts, signer)
    try:
        ledger = Ledger.open(
            chain, opts.deployment, signer, policy=TxPolicy(confirmations=opts.confirmations)
        )
    except BaseException:
        chain.close()
        raise
    ledger.auto_approve = opts.auto_approve
    return ledger


# -- the commands, grouped by who runs them ---------------------------------------------------
AMOUNT_CTX = participant.AMOUNT_CTX
app.add_typer(chain_cmds.app, name="chain", rich_help_panel=LOCAL)

app.command("deploy", rich_help_panel=COORD)(coordinator.deploy)
app.command("fund", rich_help_panel=COORD, context_settings=AMOUNT_CTX)(coordinator.fund)
app.command("bond", rich_help_panel=COORD, context_settings=AMOUNT_CTX)(coordinator.bond)
app.command("unbond-bond", rich_help_panel=COORD, context_settings=AMOUNT_CTX)(
    coordinator.unbond_bond
)
app.add_typer(round_cmds.app, name="round", rich_help_panel=COORD)
app.command("settle", rich_help_panel=COORD)(coordinator.settle)
app.add_typer(coordinator.registry_app, name="registry", rich_help_panel=COORD)
app.command("pause", rich_help_panel=COORD)(coordinator.pause)
app.command("unpause", rich_help_panel=COORD)(coordinator.unpause)
app.add_typer(coordinator.role_app, name="role", rich_help_panel=COORD)
app.add_typer(governance_cmds.governance_app, name="governance", rich_help_panel=COORD)
app.add_typer(governance_cmds.treasury_app, name="treasury", rich_help_panel=COORD)

app.add_typer(key_cmds.app, name="key", rich_help_panel=PART)
app.command("faucet", rich_help_panel=PART)(participant.faucet)
app.command("stake", rich_help_panel=PART, context_settings=AMOUNT_CTX)(participant.stake)
app.command("unbond", rich_help_panel=PART, context_settings=AMOUNT_CTX)(participant.unbond)
app.command("withdraw", rich_help_panel=PART)(participant.withdraw)
app.command("approve", rich_help_panel=PART, context_settings=AMOUNT_CTX)(participant.approve)
app.command("claim", rich_help_panel=PART)(participant.claim)
app.command("status", rich_help_panel=PART)(participant.status)
app.add_typer(participant.dispute_app, name="dispute", rich_help_panel=PART)

app.command("verify", rich_help_panel=ANYONE)(round_cmds.verify)
app.command("info", rich_help_panel=ANYONE)(coordinator.info)
app.command("history", rich_help_panel=ANYONE)(coordinator.history)

app.command("simulate", rich_help_panel=LAB)(lab_cmds.simulate)
app.command("sweep", rich_help_panel=LAB)(lab_cmds.sweep)
app.command("report", rich_help_panel=LAB)(lab_cmds.report)


# -- the entry point ---------------------------------------------------------------------------
def _err(text: str) -> None:
    sys.stderr.write(f"fedstake: error: {text}\n")
    sys.stderr.flush()


def _usage(exc: click.ClickException) -> int:
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and ctx is not None:
        sys.stdout.write(ctx.get_help() + "\n")
        return 2
    path = ctx.command_path if ctx is not None else "fedstake"
    message = " ".join(exc.format_message().split())
    _err(f"{message} (see `{path} --help`)")
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code (0 ok, 1 error, 2 usage / verify: see the module)."""
    from federation.commands.advice import explain

    global _current
    _current = Opts()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get(ENV_DEBUG, "") not in ("", "0", "false")
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="fedstake", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.ClickException as exc:
        return _usage(exc)
    except click.Abort:
        _err("aborted")
        return 130
    except round_cmds.VerifyUnavailable as exc:
        if debug:
            traceback.print_exc()
        _err(" ".join(str(exc).split()))
        return 2
    except SystemExit as exc:  # click's EPIPE handling (output piped into `head`)
        return exc.code if isinstance(exc.code, int) else 1
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _err(explain(exc, _current))
        return 1


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is
    silent (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
