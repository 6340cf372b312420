"""Bad input gives a clear error that says what to do."""

from __future__ import annotations

import dataclasses
import json

import pytest

from federation.chain import connect
from federation.deployment import Deployment
from federation.errors import (
    ConfigError,
    DeploymentError,
    InsufficientAllowanceError,
    InsufficientBalanceError,
    KeyLoadError,
    NoCodeError,
    PreconditionError,
    RpcUnreachableError,
    WrongChainError,
)
from federation.keys import generate
from federation.ledger import Ledger
from federation.types import RewardEntry, RoundResults
from tests.conftest import AGGREGATE, TOKEN, Env, open_round, update_of


def test_wrong_chain_id_in_deployment_file(env: Env, tmp_path) -> None:
    bad = dataclasses.replace(env.admin.deployment, chain_id=env.chain.chain_id + 1)
    path = bad.save(tmp_path / "d.json")
    with pytest.raises(WrongChainError) as exc:
        Ledger.open(env.chain, path)
    msg = str(exc.value)
    assert f"chain id {env.chain.chain_id + 1}" in msg and str(path) in msg
    assert "fedstake deploy" in msg


def test_contract_not_deployed_at_address(env: Env, tmp_path) -> None:
    contracts = dict(env.admin.deployment.contracts, RoundManager="0x" + "ab" * 20)
    bad = dataclasses.replace(env.admin.deployment, contracts=contracts)
    with pytest.raises(NoCodeError) as exc:
        Ledger.open(env.chain, bad.save(tmp_path / "d.json"))
    assert "RoundManager" in str(exc.value) and "redeploy" in str(exc.value)


def test_deployment_from_another_abi_major_version(env: Env, tmp_path) -> None:
    bad = dataclasses.replace(env.admin.deployment, abi_version="99.0.0")
    with pytest.raises(DeploymentError, match="ships ABI"):
        Ledger.open(env.chain, bad.save(tmp_path / "d.json"))


def test_missing_and_malformed_deployment_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="fedstake deploy"):
        Deployment.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text(json.dumps({"chain_id": 1}))
    with pytest.raises(ConfigError, match="malformed deployment file"):
        Deployment.load(tmp_path / "bad.json")


def test_rpc_unreachable() -> None:
    with pytest.raises(RpcUnreachableError) as exc:
        connect("http://user:pw@127.0.0.1:9/v3/SECRETAPIKEY0123456789")
    assert "check the URL" in str(exc.value)
    assert "SECRETAPIKEY" not in str(exc.value) and "pw@" not in str(exc.value)


def test_unknown_chain_url() -> None:
    with pytest.raises(ConfigError, match="inprocess://"):
        connect("ftp://example.org")


def test_insufficient_token_balance(env: Env) -> None:
    stranger = env.admin.as_signer(generate())
    stranger.fund_eth(stranger.address)
    with pytest.raises(InsufficientBalanceError) as exc:
        stranger.stake(50 * TOKEN)
    assert exc.value.need == 50 * TOKEN and "faucet" in str(exc.value)


def test_insufficient_eth_for_gas(env: Env) -> None:
    broke = env.admin.as_signer(generate())
    env.admin.transfer_tokens(broke.address, 20 * TOKEN)
    with pytest.raises(InsufficientBalanceError, match="ETH for gas"):
        broke.stake(20 * TOKEN)


def test_insufficient_allowance_without_auto_approve(env: Env) -> None:
    p = env.participants[0]
    p.approve(p.stake_manager.address, 0)
    p.auto_approve = False
    try:
        with pytest.raises(InsufficientAllowanceError, match="approve"):
            p.top_up(TOKEN)
    finally:
        p.auto_approve = True


def test_not_staked(env: Env) -> None:
    stranger = env.admin.as_signer(generate())
    stranger.fund_eth(stranger.address)
    env.admin.transfer_tokens(stranger.address, 20 * TOKEN)
    with pytest.raises(stranger.errors.NotStaked) as exc:
        stranger.top_up(TOKEN)
    assert exc.value.staker == stranger.address
    assert "stake first" in str(exc.value)
    with pytest.raises(stranger.errors.BelowMinStake, match="at least the minimum"):
        stranger.stake(TOKEN)


def test_round_in_wrong_state(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    with pytest.raises(a.errors.InvalidRoundStatus) as exc:
        a.settle_round(rid)
    assert exc.value.roundId == rid and exc.value.status == 1
    assert "status" in str(exc.value)
    results = RoundResults.build(rid, [RewardEntry(ps[0].address, update_of(0), 1, TOKEN)])
    with pytest.raises(a.errors.InvalidRoundStatus):
        ps[0].claim(rid, results)
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    other = RoundResults.build(rid, [RewardEntry(ps[1].address, update_of(1), 1, TOKEN)])
    with pytest.raises(a.errors.InvalidRoundStatus, match="at most once"):
        a.finalize_round(rid, aggregate_hash=AGGREGATE, results=other)


def test_not_coordinator_and_no_bond(env: Env) -> None:
    p = env.participants[0]
    with pytest.raises(p.errors.AccessControlUnauthorizedAccount, match="grant_role"):
        open_round(Env(env.chain, p, env.participants, env.backend), env.participants[:2])
    env.admin.grant_role("coordinator", p.address, ["RoundManager"])
    with pytest.raises(p.errors.InsufficientBond, match="post a coordinator bond"):
        open_round(Env(env.chain, p, env.participants, env.backend), env.participants[:2])


def test_budget_above_pool(env: Env) -> None:
    a = env.admin
    pool = a.pool_info().reward_pool
    with pytest.raises(a.errors.BudgetExceedsBond, match="fedstake bond"):
        open_round(env, env.participants[:2], budget=pool + TOKEN)
    a.post_bond(pool // a.round_config().budget_bond_multiple)  # the bond allows it now
    with pytest.raises(a.errors.InsufficientRewardPool, match="fund the reward pool"):
        open_round(env, env.participants[:2], budget=pool + TOKEN)


def test_timing_out_a_dispute_too_early_names_the_deadline(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    results = RoundResults.build(rid, [RewardEntry(ps[0].address, update_of(0), 1, TOKEN)])
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    did = ps[1].dispute_result(rid, a.round_config().min_dispute_deposit).value
    deadline = a.get_round(rid).dispute_deadline
    with pytest.raises(PreconditionError, match=f"dispute deadline {deadline}"):
        ps[1].timeout_dispute(did)
    with pytest.raises(PreconditionError, match="no dispute 99"):
        ps[1].timeout_dispute(99)


def test_only_the_treasury_pulls_its_share(env: Env) -> None:
    with pytest.raises(PreconditionError, match="fedstake treasury claim"):
        env.participants[0].claim_treasury()


def test_bad_reward_proof(env: Env) -> None:
    a, ps = env.admin, env.participants
    rid = open_round(env, ps[:2])
    results = RoundResults.build(
        rid, [RewardEntry(ps[0].address, update_of(0), 1, TOKEN)], [p.address for p in ps[:2]]
    )
    a.finalize_round(rid, aggregate_hash=AGGREGATE, results=results)
    a.advance_time(a.round_config().challenge_window + 1)
    a.settle_round(rid)
    forged = RewardEntry(ps[0].address, update_of(0), 1, 2 * TOKEN)
    with pytest.raises(a.errors.InvalidRewardProof, match="sum-tree path"):
        ps[0].claim(
            rid,
            entry=forged,
            proof=results.proof(ps[0].address),
            participant_proof=results.participant_proof(ps[0].address),
        )
    with pytest.raises(PreconditionError, match="participant_proof"):
        ps[0].claim(rid, entry=forged, proof=results.proof(ps[0].address))


def test_read_only_ledger_cannot_send(env: Env) -> None:
    ro = Ledger(env.chain, env.admin.deployment, None)
    ro.signer = None
    assert ro.round_count() >= 0
    with pytest.raises(KeyLoadError, match="FEDSTAKE_PRIVATE_KEY"):
        ro.stake(TOKEN)


def test_faucet_only_for_local_token(env: Env) -> None:
    p = env.participants[0]
    before = p.token_balance()
    p.faucet()
    assert p.token_balance() > before
    with pytest.raises(p.errors.FaucetCooldown, match="availableAt"):
        p.faucet()
    remote = Ledger(env.chain, dataclasses.replace(p.deployment, local_token=False), p.signer)
    with pytest.raises(PreconditionError, match="issuer"):
        remote.faucet()
