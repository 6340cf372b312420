"""``fedstake governance status|accept-admin`` and ``fedstake treasury show|claim``.

The deploy schedules the governance timelock's acceptance of the admin role; once its delay
has passed, ``governance accept-admin`` executes it (the admin key is the timelock's
executor). The treasury's share of settled slashes is pulled, never pushed, so a treasury
that cannot receive never blocks a settlement: ``treasury claim`` pulls it.
"""

from __future__ import annotations

import typer

from federation.commands.common import (
    CliError,
    JsonOpt,
    Output,
    WeiOpt,
    fmt_duration,
    fmt_when,
    open_ledger,
    opts_of,
    warp_hint,
)
from federation.commands.coordinator import governance_json

governance_app = typer.Typer(
    name="governance",
    help="The governance timelock that administers the contracts (upgrades, role grants, "
    "RoundManager switch): its status, and accepting the admin role once due.",
    no_args_is_help=True,
)
treasury_app = typer.Typer(
    name="treasury",
    help="The treasury's share of settled slashes: what it is owed, and pulling it.",
    no_args_is_help=True,
)


@governance_app.command("status")
def governance_status(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Who administers each contract, the timelock's delay and the pending admin transfer."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        gov = led.governance_info()
        now = led.now()
    if out.json:
        out.emit(governance_json(gov))
        return
    if gov.timelock is None:
        raise CliError(
            "this deployment has no governance timelock (it predates them): redeploy with "
            "`fedstake deploy --force`"
        )
    op = gov.accept_operation
    if gov.timelocked:
        state = "done: the timelock administers every contract"
    elif op is not None and op.ready_at > 1:
        state = f"scheduled, executable from {fmt_when(op.ready_at, now)}"
    else:
        state = "not scheduled"
    out.fields(
        [
            ("timelock", gov.timelock),
            (
                "timelock delay",
                f"{fmt_duration(gov.min_delay)} (unbonding delay "
                f"{fmt_duration(gov.unbonding_delay)})",
            ),
            *[
                (
                    a.contract,
                    f"admin {a.admin}"
                    + (f"; pending {a.pending_admin}" if a.pending_admin else ""),
                )
                for a in gov.admins
            ],
            ("admin transfer", state),
        ],
        title="governance",
    )
    if not gov.timelocked and op is not None and op.ready_at > 1 and now >= op.ready_at:
        out.next_steps("fedstake governance accept-admin")


@governance_app.command("accept-admin")
def accept_admin(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Execute the deploy's scheduled batch: the timelock accepts the admin role of every
    contract (run with the admin key once the delay has passed)."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        gov = led.governance_info()
        op = gov.accept_operation
        now = led.now()
        if op is None or op.ready_at == 0:
            raise CliError(
                "no admin transfer to a timelock is scheduled on this deployment: redeploy "
                "with `fedstake deploy --force`"
            )
        if not op.done and now < op.ready_at:
            raise CliError(
                f"the timelock can accept the admin role from {fmt_when(op.ready_at, now)}: run "
                "`fedstake governance accept-admin` then" + warp_hint(opts, op.ready_at - now)
            )
        res = led.accept_admin()
        after = led.governance_info()
    out.tx(
        res,
        f"the timelock {after.timelock} administers "
        + ", ".join(a.contract for a in after.admins if a.admin == after.timelock)
        + f": upgrades and role grants now wait {fmt_duration(after.min_delay)}",
        timelock=after.timelock,
        timelocked=after.timelocked,
    )


@treasury_app.command("show")
def treasury_show(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """The treasury's address and what settled slashes owe it."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        treasury = led.round_config().treasury
        owed = led.treasury_owed()
    if out.json:
        out.emit({"treasury": treasury, "owed": str(owed)})
        return
    out.print(f"treasury {treasury} is owed {out.tokens(owed)}")
    if owed:
        out.next_steps("fedstake treasury claim")


@treasury_app.command("claim")
def treasury_claim(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """Pull the treasury's share of settled slashes (only the treasury's key)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        treasury = led.round_config().treasury
        if treasury != led.address:
            raise CliError(
                f"{led.address} is not the treasury ({treasury}): run `fedstake treasury claim` "
                "with the treasury's key (FEDSTAKE_PRIVATE_KEY or FEDSTAKE_KEYSTORE)"
            )
        owed = led.treasury_owed()
        if owed == 0:
            raise CliError(
                "the treasury is owed nothing now: settled rounds with slashes add to it "
                "(`fedstake treasury show`)"
            )
        res = led.claim_treasury()
    out.tx(res, f"the treasury pulled {out.tokens(int(res.value or 0))}", claimed=str(res.value))
