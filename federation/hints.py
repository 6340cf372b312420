"""What to do about each custom error, appended to the exception's message."""

from federation import revert

HINTS: dict[str, str] = {
    "NotStaked": "stake first with `fedstake stake AMOUNT` (top-up needs an active stake)",
    "BelowMinStake": "stake at least the minimum (`fedstake info` shows it)",
    "InsufficientActiveStake": "unbond at most your active stake (`fedstake status` shows it)",
    "NothingToWithdraw": "request unbonding first with `fedstake unbond AMOUNT`",
    "UnbondingNotReleased": "wait until releaseAt, then `fedstake withdraw`",
    "InsufficientBond": "post a coordinator bond first with `fedstake bond AMOUNT`",
    "BondLocked": "settle or expire your open rounds before withdrawing the bond "
    "(`fedstake settle`, `fedstake round expire ROUND`)",
    "InsufficientRewardPool": "fund the reward pool with `fedstake fund AMOUNT` or lower the "
    "budget",
    "InvalidRoundStatus": (
        "the round is not in the state this action needs (status codes: 0 none, 1 open, "
        "2 finalized, 3 settled, 4 expired; `fedstake round show ROUND` shows it)"
    ),
    "NotRoundCoordinator": "only the coordinator that opened the round may finalize it",
    "FinalizeDeadlinePassed": "the round expired: `fedstake round expire ROUND`, then open a "
    "new one",
    "ChallengeWindowOpen": "wait for the challenge window to end, then `fedstake settle ROUND`",
    "ChallengeWindowClosed": "disputes must be opened within the challenge window",
    "DisputesPending": "the arbiter must resolve open disputes before the round settles "
    "(`fedstake dispute resolve ID --uphold` or --reject)",
    "AlreadyClaimed": "this reward was already paid",
    "InvalidRewardProof": (
        "the (participant, updateHash, score, reward) leaf or its proof does not match the "
        "round's results root"
    ),
    "InvalidCommitmentSignature": (
        "the evidence is not the participant's own signed commitment for this round, chain "
        "and contract"
    ),
    "NotSelected": "the participant is not in the round's participant set (bad Merkle proof)",
    "DepositTooLow": "raise the dispute deposit to the configured minimum (`fedstake info`)",
    "EnforcedPause": "the contract is paused; a pauser resumes it with `fedstake unpause`",
    "AccessControlUnauthorizedAccount": (
        "the sender lacks the role this action needs (an admin grants it with "
        "`fedstake role grant ROLE ADDRESS`, or Ledger.grant_role)"
    ),
    "ERC20InsufficientBalance": "the sender holds too few tokens (`fedstake faucet` on a test "
    "token)",
    "ERC20InsufficientAllowance": "approve the contract to spend the tokens first "
    "(`fedstake approve AMOUNT`)",
    "FaucetCooldown": "the faucet drips once per cooldown per address; wait until availableAt, "
    "then `fedstake faucet`",
    "FaucetDisabled": "this token has no faucet; get tokens from its issuer",
    "RoundVoided": "an upheld dispute voided this round's result: it pays no rewards",
    "SlashesNotSorted": "slashes must be sorted by participant address, each at most once",
    "SlashListMismatch": "the slash list does not match the round's (rebuild it from its events)",
    "NotSlashedParticipant": "only the slashed participant may dispute its slash",
    "SlashNotDisputable": "this slash was already disputed",
    "ClaimExceedsTotal": "the results tree pays more than the round's declared total",
}

revert.HINTS.update(HINTS)
