// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Vm} from "../utils/Vm.sol";
import {Merkle} from "../utils/Merkle.sol";
import {SumTrees} from "../utils/SumTrees.sol";
import {UpdateTree} from "../utils/UpdateTree.sol";
import {IRM, IFedstakeAdmin} from "../utils/IRM.sol";
import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../../src/interfaces/IFaultVerifier.sol";
import {FedstakeProtocol as P} from "../../src/libraries/FedstakeProtocol.sol";

/// @notice The pausable errors (OpenZeppelin's PausableUpgradeable), for expected reverts.
interface IPausableErrors {
    error EnforcedPause();
    error ExpectedPause();
}

/// @notice Drives the whole protocol (stakes, unbond requests and withdrawals, bonds, the pool, two coordinators,
///         rounds with judged and provable slashes, disputes with arbiter decisions and timeouts, cancellation,
///         pausing, claims, the treasury) and keeps an independent ghost model of it: every staker's active stake
///         and unbond requests, every coordinator's bond and locked budget, the pool, the treasury's due, every
///         round and dispute, and the token balance every actor should hold, to the wei.
/// @dev Every call's outcome is predicted from the ghost model: a call predicted to succeed is made through `_ok`
///      (an unexpected revert reverts the handler, and the campaign runs with fail_on_revert); a call predicted
///      to revert (hostile or out of order) is made through `_bad`, which requires the revert, checks its error
///      selector where one is given, and checks that no balance or total changed. `done[act]` counts the calls
///      whose outcome was as predicted; afterInvariant requires a minimum of each.
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    // ------------------------------------------------------------ what is counted

    enum Act {
        Stake,
        TopUp,
        Unbond,
        Withdraw,
        WithdrawAfterWarp,
        PostBond,
        WithdrawBond,
        Fund,
        Open,
        OpenBySecondCoordinator,
        Finalize,
        FinalizeJudgedSlash,
        FinalizeNullUpdate,
        FinalizeEquivocation,
        FinalizeMalformed,
        FinalizeRogueLeaf,
        Settle,
        SettleWithSlashes,
        Expire,
        CancelOpen,
        CancelFinalized,
        DisputeSlash,
        DisputeResult,
        ResolveUpholdSlash,
        ResolveUpholdResult,
        ResolveReject,
        TimeoutSlash,
        TimeoutResult,
        TimeoutRefund,
        Claim,
        ClaimTreasury,
        Pause,
        Unpause,
        Warp,
        // calls that must revert and change nothing
        RevertStaleOpenId,
        RevertWhilePaused,
        RevertStrangerFinalize,
        RevertWrongCoordinator,
        RevertRevokedCoordinator,
        RevertArbiterIsCoordinator,
        RevertUnselectedClaim,
        RevertStranger,
        RevertBadFaultProof,
        RevertNotYourSlash,
        RevertProvenSlashDispute,
        RevertDirectStakeHook,
        RevertOutOfOrder,
        Count
    }

    uint256[64] public done;

    // ------------------------------------------------------------ the system and its actors

    uint256 internal constant BPS = 10_000;
    uint256 internal constant NP = 5;
    uint256 internal constant SCORE = 500_000;

    IERC20 public immutable token;
    IStakeManager public immutable sm;
    IRM public immutable rm;
    address public immutable coordA;
    address public immutable coordB; // also an arbiter (for coordA's rounds only)
    address public immutable arbiter;
    address public immutable pauser;
    address public immutable admin;
    address public immutable funder;
    address public immutable treasury;
    address public immutable disputer; // a third party disputing results
    address public immutable stranger; // holds no role and no tokens

    uint256 internal immutable minStake;
    uint64 internal immutable unbondingDelay;
    uint128 internal immutable minBond;
    uint16 internal immutable bondMultiple;
    uint40 internal immutable maxRound;
    uint40 internal immutable challengeWindow;
    uint40 internal immutable disputeWindow;
    uint16 internal immutable maxJudgedBps;
    uint16 internal immutable provableBps;
    uint16 internal immutable poolBps;
    uint16 internal immutable timeoutCompBps;
    uint256 internal immutable minDeposit;

    uint256[] internal pks;
    address[] public parts;
    uint256[] internal sortedIdx; // participant indices by ascending address
    address[] public actors; // every address whose balance is tracked

    // provable-fault material (fixed update trees)
    bytes32 public globalHash; // the global model's update root (every round's globalModelHash)
    bytes32 internal mismatchHash; // an update whose header (shape) differs from the global model's
    bytes internal mismatchProof;
    bytes32 internal nanHash; // an update with the global header and a NaN
    bytes internal nanProof;

    // ------------------------------------------------------------ ghost model

    uint256 public gNow;
    bool public gPaused;

    mapping(address => uint256) public expectedBalance;

    struct Req {
        uint128 amount;
        uint64 releaseAt;
    }

    mapping(address => uint256) public gActive;
    mapping(address => uint256) public gUnbonding;
    mapping(address => Req[]) internal gReqs;
    uint256 public gTotalStaked;
    uint256 public gTotalLocked;

    uint256 public gPool;
    uint256 public gTreasuryOwed;
    uint256 public gDeposits;
    uint256 public gRoundCount;
    uint256 public gActiveRounds;
    mapping(address => uint256) public gBond;
    mapping(address => uint256) public gOpenRounds;
    mapping(address => uint256) public gLockedBudget;

    struct GRound {
        address coordinator;
        uint96 budget;
        IRoundManager.RoundStatus status;
        uint40 finalizeDeadline;
        uint40 challengeDeadline;
        uint40 disputeDeadline;
        uint256 mask; // selected participants (bit i: parts[i])
        uint256 totalRewards;
        uint256 slashed; // locked slashes not returned
        uint256 claimed; // rewards paid out
        uint32 openSlash;
        uint32 openResult;
        bool voided;
        IRoundManager.RoundParams params;
    }

    struct Leaf {
        address who;
        bytes32 updateHash;
        uint256 reward;
        bool selected;
        bool claimed;
    }

    mapping(uint256 => GRound) internal gRounds;
    mapping(uint256 => Leaf[]) internal gLeaves;
    mapping(uint256 => IRoundManager.SlashEntry[]) internal gEntries;
    mapping(uint256 => mapping(address => IRoundManager.SlashState)) internal gSlashState;

    struct GDispute {
        uint256 roundId;
        address disputer;
        IRoundManager.DisputeKind kind;
        IRoundManager.DisputeStatus status;
        address participant;
        uint256 deposit;
        uint256 amount;
        uint256 fromUnbonding;
        uint64 releaseAt;
    }

    GDispute[] internal gDisputes; // dispute id = index + 1

    error UnexpectedRevert(Act act, bytes reason);
    error UnexpectedSuccess(Act act);
    error WrongRevert(Act act, bytes reason);
    error StateChanged(Act act);
    error GhostMismatch(string what);

    struct Setup {
        IERC20 token;
        IStakeManager sm;
        IRM rm;
        address coordA;
        address coordB;
        address arbiter;
        address pauser;
        address admin;
        address funder;
        address treasury;
        address disputer;
        address stranger;
    }

    constructor(Setup memory s, uint256[] memory pks_) {
        token = s.token;
        sm = s.sm;
        rm = s.rm;
        coordA = s.coordA;
        coordB = s.coordB;
        arbiter = s.arbiter;
        pauser = s.pauser;
        admin = s.admin;
        funder = s.funder;
        treasury = s.treasury;
        disputer = s.disputer;
        stranger = s.stranger;

        IRoundManager.Config memory c = s.rm.config();
        minStake = s.sm.minStake();
        unbondingDelay = s.sm.unbondingDelay();
        minBond = c.minCoordinatorBond;
        bondMultiple = c.budgetBondMultiple;
        maxRound = c.maxRoundDuration;
        challengeWindow = c.challengeWindow;
        disputeWindow = c.disputeWindow;
        maxJudgedBps = c.maxJudgedSlashBps;
        provableBps = c.provableSlashBps;
        poolBps = c.slashPoolBps;
        timeoutCompBps = c.timeoutCompensationBps;
        minDeposit = c.minDisputeDeposit;

        require(pks_.length == NP, "handler: participants");
        for (uint256 i; i < NP; ++i) {
            pks.push(pks_[i]);
            parts.push(vm.addr(pks_[i]));
            sortedIdx.push(i);
            actors.push(vm.addr(pks_[i]));
        }
        for (uint256 i = 1; i < NP; ++i) {
            for (uint256 j = i; j > 0 && parts[sortedIdx[j - 1]] > parts[sortedIdx[j]]; --j) {
                (sortedIdx[j - 1], sortedIdx[j]) = (sortedIdx[j], sortedIdx[j - 1]);
            }
        }
        actors.push(s.coordA);
        actors.push(s.coordB);
        actors.push(s.arbiter);
        actors.push(s.pauser);
        actors.push(s.admin);
        actors.push(s.funder);
        actors.push(s.treasury);
        actors.push(s.disputer);
        actors.push(s.stranger);
        for (uint256 i; i < actors.length; ++i) {
            expectedBalance[actors[i]] = s.token.balanceOf(actors[i]);
        }
        expectedBalance[address(s.rm)] = s.token.balanceOf(address(s.rm));
        expectedBalance[address(s.sm)] = s.token.balanceOf(address(s.sm));

        // the ghost starts from the deployed state (no stakes, no rounds; bonds and pool as set up)
        require(s.sm.totalStaked() == 0 && s.rm.roundCount() == 0, "handler: fresh system");
        gPool = s.rm.rewardPool();
        (gBond[s.coordA],,) = s.rm.coordinatorInfo(s.coordA);
        (gBond[s.coordB],,) = s.rm.coordinatorInfo(s.coordB);
        gNow = block.timestamp;

        _buildFaultMaterial();
    }

    /// @dev Fixed update trees: the global model (4 float32 ones), an update of another shape (5 values) and an
    ///      update with the global header and a NaN at element 2; the two malformed-update proofs.
    function _buildFaultMaterial() private {
        bytes[] memory g = UpdateTree.preimages(UpdateTree.header1("w", "<f4", 4, 4), UpdateTree.f32Payload(4, 4));
        IFaultVerifier.LeafProof memory gh;
        (globalHash, gh) = UpdateTree.prove(g, 0);
        bytes[] memory m = UpdateTree.preimages(UpdateTree.header1("w", "<f4", 5, 4), UpdateTree.f32Payload(5, 5));
        IFaultVerifier.LeafProof memory mh;
        (mismatchHash, mh) = UpdateTree.prove(m, 0);
        mismatchProof = UpdateTree.headerMismatchProof(mh, gh);
        bytes[] memory n = UpdateTree.preimages(UpdateTree.header1("w", "<f4", 4, 4), UpdateTree.f32Payload(4, 2));
        IFaultVerifier.LeafProof memory nh;
        IFaultVerifier.LeafProof memory nc;
        (nanHash, nh) = UpdateTree.prove(n, 0);
        (, nc) = UpdateTree.prove(n, 1);
        nanProof = UpdateTree.nonFiniteProof(nh, nc, 8);
    }

    // ------------------------------------------------------------ views for the invariants

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function stakerGhost(address who) external view returns (uint256 active, uint256 unbonding, Req[] memory reqs) {
        return (gActive[who], gUnbonding[who], gReqs[who]);
    }

    /// @notice The tracked actors (then the RoundManager and the StakeManager) and their expected balances.
    function expectedBalances() external view returns (address[] memory who, uint256[] memory expected) {
        uint256 n = actors.length;
        who = new address[](n + 2);
        expected = new uint256[](n + 2);
        for (uint256 i; i < n; ++i) {
            who[i] = actors[i];
        }
        who[n] = address(rm);
        who[n + 1] = address(sm);
        for (uint256 i; i < n + 2; ++i) {
            expected[i] = expectedBalance[who[i]];
        }
    }

    /// @notice The ghost's books (coordinators: [coordA, coordB]).
    struct Books {
        uint256 pool;
        uint256 treasuryOwed;
        uint256 deposits;
        uint256 roundCount;
        uint256 activeRounds;
        uint256 disputeCount;
        bool paused;
        uint256 totalStaked;
        uint256 totalLocked;
        uint256[2] bond;
        uint256[2] openRounds;
        uint256[2] lockedBudget;
    }

    function books() external view returns (Books memory b) {
        b.pool = gPool;
        b.treasuryOwed = gTreasuryOwed;
        b.deposits = gDeposits;
        b.roundCount = gRoundCount;
        b.activeRounds = gActiveRounds;
        b.disputeCount = gDisputes.length;
        b.paused = gPaused;
        b.totalStaked = gTotalStaked;
        b.totalLocked = gTotalLocked;
        b.bond = [gBond[coordA], gBond[coordB]];
        b.openRounds = [gOpenRounds[coordA], gOpenRounds[coordB]];
        b.lockedBudget = [gLockedBudget[coordA], gLockedBudget[coordB]];
    }

    function roundClaimed(uint256 id) external view returns (uint256) {
        return gRounds[id].claimed;
    }

    function roundGhost(uint256 id)
        external
        view
        returns (IRoundManager.RoundStatus status, uint256 slashed, bool voided, uint256 totalRewards, uint256 budget)
    {
        GRound storage r = gRounds[id];
        return (r.status, r.slashed, r.voided, r.totalRewards, r.budget);
    }

    function disputeGhost(uint256 id) external view returns (IRoundManager.DisputeStatus) {
        return gDisputes[id - 1].status;
    }

    function disputeGhostCount() external view returns (uint256) {
        return gDisputes.length;
    }

    function slashStateGhost(uint256 id, address who) external view returns (IRoundManager.SlashState) {
        return gSlashState[id][who];
    }

    // ------------------------------------------------------------ call helpers

    modifier step() {
        vm.warp(gNow);
        _;
    }

    function _warpTo(uint256 t) internal {
        if (t > gNow) {
            gNow = t;
            vm.warp(t);
        }
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (hi <= lo) return lo;
        return lo + (x % (hi - lo + 1));
    }

    function _rand(uint256 seed, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    /// @dev A call predicted to succeed.
    function _ok(Act act, address from, address target, bytes memory data) internal returns (bytes memory ret) {
        bool ok;
        vm.prank(from);
        (ok, ret) = target.call(data);
        if (!ok) revert UnexpectedRevert(act, ret);
    }

    /// @dev A call predicted to revert (with `selector` unless 0): nothing may change.
    function _bad(Act act, address from, address target, bytes memory data, bytes4 selector) internal {
        bytes32 before = fingerprint();
        vm.prank(from);
        (bool ok, bytes memory ret) = target.call(data);
        if (ok) revert UnexpectedSuccess(act);
        if (selector != bytes4(0) && (ret.length < 4 || bytes4(ret) != selector)) revert WrongRevert(act, ret);
        if (fingerprint() != before) revert StateChanged(act);
        ++done[uint256(act)];
    }

    /// @notice Every tracked balance and the contracts' totals.
    function fingerprint() public view returns (bytes32 h) {
        for (uint256 i; i < actors.length; ++i) {
            h = keccak256(abi.encode(h, token.balanceOf(actors[i])));
        }
        h = keccak256(
            abi.encode(
                h,
                token.balanceOf(address(rm)),
                token.balanceOf(address(sm)),
                rm.rewardPool(),
                rm.totalBonds(),
                rm.treasuryOwed(),
                rm.totalDisputeDeposits(),
                rm.roundCount(),
                rm.disputeCount(),
                sm.totalStaked(),
                sm.totalLocked()
            )
        );
    }

    function _pay(address from, address to, uint256 amount) internal {
        expectedBalance[from] -= amount;
        expectedBalance[to] += amount;
    }

    // ------------------------------------------------------------ ghost stake model (mirrors the StakeManager spec)

    /// @dev Lock `bps` of `who`'s stake: active first, then the unbond requests releasing last.
    function _gLock(address who, uint256 bps) internal returns (uint256 amount, uint256 fromUnb, uint64 releaseAt) {
        uint256 active = gActive[who];
        amount = (active + gUnbonding[who]) * bps / BPS;
        if (amount > active) {
            fromUnb = amount - active;
            gActive[who] = 0;
            gUnbonding[who] -= fromUnb;
            releaseAt = _gTake(gReqs[who], fromUnb);
        } else {
            gActive[who] = active - amount;
        }
        gTotalStaked -= amount;
        gTotalLocked += amount;
    }

    function _gTake(Req[] storage reqs, uint256 amount) internal returns (uint64 releaseAt) {
        while (amount != 0) {
            uint256 best = type(uint256).max;
            for (uint256 i; i < reqs.length; ++i) {
                if (reqs[i].amount != 0 && (best == type(uint256).max || reqs[i].releaseAt > reqs[best].releaseAt)) {
                    best = i;
                }
            }
            Req storage r = reqs[best];
            uint256 take = r.amount < amount ? r.amount : amount;
            if (releaseAt == 0) releaseAt = r.releaseAt;
            r.amount -= uint128(take);
            amount -= take;
        }
        uint256 kept;
        uint256 len = reqs.length;
        for (uint256 i; i < len; ++i) {
            if (reqs[i].amount == 0) continue;
            if (kept != i) reqs[kept] = reqs[i];
            ++kept;
        }
        for (uint256 i = kept; i < len; ++i) {
            reqs.pop();
        }
    }

    /// @dev Return a locked slash where it came from.
    function _gUnlock(address who, uint256 amount, uint256 fromUnb, uint64 releaseAt) internal {
        gActive[who] += amount - fromUnb;
        if (fromUnb != 0) {
            gUnbonding[who] += fromUnb;
            Req[] storage reqs = gReqs[who];
            if (reqs.length < 16) {
                reqs.push(Req({amount: uint128(fromUnb), releaseAt: releaseAt}));
            } else {
                uint256 best;
                for (uint256 i = 1; i < reqs.length; ++i) {
                    if (reqs[i].releaseAt > reqs[best].releaseAt) best = i;
                }
                reqs[best].amount += uint128(fromUnb);
                if (releaseAt > reqs[best].releaseAt) reqs[best].releaseAt = releaseAt;
            }
        }
        gTotalLocked -= amount;
        gTotalStaked += amount;
    }

    function _released(address who) internal view returns (uint256 amount, uint64 earliest) {
        Req[] storage reqs = gReqs[who];
        for (uint256 i; i < reqs.length; ++i) {
            if (reqs[i].releaseAt <= gNow) amount += reqs[i].amount;
            else if (earliest == 0 || reqs[i].releaseAt < earliest) earliest = reqs[i].releaseAt;
        }
    }

    // ------------------------------------------------------------ participants

    function stake(uint256 who, uint256 amount) external step {
        address a = parts[who % NP];
        uint256 active = gActive[a];
        uint256 lo = active >= minStake ? 1 : minStake - active;
        amount = _bound(amount, lo, lo + 1_000e18);
        if (expectedBalance[a] < amount) return;
        bytes memory data = abi.encodeCall(IStakeManager.stake, (amount));
        if (gPaused) return _bad(Act.RevertWhilePaused, a, address(sm), data, IPausableErrors.EnforcedPause.selector);
        _ok(Act.Stake, a, address(sm), data);
        gActive[a] = active + amount;
        gTotalStaked += amount;
        _pay(a, address(sm), amount);
        ++done[uint256(Act.Stake)];
    }

    function topUp(uint256 who, uint256 amount) external step {
        address a = parts[who % NP];
        uint256 active = gActive[a];
        uint256 lo = active >= minStake ? 1 : minStake - active;
        amount = _bound(amount, lo, lo + 500e18);
        if (expectedBalance[a] < amount) return;
        bytes memory data = abi.encodeCall(IStakeManager.topUp, (amount));
        if (gPaused) return _bad(Act.RevertWhilePaused, a, address(sm), data, IPausableErrors.EnforcedPause.selector);
        if (active == 0) return _bad(Act.RevertOutOfOrder, a, address(sm), data, IStakeManager.NotStaked.selector);
        _ok(Act.TopUp, a, address(sm), data);
        gActive[a] = active + amount;
        gTotalStaked += amount;
        _pay(a, address(sm), amount);
        ++done[uint256(Act.TopUp)];
    }

    function requestUnbond(uint256 who, uint256 amount) external step {
        address a = parts[who % NP];
        uint256 active = gActive[a];
        if (active == 0) return;
        amount = _bound(amount, 1, active);
        if (active - amount != 0 && active - amount < minStake) amount = active;
        bytes memory data = abi.encodeCall(IStakeManager.requestUnbond, (amount));
        if (gReqs[a].length >= 16) {
            return _bad(Act.RevertOutOfOrder, a, address(sm), data, IStakeManager.TooManyUnbondRequests.selector);
        }
        _ok(Act.Unbond, a, address(sm), data);
        gActive[a] = active - amount;
        gUnbonding[a] += amount;
        gReqs[a].push(Req({amount: uint128(amount), releaseAt: uint64(gNow) + unbondingDelay}));
        ++done[uint256(Act.Unbond)];
    }

    /// @dev Withdraw the released requests; with nothing released, one time in eight warp to the earliest release
    ///      (the whole unbonding delay, which also runs every open round past its deadlines).
    function withdraw(uint256 who, uint256 warpSeed) external step {
        address a = parts[who % NP];
        (uint256 amount, uint64 earliest) = _released(a);
        bool warped;
        if (amount == 0) {
            bytes memory data = abi.encodeCall(IStakeManager.withdraw, ());
            if (earliest == 0 || warpSeed % 8 != 0) {
                return _bad(Act.RevertOutOfOrder, a, address(sm), data, IStakeManager.NothingToWithdraw.selector);
            }
            _warpTo(earliest);
            warped = true;
            (amount,) = _released(a);
        }
        bytes memory ret = _ok(Act.Withdraw, a, address(sm), abi.encodeCall(IStakeManager.withdraw, ()));
        if (abi.decode(ret, (uint256)) != amount) revert GhostMismatch("withdrawn amount");
        Req[] storage reqs = gReqs[a];
        uint256 kept;
        uint256 len = reqs.length;
        for (uint256 i; i < len; ++i) {
            if (reqs[i].releaseAt <= gNow) continue;
            if (kept != i) reqs[kept] = reqs[i];
            ++kept;
        }
        for (uint256 i = kept; i < len; ++i) {
            reqs.pop();
        }
        gUnbonding[a] -= amount;
        gTotalStaked -= amount;
        _pay(address(sm), a, amount);
        ++done[uint256(warped ? Act.WithdrawAfterWarp : Act.Withdraw)];
    }

    // ------------------------------------------------------------ bonds and pool

    function _coord(uint256 seed) internal view returns (address) {
        return seed % 3 == 0 ? coordB : coordA;
    }

    function postBond(uint256 c, uint256 amount) external step {
        address co = _coord(c);
        amount = _bound(amount, 1, 3_000e18);
        if (expectedBalance[co] < amount) return;
        bytes memory data = abi.encodeCall(IRoundManager.postBond, (amount));
        if (gPaused) return _bad(Act.RevertWhilePaused, co, address(rm), data, IPausableErrors.EnforcedPause.selector);
        _ok(Act.PostBond, co, address(rm), data);
        gBond[co] += amount;
        _pay(co, address(rm), amount);
        ++done[uint256(Act.PostBond)];
    }

    /// @dev Withdraw bond, from a coordinator without unsettled rounds when there is one (else BondLocked).
    function withdrawBond(uint256 c, uint256 amount) external step {
        address co = _coord(c);
        if (gOpenRounds[co] != 0) co = co == coordA ? coordB : coordA;
        if (gOpenRounds[co] != 0 && c % 2 == 0) co = co == coordA ? coordB : coordA;
        uint256 bond = gBond[co];
        if (bond == 0) return;
        // three times in four keep the minimum bond (a coordinator that withdraws everything cannot open rounds)
        amount = c % 4 != 0 && bond > minBond ? _bound(amount, 1, bond - minBond) : _bound(amount, 1, bond);
        bytes memory data = abi.encodeCall(IRoundManager.withdrawBond, (amount));
        if (gOpenRounds[co] != 0) {
            return _bad(Act.RevertOutOfOrder, co, address(rm), data, IRoundManager.BondLocked.selector);
        }
        _ok(Act.WithdrawBond, co, address(rm), data);
        gBond[co] = bond - amount;
        _pay(address(rm), co, amount);
        ++done[uint256(Act.WithdrawBond)];
    }

    function fund(uint256 amount) external step {
        amount = _bound(amount, 1, 10_000e18);
        if (expectedBalance[funder] < amount) return;
        _ok(Act.Fund, funder, address(rm), abi.encodeCall(IRoundManager.fundRewardPool, (amount)));
        gPool += amount;
        _pay(funder, address(rm), amount);
        ++done[uint256(Act.Fund)];
    }

    // ------------------------------------------------------------ rounds

    function _pleaves(uint256 id, uint256 mask) internal view returns (bytes32[] memory leaves) {
        uint256 k;
        for (uint256 i; i < NP; ++i) {
            if ((mask >> i) & 1 == 1) ++k;
        }
        leaves = new bytes32[](k);
        k = 0;
        for (uint256 i; i < NP; ++i) {
            if ((mask >> i) & 1 == 1) leaves[k++] = P.participantLeaf(id, parts[i]);
        }
    }

    /// @dev Position of parts[i] among the selected (mask) participants.
    function _pos(uint256 mask, uint256 i) internal pure returns (uint256 k) {
        for (uint256 j; j < i; ++j) {
            if ((mask >> j) & 1 == 1) ++k;
        }
    }

    function _count(uint256 mask) internal pure returns (uint32 k) {
        for (uint256 i; i < NP; ++i) {
            if ((mask >> i) & 1 == 1) ++k;
        }
    }

    function _paramsFor(uint256 id, uint256 mask) internal view returns (IRoundManager.RoundParams memory) {
        return IRoundManager.RoundParams({
            globalModelHash: globalHash,
            configHash: keccak256("invariant config"),
            participantsRoot: Merkle.root(_pleaves(id, mask))
        });
    }

    /// @dev Round `id` in one of the statuses in `statusMask` (bit = status), searched from `seed`; 0 if none.
    function _findRound(uint256 seed, uint256 statusMask) internal view returns (uint256) {
        uint256 n = gRoundCount;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 id = 1 + (start + k) % n;
            if ((statusMask >> uint8(gRounds[id].status)) & 1 == 1) return id;
        }
        return 0;
    }

    /// @dev Like _findRound, preferring a round whose relevant deadline has not passed: an open round before its
    ///      finalize deadline (live = 0), a finalized round inside its challenge window (live = 1; with
    ///      `needSlashes`, one with a judged slash still undisputed). Falls back to _findRound (whose call must
    ///      then revert, or pick a slash that cannot be disputed).
    function _findLive(uint256 seed, uint256 live, bool needSlashes) internal view returns (uint256) {
        uint256 n = gRoundCount;
        if (n == 0) return 0;
        uint256 start = seed % n;
        IRoundManager.RoundStatus want =
            live == 0 ? IRoundManager.RoundStatus.Open : IRoundManager.RoundStatus.Finalized;
        for (uint256 k; k < n; ++k) {
            uint256 id = 1 + (start + k) % n;
            GRound storage r = gRounds[id];
            if (r.status != want || (needSlashes && !_hasDisputable(id))) continue;
            if (gNow <= (live == 0 ? r.finalizeDeadline : r.challengeDeadline)) return id;
        }
        return _findRound(seed, live == 0 ? OPEN : FINALIZED);
    }

    /// @dev Whether round `id` has a judged slash not disputed yet.
    function _hasDisputable(uint256 id) internal view returns (bool) {
        IRoundManager.SlashEntry[] storage e = gEntries[id];
        for (uint256 i; i < e.length; ++i) {
            if (!P.isProvable(e[i].reason) && gSlashState[id][e[i].participant] == IRoundManager.SlashState.None) {
                return true;
            }
        }
        return false;
    }

    uint256 internal constant OPEN = 1 << uint8(IRoundManager.RoundStatus.Open);
    uint256 internal constant FINALIZED = 1 << uint8(IRoundManager.RoundStatus.Finalized);
    uint256 internal constant SETTLED = 1 << uint8(IRoundManager.RoundStatus.Settled);

    struct OpenArgs {
        address co;
        uint256 id;
        uint96 budget;
        uint40 deadline;
        uint256 mask;
        IRoundManager.RoundParams params;
    }

    /// @dev Open the next round (a third of the time by the second coordinator, which runs one round at a time,
    ///      so that it is regularly free to withdraw its bond), over a random subset of the participants; a
    ///      quarter of the time first try the stale id (another coordinator took it) — reverts.
    function open(uint256 c, uint256 budget, uint256 duration, uint256 maskSeed, uint256 flags) external step {
        OpenArgs memory o;
        o.co = _coord(c);
        if (o.co == coordB && gOpenRounds[coordB] != 0) o.co = coordA;
        o.id = gRoundCount + 1;
        o.mask = _bound(maskSeed, 1, (1 << NP) - 1);
        o.deadline = uint40(gNow + _bound(duration, 1 hours, maxRound));
        o.params = _paramsFor(o.id, o.mask);
        uint256 maxBudget = gBond[o.co] * bondMultiple;
        maxBudget = maxBudget > gLockedBudget[o.co] ? maxBudget - gLockedBudget[o.co] : 0;
        if (maxBudget > gPool) maxBudget = gPool;
        if (maxBudget > 5_000e18) maxBudget = 5_000e18;
        o.budget = uint96(_bound(budget, 0, maxBudget));
        if (flags % 4 == 0) {
            _bad(
                Act.RevertStaleOpenId,
                o.co,
                address(rm),
                _openData(o, o.id - 1),
                gPaused ? IPausableErrors.EnforcedPause.selector : IRoundManager.UnexpectedRoundId.selector
            );
        }
        if (gPaused) {
            return
                _bad(
                    Act.RevertWhilePaused, o.co, address(rm), _openData(o, o.id), IPausableErrors.EnforcedPause.selector
                );
        }
        if (gBond[o.co] < minBond) {
            return
                _bad(
                    Act.RevertOutOfOrder, o.co, address(rm), _openData(o, o.id), IRoundManager.InsufficientBond.selector
                );
        }
        bytes memory ret = _ok(Act.Open, o.co, address(rm), _openData(o, o.id));
        if (abi.decode(ret, (uint256)) != o.id) revert GhostMismatch("opened round id");
        gPool -= o.budget;
        gLockedBudget[o.co] += o.budget;
        ++gOpenRounds[o.co];
        ++gActiveRounds;
        gRoundCount = o.id;
        GRound storage r = gRounds[o.id];
        r.coordinator = o.co;
        r.budget = o.budget;
        r.status = IRoundManager.RoundStatus.Open;
        r.finalizeDeadline = o.deadline;
        r.mask = o.mask;
        r.params = o.params;
        ++done[uint256(o.co == coordB ? Act.OpenBySecondCoordinator : Act.Open)];
    }

    function _openData(OpenArgs memory o, uint256 expectedId) internal pure returns (bytes memory) {
        return abi.encodeCall(IRoundManager.openRound, (expectedId, o.params, _count(o.mask), o.budget, o.deadline));
    }

    // ------------------------------------------------------------ finalize

    /// @dev Slash kinds: 0..3 judged, 4 null update, 5 equivocation, 6 malformed (header), 7 malformed (NaN).
    function _kind(uint256 seed, uint256 i) internal pure returns (uint256) {
        return _rand(seed, 100 + i) % 8;
    }

    function _sign(uint256 i, uint256 id, bytes32 uh, uint64 n) internal view returns (bytes memory) {
        bytes32 digest = rm.commitmentDigest(id, parts[i], globalHash, uh, n);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pks[i], digest);
        return abi.encodePacked(r, s, v);
    }

    function _evidence(uint256 id, uint256 mask, uint256 i, uint256 kind, uint256 seed)
        internal
        view
        returns (IRoundManager.SlashEvidence memory e)
    {
        e.participant = parts[i];
        e.updateHash = keccak256(abi.encode("update", id, i));
        e.numExamples = 100;
        e.proof = Merkle.proof(_pleaves(id, mask), _pos(mask, i));
        if (kind < 4) {
            uint8[5] memory judged =
                [P.REASON_FORGED_HASH, P.REASON_BYZANTINE, P.REASON_SYBIL, P.REASON_FREE_RIDER, P.REASON_BAD_EXAMPLES];
            e.reason = judged[_rand(seed, 200 + i) % 5];
            e.slashBps = uint16(_bound(_rand(seed, 300 + i), 1, maxJudgedBps));
        } else {
            e.slashBps = provableBps;
            if (kind == 4) {
                e.reason = P.REASON_NULL_UPDATE;
                e.updateHash = globalHash;
            } else if (kind == 5) {
                e.reason = P.REASON_EQUIVOCATION;
                bytes32 other = keccak256(abi.encode("other update", id, i));
                e.faultProof = abi.encode(other, uint64(100), _sign(i, id, other, 100));
            } else {
                e.reason = P.REASON_MALFORMED;
                e.updateHash = kind == 6 ? mismatchHash : nanHash;
                e.faultProof = kind == 6 ? mismatchProof : nanProof;
            }
        }
        e.signature = _sign(i, id, e.updateHash, e.numExamples);
    }

    function _slashes(uint256 id, uint256 mask, uint256 seed)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        uint256 k;
        uint256 pick;
        for (uint256 i; i < NP; ++i) {
            if ((mask >> i) & 1 == 1 && _rand(seed, i) % 2 == 0) {
                pick |= 1 << i;
                ++k;
            }
        }
        s = new IRoundManager.SlashEvidence[](k);
        k = 0;
        for (uint256 t; t < NP; ++t) {
            uint256 i = sortedIdx[t];
            if ((pick >> i) & 1 == 1) s[k++] = _evidence(id, mask, i, _kind(seed, i), seed);
        }
    }

    /// @dev Rewards for each selected participant and, with `rogue`, a leaf paying the round's coordinator (not
    ///      selected: its claim must revert). Σ rewards ≤ budget.
    function _result(uint256 id, uint256 seed, bool rogue) internal returns (IRoundManager.RoundResult memory res) {
        GRound storage r = gRounds[id];
        delete gLeaves[id];
        Leaf[] storage ls = gLeaves[id];
        uint256 left = r.budget;
        for (uint256 i; i < NP; ++i) {
            if ((r.mask >> i) & 1 == 0) continue;
            uint256 rw = _rand(seed, 400 + i) % (left / 2 + 1);
            left -= rw;
            ls.push(
                Leaf({
                    who: parts[i],
                    updateHash: keccak256(abi.encode("update", id, i)),
                    reward: rw,
                    selected: true,
                    claimed: false
                })
            );
        }
        if (rogue) {
            uint256 rw = _rand(seed, 500) % (left / 2 + 1);
            left -= rw;
            ls.push(
                Leaf({who: r.coordinator, updateHash: keccak256("rogue"), reward: rw, selected: false, claimed: false})
            );
        }
        (bytes32[] memory hashes, uint256[] memory amounts) = _leafHashes(id);
        (bytes32 root, uint256 total) = SumTrees.root(hashes, amounts);
        res.aggregateHash = keccak256(abi.encode("aggregate", id));
        res.resultsRoot = root;
        res.totalRewards = uint128(total);
        res.decisionHash = keccak256(abi.encode("decision", id));
        res.artifactsURI = "cas://invariant";
    }

    function _leafHashes(uint256 id) internal view returns (bytes32[] memory hashes, uint256[] memory amounts) {
        Leaf[] storage ls = gLeaves[id];
        hashes = new bytes32[](ls.length);
        amounts = new uint256[](ls.length);
        for (uint256 i; i < ls.length; ++i) {
            hashes[i] = P.resultLeaf(id, ls[i].who, ls[i].updateHash, SCORE, ls[i].reward);
            amounts[i] = ls[i].reward;
        }
    }

    function _finalizeData(uint256 id, IRoundManager.RoundResult memory res, IRoundManager.SlashEvidence[] memory s)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(IRoundManager.finalizeRound, (id, gRounds[id].params, res, s));
    }

    /// @dev Finalize an open round with a random result (a quarter of the time with a rogue leaf) and random
    ///      slashes of every kind; past its deadline, the finalize must revert.
    function finalize(uint256 roundSeed, uint256 slashSeed, uint256 rewardSeed) external step {
        uint256 id = _findLive(roundSeed, 0, false);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        IRoundManager.RoundResult memory res = _result(id, rewardSeed, rewardSeed % 4 == 0);
        IRoundManager.SlashEvidence[] memory s = _slashes(id, r.mask, slashSeed);
        bytes memory data = _finalizeData(id, res, s);
        if (gPaused) {
            return _bad(Act.RevertWhilePaused, r.coordinator, address(rm), data, IPausableErrors.EnforcedPause.selector);
        }
        if (gNow > r.finalizeDeadline) {
            return
                _bad(
                    Act.RevertOutOfOrder,
                    r.coordinator,
                    address(rm),
                    data,
                    IRoundManager.FinalizeDeadlinePassed.selector
                );
        }
        _ok(Act.Finalize, r.coordinator, address(rm), data);
        r.status = IRoundManager.RoundStatus.Finalized;
        r.challengeDeadline = uint40(gNow) + challengeWindow;
        r.disputeDeadline = r.challengeDeadline + disputeWindow;
        r.totalRewards = res.totalRewards;
        _applySlashes(id, s);
        ++done[uint256(Act.Finalize)];
        if (rewardSeed % 4 == 0) ++done[uint256(Act.FinalizeRogueLeaf)];
    }

    /// @dev The ghost locks of the applied slashes; their fold must be the round's slashesHash.
    function _applySlashes(uint256 id, IRoundManager.SlashEvidence[] memory s) internal {
        GRound storage r = gRounds[id];
        bytes32 h;
        for (uint256 i; i < s.length; ++i) {
            (uint256 amount, uint256 fromUnb, uint64 releaseAt) = _gLock(s[i].participant, s[i].slashBps);
            IRoundManager.SlashEntry memory e = IRoundManager.SlashEntry({
                participant: s[i].participant,
                amount: uint96(amount),
                reason: s[i].reason,
                fromUnbonding: uint96(fromUnb),
                releaseAt: releaseAt
            });
            gEntries[id].push(e);
            r.slashed += amount;
            h = keccak256(abi.encode(h, e.participant, amount, e.reason, fromUnb, releaseAt));
            if (P.isProvable(e.reason)) {
                if (sm.stakeOf(e.participant).jailedUntilRound < id + 10) {
                    revert GhostMismatch("provable fault not jailed");
                }
                if (e.reason == P.REASON_NULL_UPDATE) ++done[uint256(Act.FinalizeNullUpdate)];
                else if (e.reason == P.REASON_EQUIVOCATION) ++done[uint256(Act.FinalizeEquivocation)];
                else ++done[uint256(Act.FinalizeMalformed)];
            } else {
                ++done[uint256(Act.FinalizeJudgedSlash)];
            }
        }
        if (h != rm.getRound(id).slashesHash) revert GhostMismatch("slashesHash");
    }

    function _closeRound(GRound storage r) internal {
        --gOpenRounds[r.coordinator];
        gLockedBudget[r.coordinator] -= r.budget;
        --gActiveRounds;
    }

    /// @dev Half the time a round that is due (settle: finalized, challenge window over, no dispute blocking;
    ///      expire: open past its finalize deadline) if there is one; else any round in the status (whose call
    ///      must revert, or warp first).
    function _findDue(uint256 seed, bool settling) internal view returns (uint256) {
        uint256 n = gRoundCount;
        if (n == 0) return 0;
        if (seed % 2 == 0) {
            uint256 start = (seed >> 1) % n;
            for (uint256 k; k < n; ++k) {
                uint256 id = 1 + (start + k) % n;
                GRound storage r = gRounds[id];
                if (settling) {
                    if (
                        r.status == IRoundManager.RoundStatus.Finalized && gNow > r.challengeDeadline
                            && r.openSlash == 0 && (r.openResult == 0 || gNow > r.disputeDeadline)
                    ) return id;
                } else if (r.status == IRoundManager.RoundStatus.Open && gNow > r.finalizeDeadline) {
                    return id;
                }
            }
        }
        return _findRound(seed >> 1, settling ? FINALIZED : OPEN);
    }

    function settle(uint256 roundSeed, uint256 warpSeed) external step {
        uint256 id = _findDue(roundSeed, true);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        bytes memory data = abi.encodeCall(IRoundManager.settleRound, (id));
        if (gNow <= r.challengeDeadline) {
            if (warpSeed % 4 != 0) {
                return
                    _bad(Act.RevertOutOfOrder, stranger, address(rm), data, IRoundManager.ChallengeWindowOpen.selector);
            }
            _warpTo(uint256(r.challengeDeadline) + 1);
        }
        if (r.openSlash != 0 || (r.openResult != 0 && gNow <= r.disputeDeadline)) {
            return _bad(Act.RevertOutOfOrder, stranger, address(rm), data, IRoundManager.DisputesPending.selector);
        }
        _ok(Act.Settle, stranger, address(rm), data);
        r.status = IRoundManager.RoundStatus.Settled;
        uint256 toPool = r.slashed * poolBps / BPS;
        gPool += r.budget - (r.voided ? 0 : r.totalRewards) + toPool;
        gTreasuryOwed += r.slashed - toPool;
        gTotalLocked -= r.slashed;
        _pay(address(sm), address(rm), r.slashed);
        _closeRound(r);
        ++done[uint256(r.slashed != 0 ? Act.SettleWithSlashes : Act.Settle)];
    }

    function expire(uint256 roundSeed, uint256 warpSeed) external step {
        uint256 id = _findDue(roundSeed, false);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        bytes memory data = abi.encodeCall(IRoundManager.expireRound, (id));
        if (gNow <= r.finalizeDeadline) {
            if (warpSeed % 8 != 0) {
                return _bad(
                    Act.RevertOutOfOrder, stranger, address(rm), data, IRoundManager.FinalizeDeadlineNotPassed.selector
                );
            }
            _warpTo(uint256(r.finalizeDeadline) + 1);
        }
        _ok(Act.Expire, stranger, address(rm), data);
        r.status = IRoundManager.RoundStatus.Expired;
        gPool += r.budget;
        _closeRound(r);
        ++done[uint256(Act.Expire)];
    }

    /// @dev The guardian cancels an open or finalized round (a third of the calls; cancelling is rare in
    ///      practice); a non-empty slash list presented wrong must revert first.
    function cancel(uint256 roundSeed, uint256 gate) external step {
        if (gate % 3 != 0) return;
        uint256 id = _findRound(roundSeed, OPEN | FINALIZED);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        IRoundManager.SlashEntry[] memory e = gEntries[id];
        if (e.length != 0) {
            IRoundManager.SlashEntry[] memory wrong = gEntries[id];
            wrong[0].amount += 1;
            _bad(
                Act.RevertOutOfOrder,
                pauser,
                address(rm),
                abi.encodeCall(IRoundManager.cancelRound, (id, wrong)),
                IRoundManager.SlashListMismatch.selector
            );
        }
        _ok(Act.CancelOpen, pauser, address(rm), abi.encodeCall(IRoundManager.cancelRound, (id, e)));
        bool wasOpen = r.status == IRoundManager.RoundStatus.Open;
        r.status = IRoundManager.RoundStatus.Cancelled;
        gPool += r.budget;
        _closeRound(r);
        for (uint256 i; i < e.length; ++i) {
            if (gSlashState[id][e[i].participant] == IRoundManager.SlashState.Reverted) continue;
            gSlashState[id][e[i].participant] = IRoundManager.SlashState.Reverted;
            r.slashed -= e[i].amount;
            _gUnlock(e[i].participant, e[i].amount, e[i].fromUnbonding, e[i].releaseAt);
        }
        ++done[uint256(wasOpen ? Act.CancelOpen : Act.CancelFinalized)];
    }

    // ------------------------------------------------------------ disputes

    function disputeSlash(uint256 roundSeed, uint256 idx, uint256 deposit) external step {
        uint256 id = _findLive(roundSeed, 1, true);
        if (id == 0 || gEntries[id].length == 0) return;
        GRound storage r = gRounds[id];
        IRoundManager.SlashEntry[] memory e = gEntries[id];
        idx = _disputable(id, e, idx);
        address p = e[idx].participant;
        deposit = _bound(deposit, minDeposit, 3 * minDeposit);
        if (expectedBalance[p] < deposit) return;
        bytes memory data = abi.encodeCall(IRoundManager.disputeSlash, (id, e, idx, deposit, keccak256("evidence")));
        if (P.isProvable(e[idx].reason)) {
            return _bad(Act.RevertProvenSlashDispute, p, address(rm), data, IRoundManager.ProvenSlash.selector);
        }
        if (gSlashState[id][p] != IRoundManager.SlashState.None) {
            return _bad(Act.RevertOutOfOrder, p, address(rm), data, IRoundManager.SlashNotDisputable.selector);
        }
        if (gNow > r.challengeDeadline) {
            return _bad(Act.RevertOutOfOrder, p, address(rm), data, IRoundManager.ChallengeWindowClosed.selector);
        }
        bytes memory ret = _ok(Act.DisputeSlash, p, address(rm), data);
        gSlashState[id][p] = IRoundManager.SlashState.Disputed;
        ++r.openSlash;
        gDisputes.push(
            GDispute({
                roundId: id,
                disputer: p,
                kind: IRoundManager.DisputeKind.Slash,
                status: IRoundManager.DisputeStatus.Open,
                participant: p,
                deposit: deposit,
                amount: e[idx].amount,
                fromUnbonding: e[idx].fromUnbonding,
                releaseAt: e[idx].releaseAt
            })
        );
        if (abi.decode(ret, (uint256)) != gDisputes.length) revert GhostMismatch("dispute id");
        gDeposits += deposit;
        _pay(p, address(rm), deposit);
        ++done[uint256(Act.DisputeSlash)];
    }

    /// @dev Three times in four an entry its participant can still dispute (judged, undisputed) if there is
    ///      one; else any entry (a provable or already disputed slash: the dispute must revert).
    function _disputable(uint256 id, IRoundManager.SlashEntry[] memory e, uint256 seed)
        internal
        view
        returns (uint256)
    {
        uint256 n = e.length;
        if (seed % 4 != 0) {
            for (uint256 k; k < n; ++k) {
                uint256 i = ((seed >> 2) % n + k) % n;
                if (!P.isProvable(e[i].reason) && gSlashState[id][e[i].participant] == IRoundManager.SlashState.None) {
                    return i;
                }
            }
        }
        return (seed >> 2) % n;
    }

    function disputeResult(uint256 roundSeed, uint256 who, uint256 deposit) external step {
        uint256 id = _findLive(roundSeed, 1, false);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        address d = who % 2 == 0 ? disputer : parts[who % NP];
        deposit = _bound(deposit, minDeposit, 3 * minDeposit);
        if (expectedBalance[d] < deposit) return;
        bytes memory data = abi.encodeCall(IRoundManager.disputeResult, (id, deposit, keccak256("replay differs")));
        if (gNow > r.challengeDeadline) {
            return _bad(Act.RevertOutOfOrder, d, address(rm), data, IRoundManager.ChallengeWindowClosed.selector);
        }
        bytes memory ret = _ok(Act.DisputeResult, d, address(rm), data);
        ++r.openResult;
        gDisputes.push(
            GDispute({
                roundId: id,
                disputer: d,
                kind: IRoundManager.DisputeKind.Result,
                status: IRoundManager.DisputeStatus.Open,
                participant: address(0),
                deposit: deposit,
                amount: 0,
                fromUnbonding: 0,
                releaseAt: 0
            })
        );
        if (abi.decode(ret, (uint256)) != gDisputes.length) revert GhostMismatch("dispute id");
        gDeposits += deposit;
        _pay(d, address(rm), deposit);
        ++done[uint256(Act.DisputeResult)];
    }

    /// @dev An open dispute, searched from `seed`; 0 if none.
    function _findDispute(uint256 seed) internal view returns (uint256) {
        uint256 n = gDisputes.length;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 i = (start + k) % n;
            if (gDisputes[i].status == IRoundManager.DisputeStatus.Open) return i + 1;
        }
        return 0;
    }

    /// @dev An open dispute the arbiter can still decide (round finalized, before its dispute deadline), else
    ///      any open dispute.
    function _findDecidable(uint256 seed) internal view returns (uint256) {
        uint256 n = gDisputes.length;
        if (n == 0) return 0;
        uint256 start = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 i = (start + k) % n;
            GRound storage r = gRounds[gDisputes[i].roundId];
            if (
                gDisputes[i].status == IRoundManager.DisputeStatus.Open
                    && r.status == IRoundManager.RoundStatus.Finalized && gNow <= r.disputeDeadline
            ) return i + 1;
        }
        return _findDispute(seed);
    }

    function _closeDispute(GDispute storage d, GRound storage r) internal {
        if (d.kind == IRoundManager.DisputeKind.Slash) --r.openSlash;
        else --r.openResult;
        gDeposits -= d.deposit;
    }

    function _revertSlash(GDispute storage d, GRound storage r) internal {
        gSlashState[d.roundId][d.participant] = IRoundManager.SlashState.Reverted;
        r.slashed -= d.amount;
        _gUnlock(d.participant, d.amount, d.fromUnbonding, d.releaseAt);
    }

    function _payFromBond(address co, uint256 want) internal returns (uint256 paid) {
        paid = want < gBond[co] ? want : gBond[co];
        gBond[co] -= paid;
    }

    /// @dev The arbiter (or, on the first coordinator's rounds, the second coordinator, which is an arbiter too)
    ///      decides an open dispute before the dispute deadline. The second coordinator deciding its own round's
    ///      dispute must revert.
    function resolve(uint256 disputeSeed, bool uphold, uint256 comp, uint256 arbSeed) external step {
        uint256 did = _findDecidable(disputeSeed);
        if (did == 0) return;
        GDispute storage d = gDisputes[did - 1];
        GRound storage r = gRounds[d.roundId];
        address arb = arbSeed % 3 == 0 ? coordB : arbiter;
        comp = _bound(comp, 0, 200e18);
        bytes memory data = abi.encodeCall(IRoundManager.resolveDispute, (did, uphold, comp));
        if (arb == r.coordinator) {
            return
                _bad(
                    Act.RevertArbiterIsCoordinator, arb, address(rm), data, IRoundManager.ArbiterIsCoordinator.selector
                );
        }
        if (r.status != IRoundManager.RoundStatus.Finalized) {
            return _bad(Act.RevertOutOfOrder, arb, address(rm), data, IRoundManager.InvalidRoundStatus.selector);
        }
        if (gNow > r.disputeDeadline) {
            return _bad(Act.RevertOutOfOrder, arb, address(rm), data, IRoundManager.DisputeDeadlinePassed.selector);
        }
        _ok(Act.ResolveReject, arb, address(rm), data);
        _closeDispute(d, r);
        if (!uphold) {
            d.status = IRoundManager.DisputeStatus.Rejected;
            if (d.kind == IRoundManager.DisputeKind.Slash) {
                gSlashState[d.roundId][d.participant] = IRoundManager.SlashState.Confirmed;
            }
            gPool += d.deposit;
            ++done[uint256(Act.ResolveReject)];
            return;
        }
        d.status = IRoundManager.DisputeStatus.Upheld;
        if (d.kind == IRoundManager.DisputeKind.Slash) _revertSlash(d, r);
        else r.voided = true;
        uint256 paid = _payFromBond(r.coordinator, comp);
        _pay(address(rm), d.disputer, d.deposit + paid);
        ++done[uint256(d.kind == IRoundManager.DisputeKind.Slash ? Act.ResolveUpholdSlash : Act.ResolveUpholdResult)];
    }

    /// @dev Apply an open dispute's default outcome: refund on a cancelled round; otherwise after the dispute
    ///      deadline (a quarter of the time warp there first) revert the slash with compensation / let the result stand.
    function timeout(uint256 disputeSeed, uint256 warpSeed) external step {
        uint256 did = _findDispute(disputeSeed);
        if (did == 0) return;
        GDispute storage d = gDisputes[did - 1];
        GRound storage r = gRounds[d.roundId];
        bytes memory data = abi.encodeCall(IRoundManager.timeoutDispute, (did));
        uint256 paid;
        Act act;
        if (r.status == IRoundManager.RoundStatus.Cancelled) {
            _ok(Act.TimeoutRefund, stranger, address(rm), data);
            d.status = IRoundManager.DisputeStatus.Refunded;
            act = Act.TimeoutRefund;
        } else {
            if (gNow <= r.disputeDeadline) {
                if (warpSeed % 4 != 0) {
                    return _bad(
                        Act.RevertOutOfOrder,
                        stranger,
                        address(rm),
                        data,
                        IRoundManager.DisputeDeadlineNotPassed.selector
                    );
                }
                _warpTo(uint256(r.disputeDeadline) + 1);
            }
            _ok(Act.TimeoutSlash, stranger, address(rm), data);
            d.status = IRoundManager.DisputeStatus.TimedOut;
            if (d.kind == IRoundManager.DisputeKind.Slash) {
                _revertSlash(d, r);
                paid = _payFromBond(r.coordinator, d.amount * timeoutCompBps / BPS);
                act = Act.TimeoutSlash;
            } else {
                act = Act.TimeoutResult;
            }
        }
        _closeDispute(d, r);
        _pay(address(rm), d.disputer, d.deposit + paid);
        ++done[uint256(act)];
    }

    // ------------------------------------------------------------ claims and the treasury

    function _claimData(uint256 id, uint256 li, address participant) internal view returns (bytes memory) {
        GRound storage r = gRounds[id];
        Leaf storage l = gLeaves[id][li];
        (bytes32[] memory hashes, uint256[] memory amounts) = _leafHashes(id);
        (,, IRoundManager.SumProof memory sp) = SumTrees.build(hashes, amounts, li);
        // an unselected leaf gets a (valid) proof of the first selected participant: it must not do
        uint256 i;
        for (; i < NP; ++i) {
            if (parts[i] == l.who) break;
        }
        bytes32[] memory pp = Merkle.proof(_pleaves(id, r.mask), l.selected ? _pos(r.mask, i) : 0);
        return abi.encodeCall(IRoundManager.claim, (id, participant, l.updateHash, SCORE, l.reward, r.params, pp, sp));
    }

    /// @dev Claim a result leaf of a settled round (paid to the leaf's participant, whoever calls). The rogue
    ///      leaf (unselected), a second claim and a voided round's claims must revert.
    function claim(uint256 roundSeed, uint256 leafSeed, uint256 callerSeed) external step {
        uint256 id = _findRound(roundSeed, SETTLED);
        if (id == 0 || gLeaves[id].length == 0) return;
        GRound storage r = gRounds[id];
        uint256 li = leafSeed % gLeaves[id].length;
        Leaf storage l = gLeaves[id][li];
        bytes memory data = _claimData(id, li, l.who);
        address caller = callerSeed % 2 == 0 ? stranger : l.who;
        if (r.voided) return _bad(Act.RevertOutOfOrder, caller, address(rm), data, IRoundManager.RoundVoided.selector);
        if (l.claimed) {
            return _bad(Act.RevertOutOfOrder, caller, address(rm), data, IRoundManager.AlreadyClaimed.selector);
        }
        if (!l.selected) {
            return _bad(Act.RevertUnselectedClaim, caller, address(rm), data, IRoundManager.NotSelected.selector);
        }
        _ok(Act.Claim, caller, address(rm), data);
        l.claimed = true;
        r.claimed += l.reward;
        _pay(address(rm), l.who, l.reward);
        if (!rm.isClaimed(id, l.who)) revert GhostMismatch("isClaimed");
        ++done[uint256(Act.Claim)];
    }

    function claimTreasury() external step {
        bytes memory data = abi.encodeCall(IRoundManager.claimTreasury, ());
        if (gTreasuryOwed == 0) {
            return _bad(Act.RevertOutOfOrder, treasury, address(rm), data, IRoundManager.NothingOwed.selector);
        }
        bytes memory ret = _ok(Act.ClaimTreasury, treasury, address(rm), data);
        if (abi.decode(ret, (uint256)) != gTreasuryOwed) revert GhostMismatch("treasury claim");
        _pay(address(rm), treasury, gTreasuryOwed);
        gTreasuryOwed = 0;
        ++done[uint256(Act.ClaimTreasury)];
    }

    // ------------------------------------------------------------ pausing and time

    /// @dev The guardian pauses both contracts; while paused, staking, top-ups, bonds, opening and finalizing
    ///      must revert. Seven times in eight it unpauses again at once, else the system stays paused until the
    ///      next unpause call.
    function pause(uint256 seed) external step {
        if (!gPaused) _pause();
        _whilePaused(seed);
        if (seed % 8 != 0) _unpause();
    }

    /// @dev Unpause (pausing first, with the paused checks, when not paused: every call both works and counts).
    function unpause(uint256 seed) external step {
        if (!gPaused) {
            _pause();
            _whilePaused(seed);
        }
        _unpause();
    }

    function _pause() internal {
        _ok(Act.Pause, pauser, address(rm), abi.encodeCall(IFedstakeAdmin.pause, ()));
        _ok(Act.Pause, pauser, address(sm), abi.encodeCall(IFedstakeAdmin.pause, ()));
        gPaused = true;
        ++done[uint256(Act.Pause)];
        // pausing twice is refused
        _bad(
            Act.RevertOutOfOrder,
            pauser,
            address(rm),
            abi.encodeCall(IFedstakeAdmin.pause, ()),
            IPausableErrors.EnforcedPause.selector
        );
    }

    function _unpause() internal {
        _ok(Act.Unpause, pauser, address(rm), abi.encodeCall(IFedstakeAdmin.unpause, ()));
        _ok(Act.Unpause, pauser, address(sm), abi.encodeCall(IFedstakeAdmin.unpause, ()));
        gPaused = false;
        ++done[uint256(Act.Unpause)];
    }

    /// @dev The calls a pause stops (every one must revert with EnforcedPause and change nothing).
    function _whilePaused(uint256 seed) internal {
        bytes4 paused = IPausableErrors.EnforcedPause.selector;
        address a = parts[seed % NP];
        _bad(Act.RevertWhilePaused, a, address(sm), abi.encodeCall(IStakeManager.stake, (minStake)), paused);
        _bad(Act.RevertWhilePaused, a, address(sm), abi.encodeCall(IStakeManager.topUp, (1e18)), paused);
        _bad(Act.RevertWhilePaused, coordA, address(rm), abi.encodeCall(IRoundManager.postBond, (1e18)), paused);
        OpenArgs memory o;
        o.id = gRoundCount + 1;
        o.mask = 1;
        o.deadline = uint40(gNow + 1 days);
        o.params = _paramsFor(o.id, 1);
        _bad(Act.RevertWhilePaused, coordA, address(rm), _openData(o, o.id), paused);
        uint256 id = _findLive(seed, 0, false);
        if (id != 0) {
            GRound storage r = gRounds[id];
            bytes memory data = _finalizeData(id, _result(id, seed, false), _slashes(id, r.mask, seed));
            _bad(Act.RevertWhilePaused, r.coordinator, address(rm), data, paused);
        }
    }

    function warp(uint256 secs) external step {
        _warpTo(gNow + _bound(secs, 1 minutes, 1 days));
        ++done[uint256(Act.Warp)];
    }

    // ------------------------------------------------------------ hostile calls (must revert, change nothing)

    function hostile(uint256 kind, uint256 seed) external step {
        kind %= 8;
        if (kind == 0) _hostileFinalize(seed);
        else if (kind == 1) _revokedCoordinator(seed);
        else if (kind == 2) _arbiterIsCoordinator(seed);
        else if (kind == 3) _unselectedClaim(seed);
        else if (kind == 4) _strangerCalls(seed);
        else if (kind == 5) _badFaultProof(seed);
        else if (kind == 6) _notYourSlash(seed);
        else _directStakeHooks(seed);
    }

    /// @dev A stranger, and the other coordinator (which holds the role), finalize someone's open round.
    function _hostileFinalize(uint256 seed) internal {
        uint256 id = _findRound(seed, OPEN);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        bytes memory data = _finalizeData(id, _result(id, seed, false), _slashes(id, r.mask, seed));
        bytes4 paused = IPausableErrors.EnforcedPause.selector;
        _bad(
            Act.RevertStrangerFinalize,
            stranger,
            address(rm),
            data,
            gPaused ? paused : IAccessControl.AccessControlUnauthorizedAccount.selector
        );
        // the other coordinator holds the role; the coordinator check comes before the deadline check
        address other = r.coordinator == coordA ? coordB : coordA;
        _bad(
            Act.RevertWrongCoordinator,
            other,
            address(rm),
            data,
            gPaused ? paused : IRoundManager.NotRoundCoordinator.selector
        );
    }

    /// @dev The admin revokes a round's coordinator; the coordinator then cannot finalize its (valid, on-time)
    ///      round, nor open one; the role is granted back.
    function _revokedCoordinator(uint256 seed) internal {
        uint256 id = _findRound(seed, OPEN);
        if (id == 0 || gPaused) return;
        GRound storage r = gRounds[id];
        if (gNow > r.finalizeDeadline) return;
        bytes memory data = _finalizeData(id, _result(id, seed, false), _slashes(id, r.mask, seed));
        bytes32 role = rm.COORDINATOR_ROLE();
        _ok(
            Act.RevertRevokedCoordinator,
            admin,
            address(rm),
            abi.encodeCall(IFedstakeAdmin.revokeRole, (role, r.coordinator))
        );
        _bad(
            Act.RevertRevokedCoordinator,
            r.coordinator,
            address(rm),
            data,
            IAccessControl.AccessControlUnauthorizedAccount.selector
        );
        OpenArgs memory o;
        o.id = gRoundCount + 1;
        o.mask = 1;
        o.deadline = uint40(gNow + 1 days);
        o.params = _paramsFor(o.id, 1);
        _bad(
            Act.RevertRevokedCoordinator,
            r.coordinator,
            address(rm),
            _openData(o, o.id),
            IAccessControl.AccessControlUnauthorizedAccount.selector
        );
        _ok(
            Act.RevertRevokedCoordinator,
            admin,
            address(rm),
            abi.encodeCall(IFedstakeAdmin.grantRole, (role, r.coordinator))
        );
    }

    /// @dev The second coordinator (an arbiter too) decides a dispute over its own round.
    function _arbiterIsCoordinator(uint256 seed) internal {
        uint256 n = gDisputes.length;
        for (uint256 k; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            GDispute storage d = gDisputes[i];
            if (d.status != IRoundManager.DisputeStatus.Open || gRounds[d.roundId].coordinator != coordB) continue;
            _bad(
                Act.RevertArbiterIsCoordinator,
                coordB,
                address(rm),
                abi.encodeCall(IRoundManager.resolveDispute, (i + 1, seed % 2 == 0, 100e18)),
                IRoundManager.ArbiterIsCoordinator.selector
            );
            return;
        }
    }

    /// @dev Claims of unselected addresses: the stranger with a made-up leaf, and a participant left out of the
    ///      round with its own made-up leaf (both with a valid proof of someone else).
    function _unselectedClaim(uint256 seed) internal {
        uint256 id = _findRound(seed, SETTLED);
        if (id == 0) return;
        GRound storage r = gRounds[id];
        if (r.voided || gLeaves[id].length == 0) return;
        (bytes32[] memory hashes, uint256[] memory amounts) = _leafHashes(id);
        (,, IRoundManager.SumProof memory sp) = SumTrees.build(hashes, amounts, 0);
        bytes32[] memory pp = Merkle.proof(_pleaves(id, r.mask), 0);
        _bad(
            Act.RevertUnselectedClaim,
            stranger,
            address(rm),
            abi.encodeCall(IRoundManager.claim, (id, stranger, bytes32(0), SCORE, 1e18, r.params, pp, sp)),
            IRoundManager.InvalidRewardProof.selector
        );
        for (uint256 i; i < NP; ++i) {
            if ((r.mask >> i) & 1 == 1) continue;
            _bad(
                Act.RevertUnselectedClaim,
                parts[i],
                address(rm),
                abi.encodeCall(
                    IRoundManager.claim,
                    (id, parts[i], keccak256(abi.encode("update", id, i)), SCORE, amounts[0], r.params, pp, sp)
                ),
                IRoundManager.InvalidRewardProof.selector
            );
            return;
        }
    }

    /// @dev A stranger tries the guardian's, the arbiter's and the treasury's calls.
    function _strangerCalls(uint256 seed) internal {
        bytes4 denied = IAccessControl.AccessControlUnauthorizedAccount.selector;
        uint256 id = _findRound(seed, OPEN | FINALIZED);
        if (id != 0) {
            _bad(
                Act.RevertStranger,
                stranger,
                address(rm),
                abi.encodeCall(IRoundManager.cancelRound, (id, gEntries[id])),
                denied
            );
        }
        uint256 did = _findDispute(seed);
        if (did != 0) {
            _bad(
                Act.RevertStranger,
                stranger,
                address(rm),
                abi.encodeCall(IRoundManager.resolveDispute, (did, true, 1e18)),
                denied
            );
        }
        _bad(Act.RevertStranger, stranger, address(rm), abi.encodeCall(IFedstakeAdmin.pause, ()), denied);
        _bad(Act.RevertStranger, stranger, address(sm), abi.encodeCall(IFedstakeAdmin.pause, ()), denied);
        _bad(
            Act.RevertStranger,
            stranger,
            address(rm),
            abi.encodeCall(IRoundManager.claimTreasury, ()),
            IRoundManager.NotTreasury.selector
        );
        // the coordinator may not take the treasury's share either
        _bad(
            Act.RevertStranger,
            coordA,
            address(rm),
            abi.encodeCall(IRoundManager.claimTreasury, ()),
            IRoundManager.NotTreasury.selector
        );
    }

    /// @dev The round's coordinator finalizes with a provable slash whose proof does not hold (a null update that
    ///      is not the global model; a malformed-update proof for an honest update), or a judged slash above the cap.
    function _badFaultProof(uint256 seed) internal {
        uint256 id = _findRound(seed, OPEN);
        if (id == 0 || gPaused) return;
        GRound storage r = gRounds[id];
        if (gNow > r.finalizeDeadline) return;
        uint256 i;
        for (; i < NP; ++i) {
            if ((r.mask >> i) & 1 == 1) break;
        }
        IRoundManager.SlashEvidence[] memory s = new IRoundManager.SlashEvidence[](1);
        s[0] = _evidence(id, r.mask, i, 4 + seed % 2 * 2, seed); // null update or malformed (header)
        s[0].updateHash = keccak256(abi.encode("honest update", id, i));
        s[0].signature = _sign(i, id, s[0].updateHash, s[0].numExamples);
        IRoundManager.RoundResult memory res = _result(id, seed, false);
        _bad(Act.RevertBadFaultProof, r.coordinator, address(rm), _finalizeData(id, res, s), bytes4(0));
        s[0] = _evidence(id, r.mask, i, 0, seed);
        s[0].slashBps = maxJudgedBps + 1;
        _bad(
            Act.RevertBadFaultProof,
            r.coordinator,
            address(rm),
            _finalizeData(id, res, s),
            IRoundManager.InvalidSlashBps.selector
        );
    }

    /// @dev A participant disputes another participant's slash.
    function _notYourSlash(uint256 seed) internal {
        uint256 id = _findRound(seed, FINALIZED);
        if (id == 0 || gEntries[id].length == 0) return;
        IRoundManager.SlashEntry[] memory e = gEntries[id];
        uint256 idx = seed % e.length;
        address other = parts[(seed >> 8) % NP];
        if (other == e[idx].participant) other = stranger;
        _bad(
            Act.RevertNotYourSlash,
            other,
            address(rm),
            abi.encodeCall(IRoundManager.disputeSlash, (id, e, idx, minDeposit, bytes32(0))),
            bytes4(0)
        );
    }

    /// @dev Anyone but the RoundManager calling the StakeManager's slash hooks (a drain attempt).
    function _directStakeHooks(uint256 seed) internal {
        address a = parts[seed % NP];
        address[] memory who = new address[](1);
        who[0] = a;
        uint16[] memory bps = new uint16[](1);
        bps[0] = 10_000;
        bool[] memory prov = new bool[](1);
        address caller = seed % 2 == 0 ? stranger : coordA;
        bytes4 nope = IStakeManager.NotRoundManager.selector;
        _bad(
            Act.RevertDirectStakeHook,
            caller,
            address(sm),
            abi.encodeCall(IStakeManager.lockSlashes, (1, who, bps, prov)),
            nope
        );
        _bad(
            Act.RevertDirectStakeHook,
            caller,
            address(sm),
            abi.encodeCall(IStakeManager.releaseSlashed, (1, caller)),
            nope
        );
        _bad(
            Act.RevertDirectStakeHook,
            caller,
            address(sm),
            abi.encodeCall(IStakeManager.unlockSlash, (1, a, IStakeManager.SlashLock(1, 0, 0), true)),
            nope
        );
    }
}
