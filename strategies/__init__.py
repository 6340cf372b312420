"""fedstake.strategies: pure math (aggregators, anomaly scoring, reward/slash policy).

Imports neither `federation` nor web3, so it stays usable by a plain Flower user.
"""
