"""The Ledger: one typed facade over every fedstake contract capability.

Coordinators, participants, the Flower strategy and the simulations use only this class
(and the dataclasses in ``federation.types``); nothing else in the project calls web3.
Reads return frozen dataclasses; writes return ``TxResult``; a revert raises the
contract's custom error as a Python exception (``ledger.errors.NotStaked``…).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from federation import hints as _hints  # noqa: F401 - registers what-to-do hints
from federation.chain import Chain, connect
from federation.contract import BoundContract
from federation.deployment import Deployment
from federation.facade.base import (
    CORE,
    FAULT_VERIFIER,
    PROVENANCE,
    ROLES,
    ROUND_MANAGER,
    STAKE_MANAGER,
    TIMELOCK,
    TOKEN,
    LedgerBase,
    _round_cache,
)
from federation.facade.disputes import DisputesMixin
from federation.facade.governance import GovernanceMixin
from federation.facade.history import HistoryMixin
from federation.facade.staking import StakingMixin
from federation.keys import Signer
from federation.revert import RevertDecoder
from federation.tx import TxPolicy, TxSender
from federation.types import (
    ModelVersion,
    VersionInput,
)

__all__ = [
    "CORE",
    "FAULT_VERIFIER",
    "PROVENANCE",
    "ROLES",
    "ROUND_MANAGER",
    "STAKE_MANAGER",
    "TIMELOCK",
    "TOKEN",
    "Ledger",
    "LedgerBase",
    "ModelVersion",
    "VersionInput",
]


class Ledger(StakingMixin, DisputesMixin, GovernanceMixin, HistoryMixin):
    """Typed access to one fedstake deployment, acting as ``signer``."""

    def __init__(
        self,
        chain: Chain,
        deployment: Deployment,
        signer: Signer | None = None,
        *,
        policy: TxPolicy | None = None,
        abis: dict[str, list[dict[str, Any]]] | None = None,
        _sender: TxSender | None = None,
    ) -> None:
        from federation.deploy import load_abis

        self.chain = chain
        self.deployment = deployment
        self.signer = signer if signer is not None else chain.default_signer()
        self._abis = abis or load_abis()
        if _sender is None:
            decoder = RevertDecoder(self._abis.values())
            _sender = TxSender(chain.w3, decoder, policy or TxPolicy())
            chain.on_revert(_sender.nonces.reset)
        self.tx = _sender
        self.errors = self.tx.decoder.namespace()
        self.stake_manager = self._bind(STAKE_MANAGER)
        self.round_manager = self._bind(ROUND_MANAGER)
        self.provenance = self._bind(PROVENANCE)
        self.token = BoundContract("token", deployment.token, self._abis["token"], self.tx)
        # Deployments made before governance timelocks name none (read-only use still works).
        self.timelock = self._bind(TIMELOCK) if TIMELOCK in deployment.contracts else None
        self._round_params = _round_cache(self.tx, chain)

    def _bind(self, name: str) -> BoundContract:
        return BoundContract(name, self.deployment.address(name), self._abis[name], self.tx)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        chain: Chain | str | None = None,
        deployment: Deployment | str | Path = "deployment.json",
        signer: Signer | None = None,
        *,
        policy: TxPolicy | None = None,
    ) -> Ledger:
        """Connect and check the deployment file against the chain (id and code)."""
        owned = not isinstance(chain, Chain)
        if not isinstance(chain, Chain):
            chain = connect(chain, signer)
        try:
            path = None
            if not isinstance(deployment, Deployment):
                path = str(deployment)
                deployment = Deployment.load(deployment)
            from federation.deploy import abi_version

            deployment.check_abi(abi_version(), path)
            deployment.check_against(chain.w3, path)
            return cls(chain, deployment, signer, policy=policy)
        except BaseException:
            if owned:
                chain.close()
            raise

    @classmethod
    def deploy(cls, chain: Chain | str | None = None, **kwargs: Any) -> Ledger:
        """Deploy everything (see ``federation.deploy.deploy``) and return a Ledger on it."""
        from federation.deploy import deploy

        if not isinstance(chain, Chain):
            chain = connect(chain)
        ledger = deploy(chain, **kwargs)
        assert isinstance(ledger, Ledger)
        return ledger

    def as_signer(self, signer: Signer) -> Ledger:
        """The same ledger acting as another account (shares nonces and caches)."""
        other = Ledger(self.chain, self.deployment, signer, abis=self._abis, _sender=self.tx)
        return other

    # -- local-chain helpers ---------------------------------------------------------------
    def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward (local chains only)."""
        self.chain.advance_time(seconds)

    def snapshot(self) -> Any:
        """Snapshot a local chain (pair with ``revert``; simulations and tests)."""
        return self.chain.snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self.chain.revert(snapshot_id)

    def close(self) -> None:
        self.chain.close()

    def __repr__(self) -> str:
        who = self.signer.address if self.signer else "read-only"
        return f"Ledger(chain={self.chain.url}, chain_id={self.deployment.chain_id}, as={who})"
