"""Crash points: a testing hook that kills the process at a named step.

``crash_point(name)`` does nothing unless the environment variable ``FEDSTAKE_CRASH_AT``
equals ``name``; then it ends the process at once with ``os._exit(77)`` — no cleanup, no
``finally``, no flushing of Python's buffers, as close to ``kill -9`` as a process can do
to itself. Crash-recovery tests run a coordinator with the variable set, then restart it
without and check the round completes exactly once.

Points in the product:
    ``before-finalize``         `RoundEngine.conclude`: decided and journalled, finalize
                                not sent
    ``after-send:<function>``   `TxSender.send`: the transaction calling that contract
                                function was broadcast, its receipt not yet read
                                (``after-send:finalizeRound``)
"""

from __future__ import annotations

import os

ENV_CRASH_AT = "FEDSTAKE_CRASH_AT"
CRASH_EXIT_CODE = 77


def crash_point(name: str) -> None:
    """Exit with status 77 right here when ``$FEDSTAKE_CRASH_AT == name``; else nothing."""
    if os.environ.get(ENV_CRASH_AT) == name:
        os.write(2, f"fedstake: crash point {name!r} reached, exiting {CRASH_EXIT_CODE}\n".encode())
        os._exit(CRASH_EXIT_CODE)


__all__ = ["CRASH_EXIT_CODE", "ENV_CRASH_AT", "crash_point"]
