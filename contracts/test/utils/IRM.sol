// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRoundManager} from "../../src/interfaces/IRoundManager.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {IFaultVerifier} from "../../src/interfaces/IFaultVerifier.sol";

/// @notice The FedstakeBase surface (roles, pause, UUPS) as seen by tests.
interface IFedstakeAdmin {
    function COORDINATOR_ROLE() external view returns (bytes32);
    function ARBITER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function hasRole(bytes32 role, address account) external view returns (bool);
    function pause() external;
    function unpause() external;
    function paused() external view returns (bool);
    function upgradeToAndCall(address newImplementation, bytes calldata data) external payable;
    function defaultAdmin() external view returns (address);
}

/// @notice RoundManager as seen by tests (deployed from its artifact; it compiles through the IR pipeline).
interface IRM is IRoundManager, IFedstakeAdmin {
    function initialize(
        address admin,
        uint48 adminDelay,
        IStakeManager stakeManager_,
        IFaultVerifier faultVerifier_,
        Config calldata config_
    ) external;
    function eip712Domain()
        external
        view
        returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
}
