// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {FedToken} from "../src/FedToken.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../src/interfaces/IFaultVerifier.sol";

interface VmScript {
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
    function envOr(string calldata name, address defaultValue) external view returns (address);
    function envUint(string calldata name) external view returns (uint256);
    function addr(uint256 privateKey) external pure returns (address);
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function getCode(string calldata artifactPath) external view returns (bytes memory);
}

interface IRoundManagerInit {
    function initialize(
        address admin,
        uint48 adminDelay,
        IStakeManager sm,
        IFaultVerifier fv,
        IRoundManager.Config calldata c
    ) external;
    function grantRole(bytes32 role, address account) external;
    function COORDINATOR_ROLE() external view returns (bytes32);
    function ARBITER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
}

/// @notice Deploys and wires fedstake (the sequence in contracts/README.md), then hands every proxy's admin role
///         to a TimelockController slower than the unbonding delay:
///   PRIVATE_KEY=… COORDINATOR=… ARBITER=… TREASURY=… tools/bin/forge script script/Deploy.s.sol --rpc-url $RPC --broadcast
///   env: PRIVATE_KEY (deployer = admin until the timelock accepts; the timelock's proposer and executor);
///   COORDINATOR, ARBITER, TREASURY, PAUSER (addresses; default: the admin, which only a development chain
///   allows, with a loud warning); ADMIN_DELAY (seconds, > 0; default 1 day); TOKEN (an existing ERC-20;
///   without it a FedToken is deployed, with a faucet only on a development chain).
///   After `minDelay` the admin key runs the scheduled batch: `executeBatch([sm, rm, registry], [0, 0, 0],
///   [acceptDefaultAdminTransfer() × 3], 0, ACCEPT_ADMIN_SALT)`; from then on upgrades and RoundManager switches
///   go through the timelock only.
contract Deploy {
    VmScript internal constant vm = VmScript(address(uint160(uint256(keccak256("hevm cheat code")))));
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    /// @notice Salt of the timelock's accept-admin batch (the same as federation/facade/governance.py).
    bytes32 public constant ACCEPT_ADMIN_SALT = keccak256("fedstake/accept-default-admin/v1");
    uint64 public constant UNBONDING_DELAY = 15 days; // > round 7 d + challenge 3 d + dispute 3 d
    uint256 public constant TIMELOCK_EXTRA = 1 days; // timelock minDelay = unbonding delay + this

    /// @notice Two of admin, coordinator, arbiter and treasury are the same key on a non-development chain.
    error RoleKeysNotDistinct(string roles, address account, uint256 chainId);
    /// @notice ADMIN_DELAY is zero (a new default admin must wait for a non-zero delay).
    error ZeroAdminDelay();
    /// @notice The admin delay must be shorter than the timelock's delay (the accept batch runs after both).
    error AdminDelayTooLong(uint256 adminDelay, uint256 timelockDelay);

    struct Deployed {
        address token;
        address faultVerifier;
        address stakeManager;
        address roundManager;
        address registry;
        address timelock;
    }

    struct Keys {
        uint256 pk;
        address admin;
        address coordinator;
        address arbiter;
        address treasury;
        address pauser;
        uint48 adminDelay;
    }

    /// @notice Deploy everything with the keys from the environment; returns the addresses (the RoundManager
    ///         proxy is the EIP-712 verifyingContract).
    function run() external returns (Deployed memory) {
        return deploy(_keys());
    }

    /// @notice Deploy everything with the keys given (what `run` does after reading the environment).
    function deploy(Keys memory k) public returns (Deployed memory d) {
        if (k.adminDelay == 0) revert ZeroAdminDelay();
        _checkKeys(k);
        d.token = vm.envOr("TOKEN", address(0));
        bytes memory rmCode = vm.getCode("RoundManager.sol:RoundManager");
        bytes memory fvCode = vm.getCode("FaultVerifier.sol:FaultVerifier");
        uint256 timelockDelay = UNBONDING_DELAY + TIMELOCK_EXTRA;
        if (k.adminDelay >= timelockDelay) revert AdminDelayTooLong(k.adminDelay, timelockDelay);

        vm.startBroadcast(k.pk);
        if (d.token == address(0)) {
            uint256 faucet = _isDevChain() ? 1_000e18 : 0; // FedToken refuses a faucet elsewhere
            d.token = address(new FedToken(k.admin, 1_000_000_000e18, faucet, 1 days));
        }
        // 1. FaultVerifier (stateless, not upgradeable)
        d.faultVerifier = _create(fvCode);
        // 2. StakeManager
        d.stakeManager = address(
            new ERC1967Proxy(
                address(new StakeManager()),
                abi.encodeCall(StakeManager.initialize, (k.admin, k.adminDelay, IERC20(d.token), 100e18, UNBONDING_DELAY))
            )
        );
        // 3. RoundManager (reads the token from the StakeManager; checks the unbonding delay)
        d.roundManager = address(
            new ERC1967Proxy(
                _create(rmCode),
                abi.encodeCall(
                    IRoundManagerInit.initialize,
                    (k.admin, k.adminDelay, IStakeManager(d.stakeManager), IFaultVerifier(d.faultVerifier), _config(k))
                )
            )
        );
        // 4. ProvenanceRegistry (versions name finalized rounds of this RoundManager)
        d.registry = address(
            new ERC1967Proxy(
                address(new ProvenanceRegistry()),
                abi.encodeCall(ProvenanceRegistry.initialize, (k.admin, k.adminDelay, d.roundManager))
            )
        );
        // 5. wiring (the first RoundManager needs only the admin), then roles
        StakeManager(d.stakeManager).setRoundManager(d.roundManager);
        _grantRoles(d, k);
        // 6. governance: a timelock slower than unbonding becomes every proxy's admin
        d.timelock = _handToTimelock(d, k, timelockDelay);
        vm.stopBroadcast();
    }

    function _keys() internal view returns (Keys memory k) {
        k.pk = vm.envUint("PRIVATE_KEY");
        k.admin = vm.addr(k.pk);
        k.coordinator = vm.envOr("COORDINATOR", k.admin);
        k.arbiter = vm.envOr("ARBITER", k.admin);
        k.treasury = vm.envOr("TREASURY", k.admin);
        k.pauser = vm.envOr("PAUSER", k.admin);
        k.adminDelay = uint48(vm.envOr("ADMIN_DELAY", uint256(1 days)));
    }

    function _config(Keys memory k) internal pure returns (IRoundManager.Config memory) {
        return IRoundManager.Config({
            minCoordinatorBond: 1_000e18,
            maxRoundDuration: 7 days,
            challengeWindow: 3 days,
            disputeWindow: 3 days,
            maxJudgedSlashBps: 5_000,
            provableSlashBps: 1_000,
            slashPoolBps: 5_000,
            budgetBondMultiple: 10,
            timeoutCompensationBps: 1_000,
            minDisputeDeposit: 10e18,
            treasury: k.treasury
        });
    }

    function _grantRoles(Deployed memory d, Keys memory k) internal {
        IRoundManagerInit r = IRoundManagerInit(d.roundManager);
        r.grantRole(r.COORDINATOR_ROLE(), k.coordinator);
        r.grantRole(r.ARBITER_ROLE(), k.arbiter);
        r.grantRole(r.PAUSER_ROLE(), k.pauser);
        StakeManager sm = StakeManager(d.stakeManager);
        sm.grantRole(sm.PAUSER_ROLE(), k.pauser);
        ProvenanceRegistry g = ProvenanceRegistry(d.registry);
        g.grantRole(g.COORDINATOR_ROLE(), k.coordinator);
        g.grantRole(g.PAUSER_ROLE(), k.pauser);
    }

    /// @dev Deploy the timelock (proposer and executor: the admin key; no timelock admin), begin the admin
    ///      transfer of the three proxies to it and schedule its acceptDefaultAdminTransfer batch.
    function _handToTimelock(Deployed memory d, Keys memory k, uint256 timelockDelay) internal returns (address) {
        address[] memory proposers = new address[](1);
        proposers[0] = k.admin;
        TimelockController tl = new TimelockController(timelockDelay, proposers, proposers, address(0));
        address[] memory targets = new address[](3);
        targets[0] = d.stakeManager;
        targets[1] = d.roundManager;
        targets[2] = d.registry;
        bytes[] memory payloads = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            IAccessControlDefaultAdminRules(targets[i]).beginDefaultAdminTransfer(address(tl));
            payloads[i] = abi.encodeCall(IAccessControlDefaultAdminRules.acceptDefaultAdminTransfer, ());
        }
        tl.scheduleBatch(targets, new uint256[](3), payloads, bytes32(0), ACCEPT_ADMIN_SALT, timelockDelay);
        return address(tl);
    }

    function _checkKeys(Keys memory k) internal view {
        address[4] memory who = [k.admin, k.coordinator, k.arbiter, k.treasury];
        string[4] memory names = ["admin", "coordinator", "arbiter", "treasury"];
        string memory shared;
        address first;
        for (uint256 i; i < 4; ++i) {
            for (uint256 j = i + 1; j < 4; ++j) {
                if (who[i] != who[j]) continue;
                string memory pair = string.concat(names[i], " = ", names[j]);
                if (bytes(shared).length == 0) {
                    shared = pair;
                    first = who[i];
                } else {
                    shared = string.concat(shared, ", ", pair);
                }
            }
        }
        if (bytes(shared).length == 0) return;
        if (!_isDevChain()) revert RoleKeysNotDistinct(shared, first, block.chainid);
        _log("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        _log(string.concat("WARNING (development chain only): role keys coincide: ", shared, "."));
        _log("An arbiter cannot decide disputes over rounds it coordinates (they take their default outcome),");
        _log("and a treasury that coordinates is paid by its own slashes. Set COORDINATOR, ARBITER and TREASURY");
        _log("to distinct keys; on any other chain this deployment is refused.");
        _log("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    }

    function _isDevChain() internal view returns (bool) {
        uint256 id = block.chainid;
        return id == 31337 || id == 1337 || id == 131277322940537;
    }

    function _create(bytes memory code) internal returns (address a) {
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        require(a != address(0), "create failed");
    }

    function _log(string memory s) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string)", s));
        ok;
    }
}
