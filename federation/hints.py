"""What to do about each custom error, appended to the exception's message."""

from federation import revert

HINTS: dict[str, str] = {
    # -- staking
    "NotStaked": "stake first with `fedstake stake AMOUNT` (top-up needs an active stake)",
    "BelowMinStake": "stake at least the minimum (`fedstake info` shows it)",
    "InsufficientActiveStake": "unbond at most your active stake (`fedstake status` shows it)",
    "NothingToWithdraw": "no unbond request is released yet (releaseAt is when the earliest "
    "one is, 0 when none is pending): `fedstake status` lists your requests; request one with "
    "`fedstake unbond AMOUNT`",
    "TooManyUnbondRequests": "withdraw released requests first (`fedstake withdraw`), or wait "
    "for one to release (`fedstake status` lists them)",
    "RoundManagerBusy": "a RoundManager switch waits until nothing is locked and every round "
    "of the current one is settled, expired or cancelled",
    # -- bonds, pool, treasury
    "InsufficientBond": "post a coordinator bond first with `fedstake bond AMOUNT`",
    "BudgetExceedsBond": "a coordinator's unsettled budgets may total at most bond × "
    "budgetBondMultiple (maxBudget is what is left): post more bond with `fedstake bond "
    "AMOUNT`, lower the budget, or settle rounds first (`fedstake settle`)",
    "BondLocked": "settle, expire or cancel your open rounds before withdrawing the bond "
    "(`fedstake settle`, `fedstake round expire ROUND`)",
    "InsufficientRewardPool": "fund the reward pool with `fedstake fund AMOUNT` or lower the "
    "budget",
    "NotTreasury": "only the configured treasury pulls its share: `fedstake treasury claim` "
    "with the treasury's key (`fedstake info` shows the treasury)",
    "NothingOwed": "the treasury is owed nothing now (settled slashes add to it)",
    # -- rounds
    "UnexpectedRoundId": "another coordinator opened that round id first; nothing was opened: "
    "open the round again (Ledger.open_round builds the participant tree for the next id)",
    "InvalidRoundStatus": (
        "the round is not in the state this action needs (status codes: 0 none, 1 open, "
        "2 finalized, 3 settled, 4 expired, 5 cancelled; `fedstake round show ROUND` shows it)"
    ),
    "NotRoundCoordinator": "only the coordinator that opened the round may finalize it or "
    "record its model version",
    "FinalizeDeadlinePassed": "the round expired: `fedstake round expire ROUND`, then open a "
    "new one",
    "ChallengeWindowOpen": "wait for the challenge window to end, then `fedstake settle ROUND`",
    "ChallengeWindowClosed": "disputes must be opened within the challenge window",
    "DisputesPending": "open slash disputes block settlement until the arbiter decides them "
    "or their dispute deadline passes (then `fedstake dispute timeout ID`); open result "
    "disputes block it until the dispute deadline (`fedstake dispute list` shows both)",
    "AlreadyClaimed": "this reward was already paid",
    "InvalidRewardProof": (
        "the (participant, updateHash, score, reward) leaf or its sum-tree path does not "
        "reach the round's results root and total"
    ),
    "MalformedSumProof": "the sum-tree proof's hashes and sums differ in length or its index "
    "is out of range: rebuild it from the round's results file",
    "InvalidCommitmentSignature": (
        "the evidence is not the participant's own signed commitment for this round, chain "
        "and contract"
    ),
    "NotSelected": "the participant is not in the round's participant set (bad Merkle proof)",
    "InvalidSlashBps": "a provable slash takes exactly provableSlashBps; a judged one 1 to "
    "maxJudgedSlashBps (`fedstake info` shows both)",
    "InvalidSlashReason": "slash reason codes are 1 to 8 (docs/protocol.md)",
    "UnexpectedFaultProof": "a judged (statistical) slash carries no fault proof; only "
    "malformed, equivocation and null-update slashes are proven on-chain",
    "TooManySlashes": "a round slashes at most its participants, each once",
    "SlashesNotSorted": "slashes must be sorted by participant address, each at most once",
    "SlashListMismatch": "the slash list does not match the round's (rebuild it from its events)",
    "RoundVoided": "an upheld dispute voided this round's result: it pays no rewards",
    # -- disputes
    "NotSlashedParticipant": "only the slashed participant may dispute its slash",
    "SlashNotDisputable": "this slash was already disputed",
    "ProvenSlash": "this slash was proven on-chain (a provable fault): it cannot be disputed",
    "DepositTooLow": "raise the dispute deposit to the configured minimum (`fedstake info`)",
    "DisputeNotOpen": "the dispute is already decided, timed out or refunded "
    "(`fedstake dispute list`)",
    "ArbiterIsCoordinator": "the arbiter cannot decide a dispute over a round it coordinates: "
    "another arbiter must, or the dispute takes its default outcome at the deadline "
    "(`fedstake dispute timeout ID`)",
    "DisputeDeadlinePassed": "the arbiter can no longer decide: apply the default outcome "
    "with `fedstake dispute timeout ID`",
    "DisputeDeadlineNotPassed": "the arbiter decides until the round's dispute deadline; the "
    "default outcome applies after it (`fedstake dispute list` shows the deadline)",
    # -- provable-fault proofs (FaultVerifier)
    "NotProvable": "only malformed (1), equivocation (6) and null-update (7) faults are proven",
    "BadProofEncoding": "the fault proof does not decode for its reason (federation.protocol."
    "fault_proof builds them)",
    "BadLeafProof": "a leaf proof does not reach the signed update hash (which 0: the update "
    "header, 1: the second leaf)",
    "BadHeader": "the proven update header does not parse",
    "BadElement": "the offset is not a whole element of a floating-point array in the chunk",
    "NoFault": "the proof shows no fault: the slash would punish an honest update",
    "BadEquivocationSignature": "the second commitment is not signed by the participant",
    # -- governance
    "GovernanceNotTimelocked": "upgrades and RoundManager switches go through the governance "
    "timelock (Ledger.schedule_upgrade; first `fedstake governance accept-admin`)",
    "GovernanceDelayTooShort": "the timelock's delay must exceed the unbonding delay, so "
    "participants can leave before a change lands",
    "AccessControlUnauthorizedAccount": (
        "the sender lacks the role this action needs (an admin grants it with "
        "`fedstake role grant ROLE ADDRESS`, or Ledger.grant_role; once the timelock "
        "administers the contracts, grants are scheduled through it)"
    ),
    "EnforcedPause": "the contract is paused; a pauser resumes it with `fedstake unpause`",
    # -- token
    "ERC20InsufficientBalance": "the sender holds too few tokens (`fedstake faucet` on a test "
    "token)",
    "ERC20InsufficientAllowance": "approve the contract to spend the tokens first "
    "(`fedstake approve AMOUNT`)",
    "FaucetCooldown": "the faucet drips once per cooldown per address; wait until availableAt, "
    "then `fedstake faucet`",
    "FaucetDisabled": "this token has no faucet; get tokens from its issuer",
    "FaucetOnlyOnDevChains": "a faucet exists only on development chains: deploy the test "
    "token with faucet_amount=0, or use an existing token (`fedstake deploy --token ADDRESS`)",
    # -- provenance
    "RoundNotFinalized": "a model version names a round finalized (or settled) on-chain",
    "NotRoundAggregate": "a model version's weights hash must be its round's aggregate hash",
}

revert.HINTS.update(HINTS)
