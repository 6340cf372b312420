"""``inprocess://``: an eth-tester / py-evm chain inside this Python process.

Zero setup, auto-mining (one block per transaction), the same development accounts as
anvil so scripts behave identically on both.
"""

from __future__ import annotations

import threading
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from federation.chain.base import LocalChainMixin
from federation.chain.fast_estimate import fast_gas_estimate
from federation.keys import DEV_MNEMONIC, Signer, dev_signers

GAS_LIMIT = 60_000_000


class _LockedProvider(EthereumTesterProvider):
    """py-evm is not thread-safe: serialize requests so several threads may send at once."""

    def __init__(self, tester: EthereumTester) -> None:
        super().__init__(tester)
        self._lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            return super().make_request(method, params)


class InProcessChain(LocalChainMixin):
    is_local = True

    def __init__(self, url: str = "inprocess://") -> None:
        self._init_listeners()
        self.url = url
        backend = PyEVMBackend(
            genesis_parameters=PyEVMBackend.generate_genesis_params({"gas_limit": GAS_LIMIT}),
            mnemonic=DEV_MNEMONIC,
            hd_path="m/44'/60'/0'/0",
        )
        # the class for chains eth-tester rebuilds on revert, the instance for this one
        type(backend.chain).gas_estimator = staticmethod(fast_gas_estimate)
        backend.chain.gas_estimator = fast_gas_estimate
        self.tester = EthereumTester(backend)
        self.w3 = Web3(_LockedProvider(self.tester))
        self.chain_id = int(self.w3.eth.chain_id)
        self._signers = dev_signers(10)

    def dev_signers(self) -> list[Signer]:
        return list(self._signers)

    def default_signer(self) -> Signer | None:
        return self._signers[0]

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self.tester.revert_to_snapshot(snapshot_id)
        self._notify_revert()

    def latest_timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> None:
        # eth-tester mines the travelled-to block one second before the target
        self.tester.time_travel(self.latest_timestamp() + max(1, int(seconds)) + 1)

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def set_eth_balance(self, address: str, wei: int) -> None:
        """eth-tester has no setBalance: top the account up from dev account 0."""
        have = int(self.w3.eth.get_balance(address))
        if have >= wei:
            return
        self.tester.send_transaction(
            {
                "from": self._signers[0].address,
                "to": address,
                "value": wei - have,
                "gas": 21_000,
            }
        )

    def close(self) -> None:
        """Nothing to release; present for symmetry with anvil."""
