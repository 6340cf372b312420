"""`StakedStrategy`: wrap any Flower strategy so every round is staked and settled on-chain.

In the style of Flower's `DifferentialPrivacy*` wrappers: it holds the inner strategy,
passes evaluation through, and does its work around training:

* `configure_train` — identify nodes not seen before (a nonce-bound EIP-712 NodeBinding,
  answered by `fedstake_mod`), keep node → address, let the inner strategy sample among
  the staked, eligible, uniquely bound nodes only, open the round on-chain and tell each
  train message what to sign;
* `aggregate_train` — turn replies into signed submissions and hand them to the round
  engine (`federation.engine.RoundEngine`): validate → the inner strategy's own
  `aggregate_train` on the valid updates → score → decide → artifacts → finalize →
  provenance; then settle rounds whose challenge window has passed.

A refused node (bad proof, an address already claimed by another node, not eligible) gets
no train message; the reason is logged and counted in the round's metrics.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from logging import INFO, WARNING
from typing import Any

from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.common.logger import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from federation.engine import OpenedRound, RoundEngine, RoundOutcome
from federation.flower.inner import InnerStrategyAggregator
from federation.flower.records import (
    COMMITMENT,
    IDENTIFY,
    IDENTIFY_MESSAGE_TYPE,
    IDENTITY,
    ROUND,
    RecordError,
    RoundInfo,
    arrays_of,
    commitment_from_record,
    run_id_bytes,
)
from federation.protocol.eip712 import NodeBinding, recover_node_binding
from federation.validation import Submission

BINDING_LIFETIME = 3600  # seconds a node binding stays valid after the query


class _AllowedGrid:
    """The grid as the inner strategy sees it: only nodes allowed to train this round."""

    def __init__(self, grid: Grid, allowed: Iterable[int]) -> None:
        self._grid = grid
        self._allowed = sorted(set(allowed))

    def get_node_ids(self) -> list[int]:
        return list(self._allowed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)


class StakedStrategy(Strategy):
    """Wrap `strategy`; settle every training round through `engine`.

    `budget` is the reward budget per round (token wei). `on_round` is called with each
    round's outcome (reports, demo output). `warp_after_finalize` moves a *local* chain's
    clock past the challenge window after each finalize, so rounds settle within a
    simulation (never set it on a real chain: the ledger refuses anyway).
    """

    def __init__(
        self,
        strategy: Strategy,
        engine: RoundEngine,
        *,
        budget: int,
        identify_timeout: float = 120.0,
        round_duration: int | None = None,
        warp_after_finalize: bool = False,
        on_round: Any = None,
    ) -> None:
        super().__init__()
        agg = engine.aggregator
        if not (isinstance(agg, InnerStrategyAggregator) and agg.strategy is strategy):
            raise ValueError(
                "the inner strategy decides the aggregate: build the engine with "
                "InnerStrategyAggregator.wrapping(strategy) (or .named(NAME), then pass "
                "its .strategy here)"
            )
        self.strategy = strategy
        self.engine = engine
        self.budget = int(budget)
        self.identify_timeout = identify_timeout
        self.round_duration = round_duration
        self.warp_after_finalize = warp_after_finalize
        self.on_round = on_round
        self.node_address: dict[int, str] = {}  # bound nodes
        self.refused: dict[int, str] = {}  # node → reason (bad proof, duplicate address)
        self.contested: set[str] = set()  # addresses claimed by two nodes
        self.refusal_counts: Counter[str] = Counter()
        self.outcomes: list[RoundOutcome] = []
        self.settle_gas: dict[int, dict[str, int]] = {}
        self._open: OpenedRound | None = None
        self._round_nodes: dict[int, str] = {}

    # -- identify -------------------------------------------------------------------------
    def _refuse(self, node: int, reason: str, detail: str, *, final: bool = True) -> None:
        self.refusal_counts[reason] += 1
        if final:
            self.refused[node] = reason
        log(WARNING, "fedstake: node %d refused (%s): %s", node, reason, detail)

    def identify(self, grid: Grid) -> None:
        """Query every node not yet bound or refused for its address binding."""
        led = self.engine.ledger
        new = [
            n for n in grid.get_node_ids() if n not in self.node_address and n not in self.refused
        ]
        if not new:
            return
        run_id = int(grid.run.run_id)
        expiry = led.now() + BINDING_LIFETIME
        domain = led.domain
        nonces: dict[int, bytes] = {}
        queries = []
        for node in new:
            nonces[node] = os.urandom(32)
            rec = ConfigRecord(
                {
                    "nonce": nonces[node],
                    "chain-id": domain.chain_id,
                    "contract": domain.verifying_contract,
                    "expiry": expiry,
                }
            )
            queries.append(
                Message(
                    content=RecordDict({IDENTIFY: rec}),
                    dst_node_id=node,
                    message_type=IDENTIFY_MESSAGE_TYPE,
                )
            )
        answered: set[int] = set()
        for reply in grid.send_and_receive(queries, timeout=self.identify_timeout):
            node = int(reply.metadata.src_node_id)
            if node not in nonces or node in answered:
                continue
            answered.add(node)
            self._check_identity(node, reply, nonces[node], run_id, expiry)
        for node in set(new) - answered:
            self._refuse(node, "no-identity", "did not answer the identity query", final=False)

    def _check_identity(
        self, node: int, reply: Message, nonce: bytes, run_id: int, expiry: int
    ) -> None:
        led = self.engine.ledger
        if reply.has_error():
            self._refuse(node, "identity-error", str(reply.error.reason), final=False)
            return
        rec = reply.content.config_records.get(IDENTITY)
        if rec is None:
            self._refuse(
                node,
                "no-identity",
                "reply has no fedstake.identity record (is fedstake_mod installed?)",
            )
            return
        try:
            address = str(rec["address"])
            sig = bytes(rec["signature"])  # type: ignore[call-overload]
            binding = NodeBinding(address, node, run_id_bytes(run_id), expiry, nonce)
            signer = recover_node_binding(led.domain, binding, sig)
        except Exception as exc:  # missing fields, malformed signature
            self._refuse(node, "bad-proof", f"unreadable binding ({exc})")
            return
        if signer.lower() != address.lower():
            self._refuse(node, "bad-proof", f"binding signed by {signer}, claims {address}")
            return
        owner = next((n for n, a in self.node_address.items() if a == signer), None)
        if owner is not None or signer in self.contested:
            # One key on two nodes: which is legitimate cannot be told, so neither trains.
            self.contested.add(signer)
            if owner is not None:
                del self.node_address[owner]
                self._refuse(owner, "address-taken", f"{signer} is also claimed by node {node}")
            self._refuse(node, "address-taken", f"{signer} is already claimed by another node")
            return
        self.node_address[node] = signer
        log(INFO, "fedstake: node %d bound to %s", node, signer)

    def eligible_nodes(self) -> dict[int, str]:
        """Bound nodes whose address is staked and eligible now (re-checked every round)."""
        bound = sorted(self.node_address.items())
        ok = self.engine.ledger.eligibility([addr for _, addr in bound])
        out = {}
        for node, addr in bound:
            if ok[addr]:
                out[node] = addr
            else:
                self._refuse(
                    node,
                    "not-eligible",
                    f"{addr} is not staked (or below the minimum)",
                    final=False,
                )
        return out

    # -- train ----------------------------------------------------------------------------
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self.identify(grid)
        allowed = self.eligible_nodes()
        if not allowed:
            log(WARNING, "fedstake: no eligible node for round %d; skipping it", server_round)
            self._open = None
            return []
        messages = [
            m
            for m in self.strategy.configure_train(
                server_round, arrays, config, _AllowedGrid(grid, allowed)
            )  # type: ignore[arg-type]
            if m.metadata.dst_node_id in allowed
        ]
        if not messages:
            self._open = None
            return []
        nodes = [int(m.metadata.dst_node_id) for m in messages]
        self._round_nodes = {n: allowed[n] for n in nodes}
        global_arrays = arrays_of(arrays)
        opened = self.engine.open_round(
            [allowed[n] for n in nodes], global_arrays, self.budget, duration=self.round_duration
        )
        self._open = opened
        led = self.engine.ledger
        info = RoundInfo(opened.round_id, led.domain, opened.global_model_hash).to_record()
        for m in messages:
            m.content.config_records[ROUND] = info
        log(INFO, "fedstake: round %d opened on-chain as round %d", server_round, opened.round_id)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        opened, self._open = self._open, None
        if opened is None:
            return None, None
        subs: list[Submission] = []
        errors = 0
        for msg in replies:
            node = int(msg.metadata.src_node_id)
            addr = self._round_nodes.get(node)
            if addr is None:
                continue
            if msg.has_error():
                errors += 1
                log(WARNING, "fedstake: node %d replied with an error: %s", node, msg.error.reason)
                continue  # absent: no reward, no slash
            subs.append(_submission(msg, addr, node))
        outcome = self.engine.conclude(opened, subs)
        self.outcomes.append(outcome)
        self._after_finalize()
        metrics = outcome.metrics()
        metrics["client-errors"] = float(errors)
        metrics["chain-round"] = float(outcome.round_id)
        for reason, count in self.refusal_counts.items():
            metrics[f"refused-{reason}"] = float(count)
        if self.on_round:
            self.on_round(server_round, outcome)
        record = ArrayRecord({k: Array(v) for k, v in outcome.aggregate_arrays.items()})
        return record, MetricRecord(metrics)

    def _after_finalize(self) -> None:
        if self.warp_after_finalize:
            led = self.engine.ledger
            led.advance_time(led.round_config().challenge_window + 1)
        self.settle(claim=False)  # claims (simulations only) wait for the end of the run

    def settle(self, *, claim: bool = True) -> dict[int, dict[str, int]]:
        """Settle every round past its challenge window; with `claim`, also trigger the
        participants' pull payments when the engine is configured to (simulations)."""
        done = self.engine.settle_due(claim=claim)
        for rid, gas in done.items():
            self.settle_gas.setdefault(rid, {}).update(gas)
        return done

    # -- evaluate: the inner strategy's ---------------------------------------------------
    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        led = self.engine.ledger
        log(
            INFO,
            "\t├──> fedstake: staked rounds on chain %d, RoundManager %s",
            led.deployment.chain_id,
            led.deployment.address("RoundManager"),
        )
        log(INFO, "\t├──> aggregation: %s", self.engine.aggregator.spec())
        self.strategy.summary()


def _submission(msg: Message, address: str, node: int) -> Submission:
    """A reply as the engine's Submission; anything unreadable becomes an empty field that
    validation then excludes with its reason."""
    content = msg.content
    commitment = signature = None
    rec = content.config_records.get(COMMITMENT)
    if rec is not None:
        try:
            commitment, signature = commitment_from_record(rec)
        except RecordError as exc:
            log(WARNING, "fedstake: node %d sent an unreadable commitment: %s", node, exc)
    arrays: dict[str, Any] = {}
    if len(content.array_records) == 1:
        try:
            arrays = arrays_of(next(iter(content.array_records.values())))
        except Exception as exc:  # arrays that cannot be deserialised
            log(WARNING, "fedstake: node %d sent unreadable arrays: %s", node, exc)
    num_examples = 0
    if len(content.metric_records) == 1:
        value = next(iter(content.metric_records.values())).get("num-examples", 0)
        if isinstance(value, int) and not isinstance(value, bool):
            num_examples = int(value)
    return Submission(address, arrays, num_examples, commitment, signature, node_id=node)
