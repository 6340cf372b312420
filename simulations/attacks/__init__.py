"""Poisoning attacks on federated learning, as pure numpy functions plus a registry.

    from simulations.attacks import ATTACKS, parse_attack_params
    ATTACKS["alie"].kind                     # "omniscient"
    parse_attack_params("alie.z=1.5")        # {"alie": {"z": 1.5}}

Modules, one per family: `poisoning` (data: label flipping, pixel-pattern backdoor, lazy
clients), `tampering` (model: sign flipping, Gaussian noise, scaling / model replacement,
free-riders), `omniscient` (ALIE, IPM, min-max, min-sum, Fang et al.), `sybil`
(identity), `collusion` (how omniscient attackers learn the honest updates), `registry`.
The reference Flower App plays them (run config `behaviours`, `attack-params`).
"""

from simulations.attacks.registry import (
    ATTACKS,
    KINDS,
    AttackSpec,
    DataView,
    Param,
    RoundView,
    attack_table,
    parse_attack_params,
)

__all__ = [
    "ATTACKS",
    "KINDS",
    "AttackSpec",
    "DataView",
    "Param",
    "RoundView",
    "attack_table",
    "parse_attack_params",
]
