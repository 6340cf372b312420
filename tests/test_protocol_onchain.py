"""Property tests against the deployed contracts: what Python builds, the contracts accept.

Random participant sets and rewards → sum-tree and selection proofs built in Python pay out
through ``claim``, and leaves adding up to more than the declared total pay nobody;
random commitments → the contract's digest equals ours and signatures verify on-chain;
a signature for another round, chain or contract is rejected at finalize.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.keys import generate
from federation.protocol import Commitment, Domain, SlashReason, sign_commitment
from federation.protocol.eip712 import commitment_digest
from federation.protocol.slash_reasons import is_provable
from federation.types import RewardEntry, RoundResults
from tests.conftest import AGGREGATE, GLOBAL_MODEL, TOKEN, Env, open_round, reverting, update_of

CHAIN_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

bytes32 = st.binary(min_size=32, max_size=32)


@CHAIN_SETTINGS
@given(
    round_id=st.integers(0, 2**256 - 1),
    update=bytes32,
    model=bytes32,
    num_examples=st.integers(0, 2**64 - 1),
)
def test_commitment_digest_and_signature_verify_onchain(
    deployed: Env, round_id: int, update: bytes, model: bytes, num_examples: int
) -> None:
    a = deployed.admin
    p = deployed.participants[0]
    c = Commitment(round_id, p.address, model, update, num_examples)
    assert a.commitment_digest_onchain(c) == commitment_digest(a.domain, c)
    sig = p.sign_commitment(c)
    assert a.verify_commitment_onchain(c, sig)
    assert not a.verify_commitment_onchain(
        dataclasses.replace(c, num_examples=num_examples ^ 1), sig
    )
    other_chain = sign_commitment(
        Domain(a.domain.chain_id + 1, a.domain.verifying_contract), c, p.signer.key
    )
    other_contract = sign_commitment(
        Domain(a.domain.chain_id, a.stake_manager.address), c, p.signer.key
    )
    assert not a.verify_commitment_onchain(c, other_chain)
    assert not a.verify_commitment_onchain(c, other_contract)


@CHAIN_SETTINGS
@given(
    rewards=st.lists(st.integers(1, 50 * TOKEN), min_size=1, max_size=24),
    scores=st.lists(st.integers(0, 1_000_000), min_size=24, max_size=24),
    picks=st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True),
)
def test_random_results_trees_pay_out_onchain(
    deployed: Env, rewards: list[int], scores: list[int], picks: list[int]
) -> None:
    with reverting(deployed.chain):
        a = deployed.admin
        payees = [generate().address for _ in rewards]
        rid = int(
            a.open_round(payees, reward_budget=sum(rewards), global_model_hash=GLOBAL_MODEL).value
        )
        entries = [
            RewardEntry(addr, update_of(i), scores[i], r)
            for i, (addr, r) in enumerate(zip(payees, rewards, strict=True))
        ]
        results = RoundResults.build(rid, entries)
        assert results.tree.total == sum(rewards) == results.total_rewards
        a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
        a.advance_time(a.round_config().challenge_window + 1)
        a.settle_round(rid)
        for i in {i % len(entries) for i in picks}:
            res = deployed.participants[0].claim(rid, results, participant=payees[i])
            assert not res.already_applied
            assert a.token_balance(payees[i]) == rewards[i]
            assert a.is_claimed(rid, payees[i])


@CHAIN_SETTINGS
@given(
    rewards=st.lists(st.integers(1, 50 * TOKEN), min_size=2, max_size=9),
    short=st.integers(1, 10**6),
)
def test_leaves_adding_up_to_more_than_the_total_pay_nobody(
    deployed: Env, rewards: list[int], short: int
) -> None:
    """A results root whose leaves sum to more than the declared total reaches no claim: the
    sum tree checks Σ on every path, so nobody can be paid at a later claimer's expense."""
    with reverting(deployed.chain):
        a = deployed.admin
        payees = [generate().address for _ in rewards]
        rid = int(
            a.open_round(payees, reward_budget=sum(rewards), global_model_hash=GLOBAL_MODEL).value
        )
        results = RoundResults.build(
            rid,
            [
                RewardEntry(p, update_of(i), 1, r)
                for i, (p, r) in enumerate(zip(payees, rewards, strict=True))
            ],
        )
        declared = max(0, results.total_rewards - short)
        a.finalize_round(
            rid, aggregate_hash=AGGREGATE, results_root=results.root, total_rewards=declared
        )
        a.advance_time(a.round_config().challenge_window + 1)
        a.settle_round(rid)
        for p in payees:
            with pytest.raises(a.errors.InvalidRewardProof):
                deployed.participants[0].claim(rid, results, participant=p)


JUDGED = [r for r in SlashReason if not is_provable(r)]


@CHAIN_SETTINGS
@given(
    others=st.integers(0, 60),
    position=st.integers(0, 60),
    bps=st.integers(1, 5_000),
    update=bytes32,
    num_examples=st.integers(0, 2**64 - 1),
    reason=st.sampled_from([*JUDGED, SlashReason.NULL_UPDATE]),
)
def test_random_participant_sets_prove_selection_onchain(
    deployed: Env,
    others: int,
    position: int,
    bps: int,
    update: bytes,
    num_examples: int,
    reason: SlashReason,
) -> None:
    """Random signed commitments and selection proofs verify in finalizeRound (the slash
    path), for judged slashes and a provable one (null update: its proof is empty)."""
    with reverting(deployed.chain):
        a, target = deployed.admin, deployed.participants[1]
        if is_provable(reason):
            update, bps = GLOBAL_MODEL, a.round_config().provable_slash_bps
        members = [generate().address for _ in range(others)]
        members.insert(position % (others + 1), target.address)
        rid = a.next_round_id()
        tree = a.participants_tree(rid, members)
        rid = a.open_round(members, reward_budget=TOKEN, global_model_hash=GLOBAL_MODEL).value
        c = Commitment(rid, target.address, GLOBAL_MODEL, update, num_examples)
        ev = a.slash_evidence(
            c,
            target.sign_commitment(c),
            reason=reason,
            slash_bps=bps,
            participants=tree,
        )
        before = a.stake_of(target.address).slashable
        a.finalize_round(
            rid, aggregate_hash=AGGREGATE, results_root=b"\x00" * 32, total_rewards=0, slashes=[ev]
        )
        record = a.get_slash(rid, target.address)
        assert record.amount == before * bps // 10_000 and record.reason == reason
        (event,) = a.slash_events(round_id=rid)
        assert event.update_hash == update and event.participant == target.address


@pytest.mark.parametrize(
    "forgery", ["other-round", "other-chain", "other-contract", "other-signer", "not-selected"]
)
def test_forged_slash_evidence_rejected_at_finalize(env: Env, forgery: str) -> None:
    a, ps = env.admin, env.participants
    target = ps[1]
    rid = open_round(env, ps[:3])
    tree = a.participants_tree(rid, [p.address for p in ps[:3]])
    c = Commitment(rid, target.address, GLOBAL_MODEL, update_of(1), 5)
    key = target.signer.key
    domain = a.domain
    if forgery == "other-round":
        sig = sign_commitment(domain, dataclasses.replace(c, round_id=rid + 1), key)
    elif forgery == "other-chain":
        sig = sign_commitment(Domain(domain.chain_id + 1, domain.verifying_contract), c, key)
    elif forgery == "other-contract":
        sig = sign_commitment(Domain(domain.chain_id, a.stake_manager.address), c, key)
    else:
        sig = sign_commitment(domain, c, ps[0].signer.key if forgery == "other-signer" else key)
    if forgery == "not-selected":
        outsider_tree = a.participants_tree(rid, [p.address for p in ps[1:5]])
        ev = a.slash_evidence(
            c, sig, reason=SlashReason.BYZANTINE, slash_bps=100, participants=outsider_tree
        )
        expected = a.errors.NotSelected
    else:
        ev = a.slash_evidence(
            c, sig, reason=SlashReason.BYZANTINE, slash_bps=100, participants=tree
        )
        expected = a.errors.InvalidCommitmentSignature
    with pytest.raises(expected) as exc:
        a.finalize_round(
            rid, aggregate_hash=AGGREGATE, results_root=b"\x00" * 32, total_rewards=0, slashes=[ev]
        )
    assert exc.value.participant == target.address
