// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Minimal test base: cheatcodes, assertions, bound, console logging, invariant target lists.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    bool public IS_TEST = true;

    address[] private _targetContracts;

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    FuzzSelector[] private _targetSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function targetContract(address a) internal {
        _targetContracts.push(a);
    }

    function targetSelector(FuzzSelector memory s) internal {
        _targetSelectors.push(s);
    }

    function log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok; // console output is best-effort
    }

    error AssertionFailed(string message);
    error AssertionFailedUint(string message, uint256 left, uint256 right);
    error AssertionFailedBytes32(string message, bytes32 left, bytes32 right);
    error AssertionFailedAddress(string message, address left, address right);

    function assertTrue(bool c, string memory m) internal pure {
        if (!c) revert AssertionFailed(m);
    }

    function assertFalse(bool c, string memory m) internal pure {
        if (c) revert AssertionFailed(m);
    }

    function assertEq(uint256 a, uint256 b, string memory m) internal pure {
        if (a != b) revert AssertionFailedUint(m, a, b);
    }

    function assertEq(bytes32 a, bytes32 b, string memory m) internal pure {
        if (a != b) revert AssertionFailedBytes32(m, a, b);
    }

    function assertEq(address a, address b, string memory m) internal pure {
        if (a != b) revert AssertionFailedAddress(m, a, b);
    }

    function assertEq(bool a, bool b, string memory m) internal pure {
        if (a != b) revert AssertionFailed(m);
    }

    function assertLe(uint256 a, uint256 b, string memory m) internal pure {
        if (a > b) revert AssertionFailedUint(m, a, b);
    }

    function assertGe(uint256 a, uint256 b, string memory m) internal pure {
        if (a < b) revert AssertionFailedUint(m, a, b);
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo + 1;
        if (size == 0) return x; // full range
        return lo + (x % size);
    }

    function makeAddr(string memory name) internal returns (address a) {
        a = address(uint160(uint256(keccak256(bytes(name)))));
        vm.label(a, name);
    }
}
