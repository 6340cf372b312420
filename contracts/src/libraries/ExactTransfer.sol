// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ExactTransfer
/// @notice Pull tokens and require the full amount arrived (rejects fee-on-transfer / deflationary tokens).
library ExactTransfer {
    using SafeERC20 for IERC20;

    /// @notice The token delivered `received` instead of `expected`.
    error TokenTransferShortfall(uint256 expected, uint256 received);

    /// @notice transferFrom the caller (`msg.sender`) to this contract, reverting unless exactly `amount` arrived.
    function pullExact(IERC20 token, uint256 amount) internal {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert TokenTransferShortfall(amount, received);
    }
}
