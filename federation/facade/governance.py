"""Provenance records and lineage; roles, pause, upgrade."""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils import to_checksum_address

from federation.contract import BoundContract
from federation.facade.base import CORE, ROLES, ROUND_MANAGER, LedgerBase
from federation.types import (
    ModelVersion,
    TxResult,
    VersionInput,
)


class GovernanceMixin(LedgerBase):
    """What coordinators record and admins control."""

    # -- provenance -----------------------------------------------------------------------
    def record_version(self, version: VersionInput) -> TxResult:
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

    def lineage(self, version_id: int, max_depth: int = 64) -> list[ModelVersion]:
        """The version and its ancestors, newest first."""
        ids = self.provenance.call("lineage", version_id, max_depth)
        return [self.get_version(int(i)) for i in ids]

    # -- roles, pause, upgrade ------------------------------------------------------------
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

    def upgrade(self, name: str, artifact: str, init_data: bytes = b"") -> TxResult:
        """Deploy implementation ``artifact`` and point proxy ``name`` at it (admin only).

        ``value`` is the new implementation address (``implementation(name)`` reads it back).
        """
        from federation.deploy import deploy_implementation

        impl = deploy_implementation(self.tx, self._me(), artifact)
        bound = self._contracts([name])[0]
        receipt = bound.send(self._me(), "upgradeToAndCall", impl, init_data)
        return TxResult(receipt, value=impl)

    def implementation(self, name: str) -> str:
        """The implementation behind a proxy (ERC-1967 slot)."""
        slot = int("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc", 16)
        raw = self.chain.w3.eth.get_storage_at(self.deployment.address(name), slot)
        return to_checksum_address(bytes(raw)[-20:])
