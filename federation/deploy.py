"""Deploying fedstake: the fault verifier, proxies, wiring, roles, a governance timelock and a
local test token.

The sequence follows the contracts: FaultVerifier (stateless, not upgradeable);
StakeManager (token, min stake, unbonding delay); RoundManager (stake manager, fault
verifier, config; its EIP-712 domain is its proxy address); StakeManager.setRoundManager
(the first wiring needs only the admin); ProvenanceRegistry (the RoundManager whose rounds
versions name); then roles. Each proxy is an ERC1967Proxy whose constructor calls
``initialize``, with the deployer as admin and a non-zero admin delay.

Governance: a TimelockController (delay = unbonding delay + 1 day, proposer and executor the
admin key) is to administer every proxy, so upgrades and a RoundManager switch are announced
longer in advance than participants need to leave. The deploy begins each proxy's admin
transfer to it and schedules the timelock's ``acceptDefaultAdminTransfer`` batch; once due,
``Ledger.accept_admin`` (`fedstake governance accept-admin`) executes it.

Admin, coordinator, arbiter and treasury should be distinct keys: the arbiter cannot decide
disputes over rounds it coordinates, and a treasury that coordinates is paid by its own
slashes. On a development chain coinciding keys are allowed with a loud warning; elsewhere
they are an error before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
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

log = logging.getLogger(__name__)

ENV_ARTIFACTS_DIR = "FEDSTAKE_ARTIFACTS_DIR"
CORE = ("StakeManager", "RoundManager", "ProvenanceRegistry")
FAULT_VERIFIER = "FaultVerifier"
TIMELOCK = "TimelockController"
TOKEN_ARTIFACT = "FedToken"
PROXY_ARTIFACT = "ERC1967Proxy"
TOKEN = 10**18
DAY = 86_400

#: Chains where test conveniences are allowed (faucet, coinciding role keys): anvil and
#: hardhat (31337), geth/ganache dev (1337), the embedded eth-tester chain (inprocess://).
DEV_CHAIN_IDS = frozenset({31337, 1337, 131277322940537})

#: The admin role of every proxy changes hands only after this delay (AccessControl-
#: DefaultAdminRules); the timelock's accept batch is scheduled after it.
DEFAULT_ADMIN_DELAY = DAY


def is_dev_chain(chain_id: int) -> bool:
    """A development chain: faucet allowed, coinciding role keys only warned about."""
    return int(chain_id) in DEV_CHAIN_IDS


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
    for name in (*CORE, TOKEN_ARTIFACT, FAULT_VERIFIER):
        h.update(json.dumps(load_artifact(name).abi, sort_keys=True).encode())
    return "abi-" + h.hexdigest()[:16]


def load_abis() -> dict[str, list[dict[str, Any]]]:
    """ABIs by contract name (plus ``token``): every error they declare is decodable, the
    FaultVerifier's included (its reverts bubble up through finalizeRound)."""
    abis = {name: load_artifact(name).abi for name in (*CORE, FAULT_VERIFIER, TIMELOCK)}
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
    """Development defaults: 1 h rounds, challenge and dispute windows; judged slashes at
    most 50 %, provable ones 10 %; budgets up to 10 × the bond; a timed-out slash dispute
    pays the participant 10 % of its slash from the coordinator's bond."""
    return RoundConfig(
        min_coordinator_bond=100 * TOKEN,
        max_round_duration=3_600,
        challenge_window=3_600,
        dispute_window=3_600,
        max_judged_slash_bps=5_000,
        provable_slash_bps=1_000,
        slash_pool_bps=5_000,
        budget_bond_multiple=10,
        timeout_compensation_bps=1_000,
        min_dispute_deposit=10 * TOKEN,
        treasury=treasury,
    )


# -- role keys ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoleKeys:
    """Who holds which role at deploy."""

    admin: str
    coordinators: tuple[str, ...]
    arbiters: tuple[str, ...]
    pausers: tuple[str, ...]
    treasury: str

    def holders(self) -> dict[str, list[str]]:
        """Address → the roles (of admin, coordinator, arbiter, treasury) it holds."""
        out: dict[str, list[str]] = {}
        named = [("admin", [self.admin]), ("coordinator", list(self.coordinators))]
        named += [("arbiter", list(self.arbiters)), ("treasury", [self.treasury])]
        for role, accounts in named:
            for a in accounts:
                roles = out.setdefault(to_checksum_address(a), [])
                if role not in roles:
                    roles.append(role)
        return out

    def coinciding(self) -> dict[str, list[str]]:
        """Addresses holding more than one of admin, coordinator, arbiter, treasury."""
        return {a: roles for a, roles in self.holders().items() if len(roles) > 1}


def check_role_keys(keys: RoleKeys, chain_id: int) -> list[str]:
    """Warnings about coinciding role keys on a development chain; ConfigError elsewhere."""
    shared = keys.coinciding()
    if not shared:
        return []
    listing = "; ".join(f"{a} is {', '.join(roles)}" for a, roles in shared.items())
    fix = (
        "give distinct keys: `fedstake deploy --coordinator ADDRESS --arbiter ADDRESS "
        "--treasury ADDRESS` (Ledger.deploy(coordinators=, arbiters=, treasury=))"
    )
    if not is_dev_chain(chain_id):
        raise ConfigError(
            f"admin, coordinator, arbiter and treasury must be distinct keys on chain id "
            f"{chain_id} ({listing}): {fix}"
        )
    return [
        f"DEVELOPMENT CHAIN ONLY: role keys coincide ({listing}). An arbiter cannot decide "
        "disputes over rounds it coordinates (they take their default outcome at the dispute "
        "deadline), and a treasury that coordinates is paid by its own slashes. On any other "
        f"chain this is an error; {fix}"
    ]


# -- deploy ------------------------------------------------------------------------------------
def deploy(
    chain: Chain,
    *,
    admin: Signer | None = None,
    token: str | None = None,
    config: RoundConfig | None = None,
    min_stake: int = 10 * TOKEN,
    unbonding_delay: int | None = None,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
    timelock_delay: int | None = None,
    coordinators: tuple[str, ...] = (),
    arbiters: tuple[str, ...] = (),
    pausers: tuple[str, ...] = (),
    treasury: str | None = None,
    token_supply: int = 10**9 * TOKEN,
    faucet_amount: int | None = None,
    faucet_cooldown: int = 60,
    out: str | Path | None = None,
    policy: TxPolicy | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """Deploy and wire everything; returns a ``Ledger`` acting as the admin.

    Without ``token``, a local test ERC-20 (FedToken) is deployed and its supply minted to
    the admin; it has a faucet only on development chains. Unnamed roles (coordinator,
    arbiter, pauser, treasury) go to the admin, which is allowed only on a development
    chain and reported through ``warn`` (default: a logged warning). The admin key keeps
    the admin role until the timelock accepts it (``Ledger.accept_admin``).
    """
    from federation.ledger import ROLES, Ledger
    from federation.revert import RevertDecoder

    admin = admin or chain.default_signer()
    if admin is None:
        raise ConfigError("deploying needs a key: set FEDSTAKE_PRIVATE_KEY or FEDSTAKE_KEYSTORE")
    me = admin.address
    dev = is_dev_chain(chain.chain_id)
    keys = RoleKeys(
        admin=me,
        coordinators=tuple(coordinators) or (me,),
        arbiters=tuple(arbiters) or (me,),
        pausers=tuple(pausers) or (me,),
        treasury=treasury or (config.treasury if config else me),
    )
    for text in check_role_keys(keys, chain.chain_id):
        (warn or log.warning)(text)
    if admin_delay <= 0:
        raise ConfigError("the admin delay must be non-zero (a new admin waits for it)")
    if faucet_amount is None:
        faucet_amount = 10_000 * TOKEN if dev else 0
    if faucet_amount and not dev:
        raise ConfigError(
            f"the test token's faucet exists only on development chains, not chain id "
            f"{chain.chain_id}: deploy with faucet_amount=0 or pass an existing token"
        )
    config = config or default_config(keys.treasury)
    if config.treasury != keys.treasury:
        from dataclasses import replace

        config = replace(config, treasury=keys.treasury)
    if unbonding_delay is None:
        unbonding_delay = config.min_unbonding_delay + 1
    if timelock_delay is None:
        timelock_delay = unbonding_delay + DAY
    abis = load_abis()
    sender = TxSender(
        chain.w3,
        RevertDecoder([*abis.values(), load_artifact(PROXY_ARTIFACT).abi]),
        policy or TxPolicy(),
    )
    chain.on_revert(sender.nonces.reset)
    local_token = token is None
    first_block: int | None = None
    if token is None:
        token, first_block = deploy_contract(
            sender, admin, TOKEN_ARTIFACT, me, token_supply, faucet_amount, faucet_cooldown
        )
    fv, block = deploy_contract(sender, admin, FAULT_VERIFIER)
    first_block = first_block if first_block is not None else block
    sm, sm_impl, _ = deploy_proxy(
        sender, admin, "StakeManager", me, admin_delay, token, min_stake, unbonding_delay
    )
    rm, rm_impl, _ = deploy_proxy(
        sender, admin, "RoundManager", me, admin_delay, sm, fv, config.as_tuple()
    )
    pr, pr_impl, _ = deploy_proxy(sender, admin, "ProvenanceRegistry", me, admin_delay, rm)
    zero = "0x" + "00" * 20
    tl, _ = deploy_contract(sender, admin, TIMELOCK, timelock_delay, [me], [me], zero)
    deployment = Deployment(
        chain_id=chain.chain_id,
        contracts={
            "StakeManager": sm,
            "RoundManager": rm,
            "ProvenanceRegistry": pr,
            FAULT_VERIFIER: fv,
            TIMELOCK: tl,
        },
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
        "coordinator": (keys.coordinators, ("RoundManager", "ProvenanceRegistry")),
        "arbiter": (keys.arbiters, ("RoundManager",)),
        "pauser": (keys.pausers, CORE),
    }
    for role, (accounts, contracts) in grants.items():
        assert role in ROLES
        for account in accounts:
            ledger.grant_role(role, account, contracts)
    deployment = _hand_admin_to_timelock(ledger, deployment, admin_delay, timelock_delay)
    ledger.deployment = deployment
    if out is not None:
        deployment.save(out)
    return ledger


def _hand_admin_to_timelock(
    ledger: Any, deployment: Deployment, admin_delay: int, timelock_delay: int
) -> Deployment:
    """Begin each proxy's admin transfer to the timelock and schedule its accept batch (due
    after both the admin delay and the timelock's own delay)."""
    from dataclasses import replace

    from federation.facade.governance import ACCEPT_ADMIN_SALT
    from federation.types import GovernanceCall

    me = ledger._me()
    timelock = deployment.address(TIMELOCK)
    for name in CORE:
        ledger._bound(name).send(me, "beginDefaultAdminTransfer", timelock)
    calls = [GovernanceCall(name, "acceptDefaultAdminTransfer") for name in CORE]
    scheduled = ledger.schedule_governance(
        calls,
        salt=ACCEPT_ADMIN_SALT,
        delay=max(timelock_delay, admin_delay + 1),
        description="timelock accepts the admin role",
    ).value
    governance = {
        "timelock_delay": timelock_delay,
        "admin_delay": admin_delay,
        "accept_admin_op": "0x" + scheduled.op_id.hex(),
        "accept_admin_ready_at": scheduled.ready_at,
    }
    return replace(deployment, governance=governance)
