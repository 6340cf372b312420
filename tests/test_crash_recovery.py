"""Crash safety of the coordinator, with real processes on a real node (anvil).

The coordinator (`simulations.crash_coordinator`, the product's RoundEngine) is killed
(1) between aggregation and finalize, and (2) right after the finalize transaction is
broadcast, before its receipt is read; each time it is restarted and the round completes
exactly once: one RoundFinalized event, the journalled decision on-chain, provenance once,
settlement and claims once each, token accounting exact to the wei.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.chain.anvil import AnvilChain, find_anvil
from federation.crashpoints import CRASH_EXIT_CODE, ENV_CRASH_AT
from federation.engine import manifest_name
from federation.journal import DECIDED, FINALIZED, RECORDED, Journal
from federation.ledger import Ledger
from federation.types import RoundStatus
from simulations.accounting import check_accounting
from simulations.crash_coordinator import BEHAVIOURS, participant_signers

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.skipif(find_anvil() is None, reason="anvil absent: run make setup-contracts"),
]

REPO = Path(__file__).resolve().parents[1]
TOKEN = 10**18
SEED = 7
TIMEOUT_S = 180


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilChain]:
    """An anvil of this module's own (the coordinator processes reach it over http)."""
    chain = AnvilChain()
    try:
        yield chain
    finally:
        chain.close()
    assert chain._proc is None  # stopped


@pytest.fixture
def system(anvil: AnvilChain, tmp_path: Path) -> tuple[Ledger, Path]:
    """Deployed, 5 participants staked (one sign-flipper), pool and bond funded."""
    deployment = tmp_path / "deployment.json"
    admin = Ledger.deploy(anvil, out=deployment)
    for signer in participant_signers():
        p = admin.as_signer(signer)
        admin.transfer_tokens(p.address, 100 * TOKEN)
        p.stake(100 * TOKEN)
    admin.post_bond(500 * TOKEN)
    admin.fund_reward_pool(1_000 * TOKEN)
    return admin, deployment


def _coordinator(
    admin: Ledger,
    deployment: Path,
    store: Path,
    rounds: int,
    *,
    crash_at: str | None = None,
    claim: bool = False,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run the coordinator process to its end (or its crash); (exit code, events, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != ENV_CRASH_AT}
    if crash_at is not None:
        env[ENV_CRASH_AT] = crash_at
    cmd = [
        sys.executable,
        "-m",
        "simulations.crash_coordinator",
        "--rpc",
        admin.chain.rpc_url,  # type: ignore[attr-defined]
        "--deployment",
        str(deployment),
        "--store",
        str(store),
        "--rounds",
        str(rounds),
        "--seed",
        str(SEED),
    ]
    if claim:
        cmd.append("--claim")
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


def _finalized_events(admin: Ledger, round_id: int) -> int:
    return sum(1 for e in admin.round_events() if e.kind == "finalized" and e.round_id == round_id)


def _journal_steps(journal: Journal, round_id: int) -> Counter[str]:
    return Counter(r["step"] for r in journal.records() if r.get("round_id") == round_id)


def _total_rewards(manifest: dict[str, Any]) -> int:
    return sum(int(e["reward"]) for e in manifest["results"]["entries"])


def _check_completed_once(admin: Ledger, store: Path, round_id: int) -> dict[str, Any]:
    """Finalized once on-chain with exactly what the manifest decided; journal one-step-once."""
    manifest = json.loads((store / f"{manifest_name(round_id)}.json").read_text())
    info = admin.get_round(round_id)
    assert info.status == RoundStatus.FINALIZED
    assert _finalized_events(admin, round_id) == 1
    assert info.results_root.hex() == manifest["results"]["root"].removeprefix("0x")
    assert info.aggregate_hash.hex() == manifest["aggregate_hash"]
    assert info.total_rewards == _total_rewards(manifest)
    steps = _journal_steps(Journal(store / "journal.jsonl"), round_id)
    assert steps["opened"] == steps[DECIDED] == steps[FINALIZED] == steps[RECORDED] == 1, steps
    version = admin.version_of_weights(bytes.fromhex(manifest["aggregate_hash"]))
    assert version and admin.get_version(version).round_id == round_id  # provenance once
    return manifest


def test_killed_coordinator_completes_each_round_exactly_once(
    system: tuple[Ledger, Path], tmp_path: Path
) -> None:
    admin, deployment = system
    store = tmp_path / "store"
    journal = Journal(store / "journal.jsonl")

    # 1. Killed between aggregation and finalize: decided and journalled, nothing sent.
    rc, events, err = _coordinator(admin, deployment, store, 1, crash_at="before-finalize")
    assert rc == CRASH_EXIT_CODE, err
    assert "crash point 'before-finalize'" in err
    assert not _of(events, "round")
    assert admin.get_round(1).status == RoundStatus.OPEN
    assert set(journal.rounds()[1].steps) == {"opened", DECIDED}

    # Restarted: resume finalizes exactly what was decided; no new round is run.
    rc, events, err = _coordinator(admin, deployment, store, 1)
    assert rc == 0, err
    assert [(e["round_id"], e["finalize"]) for e in _of(events, "resumed")] == [(1, "sent-now")]
    assert not _of(events, "round")
    m1 = _check_completed_once(admin, store, 1)
    assert _of(events, "resumed")[0]["results_root"] == m1["results"]["root"].removeprefix("0x")
    assert journal.rounds()[1].steps[FINALIZED].get("resumed") is True

    # 2. Killed right after finalizeRound is broadcast (anvil mines it), receipt unread.
    rc, events, err = _coordinator(admin, deployment, store, 2, crash_at="after-send:finalizeRound")
    assert rc == CRASH_EXIT_CODE, err
    assert "crash point 'after-send:finalizeRound'" in err
    assert not _of(events, "resumed") and not _of(events, "round")
    assert admin.get_round(2).status == RoundStatus.FINALIZED  # it landed
    assert set(journal.rounds()[2].steps) == {"opened", DECIDED}  # but was never journalled

    # Restarted: it sees the finalize landed and does not send it again.
    rc, events, err = _coordinator(admin, deployment, store, 2)
    assert rc == 0, err
    assert [(e["round_id"], e["finalize"]) for e in _of(events, "resumed")] == [
        (2, "already-landed")
    ]
    assert not _of(events, "round")
    m2 = _check_completed_once(admin, store, 2)
    assert m2["global_model_hash"] == m1["aggregate_hash"]  # round 2 built on round 1
    assert [e.round_id for e in admin.round_events() if e.kind == "opened"] == [1, 2]
    sign_flipper = participant_signers()[BEHAVIOURS.index("sign-flip")].address
    for m in (m1, m2):
        assert [s["participant"] for s in m["slashes"]] == [sign_flipper]
    assert Counter((s.round_id, s.participant) for s in admin.slash_events()) == {
        (1, sign_flipper): 1,
        (2, sign_flipper): 1,
    }
    assert check_accounting(admin).balanced

    # 3. Past the challenge window: settle and claim for the participants, once.
    admin.chain.advance_time(admin.round_config().challenge_window + 1)
    rc, events, err = _coordinator(admin, deployment, store, 2, claim=True)
    assert rc == 0, err
    assert sorted(e["round_id"] for e in _of(events, "settled")) == [1, 2]
    claims = admin.claim_events()
    assert all(n == 1 for n in Counter((c.round_id, c.participant) for c in claims).values())
    for rid, m in ((1, m1), (2, m2)):
        info = admin.get_round(rid)
        assert info.status == RoundStatus.SETTLED
        paid = sum(c.amount for c in claims if c.round_id == rid)
        assert paid == info.claimed == info.total_rewards == _total_rewards(m)
        assert {c.participant for c in claims if c.round_id == rid} == {
            e["participant"] for e in m["results"]["entries"] if int(e["reward"]) > 0
        }
    acct = check_accounting(admin)
    assert acct.balanced, acct
    assert acct.outstanding_rewards == 0

    # Once more: nothing left to do, nothing done twice.
    rc, events, err = _coordinator(admin, deployment, store, 2, claim=True)
    assert rc == 0, err
    assert [e["event"] for e in events] == ["started", "done"]
    assert len(admin.claim_events()) == len(claims)
    assert check_accounting(admin).balanced


def test_coordinator_down_past_the_deadline_expires_the_decided_round(
    system: tuple[Ledger, Path], tmp_path: Path
) -> None:
    """Killed before finalize and restarted after the round's finalize deadline: the round
    can never be finalized, so it is expired (budget back, nobody paid or slashed), its
    decision is forgotten, and the coordinator goes on with a new round."""
    admin, deployment = system
    store = tmp_path / "store"
    journal = Journal(store / "journal.jsonl")
    rc, _, err = _coordinator(admin, deployment, store, 1, crash_at="before-finalize")
    assert rc == CRASH_EXIT_CODE, err
    pool_while_open = admin.pool_info().reward_pool
    admin.chain.advance_time(admin.round_config().max_round_duration + 1)

    rc, events, err = _coordinator(admin, deployment, store, 1)
    assert rc == 0, err
    assert [(e["round_id"], e["status"]) for e in _of(events, "expired")] == [(1, "EXPIRED")]
    assert not _of(events, "resumed")
    assert [e["round_id"] for e in _of(events, "round")] == [2]
    assert admin.get_round(1).status == RoundStatus.EXPIRED
    assert _finalized_events(admin, 1) == 0 and not admin.slash_events(1)
    steps = _journal_steps(journal, 1)
    assert steps == {"opened": 1, DECIDED: 1, "expired": 1}, steps
    m1 = json.loads((store / f"{manifest_name(1)}.json").read_text())
    m2 = _check_completed_once(admin, store, 2)
    assert m2["global_model_hash"] == m1["global_model_hash"]  # round 1's model never was
    assert m2["settlement_before"] == m1["settlement_before"]  # nor its decision
    # round 1's budget went back to the pool, round 2 reserved the same again
    assert admin.pool_info().reward_pool == pool_while_open
    assert check_accounting(admin).balanced

    rc, events, err = _coordinator(admin, deployment, store, 1)
    assert rc == 0, err
    assert [e["event"] for e in events] == ["started", "done"]
