// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {FedToken} from "../src/FedToken.sol";
import {StakeManager} from "../src/StakeManager.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IRoundManager} from "../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../src/interfaces/IStakeManager.sol";

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
    function initialize(address admin, uint48 adminDelay, IStakeManager sm, IRoundManager.Config calldata c) external;
    function grantRole(bytes32 role, address account) external;
    function COORDINATOR_ROLE() external view returns (bytes32);
    function ARBITER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
}

/// @notice Deploys and wires fedstake (the sequence documented in the contracts' report):
///   forge script script/Deploy.s.sol --rpc-url $RPC --broadcast   (env: PRIVATE_KEY; optional TOKEN,
///   COORDINATOR, ARBITER, PAUSER, TREASURY; without TOKEN a FedToken with a faucet is deployed).
contract Deploy {
    VmScript internal constant vm = VmScript(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (address token, address sm, address rm, address registry) {
        uint256 pk = vm.envUint("PRIVATE_KEY");
        address admin = vm.addr(pk);
        address coordinator = vm.envOr("COORDINATOR", admin);
        address arbiter = vm.envOr("ARBITER", admin);
        address pauser = vm.envOr("PAUSER", admin);
        address treasury = vm.envOr("TREASURY", admin);
        token = vm.envOr("TOKEN", address(0));
        bytes memory rmCode = vm.getCode("RoundManager.sol:RoundManager");

        vm.startBroadcast(pk);
        if (token == address(0)) token = address(new FedToken(admin, 1_000_000_000e18, 1_000e18, 1 days));
        // 1. StakeManager (unbonding 15 d > round 7 d + window 3 d)
        sm = address(
            new ERC1967Proxy(
                address(new StakeManager()),
                abi.encodeCall(StakeManager.initialize, (admin, 0, IERC20(token), 100e18, 15 days))
            )
        );
        // 2. RoundManager (reads the token from the StakeManager; checks the unbonding delay)
        address rmImpl;
        assembly {
            rmImpl := create(0, add(rmCode, 0x20), mload(rmCode))
        }
        IRoundManager.Config memory c = IRoundManager.Config({
            minCoordinatorBond: 1_000e18,
            maxRoundDuration: 7 days,
            challengeWindow: 3 days,
            maxSlashBps: 5_000,
            slashPoolBps: 5_000,
            minDisputeDeposit: 10e18,
            treasury: treasury
        });
        rm = address(
            new ERC1967Proxy(rmImpl, abi.encodeCall(IRoundManagerInit.initialize, (admin, 0, IStakeManager(sm), c)))
        );
        // 3. ProvenanceRegistry
        registry = address(
            new ERC1967Proxy(address(new ProvenanceRegistry()), abi.encodeCall(ProvenanceRegistry.initialize, (admin, 0)))
        );
        // 4. wiring, then roles
        StakeManager(sm).setRoundManager(rm);
        IRoundManagerInit r = IRoundManagerInit(rm);
        r.grantRole(r.COORDINATOR_ROLE(), coordinator);
        r.grantRole(r.ARBITER_ROLE(), arbiter);
        r.grantRole(r.PAUSER_ROLE(), pauser);
        StakeManager(sm).grantRole(StakeManager(sm).PAUSER_ROLE(), pauser);
        ProvenanceRegistry(registry).grantRole(ProvenanceRegistry(registry).COORDINATOR_ROLE(), coordinator);
        ProvenanceRegistry(registry).grantRole(ProvenanceRegistry(registry).PAUSER_ROLE(), pauser);
        vm.stopBroadcast();
    }
}
