"""What every ``fedstake`` command shares: root options, amounts, durations, addresses,
dates, output (tables for people, JSON for programs), the signer and the ledger.

Human output shows amounts in tokens with the token's symbol and times as dates and
durations; ``--wei`` shows raw wei instead; ``--json`` prints one JSON document whose
amounts are wei as decimal strings and whose times are unix seconds.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.table import Table

from federation.errors import FedstakeError, KeyLoadError

if TYPE_CHECKING:
    from federation.chain.base import Chain
    from federation.keys import Signer
    from federation.ledger import Ledger
    from federation.types import TxResult

T = TypeVar("T")

ENV_CHAIN = "FEDSTAKE_CHAIN"
ENV_DEPLOYMENT = "FEDSTAKE_DEPLOYMENT"
ENV_HOME = "FEDSTAKE_HOME"
ENV_DEBUG = "FEDSTAKE_DEBUG"
DEFAULT_HOME = ".fedstake"
DEFAULT_DEPLOYMENT = "deployment.json"
ROLE_NAMES = ("admin", "coordinator", "arbiter", "pauser")


class CliError(FedstakeError):
    """Something the CLI itself found wrong (a file, an argument, nothing to do): exit 1.

    The message is one line that says what to do next, naming a command."""


# -- root options ---------------------------------------------------------------------------
@dataclass
class Units:
    """How token amounts print: symbol and decimals of the deployment's token."""

    symbol: str = "tokens"
    decimals: int = 18


@dataclass
class Opts:
    """The root options (before the command), shared by every command."""

    chain: str | None = None
    deployment: Path = Path(DEFAULT_DEPLOYMENT)
    home: Path = Path(DEFAULT_HOME)
    confirmations: int = 1
    auto_approve: bool = True
    json: bool = False
    wei: bool = False
    debug: bool = False
    units: Units = field(default_factory=Units)
    local: bool = False  # set once a chain is opened: a development chain (warp/fund work)


def opts_of(ctx: typer.Context) -> Opts:
    obj = ctx.find_root().obj
    if not isinstance(obj, Opts):  # a command invoked without the root callback (tests)
        obj = Opts()
        ctx.find_root().obj = obj
    return obj


# -- amounts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Amount:
    """An amount as typed: tokens (decimals allowed) or ``NNNwei``."""

    value: Decimal
    is_wei: bool = False
    text: str = ""

    def wei(self, decimals: int = 18) -> int:
        if self.is_wei:
            return int(self.value)
        with localcontext() as c:
            c.prec = 100
            raw = self.value.scaleb(decimals)
        if raw != raw.to_integral_value():
            raise CliError(
                f"amount {self.text!r} has more than {decimals} decimals, the token's smallest "
                f"unit: round it, or give it in wei (e.g. `fedstake stake 1000wei`)"
            )
        return int(raw)


def parse_amount(text: str, *, allow_zero: bool = False) -> Amount:
    """'12.5' tokens, '1_000', '123wei'; never negative (and not zero unless allowed)."""
    t = text.strip().replace("_", "").replace(",", "")
    is_wei = t.lower().endswith("wei")
    if is_wei:
        t = t[:-3].strip()
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise ValueError(
            f"{text!r} is not an amount: give tokens (e.g. 100 or 0.5) or NNNwei"
        ) from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount: give tokens (e.g. 100 or 0.5) or NNNwei")
    if value < 0:
        raise ValueError(f"amount {text} is negative: give a positive amount (e.g. 100)")
    if value == 0 and not allow_zero:
        raise ValueError(f"amount {text} is zero: give a positive amount (e.g. 100)")
    if is_wei and value != value.to_integral_value():
        raise ValueError(f"{text!r}: wei is the smallest unit, it has no fractions")
    return Amount(value, is_wei, text)


class AmountType(click.ParamType):
    name = "amount"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: Any, ctx: Any) -> Amount:
        if isinstance(value, Amount):
            return value
        try:
            return parse_amount(str(value), allow_zero=self.allow_zero)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# -- durations ------------------------------------------------------------------------------
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> int:
    """'90s', '45m', '2h', '3d', '1w', '1h30m', or plain seconds → seconds."""
    t = text.strip().lower().replace(" ", "")
    if t.isdigit():
        return int(t)
    pos, total = 0, Decimal(0)
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            break
        total += Decimal(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError(f"{text!r} is not a duration: use e.g. 90s, 45m, 2h, 3d, 1w or 1h30m")
    if total <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return int(total)


class DurationType(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def fmt_duration(seconds: int) -> str:
    """Two most significant units: '2h 5m', '3d 1h', '45s'."""
    s = int(abs(seconds))
    if s == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return " ".join(parts[:2])


def fmt_date(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_when(ts: int, now: int) -> str:
    """A date relative to the chain's clock: '2025-… UTC (in 2h 5m)'."""
    if ts <= 0:
        return "-"
    delta = int(ts) - int(now)
    rel = "now" if delta == 0 else (f"in {fmt_duration(delta)}" if delta > 0 else None)
    rel = rel or f"{fmt_duration(delta)} ago"
    return f"{fmt_date(ts)} ({rel})"


# -- addresses ------------------------------------------------------------------------------
def parse_address(text: str) -> str:
    from eth_utils import is_hex_address, to_checksum_address

    t = text.strip()
    if not is_hex_address(t) or not t.lower().startswith("0x"):
        raise ValueError(
            f"{text!r} is not an address: expected 0x followed by 40 hex digits "
            "(`fedstake key address` prints yours)"
        )
    return str(to_checksum_address(t))


class AddressType(click.ParamType):
    name = "address"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return parse_address(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


AMOUNT = AmountType()
AMOUNT0 = AmountType(allow_zero=True)
DURATION = DurationType()
ADDRESS = AddressType()

# Options most commands take (after the command name).
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON document (amounts in wei as strings, times in unix s)."
    ),
]
WeiOpt = Annotated[bool, typer.Option("--wei", help="Show amounts in wei instead of tokens.")]


# -- numbers as text ------------------------------------------------------------------------
def fmt_units(amount: int, decimals: int) -> str:
    with localcontext() as c:
        c.prec = 100
        q = Decimal(int(amount)).scaleb(-decimals)
    text = f"{q:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


DISPLAY_PLACES = 6


def fmt_tokens(amount: int, decimals: int, symbol: str, wei: bool = False) -> str:
    """For people: at most 6 decimals ('2.355038 FED'; '<0.000001 FED' for dust); exact
    wei with ``wei`` (and always under --json)."""
    if wei:
        return f"{int(amount)} wei"
    amount = int(amount)
    places = min(DISPLAY_PLACES, decimals)
    unit = 10 ** (decimals - places)
    if 0 < abs(amount) < unit:
        return f"<{fmt_units(unit, decimals)} {symbol}"
    rounded = (abs(amount) + unit // 2) // unit * unit * (1 if amount >= 0 else -1)
    return f"{fmt_units(rounded, decimals)} {symbol}"


def short(address: str | None) -> str:
    return "-" if not address else f"{address[:6]}…{address[-4:]}"


def hex32(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def reason_name(code: int) -> str:
    from federation.protocol.slash_reasons import SlashReason

    try:
        return SlashReason(int(code)).name
    except ValueError:
        return f"reason {code}"


# -- output ----------------------------------------------------------------------------------
class Output:
    """Everything a command prints goes through here: JSON or rich tables, never both."""

    def __init__(self, opts: Opts, json_flag: bool = False, wei_flag: bool = False) -> None:
        self.opts = opts
        self.json = json_flag or opts.json
        self.wei = wei_flag or opts.wei
        self._console: Console | None = None
        self._err: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = _console(sys.stdout)
        return self._console

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = _console(sys.stderr)
        return self._err

    # amounts
    @property
    def units(self) -> Units:
        return self.opts.units

    def tokens(self, wei: int) -> str:
        return fmt_tokens(wei, self.units.decimals, self.units.symbol, self.wei)

    def eth(self, wei: int) -> str:
        return fmt_tokens(wei, 18, "ETH", self.wei)

    # printing
    def emit(self, data: Any) -> None:
        """The JSON document (stdout, nothing else there)."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def print(self, *lines: Any) -> None:
        for line in lines:
            if isinstance(line, str):
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                self.console.print(line)

    def next_steps(self, *commands: str) -> None:
        if commands:
            self.print("next: " + "; ".join(f"`{c}`" for c in commands))

    def warn(self, text: str) -> None:
        self.err.print(f"fedstake: warning: {text}", markup=False, highlight=False, soft_wrap=True)

    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
    ) -> None:
        t = Table(title=title, title_justify="left", title_style="bold")
        for c in columns:
            t.add_column(c, overflow="fold")
        for row in rows:
            t.add_row(*("-" if v is None else str(v) for v in row))
        self.console.print(t)

    def fields(self, pairs: Iterable[tuple[str, Any]], title: str | None = None) -> None:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(overflow="fold")
        for k, v in pairs:
            t.add_row(k, "-" if v is None else str(v))
        if title:
            self.console.print(title, markup=False, highlight=False, style="bold")
        self.console.print(t)

    def progress(self, items: Sequence[T], description: str) -> Iterator[T]:
        """Iterate with a progress bar on a terminal (stderr); silently otherwise."""
        if self.json or not self.err.is_terminal or len(items) < 2:
            yield from items
            return
        from rich.progress import track

        yield from track(items, description=description, console=self.err, transient=True)

    def status(self, text: str) -> Any:
        """A spinner while something long runs (terminal only)."""
        if self.json or not self.err.is_terminal:
            return nullcontext()
        return self.err.status(text)

    def tx(self, result: TxResult, summary: str, **extra: Any) -> None:
        """A transaction's outcome: JSON with tx/block/gas, or a sentence plus the tx."""
        if self.json:
            self.emit({**tx_json(result), **extra})
            return
        self.print(summary)
        if result.already_applied:
            self.print("(already done before: no transaction sent)")
        elif result.receipt is not None:
            self.print(
                f"tx {result.tx_hash} in block {result.receipt.block_number}, "
                f"gas {result.gas_used:,}"
            )


def _console(stream: Any) -> Console:
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    width = None if tty else max(int(os.environ.get("COLUMNS", "0") or 0), 200)
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def tx_json(result: TxResult) -> dict[str, Any]:
    out: dict[str, Any] = {"already_applied": result.already_applied}
    if result.receipt is not None:
        out.update(tx=result.tx_hash, block=result.receipt.block_number, gas=result.gas_used)
    return out


# -- keys, chain, ledger ----------------------------------------------------------------------
def env_signer() -> Signer | None:
    """The key from $FEDSTAKE_PRIVATE_KEY or $FEDSTAKE_KEYSTORE; None when neither is set.

    A keystore's password comes from $FEDSTAKE_KEYSTORE_PASSWORD, or a prompt when there is
    a terminal to prompt on."""
    from federation.keys import ENV_KEYSTORE, ENV_KEYSTORE_PASSWORD, ENV_PRIVATE_KEY, from_env

    if os.environ.get(ENV_PRIVATE_KEY):
        return from_env()
    keystore = os.environ.get(ENV_KEYSTORE)
    if not keystore:
        return None
    if ENV_KEYSTORE_PASSWORD not in os.environ and not _stdin_is_tty():
        raise KeyLoadError(
            f"keystore {keystore} needs its password and there is no terminal to ask on: "
            f"set {ENV_KEYSTORE_PASSWORD}"
        )
    return from_env()


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def chain_url(opts: Opts) -> str:
    """--chain / $FEDSTAKE_CHAIN, else the running `fedstake chain up` chain, else the
    embedded chain."""
    from federation.commands.localchain import DevChain

    if opts.chain:
        return opts.chain
    rec = DevChain.load(opts.home)
    if rec is not None:
        if not rec.alive():
            raise CliError(
                f"the local chain started by `fedstake chain up` (pid {rec.pid}, {rec.url}) "
                f"is no longer running: restart it from its state file with `fedstake chain up`"
            )
        return rec.url
    return "inprocess://"


def connect_chain(opts: Opts, signer: Signer | None) -> Chain:
    from federation.chain import connect
    from federation.commands.localchain import DevChain, DevRpcChain

    url = chain_url(opts)
    rec = DevChain.load(opts.home)
    if rec is not None and url.rstrip("/") == rec.url.rstrip("/"):
        chain: Chain = DevRpcChain(url, signer)
    else:
        chain = connect(url, signer)
    opts.local = bool(getattr(chain, "is_local", False))
    return chain


def units_of(ledger: Ledger) -> Units:
    try:
        return Units(str(ledger.token.call("symbol")), int(ledger.token.call("decimals")))
    except Exception:
        return Units()


@contextmanager
def open_ledger(opts: Opts) -> Iterator[Ledger]:
    """The deployment's Ledger as the configured signer; the chain stops afterwards
    (an anvil:// chain dumps its ?state= file then)."""
    from federation import cli

    ledger = cli._ledger(opts)
    try:
        opts.local = opts.local or bool(getattr(ledger.chain, "is_local", False))
        opts.units = units_of(ledger)
        yield ledger
    finally:
        ledger.close()


def run_with_ledger(opts: Opts, fn: Callable[[Ledger], T]) -> T:
    with open_ledger(opts) as ledger:
        return fn(ledger)


def warp_hint(opts: Opts, seconds: int) -> str:
    """'; on this local chain `fedstake chain warp 2h` moves the clock' where that works."""
    if not opts.local or seconds <= 0:
        return ""
    return f"; on this local chain `fedstake chain warp {_warp_text(seconds)}` moves the clock"


def _warp_text(seconds: int) -> str:
    """A duration a little past ``seconds``, in the units people type (``2h``, ``1h1m``)."""
    if seconds < 120:
        return f"{seconds + 1}s"
    minutes = -(-(seconds + 1) // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts)
