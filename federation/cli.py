"""``fedstake``: the ledger from a shell (deploy, stake, rounds, claims, history, verify).

Every command but ``deploy`` reads the deployment file; the chain comes from --chain or
$FEDSTAKE_CHAIN; the key from $FEDSTAKE_PRIVATE_KEY or $FEDSTAKE_KEYSTORE (local chains
default to the first development account). Amounts are in tokens (decimals allowed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from federation.errors import FedstakeError

WEI = 10**18
ENV_DEPLOYMENT = "FEDSTAKE_DEPLOYMENT"


def amount(text: str) -> int:
    """'12.5' tokens → wei; '123wei' stays wei."""
    try:
        if text.endswith("wei"):
            return int(text[:-3])
        value = Decimal(text) * WEI
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if value != value.to_integral_value() or value < 0:
        raise argparse.ArgumentTypeError(f"amount {text!r} is not a whole number of wei")
    return int(value)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)
    return value


def _print(value: Any) -> None:
    print(json.dumps(_jsonable(value), indent=2, default=str))


def _signer(args: argparse.Namespace) -> Any:
    from federation.keys import from_env

    if os.environ.get("FEDSTAKE_PRIVATE_KEY") or os.environ.get("FEDSTAKE_KEYSTORE"):
        return from_env()
    return None  # local chains fall back to their first dev account


def _ledger(args: argparse.Namespace) -> Any:
    from federation.chain import connect
    from federation.ledger import Ledger
    from federation.tx import TxPolicy

    signer = _signer(args)
    chain = connect(args.chain, signer)
    try:
        return Ledger.open(
            chain, args.deployment, signer, policy=TxPolicy(confirmations=args.confirmations)
        )
    except BaseException:
        chain.close()
        raise


def _with_ledger(args: argparse.Namespace, fn: Any) -> Any:
    """Run ``fn(ledger, args)`` and always stop the chain (anvil dumps ?state= on stop)."""
    ledger = _ledger(args)
    try:
        return fn(ledger, args)
    finally:
        ledger.close()


class Exit:
    """What a command that prints its own output returns: the text and the exit code."""

    def __init__(self, code: int, text: str = "") -> None:
        self.code = code
        self.text = text


def _tx(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"already_applied": result.already_applied}
    if result.receipt is not None:
        out.update(tx=result.tx_hash, block=result.receipt.block_number, gas=result.gas_used)
    if result.value is not None:
        out["value"] = result.value
    return out


def cmd_deploy(args: argparse.Namespace) -> Any:
    from federation.chain import connect
    from federation.ledger import Ledger

    chain = connect(args.chain, _signer(args))
    ledger = Ledger.deploy(chain, admin=_signer(args), token=args.token, out=args.deployment)
    try:
        return {"deployment": str(args.deployment), **_jsonable(ledger.deployment)}
    finally:
        ledger.close()


def cmd_new_key(args: argparse.Namespace) -> Any:
    """A fresh key, written encrypted (password from $FEDSTAKE_KEYSTORE_PASSWORD or prompt)."""
    import getpass

    from federation.keys import ENV_KEYSTORE_PASSWORD, generate, write_keystore

    password = os.environ.get(ENV_KEYSTORE_PASSWORD) or getpass.getpass("new keystore password: ")
    if not password:
        raise FedstakeError(f"an empty password is not allowed; set {ENV_KEYSTORE_PASSWORD}")
    signer = generate()
    write_keystore(signer, args.out, password)
    return {
        "address": signer.address,
        "keystore": str(args.out),
        "use": f"export FEDSTAKE_KEYSTORE={args.out}",
    }


def cmd_verify(args: argparse.Namespace) -> Exit:
    """Re-run a finalized round from its artifacts; 0 all checks pass, 1 a mismatch,
    2 nothing could be verified (no manifest, no store, no chain)."""
    from federation.artifact_store import ArtifactError

    try:
        result: Exit = _with_ledger(args, _verify)
        return result
    except (FedstakeError, ArtifactError) as exc:
        print(f"fedstake: error: {exc}", file=sys.stderr)
        return Exit(2)


def _verify(ledger: Any, args: argparse.Namespace) -> Exit:
    from federation.verify import verify_round

    report = verify_round(ledger, _verify_store(ledger, args), args.round_id)
    text = json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.render()
    return Exit(0 if report.ok else 1, text)


def _verify_store(ledger: Any, args: argparse.Namespace) -> Any:
    """--store, or the store the round's aggregate was recorded in (provenance URI)."""
    from federation.artifact_store import ArtifactError, LocalArtifactStore
    from federation.verify import VerifyError, finalized_round

    rid = args.round_id
    uri = args.store
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
        return LocalArtifactStore.from_uri(uri)
    except ArtifactError as exc:
        where = "--store" if args.store is not None else "the round's provenance record"
        raise VerifyError(
            f"{exc} (from {where}): fetch the coordinator's artifact store and pass "
            "--store DIR_OR_URI"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fedstake", description=__doc__.splitlines()[0])
    p.add_argument(
        "--chain",
        default=os.environ.get("FEDSTAKE_CHAIN"),
        help="inprocess:// | anvil://[?state=FILE] | http(s)://… (env FEDSTAKE_CHAIN)",
    )
    p.add_argument(
        "--deployment",
        type=Path,
        default=Path(os.environ.get(ENV_DEPLOYMENT, "deployment.json")),
        help="deployment file (env FEDSTAKE_DEPLOYMENT; default deployment.json)",
    )
    p.add_argument("--confirmations", type=int, default=1)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("deploy", help="deploy the contracts and write the deployment file")
    d.add_argument("--token", help="existing ERC-20 (default: a local test token with faucet)")
    d.set_defaults(run=cmd_deploy)

    k = sub.add_parser("new-key", help="create a key in an encrypted keystore file")
    k.add_argument("out", type=Path)
    k.set_defaults(run=cmd_new_key)

    def simple(name: str, help_: str, fn: Any, *arguments: tuple[str, dict[str, Any]]) -> None:
        sp = sub.add_parser(name, help=help_)
        for flag, kw in arguments:
            sp.add_argument(flag, **kw)
        sp.set_defaults(run=lambda a: _with_ledger(a, fn))

    amt = ("amount", {"type": amount, "help": "tokens (e.g. 100 or 0.5), or 123wei"})
    rid = ("round_id", {"type": int})
    simple("address", "print the signing address", lambda L, a: {"address": L.address})
    simple(
        "status",
        "deployment, parameters, balances of the signer",
        lambda L, a: {
            "ledger": repr(L),
            "deployment": L.deployment,
            "staking": L.staking_params(),
            "rounds": L.round_config(),
            "pool": L.pool_info(),
            "me": L.address,
            "stake": L.stake_of(),
            "balance": L.token_balance(),
        },
    )
    simple("faucet", "drip test tokens (local test token)", lambda L, a: _tx(L.faucet()))
    simple("stake", "stake tokens", lambda L, a: _tx(L.stake(a.amount)), amt)
    simple("top-up", "add to an active stake", lambda L, a: _tx(L.top_up(a.amount)), amt)
    simple("unbond", "request unbonding", lambda L, a: _tx(L.request_unbond(a.amount)), amt)
    simple("withdraw", "withdraw released stake", lambda L, a: _tx(L.withdraw()))
    simple("bond", "post a coordinator bond", lambda L, a: _tx(L.post_bond(a.amount)), amt)
    simple("fund-pool", "fund the reward pool", lambda L, a: _tx(L.fund_reward_pool(a.amount)), amt)
    simple("round", "show a round", lambda L, a: L.get_round(a.round_id), rid)
    simple(
        "settle",
        "settle a round after its challenge window",
        lambda L, a: _tx(L.settle_round(a.round_id)),
        rid,
    )
    simple(
        "claim",
        "claim a reward with the coordinator's results file",
        lambda L, a: _tx(L.claim(a.round_id, _results(a.results), participant=a.participant)),
        rid,
        ("results", {"type": Path, "help": "results JSON published by the coordinator"}),
        ("--participant", {"default": None}),
    )
    simple(
        "history",
        "events: stakes | rounds | slashes | claims",
        lambda L, a: _history(L, a),
        ("kind", {"choices": ["stakes", "rounds", "slashes", "claims"]}),
        ("--from-block", {"type": int, "default": None}),
        ("--to-block", {"type": int, "default": None}),
    )
    simple(
        "lineage",
        "a model version and its ancestors",
        lambda L, a: L.lineage(a.version_id),
        ("version_id", {"type": int}),
    )
    v = sub.add_parser(
        "verify",
        help="re-run a finalized round from its artifacts and compare with the chain",
        description="Re-run a finalized round from the coordinator's artifact store and "
        "compare every decision with what was finalized on-chain. Exit 0: every check "
        "passes; 1: a mismatch (the report names it); 2: nothing could be verified.",
    )
    v.add_argument("round_id", metavar="ROUND", type=int)
    v.add_argument(
        "--store",
        metavar="DIR_OR_URI",
        default=None,
        help="the coordinator's artifact store (default: where the round's provenance "
        "record says its aggregate is)",
    )
    v.add_argument("--json", action="store_true", help="the report as JSON")
    v.set_defaults(run=cmd_verify)
    simple("pause", "pause every contract (pauser)", lambda L, a: L.pause() or {"paused": True})
    simple("unpause", "unpause (pauser)", lambda L, a: L.unpause() or {"paused": False})
    return p


def _results(path: Path) -> Any:
    from federation.types import RoundResults

    return RoundResults.from_dict(json.loads(path.read_text()))


def _history(ledger: Any, a: argparse.Namespace) -> Any:
    fn = {
        "stakes": ledger.stake_events,
        "rounds": ledger.round_events,
        "slashes": ledger.slash_events,
        "claims": ledger.claim_events,
    }[a.kind]
    return fn(from_block=a.from_block, to_block=a.to_block)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except FedstakeError as exc:
        print(f"fedstake: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, Exit):
        if result.text:
            print(result.text)
        return result.code
    _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
