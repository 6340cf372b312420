"""Deploying fedstake: proxies, initialization, wiring, roles, and a local test token.

The sequence follows the contracts: StakeManager (token, min stake, unbonding delay),
RoundManager (stake manager, config; its EIP-712 domain is its proxy address),
StakeManager.setRoundManager, ProvenanceRegistry; then roles. Each proxy is an
ERC1967Proxy whose constructor calls ``initialize``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from federation import artifacts
from federation.artifacts import Artifact
from federation.chain.base import Chain
from federation.deployment import Deployment
from federation.errors import ConfigError
from federation.keys import Signer
from federation.tx import TxPolicy, TxSender
from federation.types import RoundConfig

ENV_ARTIFACTS_DIR = "FEDSTAKE_ARTIFACTS_DIR"
CORE = ("StakeManager", "RoundManager", "ProvenanceRegistry")
TOKEN_ARTIFACT = "FedToken"
PROXY_ARTIFACT = "ERC1967Proxy"
TOKEN = 10**18


def load_artifact(name: str) -> Artifact:
    """The shipped artifact (package data), or forge's ``out/`` dir when
    ``$FEDSTAKE_ARTIFACTS_DIR`` points there (contract development without ``make artifacts``).
    """
    override = os.environ.get(ENV_ARTIFACTS_DIR)
    if override:
        path = Path(override) / f"{name}.sol" / f"{name}.json"
        if not path.exists():
            raise ConfigError(f"no artifact {name} under ${ENV_ARTIFACTS_DIR}={override}")
        return Artifact.from_forge_output(name, json.loads(path.read_text()))
    return artifacts.load_artifact(name)


def abi_version() -> str:
    """The shipped manifest's ABI version; a digest of the ABIs for a forge ``out/`` dir."""
    if not os.environ.get(ENV_ARTIFACTS_DIR):
        return str(artifacts.load_manifest()["abiVersion"])
    h = hashlib.sha256()
    for name in (*CORE, TOKEN_ARTIFACT):
        h.update(json.dumps(load_artifact(name).abi, sort_keys=True).encode())
    return "abi-" + h.hexdigest()[:16]


def load_abis() -> dict[str, list[dict[str, Any]]]:
    abis = {name: load_artifact(name).abi for name in CORE}
    abis["token"] = load_artifact(TOKEN_ARTIFACT).abi
    return abis


def deploy_contract(sender: TxSender, signer: Signer, name: str, *args: Any) -> tuple[str, int]:
    """Deploy artifact ``name`` with constructor ``args``; returns (address, block)."""
    art = load_artifact(name)
    factory = sender.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
    receipt = sender.send(signer, None, data, context=f"deploy {name}")
    address = receipt.raw["contractAddress"]
    return to_checksum_address(address), receipt.block_number


def deploy_implementation(sender: TxSender, signer: Signer, name: str) -> str:
    return deploy_contract(sender, signer, name)[0]


def deploy_proxy(
    sender: TxSender, signer: Signer, name: str, *init_args: Any
) -> tuple[str, str, int]:
    """Implementation + ERC1967Proxy calling ``initialize(*init_args)``: (proxy, impl, block)."""
    impl, _ = deploy_contract(sender, signer, name)
    contract = sender.w3.eth.contract(abi=load_artifact(name).abi)
    init = bytes.fromhex(contract.encode_abi("initialize", args=list(init_args))[2:])
    proxy, block = deploy_contract(sender, signer, PROXY_ARTIFACT, impl, init)
    return proxy, impl, block


def default_config(treasury: str) -> RoundConfig:
    return RoundConfig(
        min_coordinator_bond=100 * TOKEN,
        max_round_duration=3_600,
        challenge_window=3_600,
        max_slash_bps=5_000,
        slash_pool_bps=5_000,
        min_dispute_deposit=10 * TOKEN,
        treasury=treasury,
    )


def deploy(
    chain: Chain,
    *,
    admin: Signer | None = None,
    token: str | None = None,
    config: RoundConfig | None = None,
    min_stake: int = 10 * TOKEN,
    unbonding_delay: int | None = None,
    admin_delay: int = 0,
    coordinators: tuple[str, ...] = (),
    arbiters: tuple[str, ...] = (),
    pausers: tuple[str, ...] = (),
    token_supply: int = 10**9 * TOKEN,
    faucet_amount: int = 10_000 * TOKEN,
    faucet_cooldown: int = 60,
    out: str | Path | None = None,
    policy: TxPolicy | None = None,
) -> Any:
    """Deploy and wire everything; returns a ``Ledger`` acting as the admin.

    Without ``token``, a local test ERC-20 (FedToken, with faucet) is deployed and its
    supply minted to the admin. The admin gets every role unless others are named.
    """
    from federation.ledger import ROLES, Ledger
    from federation.revert import RevertDecoder

    admin = admin or chain.default_signer()
    if admin is None:
        raise ConfigError("deploying needs a key: set FEDSTAKE_PRIVATE_KEY or FEDSTAKE_KEYSTORE")
    abis = load_abis()
    sender = TxSender(
        chain.w3,
        RevertDecoder([*abis.values(), load_artifact(PROXY_ARTIFACT).abi]),
        policy or TxPolicy(),
    )
    chain.on_revert(sender.nonces.reset)
    me = admin.address
    config = config or default_config(me)
    if unbonding_delay is None:
        unbonding_delay = config.max_round_duration + config.challenge_window + 1
    local_token = token is None
    first_block: int | None = None
    if token is None:
        token, first_block = deploy_contract(
            sender, admin, TOKEN_ARTIFACT, me, token_supply, faucet_amount, faucet_cooldown
        )
    sm, sm_impl, block = deploy_proxy(
        sender, admin, "StakeManager", me, admin_delay, token, min_stake, unbonding_delay
    )
    first_block = first_block if first_block is not None else block
    rm, rm_impl, _ = deploy_proxy(
        sender, admin, "RoundManager", me, admin_delay, sm, config.as_tuple()
    )
    pr, pr_impl, _ = deploy_proxy(sender, admin, "ProvenanceRegistry", me, admin_delay)
    deployment = Deployment(
        chain_id=chain.chain_id,
        contracts={"StakeManager": sm, "RoundManager": rm, "ProvenanceRegistry": pr},
        token=to_checksum_address(token),
        deploy_block=max(0, first_block - 1),
        abi_version=abi_version(),
        implementations={
            "StakeManager": sm_impl,
            "RoundManager": rm_impl,
            "ProvenanceRegistry": pr_impl,
        },
        local_token=local_token,
    )
    ledger = Ledger(chain, deployment, admin, abis=abis, _sender=sender)
    ledger.stake_manager.send(admin, "setRoundManager", rm)
    grants = {
        "coordinator": (coordinators or (me,), ("RoundManager", "ProvenanceRegistry")),
        "arbiter": (arbiters or (me,), ("RoundManager",)),
        "pauser": (pausers or (me,), CORE),
    }
    for role, (accounts, contracts) in grants.items():
        assert role in ROLES
        for account in accounts:
            ledger.grant_role(role, account, contracts)
    if out is not None:
        deployment.save(out)
    return ledger
