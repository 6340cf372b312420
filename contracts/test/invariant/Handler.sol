// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "../utils/Vm.sol";
import {Merkle} from "../utils/Merkle.sol";
import {IRM} from "../utils/IRM.sol";
import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {StakeManager} from "../../src/StakeManager.sol";
import {FedstakeProtocol as P} from "../../src/libraries/FedstakeProtocol.sol";

/// @notice Drives stake/unbond/withdraw/open/finalize/dispute/resolve/settle/expire/claim across actors,
///         keeping ghost variables for the invariants.
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    IERC20 public immutable token;
    StakeManager public immutable sm;
    IRM public immutable rm;
    address public immutable coordinator;
    address public immutable arbiter;
    address public immutable funder;

    uint256[] public pks;
    address[] public actors;

    mapping(uint256 roundId => IRoundManager.RoundParams) internal params;
    mapping(uint256 roundId => uint256[]) internal roundRewards;
    mapping(uint256 roundId => bytes32) public fingerprintAtFinalize;
    uint256[] public finalizedRounds;
    uint256[] internal openIds; // opened, not yet finalized/expired
    uint256[] internal pendingIds; // finalized, not yet settled
    uint256[] internal settledIds;
    mapping(uint256 roundId => IRoundManager.SlashEntry[]) internal roundEntries;
    mapping(uint256 roundId => mapping(address => uint256)) internal expectedSlash;
    uint256[] internal sortedIdx; // actor indices by ascending address
    mapping(uint256 roundId => mapping(address => uint256)) public ghostClaims;

    uint256 public ghostDoubleClaims;
    uint256 public ghostSlashAboveStake;
    uint256 public ghostUnbondingNotSlashed;
    uint256 public ghostUnbondingSlashes;
    uint256 public ghostClaimedTotal;
    uint256 public ghostEscrow; // budgets of open/finalized rounds + unclaimed rewards of settled rounds
    uint256 public ghostFinalizedMutations;
    uint256 public ghostClaimAboveTotal;
    uint256 public calls;

    constructor(IERC20 token_, StakeManager sm_, IRM rm_, address coord, address arb, address fund, uint256[] memory pks_) {
        token = token_;
        sm = sm_;
        rm = rm_;
        coordinator = coord;
        arbiter = arb;
        funder = fund;
        for (uint256 i; i < pks_.length; ++i) {
            pks.push(pks_[i]);
            actors.push(vm.addr(pks_[i]));
            sortedIdx.push(i);
        }
        for (uint256 i = 1; i < sortedIdx.length; ++i) {
            for (uint256 j = i; j > 0 && actors[sortedIdx[j - 1]] > actors[sortedIdx[j]]; --j) {
                (sortedIdx[j - 1], sortedIdx[j]) = (sortedIdx[j], sortedIdx[j - 1]);
            }
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function finalizedCount() external view returns (uint256) {
        return finalizedRounds.length;
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }

    function _round(uint256 seed) internal view returns (uint256) {
        uint256 n = rm.roundCount();
        return n == 0 ? 0 : _bound(seed, 1, n);
    }

    /// @dev Pick from a list (0 if empty); the fuzzer's seed also sometimes picks any round, to hit reverts.
    function _pick(uint256[] storage ids, uint256 seed) internal view returns (uint256 id, uint256 idx) {
        if (ids.length == 0 || seed % 8 == 0) return (_round(seed >> 8), type(uint256).max);
        idx = seed % ids.length;
        id = ids[idx];
    }

    function _remove(uint256[] storage ids, uint256 idx) internal {
        if (idx == type(uint256).max) return;
        ids[idx] = ids[ids.length - 1];
        ids.pop();
    }

    function _removeId(uint256[] storage ids, uint256 id) internal {
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == id) return _remove(ids, i);
        }
    }

    // ------------------------------------------------------------ participants

    function stake(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % actors.length];
        amount = _bound(amount, 1, 1_000e18);
        if (token.balanceOf(a) < amount) return;
        vm.prank(a);
        sm.stake(amount);
        ++calls;
    }

    function unbond(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % actors.length];
        uint256 active = sm.stakeOf(a).active;
        if (active == 0) return;
        amount = _bound(amount, 1, active);
        vm.prank(a);
        sm.requestUnbond(amount);
        ++calls;
    }

    function withdraw(uint256 actorSeed) external {
        address a = actors[actorSeed % actors.length];
        IStakeManager.StakeInfo memory info = sm.stakeOf(a);
        if (info.unbonding == 0) return;
        if (block.timestamp < info.unbondReleaseAt) return;
        vm.prank(a);
        sm.withdraw();
        ++calls;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + _bound(secs, 1, 2 days));
    }

    // ------------------------------------------------------------ rounds

    function fund(uint256 amount) external {
        amount = _bound(amount, 1, 10_000e18);
        vm.prank(funder);
        rm.fundRewardPool(amount);
    }

    function open(uint256 budget, uint256 duration) external {
        budget = _bound(budget, 0, rm.rewardPool());
        uint256 id = rm.roundCount() + 1;
        bytes32[] memory leaves = new bytes32[](actors.length);
        for (uint256 i; i < actors.length; ++i) {
            leaves[i] = P.participantLeaf(id, actors[i]);
        }
        IRoundManager.RoundParams memory p = IRoundManager.RoundParams({
            globalModelHash: keccak256(abi.encode("model", id)),
            configHash: keccak256("cfg"),
            participantsRoot: Merkle.root(leaves)
        });
        vm.prank(coordinator);
        rm.openRound(p, uint32(actors.length), uint96(budget), uint40(block.timestamp + _bound(duration, 1 days, 7 days)));
        params[id] = p;
        openIds.push(id);
        ghostEscrow += budget;
        ++calls;
    }

    function finalize(uint256 roundSeed, uint256 slashMask, uint256 bpsSeed, uint256 rewardSeed) external {
        (uint256 id, uint256 idx) = _pick(openIds, roundSeed);
        if (id == 0) return;
        IRoundManager.Round memory r = rm.getRound(id);
        if (r.status == IRoundManager.RoundStatus.Open && block.timestamp > r.finalizeDeadline) {
            rm.expireRound(id);
            ghostEscrow -= r.rewardBudget;
            _remove(openIds, idx);
            return;
        }
        (uint256 total, bytes32 root) = _buildRewards(id, r.rewardBudget, rewardSeed);
        IRoundManager.SlashEvidence[] memory s = _buildSlashes(id, slashMask, bpsSeed);
        for (uint256 i; i < s.length; ++i) {
            uint256 amount = sm.slashableStake(s[i].participant) * s[i].slashBps / 10_000;
            expectedSlash[id][s[i].participant] = amount;
            roundEntries[id].push(
                IRoundManager.SlashEntry({participant: s[i].participant, amount: uint96(amount), reason: s[i].reason})
            );
        }
        uint256 n = actors.length;
        uint256[] memory stakeBefore = new uint256[](n);
        uint256[] memory unbondingBefore = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            stakeBefore[i] = sm.slashableStake(actors[i]);
            unbondingBefore[i] = sm.stakeOf(actors[i]).unbonding;
        }
        IRoundManager.RoundParams memory p = params[id];
        vm.prank(coordinator);
        rm.finalizeRound(id, p, keccak256(abi.encode("agg", id)), root, uint128(total), s);
        _checkSlashes(id, stakeBefore, unbondingBefore);
        bytes32 h;
        IRoundManager.SlashEntry[] storage es = roundEntries[id];
        for (uint256 i; i < es.length; ++i) {
            h = keccak256(abi.encode(h, es[i].participant, uint256(es[i].amount), es[i].reason));
        }
        if (h != rm.getRound(id).slashesHash) ++ghostSlashAboveStake;
        fingerprintAtFinalize[id] = fingerprint(id);
        finalizedRounds.push(id);
        _remove(openIds, idx);
        pendingIds.push(id);
        ++calls;
    }

    function _buildRewards(uint256 id, uint256 budget, uint256 seed) internal returns (uint256 total, bytes32 root) {
        uint256 n = actors.length;
        bytes32[] memory leaves = new bytes32[](n);
        uint256 left = budget;
        delete roundRewards[id];
        for (uint256 i; i < n; ++i) {
            uint256 rw = left == 0 ? 0 : uint256(keccak256(abi.encode(seed, i))) % (left / 2 + 1);
            left -= rw;
            total += rw;
            roundRewards[id].push(rw);
            leaves[i] = P.resultLeaf(id, actors[i], keccak256(abi.encode("u", id, i)), 1, rw);
        }
        root = Merkle.root(leaves);
    }

    function _buildSlashes(uint256 id, uint256 mask, uint256 bpsSeed)
        internal
        view
        returns (IRoundManager.SlashEvidence[] memory s)
    {
        uint256 n = actors.length;
        uint256 k;
        for (uint256 i; i < n; ++i) {
            if ((mask >> i) & 1 == 1) ++k;
        }
        s = new IRoundManager.SlashEvidence[](k);
        bytes32[] memory pleaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            pleaves[i] = P.participantLeaf(id, actors[i]);
        }
        uint16 maxBps = rm.config().maxSlashBps;
        uint256 j;
        for (uint256 t; t < n; ++t) {
            uint256 i = sortedIdx[t];
            if ((mask >> i) & 1 == 0) continue;
            s[j++] = _evidence(id, i, bpsSeed, maxBps, pleaves);
        }
    }

    function _evidence(uint256 id, uint256 i, uint256 bpsSeed, uint16 maxBps, bytes32[] memory pleaves)
        internal
        view
        returns (IRoundManager.SlashEvidence memory)
    {
        bytes32 uh = keccak256(abi.encode("u", id, i));
        bytes32 digest = rm.commitmentDigest(id, actors[i], params[id].globalModelHash, uh, 7);
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(pks[i], digest);
        return IRoundManager.SlashEvidence({
            participant: actors[i],
            updateHash: uh,
            numExamples: 7,
            reason: uint8(1 + (bpsSeed % 5)),
            slashBps: uint16(_bound(uint256(keccak256(abi.encode(bpsSeed, i))), 1, maxBps)),
            signature: abi.encodePacked(rr, ss, v),
            proof: Merkle.proof(pleaves, i)
        });
    }

    function _checkSlashes(uint256 id, uint256[] memory stakeBefore, uint256[] memory unbondingBefore) internal {
        for (uint256 i; i < actors.length; ++i) {
            uint256 slashed = expectedSlash[id][actors[i]];
            if (slashed > stakeBefore[i]) {
                ++ghostSlashAboveStake;
                continue;
            }
            if (stakeBefore[i] - sm.slashableStake(actors[i]) != slashed) ++ghostSlashAboveStake;
            uint256 active = stakeBefore[i] - unbondingBefore[i];
            if (slashed > active) {
                // the excess must have come out of the unbonding queue
                ++ghostUnbondingSlashes;
                if (unbondingBefore[i] - sm.stakeOf(actors[i]).unbonding != slashed - active) {
                    ++ghostUnbondingNotSlashed;
                }
            }
        }
    }

    function _checkFinalized(uint256 id) internal {
        if (fingerprintAtFinalize[id] != bytes32(0) && fingerprint(id) != fingerprintAtFinalize[id]) {
            ++ghostFinalizedMutations;
        }
    }

    /// @notice Hash of the fields that must never change after finalize.
    function fingerprint(uint256 id) public view returns (bytes32) {
        IRoundManager.Round memory r = rm.getRound(id);
        return keccak256(
            abi.encode(
                r.coordinator,
                r.rewardBudget,
                r.participantCount,
                r.finalizeDeadline,
                r.challengeDeadline,
                r.paramsHash,
                r.totalRewards,
                r.resultsRoot,
                r.aggregateHash
            )
        );
    }

    function disputeSlash(uint256 roundSeed, uint256 actorSeed) external {
        (uint256 id,) = _pick(pendingIds, roundSeed);
        if (id == 0) return;
        IRoundManager.SlashEntry[] memory e = roundEntries[id];
        uint256 index = e.length == 0 ? 0 : actorSeed % e.length;
        address a = e.length == 0 ? actors[actorSeed % actors.length] : e[index].participant;
        uint256 dep = rm.config().minDisputeDeposit;
        vm.prank(a);
        rm.disputeSlash(id, e, index, dep, keccak256("e"));
        ++calls;
    }

    function disputeResult(uint256 roundSeed, uint256 actorSeed) external {
        (uint256 id,) = _pick(pendingIds, roundSeed);
        if (id == 0) return;
        address a = actors[actorSeed % actors.length];
        uint256 dep = rm.config().minDisputeDeposit;
        vm.prank(a);
        rm.disputeResult(id, dep, keccak256("e"));
        ++calls;
    }

    function resolve(uint256 disputeSeed, bool uphold, uint256 comp) external {
        uint256 n = rm.disputeCount();
        if (n == 0) return;
        uint256 d = _bound(disputeSeed, 1, n);
        vm.prank(arbiter);
        rm.resolveDispute(d, uphold, _bound(comp, 0, 300e18));
        _checkFinalized(rm.getDispute(d).roundId);
        ++calls;
    }

    function settle(uint256 roundSeed) external {
        (uint256 id, uint256 idx) = _pick(pendingIds, roundSeed);
        if (id == 0) return;
        IRoundManager.Round memory before = rm.getRound(id);
        if (before.status == IRoundManager.RoundStatus.Finalized && block.timestamp <= before.challengeDeadline) {
            vm.warp(before.challengeDeadline + 1);
        }
        rm.settleRound(id);
        _remove(pendingIds, idx);
        settledIds.push(id);
        IRoundManager.Round memory r = rm.getRound(id);
        ghostEscrow -= r.rewardBudget - (r.resultVoided ? 0 : r.totalRewards);
        _checkFinalized(id);
        ++calls;
    }

    function expire(uint256 roundSeed) external {
        (uint256 id, uint256 idx) = _pick(openIds, roundSeed);
        if (id == 0) return;
        rm.expireRound(id);
        _remove(openIds, idx);
        ghostEscrow -= rm.getRound(id).rewardBudget;
        ++calls;
    }

    function claim(uint256 roundSeed, uint256 actorSeed) external {
        (uint256 id,) = _pick(settledIds, roundSeed);
        if (id == 0 || roundRewards[id].length == 0) return;
        uint256 i = actorSeed % actors.length;
        uint256[] memory rewards = roundRewards[id];
        bytes32[] memory leaves = new bytes32[](rewards.length);
        for (uint256 k; k < rewards.length; ++k) {
            leaves[k] = P.resultLeaf(id, actors[k], keccak256(abi.encode("u", id, k)), 1, rewards[k]);
        }
        bool was = rm.isClaimed(id, actors[i]);
        rm.claim(id, actors[i], keccak256(abi.encode("u", id, i)), 1, rewards[i], Merkle.proof(leaves, i));
        if (was) ++ghostDoubleClaims;
        ghostClaims[id][actors[i]] += 1;
        if (ghostClaims[id][actors[i]] > 1) ++ghostDoubleClaims;
        ghostClaimedTotal += rewards[i];
        ghostEscrow -= rewards[i];
        IRoundManager.Round memory r = rm.getRound(id);
        if (r.claimed > r.totalRewards || r.totalRewards > r.rewardBudget) ++ghostClaimAboveTotal;
        _checkFinalized(id);
        ++calls;
    }
}
