// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Compiles OpenZeppelin's ERC1967Proxy into this project so its artifact is exported with the others.
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
