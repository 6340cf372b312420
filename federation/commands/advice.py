"""One line per error, saying what to do next with a command that exists.

``explain`` turns any exception a command raised into that line: the contracts' custom
errors get their arguments formatted (tokens with their symbol, dates, role names), the
ledger's own errors keep their messages, transport failures name the RPC, and anything
unexpected says how to see the traceback (``--debug``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from federation.commands.common import Opts, fmt_date, reason_name

_HAVE_NEED = re.compile(r"have (\d+), need (\d+)")


def _tokens(opts: Opts, wei: Any) -> str:
    from federation.commands.common import fmt_tokens

    return fmt_tokens(int(wei), opts.units.decimals, opts.units.symbol, opts.wei)


def _role(raw: Any) -> str:
    from federation.facade.base import ROLES

    for name, value in ROLES.items():
        if bytes(raw) == value:
            return name
    return "0x" + bytes(raw).hex()


def _revert(exc: Any, opts: Opts) -> str | None:
    a = exc.arguments
    t: Callable[[Any], str] = lambda v: _tokens(opts, v)  # noqa: E731
    name = exc.error_name
    table: dict[str, Callable[[], str]] = {
        "NotStaked": lambda: (
            f"{a.get('staker', 'this account')} is not staked: stake first "
            "with `fedstake stake AMOUNT`"
        ),
        "BelowMinStake": lambda: (
            f"stake below the minimum: {t(a['active'])} would remain "
            f"staked, the minimum is {t(a['minStake'])}: `fedstake stake AMOUNT` with more, or "
            "`fedstake unbond --all`"
        ),
        "InsufficientActiveStake": lambda: (
            f"you can unbond at most your active stake "
            f"({t(a['active'])}): `fedstake status` shows it"
        ),
        "NothingToWithdraw": lambda: (
            "nothing to withdraw: request unbonding first with `fedstake unbond AMOUNT`"
            if not a.get("releaseAt")
            else f"no unbond request is released yet: the earliest releases at "
            f"{fmt_date(a['releaseAt'])}; run `fedstake withdraw` then (`fedstake status` "
            "lists every request)"
        ),
        "TooManyUnbondRequests": lambda: (
            f"you already have {a['max']} pending unbond requests: withdraw released ones "
            "(`fedstake withdraw`) or wait for one (`fedstake status` lists them)"
        ),
        "BudgetExceedsBond": lambda: (
            f"a budget of {t(a['budget'])} exceeds what your bond allows now "
            f"({t(a['maxBudget'])} more in unsettled rounds): post more bond with "
            "`fedstake bond AMOUNT`, or settle rounds first (`fedstake settle`)"
        ),
        "UnexpectedRoundId": lambda: (
            f"round {a['expected']} was opened by another coordinator first (the next id is "
            f"{a['next']}); nothing was opened: open the round again (`fedstake round list` "
            "shows the rounds)"
        ),
        "ArbiterIsCoordinator": lambda: (
            f"{a['arbiter']} coordinates this round and so cannot decide its disputes: "
            "another arbiter must, or after the dispute deadline anyone applies the default "
            "outcome with `fedstake dispute timeout ID` (`fedstake dispute list`)"
        ),
        "DisputeDeadlinePassed": lambda: (
            f"the round's dispute deadline passed ({fmt_date(a['deadline'])}): the arbiter "
            "can no longer decide; apply the default outcome with `fedstake dispute timeout ID`"
        ),
        "DisputeDeadlineNotPassed": lambda: (
            f"the arbiter may decide until the round's dispute deadline "
            f"{fmt_date(a['deadline'])}; the default outcome applies after it: "
            "`fedstake dispute timeout ID` then (`fedstake dispute list`)"
        ),
        "ProvenSlash": lambda: (
            f"the slash of {a['participant']} in round {a['roundId']} was proven on-chain "
            f"(a provable fault): it cannot be disputed (`fedstake round show {a['roundId']}`)"
        ),
        "NotTreasury": lambda: (
            f"{a['caller']} is not the treasury: run `fedstake treasury claim` with the "
            "treasury's key (`fedstake info` names it)"
        ),
        "NothingOwed": lambda: (
            "the treasury is owed nothing now: settled slashes add to it (`fedstake info`)"
        ),
        "GovernanceNotTimelocked": lambda: (
            f"{a['caller']} is not the governance timelock: upgrades go through it once it "
            "administers the contracts (`fedstake governance status`)"
        ),
        "InsufficientBond": lambda: (
            f"coordinator bond {t(a['bond'])} is below the required "
            f"{t(a['required'])}: `fedstake bond AMOUNT`"
        ),
        "BondLocked": lambda: (
            f"the bond is locked by {a['openRounds']} open or unsettled "
            "round(s): settle or expire them first (`fedstake settle`, `fedstake round expire N`)"
        ),
        "InsufficientBondBalance": lambda: (
            f"you can withdraw at most your bond ({t(a['bond'])}): `fedstake unbond-bond --all`"
        ),
        "InsufficientRewardPool": lambda: (
            f"the reward pool holds {t(a['pool'])}, the round "
            f"needs {t(a['requested'])}: `fedstake fund AMOUNT`"
        ),
        "InvalidRoundStatus": lambda: (
            f"round {a['roundId']} is {_status(a['status'])}, not "
            f"in the state this needs: `fedstake round show {a['roundId']}`"
        ),
        "FinalizeDeadlineNotPassed": lambda: (
            f"the round may still be finalized until "
            f"{fmt_date(a['deadline'])}: `fedstake round expire ROUND` after that"
        ),
        "FinalizeDeadlinePassed": lambda: (
            f"the round's finalize deadline passed "
            f"({fmt_date(a['deadline'])}): expire it with `fedstake round expire ROUND`"
        ),
        "ChallengeWindowOpen": lambda: (
            f"the challenge window is open until "
            f"{fmt_date(a['deadline'])}: `fedstake settle` after it"
        ),
        "ChallengeWindowClosed": lambda: (
            f"the challenge window closed at "
            f"{fmt_date(a['deadline'])}: it can no longer be disputed (`fedstake round list`)"
        ),
        "DisputesPending": lambda: (
            f"{a['openSlashDisputes']} slash and {a['openResultDisputes']} result dispute(s) "
            "still open: the arbiter resolves them with `fedstake dispute resolve ID "
            "--uphold` or --reject, or after the dispute deadline anyone applies their "
            "default with `fedstake dispute timeout ID` (`fedstake dispute list`)"
        ),
        "DepositTooLow": lambda: (
            f"the deposit must be at least {t(a['minDeposit'])}: "
            "`fedstake dispute slash ROUND --deposit AMOUNT` (or "
            "`fedstake dispute result ROUND --deposit AMOUNT`)"
        ),
        "DisputeNotOpen": lambda: f"dispute {a['disputeId']} is not open: `fedstake dispute list`",
        "SlashNotDisputable": lambda: (
            f"the slash in round {a['roundId']} was already "
            f"disputed: `fedstake dispute list --round {a['roundId']}`"
        ),
        "NotSlashedParticipant": lambda: (
            "only the slashed participant can dispute its slash: "
            "`fedstake round show ROUND` lists the slashes"
        ),
        "AlreadyClaimed": lambda: (
            f"round {a['roundId']}'s reward was already claimed: "
            "`fedstake status` shows what is pending"
        ),
        "RoundVoided": lambda: (
            f"round {a['roundId']}'s result was voided by an upheld "
            f"dispute: it pays no rewards (`fedstake round show {a['roundId']}`)"
        ),
        "EnforcedPause": lambda: (
            "the contracts are paused: a pauser resumes them with `fedstake unpause`"
        ),
        "AccessControlUnauthorizedAccount": lambda: (
            f"{a['account']} lacks the "
            f"{_role(a['neededRole'])} role: an admin grants it with "
            f"`fedstake role grant {_role(a['neededRole'])} {a['account']}`"
        ),
        "ERC20InsufficientBalance": lambda: (
            f"{a['sender']} holds {t(a['balance'])} but "
            f"{t(a['needed'])} are needed: get tokens (`fedstake faucet` on the test token)"
        ),
        "ERC20InsufficientAllowance": lambda: (
            f"insufficient token allowance: "
            f"{t(a['allowance'])} approved, {t(a['needed'])} needed: "
            "`fedstake approve AMOUNT --for stake` (or --for rounds)"
        ),
        "FaucetCooldown": lambda: (
            f"the faucet drips once per cooldown: try `fedstake faucet` "
            f"again from {fmt_date(a['availableAt'])}"
        ),
        "FaucetDisabled": lambda: (
            "this token has no faucet: get tokens from its issuer (`fedstake info` names the token)"
        ),
        "FaucetOnlyOnDevChains": lambda: (
            f"a faucet exists only on development chains, not chain id {a['chainId']}: "
            "`fedstake deploy --token ADDRESS` with an existing token"
        ),
        "ZeroAmount": lambda: "the amount must be more than 0: e.g. `fedstake stake 10`",
        "UnknownVersion": lambda: (
            f"no model version {a['versionId']}: `fedstake registry lineage` shows the latest"
        ),
    }
    fn = table.get(name)
    return None if fn is None else fn()


def _status(code: Any) -> str:
    from federation.types import RoundStatus

    try:
        name = RoundStatus(int(code)).name.lower()
    except ValueError:
        return f"in status {code}"
    return "never opened" if name == "none" else name


def explain(exc: BaseException, opts: Opts) -> str:
    """The error as one line (no traceback) that says what to do next."""
    from federation.errors import (
        ContractRevert,
        FedstakeError,
        InsufficientAllowanceError,
        InsufficientBalanceError,
        KeyLoadError,
    )

    if isinstance(exc, ContractRevert):
        text = _revert(exc, opts) or str(exc)
    elif isinstance(exc, InsufficientAllowanceError):
        text = (
            f"insufficient token allowance: {_tokens(opts, exc.have)} approved, "
            f"{_tokens(opts, exc.need)} needed: "
            "`fedstake approve AMOUNT --for stake` (or --for rounds), or drop --no-auto-approve"
        )
    elif isinstance(exc, InsufficientBalanceError):
        text = str(exc)
        is_eth = "ETH for gas" in text
        text = _HAVE_NEED.sub(
            lambda m: (
                f"have {_eth(opts, m.group(1)) if is_eth else _tokens(opts, m.group(1))}, "
                f"need {_eth(opts, m.group(2)) if is_eth else _tokens(opts, m.group(2))}"
            ),
            text,
        )
    elif isinstance(exc, KeyLoadError):
        text = str(exc)
        if "no signing key" in text:
            text += " (`fedstake key new FILE` creates a keystore)"
        elif "malformed" in text:
            text += (
                ": set FEDSTAKE_PRIVATE_KEY to 0x and 64 hex digits "
                "(`fedstake key address` checks it)"
            )
    elif isinstance(exc, FedstakeError):
        text = str(exc)
    elif _is_connection_error(exc):
        text = (
            f"lost the connection to the RPC ({type(exc).__name__}): check that the node is "
            "running (for the local chain: `fedstake chain status`, `fedstake chain up`)"
        )
    elif isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or exc}: {exc.filename}"
    else:
        text = (
            f"unexpected {type(exc).__name__}: {exc} (run the command again with --debug "
            "for the traceback)"
        )
    return " ".join(text.split())


def _eth(opts: Opts, wei: Any) -> str:
    from federation.commands.common import fmt_tokens

    return fmt_tokens(int(wei), 18, "ETH", opts.wei)


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, ConnectionError)


__all__ = ["explain", "reason_name"]
