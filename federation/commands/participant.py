"""Participant commands: faucet, stake, unbond, withdraw, approve, claim, status, dispute."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from federation.commands.common import (
    ADDRESS,
    AMOUNT,
    AMOUNT0,
    Amount,
    CliError,
    JsonOpt,
    Output,
    WeiOpt,
    fmt_date,
    fmt_when,
    open_ledger,
    opts_of,
    reason_name,
    tx_json,
    warp_hint,
)
from federation.commands.roundinfo import (
    Claimable,
    dispute_ids,
    finalized_round_ids,
    round_or_fail,
    store_of,
    strikes_of,
    survey,
)
from federation.types import DisputeStatus, RoundStatus, SlashState

AmountArg = Annotated[
    Amount, typer.Argument(click_type=AMOUNT, help="Tokens (e.g. 100 or 0.5), or NNNwei.")
]
AMOUNT_CTX = {"ignore_unknown_options": True}  # so `-5` reaches the amount check


def faucet(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """Get test tokens from the local test token's faucet (rate-limited)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        before = led.token_balance()
        res = led.faucet()
        after = led.token_balance()
    out.tx(
        res,
        f"received {out.tokens(after - before)} from the faucet; balance {out.tokens(after)}",
        received=str(after - before),
        balance=str(after),
    )


def stake(
    ctx: typer.Context, amount: AmountArg, json_: JsonOpt = False, wei: WeiOpt = False
) -> None:
    """Stake tokens (approves the StakeManager first when needed); adds to an active stake."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        value = amount.wei(opts.units.decimals)
        info = led.stake_of()
        minimum = led.staking_params().min_stake
        if info.active + value < minimum:
            raise CliError(
                f"stake below the minimum: {out.tokens(info.active + value)} would be staked, "
                f"the minimum is {out.tokens(minimum)}: "
                f"`fedstake stake {_plain(minimum - info.active, opts.units.decimals)}`"
            )
        res = led.stake(value)
        now = led.stake_of()
    out.tx(
        res,
        f"staked {out.tokens(value)}: active stake {out.tokens(now.active)}",
        staked=str(value),
        active=str(now.active),
    )


def unbond(
    ctx: typer.Context,
    amount: Annotated[
        Amount | None,
        typer.Argument(click_type=AMOUNT, help="Tokens to unbond (or --all)."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Unbond the whole active stake.")] = False,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Request unbonding; withdraw after the unbonding delay.

    The tokens stay slashable until they are withdrawn."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    if (amount is None) == (not all_):
        raise CliError("give an AMOUNT or --all (not both): `fedstake unbond --all`")
    with open_ledger(opts) as led:
        info = led.stake_of()
        minimum = led.staking_params().min_stake
        if info.active == 0:
            raise CliError(
                f"{led.address} is not staked: nothing to unbond (stake with "
                "`fedstake stake AMOUNT`; `fedstake status` shows your stake)"
            )
        value = info.active if all_ else amount.wei(opts.units.decimals)  # type: ignore[union-attr]
        if value > info.active:
            raise CliError(
                f"you can unbond at most your active stake, {out.tokens(info.active)}: "
                "`fedstake unbond --all`"
            )
        rest = info.active - value
        if 0 < rest < minimum:
            raise CliError(
                f"that would leave {out.tokens(rest)} staked, below the minimum "
                f"{out.tokens(minimum)}: unbond at most {out.tokens(info.active - minimum)}, "
                "or everything with `fedstake unbond --all`"
            )
        res = led.request_unbond(value)
        now = led.stake_of()
        chain_now = led.now()
    when = fmt_when(now.unbond_release_at, chain_now)
    out.tx(
        res,
        f"unbonding {out.tokens(value)} (total unbonding {out.tokens(now.unbonding)}): "
        f"withdrawable from {when} with `fedstake withdraw`",
        unbonding=str(now.unbonding),
        release_at=now.unbond_release_at,
    )


def withdraw(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """Withdraw stake whose unbonding delay has passed."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = led.stake_of()
        if info.unbonding == 0:
            raise CliError(
                "nothing to withdraw: request unbonding first with `fedstake unbond AMOUNT`"
            )
        now = led.now()
        if now < info.unbond_release_at:
            raise CliError(
                f"unbonding not yet due: {out.tokens(info.unbonding)} releases at "
                f"{fmt_when(info.unbond_release_at, now)}; run `fedstake withdraw` then"
                + warp_hint(opts, info.unbond_release_at - now)
            )
        res = led.withdraw()
    out.tx(res, f"withdrew {out.tokens(int(res.value or 0))}", withdrawn=str(res.value or 0))


def approve(
    ctx: typer.Context,
    amount: AmountArg,
    spender: Annotated[
        str,
        typer.Option(
            "--for",
            click_type=click.Choice(["stake", "rounds"]),
            help="stake: the StakeManager (staking); rounds: the RoundManager (bond, "
            "reward pool, dispute deposits).",
        ),
    ] = "stake",
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Allow a contract to take tokens (only needed with --no-auto-approve)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        contract = led.stake_manager if spender == "stake" else led.round_manager
        value = amount.wei(opts.units.decimals)
        res = led.approve(contract.address, value)
    out.tx(
        res,
        f"{contract.name} may now take {out.tokens(value)} of yours",
        spender=contract.address,
        allowance=str(value),
    )


def _plain(wei: int, decimals: int) -> str:
    from federation.commands.common import fmt_units

    return fmt_units(wei, decimals).replace(",", "")


# -- claim -----------------------------------------------------------------------------------
ResultsOpt = Annotated[
    Path | None,
    typer.Option(
        "--results",
        help="The coordinator's artifact store directory or one round-N-results.json "
        "(default: the store named by each round's provenance record).",
    ),
]


def claim(
    ctx: typer.Context,
    rounds: Annotated[
        list[int] | None,
        typer.Argument(help="Rounds to claim (default: every claimable round)."),
    ] = None,
    results: ResultsOpt = None,
    participant: Annotated[
        str | None,
        typer.Option(
            click_type=ADDRESS, help="Claim for this address (paid to it); default: yours."
        ),
    ] = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Claim rewards: every settled round with a reward not yet claimed, at once.

    Rounds with a zero reward are skipped without a transaction."""
    from federation.commands.roundinfo import results_round

    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    explicit = list(rounds) if rounds else None
    if results is not None and not results.exists():
        raise CliError(
            f"no results file or store directory at {results}: pass the coordinator's "
            "round-N-results.json or artifact directory with `fedstake claim --results PATH`"
        )
    if results is not None and results.is_file():
        declared = results_round(results)
        if declared is not None and explicit is None:
            explicit = [declared]
    with open_ledger(opts) as led:
        who = participant or led.address
        table = survey(led, who, explicit, results, strict=explicit is not None)
        todo = [c for c in table if c.state == "claimable"]
        if not todo:
            raise CliError(_nothing_to_claim(who, table, explicit, out, opts, led.now()))
        done: list[tuple[Claimable, Any]] = []
        for c in out.progress(todo, "claiming"):
            done.append((c, led.claim(c.round_id, c.results, participant=who)))
    paid = sum(int(r.value or 0) for c, r in done if not r.already_applied)
    skipped = [c for c in table if c.state != "claimable"]
    if out.json:
        out.emit(
            {
                "participant": who,
                "claimed": [
                    {"round": c.round_id, "amount": str(c.reward), **tx_json(r)} for c, r in done
                ],
                "total": str(paid),
                "skipped": [c.to_json() for c in skipped],
            }
        )
        return
    out.table(
        ["round", "reward", "tx"],
        [(c.round_id, out.tokens(c.reward), r.tx_hash or "already claimed") for c, r in done],
        title=f"claimed for {who}",
    )
    out.print(f"total {out.tokens(paid)} in {len(done)} round(s)")
    pending = [c for c in skipped if c.state == "pending"]
    for c in pending:
        out.print(
            f"round {c.round_id}: {out.tokens(c.reward)} after it settles "
            f"({fmt_date(c.until)}): `fedstake settle {c.round_id}`, then `fedstake claim`"
        )


def _nothing_to_claim(
    who: str,
    table: list[Claimable],
    explicit: list[int] | None,
    out: Output,
    opts: Any,
    now: int,
) -> str:
    if explicit is not None and len(table) == 1:
        c = table[0]
        rid = c.round_id
        why = {
            "absent": f"{who} has no result in round {rid} (not selected, or it did not "
            f"answer): nothing to claim; `fedstake round show {rid}` lists who took part",
            "zero": f"{who} earned no reward in round {rid}: nothing to claim, no transaction "
            f"sent; `fedstake round show {rid}` shows scores and exclusions",
            "claimed": f"{who} already claimed round {rid}'s reward "
            f"({out.tokens(c.reward)}): `fedstake status` shows what is still pending",
            "pending": f"round {rid} is not settled yet: its challenge window ends "
            f"{fmt_date(c.until)}; then `fedstake settle {rid}` and claim"
            + warp_hint(opts, c.until - now),
            "voided": f"round {rid}'s result was voided by an upheld dispute: it pays no "
            f"rewards (`fedstake round show {rid}`)",
            "open": f"round {rid} is still open (not finalized): nothing to claim yet; "
            f"`fedstake round show {rid}` shows its deadlines",
            "expired": f"round {rid} expired without a result: it pays no rewards "
            f"(`fedstake round show {rid}`)",
            "no-results": f"round {rid}'s results were not found ({c.note}): pass the "
            f"coordinator's store or file with `fedstake claim {rid} --results DIR_OR_FILE`",
        }
        return why.get(c.state, f"nothing to claim in round {rid}")
    pending = [c for c in table if c.state == "pending"]
    missing = [c for c in table if c.state == "no-results"]
    text = f"nothing to claim for {who}"
    if pending:
        first = min(c.until for c in pending)
        text += (
            f": {out.tokens(sum(c.reward for c in pending))} waits for round(s) "
            f"{', '.join(str(c.round_id) for c in pending)} to settle (from {fmt_date(first)}; "
            "`fedstake settle`)"
        )
    elif missing:
        text += (
            f": the results of round(s) {', '.join(str(c.round_id) for c in missing)} were not "
            "found; pass them with `fedstake claim --results DIR_OR_FILE`"
        )
    else:
        text += ": every reward is claimed or zero; `fedstake status` shows your rounds"
    return text


# -- status ----------------------------------------------------------------------------------
def status(
    ctx: typer.Context,
    address: Annotated[
        str | None,
        typer.Argument(click_type=ADDRESS, help="Whose status (default: yours)."),
    ] = None,
    results: ResultsOpt = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Stake, unbonding with its release date, pending rewards, slashes, strikes, eligibility."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        who = address or led.address
        now = led.now()
        info = led.stake_of(who)
        params = led.staking_params()
        eligible = led.is_eligible(who)
        balance = led.token_balance(who)
        eth = int(led.chain.w3.eth.get_balance(who))
        bond = led.coordinator_info(who)
        roles = [r for r in ("admin", "coordinator", "arbiter", "pauser") if led.has_role(r, who)]
        finalized = finalized_round_ids(led)
        rows = survey(led, who, finalized, results, strict=False) if finalized else []
        slashes = [s for s in led.slash_events() if s.participant == who]
        states = {s.round_id: led.get_slash(s.round_id, who).state for s in slashes}
        strikes = None
        if finalized:
            last = led.get_round(finalized[-1])
            strikes = strikes_of(led, who, store_of(led, last, results), finalized[-1])
    if info.active == 0:
        why = "not staked"
    elif not eligible:
        why = f"active stake below the minimum {out.tokens(params.min_stake)}"
    else:
        why = ""
    claimable = [c for c in rows if c.state == "claimable"]
    pending = [c for c in rows if c.state == "pending"]
    unknown = [c for c in rows if c.state == "no-results"]
    if out.json:
        out.emit(
            {
                "address": who,
                "time": now,
                "balance": str(balance),
                "eth": str(eth),
                "stake": {
                    "active": str(info.active),
                    "unbonding": str(info.unbonding),
                    "release_at": info.unbond_release_at,
                    "withdrawable": info.unbonding > 0 and now >= info.unbond_release_at,
                },
                "min_stake": str(params.min_stake),
                "eligible": eligible,
                "ineligible_reason": why or None,
                "bond": str(bond.bond),
                "open_rounds": bond.open_rounds,
                "roles": roles,
                "rewards": {
                    "claimable": str(sum(c.reward for c in claimable)),
                    "pending_settlement": str(sum(c.reward for c in pending)),
                    "rounds": [c.to_json() for c in rows],
                },
                "slashes": [
                    {
                        "round": s.round_id,
                        "reason": reason_name(s.reason),
                        "bps": s.slash_bps,
                        "amount": str(s.amount),
                        "state": states[s.round_id].name.lower(),
                    }
                    for s in slashes
                ],
                "strikes": None
                if strikes is None
                else {
                    reason_name(r): {"rounds": v, "needed": strikes.needed.get(r)}
                    for r, v in strikes.by_reason.items()
                },
            }
        )
        return
    release = "-"
    if info.unbonding:
        release = (
            "withdrawable now: `fedstake withdraw`"
            if now >= info.unbond_release_at
            else f"releases {fmt_when(info.unbond_release_at, now)}"
        )
    out.fields(
        [
            ("address", who),
            ("tokens", f"{out.tokens(balance)} (gas: {out.eth(eth)})"),
            ("stake", f"{out.tokens(info.active)} active (minimum {out.tokens(params.min_stake)})"),
            ("unbonding", f"{out.tokens(info.unbonding)}  {release}" if info.unbonding else "-"),
            ("eligible", "yes" if eligible else f"no, {why} (jailed from rounds)"),
            (
                "rewards",
                f"{out.tokens(sum(c.reward for c in claimable))} claimable"
                + (
                    f", {out.tokens(sum(c.reward for c in pending))} after settlement"
                    if pending
                    else ""
                ),
            ),
            (
                "bond",
                f"{out.tokens(bond.bond)} ({bond.open_rounds} open rounds)" if bond.bond else "-",
            ),
            ("roles", ", ".join(roles) or "-"),
        ],
        title=f"status at {fmt_date(now)}",
    )
    shown = [c for c in rows if c.state in ("claimable", "pending", "claimed")]
    if shown:
        out.table(
            ["round", "reward", "state"],
            [(c.round_id, out.tokens(c.reward), _state_text(c)) for c in shown],
            title="rewards",
        )
    if unknown:
        out.print(
            f"rewards of round(s) {', '.join(str(c.round_id) for c in unknown)} unknown: their "
            "results were not found (pass --results DIR_OR_FILE)"
        )
    if slashes:
        out.table(
            ["round", "reason", "amount", "state"],
            [
                (
                    s.round_id,
                    reason_name(s.reason),
                    f"{out.tokens(s.amount)} ({s.slash_bps / 100:g} %)",
                    _slash_state(states[s.round_id]),
                )
                for s in slashes
            ],
            title="slashes",
        )
    else:
        out.print("slashes: none")
    if strikes is None:
        out.print("strikes: unknown (the coordinator's artifact store was not found)")
    elif not strikes.by_reason:
        out.print(f"strikes: none (from {strikes.source})")
    else:
        parts = [
            f"{reason_name(r)} {len(v)}/{strikes.needed.get(r, '?')} "
            f"(rounds {', '.join(map(str, v))})"
            for r, v in sorted(strikes.by_reason.items())
        ]
        out.print(
            f"strikes: {'; '.join(parts)} (from {strikes.source}; a slash follows at the limit)"
        )
    if claimable:
        out.next_steps("fedstake claim")


def _state_text(c: Claimable) -> str:
    if c.state == "pending":
        return f"after settlement ({fmt_date(c.until)})"
    return {"claimable": "claimable: `fedstake claim`", "claimed": "claimed"}.get(c.state, c.state)


def _slash_state(s: SlashState) -> str:
    return {
        SlashState.LOCKED: "locked (disputable in the challenge window)",
        SlashState.DISPUTED: "disputed (the arbiter decides)",
        SlashState.REVERTED: "reverted (dispute upheld)",
        SlashState.CONFIRMED: "confirmed",
    }.get(s, s.name.lower())


# -- disputes --------------------------------------------------------------------------------
class DisputeGroup(TyperGroup):
    """`fedstake dispute ROUND` is short for `fedstake dispute slash ROUND`."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0].isdigit():
            args = ["slash", *args]
        return super().resolve_command(ctx, args)


dispute_app = typer.Typer(
    name="dispute",
    cls=DisputeGroup,
    no_args_is_help=True,
    help="Disputes: `fedstake dispute ROUND` disputes your slash in ROUND (with a deposit); "
    "the arbiter resolves with `fedstake dispute resolve ID --uphold|--reject`.",
)

DepositOpt = Annotated[
    Amount | None,
    typer.Option(click_type=AMOUNT, help="Deposit (default: the minimum dispute deposit)."),
]


def _deposit(led: Any, deposit: Amount | None, out: Output, round_id: int, verb: str) -> int:
    minimum = led.round_config().min_dispute_deposit
    if deposit is None:
        return int(minimum)
    value = deposit.wei(out.units.decimals)
    if value < minimum:
        plain = _plain(minimum, out.units.decimals)
        raise CliError(
            f"the dispute deposit must be at least {out.tokens(minimum)}: "
            f"`fedstake dispute {verb}{round_id} --deposit {plain}`"
        )
    return value


@dispute_app.command("slash", context_settings=AMOUNT_CTX)
def dispute_slash(
    ctx: typer.Context,
    round_id: Annotated[
        int, typer.Argument(metavar="ROUND", help="The round you were slashed in.")
    ],
    deposit: DepositOpt = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Dispute your own slash in ROUND (within its challenge window), with a deposit.

    Upheld: the slash is reverted and the deposit returned; rejected: the deposit is lost.
    Check the round first with `fedstake verify ROUND`."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = round_or_fail(led, round_id)
        me = led.address
        mine = [s for s in led.slash_events(round_id) if s.participant == me]
        if not mine:
            raise CliError(
                f"{me} was not slashed in round {round_id}: nothing to dispute "
                f"(`fedstake round show {round_id}` lists its slashes)"
            )
        now = led.now()
        if info.status != RoundStatus.FINALIZED or now > info.challenge_deadline:
            raise CliError(
                f"round {round_id}'s challenge window closed at {fmt_date(info.challenge_deadline)}"
                f": the slash can no longer be disputed (`fedstake round show {round_id}`)"
            )
        state = led.get_slash(round_id, me).state
        if state != SlashState.LOCKED:
            raise CliError(
                f"your slash in round {round_id} is already {state.name.lower()}: "
                f"`fedstake dispute list --round {round_id}` shows its dispute"
            )
        amount = _deposit(led, deposit, out, round_id, "")
        res = led.dispute_slash(round_id, amount)
    out.tx(
        res,
        f"dispute {res.value} opened against your {reason_name(mine[0].reason)} slash of "
        f"{out.tokens(mine[0].amount)} in round {round_id} (deposit {out.tokens(amount)}); "
        f"the arbiter decides with `fedstake dispute resolve {res.value} --uphold|--reject`",
        dispute=res.value,
        round=round_id,
        deposit=str(amount),
    )


@dispute_app.command("result", context_settings=AMOUNT_CTX)
def dispute_result(
    ctx: typer.Context,
    round_id: Annotated[int, typer.Argument(metavar="ROUND")],
    deposit: DepositOpt = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Dispute a round's whole result (anyone, within the challenge window), with a deposit.

    Upheld: the round's rewards are voided and the budget returns to the pool."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = round_or_fail(led, round_id)
        if info.status != RoundStatus.FINALIZED or led.now() > info.challenge_deadline:
            raise CliError(
                f"round {round_id} is {info.status.name.lower()} and its challenge window is "
                f"closed or not open: nothing to dispute (`fedstake round show {round_id}`)"
            )
        amount = _deposit(led, deposit, out, round_id, "result ")
        res = led.dispute_result(round_id, amount)
    out.tx(
        res,
        f"dispute {res.value} opened against round {round_id}'s result "
        f"(deposit {out.tokens(amount)})",
        dispute=res.value,
        round=round_id,
        deposit=str(amount),
    )


@dispute_app.command("resolve", context_settings=AMOUNT_CTX)
def dispute_resolve(
    ctx: typer.Context,
    dispute_id: Annotated[int, typer.Argument(metavar="ID", help="Dispute id.")],
    uphold: Annotated[
        bool | None,
        typer.Option(
            "--uphold/--reject",
            help="Uphold (revert the slash / void the result) or reject (keep the deposit).",
            show_default=False,
        ),
    ] = None,
    compensation: Annotated[
        Amount,
        typer.Option(click_type=AMOUNT0, help="Paid from the coordinator's bond when upheld."),
    ] = "0",  # type: ignore[assignment]
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Resolve a dispute (arbiter): --uphold or --reject."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    if uphold is None:
        raise CliError(
            f"say how to resolve it: `fedstake dispute resolve {dispute_id} --uphold` or --reject"
        )
    with open_ledger(opts) as led:
        d = led.get_dispute(dispute_id)
        if d.status == DisputeStatus.NONE:
            raise CliError(f"no such dispute {dispute_id}: `fedstake dispute list` shows them")
        res = led.resolve_dispute(dispute_id, uphold, compensation.wei(opts.units.decimals))
        after = led.get_dispute(dispute_id)
    out.tx(
        res,
        f"dispute {dispute_id} (round {d.round_id}, {d.kind.name.lower()}): "
        f"{after.status.name.lower()}",
        dispute=dispute_id,
        status=after.status.name.lower(),
    )


@dispute_app.command("list")
def dispute_list(
    ctx: typer.Context,
    round_id: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Disputes with their round, kind, disputer, deposit and status."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        rows = [led.get_dispute(i) for i in dispute_ids(led, round_id)]
    if out.json:
        out.emit([dispute_json(d) for d in rows])
        return
    if not rows:
        out.print("no disputes" + (f" in round {round_id}" if round_id else ""))
        return
    out.table(
        ["id", "round", "kind", "status", "disputer", "participant", "deposit"],
        [
            (
                d.dispute_id,
                d.round_id,
                d.kind.name.lower(),
                d.status.name.lower(),
                d.disputer,
                d.participant if d.kind.name == "SLASH" else "-",
                out.tokens(d.deposit),
            )
            for d in rows
        ],
    )


def dispute_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.dispute_id,
        "round": d.round_id,
        "kind": d.kind.name.lower(),
        "status": d.status.name.lower(),
        "disputer": d.disputer,
        "participant": d.participant,
        "deposit": str(d.deposit),
        "slash_amount": str(d.slash_amount),
    }
