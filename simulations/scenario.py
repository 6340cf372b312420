"""A poisoning-lab scenario: one TOML file saying who attacks whom under which rule.

    scenario = Scenario.load("simulations/scenarios/alie-vs-krum.toml")
    cfg = scenario.to_run_config(artifact_dir="out/artifacts")   # the app's run config

Every key has one definition, `KEYS` (key → (type, default, help)); `keys_markdown()`
renders it as the table in `simulations/SCENARIOS.md`. An unknown key, a wrong type or an
unknown value (attack, attack parameter, strategy, preset, task, model) is a
`ScenarioError`, never a silent fallback. The attackers are the first k partition ids
(partition i signs with development account i + 1).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from federation.errors import ConfigError

NO_ATTACK = "none"
FREE_RIDER = "free-rider"

# key → (type, default, help); the TOML key, the sweep axis name and the table row.
KEYS: dict[str, tuple[type, Any, str]] = {
    "name": (str, "", "label used in reports (default: the file's stem)"),
    "clients": (int, 10, "participants (simulated SuperNodes), partitions 0…clients−1"),
    "attack": (
        str,
        "sign-flip",
        "attack of the attackers: a `simulations.attacks` registry name, a protocol fault "
        "of the reference app (nan, forged-hash, …) or `none`",
    ),
    "attackers": (int, 1, "number of attackers (the first k partition ids)"),
    "attacker-fraction": (
        float,
        0.0,
        "> 0: attackers = round(fraction·clients), instead of `attackers`",
    ),
    "attack-params": (dict, {}, "the attack's parameters, a TOML table `PARAM = VALUE`"),
    "free-riders": (
        int,
        0,
        "besides the attackers, this many free-riders (the next partition ids) send the "
        "global model plus tiny noise: the incentive layer must not pay them",
    ),
    "strategy": (str, "multi-krum", "inner aggregation rule (`federation.flower.inner`)"),
    "f": (int, 2, "Byzantine budget the rule assumes (independent of the attackers)"),
    "scoring": (str, "default", "scoring preset: default, legacy (run config `scoring-preset`)"),
    "validation-examples": (
        int,
        0,
        "> 0: the coordinator's validation set (held-out examples) that usefulness is "
        "measured against; 0: peer basis (run config `validation-examples`)",
    ),
    "policy": (str, "default", "reward/slash policy preset: default, provable-only"),
    "dirichlet-alpha": (float, 0.0, "data split: 0 = IID; smaller > 0 = more skewed"),
    "task": (str, "digits", "task: digits, synthetic"),
    "model": (str, "mlp", "model: mlp, logreg, cnn"),
    "rounds": (int, 3, "training rounds"),
    "chain": (str, "inprocess://", "inprocess:// (embedded, per process) or anvil://"),
    "seed": (int, 0, "data split, model and attacker randomness seed"),
    "local-epochs": (int, 1, "local epochs per round"),
    "learning-rate": (float, 0.1, "client SGD learning rate"),
}


class ScenarioError(ConfigError):
    """A scenario file or value that cannot run."""


def _attr(key: str) -> str:
    return key.replace("-", "_")


def coerce(key: str, value: Any) -> Any:
    """`value` as key's type; strings (sweep axes, CLI) are parsed. ScenarioError if not."""
    if key not in KEYS:
        raise ScenarioError(f"unknown scenario key {key!r}; known: {', '.join(KEYS)}")
    kind = KEYS[key][0]
    if kind is dict:
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, str):  # "z=1.5;knowledge=partial"
            out: dict[str, Any] = {}
            for item in value.replace(";", ",").split(","):
                if item.strip():
                    k, eq, v = item.partition("=")
                    if not eq:
                        raise ScenarioError(f"{key}: {item!r}: expected PARAM=VALUE")
                    out[k.strip()] = v.strip()
            return out
    elif isinstance(value, str) and kind is not str:
        try:
            return float(value) if kind is float else int(value)
        except ValueError:
            pass
    elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise ScenarioError(f"scenario {key} = {value!r}: expected {kind.__name__}")


@dataclass(frozen=True)
class Scenario:
    name: str = ""
    clients: int = 10
    attack: str = "sign-flip"
    attackers: int = 1
    attacker_fraction: float = 0.0
    attack_params: dict[str, Any] = field(default_factory=dict)
    free_riders: int = 0
    strategy: str = "multi-krum"
    f: int = 2
    scoring: str = "default"
    validation_examples: int = 0
    policy: str = "default"
    dirichlet_alpha: float = 0.0
    task: str = "digits"
    model: str = "mlp"
    rounds: int = 3
    chain: str = "inprocess://"
    seed: int = 0
    local_epochs: int = 1
    learning_rate: float = 0.1

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ScenarioError(f"unknown scenario key(s) {unknown}; known: {', '.join(KEYS)}")
        s = cls(**{_attr(k): coerce(k, v) for k, v in data.items()})
        s.check()
        return s

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: {exc}") from None
        if not data.get("name"):
            data["name"] = path.stem
        return cls.from_dict(data)

    def with_values(self, **values: Any) -> Scenario:
        """A copy with `values` (scenario keys, `-` or `_`) coerced and checked. A key
        `attack-params.NAME` sets one parameter of the attack (a sweep axis over it); the
        attack's registry types and checks the value."""
        changes: dict[str, Any] = {}
        params = dict(self.attack_params)
        for name, value in values.items():
            key = name.replace("_", "-")
            head, dot, param = key.partition(".")
            if head == "attack-params" and dot:
                if not param:
                    raise ScenarioError(f"{name}: expected attack-params.PARAM")
                params[param] = value
                continue
            changes[_attr(key)] = coerce(key, value)
        if params != self.attack_params and "attack_params" not in changes:
            changes["attack_params"] = params
        s = replace(self, **changes)
        s.check()
        return s

    def value_of(self, key: str) -> Any:
        """A scenario key's value (`attack-params.NAME` included), as sweeps name cells."""
        head, dot, param = key.replace("_", "-").partition(".")
        if head == "attack-params" and dot:
            return self.attack_params.get(param)
        return getattr(self, _attr(head))

    # -- saving ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {key: d[_attr(key)] for key in KEYS}

    def to_toml(self) -> str:
        lines, table = [], []
        for key, value in self.to_dict().items():
            if key == "attack-params":
                table = [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        if table:
            lines += ["", "[attack-params]", *table]
        return "\n".join(lines) + "\n"

    # -- meaning ---------------------------------------------------------------------------
    @property
    def num_attackers(self) -> int:
        if self.attack == NO_ATTACK:
            return 0
        if self.attacker_fraction > 0:
            return round(self.attacker_fraction * self.clients)
        return self.attackers

    @property
    def attacker_ids(self) -> list[int]:
        return list(range(self.num_attackers))

    @property
    def free_rider_ids(self) -> list[int]:
        return list(range(self.num_attackers, self.num_attackers + self.free_riders))

    def behaviour_of(self, pid: int) -> str:
        if pid in self.attacker_ids:
            return self.attack
        return FREE_RIDER if pid in self.free_rider_ids else "honest"

    def behaviours(self) -> str:
        return ",".join(
            f"{pid}:{self.behaviour_of(pid)}" for pid in self.attacker_ids + self.free_rider_ids
        )

    def attack_params_text(self) -> str:
        if self.attack == NO_ATTACK:
            return ""
        return ",".join(
            f"{self.attack}.{k}={str(v).lower() if isinstance(v, bool) else v}"
            for k, v in self.attack_params.items()
        )

    def to_run_config(self, **overrides: Any) -> dict[str, Any]:
        """The reference app's run config (`federation.flower.settings.run_config`);
        `overrides` are run-config keys (artifact_dir, summary_file, …)."""
        from federation.flower.settings import run_config

        return run_config(
            num_server_rounds=self.rounds,
            chain=self.chain,
            strategy=self.strategy,
            f=self.f,
            scoring_preset=self.scoring,
            validation_examples=self.validation_examples,
            policy_preset=self.policy,
            dirichlet_alpha=self.dirichlet_alpha,
            task=self.task,
            model=self.model,
            seed=self.seed,
            local_epochs=self.local_epochs,
            learning_rate=self.learning_rate,
            behaviours=self.behaviours(),
            attack_params=self.attack_params_text(),
            **overrides,
        )

    def check(self) -> None:
        """Every value the run would refuse, refused now (ScenarioError)."""
        from federation.flower.settings import RunSettings
        from simulations.flower_behaviours import check_behaviour, check_run_config

        if self.clients < 1 or self.rounds < 1 or self.attackers < 0 or self.free_riders < 0:
            raise ScenarioError("clients ≥ 1, rounds ≥ 1, attackers ≥ 0, free-riders ≥ 0")
        if not 0 <= self.attacker_fraction <= 1:
            raise ScenarioError("attacker-fraction must lie in [0, 1]")
        if self.num_attackers + self.free_riders > self.clients:
            raise ScenarioError(
                f"{self.num_attackers} attackers and {self.free_riders} free-riders among "
                f"{self.clients} clients"
            )
        if self.attack != NO_ATTACK:
            try:
                check_behaviour(self.attack)
            except ValueError as exc:
                raise ScenarioError(f"attack: {exc}; or {NO_ATTACK!r}") from None
        elif self.attack_params:
            raise ScenarioError("attack-params given with attack = 'none'")
        try:
            check_run_config(RunSettings.from_run_config(self.to_run_config()))
        except ConfigError as exc:
            raise ScenarioError(str(exc)) from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def keys_markdown() -> str:
    """The reference of every scenario key as a Markdown table (SCENARIOS.md has it)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, (kind, default, help_) in KEYS.items():
        shown = "`{}`" if kind is dict else f"`{_toml_value(default)}`"
        rows.append(f"| `{key}` | {kind.__name__} | {shown} | {help_} |")
    return "\n".join(rows) + "\n"


assert [f.name for f in fields(Scenario)] == [_attr(k) for k in KEYS]  # one reference
