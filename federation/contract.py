"""One deployed contract bound to a TxSender: typed-free calls and sends with revert decoding.

This is the only place (with ``federation.chain``/``tx``) that touches web3's contract
objects; the Ledger facade turns what it returns into dataclasses.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from federation.keys import Signer
from federation.revert import is_revert, revert_data_from
from federation.tx import Receipt, TxSender, with_retries


class BoundContract:
    """A contract at an address: ``call`` reads, ``send`` signs and waits."""

    def __init__(
        self, name: str, address: str, abi: list[dict[str, Any]], sender: TxSender
    ) -> None:
        self.name = name
        self.address = to_checksum_address(address)
        self.abi = abi
        self.sender = sender
        self.contract = sender.w3.eth.contract(address=self.address, abi=abi)

    def encode(self, fn: str, *args: Any) -> bytes:
        return bytes.fromhex(self.contract.encode_abi(fn, args=list(args))[2:])

    def call(self, fn: str, *args: Any, block: Any = "latest", sender: str | None = None) -> Any:
        """Read ``fn(*args)``; a revert raises the decoded custom error."""
        func = self.contract.get_function_by_name(fn)(*args)
        tx = {"from": sender} if sender else {}
        try:
            return with_retries(
                lambda: func.call(tx, block_identifier=block),
                self.sender.policy,
                f"{self.name}.{fn}",
            )
        except Exception as exc:
            if not is_revert(exc):
                raise
            raise self.sender.decoder.decode(revert_data_from(exc), f"{self.name}.{fn}") from None

    def call_many(self, fn: str, args_list: list[tuple[Any, ...]]) -> list[Any]:
        """``call(fn, *args)`` for each args, in one JSON-RPC batch where the provider
        supports it (HTTP), else one by one; any failure falls back to single calls, so
        errors surface exactly as ``call`` raises them."""
        if len(args_list) > 1:
            func = self.contract.get_function_by_name(fn)
            try:
                with self.sender.w3.batch_requests() as batch:
                    for args in args_list:
                        batch.add(func(*args))
                    results = list(batch.execute())
                if len(results) == len(args_list) and not any(
                    isinstance(r, BaseException) for r in results
                ):
                    return results
            except Exception:  # no batch support (in-process), or one call reverted
                pass
        return [self.call(fn, *args) for args in args_list]

    def send(
        self, signer: Signer, fn: str, *args: Any, value: int = 0, gas: int | None = None
    ) -> Receipt:
        """Send ``fn(*args)`` from ``signer``; reverts raise before anything is broadcast."""
        return self.sender.send(
            signer,
            self.address,
            self.encode(fn, *args),
            value=value,
            gas=gas,
            context=f"{self.name}.{fn}",
        )

    def events_in(self, receipt: Receipt, event: str) -> list[dict[str, Any]]:
        """Decoded ``event`` logs of this contract in a receipt, as plain dicts of args."""
        ev = getattr(self.contract.events, event)()
        out = []
        for log in receipt.logs:
            if to_checksum_address(log["address"]) != self.address:
                continue
            try:
                out.append(dict(ev.process_log(log)["args"]))
            except Exception:
                continue
        return out
