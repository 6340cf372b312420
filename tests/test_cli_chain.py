"""Every ``fedstake`` command against one local chain (``fedstake chain up``: anvil with a
state file, shared by the module; each test runs in a snapshot that is reverted after it).

The fixture deploys through the CLI, then two scripted rounds run through the product's
round engine (honest participants, a sign flipper, a NaN sender, a forged hash) with the
artifact store on disk, so round listing, claims, disputes, settlement, status and verify
see real rounds. Error cases check the exit code, the one-line message and that the
command it advises exists.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.chain.anvil import find_anvil, free_port
from federation.commands.localchain import DevRpcChain
from federation.engine import RoundEngine
from federation.journal import Journal
from federation.keys import Signer, dev_signer, generate
from federation.ledger import Ledger
from simulations.staked_round import (
    ATTACKED_MIX,
    run_round,
    staked_participants,
    toy_model,
)
from tests.cli_helpers import cli, environ, fails, ok

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.skipif(
        find_anvil() is None, reason="anvil binary absent: run make setup-contracts"
    ),
]

TOKEN = 10**18
BUDGET = 10 * TOKEN
GLOBAL = toy_model()
BEHAVIOURS = list(ATTACKED_MIX)


@dataclass
class World:
    root: Path
    url: str
    dep: Path
    store: Path
    admin: Ledger
    people: dict[str, Signer]  # "honest" (first honest), "sign-flip", "non-finite", "forged-hash"
    stranger: Signer  # a funded dev account that took part in nothing
    arbiter: Signer  # decides disputes (the admin coordinates the rounds, so it cannot)
    treasury: Signer  # pulls the treasury's share of settled slashes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cli")
    dep = root / "deployment.json"
    with environ(
        FEDSTAKE_HOME=str(root / "home"), FEDSTAKE_DEPLOYMENT=str(dep), FEDSTAKE_CHAIN=None
    ):
        up = ok("chain", "up", "--port", str(free_port()), "--json").json()
        arbiter, treasury = generate(), generate()
        try:
            ok("deploy", "--arbiter", arbiter.address, "--treasury", treasury.address)
            admin = Ledger.open(DevRpcChain(up["url"]), dep)
            for who in (arbiter, treasury):
                admin.fund_eth(who.address, 10**19)
            people, _ = staked_participants(admin, BEHAVIOURS)
            store = root / "store"
            engine = RoundEngine(
                admin,
                LocalArtifactStore(store),
                RuleAggregator("median", 1),
                journal=Journal(store / "journal.jsonl"),
                hyperparams={"lr": 0.1},
            )
            first = run_round(engine, GLOBAL, people, BUDGET)
            second = run_round(engine, first.aggregate_arrays, people, BUDGET)
            assert [first.round_id, second.round_id] == [1, 2] and first.slashes
            named = {str(p.behaviour): p.ledger.signer for p in reversed(people)}
            yield World(
                root,
                up["url"],
                dep,
                store,
                admin,
                named,  # type: ignore[arg-type]
                dev_signer(9),
                arbiter,
                treasury,
            )
        finally:
            ok("chain", "down")


@pytest.fixture(autouse=True)
def isolated(world: World) -> Iterator[World]:
    """Each test on a snapshot of the shared chain, reverted afterwards (clock included)."""
    snap = world.admin.snapshot()
    try:
        yield world
    finally:
        world.admin.revert(snap)


def _tokens(n: float) -> str:
    return str(int(n * TOKEN))


# -- local chain ---------------------------------------------------------------------------------
def test_chain_up_status_fund_warp(world: World) -> None:
    again = ok("chain", "up", "--json").json()
    assert again["already_running"] is True and again["url"] == world.url
    assert len(again["accounts"]) == 10 and all(
        isinstance(a["balance"], str) for a in again["accounts"]
    )
    assert ok("chain", "status", "--json").json()["running"] is True
    human = ok("chain", "up").out
    assert (
        world.url in human
        and "ETH" in human
        and "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in human
    )
    who = generate().address
    funded = ok("chain", "fund", who, "2.5", "--json").json()
    assert funded["balance"] == str(25 * 10**17)
    assert "ETH" in ok("chain", "fund", who).out
    t0 = ok("chain", "warp", "2h", "--json").json()["time"]
    t1 = ok("chain", "warp", "90s", "--json").json()["time"]
    assert t1 - t0 >= 90
    fails("chain", "warp", "soon", code=2, says="not a duration")
    fails("chain", "fund", "0x12", code=2, says="not an address")


# -- deploy ----------------------------------------------------------------------------------------
def test_deploy_refuses_to_overwrite_without_force(world: World) -> None:
    before = world.dep.read_text()
    fails("deploy", says="--force")
    assert world.dep.read_text() == before
    other = world.root / "other.json"
    deployed = ok("--deployment", str(other), "deploy", "--json")
    first = deployed.json()
    assert first["chain_id"] == 31337 and set(first["contracts"]) == {
        "StakeManager",
        "RoundManager",
        "ProvenanceRegistry",
        "FaultVerifier",
        "TimelockController",
    }
    assert first["min_stake"] == _tokens(10)
    # one key for every role: allowed on a development chain, loudly
    assert "DEVELOPMENT CHAIN ONLY" in deployed.err and "--arbiter" in deployed.err
    assert first["warnings"] and first["timelock"] == first["contracts"]["TimelockController"]
    assert first["timelock_delay"] > first["unbonding_delay"] and first["admin_delay"] > 0
    fails("--deployment", str(other), "deploy", says="already exists")
    again = ok(
        "--deployment",
        str(other),
        "deploy",
        "--force",
        "--min-stake",
        "5",
        "--challenge-window",
        "30m",
        "--json",
    ).json()
    assert again["contracts"] != first["contracts"] and again["min_stake"] == _tokens(5)
    assert again["challenge_window"] == 1800
    human = ok("--deployment", str(other), "info").out
    assert "5 FED" in human and "30m" in human


# -- participant: keys, faucet, stake, unbond, withdraw -----------------------------------------
def test_participant_stake_unbond_withdraw(world: World) -> None:
    ks = world.root / "p.json"
    env = {"FEDSTAKE_KEYSTORE_PASSWORD": "pw"}
    me = ok("key", "new", str(ks), "--json", env=env).json()["address"]
    fails("key", "new", str(ks), says="already exists", env=env)
    use = {"FEDSTAKE_KEYSTORE": str(ks), **env}
    assert ok("key", "address", "--json", env=use).json()["address"] == me
    # no gas money yet: the advice is `fedstake chain fund ADDRESS`
    fails("faucet", says="ETH for gas", env=use)
    ok("chain", "fund", me)
    got = ok("faucet", "--json", env=use).json()
    assert got["received"] == _tokens(10_000) and isinstance(got["gas"], int)
    fails("unbond", "1", says="is not staked", env=use)
    fails("stake", "5", says="below the minimum", env=use)
    staked = ok("stake", "20", "--json", env=use).json()
    assert staked["active"] == _tokens(20) and staked["already_applied"] is False
    assert "FED" in ok("stake", "1.5", env=use).out
    fails("unbond", "15", says="below the minimum", env=use)
    fails("unbond", "100", says="at most your active stake", env=use)
    fails("unbond", "--all", "3", says="not both", env=use)
    unb = ok("unbond", "--all", "--json", env=use).json()
    assert unb["unbonding"] == _tokens(21.5)
    err = fails("withdraw", says="not yet due", env=use)
    assert "chain warp" in err and "UTC" in err
    status = ok("status", "--json", env=use).json()
    assert status["stake"] == {
        "active": "0",
        "unbonding": _tokens(21.5),
        "withdrawable": "0",
        "requests": [{"amount": _tokens(21.5), "release_at": unb["release_at"], "released": False}],
    }
    assert status["eligible"] is False and status["ineligible_reason"] == "not staked"
    human = ok("status", env=use).out
    assert "21.5 FED" in human and "unbond request" in human and "UTC" in human
    ok("chain", "warp", "3h2m")
    out = ok("withdraw", "--json", env=use).json()
    assert out["withdrawn"] == _tokens(21.5)
    fails("withdraw", says="nothing to withdraw", env=use)


def test_each_unbond_request_keeps_its_own_release_time(world: World) -> None:
    p = world.stranger
    ok("faucet", key=p)
    ok("stake", "30", key=p)
    first = ok("unbond", "5", "--json", key=p).json()
    ok("chain", "warp", "1h")
    second = ok("unbond", "5", "--json", key=p).json()
    assert second["release_at"] > first["release_at"] and len(second["requests"]) == 2
    st = ok("status", "--json", key=p).json()
    assert [r["release_at"] for r in st["stake"]["requests"]] == [
        first["release_at"],
        second["release_at"],
    ]
    ok("chain", "warp", "2h2m")  # the first is released, the second is not
    assert ok("status", "--json", key=p).json()["stake"]["withdrawable"] == _tokens(5)
    out = ok("withdraw", "--json", key=p).json()
    assert out["withdrawn"] == _tokens(5) and out["unbonding"] == _tokens(5)
    err = fails("withdraw", says="not yet due", key=p)
    assert "earliest request" in err


def test_keystore_without_password_and_without_a_terminal(world: World) -> None:
    ks = world.root / "np.json"
    ok("key", "new", str(ks), env={"FEDSTAKE_KEYSTORE_PASSWORD": "pw"})
    r = cli("status", env={"FEDSTAKE_KEYSTORE": str(ks)})
    assert r.code == 1 and "FEDSTAKE_KEYSTORE_PASSWORD" in r.err and "Traceback" not in r.err


def test_without_auto_approve_the_allowance_error_names_approve(world: World) -> None:
    p = world.stranger
    fails("stake", "20", key=p, says="insufficient token balance")
    ok("faucet", key=p)
    err = fails("--no-auto-approve", "stake", "20", key=p, says="allowance")
    assert "fedstake approve" in err
    assert ok("approve", "20", "--for", "stake", "--json", key=p).json()["allowance"] == _tokens(20)
    assert ok("--no-auto-approve", "stake", "20", "--json", key=p).json()["active"] == _tokens(20)


def test_paused_contracts_say_unpause(world: World) -> None:
    ok("faucet", key=world.stranger)
    assert ok("pause", "--json").json() == {"paused": True}
    fails("stake", "20", key=world.stranger, says="paused")
    ok("unpause")
    ok("stake", "20", key=world.stranger)
    fails("pause", key=world.stranger, says="lacks the pauser role")


# -- coordinator: bond, fund, rounds --------------------------------------------------------------
def test_bond_fund_unbond_bond(world: World) -> None:
    funded = ok("fund", "50", "--json").json()
    assert funded["funded"] == _tokens(50) and isinstance(funded["reward_pool"], str)
    assert "FED" in ok("fund", "1").out
    fails("fund", "-5", code=2, says="negative")
    fails("fund", "0", code=2, says="zero")
    assert ok("bond", "10", "--json").json()["bond"] == _tokens(510)
    fails("unbond-bond", "1", says="locked by 2")  # rounds 1 and 2 are not settled
    ok("chain", "warp", "2h")
    ok("settle")
    assert ok("unbond-bond", "10", "--json").json()["bond"] == _tokens(500)
    fails("unbond-bond", "1000", says="at most your bond")
    assert ok("unbond-bond", "--all", "--json").json()["bond"] == "0"


def test_round_list_and_show(world: World) -> None:
    rounds = ok("round", "list", "--json").json()
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["status"] == "finalized" and r["reward_budget"] == str(BUDGET) for r in rounds)
    human = ok("round", "list").out
    assert "finalized" in human and "10 FED" in human and "challenge window until" in human
    one = ok("round", "show", "1", "--json").json()
    people = {p["participant"]: p for p in one["participants_detail"]}
    assert len(people) == len(BEHAVIOURS)
    forged = world.people["forged-hash"].address
    nan = world.people["non-finite"].address
    honest = world.people["honest"].address
    assert people[forged]["outcome"].startswith("excluded: ") and people[forged]["reward"] == "0"
    assert "excluded" in people[nan]["outcome"]
    assert int(people[honest]["reward"]) > 0 and people[honest]["score"] > 0
    reasons = {s["participant"]: s["reason"] for s in one["slashes"]}
    assert reasons[forged] == "FORGED_HASH" and reasons[nan] == "MALFORMED"
    kinds = {s["participant"]: s["kind"] for s in one["slashes"]}
    assert kinds[forged] == "judged" and kinds[nan] == "provable"
    assert int(one["provable_slashed"]) > 0 and int(one["judged_slashed"]) > 0
    assert all(s["state"] == "locked" for s in one["slashes"])
    assert one["dispute_deadline"] > one["challenge_deadline"]
    assert "decision_hash" in one and "artifacts_uri" in one
    assert one["provenance"]["version"] == 1 and one["provenance"]["weights_uri"].startswith(
        "file:"
    )
    assert Path(one["artifacts"]["store"]) == world.store.resolve()
    text = ok("round", "show", "1").out
    for word in (
        "participants",
        "FORGED_HASH",
        "MALFORMED",
        "provenance",
        "artifact store",
        "FED",
        "provable",
        "judged",
        "decision hash",
        "artifacts URI",
        "dispute deadline",
    ):
        assert word in text
    fails("round", "show", "99", says="no such round 99")
    fails("round", "show", "0", says="start at 1")


def test_round_expire(world: World) -> None:
    rid = int(
        world.admin.open_round(
            [world.people["honest"].address], reward_budget=TOKEN, global_model_hash=b"\x01" * 32
        ).value
    )
    fails("round", "expire", str(rid), says="may still be finalized")
    fails("round", "expire", "1", says="is finalized")
    ok("chain", "warp", "2h")
    out = ok("round", "expire", str(rid), "--json").json()
    assert out["returned"] == str(TOKEN)
    assert ok("round", "show", str(rid), "--json").json()["status"] == "expired"


def test_round_cancel(world: World) -> None:
    rid = int(
        world.admin.open_round(
            [world.people["honest"].address], reward_budget=TOKEN, global_model_hash=b"\x01" * 32
        ).value
    )
    fails("round", "cancel", str(rid), key=world.stranger, says="lacks the pauser role")
    out = ok("round", "cancel", str(rid), "--json").json()
    assert out["returned"] == str(TOKEN) and out["round"] == rid
    assert ok("round", "show", str(rid), "--json").json()["status"] == "cancelled"
    fails("round", "cancel", str(rid), says="is cancelled")
    fails("round", "cancel", "99", says="no such round 99")
    # a finalized round: every slash goes back, its disputes are refunded
    forged = world.people["forged-hash"]
    ok("faucet", key=forged)
    did = ok("dispute", "1", "--json", key=forged).json()["dispute"]
    before = ok("status", "--json", key=forged).json()["stake"]["active"]
    done = ok("round", "cancel", "1", "--json").json()
    assert done["refundable_disputes"] == [did]
    assert int(ok("status", "--json", key=forged).json()["stake"]["active"]) > int(before)
    refund = ok("dispute", "timeout", str(did), "--json", key=world.stranger).json()
    assert refund["status"] == "refunded"


def test_settle_then_claim_every_round_at_once(world: World) -> None:
    honest = world.people["honest"]
    err = fails("settle", "1", says="challenge window open until")
    assert "chain warp" in err
    fails("claim", "1", key=honest, says="not settled yet")
    ok("chain", "warp", "1h1m")
    settled = ok("settle", "--json").json()
    assert [s["round"] for s in settled["settled"]] == [1, 2]
    fails("settle", says="nothing to settle")
    before = world.admin.token_balance(honest.address)
    claimed = ok("claim", "--json", key=honest).json()
    assert [c["round"] for c in claimed["claimed"]] == [1, 2]
    total = sum(int(c["amount"]) for c in claimed["claimed"])
    assert claimed["total"] == str(total) and total > 0
    assert world.admin.token_balance(honest.address) == before + total
    fails("claim", key=honest, says="every reward is claimed or zero")
    fails("claim", "1", key=honest, says="already claimed")
    # a zero reward sends no transaction
    forged = world.people["forged-hash"]
    block = world.admin.chain.w3.eth.block_number
    fails("claim", "1", key=forged, says="earned no reward")
    assert world.admin.chain.w3.eth.block_number == block
    fails("claim", "1", key=world.stranger, says="has no result in round 1")
    fails("claim", "99", key=honest, says="no such round 99")
    fails("claim", "1", "--participant", "0xnothex", code=2, says="not an address")
    # claims for another participant (paid to it), with the results named explicitly
    other = dev_signer(3).address
    r = ok("claim", "--results", str(world.store), "--participant", other, "--json").json()
    assert [c["round"] for c in r["claimed"]] == [1, 2] and r["participant"] == other
    human = ok("claim", key=dev_signer(2)).out
    assert "FED" in human and "claimed for" in human


def test_claim_with_bad_results_files(world: World, tmp_path: Path) -> None:
    honest = world.people["honest"]
    ok("chain", "warp", "1h1m")
    ok("settle")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    fails("claim", "1", "--results", str(bad), key=honest, says="not a valid results file")
    bad.write_text(json.dumps({"round_id": 1, "entries": [{"participant": "0x1"}]}))
    fails("claim", "1", "--results", str(bad), key=honest, says="not a valid results file")
    other_round = tmp_path / "r2.json"
    shutil.copy(world.store / "round-2-results.json", other_round)
    fails("claim", "1", "--results", str(other_round), key=honest, says="holds round 2's results")
    doc = json.loads((world.store / "round-1-results.json").read_text())
    doc.pop("root")
    doc["entries"][0]["reward"] = str(int(doc["entries"][0]["reward"]) + 1)
    forged = tmp_path / "r1.json"
    forged.write_text(json.dumps(doc))
    fails("claim", "--results", str(forged), key=honest, says="not round 1's results")
    fails("claim", "--results", str(tmp_path / "nope.json"), key=honest, says="no results file")
    good = ok("claim", "--results", str(world.store / "round-1-results.json"), "--json", key=honest)
    assert [c["round"] for c in good.json()["claimed"]] == [1]


def test_status_shows_rewards_slashes_and_strikes(world: World) -> None:
    nan = ok("status", "--json", key=world.people["non-finite"]).json()
    assert nan["jail"]["jailed"] and nan["eligible"] is False  # a provable fault jails at once
    assert "eligible from round" in nan["ineligible_reason"]
    assert nan["jail"]["eligible_from_round"] == nan["jail"]["jailed_until_round"] + 1
    assert {s["kind"] for s in nan["slashes"]} == {"provable"}
    assert "eligible from round" in ok("status", key=world.people["non-finite"]).out
    flipper = world.people["sign-flip"]
    st = ok("status", "--json", key=flipper).json()
    assert st["stake"]["active"] == str(100 * TOKEN - sum(int(s["amount"]) for s in st["slashes"]))
    assert {s["reason"] for s in st["slashes"]} == {"BYZANTINE"}
    assert st["strikes"] == {}  # a severe outlier is slashed at once: no strike stays pending
    forged = ok("status", "--json", key=world.people["forged-hash"]).json()
    assert {s["reason"] for s in forged["slashes"]} == {"FORGED_HASH"}
    assert all(isinstance(s["amount"], str) for s in forged["slashes"])
    honest = ok("status", "--json", key=world.people["honest"]).json()
    assert (
        honest["rewards"]["claimable"] == "0" and int(honest["rewards"]["pending_settlement"]) > 0
    )
    text = ok("status", world.people["forged-hash"].address).out
    assert "FORGED_HASH" in text and "FED" in text and "strikes" in text
    ok("chain", "warp", "1h1m")
    ok("settle")
    honest = ok("status", "--json", key=world.people["honest"]).json()
    assert int(honest["rewards"]["claimable"]) > 0
    assert "fedstake claim" in ok("status", key=world.people["honest"]).out


def test_status_strikes_from_the_coordinators_journal(world: World, tmp_path: Path) -> None:
    """Strikes pending below the limit come from the policy state the journal points at."""
    flipper = world.people["sign-flip"].address
    state = {"policy": {"version": 1, "last_round": 2, "strikes": {flipper: {"3": [1, 2]}}}}
    (tmp_path / "ab12.json").write_text(json.dumps(state))
    (tmp_path / "journal.jsonl").write_text(json.dumps({"step": "state", "settlement": "ab12"}))
    shutil.copy(world.store / "round-2-manifest.json", tmp_path)
    st = ok("status", flipper, "--results", str(tmp_path), "--json").json()
    assert st["strikes"] == {"BYZANTINE": {"rounds": [1, 2], "needed": 3}}
    text = ok("status", flipper, "--results", str(tmp_path)).out
    assert "BYZANTINE 2/3" in text and "were not found" in text


def test_dispute_a_slash_and_resolve_it(world: World) -> None:
    forged = world.people["forged-hash"]
    fails("dispute", "1", key=world.people["honest"], says="was not slashed in round 1")
    fails("dispute", "1", key=forged, says="insufficient token balance")
    ok("faucet", key=forged)
    ok("faucet", key=world.people["non-finite"])
    fails("dispute", "1", key=world.people["non-finite"], says="proven on-chain")
    fails("dispute", "1", "--deposit", "1", key=forged, says="at least 10 FED")
    opened = ok("dispute", "1", "--json", key=forged).json()
    did = opened["dispute"]
    assert opened["deposit"] == _tokens(10) and opened["round"] == 1
    fails("dispute", "1", key=forged, says="already disputed")
    (listed,) = ok("dispute", "list", "--json").json()
    assert (listed["id"], listed["status"], listed["kind"]) == (did, "open", "slash")
    assert listed["resolve_by"] == opened["resolve_by"] and "reverted" in listed["default_outcome"]
    human = ok("dispute", "list").out
    assert "if undecided" in human and "slash reverted" in human
    ok("chain", "warp", "1h1m")
    fails("settle", "1", says="open slash dispute")
    fails("dispute", "resolve", str(did), says="--uphold")
    fails("dispute", "resolve", str(did), "--uphold", key=forged, says="lacks the arbiter role")
    fails("dispute", "resolve", str(did), "--uphold", says="cannot decide its disputes")
    arbiter = world.arbiter
    out = ok("dispute", "resolve", str(did), "--uphold", "--json", key=arbiter).json()
    assert out["status"] == "upheld"
    fails("dispute", "resolve", "99", "--reject", key=arbiter, says="no such dispute")
    st = ok("round", "show", "1", "--json").json()
    assert {s["state"] for s in st["slashes"] if s["participant"] == forged.address} == {"reverted"}
    ok("settle", "1")
    fails("dispute", "2", key=forged, says="challenge window closed")
    assert "upheld" in ok("dispute", "list").out


def test_an_undecided_dispute_times_out_to_its_default(world: World) -> None:
    forged = world.people["forged-hash"]
    ok("faucet", key=forged)
    did = ok("dispute", "2", "--json", key=forged).json()["dispute"]
    err = fails("dispute", "timeout", str(did), key=world.stranger, says="dispute deadline")
    assert "chain warp" in err
    fails("dispute", "timeout", "99", says="no such dispute 99")
    ok("chain", "warp", "2h2m")  # past the challenge window and the dispute deadline
    fails("dispute", "resolve", str(did), "--reject", key=world.arbiter, says="deadline passed")
    assert ok("dispute", "list", "--json").json()[0]["timeout_due"] is True
    out = ok("dispute", "timeout", str(did), "--json", key=world.stranger).json()
    assert out["status"] == "timed_out" and int(out["compensation"]) > 0
    fails("dispute", "timeout", str(did), says="already timed out")
    assert ok("round", "show", "2", "--json").json()["slashes"]
    ok("settle", "2")


def test_treasury_pulls_its_share(world: World) -> None:
    fails("treasury", "claim", key=world.treasury, says="owed nothing")
    ok("chain", "warp", "1h1m")
    ok("settle")
    owed = ok("treasury", "show", "--json").json()
    assert owed["treasury"] == world.treasury.address and int(owed["owed"]) > 0
    fails("treasury", "claim", says="is not the treasury")
    before = world.admin.token_balance(world.treasury.address)
    out = ok("treasury", "claim", "--json", key=world.treasury).json()
    assert out["claimed"] == owed["owed"]
    assert world.admin.token_balance(world.treasury.address) == before + int(owed["owed"])
    assert ok("treasury", "show", "--json").json()["owed"] == "0"


def test_governance_accept_admin(world: World) -> None:
    st = ok("governance", "status", "--json").json()
    assert not st["timelocked"] and st["timelock_delay"] > st["unbonding_delay"]
    assert set(st["pending_admins"].values()) == {st["timelock"]}
    err = fails("governance", "accept-admin", says="from")
    assert "chain warp" in err
    ok("chain", "warp", "2d")
    out = ok("governance", "accept-admin", "--json").json()
    assert out["timelocked"] is True and out["timelock"] == st["timelock"]
    assert ok("governance", "status", "--json").json()["timelocked"] is True
    assert "administers all" in ok("info").out
    # the admin key alone can no longer grant roles: the timelock must
    fails("role", "grant", "arbiter", world.stranger.address, says="lacks the admin role")


def test_dispute_a_result(world: World) -> None:
    ok("faucet", key=world.stranger)
    out = ok("dispute", "result", "2", "--deposit", "12", "--json", key=world.stranger).json()
    assert out["deposit"] == _tokens(12)
    assert (
        ok(
            "dispute", "resolve", str(out["dispute"]), "--reject", "--json", key=world.arbiter
        ).json()["status"]
        == "rejected"
    )


# -- anyone -------------------------------------------------------------------------------------
def test_verify_registry_history_info_roles(world: World) -> None:
    assert "OK: all" in ok("verify", "1").out
    assert ok("verify", "2", "--json").json()["ok"] is True
    fails("verify", "99", code=2, says="never opened")
    versions = ok("registry", "lineage", "--json").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["parent"] == 1
    assert "file:" in ok("registry", "lineage", "1").out
    fails("registry", "lineage", "7", says="no such version 7")
    slashes = ok("history", "slashes", "--json").json()
    assert {s["reason"] for s in slashes} >= {"FORGED_HASH", "MALFORMED"}
    assert all(isinstance(s["amount"], str) for s in slashes)
    assert len(ok("history", "rounds", "--json").json()) >= 4
    assert "staked" in ok("history", "stakes").out
    info = ok("info", "--json").json()
    assert (
        info["rounds"] == 2
        and info["token"]["symbol"] == "FED"
        and isinstance(info["min_stake"], str)
    )
    assert info["treasury"] == world.treasury.address and info["jail"]["strikes_to_jail"] == 3
    assert info["provable_slash_bps"] > 0 and info["dispute_window"] == 3600
    assert info["governance"]["timelock"] == info["contracts"]["TimelockController"]
    who = world.stranger.address
    ok("role", "grant", "arbiter", who)
    assert ok("role", "list", who, "--json").json()["roles"] == ["arbiter"]
    ok("role", "revoke", "arbiter", who)
    assert "no roles" in ok("role", "list", who).out
    fails("role", "grant", "king", who, code=2, says="king")


def test_wrong_chain_and_dead_rpc(world: World) -> None:
    err = fails("--chain", "inprocess://", "status", says="chain id 31337")
    assert "--chain" in err
    fails("--chain", "http://127.0.0.1:9", "status", says="cannot reach the RPC")
    fails("--deployment", str(world.root / "none.json"), "status", says="no deployment file")


# -- a chain that restarts from its state file (anvil://?state=FILE) ----------------------------
def test_anvil_state_file_survives_restarts(tmp_path: Path) -> None:
    chain = f"anvil://?state={tmp_path / 'chain.json'}"
    base = ["--chain", chain, "--deployment", str(tmp_path / "d.json")]
    ok(*base, "deploy")
    assert ok(*base, "stake", "25", "--json").json()["active"] == _tokens(25)
    assert ok(*base, "status", "--json").json()["stake"]["active"] == _tokens(25)
    assert len(ok(*base, "history", "stakes", "--json").json()) == 1
    ok(*base, "chain", "warp", "1h")
