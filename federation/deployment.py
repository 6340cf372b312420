"""The deployment file: where the contracts live, written at deploy, read by every command.

Participants need only this file and an RPC URL. Opening it against the wrong chain, or
against addresses without code, fails with a message saying what to do.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from federation.errors import ConfigError, DeploymentError, NoCodeError, WrongChainError

DEFAULT_PATH = "deployment.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Deployment:
    """Chain id, addresses by contract name (the proxies, the FaultVerifier and the
    governance TimelockController), token, deploy block, ABI version, and the governance
    handover the deploy scheduled (``governance``: timelock and admin delays, the accept
    batch's operation id and due time)."""

    chain_id: int
    contracts: dict[str, str]
    token: str
    deploy_block: int
    abi_version: str
    implementations: dict[str, str] = field(default_factory=dict)
    local_token: bool = False
    format: int = FORMAT_VERSION
    governance: dict[str, Any] = field(default_factory=dict)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise ConfigError(
                f"the deployment file names no {name} contract (has: "
                f"{', '.join(sorted(self.contracts))}); redeploy with this version of fedstake"
            ) from None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, path: str | Path = DEFAULT_PATH) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(self.to_json() + "\n")
        tmp.replace(p)
        return p

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                contracts={k: to_checksum_address(v) for k, v in data["contracts"].items()},
                token=to_checksum_address(data["token"]),
                deploy_block=int(data["deploy_block"]),
                abi_version=str(data["abi_version"]),
                implementations={
                    k: to_checksum_address(v) for k, v in data.get("implementations", {}).items()
                },
                local_token=bool(data.get("local_token", False)),
                format=int(data.get("format", FORMAT_VERSION)),
                governance=dict(data.get("governance") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"malformed deployment file ({exc!r}); regenerate it with `fedstake deploy`"
            ) from None

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> Deployment:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"no deployment file at {p}: create it with `fedstake deploy` (--deployment "
                f"{p} before the command writes it there), or pass --deployment PATH to the "
                f"file the coordinator shared"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"deployment file {p} is not JSON ({exc})") from None
        return cls.from_dict(data)

    def check_abi(self, shipped: str, path: str | None = None) -> None:
        """Raise if the deployment's ABI major version differs from the one we ship."""
        if self.abi_version.split(".")[0] != shipped.split(".")[0]:
            where = f" ({path})" if path else ""
            raise DeploymentError(
                f"the deployment{where} was made with contracts ABI {self.abi_version} but "
                f"this fedstake ships ABI {shipped}: install the fedstake version the "
                f"coordinator uses, or redeploy with `fedstake deploy`"
            )

    def check_against(self, w3: Web3, path: str | None = None) -> None:
        """Raise unless the chain id matches and every address holds code."""
        actual = int(w3.eth.chain_id)
        if actual != self.chain_id:
            raise WrongChainError(self.chain_id, actual, path)
        for name, address in {**self.contracts, "token": self.token}.items():
            if len(w3.eth.get_code(address)) == 0:
                raise NoCodeError(name, address)
