// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {StakeFixture, StakeMockRoundManager} from "./mocks/StakeMocks.sol";
import {GovDrainer, GovForwarder, GovTimelockHelpers} from "./mocks/GovMocks.sol";
import {StakeManagerV2} from "./mocks/V2Mocks.sol";
import {Fixture} from "./utils/Fixture.sol";
import {FedstakeBase} from "../src/FedstakeBase.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {FedToken} from "../src/FedToken.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {Deploy} from "../script/Deploy.s.sol";

/// @notice Governance over the StakeManager alone (mock RoundManagers): who may upgrade it or switch its
///         RoundManager, when, and that participants can leave before such a change takes effect.
contract GovernanceStakeTest is StakeFixture, GovTimelockHelpers {
    address internal gov = makeAddr("gov");
    GovDrainer internal drainer;

    function setUp() public override {
        super.setUp();
        drainer = new GovDrainer();
        stakeAs(stakers[0], 1_000e18);
        stakeAs(stakers[1], 1_000e18);
    }

    function _switchData(address to) internal pure returns (bytes memory) {
        return abi.encodeCall(IStakeManager.setRoundManager, (to));
    }

    function _victims() internal view returns (address[] memory v) {
        v = new address[](2);
        v[0] = stakers[0];
        v[1] = stakers[1];
    }

    // ---------------------------------------------------------------- the admin key alone

    /// @dev Finding: the admin switched to a drainer and took every stake in one block. Now refused.
    function test_adminEoa_cannotSwitchRoundManager() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        sm.setRoundManager(address(drainer));
        assertEq(sm.roundManager(), address(mrm), "unchanged");
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.NotRoundManager.selector, address(drainer)));
        drainer.drain(sm, _victims());
        assertEq(sm.totalStaked(), 2_000e18, "stakes intact");
    }

    function test_adminEoa_cannotUpgrade() public {
        StakeManagerV2 impl = new StakeManagerV2();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin));
        sm.upgradeToAndCall(address(impl), "");
    }

    function test_contractAdminWithoutDelay_cannotSwitchOrUpgrade() public {
        GovForwarder fwd = new GovForwarder();
        vm.prank(admin);
        sm.beginDefaultAdminTransfer(address(fwd));
        vm.warp(block.timestamp + 1);
        fwd.forward(address(sm), abi.encodeCall(IAccessControlDefaultAdminRules.acceptDefaultAdminTransfer, ()));
        assertEq(sm.defaultAdmin(), address(fwd), "forwarder is admin");
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, address(fwd)));
        fwd.forward(address(sm), _switchData(address(drainer)));
        StakeManagerV2 impl = new StakeManagerV2();
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, address(fwd)));
        fwd.forward(address(sm), abi.encodeCall(sm.upgradeToAndCall, (address(impl), "")));
    }

    // ---------------------------------------------------------------- a timelock too fast

    function test_timelockNotSlowerThanUnbonding_cannotSwitchOrUpgrade() public {
        TimelockController tl = _newTimelock(UNBONDING, gov);
        _handAdmin(address(sm), admin, tl, gov);
        assertEq(sm.defaultAdmin(), address(tl), "timelock is admin");
        bytes memory data = _switchData(address(drainer));
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceDelayTooShort.selector, UNBONDING, UNBONDING + 1));
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        bytes memory up = abi.encodeCall(sm.upgradeToAndCall, (address(new StakeManagerV2()), ""));
        _schedule(tl, gov, address(sm), up, 0);
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceDelayTooShort.selector, UNBONDING, UNBONDING + 1));
        tl.execute(address(sm), 0, up, bytes32(0), 0);
    }

    function testFuzz_timelockDelay(uint256 delay) public {
        delay = bound(delay, 0, 4 * UNBONDING);
        TimelockController tl = _newTimelock(delay, gov);
        _handAdmin(address(sm), admin, tl, gov);
        StakeMockRoundManager next = new StakeMockRoundManager(1);
        bytes memory data = _switchData(address(next));
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + delay);
        vm.prank(gov);
        if (delay <= UNBONDING) {
            vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceDelayTooShort.selector, delay, UNBONDING + 1));
        }
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        assertEq(sm.roundManager(), delay > UNBONDING ? address(next) : address(mrm), "switched iff slower than unbonding");
    }

    // ---------------------------------------------------------------- a timelock slower than unbonding

    /// @dev The attack of the finding, through a legitimate slow timelock: everyone who leaves when the switch
    ///      is scheduled gets their whole stake out before it can execute; only those who stay are exposed.
    function test_slowTimelock_participantsLeaveBeforeTheSwitchExecutes() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        bytes memory data = _switchData(address(drainer));
        uint256 t0 = block.timestamp;
        _schedule(tl, gov, address(sm), data, 0); // public: CallScheduled on the timelock
        // stakers[0] sees it and leaves at once; stakers[1] stays
        unbondAs(stakers[0], 1_000e18);
        vm.warp(t0 + UNBONDING + 1 days - 1);
        vm.prank(gov);
        vm.expectRevert(); // TimelockUnexpectedOperationState: not ready yet
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        uint256 before = token.balanceOf(stakers[0]);
        vm.prank(stakers[0]);
        assertEq(sm.withdraw(), 1_000e18, "left in time");
        assertEq(token.balanceOf(stakers[0]), before + 1_000e18, "whole stake out");
        vm.warp(t0 + UNBONDING + 1 days);
        _execute(tl, gov, address(sm), data, 0);
        assertEq(sm.roundManager(), address(drainer), "switched after the delay");
        uint256 taken = drainer.drain(sm, _victims());
        assertEq(taken, 1_000e18, "only the stake that stayed");
        assertEq(token.balanceOf(address(sm)), sm.totalStaked() + sm.totalLocked(), "accounting");
    }

    function test_slowTimelock_upgradesAfterItsDelayKeepingState() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        unbondAs(stakers[1], 400e18);
        StakeManagerV2 impl = new StakeManagerV2();
        _viaTimelock(tl, gov, address(sm), abi.encodeCall(sm.upgradeToAndCall, (address(impl), "")), 0);
        assertEq(address(uint160(uint256(vm.load(address(sm), IMPL_SLOT)))), address(impl), "impl");
        assertEq(keccak256(bytes(StakeManagerV2(address(sm)).version())), keccak256("2"), "v2");
        assertEq(sm.stakeOf(stakers[1]).active, 600e18, "active kept");
        assertEq(sm.unbondRequests(stakers[1]).length, 1, "requests kept");
        assertEq(sm.totalStaked(), 2_000e18, "total kept");
        assertEq(sm.roundManager(), address(mrm), "wiring kept");
    }

    function test_governanceFloorFollowsTheUnbondingDelay() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        // the timelock raises the unbonding delay above its own: it can no longer switch or upgrade
        _viaTimelock(tl, gov, address(sm), abi.encodeCall(IStakeManager.setUnbondingDelay, (UNBONDING + 2 days)), 0);
        bytes memory data = _switchData(address(new StakeMockRoundManager(1)));
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        vm.expectRevert(
            abi.encodeWithSelector(
                FedstakeBase.GovernanceDelayTooShort.selector, UNBONDING + 1 days, UNBONDING + 2 days + 1
            )
        );
        tl.execute(address(sm), 0, data, bytes32(0), 0);
    }

    // ---------------------------------------------------------------- nothing locked, nothing unsettled

    /// @dev Finding: switching RoundManager stranded the old one's locked slashes and unsettled rounds.
    function test_switchRefusedWhileStakeIsLocked() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        IStakeManager.SlashLock memory l = lock(1, stakers[0], 1_000, false);
        address next = address(new StakeMockRoundManager(1));
        bytes memory data = _switchData(next);
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.RoundManagerBusy.selector, l.amount, 0));
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        // the old RoundManager settles (releases) the slash; the same scheduled operation then goes through
        vm.prank(address(mrm));
        sm.releaseSlashed(l.amount, treasury);
        _execute(tl, gov, address(sm), data, 0);
        assertEq(sm.roundManager(), next, "switched once nothing is locked");
    }

    function test_switchRefusedWhileOldRoundManagerHasActiveRounds() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        mrm.setActiveRounds(2);
        address next = address(new StakeMockRoundManager(1));
        bytes memory data = _switchData(next);
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.RoundManagerBusy.selector, 0, 2));
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        mrm.setActiveRounds(0);
        _execute(tl, gov, address(sm), data, 0);
        assertEq(sm.roundManager(), next, "switched once every round is settled");
    }

    function test_switch_checksTheNewRoundManagersDelay() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        StakeMockRoundManager next = new StakeMockRoundManager(UNBONDING);
        bytes memory data = _switchData(address(next));
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.UnbondingDelayTooShort.selector, UNBONDING, UNBONDING + 1));
        tl.execute(address(sm), 0, data, bytes32(0), 0);
    }
}

/// @notice The faucet of the test token exists only on development chains.
contract GovFaucetTest is StakeFixture {
    /// @dev Finding: the faucet was on by default on every chain (cheap deposits for griefing disputes).
    function test_faucet_revertsOnNonDevChain() public {
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(FedToken.FaucetOnlyOnDevChains.selector, 1));
        new FedToken(address(this), 1, 1_000e18, 1 days);
        vm.chainId(8453);
        vm.expectRevert(abi.encodeWithSelector(FedToken.FaucetOnlyOnDevChains.selector, 8453));
        new FedToken(address(this), 1, 1, 1);
    }

    function test_faucet_disabledTokenDeploysAnywhere() public {
        vm.chainId(1);
        FedToken t = new FedToken(address(this), 5, 0, 0);
        assertEq(t.balanceOf(address(this)), 5, "minted");
        vm.expectRevert(FedToken.FaucetDisabled.selector);
        t.faucet();
    }

    function test_faucet_onDevChains() public {
        uint256[3] memory ids = [uint256(31337), 1337, 131277322940537];
        for (uint256 i; i < ids.length; ++i) {
            vm.chainId(ids[i]);
            FedToken t = new FedToken(address(this), 0, 7, 1);
            vm.prank(stranger);
            t.faucet();
            assertEq(t.balanceOf(stranger), 7, "drip");
            assertTrue(t.isDevChain(ids[i]), "dev chain");
        }
    }

    function testFuzz_faucet_onlyDevChains(uint64 id) public {
        vm.assume(id != 0);
        vm.chainId(id);
        bool dev = id == 31337 || id == 1337 || id == 131277322940537;
        if (!dev) vm.expectRevert(abi.encodeWithSelector(FedToken.FaucetOnlyOnDevChains.selector, uint256(id)));
        new FedToken(address(this), 0, 1, 1);
    }
}

/// @notice Governance over the whole system (real RoundManager, FaultVerifier, ProvenanceRegistry) and the
///         deploy script.
contract GovernanceSystemTest is Fixture, GovTimelockHelpers {
    address internal gov = makeAddr("gov");

    function _proxies() internal view returns (address[] memory t) {
        t = new address[](3);
        t[0] = address(sm);
        t[1] = address(rm);
        t[2] = address(reg);
    }

    function _handAll(TimelockController tl) internal {
        address[] memory t = _proxies();
        for (uint256 i; i < 3; ++i) {
            _handAdmin(t[i], admin, tl, gov);
            assertEq(IAccessControlDefaultAdminRules(t[i]).defaultAdmin(), address(tl), "timelock admin");
        }
    }

    function _upgradeData(uint256 i) internal returns (bytes memory) {
        address impl;
        if (i == 0) impl = address(new StakeManagerV2());
        else if (i == 1) impl = deployCode("RoundManager.sol:RoundManager"); // src: always compiled
        else impl = address(new ProvenanceRegistry());
        return abi.encodeCall(sm.upgradeToAndCall, (impl, ""));
    }

    /// @dev Finding: upgrades had no timelock (the admin key could replace any implementation at once).
    function test_adminEoa_cannotUpgradeAnyProxy() public {
        address[] memory t = _proxies();
        for (uint256 i; i < 3; ++i) {
            bytes memory data = _upgradeData(i);
            vm.prank(admin);
            (bool ok, bytes memory ret) = t[i].call(data);
            assertFalse(ok, "refused");
            assertEq(
                keccak256(ret),
                keccak256(abi.encodeWithSelector(FedstakeBase.GovernanceNotTimelocked.selector, admin)),
                "not timelocked"
            );
        }
    }

    function test_fastTimelock_cannotUpgradeAnyProxy() public {
        TimelockController tl = _newTimelock(UNBONDING, gov);
        _handAll(tl);
        address[] memory t = _proxies();
        for (uint256 i; i < 3; ++i) {
            bytes memory data = _upgradeData(i);
            _schedule(tl, gov, t[i], data, 0);
            vm.warp(block.timestamp + UNBONDING);
            vm.prank(gov);
            vm.expectRevert(abi.encodeWithSelector(FedstakeBase.GovernanceDelayTooShort.selector, UNBONDING, UNBONDING + 1));
            tl.execute(t[i], 0, data, bytes32(0), 0);
        }
    }

    function test_slowTimelock_upgradesEveryProxyAfterItsDelay() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAll(tl);
        address[] memory t = _proxies();
        bytes[] memory payloads = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            payloads[i] = _upgradeData(i);
        }
        vm.prank(gov);
        tl.scheduleBatch(t, new uint256[](3), payloads, bytes32(0), 0, UNBONDING + 1 days);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        tl.executeBatch(t, new uint256[](3), payloads, bytes32(0), 0);
        for (uint256 i; i < 3; ++i) {
            (address impl,) = abi.decode(_tail(payloads[i]), (address, bytes));
            assertEq(_implOf(t[i]), impl, "upgraded");
        }
        assertEq(reg.roundManager(), address(rm), "registry wiring kept");
        assertEq(sm.roundManager(), address(rm), "stake wiring kept");
    }

    /// @dev Calldata without its selector.
    function _tail(bytes memory data) internal pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 i; i < out.length; ++i) {
            out[i] = data[i + 4];
        }
    }

    /// @dev Finding: switching RoundManager bricked every unsettled round of the old one.
    function test_switchRefusedWhileTheRoundManagerHasAnOpenRound() public {
        TimelockController tl = _newTimelock(UNBONDING + 1 days, gov);
        _handAdmin(address(sm), admin, tl, gov);
        bondAndFund();
        openWith(100e18);
        assertEq(rm.activeRounds(), 1, "one active round");
        address next = address(new StakeMockRoundManager(1));
        bytes memory data = abi.encodeCall(IStakeManager.setRoundManager, (next));
        _schedule(tl, gov, address(sm), data, 0);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(gov);
        vm.expectRevert(abi.encodeWithSelector(IStakeManager.RoundManagerBusy.selector, 0, 1));
        tl.execute(address(sm), 0, data, bytes32(0), 0);
        rm.expireRound(1); // the round's deadline passed long ago
        _execute(tl, gov, address(sm), data, 0);
        assertEq(sm.roundManager(), next, "switched once the old one is idle");
    }

    // ---------------------------------------------------------------- the deploy script

    function _keys(address coord, address arb, address treas) internal pure returns (Deploy.Keys memory k) {
        k.pk = 0xA11CE;
        k.admin = address(0); // set below (vm.addr is not pure)
        k.coordinator = coord;
        k.arbiter = arb;
        k.treasury = treas;
        k.pauser = treas;
        k.adminDelay = 1 days;
    }

    function test_deployScript_handsEveryProxyToASlowTimelock() public {
        Deploy dep = new Deploy();
        Deploy.Keys memory k = _keys(makeAddr("c"), makeAddr("a"), makeAddr("t"));
        k.admin = vm.addr(k.pk);
        Deploy.Deployed memory d = dep.deploy(k);
        TimelockController tl = TimelockController(payable(d.timelock));
        assertEq(tl.getMinDelay(), UNBONDING + 1 days, "timelock slower than unbonding");
        assertEq(StakeManager(d.stakeManager).unbondingDelay(), UNBONDING, "unbonding");
        assertEq(StakeManager(d.stakeManager).roundManager(), d.roundManager, "wired");
        assertEq(ProvenanceRegistry(d.registry).roundManager(), d.roundManager, "registry wired");
        address[] memory t = new address[](3);
        t[0] = d.stakeManager;
        t[1] = d.roundManager;
        t[2] = d.registry;
        bytes[] memory payloads = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            IAccessControlDefaultAdminRules p = IAccessControlDefaultAdminRules(t[i]);
            assertEq(p.defaultAdminDelay(), 1 days, "non-zero admin delay");
            (address pending,) = p.pendingDefaultAdmin();
            assertEq(pending, d.timelock, "transfer to the timelock begun");
            assertEq(p.defaultAdmin(), k.admin, "deployer until accepted");
            payloads[i] = abi.encodeCall(IAccessControlDefaultAdminRules.acceptDefaultAdminTransfer, ());
        }
        bytes32 salt = dep.ACCEPT_ADMIN_SALT();
        assertEq(salt, keccak256("fedstake/accept-default-admin/v1"), "salt shared with federation/deploy.py");
        bytes32 op = tl.hashOperationBatch(t, new uint256[](3), payloads, bytes32(0), salt);
        assertTrue(tl.isOperationPending(op), "accept batch scheduled");
        IRoundManager r = IRoundManager(d.roundManager);
        assertEq(r.config().treasury, makeAddr("t"), "treasury");
        assertEq(r.faultVerifier(), d.faultVerifier, "fault verifier");
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.prank(k.admin);
        tl.executeBatch(t, new uint256[](3), payloads, bytes32(0), salt);
        for (uint256 i; i < 3; ++i) {
            assertEq(IAccessControlDefaultAdminRules(t[i]).defaultAdmin(), d.timelock, "timelock is admin");
        }
        // the deployer key alone can no longer upgrade (it is not even the admin)
        address impl = address(new StakeManagerV2());
        vm.prank(k.admin);
        vm.expectRevert();
        StakeManager(d.stakeManager).upgradeToAndCall(impl, "");
    }

    function test_deployScript_coincidingKeysOnlyOnDevChains() public {
        Deploy dep = new Deploy();
        Deploy.Keys memory k = _keys(address(0), makeAddr("a"), makeAddr("t"));
        k.admin = vm.addr(k.pk);
        k.coordinator = k.admin;
        // development chain (31337): deploys, with a warning on the console
        dep.deploy(k);
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(Deploy.RoleKeysNotDistinct.selector, "admin = coordinator", k.admin, 1));
        dep.deploy(k);
    }

    function test_deployScript_revertsZeroAdminDelay() public {
        Deploy dep = new Deploy();
        Deploy.Keys memory k = _keys(makeAddr("c"), makeAddr("a"), makeAddr("t"));
        k.admin = vm.addr(k.pk);
        k.adminDelay = 0;
        vm.expectRevert(Deploy.ZeroAdminDelay.selector);
        dep.deploy(k);
    }
}
