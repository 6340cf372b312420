"""Ledger benchmark: wall time of deploy, 100 stakes, a 1,000-participant round, 100 claims
(each with a participant proof and a results sum-tree proof).

``python -m federation.bench [--backend inprocess|anvil|all]``. Not a test: it prints a
Markdown table (for federation/BENCH.md). Preparation (gas money, tokens, approvals) is
not timed; every timed transaction is sent and its receipt awaited one after another,
through the Ledger, exactly as a client would.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from federation.chain import connect
from federation.keys import generate
from federation.ledger import Ledger
from federation.protocol import Commitment, SlashReason
from federation.types import RewardEntry, RoundResults

T = TypeVar("T")
TOKEN = 10**18


@dataclass
class Row:
    backend: str
    step: str
    seconds: float
    txs: int
    gas: int

    @property
    def per_tx_ms(self) -> float:
        return 1000 * self.seconds / max(1, self.txs)


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(backend: str, stakers: int = 100, participants: int = 1_000, slashes: int = 5) -> list[Row]:
    rows: list[Row] = []
    chain = connect(f"{backend}://")
    try:
        admin, dt = _timed(lambda: Ledger.deploy(chain))
        deploy_txs = int(chain.w3.eth.get_transaction_count(admin.address))
        rows.append(
            Row(
                backend,
                "deploy (token, fault verifier, 3 proxies, timelock, wiring, roles, handover)",
                dt,
                deploy_txs,
                0,
            )
        )

        # -- untimed preparation: gas money, tokens, approvals
        people = [admin.as_signer(generate()) for _ in range(stakers)]
        for p in people:
            admin.fund_eth(p.address, 10**19)
            admin.transfer_tokens(p.address, 100 * TOKEN)
            p.approve(p.stake_manager.address, 2**256 - 1)
        budget = 10_000 * TOKEN
        admin.post_bond(
            -(-budget // admin.round_config().budget_bond_multiple)
        )  # budget ≤ bond × k
        admin.fund_reward_pool(100_000 * TOKEN)

        receipts, dt = _timed(lambda: [p.stake(50 * TOKEN) for p in people])
        rows.append(
            Row(backend, f"{stakers} stakes", dt, stakers, sum(r.gas_used for r in receipts))
        )

        members = [p.address for p in people] + [
            generate().address for _ in range(participants - stakers)
        ]
        model = b"\x01" * 32
        rid = admin.next_round_id()
        tree, dt_tree = _timed(lambda: admin.participants_tree(rid, members))
        opened, dt_open = _timed(
            lambda: admin.open_round(members, reward_budget=budget, global_model_hash=model)
        )
        entries = [
            RewardEntry(m, bytes([i % 250 + 1]) * 32, 1_000, 10 * TOKEN)
            for i, m in enumerate(members)
        ]
        evidence = []
        for p in people[-slashes:] if slashes else []:
            c = Commitment(rid, p.address, model, b"\xee" * 32, 10)
            evidence.append(
                admin.slash_evidence(
                    c,
                    p.sign_commitment(c),
                    reason=SlashReason.BYZANTINE,
                    slash_bps=1_000,
                    participants=tree,
                )
            )
        results, dt_results = _timed(lambda: RoundResults.build(rid, entries))
        finalized, dt_fin = _timed(
            lambda: admin.finalize_round(
                rid, aggregate_hash=b"\x02" * 32, results=results, slashes=evidence
            )
        )
        rows.append(
            Row(
                backend,
                f"build participant + results sum trees ({participants} leaves)",
                dt_tree + dt_results,
                0,
                0,
            )
        )
        rows.append(
            Row(backend, f"open round ({participants} participants)", dt_open, 1, opened.gas_used)
        )
        rows.append(
            Row(
                backend,
                f"finalize round ({participants} results, {slashes} slashes)",
                dt_fin,
                1,
                finalized.gas_used,
            )
        )

        admin.advance_time(admin.round_config().challenge_window + 1)
        admin.settle_round(rid)
        claims, dt = _timed(lambda: [p.claim(rid, results) for p in people])
        rows.append(Row(backend, f"{stakers} claims", dt, stakers, sum(c.gas_used for c in claims)))
    finally:
        chain.close()
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| backend | step | wall s | txs | ms/tx | gas (total) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = f"{r.per_tx_ms:.1f}" if r.txs else "–"
        gas = f"{r.gas:,}" if r.gas else "–"
        lines.append(
            f"| {r.backend} | {r.step} | {r.seconds:.2f} | {r.txs or '–'} | {per} | {gas} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m federation.bench", description=__doc__)
    ap.add_argument("--backend", choices=["inprocess", "anvil", "all"], default="all")
    ap.add_argument("--stakers", type=int, default=100)
    ap.add_argument("--participants", type=int, default=1_000)
    ap.add_argument("--slashes", type=int, default=5)
    args = ap.parse_args(argv)
    backends = ["inprocess", "anvil"] if args.backend == "all" else [args.backend]
    rows: list[Row] = []
    for b in backends:
        rows += run(b, args.stakers, args.participants, args.slashes)
    print(
        f"<!-- {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()} -->"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
