// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {StakeManager} from "../../src/StakeManager.sol";

/// @notice A V2 StakeManager adding a field (in its own ERC-7201 namespace, next to the V1 one) and functions.
contract StakeManagerV2 is StakeManager {
    /// @custom:storage-location erc7201:fedstake.storage.StakeManagerV2
    struct V2Storage {
        uint256 note;
    }

    function _v2() private pure returns (V2Storage storage $) {
        bytes32 loc =
            keccak256(abi.encode(uint256(keccak256("fedstake.storage.StakeManagerV2")) - 1)) & ~bytes32(uint256(0xff));
        assembly {
            $.slot := loc
        }
    }

    function initializeV2(uint256 note_) external reinitializer(2) {
        _v2().note = note_;
    }

    function note() external view returns (uint256) {
        return _v2().note;
    }

    function version() external pure returns (string memory) {
        return "2";
    }
}
