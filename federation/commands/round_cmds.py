"""``fedstake round list|show|expire`` and ``fedstake verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from federation.commands.common import (
    CliError,
    JsonOpt,
    Output,
    WeiOpt,
    fmt_date,
    fmt_when,
    hex32,
    open_ledger,
    opts_of,
    reason_name,
    short,
    warp_hint,
)
from federation.commands.coordinator import version_json
from federation.commands.participant import dispute_json
from federation.commands.roundinfo import (
    ZERO32,
    manifest_of,
    provenance_of,
    round_or_fail,
    store_of,
)
from federation.types import RoundInfo, RoundResults, RoundStatus

app = typer.Typer(
    name="round", help="Rounds: list, show one, expire or cancel one.", no_args_is_help=True
)

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="The coordinator's artifact store directory (default: from the round's "
        "provenance record).",
    ),
]


def _phase(info: RoundInfo, now: int) -> str:
    if info.status == RoundStatus.OPEN:
        return f"finalize by {fmt_when(info.finalize_deadline, now)}"
    if info.status == RoundStatus.FINALIZED:
        if now <= info.challenge_deadline:
            return f"challenge window until {fmt_when(info.challenge_deadline, now)}"
        blocker = info.settle_blocker(now)
        if blocker:
            return (
                f"{blocker}: the arbiter decides by {fmt_when(info.dispute_deadline, now)}, "
                "then `fedstake dispute timeout ID`"
            )
        return "ready to settle: `fedstake settle`"
    if info.status == RoundStatus.SETTLED:
        return "voided by dispute" if info.result_voided else "claimable"
    if info.status == RoundStatus.CANCELLED:
        return "cancelled: budget back in the pool, slashes returned"
    return "-"


def round_json(info: RoundInfo) -> dict[str, Any]:
    return {
        "round": info.round_id,
        "status": info.status.name.lower(),
        "coordinator": info.coordinator,
        "participants": info.participant_count,
        "reward_budget": str(info.reward_budget),
        "total_rewards": str(info.total_rewards),
        "claimed": str(info.claimed),
        "slashed_total": str(info.slashed_total),
        "finalize_deadline": info.finalize_deadline,
        "challenge_deadline": info.challenge_deadline,
        "dispute_deadline": info.dispute_deadline,
        "open_disputes": info.open_disputes,
        "open_slash_disputes": info.open_slash_disputes,
        "open_result_disputes": info.open_result_disputes,
        "result_voided": info.result_voided,
        "aggregate_hash": None if info.aggregate_hash == ZERO32 else hex32(info.aggregate_hash),
        "results_root": None if info.results_root == ZERO32 else hex32(info.results_root),
    }


@app.command("list")
def round_list(ctx: typer.Context, json_: JsonOpt = False, wei: WeiOpt = False) -> None:
    """Every round: status, coordinator, participants, budget, rewards, slashes, deadlines."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        count = led.round_count()
        now = led.now()
        infos = [
            led.get_round(r) for r in out.progress(list(range(1, count + 1)), "reading rounds")
        ]
    if out.json:
        out.emit([round_json(i) for i in infos])
        return
    if not infos:
        out.print("no rounds yet: a coordinator opens them with `flwr run` (see the README)")
        return
    out.table(
        ["round", "status", "coordinator", "participants", "budget", "rewards", "slashed", "next"],
        [
            (
                i.round_id,
                i.status.name.lower(),
                short(i.coordinator),
                i.participant_count,
                out.tokens(i.reward_budget),
                out.tokens(i.total_rewards),
                out.tokens(i.slashed_total),
                _phase(i, now),
            )
            for i in infos
        ],
        title=f"{count} round(s), chain time {fmt_date(now)}",
    )


@app.command("show")
def round_show(
    ctx: typer.Context,
    round_id: Annotated[int, typer.Argument(metavar="ROUND")],
    store: StoreOpt = None,
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """One round: participants, scores, rewards, slashes, disputes, provenance.

    Read from the coordinator's artifact store where it is found (scores, exclusions),
    from the chain otherwise."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = round_or_fail(led, round_id)
        now = led.now()
        slashes = led.slash_events(round_id)
        slash_state = {s.participant: led.get_slash(round_id, s.participant).state for s in slashes}
        disputes = led.list_disputes(round_id)
        committed = led.finalization(round_id)
        claims = {c.participant: c.amount for c in led.claim_events(round_id)}
        version = provenance_of(led, info)
        where = store_of(led, info, store)
        manifest = manifest_of(where, round_id)
    results = _results_from(manifest, where, round_id, info)
    people = _participants(manifest, results, slashes, claims)
    doc = round_json(info)
    doc.update(
        participants_detail=people,
        slashes=[
            {
                "participant": s.participant,
                "reason": reason_name(s.reason),
                "kind": "provable" if s.provable else "judged",
                "bps": s.slash_bps,
                "amount": str(s.amount),
                "from_unbonding": str(s.from_unbonding),
                "release_at": s.release_at,
                "state": slash_state[s.participant].name.lower(),
                "update_hash": hex32(s.update_hash),
            }
            for s in slashes
        ],
        provable_slashed=str(sum(s.amount for s in slashes if s.provable)),
        judged_slashed=str(sum(s.amount for s in slashes if not s.provable)),
        decision_hash=None if committed is None else hex32(committed.decision_hash),
        artifacts_uri=None if committed is None else committed.artifacts_uri,
        disputes=[dispute_json(d, now) for d in disputes],
        provenance=None if version is None else version_json(version),
        artifacts={
            "store": None if where.root is None else str(where.root),
            "manifest": None
            if manifest is None
            else str(where.root / f"round-{round_id}-manifest.json"),  # type: ignore[operator]
            "note": where.note or None,
        },
        aggregator=None if manifest is None else manifest.get("aggregator"),
        fallback=None if manifest is None else manifest.get("fallback"),
    )
    if out.json:
        out.emit(doc)
        return
    voided = " (result voided)" if info.result_voided else ""
    out.fields(
        [
            ("status", f"{info.status.name.lower()}{voided}; {_phase(info, now)}"),
            ("coordinator", info.coordinator),
            ("participants", str(info.participant_count)),
            ("budget", out.tokens(info.reward_budget)),
            ("rewards", f"{out.tokens(info.total_rewards)} ({out.tokens(info.claimed)} claimed)"),
            (
                "slashed",
                f"{out.tokens(info.slashed_total)} ({out.tokens(int(doc['provable_slashed']))} "
                f"provable, proven on-chain; {out.tokens(int(doc['judged_slashed']))} judged, "
                "disputable)"
                if slashes
                else out.tokens(info.slashed_total),
            ),
            ("finalize deadline", fmt_when(info.finalize_deadline, now)),
            (
                "challenge deadline",
                fmt_when(info.challenge_deadline, now) if info.challenge_deadline else "-",
            ),
            (
                "dispute deadline",
                fmt_when(info.dispute_deadline, now) if info.dispute_deadline else "-",
            ),
            ("aggregate", doc["aggregate_hash"] or "-"),
            ("results root", doc["results_root"] or "-"),
            ("decision hash", doc["decision_hash"] or "-"),
            ("artifacts URI", doc["artifacts_uri"] or "-"),
            ("aggregator", json.dumps(doc["aggregator"]) if doc["aggregator"] else "-"),
        ],
        title=f"round {round_id}",
    )
    if people:
        out.table(
            ["participant", "score", "reward", "claimed", "outcome"],
            [
                (
                    p["participant"],
                    "-" if p["score"] is None else f"{p['score']:.3f}",
                    "-" if p["reward"] is None else out.tokens(int(p["reward"])),
                    "yes" if p["claimed"] else "-",
                    p["outcome"],
                )
                for p in people
            ],
            title="participants",
        )
    elif info.status != RoundStatus.OPEN:
        out.print(f"participants: unknown here ({where.note or 'no manifest in the store'})")
    if slashes:
        out.table(
            ["participant", "reason", "kind", "amount", "state"],
            [
                (
                    s.participant,
                    reason_name(s.reason),
                    "provable (proven)" if s.provable else "judged (disputable)",
                    f"{out.tokens(s.amount)} ({s.slash_bps / 100:g} %)",
                    slash_state[s.participant].name.lower(),
                )
                for s in slashes
            ],
            title="slashes",
        )
    if disputes:
        out.table(
            ["dispute", "kind", "status", "disputer", "deposit", "if undecided"],
            [
                (
                    d.dispute_id,
                    d.kind.name.lower(),
                    d.status.name.lower().replace("_", " "),
                    d.disputer,
                    out.tokens(d.deposit),
                    d.default_outcome if d.status.name == "OPEN" else "-",
                )
                for d in disputes
            ],
            title="disputes",
        )
    if version is not None:
        out.fields(
            [
                ("version", f"{version.version_id} (parent {version.parent_version or '-'})"),
                ("weights", version.weights_uri),
                ("recorded", f"{fmt_date(version.recorded_at)} by {version.authorizer}"),
                ("dataset root", hex32(version.dataset_root)),
                ("code commit", hex32(version.code_commit)),
            ],
            title="provenance",
        )
    if where.root is not None:
        out.print(f"artifact store: {where.root}")
    elif info.status in (RoundStatus.FINALIZED, RoundStatus.SETTLED):
        out.print(f"artifact store: not found ({where.note}); pass --store DIR")


def _results_from(
    manifest: dict[str, Any] | None, where: Any, rid: int, info: RoundInfo
) -> RoundResults | None:
    doc = manifest.get("results") if manifest else None
    if doc is None and where.root is not None:
        try:
            doc = json.loads((where.root / f"round-{rid}-results.json").read_text())
        except (OSError, ValueError):
            doc = None
    try:
        res = RoundResults.from_dict(doc) if doc else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return res if res is not None and res.root == info.results_root else None


def _participants(
    manifest: dict[str, Any] | None,
    results: RoundResults | None,
    slashes: list[Any],
    claims: dict[str, int],
) -> list[dict[str, Any]]:
    from eth_utils import to_checksum_address

    entries = {e.participant: e for e in results.entries} if results else {}
    order: list[str] = []
    if manifest and manifest.get("participants"):
        order = [to_checksum_address(p) for p in manifest["participants"]]
    elif results:
        order = [to_checksum_address(e.participant) for e in results.entries]
    excluded = {}
    absent: set[str] = set()
    flagged: dict[str, list[str]] = {}
    if manifest:
        excluded = {
            to_checksum_address(e["participant"]): e for e in manifest.get("exclusions", [])
        }
        absent = {to_checksum_address(p) for p in manifest.get("absent", [])}
        decision = manifest.get("decision") or {}
        flagged = {
            to_checksum_address(p): [reason_name(r) for r in rs]
            for p, rs in (decision.get("flagged") or {}).items()
        }
    slashed = {s.participant: s for s in slashes}
    rows = []
    for p in order:
        e = entries.get(p)
        if p in excluded:
            x = excluded[p]
            outcome = f"excluded: {x['code']} ({x['detail']})"
        elif p in absent:
            outcome = "absent (did not answer)"
        else:
            outcome = "scored"
        if flagged.get(p):
            outcome += f"; flagged {', '.join(flagged[p])}"
        if p in slashed:
            outcome += f"; slashed {reason_name(slashed[p].reason)}"
        rows.append(
            {
                "participant": p,
                "score": None if e is None else e.score / 1e6,
                "reward": None if e is None else str(e.reward),
                "claimed": p in claims,
                "outcome": outcome,
            }
        )
    return rows


@app.command("expire")
def round_expire(
    ctx: typer.Context,
    round_id: Annotated[int, typer.Argument(metavar="ROUND")],
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Expire a round past its finalize deadline (anyone).

    Its budget returns to the reward pool."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = round_or_fail(led, round_id)
        now = led.now()
        if info.status != RoundStatus.OPEN:
            raise CliError(
                f"round {round_id} is {info.status.name.lower()}: only an open round past its "
                f"finalize deadline expires (`fedstake round show {round_id}`)"
            )
        if now <= info.finalize_deadline:
            raise CliError(
                f"round {round_id} may still be finalized until "
                f"{fmt_when(info.finalize_deadline, now)}: `fedstake round expire {round_id}` "
                "after that" + warp_hint(opts, info.finalize_deadline - now)
            )
        res = led.expire_round(round_id)
    out.tx(
        res,
        f"round {round_id} expired; {out.tokens(info.reward_budget)} returned to the pool",
        round=round_id,
        returned=str(info.reward_budget),
    )


@app.command("cancel")
def round_cancel(
    ctx: typer.Context,
    round_id: Annotated[int, typer.Argument(metavar="ROUND")],
    json_: JsonOpt = False,
    wei: WeiOpt = False,
) -> None:
    """Cancel an open or finalized, unsettled round (the guardian: pauser role).

    Its budget returns to the reward pool and every slash still locked goes back where it
    was taken from; its open disputes are refunded (`fedstake dispute timeout ID`)."""
    opts = opts_of(ctx)
    out = Output(opts, json_, wei)
    with open_ledger(opts) as led:
        info = round_or_fail(led, round_id)
        if info.status not in (RoundStatus.OPEN, RoundStatus.FINALIZED):
            raise CliError(
                f"round {round_id} is {info.status.name.lower()}: only an open or finalized, "
                f"unsettled round can be cancelled (`fedstake round show {round_id}`)"
            )
        if not led.has_role("pauser"):
            raise CliError(
                f"{led.address} lacks the pauser role that cancels rounds: an admin grants it "
                f"with `fedstake role grant pauser {led.address}`"
            )
        res = led.cancel_round(round_id)
        disputes = led.list_disputes(round_id, open_only=True)
    refunds = [f"fedstake dispute timeout {d.dispute_id}" for d in disputes]
    out.tx(
        res,
        f"round {round_id} cancelled: {out.tokens(int(res.value or info.reward_budget))} back "
        f"in the pool, {out.tokens(info.slashed_total)} of slashes returned",
        round=round_id,
        returned=str(res.value if res.value is not None else info.reward_budget),
        slashes_returned=str(info.slashed_total),
        refundable_disputes=[d.dispute_id for d in disputes],
    )
    if refunds and not out.json:
        out.next_steps(*refunds)


# -- verify ----------------------------------------------------------------------------------
def verify(
    ctx: typer.Context,
    round_id: Annotated[int, typer.Argument(metavar="ROUND")],
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="DIR_OR_URI",
            help="The coordinator's artifact store (default: where the round's provenance "
            "record says its aggregate is).",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Re-run a finalized round from its artifacts and compare every decision with the chain.

    Exit 0: every check passes; 1: a mismatch (the report names it); 2: nothing could be
    verified (no such round, no store, no manifest)."""
    from federation.artifact_store import ArtifactError
    from federation.errors import FedstakeError

    opts = opts_of(ctx)
    out = Output(opts, json_)
    try:
        with open_ledger(opts) as led:
            report = _verify(led, round_id, store)
    except (FedstakeError, ArtifactError) as exc:
        raise VerifyUnavailable(str(exc)) from None
    if out.json:
        out.emit(report.to_dict())
    else:
        out.print(report.render())
    raise typer.Exit(0 if report.ok else 1)


class VerifyUnavailable(Exception):  # noqa: N818 - a CLI outcome, not a bug
    """Nothing could be verified: exit code 2."""


def _verify(ledger: Any, rid: int, store_uri: str | None) -> Any:
    from federation.artifact_store import ArtifactError, LocalArtifactStore
    from federation.verify import VerifyError, finalized_round, verify_round

    uri = store_uri
    if uri is None:
        info = finalized_round(ledger, rid)
        version = ledger.version_of_weights(info.aggregate_hash)
        if not version:
            raise VerifyError(
                f"round {rid}'s aggregate 0x{info.aggregate_hash.hex()} has no provenance "
                "record on-chain to locate its artifact store: pass --store DIR_OR_URI (the "
                f"coordinator's artifact directory, holding round-{rid}-manifest.json)"
            )
        uri = ledger.get_version(version).weights_uri
    try:
        store = LocalArtifactStore.from_uri(uri)
    except ArtifactError as exc:
        where = "--store" if store_uri is not None else "the round's provenance record"
        raise VerifyError(
            f"{exc} (from {where}): fetch the coordinator's artifact store and pass "
            "--store DIR_OR_URI"
        ) from None
    return verify_round(ledger, store, rid)
