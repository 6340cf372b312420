"""Coordinator and admin commands: deploy, fund, bond, unbond-bond, settle, pause, unpause,
registry lineage, role grant/revoke/list, info, history."""

from __future__ import annotations

from typing import Annotated, Any

import click
import typer

from federation.commands.common import (
    ADDRESS,
    AMOUNT,
    DURATION,
    ROLE_NAMES,
    Amount,
    CliError,
    JsonOpt,
    Output,
    WeiOpt,
    chain_url,
    connect_chain,
    env_signer,
    fmt_date,
    fmt_duration,
    fmt_when,
    hex32,
    open_ledger,
    opts_of,
    reason_name,
    short,
    tx_json,
    units_of,
    warp_hint,
)
from federation.commands.participant import AmountArg
from federation.commands.roundinfo import finalized_round_ids, round_or_fail
from federation.types import RoundStatus


# -- deploy ----------------------------------------------------------------------------------
def deploy(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option(
            click_type=ADDRESS,
            help="An existing ERC-20 to stake (default: a new test token with a faucet).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing deployment file.")
    ] = False,
    min_stake: Annotated[
        Amount, typer.Option(click_type=AMOUNT, help="Minimum stake of a participant.")
    ] = "10",  # type: ignore[assignment]
    round_duration: Annotated[
        int, typer.Option(click_type=DURATION, help="Longest a round may stay open.")
    ] = "1h",  # type: ignore[assignment]
    challenge_window: Annotated[
        int, typer.Option(click_type=DURATION, help="Time to dispute a finalized round.")
    ] = "1h",  # type: ignore[assignment]
    dispute_window: Annotated[
        int,
        typer.Option(
            click_type=DURATION,
            help="Time after the challenge window for the arbiter to decide disputes.",
        ),
    ] = "1h",  # type: ignore[assignment]
    dispute_deposit: Annotated[
        Amount, typer.Option(click_type=AMOUNT, help="Minimum dispute deposit.")
    ] = "10",  # type: ignore[assignment]
    coordinator: Annotated[
        list[str] | None,
        typer.Option(
            click_type=ADDRESS,
            help="Coordinator account (repeatable; default: the deployer, development chains "
            "only).",
        ),
    ] = None,
    arbiter: Annotated[
        list[str] | None,
        typer.Option(
            click_type=ADDRESS,
            help="Arbiter account (repeatable; default: the deployer, development chains only).",
        ),
    ] = None,
    treasury: Annotated[
        str | None,
        typer.Option(
            click_type=ADDRESS,
            help="Treasury (pulls its share of slashes; default: the deployer, development "
            "chains only).",
        ),
    ] = None,
    admin_delay: Annotated[
        int,
        typer.Option(click_type=DURATION, help="Delay before a new admin can take over."),
    ] = "1d",  # type: ignore[assignment]
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Deploy the contracts and write the deployment file (--deployment).

    Admin, coordinator, arbiter and treasury should be distinct keys: on a development chain
    coinciding ones get a loud warning, elsewhere they are an error. The admin role passes
    to a governance timelock (longer than the unbonding delay) once
    `fedstake governance accept-admin` runs after its delay. Refuses to replace an existing
    deployment file without --force. On the embedded chain (inprocess://) the contracts die
    with this command: use `fedstake chain up` first."""
    from dataclasses import replace

    from federation.deploy import default_config
    from federation.deployment import Deployment
    from federation.errors import ConfigError
    from federation.ledger import Ledger

    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    dep = opts.deployment
    if dep.exists() and not force:
        try:
            old = Deployment.load(dep)
            what = f"a deployment on chain id {old.chain_id}"
        except Exception:
            what = "a file"
        raise CliError(
            f"{dep} already exists ({what}): pass --force to replace it, or write another "
            f"file with `fedstake --deployment NEW.json deploy`"
        )
    url = chain_url(opts)
    if url.startswith("inprocess"):
        out.warn(
            f"inprocess:// is an embedded chain that dies when this command exits: {dep} "
            "will name contracts that no longer exist, and later commands cannot use it. "
            "For a chain that lasts, run `fedstake chain up` first (or use --chain "
            "anvil://?state=FILE)."
        )
    signer = env_signer()
    chain = connect_chain(opts, signer)
    try:
        admin = signer or chain.default_signer()
        if admin is None:
            raise CliError(
                "deploying needs a key: set FEDSTAKE_PRIVATE_KEY, or FEDSTAKE_KEYSTORE to a "
                "keystore from `fedstake key new FILE`"
            )
        decimals = 18 if token is None else _decimals(chain, token)
        cfg = replace(
            default_config(treasury or admin.address),
            max_round_duration=round_duration,
            challenge_window=challenge_window,
            dispute_window=dispute_window,
            min_dispute_deposit=dispute_deposit.wei(decimals),
        )
        warnings: list[str] = []
        with out.status("deploying the token, fault verifier, 3 proxies, timelock and roles…"):
            try:
                ledger = Ledger.deploy(
                    chain,
                    admin=admin,
                    token=token,
                    config=cfg,
                    min_stake=min_stake.wei(decimals),
                    coordinators=tuple(coordinator or ()),
                    arbiters=tuple(arbiter or ()),
                    treasury=treasury,
                    admin_delay=admin_delay,
                    out=dep,
                    warn=warnings.append,
                )
            except ConfigError as exc:
                raise CliError(str(exc)) from None
        for text in warnings:
            out.warn(text)
        opts.units = units_of(ledger)
        d = ledger.deployment
        params = ledger.staking_params()
        gov = ledger.governance_info()
    finally:
        chain.close()
    accept = gov.accept_operation
    doc = {
        "deployment": str(dep),
        "chain": chain.url,
        "chain_id": d.chain_id,
        "admin": admin.address,
        "contracts": dict(d.contracts),
        "token": d.token,
        "local_token": d.local_token,
        "deploy_block": d.deploy_block,
        "abi_version": d.abi_version,
        "min_stake": str(params.min_stake),
        "unbonding_delay": params.unbonding_delay,
        "challenge_window": cfg.challenge_window,
        "dispute_window": cfg.dispute_window,
        "max_round_duration": cfg.max_round_duration,
        "min_dispute_deposit": str(cfg.min_dispute_deposit),
        "coordinators": list(coordinator or [admin.address]),
        "arbiters": list(arbiter or [admin.address]),
        "treasury": cfg.treasury,
        "timelock": gov.timelock,
        "timelock_delay": gov.min_delay,
        "admin_delay": admin_delay,
        "accept_admin_at": None if accept is None else accept.ready_at,
        "warnings": warnings,
    }
    if out.json:
        out.emit(doc)
        return
    out.print(f"deployed fedstake on chain id {d.chain_id} ({chain.url}); wrote {dep}")
    out.table(
        ["contract", "address"],
        [*d.contracts.items(), (f"token ({opts.units.symbol})", d.token)],
    )
    out.print(
        f"admin (until the timelock accepts it), pauser: {admin.address}; coordinator: "
        f"{', '.join(doc['coordinators'])}; arbiter: {', '.join(doc['arbiters'])}; "
        f"treasury: {cfg.treasury}",
        f"minimum stake {out.tokens(params.min_stake)}, unbonding delay "
        f"{fmt_duration(params.unbonding_delay)}, challenge window "
        f"{fmt_duration(cfg.challenge_window)}, dispute window "
        f"{fmt_duration(cfg.dispute_window)}, dispute deposit "
        f"{out.tokens(cfg.min_dispute_deposit)}",
        f"governance: timelock {gov.timelock} (delay {fmt_duration(gov.min_delay)}) takes the "
        f"admin role from {fmt_date(accept.ready_at) if accept else '-'}: run "
        "`fedstake governance accept-admin` then",
    )
    out.next_steps("fedstake bond 200", "fedstake fund 100")


def _decimals(chain: Any, token: str) -> int:
    from federation.deploy import load_abis

    try:
        contract = chain.w3.eth.contract(address=token, abi=load_abis()["token"])
        return int(contract.functions.decimals().call())
    except Exception:
        raise CliError(
            f"{token} does not answer decimals() on this chain: pass the address of an ERC-20 "
            "deployed here (`fedstake deploy --token ADDRESS`), or omit --token for a test token"
        ) from None


# -- pool and bond ---------------------------------------------------------------------------
def fund(
    ctx: typer.Context, amount: AmountArg, json_: JsonOpt = False, wei: WeiOpt = False
) -> None:
    """Fund the reward pool that round budgets are paid from."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        value = amount.wei(opts.units.decimals)
        res = led.fund_reward_pool(value)
        pool = led.pool_info().reward_pool
    out.tx(
        res,
        f"funded the reward pool with {out.tokens(value)}: pool {out.tokens(pool)}",
        funded=str(value),
        reward_pool=str(pool),
    )


def bond(
    ctx: typer.Context, amount: AmountArg, json_: JsonOpt = False, wei: WeiOpt = False
) -> None:
    """Post a coordinator bond (needed to open rounds; pays compensation for upheld disputes)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        value = amount.wei(opts.units.decimals)
        res = led.post_bond(value)
        now = led.coordinator_info()
        need = led.round_config().min_coordinator_bond
    out.tx(
        res,
        f"bonded {out.tokens(value)}: your bond is {out.tokens(now.bond)} "
        f"(minimum to open rounds {out.tokens(need)})",
        bond=str(now.bond),
    )


def unbond_bond(
    ctx: typer.Context,
    amount: Annotated[
        Amount | None, typer.Argument(click_type=AMOUNT, help="Tokens to withdraw (or --all).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Withdraw the whole bond.")] = False,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Withdraw coordinator bond (only while none of your rounds is open or unsettled)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    if (amount is None) == (not all_):
        raise CliError("give an AMOUNT or --all (not both): `fedstake unbond-bond --all`")
    with open_ledger(opts) as led:
        info = led.coordinator_info()
        if info.bond == 0:
            raise CliError(
                f"{led.address} has no coordinator bond (`fedstake bond AMOUNT` posts one)"
            )
        value = info.bond if all_ else amount.wei(opts.units.decimals)  # type: ignore[union-attr]
        if value > info.bond:
            raise CliError(
                f"you can withdraw at most your bond, {out.tokens(info.bond)}: "
                "`fedstake unbond-bond --all`"
            )
        if info.open_rounds:
            raise CliError(
                f"your bond is locked by {info.open_rounds} open or unsettled round(s): settle "
                "or expire them first (`fedstake settle`, `fedstake round expire N`)"
            )
        res = led.withdraw_bond(value)
        left = led.coordinator_info().bond
    out.tx(res, f"withdrew {out.tokens(value)} of bond; {out.tokens(left)} left", bond=str(left))


# -- settle ----------------------------------------------------------------------------------
def settle(
    ctx: typer.Context,
    rounds: Annotated[
        list[int] | None,
        typer.Argument(help="Rounds to settle (default: every finalized round that can)."),
    ] = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Settle rounds whose challenge window has passed (anyone may).

    Slashes then apply and rewards become claimable."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    explicit = list(rounds) if rounds else None
    with open_ledger(opts) as led:
        now = led.now()
        if explicit is not None:
            infos = [round_or_fail(led, r) for r in explicit]
        else:
            infos = [
                i
                for i in (led.get_round(r) for r in finalized_round_ids(led))
                if i.status == RoundStatus.FINALIZED
            ]
            if not infos:
                raise CliError(
                    "nothing to settle: no finalized round is waiting (`fedstake round list`)"
                )
        done: list[tuple[int, Any]] = []
        waiting: list[tuple[int, str]] = []
        for info in out.progress(infos, "settling"):
            rid = info.round_id
            if info.status == RoundStatus.SETTLED:
                waiting.append((rid, "already settled"))
            elif info.status != RoundStatus.FINALIZED:
                waiting.append((rid, f"{info.status.name.lower()}: only a finalized round settles"))
            elif now <= info.challenge_deadline:
                waiting.append(
                    (
                        rid,
                        f"challenge window open until {fmt_when(info.challenge_deadline, now)}"
                        + warp_hint(opts, info.challenge_deadline - now),
                    )
                )
            elif blocker := info.settle_blocker(now):
                waiting.append(
                    (
                        rid,
                        f"{blocker}: the arbiter decides them by "
                        f"{fmt_when(info.dispute_deadline, now)}, then anyone applies their "
                        f"default (`fedstake dispute list --round {rid}`)"
                        + warp_hint(opts, info.dispute_deadline - now),
                    )
                )
            else:
                done.append((rid, led.settle_round(rid)))
    if not done:
        if len(waiting) == 1:
            rid, why = waiting[0]
            raise CliError(
                f"round {rid} cannot be settled now: {why}; then `fedstake settle {rid}`"
            )
        raise CliError(
            "nothing settled: "
            + "; ".join(f"round {r}: {why}" for r, why in waiting)
            + " (`fedstake round list`)"
        )
    if out.json:
        out.emit(
            {
                "settled": [{"round": r, **tx_json(res)} for r, res in done],
                "waiting": [{"round": r, "reason": why} for r, why in waiting],
            }
        )
        return
    out.table(
        ["round", "result"],
        [
            (r, f"settled (tx {res.tx_hash})" if res.tx_hash else "already settled")
            for r, res in done
        ]
        + [(r, why) for r, why in waiting],
    )
    out.next_steps("fedstake claim")


# -- pause -----------------------------------------------------------------------------------
def pause(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Pause every contract (pauser): staking, bonds and rounds stop."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        led.pause()
    if out.json:
        out.emit({"paused": True})
    else:
        out.print("paused StakeManager, RoundManager and ProvenanceRegistry")
        out.next_steps("fedstake unpause")


def unpause(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Unpause every contract (pauser)."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        led.unpause()
    if out.json:
        out.emit({"paused": False})
    else:
        out.print("unpaused StakeManager, RoundManager and ProvenanceRegistry")


# -- registry --------------------------------------------------------------------------------
registry_app = typer.Typer(
    name="registry", help="The on-chain model provenance registry.", no_args_is_help=True
)


@registry_app.command("lineage")
def lineage(
    ctx: typer.Context,
    version: Annotated[
        int | None, typer.Argument(help="Model version (default: the latest).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """A model version and its ancestors: weights hash and URI, round, parent, recorder."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        count = int(led.provenance.call("versionCount"))
        if count == 0:
            raise CliError(
                "no model version has been recorded yet: the coordinator records one per "
                "finalized round (`fedstake round list`)"
            )
        vid = count if version is None else version
        if not 1 <= vid <= count:
            raise CliError(f"no such version {vid} (1–{count} exist): `fedstake registry lineage`")
        chain = led.lineage(vid)
    if out.json:
        out.emit([version_json(v) for v in chain])
        return
    out.table(
        ["version", "round", "parent", "weights hash", "weights URI", "recorded", "by"],
        [
            (
                v.version_id,
                v.round_id or "-",
                v.parent_version or "-",
                hex32(v.weights_hash),
                v.weights_uri,
                fmt_date(v.recorded_at),
                short(v.authorizer),
            )
            for v in chain
        ],
        title=f"lineage of version {vid} (newest first)",
    )


def version_json(v: Any) -> dict[str, Any]:
    return {
        "version": v.version_id,
        "round": v.round_id,
        "parent": v.parent_version,
        "weights_hash": hex32(v.weights_hash),
        "weights_uri": v.weights_uri,
        "dataset_root": hex32(v.dataset_root),
        "code_commit": hex32(v.code_commit),
        "hyperparams_hash": hex32(v.hyperparams_hash),
        "recorded_at": v.recorded_at,
        "authorizer": v.authorizer,
    }


# -- roles -----------------------------------------------------------------------------------
role_app = typer.Typer(
    name="role", help="Roles: admin, coordinator, arbiter, pauser.", no_args_is_help=True
)
RoleArg = Annotated[
    str,
    typer.Argument(click_type=click.Choice(ROLE_NAMES), help="admin|coordinator|arbiter|pauser"),
]
_ROLE_CONTRACTS = {
    "admin": None,
    "coordinator": ("RoundManager", "ProvenanceRegistry"),
    "arbiter": ("RoundManager",),
    "pauser": None,
}


@role_app.command("grant")
def role_grant(
    ctx: typer.Context,
    role: RoleArg,
    address: Annotated[str, typer.Argument(click_type=ADDRESS)],
    json_: JsonOpt = False,
) -> None:
    """Grant a role to an account (admin)."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        led.grant_role(role, address, _ROLE_CONTRACTS[role])
    if out.json:
        out.emit({"granted": role, "account": address})
    else:
        out.print(f"{address} is now {role}")


@role_app.command("revoke")
def role_revoke(
    ctx: typer.Context,
    role: RoleArg,
    address: Annotated[str, typer.Argument(click_type=ADDRESS)],
    json_: JsonOpt = False,
) -> None:
    """Revoke a role from an account (admin)."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        led.revoke_role(role, address, _ROLE_CONTRACTS[role])
    if out.json:
        out.emit({"revoked": role, "account": address})
    else:
        out.print(f"{address} is no longer {role}")


@role_app.command("list")
def role_list(
    ctx: typer.Context,
    address: Annotated[str | None, typer.Argument(click_type=ADDRESS)] = None,
    json_: JsonOpt = False,
) -> None:
    """The roles an account holds (default: yours)."""
    opts = opts_of(ctx)
    out = Output(opts, json_)
    with open_ledger(opts) as led:
        who = address or led.address
        held = [r for r in ROLE_NAMES if led.has_role(r, who)]
    if out.json:
        out.emit({"account": who, "roles": held})
    else:
        out.print(f"{who}: {', '.join(held) or 'no roles'}")


def governance_json(gov: Any) -> dict[str, Any]:
    op = gov.accept_operation
    return {
        "timelock": gov.timelock,
        "timelock_delay": gov.min_delay,
        "unbonding_delay": gov.unbonding_delay,
        "timelocked": gov.timelocked,
        "admins": {a.contract: a.admin for a in gov.admins},
        "pending_admins": {a.contract: a.pending_admin for a in gov.admins if a.pending_admin},
        "accept_admin_at": None if op is None or op.done else op.ready_at,
        "accept_admin_done": bool(op and op.done),
    }


def governance_text(gov: Any) -> str:
    if gov.timelock is None:
        return "no timelock (an old deployment)"
    if gov.timelocked:
        return f"timelock {gov.timelock} (delay {fmt_duration(gov.min_delay)}) administers all"
    op = gov.accept_operation
    when = fmt_date(op.ready_at) if op and op.ready_at > 1 else "-"
    return (
        f"timelock {gov.timelock} (delay {fmt_duration(gov.min_delay)}) takes the admin role "
        f"from {when} (`fedstake governance accept-admin`)"
    )


# -- info and history --------------------------------------------------------------------------
def info(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """The deployment: chain, contracts, token, parameters, pool, pause state."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        d = led.deployment
        sp = led.staking_params()
        rc = led.round_config()
        pool = led.pool_info()
        paused = led.paused()
        rounds = led.round_count()
        jail = led.jail_policy()
        gov = led.governance_info()
        url = led.chain.url
    faucet = ", test token with faucet" if d.local_token else ""
    if out.json:
        out.emit(
            {
                "chain": url,
                "chain_id": d.chain_id,
                "deployment": str(opts.deployment),
                "contracts": dict(d.contracts),
                "token": {"address": d.token, "symbol": opts.units.symbol, "local": d.local_token},
                "min_stake": str(sp.min_stake),
                "unbonding_delay": sp.unbonding_delay,
                "total_staked": str(sp.total_staked),
                "min_coordinator_bond": str(rc.min_coordinator_bond),
                "budget_bond_multiple": rc.budget_bond_multiple,
                "max_round_duration": rc.max_round_duration,
                "challenge_window": rc.challenge_window,
                "dispute_window": rc.dispute_window,
                "max_slash_bps": rc.max_judged_slash_bps,
                "max_judged_slash_bps": rc.max_judged_slash_bps,
                "provable_slash_bps": rc.provable_slash_bps,
                "slash_pool_bps": rc.slash_pool_bps,
                "timeout_compensation_bps": rc.timeout_compensation_bps,
                "min_dispute_deposit": str(rc.min_dispute_deposit),
                "treasury": rc.treasury,
                "treasury_owed": str(pool.treasury_owed),
                "jail": {"strikes_to_jail": jail.strikes_to_jail, "jail_rounds": jail.jail_rounds},
                "governance": governance_json(gov),
                "reward_pool": str(pool.reward_pool),
                "total_bonds": str(pool.total_bonds),
                "paused": paused,
                "rounds": rounds,
            }
        )
        return
    out.fields(
        [
            ("chain", f"{url} (chain id {d.chain_id})"),
            ("deployment", str(opts.deployment)),
            *[(name, addr) for name, addr in d.contracts.items()],
            ("token", f"{d.token} ({opts.units.symbol}{faucet})"),
            ("minimum stake", out.tokens(sp.min_stake)),
            ("unbonding delay", fmt_duration(sp.unbonding_delay)),
            ("total staked", out.tokens(sp.total_staked)),
            (
                "coordinator bond",
                f"minimum {out.tokens(rc.min_coordinator_bond)}; budgets up to "
                f"{rc.budget_bond_multiple} × the bond",
            ),
            ("round duration", f"at most {fmt_duration(rc.max_round_duration)}"),
            ("challenge window", fmt_duration(rc.challenge_window)),
            ("dispute window", f"{fmt_duration(rc.dispute_window)} after the challenge window"),
            ("judged slash", f"at most {rc.max_judged_slash_bps / 100:g} % per round"),
            ("provable slash", f"{rc.provable_slash_bps / 100:g} % (proven on-chain)"),
            (
                "jail",
                f"{jail.jail_rounds} rounds after a provable fault or "
                f"{jail.strikes_to_jail} judged slashes"
                if jail.strikes_to_jail
                else f"{jail.jail_rounds} rounds after a provable fault",
            ),
            ("dispute deposit", f"minimum {out.tokens(rc.min_dispute_deposit)}"),
            (
                "undecided disputes",
                f"slash reverted + {rc.timeout_compensation_bps / 100:g} % of it from the "
                "bond; result stands",
            ),
            ("treasury", f"{rc.treasury} (owed {out.tokens(pool.treasury_owed)})"),
            ("governance", governance_text(gov)),
            ("reward pool", out.tokens(pool.reward_pool)),
            ("bonds", out.tokens(pool.total_bonds)),
            ("paused", "yes" if paused else "no"),
            ("rounds", str(rounds)),
        ],
        title="fedstake deployment",
    )


def history(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(click_type=click.Choice(["stakes", "rounds", "slashes", "claims"])),
    ],
    from_block: Annotated[int | None, typer.Option(help="First block (default: deploy).")] = None,
    to_block: Annotated[int | None, typer.Option(help="Last block (default: latest).")] = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Events: stakes | rounds | slashes | claims."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        fn = {
            "stakes": led.stake_events,
            "rounds": led.round_events,
            "slashes": led.slash_events,
            "claims": led.claim_events,
        }[kind]
        events = fn(from_block=from_block, to_block=to_block)
    if out.json:
        out.emit([_event_json(e) for e in events])
        return
    if not events:
        out.print(f"no {kind} events")
        return
    if kind == "stakes":
        out.table(
            ["block", "event", "staker", "amount"],
            [
                (e.block_number, e.kind.replace("_", " "), e.staker, out.tokens(e.amount))
                for e in events
            ],
        )
    elif kind == "rounds":
        out.table(
            ["block", "round", "event"], [(e.block_number, e.round_id, e.kind) for e in events]
        )
    elif kind == "slashes":
        out.table(
            ["block", "round", "participant", "reason", "amount"],
            [
                (
                    e.block_number,
                    e.round_id,
                    e.participant,
                    reason_name(e.reason),
                    f"{out.tokens(e.amount)} ({e.slash_bps / 100:g} %)",
                )
                for e in events
            ],
        )
    else:
        out.table(
            ["block", "round", "participant", "amount"],
            [(e.block_number, e.round_id, e.participant, out.tokens(e.amount)) for e in events],
        )


# RoundEvent data keys that are token amounts (wei, printed as strings under --json)
_AMOUNT_KEYS = {
    "rewardBudget",
    "totalRewards",
    "slashedTotal",
    "budgetReturned",
    "slashedToPool",
    "slashedToTreasury",
}


def _event_json(e: Any) -> dict[str, Any]:
    from dataclasses import asdict

    doc: dict[str, Any] = {}
    for k, v in asdict(e).items():
        if isinstance(v, bytes | bytearray):
            v = hex32(v)
        elif k == "data":
            v = {dk: _data_json(dk, dv) for dk, dv in v.items()}
        elif k == "amount":
            v = str(v)
        doc[k] = v
    if "reason" in doc:
        doc["reason"] = reason_name(doc["reason"])
    return doc


def _data_json(key: str, value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return hex32(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if key in _AMOUNT_KEYS or abs(value) >= 2**53 else value
    return value
