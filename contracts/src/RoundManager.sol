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
import {IFaultVerifier} from "./interfaces/IFaultVerifier.sol";
import {ExactTransfer} from "./libraries/ExactTransfer.sol";
import {FedstakeProtocol as P} from "./libraries/FedstakeProtocol.sol";
import {SumTree} from "./libraries/SumTree.sol";

/// @title RoundManagerStorage
/// @notice The RoundManager's ERC-7201 storage, shared by the RoundManager and the RoundManagerSlashing code it
///         delegatecalls (both run on the proxy's storage).
abstract contract RoundManagerStorage {
    /// @dev Basis points denominator.
    uint256 internal constant BPS = 10_000;

    /// @dev One coordinator: its bond, its unsettled rounds and the budgets they hold (one slot).
    struct CoordinatorInfo {
        uint128 bond;
        uint32 openRounds;
        uint96 lockedBudget;
    }

    /// @custom:storage-location erc7201:fedstake.storage.RoundManager
    struct Layout {
        IERC20 token;
        IStakeManager stakeManager;
        IRoundManager.Config config;
        // one slot: touched together by openRound / settle (bondMultiple: config.budgetBondMultiple, copied here by
        // _setConfig so openRound reads one config slot fewer)
        uint128 rewardPool;
        uint48 roundCount;
        uint48 activeRounds;
        uint16 bondMultiple;
        uint128 totalBonds;
        uint128 totalDisputeDeposits;
        uint64 disputeCount;
        IFaultVerifier faultVerifier;
        uint128 treasuryOwed;
        mapping(uint256 roundId => IRoundManager.Round) rounds;
        mapping(address coordinator => CoordinatorInfo) coordinators;
        mapping(uint256 roundId => mapping(address participant => IRoundManager.SlashState)) slashStates;
        // claimed flags per participant, 256 rounds per word: a recurring participant pays a warm update
        mapping(address participant => mapping(uint256 roundWord => uint256 bits)) claimedBits;
        mapping(uint256 disputeId => IRoundManager.Dispute) disputes;
        // set at settle for a round whose rewards are claimable (not voided):
        // keccak256(abi.encode(paramsHash, resultsRoot, totalRewards)); one cold read instead of four per claim
        mapping(uint256 roundId => bytes32) claimKeys;
    }

    // keccak256(abi.encode(uint256(keccak256("fedstake.storage.RoundManager")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xb36ab3e64ab863cdc57717323a4513aeddb5e0ad741e7eb17fff01565f38d900;

    function _s() internal pure returns (Layout storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @dev A round leaves the unsettled set (settled, expired or cancelled): the coordinator's counters and the
    ///      global active-round count drop.
    function _closeRound(Layout storage $, IRoundManager.Round storage r) internal {
        CoordinatorInfo storage c = $.coordinators[r.coordinator];
        unchecked {
            --c.openRounds;
            c.lockedBudget -= r.rewardBudget;
            --$.activeRounds;
        }
    }

    /// @dev EIP-712 domain `fedstake` / `1` for this chain and this proxy (constant name and version, so no
    ///      storage reads; equal to OpenZeppelin's _domainSeparatorV4() with those constants).
    function _domain() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(P.DOMAIN_NAME)),
                keccak256(bytes(P.DOMAIN_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }
}

/// @title RoundManager
/// @notice Coordinator bonds, the reward pool, and the round lifecycle:
///         open → finalize (results sum tree + evidenced slashes) → challenge window (disputes) → dispute window
///         (arbiter) → settle → claim.
/// @dev Storage is O(1) per round: the immutable RoundParams are emitted in RoundOpened and only their hash is
///      stored. Provable slashes are checked by the FaultVerifier at finalize; judged ones stay disputable through
///      the challenge window, and every dispute has a default outcome once the dispute window ends. Slashes are
///      locked in the StakeManager at finalize and released as one per-round total at settle (pull for the
///      treasury). Token balance == totalBonds + rewardPool + Σ unsettled budgets + Σ unclaimed settled rewards
///      + totalDisputeDeposits + treasuryOwed, to the wei.
///      To stay under EIP-170 the slash path (finalizeRound's evidence and proofs, disputes, cancellation) runs in
///      RoundManagerSlashing, which this implementation's constructor deploys and delegatecalls (same storage);
///      roles, pausing and the reentrancy guard are checked here before the delegatecall.
contract RoundManager is FedstakeBase, EIP712Upgradeable, IRoundManager, RoundManagerStorage {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ExactTransfer for IERC20;

    /// @dev The slash-path code (deployed by the constructor; only ever delegatecalled).
    address private immutable _SLASHING;

    /// @custom:oz-upgrades-unsafe-allow constructor state-variable-immutable
    constructor() {
        _SLASHING = address(new RoundManagerSlashing());
    }

    /// @notice Initialize the proxy. The StakeManager's unbonding delay must exceed
    ///         maxRoundDuration + challengeWindow + disputeWindow.
    /// @param admin Default admin.
    /// @param adminDelay Delay for default-admin transfers.
    /// @param stakeManager_ The StakeManager proxy (its token is the reward / bond token).
    /// @param faultVerifier_ The FaultVerifier checking provable slashes.
    /// @param config_ Initial configuration.
    function initialize(
        address admin,
        uint48 adminDelay,
        IStakeManager stakeManager_,
        IFaultVerifier faultVerifier_,
        Config calldata config_
    ) external initializer {
        if (address(stakeManager_) == address(0) || address(faultVerifier_) == address(0)) revert ZeroAddress();
        __FedstakeBase_init(admin, adminDelay);
        // the EIP-712 name and version are constants (_EIP712Name / _EIP712Version): nothing to store
        Layout storage $ = _s();
        $.stakeManager = stakeManager_;
        $.token = IERC20(stakeManager_.token());
        $.faultVerifier = faultVerifier_;
        emit FaultVerifierUpdated(address(faultVerifier_));
        _setConfig(config_);
    }

    /// @dev Run the current call in RoundManagerSlashing on this contract's storage; bubble up a revert.
    function _delegate() private returns (bytes memory ret) {
        bool ok;
        (ok, ret) = _SLASHING.delegatecall(msg.data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    // ---------------------------------------------------------------- bonds and pool

    /// @inheritdoc IRoundManager
    function postBond(uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Layout storage $ = _s();
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
        Layout storage $ = _s();
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
        Layout storage $ = _s();
        $.rewardPool += amount.toUint128();
        emit RewardPoolFunded(msg.sender, amount, $.rewardPool);
        $.token.pullExact(amount);
    }

    // ---------------------------------------------------------------- rounds

    /// @inheritdoc IRoundManager
    function openRound(
        uint256 expectedRoundId,
        RoundParams calldata params,
        uint32 participantCount,
        uint96 rewardBudget,
        uint40 finalizeDeadline
    ) external whenNotPaused onlyRole(COORDINATOR_ROLE) returns (uint256 roundId) {
        Layout storage $ = _s();
        roundId = uint256($.roundCount) + 1;
        if (expectedRoundId != roundId) revert UnexpectedRoundId(expectedRoundId, roundId);
        if (participantCount == 0) revert EmptyParticipantSet();
        Config storage cfg = $.config;
        uint256 latest = block.timestamp + cfg.maxRoundDuration;
        // slither-disable-next-line timestamp
        if (finalizeDeadline <= block.timestamp || finalizeDeadline > latest) {
            revert InvalidDeadline(finalizeDeadline, latest);
        }
        CoordinatorInfo storage c = $.coordinators[msg.sender];
        uint256 bond = c.bond;
        if (bond < cfg.minCoordinatorBond) revert InsufficientBond(bond, cfg.minCoordinatorBond);
        uint256 locked = c.lockedBudget;
        uint256 maxBudget = bond * $.bondMultiple;
        if (locked + rewardBudget > maxBudget) {
            revert BudgetExceedsBond(rewardBudget, maxBudget > locked ? maxBudget - locked : 0);
        }
        uint128 pool = $.rewardPool;
        if (rewardBudget > pool) revert InsufficientRewardPool(pool, rewardBudget);
        // checked: a coordinator's unsettled budgets must fit the uint96 it is kept in
        c.lockedBudget = (locked + rewardBudget).toUint96();
        unchecked {
            $.rewardPool = pool - rewardBudget;
            $.roundCount = uint48(roundId);
            ++$.activeRounds;
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
    /// @dev Runs in RoundManagerSlashing (delegatecall) after the role, pause and reentrancy checks here.
    function finalizeRound(
        uint256 roundId,
        RoundParams calldata params,
        RoundResult calldata result,
        SlashEvidence[] calldata slashes
    ) external whenNotPaused onlyRole(COORDINATOR_ROLE) nonReentrant {
        (roundId, params, result, slashes); // forwarded as msg.data
        _delegate();
    }

    /// @inheritdoc IRoundManager
    function settleRound(uint256 roundId) external nonReentrant {
        Layout storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Finalized) revert InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp <= r.challengeDeadline) revert ChallengeWindowOpen(r.challengeDeadline);
        // slither-disable-next-line timestamp
        if (r.openSlashDisputes != 0 || (r.openResultDisputes != 0 && block.timestamp <= r.disputeDeadline)) {
            revert DisputesPending(r.openSlashDisputes, r.openResultDisputes);
        }

        r.status = RoundStatus.Settled;
        // a voided result pays no rewards: the whole budget returns (totalRewards stays as declared)
        uint256 budgetReturned = r.rewardBudget;
        if (!r.resultVoided) {
            budgetReturned -= r.totalRewards;
            $.claimKeys[roundId] = _claimKey(r.paramsHash, r.resultsRoot, r.totalRewards);
        }
        uint256 slashed = r.slashedTotal;
        uint256 toPool = slashed * $.config.slashPoolBps / BPS;
        uint256 toTreasury = slashed - toPool;
        $.rewardPool += (budgetReturned + toPool).toUint128();
        if (toTreasury != 0) $.treasuryOwed += uint128(toTreasury);
        _closeRound($, r);
        emit RoundSettled(roundId, toPool, toTreasury, budgetReturned);
        if (slashed != 0) $.stakeManager.releaseSlashed(slashed, address(this));
    }

    /// @inheritdoc IRoundManager
    function expireRound(uint256 roundId) external {
        Layout storage $ = _s();
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Open) revert InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp <= r.finalizeDeadline) revert FinalizeDeadlineNotPassed(r.finalizeDeadline);
        r.status = RoundStatus.Expired;
        uint96 budget = r.rewardBudget;
        $.rewardPool += budget;
        _closeRound($, r);
        emit RoundExpired(roundId, budget);
    }

    /// @inheritdoc IRoundManager
    /// @dev Runs in RoundManagerSlashing (delegatecall) after the role and reentrancy checks here.
    function cancelRound(uint256 roundId, SlashEntry[] calldata slashes) external onlyRole(PAUSER_ROLE) nonReentrant {
        (roundId, slashes); // forwarded as msg.data
        _delegate();
    }

    /// @inheritdoc IRoundManager
    /// @dev The round's paramsHash, resultsRoot and totalRewards are checked through the one claim key written at
    ///      settle (claimable rounds only); the precise error is worked out only on failure.
    function claim(
        uint256 roundId,
        address participant,
        bytes32 updateHash,
        uint256 score,
        uint256 reward,
        RoundParams calldata params,
        bytes32[] calldata participantProof,
        SumProof calldata proof
    ) external nonReentrant {
        Layout storage $ = _s();
        uint256 bits = $.claimedBits[participant][roundId >> 8];
        uint256 mask = 1 << (roundId & 0xff);
        if (bits & mask != 0) revert AlreadyClaimed(roundId, participant);
        bytes32 paramsHash = keccak256(abi.encode(params));
        (bytes32 root, uint256 total) =
            _sumRoot(P.resultLeaf(roundId, participant, updateHash, score, reward), reward, proof);
        if (_claimKey(paramsHash, root, total) != $.claimKeys[roundId]) _claimFailure($, roundId, paramsHash);
        if (!_inSet(participantProof, params.participantsRoot, P.participantLeaf(roundId, participant))) {
            revert NotSelected(participant);
        }
        $.claimedBits[participant][roundId >> 8] = bits | mask;
        emit RewardClaimed(roundId, participant, reward);
        if (reward != 0) $.token.safeTransfer(participant, reward);
    }

    /// @dev What a claimable round's claim key commits to.
    function _claimKey(bytes32 paramsHash, bytes32 resultsRoot, uint256 totalRewards) private pure returns (bytes32 k) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, paramsHash)
            mstore(add(m, 0x20), resultsRoot)
            mstore(add(m, 0x40), totalRewards)
            k := keccak256(m, 0x60)
        }
    }

    /// @dev Revert with why a claim's key did not match: the round is not settled, its result was voided, the
    ///      params are not the round's, or the result leaf's sum-tree path does not reach (resultsRoot, totalRewards).
    function _claimFailure(Layout storage $, uint256 roundId, bytes32 paramsHash) private view {
        Round storage r = $.rounds[roundId];
        if (r.status != RoundStatus.Settled) revert InvalidRoundStatus(roundId, r.status);
        if (r.resultVoided) revert RoundVoided(roundId);
        if (paramsHash != r.paramsHash) revert RoundParamsMismatch();
        revert InvalidRewardProof();
    }

    /// @dev SumTree.rootOf over calldata pointers (same semantics: MalformedSumProof on a length mismatch or index
    ///      bits beyond the depth; checked sums), at about a fifth of the library loop's gas.
    function _sumRoot(bytes32 leaf, uint256 amount, SumProof calldata p) private pure returns (bytes32 h, uint256 sum) {
        bytes32[] calldata hs = p.hashes;
        uint256[] calldata ss = p.sums;
        uint256 n = hs.length;
        uint256 idx = p.index;
        if (ss.length != n || (n < 256 && idx >> n != 0)) revert SumTree.MalformedSumProof();
        h = leaf;
        sum = amount;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let hp := hs.offset
            let sp := ss.offset
            for { let end := add(hp, shl(5, n)) } lt(hp, end) {
                hp := add(hp, 0x20)
                sp := add(sp, 0x20)
                idx := shr(1, idx)
            } {
                let sh := calldataload(hp)
                let sv := calldataload(sp)
                switch and(idx, 1)
                case 0 {
                    mstore(m, h)
                    mstore(add(m, 0x20), sum)
                    mstore(add(m, 0x40), sh)
                    mstore(add(m, 0x60), sv)
                }
                default {
                    mstore(m, sh)
                    mstore(add(m, 0x20), sv)
                    mstore(add(m, 0x40), h)
                    mstore(add(m, 0x60), sum)
                }
                h := keccak256(m, 0x80)
                let t := add(sum, sv)
                if lt(t, sum) {
                    mstore(0x00, 0x4e487b71) // Panic(0x11): the sums overflow, as checked addition would
                    mstore(0x20, 0x11)
                    revert(0x1c, 0x24)
                }
                sum := t
            }
        }
    }

    /// @dev MerkleProof.verifyCalldata (sorted pairs) over calldata pointers.
    function _inSet(bytes32[] calldata proof, bytes32 root, bytes32 leaf) private pure returns (bool ok) {
        assembly ("memory-safe") {
            let h := leaf
            for {
                let p := proof.offset
                let end := add(p, shl(5, proof.length))
            } lt(p, end) { p := add(p, 0x20) } {
                let s := calldataload(p)
                switch lt(h, s)
                case 1 {
                    mstore(0x00, h)
                    mstore(0x20, s)
                }
                default {
                    mstore(0x00, s)
                    mstore(0x20, h)
                }
                h := keccak256(0x00, 0x40)
            }
            ok := eq(h, root)
        }
    }

    /// @inheritdoc IRoundManager
    function claimTreasury() external nonReentrant returns (uint256 amount) {
        Layout storage $ = _s();
        address treasury = $.config.treasury;
        if (msg.sender != treasury) revert NotTreasury(msg.sender);
        amount = $.treasuryOwed;
        if (amount == 0) revert NothingOwed();
        $.treasuryOwed = 0;
        emit TreasuryClaimed(treasury, amount);
        $.token.safeTransfer(treasury, amount);
    }

    // ---------------------------------------------------------------- disputes (run in RoundManagerSlashing)

    /// @inheritdoc IRoundManager
    function disputeSlash(
        uint256 roundId,
        SlashEntry[] calldata slashes,
        uint256 index,
        uint256 deposit,
        bytes32 evidenceHash
    ) external nonReentrant returns (uint256 disputeId) {
        (roundId, slashes, index, deposit, evidenceHash); // forwarded as msg.data
        disputeId = abi.decode(_delegate(), (uint256));
    }

    /// @inheritdoc IRoundManager
    function disputeResult(uint256 roundId, uint256 deposit, bytes32 evidenceHash)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        (roundId, deposit, evidenceHash); // forwarded as msg.data
        disputeId = abi.decode(_delegate(), (uint256));
    }

    /// @inheritdoc IRoundManager
    function resolveDispute(uint256 disputeId, bool uphold, uint256 compensation)
        external
        onlyRole(ARBITER_ROLE)
        nonReentrant
    {
        (disputeId, uphold, compensation); // forwarded as msg.data
        _delegate();
    }

    /// @inheritdoc IRoundManager
    function timeoutDispute(uint256 disputeId) external nonReentrant {
        disputeId; // forwarded as msg.data
        _delegate();
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IRoundManager
    function setConfig(Config calldata newConfig) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setConfig(newConfig);
    }

    /// @inheritdoc IRoundManager
    /// @dev A FaultVerifier decides undisputable slashes, so replacing it needs the same timelock as an upgrade.
    function setFaultVerifier(address newFaultVerifier) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireTimelocked();
        if (newFaultVerifier == address(0)) revert ZeroAddress();
        _s().faultVerifier = IFaultVerifier(newFaultVerifier);
        emit FaultVerifierUpdated(newFaultVerifier);
    }

    function _setConfig(Config calldata c) private {
        if (c.treasury == address(0)) revert ZeroAddress();
        if (
            c.maxJudgedSlashBps == 0 || c.maxJudgedSlashBps > BPS || c.provableSlashBps == 0
                || c.provableSlashBps > BPS || c.slashPoolBps > BPS || c.timeoutCompensationBps > BPS
                || c.maxRoundDuration == 0 || c.budgetBondMultiple == 0
        ) {
            revert InvalidConfig();
        }
        uint64 required = uint64(c.maxRoundDuration) + c.challengeWindow + c.disputeWindow;
        uint64 delay = _s().stakeManager.unbondingDelay();
        if (delay <= required) revert UnbondingDelayTooShort(delay, required + 1);
        Layout storage $ = _s();
        $.config = c;
        $.bondMultiple = c.budgetBondMultiple;
        emit ConfigUpdated(c);
    }

    /// @dev A governance timelock must be slower than the StakeManager's unbonding delay.
    function _governanceDelayFloor() internal view override returns (uint256) {
        return _s().stakeManager.unbondingDelay();
    }

    /// @dev The EIP-712 domain name, a constant (FedstakeProtocol.DOMAIN_NAME).
    function _EIP712Name() internal pure override returns (string memory) {
        return P.DOMAIN_NAME;
    }

    /// @dev The EIP-712 domain version, a constant (FedstakeProtocol.DOMAIN_VERSION).
    function _EIP712Version() internal pure override returns (string memory) {
        return P.DOMAIN_VERSION;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRoundTiming
    function minUnbondingDelay() external view returns (uint64) {
        Config storage c = _s().config;
        return uint64(c.maxRoundDuration) + c.challengeWindow + c.disputeWindow;
    }

    /// @inheritdoc IRoundTiming
    function activeRounds() external view returns (uint256) {
        return _s().activeRounds;
    }

    /// @inheritdoc IRoundTiming
    function roundCount() external view returns (uint256) {
        return _s().roundCount;
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
    function faultVerifier() external view returns (address) {
        return address(_s().faultVerifier);
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
    function treasuryOwed() external view returns (uint256) {
        return _s().treasuryOwed;
    }

    /// @inheritdoc IRoundManager
    function coordinatorInfo(address coordinator)
        external
        view
        returns (uint256 bond, uint256 openRounds, uint256 lockedBudget)
    {
        CoordinatorInfo storage c = _s().coordinators[coordinator];
        return (c.bond, c.openRounds, c.lockedBudget);
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
    function domainSeparator() external view returns (bytes32) {
        return _domain();
    }

    /// @inheritdoc IRoundManager
    function commitmentDigest(
        uint256 roundId,
        address participant,
        bytes32 globalModelHash,
        bytes32 updateHash,
        uint64 numExamples
    ) external view returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                hex"1901", _domain(), P.commitmentStructHash(roundId, participant, globalModelHash, updateHash, numExamples)
            )
        );
    }
}

/// @title RoundManagerSlashing
// The external calls below go to the StakeManager and the FaultVerifier this contract was initialised
// with (trusted, no callbacks; verifyFault is a view), and every caller is behind RoundManager's
// nonReentrant guard: see SLITHER_TRIAGE.md.
// slither-disable-start calls-loop,reentrancy-events
/// @notice The RoundManager's slash path: finalizeRound (evidence, provable-fault proofs, locking), disputes with
///         their deadlines and default outcomes, and cancellation. Deployed by the RoundManager implementation and
///         run only through its delegatecall, on the RoundManager proxy's storage (RoundManagerStorage); the
///         RoundManager checks roles, pausing and reentrancy before delegating. Called directly it refuses.
/// @dev The functions have the RoundManager's signatures, so the RoundManager forwards msg.data unchanged. Events
///      and errors are IRoundManager's (emitted from the proxy's address).
contract RoundManagerSlashing is RoundManagerStorage {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ExactTransfer for IERC20;

    /// @notice Called directly instead of through the RoundManager's delegatecall.
    error OnlyDelegateCall();

    address private immutable _SELF = address(this);

    modifier onlyDelegated() {
        if (address(this) == _SELF) revert OnlyDelegateCall();
        _;
    }

    // ---------------------------------------------------------------- finalize

    /// @notice See IRoundManager.finalizeRound (role, pause and reentrancy checked by the RoundManager).
    function finalizeRound(
        uint256 roundId,
        IRoundManager.RoundParams calldata params,
        IRoundManager.RoundResult calldata result,
        IRoundManager.SlashEvidence[] calldata slashes
    ) external onlyDelegated {
        Layout storage $ = _s();
        IRoundManager.Round storage r = $.rounds[roundId];
        if (r.status != IRoundManager.RoundStatus.Open) revert IRoundManager.InvalidRoundStatus(roundId, r.status);
        if (msg.sender != r.coordinator) revert IRoundManager.NotRoundCoordinator(msg.sender, r.coordinator);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.finalizeDeadline) revert IRoundManager.FinalizeDeadlinePassed(r.finalizeDeadline);
        if (keccak256(abi.encode(params)) != r.paramsHash) revert IRoundManager.RoundParamsMismatch();
        uint128 totalRewards = result.totalRewards;
        if (totalRewards > r.rewardBudget) revert IRoundManager.RewardsExceedBudget(totalRewards, r.rewardBudget);

        uint256 n = slashes.length;
        uint96 slashedTotal = 0;
        if (n != 0) {
            if (n > r.participantCount) revert IRoundManager.TooManySlashes(n, r.participantCount);
            bytes32 slashesHash;
            (slashedTotal, slashesHash) = _lockSlashes($, roundId, params, slashes);
            r.slashesHash = slashesHash;
        }

        uint40 challengeDeadline = uint40(block.timestamp) + $.config.challengeWindow;
        uint40 disputeDeadline = challengeDeadline + $.config.disputeWindow;
        r.status = IRoundManager.RoundStatus.Finalized;
        r.challengeDeadline = challengeDeadline;
        r.disputeDeadline = disputeDeadline;
        r.slashedTotal = slashedTotal;
        r.totalRewards = totalRewards;
        r.resultsRoot = result.resultsRoot;
        r.aggregateHash = result.aggregateHash;
        emit IRoundManager.RoundFinalized(
            roundId,
            result.aggregateHash,
            result.resultsRoot,
            totalRewards,
            slashedTotal,
            n,
            challengeDeadline,
            disputeDeadline,
            result.decisionHash,
            result.artifactsURI
        );
    }

    /// @dev Verify each slash's evidence (sorted, signed, selected; provable: the FaultVerifier's proof), lock the
    ///      stakes in one StakeManager call and fold the applied slashes into slashesHash.
    function _lockSlashes(
        Layout storage $,
        uint256 roundId,
        IRoundManager.RoundParams calldata params,
        IRoundManager.SlashEvidence[] calldata slashes
    ) private returns (uint96 total, bytes32 slashesHash) {
        uint256 n = slashes.length;
        address[] memory who = new address[](n);
        uint16[] memory bps = new uint16[](n);
        bool[] memory provable = new bool[](n);
        {
            uint16 maxJudged = $.config.maxJudgedSlashBps;
            uint16 provableBps = $.config.provableSlashBps;
            bytes32 domain = _domain();
            address prev = address(0);
            for (uint256 i; i < n; ++i) {
                IRoundManager.SlashEvidence calldata e = slashes[i];
                if (e.participant <= prev) revert IRoundManager.SlashesNotSorted(e.participant);
                prev = e.participant;
                provable[i] = _verifyEvidence($, domain, roundId, params, e, maxJudged, provableBps);
                who[i] = e.participant;
                bps[i] = e.slashBps;
            }
        }
        (IStakeManager.SlashLock[] memory locks, uint256 sumLocked) =
            $.stakeManager.lockSlashes(roundId, who, bps, provable);
        total = sumLocked.toUint96();
        for (uint256 i; i < n; ++i) {
            IRoundManager.SlashEvidence calldata e = slashes[i];
            IStakeManager.SlashLock memory l = locks[i];
            slashesHash = _chainSlash(slashesHash, e.participant, l.amount, e.reason, l.fromUnbonding, l.releaseAt);
            emit IRoundManager.ParticipantSlashed(
                roundId, e.participant, e.reason, e.slashBps, l.amount, l.fromUnbonding, l.releaseAt, e.updateHash
            );
        }
    }

    /// @dev Reason and bps in range for its class; the Commitment is signed by the participant; the participant was
    ///      selected; a provable fault's proof holds (the FaultVerifier reverts otherwise). Returns whether provable.
    function _verifyEvidence(
        Layout storage $,
        bytes32 domain,
        uint256 roundId,
        IRoundManager.RoundParams calldata params,
        IRoundManager.SlashEvidence calldata e,
        uint16 maxJudged,
        uint16 provableBps
    ) private view returns (bool provable) {
        uint8 reason = e.reason;
        if (reason == 0 || reason > P.MAX_REASON) revert IRoundManager.InvalidSlashReason(reason);
        provable = P.isProvable(reason);
        if (provable) {
            if (e.slashBps != provableBps) revert IRoundManager.InvalidSlashBps(e.slashBps, provableBps);
        } else {
            if (e.faultProof.length != 0) revert IRoundManager.UnexpectedFaultProof(e.participant);
            if (e.slashBps == 0 || e.slashBps > maxJudged) revert IRoundManager.InvalidSlashBps(e.slashBps, maxJudged);
        }
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901",
                domain,
                P.commitmentStructHash(roundId, e.participant, params.globalModelHash, e.updateHash, e.numExamples)
            )
        );
        // The third return value (the error argument) only details a failure that is rejected anyway.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, e.signature);
        if (err != ECDSA.RecoverError.NoError || signer != e.participant || signer == address(0)) {
            revert IRoundManager.InvalidCommitmentSignature(e.participant);
        }
        if (!MerkleProof.verifyCalldata(e.proof, params.participantsRoot, P.participantLeaf(roundId, e.participant))) {
            revert IRoundManager.NotSelected(e.participant);
        }
        if (provable) {
            $.faultVerifier.verifyFault(
                IFaultVerifier.FaultContext({
                    reason: reason,
                    roundId: roundId,
                    participant: e.participant,
                    globalModelHash: params.globalModelHash,
                    updateHash: e.updateHash,
                    numExamples: e.numExamples,
                    domainSeparator: domain
                }),
                e.faultProof
            );
        }
    }

    /// @dev One step of the slashesHash fold (docs/protocol.md).
    function _chainSlash(
        bytes32 h,
        address participant,
        uint256 amount,
        uint8 reason,
        uint256 fromUnbonding,
        uint64 releaseAt
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(h, participant, amount, reason, fromUnbonding, releaseAt));
    }

    /// @dev The fold of a presented slash list (must equal the round's slashesHash).
    function _foldSlashes(IRoundManager.SlashEntry[] calldata slashes) private pure returns (bytes32 h) {
        for (uint256 i; i < slashes.length; ++i) {
            IRoundManager.SlashEntry calldata s = slashes[i];
            h = _chainSlash(h, s.participant, s.amount, s.reason, s.fromUnbonding, s.releaseAt);
        }
    }

    // ---------------------------------------------------------------- cancel

    /// @notice See IRoundManager.cancelRound (PAUSER_ROLE and reentrancy checked by the RoundManager).
    function cancelRound(uint256 roundId, IRoundManager.SlashEntry[] calldata slashes) external onlyDelegated {
        Layout storage $ = _s();
        IRoundManager.Round storage r = $.rounds[roundId];
        IRoundManager.RoundStatus status = r.status;
        if (status != IRoundManager.RoundStatus.Open && status != IRoundManager.RoundStatus.Finalized) {
            revert IRoundManager.InvalidRoundStatus(roundId, status);
        }
        // an open round has no slashes (slashesHash 0, the fold of the empty list; a non-empty list never folds to 0)
        if (_foldSlashes(slashes) != r.slashesHash) revert IRoundManager.SlashListMismatch();
        r.status = IRoundManager.RoundStatus.Cancelled;
        uint96 budget = r.rewardBudget;
        $.rewardPool += budget;
        _closeRound($, r);
        uint256 returned = 0;
        IStakeManager sm = $.stakeManager;
        mapping(address => IRoundManager.SlashState) storage states = $.slashStates[roundId];
        for (uint256 i; i < slashes.length; ++i) {
            IRoundManager.SlashEntry calldata s = slashes[i];
            // a slash already returned by an upheld / timed-out dispute is not returned twice
            if (states[s.participant] == IRoundManager.SlashState.Reverted) continue;
            states[s.participant] = IRoundManager.SlashState.Reverted;
            returned += s.amount;
            emit IRoundManager.SlashReverted(roundId, s.participant, s.amount);
            sm.unlockSlash(
                roundId,
                s.participant,
                IStakeManager.SlashLock({amount: s.amount, fromUnbonding: s.fromUnbonding, releaseAt: s.releaseAt}),
                !P.isProvable(s.reason)
            );
        }
        r.slashedTotal -= uint96(returned);
        emit IRoundManager.RoundCancelled(roundId, msg.sender, budget, returned);
    }

    // ---------------------------------------------------------------- disputes

    /// @notice See IRoundManager.disputeSlash (reentrancy checked by the RoundManager).
    function disputeSlash(
        uint256 roundId,
        IRoundManager.SlashEntry[] calldata slashes,
        uint256 index,
        uint256 deposit,
        bytes32 evidenceHash
    ) external onlyDelegated returns (uint256 disputeId) {
        Layout storage $ = _s();
        if (_foldSlashes(slashes) != $.rounds[roundId].slashesHash || index >= slashes.length) {
            revert IRoundManager.SlashListMismatch();
        }
        IRoundManager.SlashEntry calldata s = slashes[index];
        if (s.participant != msg.sender) revert IRoundManager.NotSlashedParticipant(msg.sender, s.participant);
        if (P.isProvable(s.reason)) revert IRoundManager.ProvenSlash(roundId, msg.sender);
        IRoundManager.SlashState state = $.slashStates[roundId][msg.sender];
        if (state != IRoundManager.SlashState.None) revert IRoundManager.SlashNotDisputable(roundId, msg.sender, state);
        $.slashStates[roundId][msg.sender] = IRoundManager.SlashState.Disputed;
        disputeId = _openDispute($, roundId, IRoundManager.DisputeKind.Slash, msg.sender, deposit, evidenceHash);
        IRoundManager.Dispute storage d = $.disputes[disputeId];
        d.slashAmount = s.amount;
        d.fromUnbonding = s.fromUnbonding;
        d.releaseAt = s.releaseAt;
    }

    /// @notice See IRoundManager.disputeResult (reentrancy checked by the RoundManager).
    function disputeResult(uint256 roundId, uint256 deposit, bytes32 evidenceHash)
        external
        onlyDelegated
        returns (uint256 disputeId)
    {
        disputeId = _openDispute(_s(), roundId, IRoundManager.DisputeKind.Result, address(0), deposit, evidenceHash);
    }

    function _openDispute(
        Layout storage $,
        uint256 roundId,
        IRoundManager.DisputeKind kind,
        address participant,
        uint256 deposit,
        bytes32 evidenceHash
    ) private returns (uint256 disputeId) {
        IRoundManager.Round storage r = $.rounds[roundId];
        if (r.status != IRoundManager.RoundStatus.Finalized) revert IRoundManager.InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.challengeDeadline) revert IRoundManager.ChallengeWindowClosed(r.challengeDeadline);
        uint256 minDeposit = $.config.minDisputeDeposit;
        if (deposit < minDeposit) revert IRoundManager.DepositTooLow(deposit, minDeposit);
        // no shared cap: one slash dispute per slashed participant; result disputes are bounded only by their
        // deposits (2^32 of them would cost more than any round holds)
        if (kind == IRoundManager.DisputeKind.Slash) ++r.openSlashDisputes;
        else ++r.openResultDisputes;
        disputeId = ++$.disputeCount;
        IRoundManager.Dispute storage d = $.disputes[disputeId];
        d.roundId = uint64(roundId);
        d.disputer = msg.sender;
        d.kind = kind;
        d.status = IRoundManager.DisputeStatus.Open;
        d.participant = participant;
        d.deposit = deposit.toUint96();
        $.totalDisputeDeposits += uint128(deposit);
        emit IRoundManager.DisputeOpened(disputeId, roundId, msg.sender, kind, participant, deposit, evidenceHash);
        $.token.pullExact(deposit);
    }

    /// @notice See IRoundManager.resolveDispute (ARBITER_ROLE and reentrancy checked by the RoundManager).
    function resolveDispute(uint256 disputeId, bool uphold, uint256 compensation) external onlyDelegated {
        Layout storage $ = _s();
        IRoundManager.Dispute storage d = $.disputes[disputeId];
        if (d.status != IRoundManager.DisputeStatus.Open) revert IRoundManager.DisputeNotOpen(disputeId);
        uint256 roundId = d.roundId;
        IRoundManager.Round storage r = $.rounds[roundId];
        if (msg.sender == r.coordinator) revert IRoundManager.ArbiterIsCoordinator(msg.sender);
        if (r.status != IRoundManager.RoundStatus.Finalized) revert IRoundManager.InvalidRoundStatus(roundId, r.status);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.disputeDeadline) revert IRoundManager.DisputeDeadlinePassed(r.disputeDeadline);
        uint256 deposit = _closeDispute($, d, r);

        if (!uphold) {
            d.status = IRoundManager.DisputeStatus.Rejected;
            if (d.kind == IRoundManager.DisputeKind.Slash) {
                $.slashStates[roundId][d.participant] = IRoundManager.SlashState.Confirmed;
            }
            $.rewardPool += uint128(deposit); // forfeited deposit funds future rewards
            emit IRoundManager.DisputeResolved(disputeId, roundId, false, 0);
            return;
        }

        d.status = IRoundManager.DisputeStatus.Upheld;
        if (d.kind == IRoundManager.DisputeKind.Slash) {
            _revertSlash($, r, roundId, d);
        } else if (!r.resultVoided) {
            r.resultVoided = true;
            emit IRoundManager.RoundResultVoided(roundId);
        }
        address disputer = d.disputer;
        uint256 paid = _payFromBond($, r.coordinator, disputer, compensation);
        emit IRoundManager.DisputeResolved(disputeId, roundId, true, paid);
        $.token.safeTransfer(disputer, deposit + paid);
    }

    /// @notice See IRoundManager.timeoutDispute (reentrancy checked by the RoundManager).
    function timeoutDispute(uint256 disputeId) external onlyDelegated {
        Layout storage $ = _s();
        IRoundManager.Dispute storage d = $.disputes[disputeId];
        if (d.status != IRoundManager.DisputeStatus.Open) revert IRoundManager.DisputeNotOpen(disputeId);
        uint256 roundId = d.roundId;
        IRoundManager.Round storage r = $.rounds[roundId];
        uint256 paid = 0;
        IRoundManager.DisputeStatus outcome;
        if (r.status == IRoundManager.RoundStatus.Cancelled) {
            // the cancellation already returned every slash and the budget: the deposit is refunded
            outcome = IRoundManager.DisputeStatus.Refunded;
        } else {
            // slither-disable-next-line timestamp
            if (block.timestamp <= r.disputeDeadline) {
                revert IRoundManager.DisputeDeadlineNotPassed(r.disputeDeadline);
            }
            outcome = IRoundManager.DisputeStatus.TimedOut;
            if (d.kind == IRoundManager.DisputeKind.Slash) {
                // not upheld in time: the slash is reverted and the coordinator's bond compensates the participant
                uint256 amount = d.slashAmount;
                _revertSlash($, r, roundId, d);
                paid = _payFromBond($, r.coordinator, d.disputer, amount * $.config.timeoutCompensationBps / BPS);
            }
            // a result dispute's default: the result stands (the round settles, or has settled, as finalized)
        }
        uint256 deposit = _closeDispute($, d, r);
        d.status = outcome;
        emit IRoundManager.DisputeTimedOut(disputeId, roundId, outcome, paid);
        $.token.safeTransfer(d.disputer, deposit + paid);
    }

    /// @dev A dispute stops being open: its round's counter and the deposit total drop. Returns the deposit.
    function _closeDispute(Layout storage $, IRoundManager.Dispute storage d, IRoundManager.Round storage r)
        private
        returns (uint256 deposit)
    {
        deposit = d.deposit;
        if (d.kind == IRoundManager.DisputeKind.Slash) --r.openSlashDisputes;
        else --r.openResultDisputes;
        $.totalDisputeDeposits -= uint128(deposit);
    }

    /// @dev Return a disputed slash to the participant, where it was taken from (upheld or timed out).
    function _revertSlash(
        Layout storage $,
        IRoundManager.Round storage r,
        uint256 roundId,
        IRoundManager.Dispute storage d
    ) private {
        address participant = d.participant;
        uint96 amount = d.slashAmount;
        $.slashStates[roundId][participant] = IRoundManager.SlashState.Reverted;
        r.slashedTotal -= amount;
        emit IRoundManager.SlashReverted(roundId, participant, amount);
        $.stakeManager.unlockSlash(
            roundId,
            participant,
            IStakeManager.SlashLock({amount: amount, fromUnbonding: d.fromUnbonding, releaseAt: d.releaseAt}),
            true
        );
    }

    /// @dev Take up to `want` from `coordinator`'s bond for `to` (the caller transfers it). Returns what was taken.
    function _payFromBond(Layout storage $, address coordinator, address to, uint256 want)
        private
        returns (uint256 paid)
    {
        CoordinatorInfo storage c = $.coordinators[coordinator];
        paid = want < c.bond ? want : c.bond;
        if (paid != 0) {
            c.bond -= uint128(paid);
            $.totalBonds -= uint128(paid);
            emit IRoundManager.BondSlashed(coordinator, to, paid);
        }
    }
}
// slither-disable-end calls-loop,reentrancy-events
