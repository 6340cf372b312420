// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Compiled so its artifact is exported (federation/artifacts/TimelockController.json): upgrades and the
// StakeManager's RoundManager switch go through OpenZeppelin's TimelockController (FedstakeBase._requireTimelocked),
// which the deploy script and federation/deploy.py deploy as the contracts' admin.
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
