"""The Ledger facade end to end, on every backend: deploy, stake, rounds, claims, history."""

from __future__ import annotations

import pytest

from federation.deploy import abi_version
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
    UnbondRequest,
)
from tests.conftest import AGGREGATE, GLOBAL_MODEL, STAKE, TOKEN, Env, open_round, update_of


def judged(env: Env, rid: int, members: list[Ledger], i: int, reason: int, bps: int):
    """Judged-slash evidence for ``members[i]`` (its own signed commitment)."""
    tree = env.admin.participants_tree(rid, [p.address for p in members])
    c = Commitment(rid, members[i].address, GLOBAL_MODEL, update_of(i), 10)
    return env.admin.slash_evidence(
        c, members[i].sign_commitment(c), reason=reason, slash_bps=bps, participants=tree
    )


def test_deploy_writes_a_deployment_file_that_reopens(env: Env, tmp_path) -> None:
    d = env.admin.deployment
    assert d.chain_id == env.chain.chain_id
    assert set(d.contracts) == {
        "StakeManager",
        "RoundManager",
        "ProvenanceRegistry",
        "FaultVerifier",
        "TimelockController",
    }
    assert d.abi_version == abi_version()
    assert d.local_token
    assert d.governance["accept_admin_ready_at"] > env.admin.now()
    path = d.save(tmp_path / "deployment.json")
    reopened = Ledger.open(env.chain, path, env.participants[0].signer)
    assert reopened.deployment == d
    info = reopened.stake_of()
    assert (info.active, info.unbonding, info.strikes, info.requests) == (STAKE, 0, 0, ())
    assert Deployment.load(path).token == d.token
    assert reopened.fault_verifier_address() == d.contracts["FaultVerifier"]


def test_roles_and_parameters(env: Env) -> None:
    a = env.admin
    for role in ("admin", "coordinator", "pauser"):
        assert a.has_role(role)
    assert not a.has_role("arbiter")
    assert a.has_role("arbiter", env.judge.address)
    assert not a.has_role("coordinator", env.participants[0].address)
    params = a.staking_params()
    assert params.total_staked == STAKE * len(env.participants)
    cfg = a.round_config()
    assert params.unbonding_delay > cfg.min_unbonding_delay
    assert cfg.treasury == env.treasury.address  # type: ignore[union-attr]
    assert cfg.max_slash_bps == cfg.max_judged_slash_bps
    assert a.coordinator_info().bond == 200 * TOKEN
    assert a.pool_info().reward_pool == 10_000 * TOKEN
    assert a.jail_policy().strikes_to_jail == 3


def test_stake_top_up_unbond_withdraw_each_request_has_its_own_timer(env: Env) -> None:
    p = env.participants[0]
    delay = p.staking_params().unbonding_delay
    p.top_up(5 * TOKEN)
    assert p.stake_of().active == STAKE + 5 * TOKEN
    first_at = p.request_unbond(5 * TOKEN).value
    p.advance_time(600)
    second_at = p.request_unbond(3 * TOKEN).value
    info = p.stake_of()
    assert (info.active, info.unbonding) == (STAKE - 3 * TOKEN, 8 * TOKEN)
    assert info.requests == (
        UnbondRequest(5 * TOKEN, first_at),
        UnbondRequest(3 * TOKEN, second_at),
    )
    assert second_at > first_at  # a later request does not reset the earlier one's timer
    assert info.next_release_at == first_at and info.unbond_release_at == second_at
    with pytest.raises(p.errors.NothingToWithdraw) as exc:
        p.withdraw()
    assert exc.value.releaseAt == first_at
    assert "fedstake status" in str(exc.value)
    before = p.token_balance()
    p.advance_time(delay - 600 + 1)
    assert p.withdrawable() == 5 * TOKEN
    assert p.withdraw().value == 5 * TOKEN  # only the released request
    assert p.stake_of().requests == (UnbondRequest(3 * TOKEN, second_at),)
    p.advance_time(600)
    assert p.withdraw().value == 3 * TOKEN
    assert p.token_balance() == before + 8 * TOKEN
    kinds = [e.kind for e in p.stake_events(staker=p.address)]
    assert kinds == [
        "staked",
        "staked",
        "unbond_requested",
        "unbond_requested",
        "withdrawn",
        "withdrawn",
    ]
    assert [e.release_at for e in p.stake_events(staker=p.address) if e.release_at] == [
        first_at,
        second_at,
    ]


def test_full_round_with_slash_settle_claims_and_treasury(env: Env) -> None:
    a, ps = env.admin, env.participants
    members = ps[:4]
    rid = open_round(env, members)
    assert a.get_round(rid).status == RoundStatus.OPEN
    slash = judged(env, rid, members, 3, SlashReason.SYBIL, 2_000)
    results = RoundResults.build(
        rid,
        [
            RewardEntry(p.address, update_of(i), 300_000, (10 + i) * TOKEN)
            for i, p in enumerate(ps[:3])
        ],
        [p.address for p in members],
    )
    fin = a.finalize_round(
        rid,
        aggregate_hash=AGGREGATE,
        results=results,
        slashes=[slash],
        decision_hash=b"\x33" * 32,
        artifacts_uri="file:///tmp/store",
    )
    assert not fin.already_applied
    info = a.get_round(rid)
    assert info.status == RoundStatus.FINALIZED
    assert info.results_root == results.root and info.total_rewards == results.total_rewards
    assert info.dispute_deadline == info.challenge_deadline + a.round_config().dispute_window
    committed = a.finalization(rid)
    assert committed is not None
    assert (
        committed.decision_hash == b"\x33" * 32 and committed.artifacts_uri == "file:///tmp/store"
    )
    assert a.get_slash(rid, ps[3].address).state == SlashState.LOCKED
    # idempotence: the same finalize again is detected, not applied twice
    assert a.finalize_round(
        rid, aggregate_hash=AGGREGATE, results=results, slashes=[slash]
    ).already_applied
    with pytest.raises(a.errors.ChallengeWindowOpen):
        a.settle_round(rid)
    a.advance_time(a.round_config().challenge_window + 1)
    assert a.get_round(rid).settle_blocker(a.now()) is None
    assert not a.settle_round(rid).already_applied
    assert a.settle_round(rid).already_applied
    for i, p in enumerate(ps[:3]):
        before = p.token_balance()
        assert p.claim(rid, results).value == (10 + i) * TOKEN
        assert p.token_balance() == before + (10 + i) * TOKEN
        assert p.claim(rid, results).already_applied  # never paid twice
    assert a.get_round(rid).claimed == results.total_rewards
    assert a.stake_of(ps[3].address).active == STAKE - STAKE // 5
    assert a.stake_of(ps[3].address).strikes == 1
    claims = a.claim_events(round_id=rid)
    assert [c.participant for c in claims] == [p.address for p in ps[:3]]
    slashes = a.slash_events(round_id=rid)
    assert len(slashes) == 1 and slashes[0].reason == SlashReason.SYBIL and not slashes[0].provable
    kinds = [e.kind for e in a.round_events() if e.round_id == rid]
    assert kinds == ["opened", "finalized", "settled"]
    # the treasury pulls its share; nobody else can
    owed = a.treasury_owed()
    cfg = a.round_config()
    assert owed == STAKE // 5 - STAKE // 5 * cfg.slash_pool_bps // 10_000
    with pytest.raises(Exception, match="treasury claim"):
        a.claim_treasury()
    t = env.treasury
    assert t is not None
    before = t.token_balance()
    assert t.claim_treasury().value == owed
    assert t.token_balance() == before + owed
    assert t.claim_treasury().already_applied


def test_anyone_may_claim_for_a_participant(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    results = RoundResults.build(
        rid,
        [RewardEntry(ps[0].address, update_of(0), 1, 7 * TOKEN)],
        [ps[0].address, ps[1].address],
    )
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    a.advance_time(a.round_config().challenge_window + 1)
    a.settle_round(rid)
    before = ps[0].token_balance()
    ps[1].claim(rid, results, participant=ps[0].address)
    assert ps[0].token_balance() == before + 7 * TOKEN


def test_a_reward_leaf_pays_only_a_selected_participant(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    outsider = ps[4].address  # staked, but not selected for this round
    results = RoundResults.build(
        rid,
        [RewardEntry(outsider, update_of(4), 1, 5 * TOKEN)],
        [ps[0].address, ps[1].address, outsider],  # a participant list the round never had
    )
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    a.advance_time(a.round_config().challenge_window + 1)
    a.settle_round(rid)
    with pytest.raises(a.errors.NotSelected):
        ps[4].claim(rid, results)


def test_slash_disputes_upheld_and_rejected_and_result_dispute(env: Env) -> None:
    a, ps, arb = env.admin, env.participants, env.judge
    members = ps[:4]
    rid = open_round(env, members)
    evidence = [judged(env, rid, members, i, SlashReason.BYZANTINE, 1_000) for i in (1, 2, 3)]
    evidence.sort(key=lambda e: int(e.participant, 16), reverse=True)  # the ledger re-sorts
    results = RoundResults.build(
        rid, [RewardEntry(ps[0].address, update_of(0), 1, TOKEN)], [p.address for p in members]
    )
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results, slashes=evidence)
    for p in members[1:]:
        assert a.get_slash(rid, p.address) == SlashRecord(STAKE // 10, 3, SlashState.LOCKED)
    assert a.get_slash(rid, ps[0].address).state == SlashState.NONE
    deposit = a.round_config().min_dispute_deposit
    upheld = members[1].dispute_slash(rid, deposit).value
    rejected = members[2].dispute_slash(rid, deposit).value
    on_result = ps[0].dispute_result(rid, deposit).value
    d = a.get_dispute(upheld)
    assert d.status == DisputeStatus.OPEN and d.resolve_by == a.get_round(rid).dispute_deadline
    assert "compensation" in d.default_outcome
    assert "result stands" in a.get_dispute(on_result).default_outcome
    assert [x.dispute_id for x in a.list_disputes(rid)] == [upheld, rejected, on_result]
    assert a.get_slash(rid, members[1].address).state == SlashState.DISPUTED
    with pytest.raises(a.errors.SlashNotDisputable, match="already disputed"):
        members[1].dispute_slash(rid, deposit)
    a.advance_time(a.round_config().challenge_window + 1)
    with pytest.raises(a.errors.DisputesPending):
        a.settle_round(rid)
    a.grant_role("arbiter", a.address, ["RoundManager"])  # even holding the role,
    with pytest.raises(a.errors.ArbiterIsCoordinator, match="default outcome"):
        a.resolve_dispute(upheld, uphold=True)  # a round's coordinator cannot judge it
    arb.resolve_dispute(upheld, uphold=True, compensation=TOKEN)
    assert arb.resolve_dispute(upheld, uphold=True).already_applied
    arb.resolve_dispute(rejected, uphold=False)
    arb.resolve_dispute(on_result, uphold=False)
    assert a.get_dispute(upheld).status == DisputeStatus.UPHELD
    assert a.get_dispute(rejected).status == DisputeStatus.REJECTED
    assert a.list_disputes(rid, open_only=True) == []
    assert a.get_slash(rid, members[1].address).state == SlashState.REVERTED
    assert a.get_slash(rid, members[2].address).state == SlashState.CONFIRMED
    a.settle_round(rid)
    assert a.stake_of(members[1].address).active == STAKE
    assert a.stake_of(members[1].address).strikes == 0  # an upheld slash takes its strike back
    assert a.stake_of(members[2].address).slashable == STAKE - STAKE // 10
    assert a.stake_of(members[3].address).slashable == STAKE - STAKE // 10


def test_expire_round_returns_budget(env: Env) -> None:
    a = env.admin
    pool = a.pool_info().reward_pool
    rid = open_round(env, env.participants[:2], budget=50 * TOKEN)
    assert a.pool_info().reward_pool == pool - 50 * TOKEN
    assert a.coordinator_info().locked_budget == 50 * TOKEN
    with pytest.raises(a.errors.FinalizeDeadlineNotPassed):
        a.expire_round(rid)
    a.advance_time(a.round_config().max_round_duration + 1)
    a.expire_round(rid)
    assert a.get_round(rid).status == RoundStatus.EXPIRED
    assert a.expire_round(rid).already_applied
    assert a.pool_info().reward_pool == pool
    assert a.coordinator_info().locked_budget == 0


def test_provenance_records_only_the_coordinators_finalized_aggregate(env: Env) -> None:
    a, ps = env.admin, env.participants
    versions = []
    for i, agg in enumerate((b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)):
        rid = open_round(env, ps[:2])
        results = RoundResults.build(rid, [RewardEntry(ps[0].address, update_of(0), 1, 0)])
        with pytest.raises(a.errors.RoundNotFinalized):
            a.record_version(VersionInput(agg, f"ipfs://v{i}", round_id=rid))
        a.finalize_round(rid, aggregate_hash=agg, results=results)
        with pytest.raises(a.errors.NotRoundAggregate):
            a.record_version(VersionInput(b"\x09" * 32, "x", round_id=rid))
        parent = versions[-1] if versions else 0
        versions.append(
            a.record_version(
                VersionInput(agg, f"ipfs://v{i + 1}", parent_version=parent, round_id=rid)
            ).value
        )
    v1, v2, v3 = versions
    chain = a.lineage(v3)
    assert [v.version_id for v in chain] == [v3, v2, v1]
    assert chain[0].weights_uri == "ipfs://v3" and chain[0].authorizer == a.address
    assert a.version_of_weights(b"\x02" * 32) == v2
    assert a.version_count() == 3
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount) as exc:
        ps[0].record_version(VersionInput(b"\x09" * 32, "x", round_id=1))
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
