// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {Test} from "../utils/Test.sol";
import {IStakeManager} from "../../src/interfaces/IStakeManager.sol";
import {IRoundTiming} from "../../src/interfaces/IRoundTiming.sol";

/// @notice A hostile "RoundManager": once wired, it locks 100 % of every stake it is given and takes it.
contract GovDrainer is IRoundTiming {
    function minUnbondingDelay() external pure returns (uint64) {
        return 1;
    }

    function activeRounds() external pure returns (uint256) {
        return 0;
    }

    function roundCount() external pure returns (uint256) {
        return 0;
    }

    function drain(IStakeManager sm, address[] calldata victims) external returns (uint256 total) {
        uint16[] memory bps = new uint16[](victims.length);
        bool[] memory provable = new bool[](victims.length);
        for (uint256 i; i < victims.length; ++i) {
            bps[i] = 10_000;
        }
        (, total) = sm.lockSlashes(1, victims, bps, provable);
        sm.releaseSlashed(total, msg.sender);
    }
}

/// @notice A contract admin that is not a timelock (no getMinDelay): forwards any call at once.
contract GovForwarder {
    function forward(address target, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}

/// @notice Timelock helpers shared by the governance tests (OpenZeppelin's TimelockController, proposer and
///         executor `gov`).
abstract contract GovTimelockHelpers is Test {
    bytes32 internal constant IMPL_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    function _newTimelock(uint256 delay, address gov) internal returns (TimelockController) {
        address[] memory who = new address[](1);
        who[0] = gov;
        return new TimelockController(delay, who, who, address(0));
    }

    function _schedule(TimelockController tl, address gov, address target, bytes memory data, bytes32 salt) internal {
        uint256 delay = tl.getMinDelay();
        vm.prank(gov);
        tl.schedule(target, 0, data, bytes32(0), salt, delay);
    }

    function _execute(TimelockController tl, address gov, address target, bytes memory data, bytes32 salt) internal {
        vm.prank(gov);
        tl.execute(target, 0, data, bytes32(0), salt);
    }

    /// @dev Schedule, wait the timelock's delay, execute.
    function _viaTimelock(TimelockController tl, address gov, address target, bytes memory data, bytes32 salt) internal {
        _schedule(tl, gov, target, data, salt);
        vm.warp(block.timestamp + tl.getMinDelay());
        _execute(tl, gov, target, data, salt);
    }

    /// @dev The deploy script's hand-over: the admin begins the transfer, the timelock accepts it after its delay.
    function _handAdmin(address proxy, address admin_, TimelockController tl, address gov) internal {
        vm.prank(admin_);
        IAccessControlDefaultAdminRules(proxy).beginDefaultAdminTransfer(address(tl));
        vm.warp(block.timestamp + 1);
        _viaTimelock(
            tl,
            gov,
            proxy,
            abi.encodeCall(IAccessControlDefaultAdminRules.acceptDefaultAdminTransfer, ()),
            keccak256(abi.encode("accept", proxy))
        );
    }

    function _implOf(address proxy) internal view returns (address) {
        return address(uint160(uint256(vm.load(proxy, IMPL_SLOT))));
    }
}
