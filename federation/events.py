"""History queries over block ranges, fetched in pages so public RPCs' log limits hold."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from federation.contract import BoundContract
from federation.tx import with_retries

log = logging.getLogger(__name__)

DEFAULT_PAGE = 5_000


@dataclass(frozen=True)
class LogRecord:
    """One decoded event: where it happened and its arguments."""

    event: str
    block_number: int
    tx_hash: str
    log_index: int
    args: dict[str, Any]


def iter_events(
    contract: BoundContract,
    event: str,
    from_block: int = 0,
    to_block: int | None = None,
    page: int = DEFAULT_PAGE,
    filters: dict[str, Any] | None = None,
) -> Iterator[LogRecord]:
    """Yield ``event`` logs in block order; a page the node refuses is split in half."""
    w3 = contract.sender.w3
    last = int(w3.eth.block_number) if to_block is None else to_block
    ev = getattr(contract.contract.events, event)()
    start, size = from_block, max(1, page)
    while start <= last:
        end = min(last, start + size - 1)
        try:
            logs = with_retries(
                lambda s=start, e=end: ev.get_logs(
                    argument_filters=filters, from_block=s, to_block=e
                ),
                contract.sender.policy,
                f"get_logs {event}",
            )
        except Exception as exc:
            text = str(exc).lower()
            if size > 1 and any(w in text for w in ("range", "limit", "too many", "exceed")):
                size = max(1, size // 2)
                log.info("get_logs page too large (%s); shrinking to %d blocks", exc, size)
                continue
            raise
        for item in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"])):
            yield LogRecord(
                event=event,
                block_number=int(item["blockNumber"]),
                tx_hash="0x" + bytes(item["transactionHash"]).hex(),
                log_index=int(item["logIndex"]),
                args=dict(item["args"]),
            )
        start = end + 1
