// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IRoundTiming
/// @notice What the StakeManager needs to know about round timing.
interface IRoundTiming {
    /// @notice Smallest unbonding delay that cannot dodge a pending slash: maxRoundDuration + challengeWindow.
    function minUnbondingDelay() external view returns (uint64);
}
