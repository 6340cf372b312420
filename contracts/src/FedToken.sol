// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FedToken
/// @notice Test ERC-20 for local chains, with a rate-limited faucet (one drip per address per cooldown).
/// @dev Not upgradeable; deploy directly. The faucet exists only on development chains (anvil/hardhat 31337,
///      1337, and the embedded eth-tester chain of `federation/chain/inprocess.py`); elsewhere a non-zero
///      `faucetAmount` reverts the deployment, so a free faucet can never fund cheap disputes on a real chain.
contract FedToken is ERC20 {
    /// @notice Chain id of anvil and hardhat.
    uint256 public constant ANVIL_CHAIN_ID = 31337;
    /// @notice Chain id of geth --dev and ganache.
    uint256 public constant DEV_CHAIN_ID = 1337;
    /// @notice Chain id of the embedded eth-tester / py-evm chain (`inprocess://`).
    uint256 public constant ETH_TESTER_CHAIN_ID = 131277322940537;

    /// @notice Tokens per faucet drip.
    uint256 public immutable faucetAmount;
    /// @notice Seconds between two drips to the same address.
    uint256 public immutable faucetCooldown;
    /// @notice Last drip time per address.
    mapping(address account => uint256 timestamp) public lastDrip;

    /// @notice The faucet is disabled (faucetAmount == 0).
    error FaucetDisabled();
    /// @notice A faucet was requested on chain `chainId`, which is not a development chain.
    error FaucetOnlyOnDevChains(uint256 chainId);
    /// @notice The caller dripped less than `faucetCooldown` ago; next drip at `availableAt`.
    error FaucetCooldown(uint256 availableAt);

    /// @notice Emitted on each faucet drip.
    event FaucetDrip(address indexed to, uint256 amount);

    /// @notice Deploy; mints `initialSupply` to `holder`.
    /// @param holder Receives the initial supply.
    /// @param initialSupply Initial supply in wei.
    /// @param faucetAmount_ Tokens per drip (0 disables the faucet; non-zero only on a development chain).
    /// @param faucetCooldown_ Seconds between drips per address.
    constructor(address holder, uint256 initialSupply, uint256 faucetAmount_, uint256 faucetCooldown_)
        ERC20("FedStake Token", "FED")
    {
        if (faucetAmount_ != 0 && !isDevChain(block.chainid)) revert FaucetOnlyOnDevChains(block.chainid);
        faucetAmount = faucetAmount_;
        faucetCooldown = faucetCooldown_;
        _mint(holder, initialSupply);
    }

    /// @notice Whether `chainId` is a development chain (where the faucet may exist).
    function isDevChain(uint256 chainId) public pure returns (bool) {
        return chainId == ANVIL_CHAIN_ID || chainId == DEV_CHAIN_ID || chainId == ETH_TESTER_CHAIN_ID;
    }

    /// @notice Mint `faucetAmount` to the caller, at most once per `faucetCooldown`.
    function faucet() external {
        if (faucetAmount == 0) revert FaucetDisabled();
        uint256 last = lastDrip[msg.sender];
        // slither-disable-next-line timestamp
        if (last != 0 && block.timestamp < last + faucetCooldown) revert FaucetCooldown(last + faucetCooldown);
        lastDrip[msg.sender] = block.timestamp;
        emit FaucetDrip(msg.sender, faucetAmount);
        _mint(msg.sender, faucetAmount);
    }
}
