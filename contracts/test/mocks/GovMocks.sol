// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

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
