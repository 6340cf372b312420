"""The token-accounting invariant of DESIGN.md, checked from outside through the ledger.

The contracts' token balances must equal stakes (active, unbonding and locked pending a
slash) + coordinator bonds + reward pool + reward budgets not yet paid out + dispute
deposits + settled slashes owed to the treasury and not yet pulled, to the wei.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.ledger import Ledger
from federation.types import RoundStatus


@dataclass(frozen=True)
class Accounting:
    """Both sides of the invariant, in token wei."""

    held: int  # token.balanceOf(StakeManager) + token.balanceOf(RoundManager)
    stakes: int
    locked: int
    bonds: int
    reward_pool: int
    outstanding_rewards: int
    dispute_deposits: int
    treasury_owed: int = 0  # the treasury pulls its share (claimTreasury)

    @property
    def owed(self) -> int:
        return (
            self.stakes
            + self.locked
            + self.bonds
            + self.reward_pool
            + self.outstanding_rewards
            + self.dispute_deposits
            + self.treasury_owed
        )

    @property
    def balanced(self) -> bool:
        return self.held == self.owed


def outstanding_rewards(ledger: Ledger) -> int:
    """Budgets reserved by open/finalized rounds plus unclaimed rewards of settled ones."""
    total = 0
    for rid in range(1, ledger.round_count() + 1):
        r = ledger.get_round(rid)
        if r.status in (RoundStatus.OPEN, RoundStatus.FINALIZED):
            total += r.reward_budget
        elif r.status == RoundStatus.SETTLED and not r.result_voided:
            total += r.total_rewards - r.claimed  # a voided round returned its whole budget
    return total


def check_accounting(ledger: Ledger) -> Accounting:
    """Read every term of the invariant (O(rounds) reads: fine for simulations and audits)."""
    params = ledger.staking_params()
    pool = ledger.pool_info()
    held = ledger.token_balance(ledger.deployment.address("StakeManager")) + ledger.token_balance(
        ledger.deployment.address("RoundManager")
    )
    return Accounting(
        held=held,
        stakes=params.total_staked,
        locked=params.total_locked,
        bonds=pool.total_bonds,
        reward_pool=pool.reward_pool,
        outstanding_rewards=outstanding_rewards(ledger),
        dispute_deposits=pool.total_dispute_deposits,
        treasury_owed=pool.treasury_owed,
    )
