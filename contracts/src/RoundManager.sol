// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {FedstakeBase} from "./FedstakeBase.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {IRoundTiming} from "./interfaces/IRoundTiming.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";
import {ExactTransfer} from "./libraries/ExactTransfer.sol";
import {FedstakeProtocol as P} from "./libraries/FedstakeProtocol.sol";

/// @title RoundManager
/// @notice Coordinator bonds, the reward pool, and the round lifecycle:
///         open → finalize (results root + evidenced slashes) → challenge window (disputes) → settle → claim.
/// @dev Storage is O(1) per round: the immutable RoundParams are emitted in RoundOpened and only their hash is
///      stored. Slashes are locked in the StakeManager at finalize and moved as one per-round total at settle.
///      Token balance == totalBonds + rewardPool + Σ unsettled budgets + Σ unclaimed settled rewards
///      + totalDisputeDeposits, to the wei.
contract RoundManager is FedstakeBase, EIP712Upgradeable, IRoundManager {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ExactTransfer for IERC20;

    uint256 private constant BPS = 10_000;

    struct CoordinatorInfo {
        uint128 bond;
        uint32 openRounds;
    }

    /// @custom:storage-location erc7201:fedstake.storage.RoundManager
    struct RoundManagerStorage {
        IERC20 token;
        IStakeManager stakeManager;
        Config config;
        // one slot: touched together by openRound
        uint128 rewardPool;
        uint64 roundCount;
        uint128 totalBonds;
        uint128 totalDisputeDeposits;
        uint64 disputeCount;
        mapping(uint256 roundId => Round) rounds;
        mapping(address coordinator => CoordinatorInfo) coordinators;
        mapping(uint256 roundId => mapping(address participant => SlashState)) slashStates;
        // claimed flags per participant, 256 rounds per word: a recurring participant pays a warm update
        mapping(address participant => mapping(uint256 roundWord => uint256 bits)) claimedBits;
        mapping(uint256 disputeId => Dispute) disputes;
    }

    // keccak256(abi.encode(uint256(keccak256("fedstake.storage.RoundManager")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xb36ab3e64ab863cdc57717323a4513aeddb5e0ad741e7eb17fff01565f38d900;

    function _s() private pure returns (RoundManagerStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @notice Initialize the proxy. The StakeManager's unbonding delay must exceed maxRoundDuration + challengeWindow.
    /// @param admin Default admin.
    /// @param adminDelay Delay for default-admin transfers.
    /// @param stakeManager_ The StakeManager proxy (its token is the reward / bond token).
    /// @param config_ Initial configuration.
    function initialize(address admin, uint48 adminDelay, IStakeManager stakeManager_, Config calldata config_)
        external
        initializer
    {
        if (address(stakeManager_) == address(0)) revert ZeroAddress();
        __FedstakeBase_init(admin, adminDelay);
        __EIP712_init(P.DOMAIN_NAME, P.DOMAIN_VERSION);
        RoundManagerStorage storage $ = _s();
        $.stakeManager = stakeManager_;
        $.token = IERC20(stakeManager_.token());
        _setConfig(config_);
    }

    // ---------------------------------------------------------------- bonds and pool

    /// @inheritdoc IRoundManager
    function postBond(uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        RoundManagerStorage storage $ = _s();
        CoordinatorInfo storage c = $.coordinators[msg.sender];
        uint128 a = amount.toUint128();
        c.bond += a;
        $.totalBonds += a;
        emit BondPosted(msg.sender, amount, c.bond);
        $.token.pullExact(amount);
    }

    /// @inheritdoc IRoundManager
    function withdrawBond(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        RoundManagerStorage storage $ = _s();
        CoordinatorInfo storage c = $.coordinators[msg.sender];
        if (c.openRounds != 0) revert BondLocked(c.openRounds);
        if (amount > c.bond) revert InsufficientBondBalance(c.bond, amount);
        c.bond -= uint128(amount);
        $.totalBonds -= uint128(amount);
        emit BondWithdrawn(msg.sender, amount, c.bond);
        $.token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IRoundManager
    function fundRewardPool(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        RoundManagerStorage storage $ = _s();
        $.rewardPool += amount.toUint128();
        emit RewardPoolFunded(msg.sender, amount, $.rewardPool);
        $.token.pullExact(amount);
    }

    // ---------------------------------------------------------------- rounds

    /// @inheritdoc IRoundManager
    function openRound(RoundParams calldata params, uint32 participantCount, uint96 rewardBudget, uint40 finalizeDeadline)
        external
        whenNotPaused
        onlyRole(COORDINATOR_ROLE)
        returns (uint256 roundId)
    {
        RoundManagerStorage storage $ = _s();
        if (participantCount == 0) revert EmptyParticipantSet();
        uint256 latest = block.timestamp + $.config.maxRoundDuration;
        // slither-disable-next-line timestamp
        if (finalizeDeadline <= block.timestamp || finalizeDeadline > latest) {
            revert InvalidDeadline(finalizeDeadline, latest);
        }
        CoordinatorInfo storage c = $.coordinators[msg.sender];
        if (c.bond < $.config.minCoordinatorBond) revert InsufficientBond(c.bond, $.config.minCoordinatorBond);
        uint128 pool = $.rewardPool;
        if (rewardBudget > pool) revert InsufficientRewardPool(pool, rewardBudget);
        unchecked {
            $.rewardPool = pool - rewardBudget;
            roundId = ++$.roundCount;
            ++c.openRounds;
        }
        Round storage r = $.rounds[roundId];
        r.coordinator = msg.sender;
        r.rewardBudget = rewardBudget;
        r.status = RoundStatus.Open;
        r.participantCount = participantCount;
        r.finalizeDeadline = finalizeDeadline;
        r.paramsHash = keccak256(abi.encode(params));
        emit RoundOpened(
            roundId,
            msg.sender,
            params.globalModelHash,
            params.configHash,
            params.participantsRoot,
            participantCount,
            rewardBudget,
            finalizeDeadline
        );
    }

    /// @inheritdoc IRoundManager
    function finalizeRound(
        uint256 roundId,
        RoundParams calldata params,
        bytes32 aggregateHash,
        bytes32 resultsRoot,
        uint128 totalRewards,
        SlashEvidence[] calldata slashes
    ) external nonReentrant {
        RoundManagerStorage storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Open) revert InvalidRoundStatus(roundId, r.status);
        if (msg.sender != r.coordinator) revert NotRoundCoordinator(msg.sender, r.coordinator);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.finalizeDeadline) revert FinalizeDeadlinePassed(r.finalizeDeadline);
        if (keccak256(abi.encode(params)) != r.paramsHash) revert RoundParamsMismatch();
        if (totalRewards > r.rewardBudget) revert RewardsExceedBudget(totalRewards, r.rewardBudget);

        uint256 n = slashes.length;
        uint96 slashedTotal = 0;
        if (n != 0) {
            if (n > r.participantCount) revert TooManySlashes(n, r.participantCount);
            bytes32 slashesHash;
            (slashedTotal, slashesHash) = _lockSlashes($, roundId, params, slashes);
            r.slashesHash = slashesHash;
        }

        uint40 challengeDeadline = uint40(block.timestamp) + $.config.challengeWindow;
        r.status = RoundStatus.Finalized;
        r.challengeDeadline = challengeDeadline;
        r.slashedTotal = slashedTotal;
        r.totalRewards = totalRewards;
        r.resultsRoot = resultsRoot;
        r.aggregateHash = aggregateHash;
        emit RoundFinalized(roundId, aggregateHash, resultsRoot, totalRewards, slashedTotal, n, challengeDeadline);
    }

    /// @dev Verify each slash's evidence (sorted, signed, selected), lock the stakes in one StakeManager call and
    ///      fold the applied (participant, amount, reason) list into slashesHash.
    function _lockSlashes(
        RoundManagerStorage storage $,
        uint256 roundId,
        RoundParams calldata params,
        SlashEvidence[] calldata slashes
    ) private returns (uint96 total, bytes32 slashesHash) {
        uint256 n = slashes.length;
        uint16 maxBps = $.config.maxSlashBps;
        address[] memory who = new address[](n);
        uint16[] memory bps = new uint16[](n);
        address prev = address(0);
        for (uint256 i; i < n; ++i) {
            SlashEvidence calldata e = slashes[i];
            if (e.participant <= prev) revert SlashesNotSorted(e.participant);
            prev = e.participant;
            _verifyEvidence(roundId, params, e, maxBps);
            who[i] = e.participant;
            bps[i] = e.slashBps;
        }
        (uint256[] memory amounts, uint256 sumLocked) = $.stakeManager.lockSlashes(who, bps);
        total = sumLocked.toUint96();
        for (uint256 i; i < n; ++i) {
            SlashEvidence calldata e = slashes[i];
            uint96 amount = uint96(amounts[i]);
            slashesHash = _chainSlash(slashesHash, e.participant, amount, e.reason);
            emit ParticipantSlashed(roundId, e.participant, e.reason, e.slashBps, amount, e.updateHash);
        }
    }

    /// @dev One step of the slashesHash fold (docs/protocol.md).
    function _chainSlash(bytes32 h, address participant, uint96 amount, uint8 reason) private pure returns (bytes32) {
        return keccak256(abi.encode(h, participant, uint256(amount), reason));
    }

    /// @dev Reason and bps in range; the Commitment is signed by the participant; the participant was selected.
    function _verifyEvidence(uint256 roundId, RoundParams calldata params, SlashEvidence calldata e, uint16 maxBps)
        private
        view
    {
        if (e.reason == 0 || e.reason > P.MAX_REASON) revert InvalidSlashReason(e.reason);
        if (e.slashBps == 0 || e.slashBps > maxBps) revert InvalidSlashBps(e.slashBps, maxBps);
        bytes32 digest = _hashTypedDataV4(
            P.commitmentStructHash(roundId, e.participant, params.globalModelHash, e.updateHash, e.numExamples)
        );
        // The third return value (the error argument) only details a failure that is rejected anyway.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, e.signature);
        if (err != ECDSA.RecoverError.NoError || signer != e.participant || signer == address(0)) {
            revert InvalidCommitmentSignature(e.participant);
        }
        if (!MerkleProof.verifyCalldata(e.proof, params.participantsRoot, P.participantLeaf(roundId, e.participant))) {
            revert NotSelected(e.participant);
        }
    }

    /// @inheritdoc IRoundManager
    function settleRound(uint256 roundId) external nonReentrant {
        RoundManagerStorage storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Finalized) revert InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp <= r.challengeDeadline) revert ChallengeWindowOpen(r.challengeDeadline);
        if (r.openDisputes != 0) revert DisputesPending(r.openDisputes);

        r.status = RoundStatus.Settled;
        // a voided result pays no rewards: the whole budget returns (totalRewards stays as declared)
        uint256 budgetReturned = r.rewardBudget - (r.resultVoided ? 0 : r.totalRewards);
        uint256 slashed = r.slashedTotal;
        uint256 toPool = slashed * $.config.slashPoolBps / BPS;
        uint256 toTreasury = slashed - toPool;
        $.rewardPool += (budgetReturned + toPool).toUint128();
        unchecked {
            --$.coordinators[r.coordinator].openRounds;
        }
        emit RoundSettled(roundId, toPool, toTreasury, budgetReturned);
        if (slashed != 0) {
            if (toPool != 0) $.stakeManager.releaseSlashed(toPool, address(this));
            if (toTreasury != 0) $.stakeManager.releaseSlashed(toTreasury, $.config.treasury);
        }
    }

    /// @inheritdoc IRoundManager
    function expireRound(uint256 roundId) external {
        RoundManagerStorage storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Open) revert InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp <= r.finalizeDeadline) revert FinalizeDeadlineNotPassed(r.finalizeDeadline);
        r.status = RoundStatus.Expired;
        uint96 budget = r.rewardBudget;
        $.rewardPool += budget;
        unchecked {
            --$.coordinators[r.coordinator].openRounds;
        }
        emit RoundExpired(roundId, budget);
    }

    /// @inheritdoc IRoundManager
    function claim(
        uint256 roundId,
        address participant,
        bytes32 updateHash,
        uint256 score,
        uint256 reward,
        bytes32[] calldata proof
    ) external nonReentrant {
        RoundManagerStorage storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Settled) revert InvalidRoundStatus(roundId, r.status);
        if (r.resultVoided) revert RoundVoided(roundId);
        uint256 bits = $.claimedBits[participant][roundId >> 8];
        uint256 mask = 1 << (roundId & 0xff);
        if (bits & mask != 0) revert AlreadyClaimed(roundId, participant);
        bytes32 leaf = P.resultLeaf(roundId, participant, updateHash, score, reward);
        if (!MerkleProof.verifyCalldata(proof, r.resultsRoot, leaf)) revert InvalidRewardProof();
        uint256 claimedSoFar = r.claimed;
        uint256 total = r.totalRewards;
        if (claimedSoFar + reward > total) revert ClaimExceedsTotal(claimedSoFar, reward, total);
        $.claimedBits[participant][roundId >> 8] = bits | mask;
        r.claimed = uint128(claimedSoFar + reward);
        emit RewardClaimed(roundId, participant, reward);
        if (reward != 0) $.token.safeTransfer(participant, reward);
    }

    // ---------------------------------------------------------------- disputes

    /// @inheritdoc IRoundManager
    function disputeSlash(
        uint256 roundId,
        SlashEntry[] calldata slashes,
        uint256 index,
        uint256 deposit,
        bytes32 evidenceHash
    ) external nonReentrant returns (uint256 disputeId) {
        RoundManagerStorage storage $ = _s();
        bytes32 h = bytes32(0);
        for (uint256 i; i < slashes.length; ++i) {
            h = _chainSlash(h, slashes[i].participant, slashes[i].amount, slashes[i].reason);
        }
        if (h != $.rounds[roundId].slashesHash || index >= slashes.length) revert SlashListMismatch();
        if (slashes[index].participant != msg.sender) {
            revert NotSlashedParticipant(msg.sender, slashes[index].participant);
        }
        SlashState state = $.slashStates[roundId][msg.sender];
        if (state != SlashState.None) revert SlashNotDisputable(roundId, msg.sender, state);
        $.slashStates[roundId][msg.sender] = SlashState.Disputed;
        disputeId = _openDispute($, roundId, DisputeKind.Slash, msg.sender, deposit, evidenceHash);
        $.disputes[disputeId].slashAmount = slashes[index].amount;
    }

    /// @inheritdoc IRoundManager
    function disputeResult(uint256 roundId, uint256 deposit, bytes32 evidenceHash)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        disputeId = _openDispute(_s(), roundId, DisputeKind.Result, address(0), deposit, evidenceHash);
    }

    function _openDispute(
        RoundManagerStorage storage $,
        uint256 roundId,
        DisputeKind kind,
        address participant,
        uint256 deposit,
        bytes32 evidenceHash
    ) private returns (uint256 disputeId) {
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Finalized) revert InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.challengeDeadline) revert ChallengeWindowClosed(r.challengeDeadline);
        if (deposit < $.config.minDisputeDeposit) revert DepositTooLow(deposit, $.config.minDisputeDeposit);
        if (r.openDisputes == type(uint16).max) revert TooManyDisputes();
        ++r.openDisputes;
        disputeId = ++$.disputeCount;
        $.disputes[disputeId] = Dispute({
            roundId: roundId.toUint64(),
            disputer: msg.sender,
            kind: kind,
            status: DisputeStatus.Open,
            participant: participant,
            deposit: deposit.toUint96(),
            slashAmount: 0
        });
        $.totalDisputeDeposits += uint128(deposit);
        emit DisputeOpened(disputeId, roundId, msg.sender, kind, participant, deposit, evidenceHash);
        $.token.pullExact(deposit);
    }

    /// @inheritdoc IRoundManager
    function resolveDispute(uint256 disputeId, bool uphold, uint256 compensation)
        external
        onlyRole(ARBITER_ROLE)
        nonReentrant
    {
        RoundManagerStorage storage $ = _s();
        Dispute storage d = $.disputes[disputeId];
        if (d.status != DisputeStatus.Open) revert DisputeNotOpen(disputeId);
        uint256 roundId = d.roundId;
        Round storage r = $.rounds[roundId];
        uint256 deposit = d.deposit;
        address disputer = d.disputer;
        --r.openDisputes;
        $.totalDisputeDeposits -= uint128(deposit);

        if (!uphold) {
            d.status = DisputeStatus.Rejected;
            if (d.kind == DisputeKind.Slash) $.slashStates[roundId][d.participant] = SlashState.Confirmed;
            $.rewardPool += uint128(deposit); // forfeited deposit funds future rewards
            emit DisputeResolved(disputeId, roundId, false, 0);
            return;
        }

        d.status = DisputeStatus.Upheld;
        if (d.kind == DisputeKind.Slash) {
            $.slashStates[roundId][d.participant] = SlashState.Reverted;
            uint96 amount = d.slashAmount;
            r.slashedTotal -= amount;
            emit SlashReverted(roundId, d.participant, amount);
            if (amount != 0) $.stakeManager.unlockSlash(d.participant, amount);
        } else if (!r.resultVoided) {
            r.resultVoided = true;
            emit RoundResultVoided(roundId);
        }
        CoordinatorInfo storage c = $.coordinators[r.coordinator];
        uint256 paid = compensation < c.bond ? compensation : c.bond;
        if (paid != 0) {
            c.bond -= uint128(paid);
            $.totalBonds -= uint128(paid);
            emit BondSlashed(r.coordinator, disputer, paid);
        }
        emit DisputeResolved(disputeId, roundId, true, paid);
        $.token.safeTransfer(disputer, deposit + paid);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IRoundManager
    function setConfig(Config calldata newConfig) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setConfig(newConfig);
    }

    function _setConfig(Config calldata c) private {
        if (c.treasury == address(0)) revert ZeroAddress();
        if (c.maxSlashBps == 0 || c.maxSlashBps > BPS || c.slashPoolBps > BPS || c.maxRoundDuration == 0) {
            revert InvalidConfig();
        }
        uint64 required = uint64(c.maxRoundDuration) + c.challengeWindow;
        uint64 delay = _s().stakeManager.unbondingDelay();
        if (delay <= required) revert UnbondingDelayTooShort(delay, required + 1);
        _s().config = c;
        emit ConfigUpdated(c);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRoundTiming
    function minUnbondingDelay() external view returns (uint64) {
        Config storage c = _s().config;
        return uint64(c.maxRoundDuration) + c.challengeWindow;
    }

    /// @inheritdoc IRoundManager
    function token() external view returns (address) {
        return address(_s().token);
    }

    /// @inheritdoc IRoundManager
    function stakeManager() external view returns (address) {
        return address(_s().stakeManager);
    }

    /// @inheritdoc IRoundManager
    function config() external view returns (Config memory) {
        return _s().config;
    }

    /// @inheritdoc IRoundManager
    function getRound(uint256 roundId) external view returns (Round memory) {
        return _s().rounds[roundId];
    }

    /// @inheritdoc IRoundManager
    function roundCount() external view returns (uint256) {
        return _s().roundCount;
    }

    /// @inheritdoc IRoundManager
    function rewardPool() external view returns (uint256) {
        return _s().rewardPool;
    }

    /// @inheritdoc IRoundManager
    function totalBonds() external view returns (uint256) {
        return _s().totalBonds;
    }

    /// @inheritdoc IRoundManager
    function totalDisputeDeposits() external view returns (uint256) {
        return _s().totalDisputeDeposits;
    }

    /// @inheritdoc IRoundManager
    function coordinatorInfo(address coordinator) external view returns (uint256 bond, uint256 openRounds) {
        CoordinatorInfo storage c = _s().coordinators[coordinator];
        return (c.bond, c.openRounds);
    }

    /// @inheritdoc IRoundManager
    function slashState(uint256 roundId, address participant) external view returns (SlashState) {
        return _s().slashStates[roundId][participant];
    }

    /// @inheritdoc IRoundManager
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _s().disputes[disputeId];
    }

    /// @inheritdoc IRoundManager
    function disputeCount() external view returns (uint256) {
        return _s().disputeCount;
    }

    /// @inheritdoc IRoundManager
    function isClaimed(uint256 roundId, address participant) external view returns (bool) {
        return (_s().claimedBits[participant][roundId >> 8] >> (roundId & 0xff)) & 1 == 1;
    }

    /// @inheritdoc IRoundManager
    function commitmentDigest(
        uint256 roundId,
        address participant,
        bytes32 globalModelHash,
        bytes32 updateHash,
        uint64 numExamples
    ) public view returns (bytes32) {
        return _hashTypedDataV4(P.commitmentStructHash(roundId, participant, globalModelHash, updateHash, numExamples));
    }
}
