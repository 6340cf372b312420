"""A Flower `Grid` that delivers messages to ClientApps in this process: the fast runner.

The same ServerApp strategy, ClientApp and mods as `flwr run`, minus Ray and the
SuperLink: each node is a `Context` (partition id, persistent state) and every message is
handed to `ClientApp.__call__` in order. A ClientApp that raises answers with an error
reply, as a SuperNode would. Researchers and tests use it where a full Simulation Engine
start-up (~20-40 s here) would dominate; `flwr run` remains the path users take.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

SERVER_NODE = 0
FIRST_NODE_ID = 7_000_000_000_000_000_001  # uint64 ids like a SuperLink hands out


class InProcessGrid(Grid):
    """`num_nodes` simulated SuperNodes running `app`, partition i on node FIRST + i."""

    def __init__(
        self,
        app: ClientApp,
        num_nodes: int,
        run_config: Mapping[str, Any],
        *,
        run_id: int = 1,
        node_config: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        if num_nodes < 1:
            raise ValueError("num_nodes must be ≥ 1")
        self.app = app
        self._run = Run.create_empty(run_id)
        TaskIdentity.run_id = run_id
        TaskIdentity.node_id = SERVER_NODE
        TaskIdentity.task_id = 1
        self.contexts: dict[int, Context] = {}
        for pid in range(num_nodes):
            node = FIRST_NODE_ID + pid
            cfg: dict[str, Any] = {"partition-id": pid, "num-partitions": num_nodes}
            cfg.update((node_config or {}).get(pid, {}))
            self.contexts[node] = Context(
                run_id=run_id,
                node_id=node,
                node_config=cfg,
                state=RecordDict(),
                run_config=dict(run_config),
            )
        self._replies: dict[str, Message] = {}
        self.sent: list[Message] = []  # every message delivered (tests inspect them)

    # -- Grid -----------------------------------------------------------------------------
    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(
            content=content,
            dst_node_id=dst_node_id,
            message_type=message_type,
            group_id=group_id,
            ttl=ttl,
        )

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            key = uuid.uuid4().hex  # our handle; Flower's ids are set by the SuperLink
            ids.append(key)
            self._replies[key] = self._deliver(msg)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))

    # -- delivery ---------------------------------------------------------------------------
    def _deliver(self, msg: Message) -> Message:
        node = int(msg.metadata.dst_node_id)
        if node not in self.contexts:
            raise ValueError(f"no node {node} in this grid")
        self.sent.append(msg)
        # A SuperNode receives its own deserialised copy: strategies share one RecordDict
        # between the messages of a round, and mods may edit what they receive.
        delivered = copy.deepcopy(msg)
        TaskIdentity.node_id = node
        try:
            reply = self.app(delivered, self.contexts[node])
        except Exception as exc:  # a crashing ClientApp answers with an error, as on a node
            reply = Message(
                Error(code=0, reason=f"{type(exc).__name__}: {exc}"), reply_to=delivered
            )
        finally:
            TaskIdentity.node_id = SERVER_NODE
        return copy.deepcopy(reply)
