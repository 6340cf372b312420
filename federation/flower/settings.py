"""The staked federation's run config (`[tool.flwr.app.config]`, `--run-config`), typed.

Every key has one definition here (name, type, default, meaning); the README's table is
this one. An unknown key, a wrong type, an unknown strategy or preset is an error at
start-up, never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from federation.errors import ConfigError
from federation.flower.inner import STRATEGIES, strategy_names
from strategies.policy import PolicyConfig
from strategies.scoring_types import ScoringConfig

TOKEN = 10**18

SCORING_PRESETS: dict[str, ScoringConfig] = {
    "default": ScoringConfig(),
    # The peer-cosine scorer before the evidence rework (SCORING.md's "before" column).
    "legacy": ScoringConfig(method="legacy"),
}
POLICY_PRESETS: dict[str, PolicyConfig] = {
    "default": PolicyConfig(),
    # Statistical faults (outliers, copies, free-riders) never slash: only the provable
    # faults the contract checks itself, and signed forged hashes / example counts.
    "provable-only": PolicyConfig(byzantine_bps=0, sybil_bps=0, free_rider_bps=0),
}

# key → (attribute, type, default, help). Task keys (task, model, behaviours, attack-params)
# belong to the app and are checked there; they are listed so a typo anywhere is caught.
KEYS: dict[str, tuple[str, type, Any, str]] = {
    "num-server-rounds": ("rounds", int, 3, "training rounds"),
    "chain": ("chain", str, "inprocess://", "inprocess://, anvil://[?state=FILE] or an RPC URL"),
    "deployment": ("deployment", str, "", "deployment file; empty = deploy afresh (dev chains)"),
    "strategy": ("strategy", str, "multi-krum", "inner strategy: " + ", ".join(sorted(STRATEGIES))),
    "f": ("f", int, 2, "Byzantine budget of the rule (independent of the attackers)"),
    "reward-budget": ("reward_budget", float, 30.0, "reward budget per round, in tokens"),
    "scoring-preset": ("scoring_preset", str, "default", "scoring preset: default, legacy"),
    "validation-examples": (
        "validation_examples",
        int,
        0,
        "> 0: the coordinator trains on this many held-out examples each round and pays "
        "for usefulness against that update (FLTrust); 0: peer basis, weaker guarantees",
    ),
    "policy-preset": ("policy_preset", str, "default", "reward/slash policy preset"),
    "artifact-dir": ("artifact_dir", str, ".fedstake/runs", "artifact store + journal root"),
    "simulated-keys": ("simulated_keys", bool, True, "simulation: node i uses dev account i+1"),
    "stake": ("stake", float, 100.0, "dev chains: tokens each simulated participant stakes"),
    "unstaked-partitions": (
        "unstaked",
        str,
        "",
        "dev chains: partitions left unstaked, e.g. '3,4'",
    ),
    "warp": ("warp", bool, True, "dev chains: skip the challenge window after each finalize"),
    "round-timeout": ("round_timeout", float, 600.0, "seconds to wait for train replies"),
    "max-examples": ("max_examples", int, 1_000_000, "largest example count a reply may claim"),
    "dp-clipping-norm": ("dp_clipping_norm", float, 0.0, "> 0: Flower's client-side DP clipping"),
    "dp-noise-multiplier": ("dp_noise", float, 0.0, "Gaussian noise of the DP wrapper"),
    "staked": ("staked", bool, True, "false: the inner strategy alone, no chain (baselines)"),
    "summary-file": ("summary_file", str, "", "write a JSON summary of the run here"),
    "closing-audit": (
        "closing_audit",
        bool,
        True,
        "at the end: simulated claims, accounting check, verify of every round",
    ),
    # task keys, used by the reference app
    "local-epochs": ("local_epochs", int, 1, "local epochs per round"),
    "learning-rate": ("learning_rate", float, 0.1, "client SGD learning rate"),
    "dirichlet-alpha": ("dirichlet_alpha", float, 0.0, "0 = IID; smaller > 0 = more skewed"),
    "seed": ("seed", int, 0, "data split and model seed"),
    "task": ("task", str, "digits", "task: digits, synthetic (or a registered dataset)"),
    "model": ("model", str, "mlp", "model: mlp, logreg, cnn"),
    "behaviours": ("behaviours", str, "", "simulation: 'PID:BEHAVIOUR,…' misbehaving clients"),
    "attack-params": ("attack_params", str, "", "simulation: 'ATTACK.PARAM=VALUE,…'"),
}


def run_config(**overrides: Any) -> dict[str, Any]:
    """A complete run config (every key at its default) with `overrides` applied, as
    `flwr run` builds it from pyproject; keys use their run-config names (`a_b` → `a-b`)."""
    cfg = {key: default for key, (_, _, default, _) in KEYS.items()}
    for name, value in overrides.items():
        key = name.replace("_", "-")
        if key not in KEYS:
            raise ConfigError(f"unknown run-config key {key!r}")
        cfg[key] = value
    return cfg


@dataclass(frozen=True)
class RunSettings:
    rounds: int = 3
    chain: str = "inprocess://"
    deployment: str = ""
    strategy: str = "multi-krum"
    f: int = 2
    reward_budget: float = 30.0
    scoring_preset: str = "default"
    policy_preset: str = "default"
    artifact_dir: str = ".fedstake/runs"
    simulated_keys: bool = True
    stake: float = 100.0
    unstaked: str = ""
    warp: bool = True
    round_timeout: float = 600.0
    max_examples: int = 1_000_000
    dp_clipping_norm: float = 0.0
    dp_noise: float = 0.0
    staked: bool = True
    summary_file: str = ""
    closing_audit: bool = True
    validation_examples: int = 0
    local_epochs: int = 1
    learning_rate: float = 0.1
    dirichlet_alpha: float = 0.0
    seed: int = 0
    task: str = "digits"
    model: str = "mlp"
    behaviours: str = ""
    attack_params: str = ""

    @classmethod
    def from_run_config(cls, cfg: Mapping[str, Any]) -> RunSettings:
        unknown = sorted(set(cfg) - set(KEYS))
        if unknown:
            raise ConfigError(
                f"unknown run-config key(s) {unknown}; known: {', '.join(sorted(KEYS))}"
            )
        values: dict[str, Any] = {}
        for key, value in cfg.items():
            attr, kind, _, _ = KEYS[key]
            values[attr] = _coerce(key, value, kind)
        s = cls(**values)
        s.check()
        return s

    def check(self) -> None:
        key = self.strategy.strip().lower().replace("_", "-")
        if key not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.strategy!r}; known: {', '.join(strategy_names())}"
            )
        if self.scoring_preset not in SCORING_PRESETS:
            raise ConfigError(
                f"unknown scoring-preset {self.scoring_preset!r}; known: {sorted(SCORING_PRESETS)}"
            )
        if self.policy_preset not in POLICY_PRESETS:
            raise ConfigError(
                f"unknown policy-preset {self.policy_preset!r}; known: {sorted(POLICY_PRESETS)}"
            )
        if self.rounds < 1 or self.f < 0 or self.reward_budget < 0 or self.max_examples < 1:
            raise ConfigError("num-server-rounds ≥ 1, f ≥ 0, reward-budget ≥ 0, max-examples ≥ 1")
        if self.validation_examples < 0:
            raise ConfigError("validation-examples must be ≥ 0 (0: no server validation set)")

    @property
    def budget_wei(self) -> int:
        return round(self.reward_budget * TOKEN)

    @property
    def stake_wei(self) -> int:
        return round(self.stake * TOKEN)

    @property
    def unstaked_partitions(self) -> set[int]:
        return {int(p) for p in self.unstaked.replace(" ", "").split(",") if p}

    def behaviour_of(self, partition_id: int) -> str:
        for item in self.behaviours.replace(" ", "").split(","):
            if item:
                pid, _, name = item.partition(":")
                if int(pid) == partition_id:
                    return name
        return "honest"

    def hyperparams(self) -> dict[str, Any]:
        """What the round's config hash commits to (everything but paths and switches)."""
        skip = {
            "chain",
            "deployment",
            "artifact_dir",
            "summary_file",
            "behaviours",
            "attack_params",
            "closing_audit",
        }
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def _coerce(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif (kind is int and isinstance(value, int) and not isinstance(value, bool)) or (
        kind is str and isinstance(value, str)
    ):
        return value
    raise ConfigError(f"run-config {key} = {value!r}: expected {kind.__name__}")
