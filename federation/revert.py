"""Revert decoding: one Python exception class per custom error in the contracts' ABIs.

``error_class("NotStaked")`` is the class ``NotStaked(ContractRevert)``; the same object
whether or not an ABI naming it has been loaded, so callers can catch it by name
(``except revert.error_class("AlreadyClaimed")``) or via ``ledger.errors.AlreadyClaimed``.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterable
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError

from federation.errors import ContractRevert, UnknownRevert

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")

#: what to do about a revert, shown in the exception message (known names only).
HINTS: dict[str, str] = {}

_REPR_BYTES = re.compile(r"(b'.*'|b\".*\")\s*$", re.S)

_classes: dict[str, type[ContractRevert]] = {}
_lock = threading.Lock()


def error_class(name: str) -> type[ContractRevert]:
    """The exception class for custom error ``name`` (created on first use)."""
    with _lock:
        cls = _classes.get(name)
        if cls is None:
            cls = type(
                name,
                (ContractRevert,),
                {
                    "error_name": name,
                    "hint": HINTS.get(name, ""),
                    "__module__": "federation.revert",
                    "__doc__": f"The contract reverted with custom error ``{name}``.",
                },
            )
            _classes[name] = cls
        return cls


def _abi_type(param: dict[str, Any]) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


class ErrorNamespace:
    """Attribute access to generated error classes: ``ns.NotStaked``."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = sorted(set(names))

    def __getattr__(self, name: str) -> type[ContractRevert]:
        if name.startswith("_"):
            raise AttributeError(name)
        return error_class(name)

    def __dir__(self) -> list[str]:
        return self._names


class RevertDecoder:
    """Maps 4-byte selectors in revert data to the generated exception classes."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]] = ()) -> None:
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            self.add_abi(abi)

    def add_abi(self, abi: list[dict[str, Any]]) -> None:
        for entry in abi:
            if entry.get("type") != "error":
                continue
            types = [_abi_type(p) for p in entry.get("inputs", [])]
            names = [p.get("name") or f"arg{i}" for i, p in enumerate(entry.get("inputs", []))]
            signature = f"{entry['name']}({','.join(types)})"
            self._by_selector[keccak(text=signature)[:4]] = (entry["name"], names, types)
            error_class(entry["name"])

    @property
    def names(self) -> list[str]:
        return sorted({v[0] for v in self._by_selector.values()})

    def namespace(self) -> ErrorNamespace:
        return ErrorNamespace(self.names)

    def decode(self, data: bytes | str | None, context: str = "") -> ContractRevert:
        """An exception instance for revert ``data`` (never raises while decoding)."""
        raw = _to_bytes(data)
        where = f" in {context}" if context else ""
        if len(raw) < 4:
            return UnknownRevert(f"call reverted without a reason{where}")
        selector, body = raw[:4], raw[4:]
        if selector == ERROR_STRING_SELECTOR:
            try:
                (reason,) = decode(["string"], body)
            except Exception:
                reason = body.hex()
            return UnknownRevert(f"call reverted{where}: {reason}", {"reason": reason})
        if selector == PANIC_SELECTOR:
            try:
                (code,) = decode(["uint256"], body)
            except Exception:
                code = -1
            return UnknownRevert(f"call panicked{where} (code {code:#x})", {"code": code})
        known = self._by_selector.get(selector)
        if known is None:
            return UnknownRevert(f"call reverted{where} with unknown error 0x{raw.hex()}")
        name, names, types = known
        try:
            values = decode(types, body)
        except Exception:
            values = ()
        values = tuple(
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, values, strict=False)
        )
        cls = error_class(name)
        exc = cls("", dict(zip(names, values, strict=False)))
        if context:
            exc.args = (f"{exc.args[0]} ({context})",)
        return exc


def _to_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = str(data)
    if text.startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def revert_data_from(exc: BaseException) -> bytes | None:
    """Revert bytes from a web3 ContractLogicError or an eth-tester TransactionFailed.

    eth-tester reports ``execution reverted: b'...'`` (the repr of the data), and keeps
    py-evm's Revert, whose first argument is the raw data, as the cause when it can.
    """
    data = getattr(exc, "data", None)
    if data:
        return _to_bytes(data)
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if node.args and isinstance(node.args[0], bytes | bytearray):
            return bytes(node.args[0])
        if node.args and isinstance(node.args[0], str):
            match = _REPR_BYTES.search(node.args[0])
            if match:
                try:
                    value = ast.literal_eval(match.group(1))
                except (ValueError, SyntaxError):
                    value = None
                if isinstance(value, bytes):
                    return value
        node = node.__cause__ or node.__context__
    return None


def is_revert(exc: BaseException) -> bool:
    """Whether ``exc`` is a contract revert (web3's or eth-tester's), not a transport error."""
    if isinstance(exc, ContractLogicError):
        return True
    return type(exc).__name__ == "TransactionFailed" and type(exc).__module__.startswith(
        "eth_tester"
    )
