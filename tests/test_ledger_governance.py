"""Governance that cannot seize stakes: the deploy hands the admin role to a timelock slower
than unbonding; upgrades go through it (a direct admin upgrade is refused); role keys must be
distinct except on development chains; the faucet exists only there."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from federation.chain.base import Chain
from federation.deploy import RoleKeys, check_role_keys, deploy, is_dev_chain
from federation.errors import ConfigError, PreconditionError
from federation.keys import generate
from federation.types import GovernanceCall, RoundStatus
from tests.conftest import STAKE, Env, open_round, reverting


def test_admin_moves_to_the_timelock_and_upgrades_go_through_it(env: Env) -> None:
    a = env.admin
    gov = a.governance_info()
    assert gov.min_delay > gov.unbonding_delay  # participants can leave before a change lands
    assert not gov.timelocked
    assert all(x.admin == a.address and x.pending_admin == gov.timelock for x in gov.admins)
    assert all(x.admin_delay > 0 for x in gov.admins)
    op = gov.accept_operation
    assert op is not None and op.ready_at > a.now()
    # before the handover the deployer is admin, but an upgrade needs a slow timelock
    with pytest.raises(a.errors.GovernanceNotTimelocked):
        a.upgrade("RoundManager", "RoundManager")
    with pytest.raises(PreconditionError, match="governance accept-admin"):
        a.accept_admin()
    rid = open_round(env, env.participants[:2])
    a.advance_time(op.ready_at - a.now() + 1)
    assert not a.accept_admin().already_applied
    assert a.accept_admin().already_applied
    gov = a.governance_info()
    assert gov.timelocked and all(x.pending_admin is None for x in gov.admins)
    # the admin key is no longer admin: no direct upgrade, no direct role grant
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount):
        a.upgrade("StakeManager", "StakeManager")
    with pytest.raises(a.errors.AccessControlUnauthorizedAccount):
        a.grant_role("coordinator", env.participants[0].address, ["RoundManager"])
    # an upgrade through the timelock: scheduled, not executable early, then executed
    old = a.implementation("RoundManager")
    scheduled = a.schedule_upgrade("RoundManager", "RoundManager").value
    assert scheduled.ready_at >= a.now() + gov.min_delay
    with pytest.raises(PreconditionError, match="not due"):
        a.execute_governance(scheduled)
    a.advance_time(gov.min_delay + 1)
    a.execute_governance(scheduled)
    assert a.execute_governance(scheduled).already_applied
    assert a.implementation("RoundManager") not in (old, a.deployment.contracts["RoundManager"])
    assert a.get_round(rid).status == RoundStatus.OPEN  # state kept
    assert a.stake_of(env.participants[0].address).active == STAKE


def test_the_fault_verifier_changes_only_through_the_timelock(env: Env) -> None:
    from federation.deploy import FAULT_VERIFIER, deploy_contract

    a = env.admin
    old = a.fault_verifier_address()
    new, _ = deploy_contract(a.tx, a._me(), FAULT_VERIFIER)
    with pytest.raises(a.errors.GovernanceNotTimelocked):
        a.set_fault_verifier(new)
    a.advance_time(a.governance_info().accept_operation.ready_at - a.now() + 1)  # type: ignore[union-attr]
    a.accept_admin()
    op = a.schedule_governance(
        [GovernanceCall("RoundManager", "setFaultVerifier", (new,))], description="new verifier"
    ).value
    assert a.fault_verifier_address() == old
    a.advance_time(a.governance_info().min_delay + 1)
    a.execute_governance(op)
    assert a.fault_verifier_address() == new


def test_role_keys_must_be_distinct_except_on_development_chains() -> None:
    one = generate().address
    shared = RoleKeys(one, (one,), (one,), (one,), one)
    assert is_dev_chain(31337) and is_dev_chain(131277322940537) and not is_dev_chain(1)
    (warning,) = check_role_keys(shared, 31337)
    assert (
        "DEVELOPMENT CHAIN ONLY" in warning and "admin, coordinator, arbiter, treasury" in warning
    )
    with pytest.raises(ConfigError, match="must be distinct") as exc:
        check_role_keys(shared, 8453)
    assert "--arbiter" in str(exc.value)
    distinct = RoleKeys(
        one, (generate().address,), (generate().address,), (one,), generate().address
    )
    assert check_role_keys(distinct, 1) == []


def test_deploy_refuses_before_sending_anything_on_a_public_chain() -> None:
    """Start-up errors: nothing is sent (the fake chain has no RPC to send to)."""
    chain = SimpleNamespace(chain_id=10, default_signer=lambda: None)
    admin = generate()
    with pytest.raises(ConfigError, match="must be distinct"):
        deploy(chain, admin=admin)  # type: ignore[arg-type]
    keys = {
        "coordinators": (generate().address,),
        "arbiters": (generate().address,),
        "treasury": generate().address,
    }
    with pytest.raises(ConfigError, match="faucet exists only on development chains"):
        deploy(chain, admin=admin, faucet_amount=1, **keys)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="admin delay"):
        deploy(chain, admin=admin, admin_delay=0, **keys)  # type: ignore[arg-type]


def test_a_development_deploy_warns_about_shared_keys(chain: Chain) -> None:
    seen: list[str] = []
    with reverting(chain):
        ledger = deploy(chain, warn=seen.append)
        assert ledger.deployment.local_token and ledger.chain is chain
    assert len(seen) == 1 and "arbiter" in seen[0]
