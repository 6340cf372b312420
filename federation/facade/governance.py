"""Provenance records and lineage; roles, pause; the fault verifier; governance through the
timelock (admin transfer, scheduled upgrades).

Upgrades and the StakeManager's RoundManager switch are accepted only from a timelock whose
delay exceeds the unbonding delay (FedstakeBase), so participants see a change coming and
can leave first. The deploy hands the proxies' admin role to that timelock in two steps:
``beginDefaultAdminTransfer`` at deploy and the timelock's scheduled
``acceptDefaultAdminTransfer`` batch, which ``accept_admin`` executes once it is due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_utils import keccak, to_checksum_address

from federation.contract import BoundContract
from federation.errors import PreconditionError
from federation.facade.base import CORE, ROLES, ROUND_MANAGER, LedgerBase
from federation.types import (
    ZERO32,
    AdminState,
    GovernanceCall,
    GovernanceInfo,
    ModelVersion,
    TimelockOperation,
    TxResult,
    VersionInput,
)

#: Salt of the deploy's scheduled acceptDefaultAdminTransfer batch (one per deployment).
ACCEPT_ADMIN_SALT = keccak(text="fedstake/accept-default-admin/v1")
ZERO_ADDRESS = "0x" + "00" * 20


class GovernanceMixin(LedgerBase):
    """What coordinators record and admins (through the timelock) control."""

    # -- provenance -----------------------------------------------------------------------
    def record_version(self, version: VersionInput) -> TxResult:
        """Record a model version: it must name a round the caller finalized, and its
        weights hash must be that round's aggregate hash."""
        receipt = self.provenance.send(self._me(), "recordVersion", version.as_tuple())
        ev = self.provenance.events_in(receipt, "ModelVersionRecorded")
        return TxResult(receipt, value=int(ev[0]["versionId"]))

    def get_version(self, version_id: int) -> ModelVersion:
        v = self.provenance.call("getVersion", version_id)
        return ModelVersion(
            version_id=version_id,
            weights_hash=bytes(v[0]),
            dataset_root=bytes(v[1]),
            code_commit=bytes(v[2]),
            hyperparams_hash=bytes(v[3]),
            parent_version=int(v[4]),
            round_id=int(v[5]),
            recorded_at=int(v[6]),
            authorizer=to_checksum_address(v[7]),
            weights_uri=str(v[8]),
        )

    def version_of_weights(self, weights_hash: bytes) -> int:
        return int(self.provenance.call("versionOfWeights", weights_hash))

    def version_count(self) -> int:
        return int(self.provenance.call("versionCount"))

    def lineage(self, version_id: int, max_depth: int = 64) -> list[ModelVersion]:
        """The version and its ancestors, newest first."""
        ids = self.provenance.call("lineage", version_id, max_depth)
        return [self.get_version(int(i)) for i in ids]

    # -- roles, pause ---------------------------------------------------------------------
    def _contracts(self, names: Iterable[str] | None) -> list[BoundContract]:
        by_name = {c.name: c for c in (self.stake_manager, self.round_manager, self.provenance)}
        return [by_name[n] for n in (names or CORE)]

    def grant_role(self, role: str, account: str, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if not c.call("hasRole", ROLES[role], account):
                c.send(self._me(), "grantRole", ROLES[role], account)

    def revoke_role(self, role: str, account: str, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if c.call("hasRole", ROLES[role], account):
                c.send(self._me(), "revokeRole", ROLES[role], account)

    def has_role(
        self, role: str, account: str | None = None, contract: str = ROUND_MANAGER
    ) -> bool:
        return bool(
            self._contracts([contract])[0].call("hasRole", ROLES[role], account or self.address)
        )

    def pause(self, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if not c.call("paused"):
                c.send(self._me(), "pause")

    def unpause(self, contracts: Iterable[str] | None = None) -> None:
        for c in self._contracts(contracts):
            if c.call("paused"):
                c.send(self._me(), "unpause")

    def paused(self, contract: str = ROUND_MANAGER) -> bool:
        return bool(self._contracts([contract])[0].call("paused"))

    # -- fault verifier -------------------------------------------------------------------
    def fault_verifier_address(self) -> str:
        """The FaultVerifier the RoundManager checks provable faults with."""
        return to_checksum_address(self.round_manager.call("faultVerifier"))

    def set_fault_verifier(self, address: str) -> TxResult:
        """Point the RoundManager at another FaultVerifier (admin: the timelock once it
        administers the contracts; then schedule it with ``schedule_governance``)."""
        return TxResult(
            self.round_manager.send(self._me(), "setFaultVerifier", to_checksum_address(address))
        )

    # -- upgrades -------------------------------------------------------------------------
    def upgrade(self, name: str, artifact: str, init_data: bytes = b"") -> TxResult:
        """Deploy implementation ``artifact`` and call ``upgradeToAndCall`` directly.

        Only a timelock slower than unbonding may upgrade (``GovernanceNotTimelocked``
        otherwise): this direct path exists to show that; use ``schedule_upgrade``."""
        from federation.deploy import deploy_implementation

        impl = deploy_implementation(self.tx, self._me(), artifact)
        bound = self._contracts([name])[0]
        receipt = bound.send(self._me(), "upgradeToAndCall", impl, init_data)
        return TxResult(receipt, value=impl)

    def schedule_upgrade(self, name: str, artifact: str, init_data: bytes = b"") -> TxResult:
        """Deploy implementation ``artifact`` and schedule proxy ``name``'s upgrade to it on
        the timelock; ``value`` is the TimelockOperation (``execute_governance`` it when
        ``ready_at`` has passed)."""
        from federation.deploy import deploy_implementation

        impl = deploy_implementation(self.tx, self._me(), artifact)
        call = GovernanceCall(name, "upgradeToAndCall", (impl, init_data))
        return self.schedule_governance([call], description=f"upgrade {name} to {impl}")

    def implementation(self, name: str) -> str:
        """The implementation behind a proxy (ERC-1967 slot)."""
        slot = int("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc", 16)
        raw = self.chain.w3.eth.get_storage_at(self.deployment.address(name), slot)
        return to_checksum_address(bytes(raw)[-20:])

    # -- the timelock ---------------------------------------------------------------------
    def _timelock(self) -> BoundContract:
        if self.timelock is None:
            raise PreconditionError(
                "this deployment has no governance timelock (it predates them): redeploy "
                "with `fedstake deploy`"
            )
        return self.timelock

    def _bound(self, name: str) -> BoundContract:
        if name == "TimelockController":
            return self._timelock()
        by_name = {c.name: c for c in (self.stake_manager, self.round_manager, self.provenance)}
        if name not in by_name:
            raise PreconditionError(f"no contract {name!r} to govern (one of {', '.join(CORE)})")
        return by_name[name]

    def timelock_operation(
        self,
        calls: Sequence[GovernanceCall],
        salt: bytes = ZERO32,
        predecessor: bytes = ZERO32,
        description: str = "",
    ) -> TimelockOperation:
        """The batch for ``calls`` with its id and on-chain state (``ready_at``)."""
        tl = self._timelock()
        targets = tuple(self._bound(c.contract).address for c in calls)
        payloads = tuple(self._bound(c.contract).encode(c.fn, *c.args) for c in calls)
        values = [0] * len(targets)
        op_id = bytes(
            tl.call("hashOperationBatch", list(targets), values, list(payloads), predecessor, salt)
        )
        ready = int(tl.call("getTimestamp", op_id))
        return TimelockOperation(op_id, targets, payloads, salt, predecessor, ready, description)

    def schedule_governance(
        self,
        calls: Sequence[GovernanceCall],
        *,
        salt: bytes | None = None,
        delay: int | None = None,
        description: str = "",
    ) -> TxResult:
        """Schedule ``calls`` as one timelock batch (a proposer: the admin key); ``value``
        is the TimelockOperation, executable from its ``ready_at``."""
        tl = self._timelock()
        salt = salt if salt is not None else keccak(text=f"{description}/{self.now()}")
        op = self.timelock_operation(calls, salt, description=description)
        if op.ready_at:
            return TxResult(None, already_applied=True, value=op)
        wait = delay if delay is not None else int(tl.call("getMinDelay"))
        receipt = tl.send(
            self._me(),
            "scheduleBatch",
            list(op.targets),
            list(op.values),
            list(op.payloads),
            op.predecessor,
            op.salt,
            wait,
        )
        return TxResult(
            receipt, value=self.timelock_operation(calls, salt, description=description)
        )

    def execute_governance(self, op: TimelockOperation) -> TxResult:
        """Execute a scheduled batch once due (an executor: the admin key). Too early raises
        a PreconditionError naming when; an executed one is already_applied."""
        tl = self._timelock()
        ready = int(tl.call("getTimestamp", op.op_id))
        if ready == 1:
            return TxResult(None, already_applied=True)
        if ready == 0:
            raise PreconditionError(
                f"timelock operation 0x{op.op_id.hex()} ({op.description or 'batch'}) was "
                "never scheduled (or was cancelled): schedule it first"
            )
        now = self.now()
        if now < ready:
            raise PreconditionError(
                f"timelock operation {op.description or '0x' + op.op_id.hex()} is not due: it "
                f"becomes executable at {ready} (unix s; now {now}, {ready - now} s to go)"
            )
        receipt = tl.send(
            self._me(),
            "executeBatch",
            list(op.targets),
            list(op.values),
            list(op.payloads),
            op.predecessor,
            op.salt,
        )
        return TxResult(receipt)

    # -- the admin transfer to the timelock -----------------------------------------------
    def accept_admin_operation(self) -> TimelockOperation:
        """The deploy's scheduled batch: the timelock accepts the admin role of every proxy."""
        calls = [GovernanceCall(name, "acceptDefaultAdminTransfer") for name in CORE]
        return self.timelock_operation(
            calls, ACCEPT_ADMIN_SALT, description="timelock accepts the admin role"
        )

    def accept_admin(self) -> TxResult:
        """Execute the deploy's scheduled admin-transfer batch once due: the timelock then
        administers every proxy (upgrades, role grants and setRoundManager go through it).

        ``already_applied`` when it was executed before; too early raises a
        PreconditionError naming when it becomes due (`fedstake governance accept-admin`)."""
        op = self.accept_admin_operation()
        if op.done:
            return TxResult(None, already_applied=True)
        if op.ready_at == 0:
            raise PreconditionError(
                "no admin transfer to the timelock is scheduled on this deployment: the "
                "deploy schedules it (redeploy with `fedstake deploy`)"
            )
        now = self.now()
        if now < op.ready_at:
            raise PreconditionError(
                f"the timelock can accept the admin role from {op.ready_at} (unix s; now "
                f"{now}, {op.ready_at - now} s to go): run `fedstake governance accept-admin` "
                "then"
            )
        return self.execute_governance(op)

    def admin_state(self, name: str) -> AdminState:
        c = self._bound(name)
        pending, schedule = c.call("pendingDefaultAdmin")
        pending = to_checksum_address(pending)
        return AdminState(
            contract=name,
            admin=to_checksum_address(c.call("defaultAdmin")),
            pending_admin=None if pending == to_checksum_address(ZERO_ADDRESS) else pending,
            accept_after=int(schedule),
            admin_delay=int(c.call("defaultAdminDelay")),
        )

    def governance_info(self) -> GovernanceInfo:
        """Who administers each proxy, the timelock's delay and the accept batch's state."""
        admins = tuple(self.admin_state(name) for name in CORE)
        unbonding = int(self.stake_manager.call("unbondingDelay"))
        if self.timelock is None:
            return GovernanceInfo(None, 0, unbonding, admins, None)
        return GovernanceInfo(
            self.timelock.address,
            int(self.timelock.call("getMinDelay")),
            unbonding,
            admins,
            self.accept_admin_operation(),
        )
