"""A real federation on one machine through Flower's Deployment Engine (README, "Deployment
Engine"): anvil, `flower-superlink`, five `flower-supernode` processes each holding its own
participant key in node config, and the coordinator's `flwr run APP <federation>` (APP:
a copy of the App's sources, tests/conftest.py `flwr_app`; the README runs it from `.`).
Then each participant acts as it would with the CLI (`status`, `settle`, `claim`,
`verify`), and one disputes a wrong slash (`dispute`; the arbiter: `dispute resolve`).
Every process the test starts is stopped, and checked to be gone.

The wrong slash: after the Flower run, the coordinator turns rogue. With its own key it
runs one more round through the round engine and the Ledger (the honest participants
answer with their own signed commitments), publishes the honest decision and manifest,
but finalizes a BYZANTINE slash of an honest participant, using that participant's own
valid signature as "evidence". The victim's `verify` names the slash the decision does
not contain (exit 1); the victim disputes with a deposit; the arbiter upholds and the
slash is reverted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.chain.anvil import find_anvil
from federation.cli import main as fedstake
from federation.engine import RoundEngine, manifest_name, submission_from_doc
from federation.journal import Journal
from federation.keys import Signer, generate
from federation.ledger import Ledger
from federation.types import SlashState
from simulations.accounting import check_accounting
from simulations.deployment import REPO, VENV_BIN, LocalFederation, Participant, hex_key
from simulations.staked_round import Behaviour, SimParticipant, run_round, toy_train
from strategies.scoring_types import ReasonCode

pytestmark = [
    pytest.mark.slow,
    pytest.mark.anvil,
    pytest.mark.skipif(find_anvil() is None, reason="anvil not installed (make setup-contracts)"),
    pytest.mark.skipif(
        not (VENV_BIN / "flower-supernode").exists(),
        reason="flower-supernode not installed in this environment",
    ),
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="process checks read /proc (Linux)"),
]
TOKEN = 10**18
NODES = 5  # partition 0 flips its update's sign; 1-4 are honest (the scorer's outlier
# tests need ≥ 5 participants, Multi-Krum with f = 1 needs n > 2f + 2)
ROUNDS = 2  # every round flags and slashes the attacker; the participants claim both at once


@dataclass
class Federation(LocalFederation):
    """`LocalFederation` whose `flwr run` builds the App from `app` (the `flwr_app` fixture,
    a copy of its sources) instead of `.`: everything else as the README's recipe."""

    app: Path = REPO

    def run_command(self, cfg: dict[str, Any]) -> list[str]:
        cmd = super().run_command(cfg)
        assert cmd[1:3] == ["run", "."], cmd
        cmd[2] = str(self.app)
        return cmd


class Shell:
    """Someone at a shell: the CLI with their own key in FEDSTAKE_PRIVATE_KEY."""

    def __init__(
        self,
        fed: LocalFederation,
        signer: Signer,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.fed, self.signer, self.capsys, self.monkeypatch = fed, signer, capsys, monkeypatch
        self.address = signer.address

    def cli(self, *args: str) -> tuple[int, str]:
        self.monkeypatch.setenv("FEDSTAKE_PRIVATE_KEY", hex_key(self.signer))
        try:
            base = ["--chain", self.fed.rpc_url, "--deployment", str(self.fed.deployment_file)]
            code = fedstake([*base, *args])
        finally:
            self.monkeypatch.delenv("FEDSTAKE_PRIVATE_KEY")
        cap = self.capsys.readouterr()
        return code, cap.out + cap.err

    def ok(self, *args: str) -> str:
        code, out = self.cli(*args)
        assert code == 0, f"fedstake {' '.join(args)} → exit {code}:\n{out}"
        return out


def _rogue_round(fed: LocalFederation, victim: str) -> int:
    """The coordinator's extra round: honest decision published, a wrong slash finalized."""
    coord = fed.as_(fed.coordinator)
    store = fed.artifact_dir / "rogue"
    engine = RoundEngine(
        coord,
        LocalArtifactStore(store),
        RuleAggregator("median", 1),
        journal=Journal(store / "journal.jsonl"),
        hyperparams={"lr": 0.1},
    )
    target = np.random.default_rng(0).normal(0, 1, (4, 3)).astype(np.float32)
    honest = [
        SimParticipant(
            fed.as_(p.signer), Behaviour.HONEST, toy_train(target), np.random.default_rng(i)
        )
        for i, p in enumerate(fed.people)
        if p.index != 0
    ]
    finalize = coord.finalize_round

    def dishonest(rid: int, **kw: Any) -> Any:
        m = engine.store.get_named(manifest_name(rid))
        sub = submission_from_doc(
            engine.store, next(d for d in m["submissions"] if d["participant"] == victim)
        )
        assert sub.commitment is not None and sub.signature is not None
        wrong = Ledger.slash_evidence(
            sub.commitment,
            sub.signature,  # the victim's own valid signature over its honest update
            reason=int(ReasonCode.BYZANTINE),
            slash_bps=1_000,
            participants=Ledger.participants_tree(rid, m["participants"]),
        )
        return finalize(rid, **{**kw, "slashes": [*kw["slashes"], wrong]})

    coord.finalize_round = dishonest  # type: ignore[method-assign]
    grid = {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3, np.float32)}
    out = run_round(engine, grid, honest, 30 * TOKEN)
    assert not out.decision.slashes  # the published decision slashes no one
    return int(out.round_id)


def test_deployment_engine_federation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flwr_app: Path,
) -> None:
    t0 = time.perf_counter()
    with Federation(tmp_path / "fed", participants=NODES, app=flwr_app) as fed:
        led, chain = fed.ledger, fed.chain
        assert led is not None and chain is not None
        attacker, honest = fed.people[0], fed.people[1:]
        before = {
            p.address: (led.stake_of(p.address).slashable, led.token_balance(p.address))
            for p in fed.people
        }
        assert all(s == 50 * TOKEN for s, _ in before.values())

        # Coordinator: the staked federation through `flwr run . fedstake-local`.
        summary = fed.run(
            {
                "num-server-rounds": ROUNDS,
                "strategy": "multi-krum",
                "f": 1,
                "reward-budget": 30.0,
                "behaviours": "0:sign-flip",
                "closing-audit": False,
            },
            timeout=300,
        )
        t_run = time.perf_counter()
        rounds = summary["rounds"]
        assert [r["round_id"] for r in rounds] == list(range(1, ROUNDS + 1))
        for r in rounds:
            assert sorted(r["valid"]) == sorted(p.address for p in fed.people)  # all bound
            assert "BYZANTINE" in r["flags"][attacker.address]
            assert int(r["rewards"][attacker.address]) == 0
            for p in honest:
                assert int(r["rewards"][p.address]) > 0 and not r["flags"][p.address]
        assert {s["participant"] for r in rounds for s in r["slashes"]} == {attacker.address}
        assert Path(summary["artifacts"]).parent == fed.artifact_dir

        # The challenge window passes (anvil's clock: the ServerApp reaches the chain by its
        # http:// URL, as it would an L2's, so it does not warp it). Each participant then
        # checks its status, settles (anyone may), claims its own rewards, verifies.
        chain.advance_time(led.round_config().challenge_window + 1)
        people = [Shell(fed, p.signer, capsys, monkeypatch) for p in fed.people]
        ids = [r["round_id"] for r in rounds]
        for p in people:
            assert p.address in p.ok("status")
        for rid in ids:
            people[1].ok("settle", str(rid))
        assert {led.get_round(rid).status.name for rid in ids} == {"SETTLED"}
        for p in people[1:]:  # every settled round at once; results found via provenance
            p.ok("claim")
            assert all(led.is_claimed(rid, p.address) for rid in ids)
        for p in people:
            for rid in ids:
                p.ok("verify", str(rid))  # exit 0: every check passes

        # The attacker lost stake; every honest participant's wallet grew by its rewards.
        assert led.stake_of(attacker.address).slashable < before[attacker.address][0]
        assert led.token_balance(attacker.address) == before[attacker.address][1]
        for p in honest:
            earned = sum(int(r["rewards"][p.address]) for r in rounds)
            assert led.stake_of(p.address).slashable == before[p.address][0]
            assert led.token_balance(p.address) == before[p.address][1] + earned > 0
        assert check_accounting(led).balanced

        # A wrong slash: the victim verifies (exit 1, the slash named), disputes, the
        # arbiter upholds, the slash is reverted; the round then settles and pays.
        victim, arbiter = people[1], Shell(fed, fed.admin, capsys, monkeypatch)
        stake_before = led.stake_of(victim.address).slashable
        wallet_before = led.token_balance(victim.address)
        rid = _rogue_round(fed, victim.address)
        code, report = victim.cli("verify", str(rid))
        assert code == 1, report
        assert f"{victim.address}: slashed on-chain (BYZANTINE, 1000 bps)" in report
        assert led.get_slash(rid, victim.address).state == SlashState.LOCKED
        assert led.stake_of(victim.address).slashable == stake_before - stake_before // 10
        victim.ok("dispute", str(rid))  # with the minimum deposit
        dispute = led.get_dispute(1)  # the deployment's first dispute
        assert (dispute.round_id, dispute.participant) == (rid, victim.address)
        assert led.get_slash(rid, victim.address).state == SlashState.DISPUTED
        arbiter.ok("dispute", "resolve", "1", "--uphold")  # the admin is the arbiter
        assert led.get_slash(rid, victim.address).state == SlashState.REVERTED
        assert led.stake_of(victim.address).slashable == stake_before
        chain.advance_time(led.round_config().challenge_window + 1)
        victim.ok("settle", str(rid))
        victim.ok("claim", str(rid))
        assert led.is_claimed(rid, victim.address)
        assert led.token_balance(victim.address) > wallet_before  # deposit back + reward
        assert check_accounting(led).balanced
        t_cli = time.perf_counter()
    assert fed.leftovers() == set()  # SuperLink, SuperNodes, their SuperExecs and apps, anvil
    print(
        f"\nstart + flwr run {t_run - t0:.1f} s, participants' CLI + dispute "
        f"{t_cli - t_run:.1f} s, stop {time.perf_counter() - t_cli:.1f} s"
    )


def test_tls_and_supernode_authentication(tmp_path: Path, flwr_app: Path) -> None:
    """The TLS + SuperNode-authentication variant: one registered SuperNode, one staked
    round over TLS; a SuperNode whose key was not registered is refused."""
    with Federation(
        tmp_path / "fed", participants=1, tls=True, supernode_auth=True, app=flwr_app
    ) as fed:
        assert "Uvicorn running on https://" in fed.procs[0].log.read_text()
        intruder = fed.start_supernode(Participant(7, generate()), register=False)
        assert intruder.popen.wait(timeout=60) != 0  # "Failed to activate SuperNode"
        assert fed.online_nodes() == 1
        summary = fed.run(
            {"num-server-rounds": 1, "strategy": "fedavg", "f": 0, "closing-audit": False},
            timeout=300,
        )
        (r,) = summary["rounds"]
        assert r["valid"] == [fed.people[0].address]
        assert int(r["rewards"][fed.people[0].address]) == 30 * TOKEN
    assert fed.leftovers() == set()
