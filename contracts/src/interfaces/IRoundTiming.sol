// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IRoundTiming
/// @notice What the StakeManager needs to know about the RoundManager it serves.
interface IRoundTiming {
    /// @notice Smallest unbonding delay that cannot dodge a pending slash:
    ///         maxRoundDuration + challengeWindow + disputeWindow.
    function minUnbondingDelay() external view returns (uint64);
    /// @notice Rounds opened but not yet settled, expired or cancelled (a RoundManager switch waits for 0).
    function activeRounds() external view returns (uint256);
    /// @notice Number of rounds opened (ids are 1..roundCount); jail terms are counted in round ids.
    function roundCount() external view returns (uint256);
}
