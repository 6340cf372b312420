"""Shared fixtures: the ledger suite runs once per chain backend (in-process and anvil).

One deployment per backend per session; every test runs inside a snapshot that is
reverted afterwards, so tests are independent and the suite stays fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

from federation.chain import connect
from federation.chain.anvil import find_anvil
from federation.chain.base import Chain
from federation.ledger import Ledger

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
