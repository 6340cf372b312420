"""The Ledger facade end to end, on every backend: deploy, stake, rounds, claims, history."""

from __future__ import annotations

import pytest

from federation.deployment import Deployment
from federation.ledger import Ledger, VersionInput
from federation.protocol import Commitment, SlashReason
from federation.types import (
    DisputeStatus,
    RewardEntry,
    RoundResults,
    RoundStatus,
    SlashRecord,
    SlashState,
    StakeInfo,
)
from tests.conftest import AGGREGATE, GLOBAL_MODEL, STAKE, TOKEN, Env, open_round, update_of


def test_deploy_writes_a_deployment_file_that_reopens(env: Env, tmp_path) -> None:
    d = env.admin.deployment
    assert d.chain_id == env.chain.chain_id
    assert set(d.contracts) == {"StakeManager", "RoundManager", "ProvenanceRegistry"}
    assert d.abi_version == "1.0.0"
    assert d.local_token
    path = d.save(tmp_path / "deployment.json")
    reopened = Ledger.open(env.chain, path, env.participants[0].signer)
    assert reopened.deployment == d
    assert reopened.stake_of() == StakeInfo(STAKE, 0, 0)
    assert Deployment.load(path).token == d.token


def test_roles_and_parameters(env: Env) -> None:
    a = env.admin
    for role in ("admin", "coordinator", "arbiter", "pauser"):
        assert a.has_role(role)
    assert not a.has_role("coordinator", env.participants[0].address)
    params = a.staking_params()
    assert params.total_staked == STAKE * len(env.participants)
    cfg = a.round_config()
    assert params.unbonding_delay > cfg.max_round_duration + cfg.challenge_window
    assert a.coordinator_info().bond == 200 * TOKEN
    assert a.pool_info().reward_pool == 10_000 * TOKEN


def test_stake_top_up_unbond_withdraw(env: Env) -> None:
    p = env.participants[0]
    p.top_up(5 * TOKEN)
    assert p.stake_of().active == STAKE + 5 * TOKEN
    p.request_unbond(5 * TOKEN)
    info = p.stake_of()
    assert (info.active, info.unbonding) == (STAKE, 5 * TOKEN)
    with pytest.raises(p.errors.UnbondingNotReleased) as exc:
        p.withdraw()
    assert exc.value.releaseAt == info.unbond_release_at
    assert "wait until releaseAt" in str(exc.value)
    before = p.token_balance()
    p.advance_time(p.staking_params().unbonding_delay + 1)
    result = p.withdraw()
    assert result.value == 5 * TOKEN
    assert p.token_balance() == before + 5 * TOKEN
    kinds = [e.kind for e in p.stake_events(staker=p.address)]
    assert kinds == ["staked", "staked", "unbond_requested", "withdrawn"]


def test_full_round_with_slash_settle_and_claims(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:4])
    assert a.get_round(rid).status == RoundStatus.OPEN
    tree = a.participants_tree(rid, [p.address for p in ps[:4]])
    commitments = [
        Commitment(rid, p.address, GLOBAL_MODEL, update_of(i), 50) for i, p in enumerate(ps[:4])
    ]
    sigs = [p.sign_commitment(c) for p, c in zip(ps[:4], commitments, strict=True)]
    slash = a.slash_evidence(
        commitments[3], sigs[3], reason=SlashReason.SYBIL, slash_bps=2_000, participants=tree
    )
    results = RoundResults.build(
        rid,
        [
            RewardEntry(p.address, update_of(i), 300_000, (10 + i) * TOKEN)
            for i, p in enumerate(ps[:3])
        ],
    )
    fin = a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results, slashes=[slash])
    assert not fin.already_applied
    info = a.get_round(rid)
    assert info.status == RoundStatus.FINALIZED
    assert info.results_root == results.root and info.total_rewards == results.total_rewards
    assert a.get_slash(rid, ps[3].address).state == SlashState.LOCKED
    # idempotence: the same finalize again is detected, not applied twice
    assert a.finalize_round(
        rid, aggregate_hash=AGGREGATE, results=results, slashes=[slash]
    ).already_applied
    with pytest.raises(a.errors.ChallengeWindowOpen):
        a.settle_round(rid)
    a.advance_time(a.round_config().challenge_window + 1)
    assert not a.settle_round(rid).already_applied
    assert a.settle_round(rid).already_applied
    for i, p in enumerate(ps[:3]):
        before = p.token_balance()
        assert p.claim(rid, results).value == (10 + i) * TOKEN
        assert p.token_balance() == before + (10 + i) * TOKEN
        assert p.claim(rid, results).already_applied  # never paid twice
    assert a.stake_of(ps[3].address).active == STAKE - STAKE // 5
    claims = a.claim_events(round_id=rid)
    assert [c.participant for c in claims] == [p.address for p in ps[:3]]
    slashes = a.slash_events(round_id=rid)
    assert len(slashes) == 1 and slashes[0].reason == SlashReason.SYBIL
    kinds = [e.kind for e in a.round_events() if e.round_id == rid]
    assert kinds == ["opened", "finalized", "settled"]


def test_anyone_may_claim_for_a_participant(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    results = RoundResults.build(rid, [RewardEntry(ps[0].address, update_of(0), 1, 7 * TOKEN)])
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    a.advance_time(a.round_config().challenge_window + 1)
    a.settle_round(rid)
    before = ps[0].token_balance()
    ps[1].claim(rid, results, participant=ps[0].address)
    assert ps[0].token_balance() == before + 7 * TOKEN


def test_slash_disputes_upheld_and_rejected_and_result_dispute(env: Env) -> None:
    a, ps = env.admin, env.participants
    members = ps[:4]
    rid = open_round(env, members)
    tree = a.participants_tree(rid, [p.address for p in members])
    evidence = []
    for i in (1, 2, 3):
        c = Commitment(rid, members[i].address, GLOBAL_MODEL, update_of(i), 10)
        evidence.append(
            a.slash_evidence(
                c,
                members[i].sign_commitment(c),
                reason=SlashReason.BYZANTINE,
                slash_bps=1_000,
                participants=tree,
            )
        )
    evidence.sort(key=lambda e: int(e.participant, 16), reverse=True)  # the ledger re-sorts
    results = RoundResults.build(rid, [RewardEntry(ps[0].address, update_of(0), 1, TOKEN)])
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results, slashes=evidence)
    for p in members[1:]:
        assert a.get_slash(rid, p.address) == SlashRecord(STAKE // 10, 3, SlashState.LOCKED)
    assert a.get_slash(rid, ps[0].address).state == SlashState.NONE
    deposit = a.round_config().min_dispute_deposit
    upheld = members[1].dispute_slash(rid, deposit).value
    rejected = members[2].dispute_slash(rid, deposit).value
    on_result = ps[0].dispute_result(rid, deposit).value
    assert a.get_dispute(upheld).status == DisputeStatus.OPEN
    assert a.get_slash(rid, members[1].address).state == SlashState.DISPUTED
    with pytest.raises(a.errors.SlashNotDisputable, match="already disputed"):
        members[1].dispute_slash(rid, deposit)
    a.advance_time(a.round_config().challenge_window + 1)
    with pytest.raises(a.errors.DisputesPending):
        a.settle_round(rid)
    a.resolve_dispute(upheld, uphold=True, compensation=TOKEN)
    assert a.resolve_dispute(upheld, uphold=True).already_applied
    a.resolve_dispute(rejected, uphold=False)
    a.resolve_dispute(on_result, uphold=False)
    assert a.get_dispute(upheld).status == DisputeStatus.UPHELD
    assert a.get_dispute(rejected).status == DisputeStatus.REJECTED
    assert a.get_slash(rid, members[1].address).state == SlashState.REVERTED
    assert a.get_slash(rid, members[2].address).state == SlashState.CONFIRMED
    a.settle_round(rid)
    assert a.stake_of(members[1].address).active == STAKE
    assert a.stake_of(members[2].address).slashable == STAKE - STAKE // 10
    assert a.stake_of(members[3].address).slashable == STAKE - STAKE // 10


def test_expire_round_returns_budget(env: Env) -> None:
    a = env.admin
    pool = a.pool_info().reward_pool
    rid = open_round(env, env.participants[:2], budget=50 * TOKEN)
    assert a.pool_info().reward_pool == pool - 50 * TOKEN
    with pytest.raises(a.errors.FinalizeDeadlineNotPassed):
        a.expire_round(rid)
    a.advance_time(a.round_config().max_round_duration + 1)
    a.expire_round(rid)
    assert a.get_round(rid).status == RoundStatus.EXPIRED
    assert a.expire_round(rid).already_applied
    assert a.pool_info().reward_pool == pool


def test_provenance_record_and_lineage(env: Env) -> None:
    a = env.admin
    v1 = a.record_version(VersionInput(b"\x01" * 32, "ipfs://v1")).value
    v2 = a.record_version(
        VersionInput(b"\x02" * 32, "ipfs://v2", parent_version=v1, round_id=0)
    ).value
    v3 = a.record_version(VersionInput(b"\x03" * 32, "ipfs://v3", parent_version=v2)).value
    chain = a.lineage(v3)
    assert [v.version_id for v in chain] == [v3, v2, v1]
    assert chain[0].weights_uri == "ipfs://v3" and chain[0].authorizer == a.address
    assert a.version_of_weights(b"\x02" * 32) == v2
    with pytest.raises(a.errors.WeightsAlreadyRecorded):
        a.record_version(VersionInput(b"\x01" * 32, "ipfs://dup"))
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount) as exc:
        env.participants[0].record_version(VersionInput(b"\x09" * 32, "x"))
    assert "grant_role" in str(exc.value)


def test_pause_blocks_new_stakes_and_rounds(env: Env) -> None:
    a, p = env.admin, env.participants[0]
    a.pause()
    assert a.paused() and a.paused("StakeManager")
    with pytest.raises(a.errors.EnforcedPause) as exc:
        p.top_up(TOKEN)
    assert "unpause" in str(exc.value)
    with pytest.raises(a.errors.EnforcedPause):
        open_round(env, env.participants[:2])
    a.unpause()
    p.top_up(TOKEN)


def test_upgrade_keeps_state(env: Env) -> None:
    a, p = env.admin, env.participants[0]
    rid = open_round(env, env.participants[:2])
    old = a.implementation("RoundManager")
    new = a.upgrade("RoundManager", "RoundManager").value
    assert new != old and a.implementation("RoundManager") == new
    assert a.get_round(rid).status == RoundStatus.OPEN
    assert a.stake_of(p.address).active == STAKE
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount):
        p.upgrade("StakeManager", "StakeManager")


def test_bond_withdraw_locked_while_rounds_open(env: Env) -> None:
    a = env.admin
    rid = open_round(env, env.participants[:2])
    with pytest.raises(a.errors.BondLocked):
        a.withdraw_bond(TOKEN)
    a.advance_time(a.round_config().max_round_duration + 1)
    a.expire_round(rid)
    before = a.coordinator_info().bond
    a.withdraw_bond(TOKEN)
    assert a.coordinator_info().bond == before - TOKEN


def test_event_pages_split_ranges(env: Env) -> None:
    a = env.admin
    for p in env.participants[:3]:
        p.top_up(TOKEN)
    all_events = a.stake_events()
    paged = a.stake_events(page=1)
    assert paged == all_events
    assert sum(e.kind == "staked" for e in all_events) == len(env.participants) + 3


def test_node_binding_checked_against_stake(env: Env) -> None:
    from federation.keys import generate
    from federation.protocol import NodeBinding

    a, p = env.admin, env.participants[0]
    expiry = a.now() + 600
    sig = p.sign_node_binding(42, b"\x09" * 32, expiry)
    assert a.verify_node(NodeBinding(p.address, 42, b"\x09" * 32, expiry), sig)
    assert not a.verify_node(NodeBinding(p.address, 43, b"\x09" * 32, expiry), sig)
    stranger = a.as_signer(generate())
    sig2 = stranger.sign_node_binding(7, b"\x09" * 32, expiry)
    assert not a.verify_node(NodeBinding(stranger.address, 7, b"\x09" * 32, expiry), sig2)
    before = a.now()
    a.advance_time(601)
    assert a.now() >= before + 601
    assert not a.verify_node(NodeBinding(p.address, 42, b"\x09" * 32, expiry), sig)
