"""The coordinator's ServerApp body: run config → ledger, engine and wrapper strategy.

`staked_federation(settings, grid)` gives a ready `StakedStrategy` around the configured
inner strategy. On a development chain (in-process or anvil) with no deployment file it
deploys afresh and, in simulation, stakes the simulated participants' development keys
before round 1; on any other chain a deployment file is required and participants must
have staked themselves.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.common.logger import log
from flwr.serverapp import Grid

from federation.artifact_store import LocalArtifactStore
from federation.engine import ReferenceTrainer, RoundEngine
from federation.errors import ConfigError
from federation.flower.inner import InnerStrategyAggregator
from federation.flower.settings import POLICY_PRESETS, SCORING_PRESETS, RunSettings
from federation.flower.strategy import StakedStrategy
from federation.journal import Journal
from federation.keys import dev_signer, from_env
from federation.ledger import Ledger

DEV_SCHEMES = ("inprocess", "anvil")
REPO = Path(__file__).resolve().parents[2]


def is_dev_chain(url: str) -> bool:
    return url.split(":", 1)[0] in DEV_SCHEMES


def code_commit() -> bytes:
    """The git commit of this code as a bytes32 (sha1 left-aligned), zero outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return bytes.fromhex(out).ljust(32, b"\x00")
    except (OSError, subprocess.SubprocessError, ValueError):
        return b"\x00" * 32


def fingerprint(doc: Mapping[str, Any]) -> bytes:
    """sha256 of a dataset description (name, split, seed…): the provenance dataset root."""
    return hashlib.sha256(repr(sorted(doc.items())).encode()).digest()


def connect(settings: RunSettings) -> Ledger:
    """The coordinator's ledger: a fresh deployment on a dev chain, or the deployment file."""
    if settings.deployment:
        signer = dev_signer(0) if is_dev_chain(settings.chain) else from_env()
        return Ledger.open(settings.chain, settings.deployment, signer)
    if not is_dev_chain(settings.chain):
        raise ConfigError(
            f"chain {settings.chain} is not a development chain: set run-config "
            "deployment=FILE (written by `fedstake deploy`)"
        )
    return Ledger.deploy(settings.chain)


def stake_simulated(admin: Ledger, settings: RunSettings, num_nodes: int, rounds: int) -> None:
    """Dev chains only: fund and stake participant i's dev key for every partition i (but
    the unstaked ones), post the coordinator bond and fund the reward pool."""
    skip = settings.unstaked_partitions
    for pid in range(num_nodes):
        if pid in skip:
            continue
        led = admin.as_signer(dev_signer(1 + pid))
        admin.fund_eth(led.address, 10 * 10**18)
        admin.transfer_tokens(led.address, settings.stake_wei)
        led.stake(settings.stake_wei)
    info = admin.coordinator_info()
    need = admin.round_config().min_coordinator_bond
    if info.bond < need:
        admin.post_bond(need - info.bond)
    admin.fund_reward_pool(settings.budget_wei * rounds)


def store_dir(settings: RunSettings, ledger: Ledger) -> Path:
    """Per deployment; a fresh embedded chain gets a fresh directory (its ids restart)."""
    rm = ledger.deployment.address("RoundManager")
    name = f"chain{ledger.deployment.chain_id}-{rm[2:10].lower()}"
    if settings.chain.startswith("inprocess") or (
        settings.chain.startswith("anvil") and "state=" not in settings.chain
    ):
        name += time.strftime("-%Y%m%d-%H%M%S") + f"-{time.time_ns() % 10**6:06d}"
    return Path(settings.artifact_dir).expanduser() / name


@dataclass
class StakedFederation:
    ledger: Ledger
    engine: RoundEngine
    strategy: StakedStrategy
    store_path: Path

    def close(self) -> None:
        self.ledger.close()


def staked_federation(
    settings: RunSettings,
    grid: Grid,
    *,
    dataset: Mapping[str, Any],
    on_round: Any = None,
    reference: ReferenceTrainer | None = None,
) -> StakedFederation:
    """Everything the ServerApp needs, built from the run config (errors at start-up).
    `reference` is the coordinator's trainer on its validation set, when it has one."""
    ledger = connect(settings)
    try:
        dev = is_dev_chain(settings.chain)
        if dev and not settings.deployment and settings.simulated_keys:
            num_nodes = len(list(grid.get_node_ids()))
            stake_simulated(ledger, settings, num_nodes, settings.rounds)
        aggregator = InnerStrategyAggregator.named(
            settings.strategy,
            settings.f,
            dp_clipping_norm=settings.dp_clipping_norm,
            dp_noise_multiplier=settings.dp_noise,
            dp_num_sampled=len(list(grid.get_node_ids())),
        )
        path = store_dir(settings, ledger)
        engine = RoundEngine(
            ledger,
            LocalArtifactStore(path),
            aggregator,
            journal=Journal(path / "journal.jsonl"),
            scoring=SCORING_PRESETS[settings.scoring_preset],
            policy=POLICY_PRESETS[settings.policy_preset],
            hyperparams=settings.hyperparams(),
            dataset_fingerprint=fingerprint(dataset),
            code_commit=code_commit(),
            max_examples=settings.max_examples,
            # A fresh simulated deployment claims for its simulated participants; with a
            # deployment file, participants claim themselves (`fedstake claim`).
            claim_for_participants=dev and not settings.deployment,
            reference=reference,
        )
        resumed = engine.resume()
        if resumed:
            log(30, "fedstake: finished rounds %s left by a previous run", resumed)
        strategy = StakedStrategy(
            aggregator.strategy,
            engine,
            budget=settings.budget_wei,
            warp_after_finalize=dev and settings.warp,
            on_round=on_round,
        )
        return StakedFederation(ledger, engine, strategy, path)
    except BaseException:
        ledger.close()
        raise
