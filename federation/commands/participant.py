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
    release = int(res.value or now.unbond_release_at)
    out.tx(
        res,
        f"unbonding {out.tokens(value)} (total unbonding {out.tokens(now.unbonding)}): this "
        f"request is withdrawable from {fmt_when(release, chain_now)} with `fedstake withdraw` "
        "(each request keeps its own release time)",
        unbonding=str(now.unbonding),
        release_at=release,
        requests=[requests_json(r, chain_now) for r in now.requests or ()],
    )


def requests_json(r: Any, now: int) -> dict[str, Any]:
    """One unbond request for --json output."""
    return {"amount": str(r.amount), "release_at": r.release_at, "released": r.release_at <= now}


def withdraw(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """Withdraw stake whose unbonding delay has passed."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = led.stake_of()
        if not info.requests:
            raise CliError(
                "nothing to withdraw: request unbonding first with `fedstake unbond AMOUNT`"
            )
        now = led.now()
        if info.withdrawable_at(now) == 0:
            first = min(info.requests, key=lambda r: r.release_at)
            raise CliError(
                f"unbonding not yet due: the earliest request ({out.tokens(first.amount)} of "
                f"{out.tokens(info.unbonding)}) releases at {fmt_when(first.release_at, now)}; "
                "run `fedstake withdraw` then" + warp_hint(opts, first.release_at - now)
            )
        res = led.withdraw()
        left = led.stake_of()
    pending = ""
    if left.requests:
        nxt = min(r.release_at for r in left.requests)
        pending = f"; {out.tokens(left.unbonding)} still unbonding (next release {fmt_date(nxt)})"
    out.tx(
        res,
        f"withdrew {out.tokens(int(res.value or 0))}{pending}",
        withdrawn=str(res.value or 0),
        unbonding=str(left.unbonding),
    )


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
            "cancelled": f"round {rid} was cancelled: it pays no rewards "
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
    """Stake, each unbond request with its release date, pending rewards, slashes, strikes,
    jail and eligibility (from which round)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        who = address or led.address
        now = led.now()
        info = led.stake_of(who)
        params = led.staking_params()
        next_round = led.next_round_id()
        eligible = led.is_eligible(who)
        jail = led.jail_policy()
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
    jailed = info.jailed_until_round >= next_round
    if info.active == 0:
        why = "not staked"
    elif jailed:
        why = (
            f"jailed by its slash in round {info.jailed_from_round}: eligible from round "
            f"{info.eligible_from_round()}"
        )
    elif not eligible:
        why = f"active stake below the minimum {out.tokens(params.min_stake)}"
    else:
        why = ""
    requests = list(info.requests or ())
    withdrawable = info.withdrawable_at(now)
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
                    "withdrawable": str(withdrawable),
                    "requests": [requests_json(r, now) for r in requests],
                },
                "min_stake": str(params.min_stake),
                "eligible": eligible,
                "ineligible_reason": why or None,
                "next_round": next_round,
                "jail": {
                    "strikes": info.strikes,
                    "strikes_to_jail": jail.strikes_to_jail,
                    "jail_rounds": jail.jail_rounds,
                    "jailed": jailed,
                    "jailed_from_round": info.jailed_from_round,
                    "jailed_until_round": info.jailed_until_round,
                    "eligible_from_round": max(info.eligible_from_round(), next_round),
                },
                "bond": str(bond.bond),
                "open_rounds": bond.open_rounds,
                "locked_budget": str(bond.locked_budget),
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
                        "kind": "provable" if s.provable else "judged",
                        "bps": s.slash_bps,
                        "amount": str(s.amount),
                        "from_unbonding": str(s.from_unbonding),
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
    unbonding = "-"
    if requests:
        unbonding = f"{out.tokens(info.unbonding)} in {len(requests)} request(s)" + (
            f", {out.tokens(withdrawable)} withdrawable now: `fedstake withdraw`"
            if withdrawable
            else ""
        )
    k = jail.strikes_to_jail
    out.fields(
        [
            ("address", who),
            ("tokens", f"{out.tokens(balance)} (gas: {out.eth(eth)})"),
            ("stake", f"{out.tokens(info.active)} active (minimum {out.tokens(params.min_stake)})"),
            ("unbonding", unbonding),
            ("eligible", f"yes, for round {next_round}" if eligible else f"no, {why}"),
            (
                "strikes",
                f"{info.strikes}/{k} judged slashes (jail for {jail.jail_rounds} rounds at {k})"
                if k
                else f"{info.strikes} (judged slashes never jail here)",
            ),
            (
                "jail",
                f"jailed for rounds {info.jailed_from_round}–{info.jailed_until_round}: "
                f"eligible from round {info.eligible_from_round()}"
                if jailed
                else "not jailed",
            ),
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
    if requests:
        out.table(
            ["unbond request", "amount", "releases"],
            [
                (
                    i + 1,
                    out.tokens(r.amount),
                    "withdrawable now" if r.release_at <= now else fmt_when(r.release_at, now),
                )
                for i, r in enumerate(sorted(requests, key=lambda r: r.release_at))
            ],
            title="unbonding (each request keeps its own release time)",
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
            ["round", "reason", "kind", "amount", "state"],
            [
                (
                    s.round_id,
                    reason_name(s.reason),
                    "provable" if s.provable else "judged",
                    f"{out.tokens(s.amount)} ({s.slash_bps / 100:g} %)",
                    _slash_state(states[s.round_id], s.provable),
                )
                for s in slashes
            ],
            title="slashes",
        )
    else:
        out.print("slashes: none")
    if strikes is None:
        out.print(
            "flags toward a slash (coordinator policy): unknown (the coordinator's artifact "
            "store was not found)"
        )
    elif not strikes.by_reason:
        out.print(f"flags toward a slash (coordinator policy): none (from {strikes.source})")
    else:
        parts = [
            f"{reason_name(r)} {len(v)}/{strikes.needed.get(r, '?')} "
            f"(rounds {', '.join(map(str, v))})"
            for r, v in sorted(strikes.by_reason.items())
        ]
        out.print(
            f"flags toward a slash (coordinator policy): {'; '.join(parts)} (from "
            f"{strikes.source}; a slash follows at the limit)"
        )
    if claimable:
        out.next_steps("fedstake claim")


def _state_text(c: Claimable) -> str:
    if c.state == "pending":
        return f"after settlement ({fmt_date(c.until)})"
    return {"claimable": "claimable: `fedstake claim`", "claimed": "claimed"}.get(c.state, c.state)


def _slash_state(s: SlashState, provable: bool = False) -> str:
    if s == SlashState.LOCKED and provable:
        return "locked (proven on-chain: not disputable)"
    return {
        SlashState.LOCKED: "locked (disputable in the challenge window)",
        SlashState.DISPUTED: "disputed (the arbiter decides before the dispute deadline)",
        SlashState.REVERTED: "reverted (returned where it was taken from)",
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
    help="Disputes: `fedstake dispute ROUND` disputes your judged slash in ROUND (with a "
    "deposit); the arbiter resolves with `fedstake dispute resolve ID --uphold|--reject` "
    "before the round's dispute deadline; after it anyone applies the default outcome with "
    "`fedstake dispute timeout ID`.",
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
    """Dispute your own judged slash in ROUND (within its challenge window), with a deposit.

    Upheld: the slash returns where it was taken from and the deposit comes back; rejected:
    the deposit goes to the reward pool; undecided by the round's dispute deadline: the
    slash is reverted and the coordinator's bond pays you compensation. A provable slash
    (checked on-chain at finalize) cannot be disputed. Check the round first with
    `fedstake verify ROUND`."""
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
        if mine[0].provable:
            raise CliError(
                f"your {reason_name(mine[0].reason)} slash in round {round_id} was proven "
                "on-chain at finalize (a provable fault): it cannot be disputed "
                f"(`fedstake round show {round_id}`)"
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
        f"the arbiter decides by {fmt_date(info.dispute_deadline)}, else its default applies "
        f"(slash reverted, compensation from the bond): `fedstake dispute timeout {res.value}`",
        dispute=res.value,
        round=round_id,
        deposit=str(amount),
        resolve_by=info.dispute_deadline,
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

    Upheld: the round's rewards are voided and the budget returns to the pool. Undecided by
    the dispute deadline: the result stands and the deposit comes back, so a cheap dispute
    can delay a round's settlement by at most the dispute window and never void it."""
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
        f"(deposit {out.tokens(amount)}); the arbiter decides by "
        f"{fmt_date(info.dispute_deadline)}, else the result stands and the deposit returns",
        dispute=res.value,
        round=round_id,
        deposit=str(amount),
        resolve_by=info.dispute_deadline,
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
    """Resolve a dispute (arbiter, never the round's coordinator), before the round's dispute
    deadline: --uphold or --reject."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    if uphold is None:
        raise CliError(
            f"say how to resolve it: `fedstake dispute resolve {dispute_id} --uphold` or --reject"
        )
    with open_ledger(opts) as led:
        d = _dispute_or_fail(led, dispute_id)
        if d.status == DisputeStatus.OPEN:
            info = led.get_round(d.round_id)
            if info.coordinator == led.address:
                raise CliError(
                    f"{led.address} coordinates round {d.round_id}, so it cannot decide its "
                    "disputes: another arbiter must, or after the dispute deadline "
                    f"({fmt_date(d.resolve_by)}) anyone applies the default outcome with "
                    f"`fedstake dispute timeout {dispute_id}`"
                )
            if d.resolve_by and led.now() > d.resolve_by:
                raise CliError(
                    f"dispute {dispute_id}'s deadline passed at {fmt_date(d.resolve_by)}: the "
                    f"arbiter can no longer decide; `fedstake dispute timeout {dispute_id}` "
                    f"applies its default ({d.default_outcome})"
                )
        res = led.resolve_dispute(dispute_id, uphold, compensation.wei(opts.units.decimals))
        after = led.get_dispute(dispute_id)
    out.tx(
        res,
        f"dispute {dispute_id} (round {d.round_id}, {d.kind.name.lower()}): "
        f"{_status_name(after.status)}",
        dispute=dispute_id,
        status=after.status.name.lower(),
    )


@dispute_app.command("timeout")
def dispute_timeout(
    ctx: typer.Context,
    dispute_id: Annotated[int, typer.Argument(metavar="ID", help="Dispute id.")],
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Apply an undecided dispute's default outcome after its round's dispute deadline
    (anyone): a slash dispute reverts the slash and pays compensation from the
    coordinator's bond; a result dispute leaves the result standing. Both return the
    deposit; a dispute over a cancelled round is refunded at once."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        d = _dispute_or_fail(led, dispute_id)
        now = led.now()
        if d.status == DisputeStatus.OPEN and not d.timeout_due(now):
            raise CliError(
                f"dispute {dispute_id} can be timed out only after round {d.round_id}'s dispute "
                f"deadline {fmt_when(d.resolve_by, now)}; until then the arbiter decides it. "
                f"Run `fedstake dispute timeout {dispute_id}` then"
                + warp_hint(opts, d.resolve_by - now)
            )
        if d.status != DisputeStatus.OPEN:
            raise CliError(
                f"dispute {dispute_id} is already {_status_name(d.status)}: nothing to time "
                "out (`fedstake dispute list`)"
            )
        res = led.timeout_dispute(dispute_id)
        after = led.get_dispute(dispute_id)
        bond_paid = _compensation(led, res)
    out.tx(
        res,
        f"dispute {dispute_id} (round {d.round_id}, {d.kind.name.lower()}): "
        f"{_status_name(after.status)}: {d.default_outcome}"
        + (f" ({out.tokens(bond_paid)} compensation)" if bond_paid else ""),
        dispute=dispute_id,
        status=after.status.name.lower(),
        compensation=str(bond_paid),
    )


def _compensation(led: Any, res: Any) -> int:
    if res.receipt is None:
        return 0
    ev = led.round_manager.events_in(res.receipt, "DisputeTimedOut")
    return int(ev[0]["compensation"]) if ev else 0


def _dispute_or_fail(led: Any, dispute_id: int) -> Any:
    count = led.dispute_count()
    if not 1 <= dispute_id <= count:
        have = f"1–{count} exist" if count else "none has been opened"
        raise CliError(f"no such dispute {dispute_id} ({have}): `fedstake dispute list` shows them")
    return led.get_dispute(dispute_id)


def _status_name(status: DisputeStatus) -> str:
    return status.name.lower().replace("_", " ")


@dispute_app.command("list")
def dispute_list(
    ctx: typer.Context,
    round_id: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open disputes.")] = False,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Disputes with their round, kind, status, deposit, deadline and default outcome."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        rows = led.list_disputes(round_id, open_only=open_only)
        now = led.now()
    if out.json:
        out.emit([dispute_json(d, now) for d in rows])
        return
    if not rows:
        out.print("no disputes" + (f" in round {round_id}" if round_id else ""))
        return
    out.table(
        ["id", "round", "kind", "status", "by", "deposit", "decide by", "if undecided"],
        [
            (
                d.dispute_id,
                d.round_id,
                d.kind.name.lower(),
                _status_name(d.status),
                d.participant if d.kind.name == "SLASH" else d.disputer,
                out.tokens(d.deposit),
                _deadline_text(d, now),
                d.default_outcome if d.status == DisputeStatus.OPEN else "-",
            )
            for d in rows
        ],
        title=f"disputes (chain time {fmt_date(now)})",
    )
    due = [d for d in rows if d.timeout_due(now)]
    if due:
        out.next_steps(*(f"fedstake dispute timeout {d.dispute_id}" for d in due))


def _deadline_text(d: Any, now: int) -> str:
    if d.status != DisputeStatus.OPEN:
        return "-"
    if d.round_cancelled:
        return "round cancelled: refund due"
    if d.timeout_due(now):
        return f"passed {fmt_when(d.resolve_by, now)}: default due"
    return fmt_when(d.resolve_by, now)


def dispute_json(d: Any, now: int | None = None) -> dict[str, Any]:
    doc = {
        "id": d.dispute_id,
        "round": d.round_id,
        "kind": d.kind.name.lower(),
        "status": d.status.name.lower(),
        "disputer": d.disputer,
        "participant": d.participant,
        "deposit": str(d.deposit),
        "slash_amount": str(d.slash_amount),
        "from_unbonding": str(d.from_unbonding),
        "resolve_by": d.resolve_by,
        "default_outcome": d.default_outcome,
    }
    if now is not None:
        doc["timeout_due"] = d.timeout_due(now)
    return doc
