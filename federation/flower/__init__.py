"""fedstake on Flower: the participant's client mod and the coordinator's wrapper strategy.

Participant:  ClientApp(mods=[fedstake_mod, ...]); register_identity(app)
Coordinator:  StakedStrategy(inner_strategy, RoundEngine(...), budget=...)
"""

from federation.flower.client_mod import fedstake_mod, node_signer, register_identity
from federation.flower.inner import InnerStrategyAggregator, build_strategy, strategy_names
from federation.flower.strategy import StakedStrategy

__all__ = [
    "InnerStrategyAggregator",
    "StakedStrategy",
    "build_strategy",
    "fedstake_mod",
    "node_signer",
    "register_identity",
    "strategy_names",
]
