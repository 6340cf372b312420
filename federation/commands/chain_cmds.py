"""``fedstake chain …``: a local development chain (anvil with a state file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from federation.commands.common import (
    ADDRESS,
    AMOUNT,
    DURATION,
    Amount,
    CliError,
    JsonOpt,
    Output,
    WeiOpt,
    chain_url,
    env_signer,
    fmt_date,
    fmt_duration,
    opts_of,
)

app = typer.Typer(
    name="chain",
    help="A local development chain: anvil in the background, kept in a state file.",
    no_args_is_help=True,
)


@app.command("up")
def up(
    ctx: typer.Context,
    state: Annotated[
        Path | None,
        typer.Option(help="State file anvil loads and saves (default HOME/anvil-state.json)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="RPC port (default 8545, or a free one if taken).")
    ] = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Start anvil in the background; print its RPC URL and funded development accounts.

    Later commands use this chain automatically (the record is HOME/chain.json); on it
    they sign as development account 0 unless FEDSTAKE_PRIVATE_KEY / FEDSTAKE_KEYSTORE is
    set. `fedstake chain down` stops it and saves its state.
    """
    from federation.commands import localchain

    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    rec = localchain.DevChain.load(opts.home)
    already = rec is not None and rec.alive()
    if rec is None or not already:
        previous = Path(rec.state) if rec is not None else None
        state_file = state or previous or opts.home / "anvil-state.json"
        with out.status("starting anvil…"):
            rec = localchain.start(opts.home, state_file, port=port)
    assert rec is not None
    chain = localchain.DevRpcChain(rec.url)
    try:
        accounts = [
            (s.address, int(chain.w3.eth.get_balance(s.address))) for s in chain.dev_signers()
        ]
    finally:
        chain.close()
    if out.json:
        out.emit(
            {
                "url": rec.url,
                "chain_id": rec.chain_id,
                "pid": rec.pid,
                "state": rec.state,
                "already_running": already,
                "accounts": [
                    {"index": i, "address": a, "balance": str(b)}
                    for i, (a, b) in enumerate(accounts)
                ],
            }
        )
        return
    verb = "already running" if already else "up"
    out.print(
        f"local chain {verb}: {rec.url} (chain id {rec.chain_id}, anvil pid {rec.pid})",
        f"state file: {rec.state} (written when `fedstake chain down` stops it)",
    )
    out.table(
        ["#", "address", "balance"],
        [(i, a, out.eth(b)) for i, (a, b) in enumerate(accounts)],
        title="development accounts (commands sign as #0 unless a key is set)",
    )
    out.print(
        f"other shells and tools: export FEDSTAKE_CHAIN={rec.url} (keys: FEDSTAKE_PRIVATE_KEY "
        "or FEDSTAKE_KEYSTORE)"
    )
    out.next_steps("fedstake deploy")


@app.command("down")
def down(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Stop the anvil that `fedstake chain up` started (its state file is kept)."""
    from federation.commands import localchain

    opts = opts_of(ctx)
    out = Output(opts, json_)
    rec = localchain.DevChain.load(opts.home)
    if rec is None:
        raise CliError(
            f"no local chain to stop: none was started from here ({opts.home / 'chain.json'} "
            "is absent); start one with `fedstake chain up`"
        )
    stopped = localchain.stop(rec)
    localchain.DevChain.remove(opts.home)
    if out.json:
        out.emit({"stopped": stopped, "pid": rec.pid, "state": rec.state})
        return
    if stopped:
        out.print(f"stopped anvil (pid {rec.pid}); its state is in {rec.state}")
    else:
        out.print(f"anvil (pid {rec.pid}) was not running any more; forgot its record")
    out.next_steps("fedstake chain up")


@app.command("status")
def status(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Whether the `fedstake chain up` chain is running, and where."""
    from federation.commands import localchain

    opts = opts_of(ctx)
    out = Output(opts, json_)
    rec = localchain.DevChain.load(opts.home)
    running = rec is not None and rec.alive()
    if out.json:
        out.emit({"running": running, **({} if rec is None else rec.__dict__)})
        return
    if rec is None:
        out.print("no local chain started from here")
        out.next_steps("fedstake chain up")
    elif running:
        out.print(f"running: {rec.url} (anvil pid {rec.pid}), state file {rec.state}")
    else:
        out.print(f"stopped: anvil pid {rec.pid} is gone; its state is in {rec.state}")
        out.next_steps("fedstake chain up")


def _dev_chain(ctx: typer.Context) -> tuple[object, str]:
    """The chain to fund or warp: a development chain only."""
    from federation.chain import connect
    from federation.commands.localchain import DevRpcChain

    opts = opts_of(ctx)
    url = chain_url(opts)
    if url.startswith(("http://", "https://")):
        return DevRpcChain(url), url
    if url.startswith("inprocess"):
        raise CliError(
            "the embedded chain (inprocess://) dies when this command exits, so there is "
            "nothing to change: start a lasting one with `fedstake chain up`"
        )
    return connect(url, env_signer()), url


@app.command("fund")
def fund(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(click_type=ADDRESS, help="Account to fund.")],
    amount: Annotated[
        Amount,
        typer.Argument(click_type=AMOUNT, help="ETH to add (decimals allowed, or NNNwei)."),
    ] = "100",  # type: ignore[assignment]
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Give an account ETH for gas on the local chain (anvil_setBalance)."""
    out = Output(opts_of(ctx), json_, wei)
    chain, _ = _dev_chain(ctx)
    try:
        add = amount.wei(18)
        have = int(chain.w3.eth.get_balance(address))  # type: ignore[attr-defined]
        chain.set_eth_balance(address, have + add)  # type: ignore[attr-defined]
        now = int(chain.w3.eth.get_balance(address))  # type: ignore[attr-defined]
    finally:
        chain.close()  # type: ignore[attr-defined]
    if out.json:
        out.emit({"address": address, "added": str(add), "balance": str(now)})
        return
    out.print(f"{address} now holds {out.eth(now)} (+{out.eth(add)})")


@app.command("warp")
def warp(
    ctx: typer.Context,
    duration: Annotated[
        int, typer.Argument(click_type=DURATION, help="How far: 90s, 45m, 2h, 3d, 1h30m.")
    ],
    json_: JsonOpt = False,
) -> None:
    """Move the local chain's clock forward and mine a block."""
    out = Output(opts_of(ctx), json_)
    chain, _ = _dev_chain(ctx)
    try:
        chain.advance_time(duration)  # type: ignore[attr-defined]
        now = int(chain.w3.eth.get_block("latest")["timestamp"])  # type: ignore[attr-defined]
    finally:
        chain.close()  # type: ignore[attr-defined]
    if out.json:
        out.emit({"advanced": duration, "time": now})
        return
    out.print(f"moved the clock {fmt_duration(duration)} forward: chain time is {fmt_date(now)}")
