"""Disputes with deadlines and default outcomes, cancellation, provable faults, jailing and
slashes returned where they were taken from, through the Ledger on every backend."""

from __future__ import annotations

import pytest

from federation.errors import PreconditionError
from federation.ledger import Ledger
from federation.protocol import Commitment, SlashReason
from federation.types import (
    DisputeStatus,
    JailPolicy,
    RewardEntry,
    RoundResults,
    RoundStatus,
    SlashState,
    UnbondRequest,
)
from tests.conftest import AGGREGATE, GLOBAL_MODEL, STAKE, TOKEN, Env, open_round, update_of


def evidence(
    env: Env,
    rid: int,
    members: list[Ledger],
    i: int,
    reason: int,
    bps: int,
    *,
    update: bytes | None = None,
    fault_proof: bytes = b"",
):
    tree = env.admin.participants_tree(rid, [p.address for p in members])
    c = Commitment(rid, members[i].address, GLOBAL_MODEL, update or update_of(i), 10)
    return env.admin.slash_evidence(
        c,
        members[i].sign_commitment(c),
        reason=reason,
        slash_bps=bps,
        participants=tree,
        fault_proof=fault_proof,
    )


def finalize(env: Env, rid: int, members: list[Ledger], slashes=()) -> RoundResults:
    results = RoundResults.build(
        rid,
        [RewardEntry(m.address, update_of(i), 1, TOKEN) for i, m in enumerate(members)],
    )
    env.admin.finalize_round(rid, aggregate_hash=AGGREGATE, results=results, slashes=slashes)
    return results


def test_an_undecided_slash_dispute_reverts_the_slash_and_pays_from_the_bond(env: Env) -> None:
    a, ps = env.admin, env.participants
    members = ps[:3]
    rid = open_round(env, members)
    finalize(env, rid, members, [evidence(env, rid, members, 1, SlashReason.BYZANTINE, 2_000)])
    victim = members[1]
    amount = STAKE // 5
    deposit = a.round_config().min_dispute_deposit
    did = victim.dispute_slash(rid, deposit).value
    info = a.get_round(rid)
    with pytest.raises(PreconditionError, match=f"dispute deadline {info.dispute_deadline}"):
        victim.timeout_dispute(did)
    a.advance_time(a.round_config().challenge_window + 1)
    with pytest.raises(a.errors.DisputesPending):
        a.settle_round(rid)  # an open slash dispute blocks settlement until decided or timed out
    a.advance_time(a.round_config().dispute_window + 1)
    with pytest.raises(a.errors.DisputeDeadlinePassed):
        env.judge.resolve_dispute(did, uphold=False)
    assert a.get_dispute(did).timeout_due(a.now())
    wallet = victim.token_balance()
    bond = a.coordinator_info().bond
    res = ps[5].timeout_dispute(did)  # anyone may apply the default
    assert res.value == DisputeStatus.TIMED_OUT
    compensation = amount * a.round_config().timeout_compensation_bps // 10_000
    assert victim.token_balance() == wallet + deposit + compensation
    assert a.coordinator_info().bond == bond - compensation
    assert a.get_slash(rid, victim.address).state == SlashState.REVERTED
    assert a.stake_of(victim.address).active == STAKE
    assert ps[5].timeout_dispute(did).already_applied
    a.settle_round(rid)
    assert a.get_round(rid).slashed_total == 0


def test_an_undecided_result_dispute_lets_the_result_stand(env: Env) -> None:
    a, ps = env.admin, env.participants
    members = ps[:2]
    rid = open_round(env, members)
    results = finalize(env, rid, members)
    deposit = a.round_config().min_dispute_deposit
    did = ps[4].dispute_result(rid, deposit).value
    a.advance_time(a.round_config().challenge_window + 1)
    blocker = a.get_round(rid).settle_blocker(a.now())
    assert blocker is not None and "result dispute" in blocker
    with pytest.raises(a.errors.DisputesPending):
        a.settle_round(rid)
    a.advance_time(a.round_config().dispute_window + 1)
    a.settle_round(rid)  # the dispute deadline passed: an open result dispute no longer blocks
    wallet = ps[4].token_balance()
    assert ps[4].timeout_dispute(did).value == DisputeStatus.TIMED_OUT  # also after settle
    assert ps[4].token_balance() == wallet + deposit
    assert not a.get_round(rid).result_voided
    assert members[0].claim(rid, results).value == TOKEN


def test_cancel_an_open_round_returns_its_budget(env: Env) -> None:
    a, ps = env.admin, env.participants
    pool = a.pool_info().reward_pool
    rid = open_round(env, ps[:2], budget=40 * TOKEN)
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount):
        ps[0].cancel_round(rid)
    res = a.cancel_round(rid)
    assert res.value == 40 * TOKEN
    assert a.get_round(rid).status == RoundStatus.CANCELLED
    assert a.pool_info().reward_pool == pool
    assert a.coordinator_info().open_rounds == 0 and a.active_rounds() == 0
    assert a.cancel_round(rid).already_applied
    assert [e.kind for e in a.round_events() if e.round_id == rid] == ["opened", "cancelled"]


def test_cancel_a_finalized_round_returns_slashes_and_refunds_disputes(env: Env) -> None:
    a, ps = env.admin, env.participants
    members = ps[:3]
    rid = open_round(env, members)
    finalize(
        env,
        rid,
        members,
        [
            evidence(env, rid, members, 1, SlashReason.SYBIL, 1_000),
            evidence(env, rid, members, 2, SlashReason.FREE_RIDER, 500),
        ],
    )
    deposit = a.round_config().min_dispute_deposit
    did = members[1].dispute_slash(rid, deposit).value
    assert a.stake_of(members[2].address).active == STAKE - STAKE // 20
    a.cancel_round(rid)
    for m in members[1:]:
        assert a.stake_of(m.address).active == STAKE
        assert a.get_slash(rid, m.address).state == SlashState.REVERTED
    d = a.get_dispute(did)
    assert d.round_cancelled and d.timeout_due(a.now()) and "refunded" in d.default_outcome
    wallet = members[1].token_balance()
    assert members[1].timeout_dispute(did).value == DisputeStatus.REFUNDED
    assert members[1].token_balance() == wallet + deposit
    assert a.staking_params().total_locked == 0


def test_a_provable_null_update_is_checked_on_chain_jails_and_cannot_be_disputed(
    env: Env,
) -> None:
    a, ps = env.admin, env.participants
    cfg, jail = a.round_config(), a.jail_policy()
    members = ps[:3]
    rid = open_round(env, members)
    null = evidence(
        env, rid, members, 2, SlashReason.NULL_UPDATE, cfg.provable_slash_bps, update=GLOBAL_MODEL
    )
    assert null.provable
    with pytest.raises(a.errors.InvalidSlashBps):
        wrong = evidence(env, rid, members, 2, SlashReason.NULL_UPDATE, 1, update=GLOBAL_MODEL)
        finalize(env, rid, members, [wrong])
    with pytest.raises(a.errors.NoFault):  # an honest update is no null update
        honest = evidence(env, rid, members, 1, SlashReason.NULL_UPDATE, cfg.provable_slash_bps)
        finalize(env, rid, members, [honest])
    with pytest.raises(a.errors.UnexpectedFaultProof):
        proofed = evidence(env, rid, members, 1, SlashReason.BYZANTINE, 100, fault_proof=b"\x01")
        finalize(env, rid, members, [proofed])
    finalize(env, rid, members, [null])
    target = members[2]
    info = a.stake_of(target.address)
    assert info.active == STAKE - STAKE * cfg.provable_slash_bps // 10_000
    assert (info.jailed_from_round, info.jailed_until_round) == (rid, rid + jail.jail_rounds)
    assert info.strikes == 0 and info.eligible_from_round() == rid + jail.jail_rounds + 1
    assert not a.is_eligible(target.address)
    assert not a.is_eligible(target.address, rid + jail.jail_rounds)
    assert a.is_eligible(target.address, rid + jail.jail_rounds + 1)
    assert a.eligibility([target.address, members[0].address]) == {
        target.address: False,
        members[0].address: True,
    }
    assert a.get_slash(rid, target.address).provable
    with pytest.raises(a.errors.ProvenSlash, match="cannot be disputed"):
        target.dispute_slash(rid, cfg.min_dispute_deposit)


def test_k_judged_slashes_jail_and_an_upheld_one_takes_its_strike_back(env: Env) -> None:
    a, ps = env.admin, env.participants
    a.set_jail_policy(JailPolicy(2, 3))
    assert a.jail_policy() == JailPolicy(2, 3)
    members = ps[:2]
    target = members[1]
    rounds = []
    for _ in range(2):
        rid = open_round(env, members)
        finalize(env, rid, members, [evidence(env, rid, members, 1, SlashReason.BYZANTINE, 100)])
        rounds.append(rid)
    info = a.stake_of(target.address)
    assert info.strikes == 0  # reset when jailed
    assert (info.jailed_from_round, info.jailed_until_round) == (rounds[1], rounds[1] + 3)
    # the jailing slash is disputed and upheld: the jail is lifted
    target.dispute_slash(rounds[1], a.round_config().min_dispute_deposit)
    (d,) = a.list_disputes(rounds[1])
    env.judge.resolve_dispute(d.dispute_id, uphold=True)
    assert a.stake_of(target.address).jailed_until_round == 0
    assert a.is_eligible(target.address)


def test_a_slash_taken_from_unbonding_returns_to_unbonding_with_its_release_time(
    env: Env,
) -> None:
    a, ps = env.admin, env.participants
    members = ps[:2]
    rid = open_round(env, members)
    victim = members[1]
    release_at = victim.request_unbond(STAKE).value  # everything unbonding, still slashable
    finalize(env, rid, members, [evidence(env, rid, members, 1, SlashReason.SYBIL, 1_000)])
    record = a.get_slash(rid, victim.address)
    assert (record.amount, record.from_unbonding, record.release_at) == (
        STAKE // 10,
        STAKE // 10,
        release_at,
    )
    assert victim.stake_of().unbonding == STAKE - STAKE // 10
    did = victim.dispute_slash(rid, a.round_config().min_dispute_deposit).value
    assert a.get_dispute(did).from_unbonding == STAKE // 10
    env.judge.resolve_dispute(did, uphold=True)
    info = victim.stake_of()
    assert info.active == 0 and info.unbonding == STAKE
    assert UnbondRequest(STAKE // 10, release_at) in (info.requests or ())


def test_two_coordinators_racing_for_a_round_id_open_nothing_wrong(env: Env) -> None:
    a, ps = env.admin, env.participants
    stale = a.next_round_id()
    tree = a.participants_tree(stale, [p.address for p in ps[:2]])
    open_round(env, ps[2:4])  # the other coordinator's round takes the id
    from federation.types import RoundParams

    with pytest.raises(a.errors.UnexpectedRoundId, match="open the round again") as exc:
        a.open_round(
            params=RoundParams(GLOBAL_MODEL, b"\x00" * 32, tree.root),
            participant_count=2,
            reward_budget=TOKEN,
            global_model_hash=GLOBAL_MODEL,
            expected_round_id=stale,
        )
    assert exc.value.expected == stale and exc.value.next == stale + 1
    rid = open_round(env, ps[:2])  # without params the tree is built for the right id
    assert rid == stale + 1
    assert (
        a.round_params(rid).participants_root
        == a.participants_tree(rid, [p.address for p in ps[:2]]).root
    )


def test_budgets_are_bounded_by_the_coordinators_bond(env: Env) -> None:
    a = env.admin
    cap = a.round_config().max_budget(a.coordinator_info().bond)
    open_round(env, env.participants[:2], budget=cap - TOKEN)
    with pytest.raises(a.errors.BudgetExceedsBond, match="bond") as exc:
        open_round(env, env.participants[:2], budget=2 * TOKEN)
    assert exc.value.maxBudget == TOKEN
