// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {AccessControlDefaultAdminRulesUpgradeable} from
    "@openzeppelin/contracts-upgradeable/access/extensions/AccessControlDefaultAdminRulesUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title FedstakeBase
/// @notice Shared base of the upgradeable fedstake contracts: default-admin-rules roles, pausing, UUPS
///         upgrades restricted to a timelocked default admin, transient reentrancy guard.
/// @dev Upgrades (and the StakeManager's RoundManager switch) must come from a TimelockController whose
///      minimum delay exceeds the unbonding delay, so participants see a change coming and can leave first.
abstract contract FedstakeBase is
    Initializable,
    AccessControlDefaultAdminRulesUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient
{
    /// @notice Role allowed to open/finalize rounds and record provenance.
    bytes32 public constant COORDINATOR_ROLE = keccak256("COORDINATOR_ROLE");
    /// @notice Role allowed to resolve disputes.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    /// @notice Role allowed to pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The caller of a governance action is not a timelock (it has no `getMinDelay()`).
    error GovernanceNotTimelocked(address caller);
    /// @notice The calling timelock's delay does not exceed the unbonding delay.
    error GovernanceDelayTooShort(uint256 delay, uint256 required);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    // solhint-disable-next-line func-name-mixedcase
    function __FedstakeBase_init(address admin, uint48 adminDelay) internal onlyInitializing {
        __AccessControlDefaultAdminRules_init(adminDelay, admin);
        __Pausable_init();
    }

    /// @notice Pause new rounds / stakes (PAUSER_ROLE). Settled funds stay withdrawable and claimable.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Unpause (PAUSER_ROLE).
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev Upgrades only by the default admin, and only when it is a timelock slower than unbonding.
    function _authorizeUpgrade(address) internal view override onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireTimelocked();
    }

    /// @dev The unbonding delay a governance timelock must exceed (the StakeManager's, read where needed).
    function _governanceDelayFloor() internal view virtual returns (uint256);

    /// @dev Revert unless msg.sender is a TimelockController-like contract whose getMinDelay() exceeds
    ///      `_governanceDelayFloor()`.
    function _requireTimelocked() internal view {
        (bool ok, bytes memory ret) = msg.sender.staticcall(abi.encodeWithSignature("getMinDelay()"));
        if (!ok || ret.length != 32) revert GovernanceNotTimelocked(msg.sender);
        uint256 delay = abi.decode(ret, (uint256));
        uint256 floor = _governanceDelayFloor();
        if (delay <= floor) revert GovernanceDelayTooShort(delay, floor + 1);
    }
}
