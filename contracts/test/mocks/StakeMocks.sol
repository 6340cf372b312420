// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "../utils/Test.sol";
import {FedToken} from "../../src/FedToken.sol";
import {StakeManager} from "../../src/StakeManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {IRoundTiming} from "../../src/interfaces/IRoundTiming.sol";

/// @notice A RoundManager stand-in: only the IRoundTiming views the StakeManager reads, settable by tests.
///         Tests call the slash hooks by pranking as this contract's address.
contract StakeMockRoundManager is IRoundTiming {
    uint64 public minUnbondingDelay;
    uint256 public activeRounds;
    uint256 public roundCount;

    constructor(uint64 minUnbondingDelay_) {
        minUnbondingDelay = minUnbondingDelay_;
    }

    function setActiveRounds(uint256 n) external {
        activeRounds = n;
    }

    function setRoundCount(uint256 n) external {
        roundCount = n;
    }

    function setMinUnbondingDelay(uint64 d) external {
        minUnbondingDelay = d;
    }
}

/// @notice A StakeManager on its own (no RoundManager, no FaultVerifier): token, proxy, a mock RoundManager
///         wired as the first RoundManager, funded and approved stakers, slash-hook helpers.
abstract contract StakeFixture is Test {
    uint256 internal constant MIN_STAKE = 100e18;
    uint64 internal constant UNBONDING = 15 days;
    uint64 internal constant RM_MIN_DELAY = 12 days; // round 7 d + challenge 3 d + dispute 2 d
    uint256 internal constant NSTAKERS = 4;

    FedToken internal token;
    StakeManager internal sm;
    StakeMockRoundManager internal mrm;

    address internal admin = makeAddr("admin");
    address internal pauser = makeAddr("pauser");
    address internal stranger = makeAddr("stranger");
    address internal treasury = makeAddr("treasury");
    address[] internal stakers;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        token = new FedToken(address(this), 1e30, 0, 0);
        sm = deployStakeManager(IERC20(address(token)), admin, UNBONDING);
        mrm = new StakeMockRoundManager(RM_MIN_DELAY);
        vm.startPrank(admin);
        sm.setRoundManager(address(mrm)); // the first wiring needs only the default admin
        sm.grantRole(sm.PAUSER_ROLE(), pauser);
        vm.stopPrank();
        for (uint256 i; i < NSTAKERS; ++i) {
            address a = makeAddr(string(abi.encodePacked("staker", bytes1(uint8(48 + i)))));
            stakers.push(a);
            token.transfer(a, 100_000e18);
            vm.prank(a);
            token.approve(address(sm), type(uint256).max);
        }
    }

    function deployStakeManager(IERC20 tok, address admin_, uint64 delay) internal returns (StakeManager s) {
        s = StakeManager(
            address(
                new ERC1967Proxy(
                    address(new StakeManager()),
                    abi.encodeCall(StakeManager.initialize, (admin_, 0, tok, uint128(MIN_STAKE), delay))
                )
            )
        );
    }

    function stakeAs(address who, uint256 amount) internal {
        vm.prank(who);
        sm.stake(amount);
    }

    function unbondAs(address who, uint256 amount) internal {
        vm.prank(who);
        sm.requestUnbond(amount);
    }

    /// @dev One slash through the hook, as the RoundManager.
    function lock(uint256 roundId, address who, uint16 bps, bool provable)
        internal
        returns (IStakeManager.SlashLock memory l)
    {
        address[] memory w = new address[](1);
        w[0] = who;
        uint16[] memory b = new uint16[](1);
        b[0] = bps;
        bool[] memory p = new bool[](1);
        p[0] = provable;
        vm.prank(sm.roundManager());
        (IStakeManager.SlashLock[] memory locks, uint256 total) = sm.lockSlashes(roundId, w, b, p);
        assertEq(total, locks[0].amount, "total of one");
        return locks[0];
    }

    function unlock(uint256 roundId, address who, IStakeManager.SlashLock memory l, bool judged) internal {
        vm.prank(sm.roundManager());
        sm.unlockSlash(roundId, who, l, judged);
    }

    function sumRequests(address who) internal view returns (uint256 t) {
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(who);
        for (uint256 i; i < r.length; ++i) {
            t += r[i].amount;
        }
    }

    /// @dev Unbonding stake of `who` released by time `time`.
    function releasedBy(address who, uint256 time) internal view returns (uint256 t) {
        IStakeManager.UnbondRequest[] memory r = sm.unbondRequests(who);
        for (uint256 i; i < r.length; ++i) {
            if (r[i].releaseAt <= time) t += r[i].amount;
        }
    }

    function assertStakeAccounting() internal view {
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "sm balance == staked + locked");
        uint256 staked;
        for (uint256 i; i < stakers.length; ++i) {
            IStakeManager.StakeInfo memory info = sm.stakeOf(stakers[i]);
            assertEq(sumRequests(stakers[i]), info.unbonding, "requests sum to unbonding");
            staked += uint256(info.active) + info.unbonding;
        }
        assertEq(staked, sm.totalStaked(), "stakes sum to totalStaked");
    }
}
