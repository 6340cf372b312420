"""Shared fixtures: the ledger suite runs once per chain backend (in-process and anvil).

One deployment per backend per session; every test runs inside a snapshot that is
reverted afterwards, so tests are independent and the suite stays fast.

The end-to-end tests through `flwr run` share one local SuperLink (`superlink`, stopped
and checked gone at the end of the session) and run the App from a copy of its sources
(`flwr_app`): `flwr run .` walks every file under the repository, `.venv/` and
`contracts/node_modules/` included, before it filters them, ~15 s per run. The demo's
test still runs `flwr run .` itself, as `make demo` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from federation.chain import connect
from federation.chain.anvil import find_anvil
from federation.chain.base import Chain
from federation.ledger import Ledger
from simulations.flwr_runner import REPO, FlwrRunner, superlinks

# CI explores a fixed set of examples (a red build must be reproducible); developers keep
# hypothesis' random exploration locally, where a new counterexample is a gift.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

TOKEN = 10**18
BACKENDS = ["inprocess", "anvil"]
N_PARTICIPANTS = 6
STAKE = 100 * TOKEN


@dataclass
class Env:
    """A deployed, funded system: admin (coordinator, pauser; admin until the timelock
    accepts), staked participants, and a distinct arbiter and treasury."""

    chain: Chain
    admin: Ledger
    participants: list[Ledger]
    backend: str
    arbiter: Ledger | None = None  # decides disputes (never a round's coordinator)
    treasury: Ledger | None = None  # pulls the treasury's share of slashes

    @property
    def judge(self) -> Ledger:
        """The arbiter (the admin where a test built its own Env without one)."""
        return self.arbiter or self.admin


@contextlib.contextmanager
def reverting(chain: Chain) -> Iterator[None]:
    """Run a block against a snapshot and roll the chain back afterwards."""
    snap = chain.snapshot()
    try:
        yield
    finally:
        chain.revert(snap)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "anvil" and find_anvil() is None:
        pytest.skip(
            "anvil binary not found (contracts/node_modules or a native one on PATH): run "
            "`make setup-contracts` to install it"
        )
    return str(request.param)


@pytest.fixture(scope="session")
def chain(backend: str) -> Iterator[Chain]:
    c = connect(f"{backend}://")
    yield c
    c.close()


@pytest.fixture(scope="session")
def deployed(chain: Chain, backend: str) -> Env:
    signers = chain.dev_signers()
    arbiter, treasury = signers[8], signers[9]
    admin = Ledger.deploy(chain, arbiters=(arbiter.address,), treasury=treasury.address)
    participants = [admin.as_signer(s) for s in signers[1 : 1 + N_PARTICIPANTS]]
    for p in participants:
        admin.transfer_tokens(p.address, 10 * STAKE)
        p.stake(STAKE)
    admin.post_bond(200 * TOKEN)
    admin.fund_reward_pool(10_000 * TOKEN)
    return Env(
        chain,
        admin,
        participants,
        backend,
        admin.as_signer(arbiter),
        admin.as_signer(treasury),
    )


@pytest.fixture
def env(deployed: Env) -> Iterator[Env]:
    with reverting(deployed.chain):
        yield deployed


GLOBAL_MODEL = b"\x11" * 32
AGGREGATE = b"\x22" * 32


def update_of(i: int) -> bytes:
    return bytes([i % 250 + 1]) * 32


def open_round(env: Env, members: list[Ledger], budget: int = 100 * TOKEN) -> int:
    return int(
        env.admin.open_round(
            [m.address for m in members], reward_budget=budget, global_model_hash=GLOBAL_MODEL
        ).value
    )


# -- `flwr run` ------------------------------------------------------------------------------
# What of the repository the App needs: the packages the ServerApp and ClientApp import and
# the App's configuration ([tool.flwr.app] in pyproject.toml). `flwr run` packs the same
# files of these (its own include/exclude patterns and .gitignore) into the FAB.
APP_FILES = ("pyproject.toml", ".gitignore")
APP_PACKAGES = ("federation", "strategies", "simulations")


@pytest.fixture(scope="session")
def flwr_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Flower App's sources, copied once: a directory `flwr run` builds its FAB from in
    well under a second (from `.` it walks `.venv/` and `contracts/node_modules/` too)."""
    app = tmp_path_factory.mktemp("flwr-app")
    for name in APP_FILES:
        shutil.copy2(REPO / name, app / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in APP_PACKAGES:
        shutil.copytree(REPO / pkg, app / pkg, ignore=junk)
    return app


class AppRunner(FlwrRunner):
    """A `FlwrRunner` whose `flwr run` builds the App from `app` instead of `.`."""

    def __init__(self, work: Path, app: Path) -> None:
        super().__init__(work)
        self.app = app

    def command(self, cfg: dict[str, Any], nodes: int) -> list[str]:
        cmd = super().command(cfg, nodes)
        assert cmd[1:3] == ["run", "."], cmd
        cmd[2] = str(self.app)
        return cmd


@pytest.fixture(scope="session")
def superlink(tmp_path_factory: pytest.TempPathFactory, flwr_app: Path) -> Iterator[FlwrRunner]:
    """One private local SuperLink for every `flwr run` test (each run its own config,
    artifacts and summary), stopped at the end of the session and checked gone."""
    with AppRunner(tmp_path_factory.mktemp("flwr"), flwr_app) as runner:
        yield runner
    assert not runner.started & superlinks(runner.pattern), "a SuperLink outlived the session"
