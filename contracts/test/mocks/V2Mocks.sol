// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {StakeManager} from "../../src/StakeManager.sol";

/// @notice A V2 StakeManager adding a function.
contract StakeManagerV2 is StakeManager {
    function version() external pure returns (string memory) {
        return "2";
    }
}
