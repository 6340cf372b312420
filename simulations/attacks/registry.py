"""The attack registry: every attack by name, its kind, parameters and pure function.

Kinds:

* ``data``: changes the attacker's local data before it trains honestly (`poison`);
* ``model``: changes the attacker's own update after training (`craft`, own update only);
* ``omniscient``: crafts from the round's honest updates, learnt through the collusion
  channel (`simulations.attacks.collusion`), never through the server;
* ``identity``: one adversary behind several identities (sybils).

An attack has a `poison` hook, a `craft` hook or both (scaling: backdoor the data, then
boost the update). The Flower App applies them (`simulations.flower_behaviours`); the pure
functions they call are in `poisoning`, `tampering`, `omniscient` and `sybil`, each
documented with its source paper and formula.

The omniscient alie, ipm, min-max, min-sum and mimic take `evade` (`omniscient.evade`):
``none`` (every colluder sends the same vector; mimic's default is ``jitter``), ``own``
(own honest update + the attack's shift from the honest mean) or ``jitter`` (Gaussian
spread of the honest updates' mean per-coordinate std), so colluders differ from one
another as honest clients do.

Parameters come from the run-config key `attack-params`, e.g. ``"alie.z=1.5,scaling.factor=10"``
(`parse_attack_params`); an unknown attack, parameter or value is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from simulations.attacks import omniscient, poisoning, sybil, tampering

Kind = Literal["data", "model", "omniscient", "identity"]
KINDS: tuple[str, ...] = ("data", "model", "omniscient", "identity")


@dataclass(frozen=True)
class Param:
    default: Any  # None: derived in the round (documented in `help`)
    kind: type  # float, int, bool or str
    help: str
    choices: tuple[str, ...] = ()

    def coerce(self, where: str, text: str) -> Any:
        try:
            if self.kind is bool:
                if text.lower() in ("true", "1", "yes"):
                    return True
                if text.lower() in ("false", "0", "no"):
                    return False
                raise ValueError(text)
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"{where}={text!r}: expected {self.kind.__name__}") from None
        if self.choices and value not in self.choices:
            raise ValueError(f"{where}={text!r}: one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class DataView:
    """What a data-poisoning hook knows besides (x, y)."""

    num_classes: int
    image_side: int | None
    rng: np.random.Generator


@dataclass
class RoundView:
    """What an attacker knows in a round. Updates are flat float64 vectors Δ = w − g in
    the global model's array order; the attacker sends g + craft(...)."""

    g: np.ndarray  # the global model, flat
    own: np.ndarray  # this attacker's own update, trained after its data poisoning
    rng: np.random.Generator
    n: int  # participants in the round (honest and malicious)
    group: tuple[int, ...]  # partitions running this attack, this one included (colluders)
    honest_ids: tuple[int, ...]  # partitions training honestly this round
    updates: Callable[[Sequence[int]], np.ndarray]  # honest (k, d) updates: collusion channel

    def honest(self, knowledge: str = "full") -> np.ndarray:
        """The honest updates the attack is computed from: every honest client's ("full",
        the omniscient adversary) or the colluders' own honest updates ("own", the partial
        knowledge of ALIE and Shejwalkar & Houmansadr); "full" falls back to "own" when no
        client is honest."""
        ids = self.honest_ids if knowledge == "full" and self.honest_ids else self.group
        return self.updates(ids)


Poison = Callable[
    [np.ndarray, np.ndarray, DataView, Mapping[str, Any]], tuple[np.ndarray, np.ndarray]
]
Craft = Callable[[RoundView, Mapping[str, Any]], np.ndarray]


@dataclass(frozen=True)
class AttackSpec:
    name: str
    kind: Kind
    summary: str
    function: Callable[..., Any]  # the pure function with the formula and source
    params: Mapping[str, Param] = field(default_factory=dict)
    poison: Poison | None = None
    craft: Craft | None = None

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter: the defaults with `overrides` (already coerced) applied."""
        out = {k: p.default for k, p in self.params.items()}
        for k, v in (overrides or {}).items():
            if k not in self.params:
                raise ValueError(f"attack {self.name!r} has no parameter {k!r}")
            out[k] = v
        return out

    @property
    def source(self) -> str:
        """First paragraph of the pure function's docstring (formula and paper)."""
        doc = (self.function.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())


# -- hooks ------------------------------------------------------------------------------------


def _label_flip(x: np.ndarray, y: np.ndarray, v: DataView, p: Mapping[str, Any]) -> Any:
    mapping = poisoning.parse_label_map(p["map"]) if p["map"] else None
    flipped = poisoning.label_flip(
        y, num_classes=v.num_classes, mapping=mapping, fraction=p["fraction"], rng=v.rng
    )
    return x, flipped


def _trigger(v: DataView, p: Mapping[str, Any]) -> poisoning.Trigger:
    if v.image_side is None:
        raise ValueError("the pixel-pattern backdoor needs an image task (square images)")
    return poisoning.corner_trigger(v.image_side, p["patch"], p["value"])


def _backdoor(x: np.ndarray, y: np.ndarray, v: DataView, p: Mapping[str, Any]) -> Any:
    if not p.get("backdoor", True):
        return x, y
    trigger = _trigger(v, p)
    xp, yp, _ = poisoning.backdoor_poison(
        x, y, trigger=trigger, target=p["target"], fraction=p["fraction"], rng=v.rng
    )
    return xp, yp


def _lazy(x: np.ndarray, y: np.ndarray, v: DataView, p: Mapping[str, Any]) -> Any:
    return poisoning.lazy_subset(x, y, p["fraction"])


def _scaling(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
    factor = p["factor"] if p["factor"] is not None else float(v.n)
    return tampering.model_replacement(v.own, factor)


def _alie(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
    z = p["z"] if p["z"] is not None else omniscient.alie_z(v.n, len(v.group))
    return omniscient.alie(v.honest(p["knowledge"]), z)


def _fang(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
    h = v.honest(p["knowledge"])
    s = omniscient.fang_direction(h)
    if p["space"] == "model":  # the paper: crafted local models around the honest models
        return omniscient.fang(v.g[None, :] + h, s, v.rng, p["b"]) - v.g
    return omniscient.fang(h, s, v.rng, p["b"])


def _fang_krum(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
    if p["eps"] < 0:
        raise ValueError(f"fang-krum.eps must be ≥ 0, not {p['eps']}")
    h = v.honest("full")
    s = omniscient.fang_direction(h)
    _, lam = omniscient.fang_krum(h, s, len(v.group), p["f"], p["threshold"])
    w1 = -lam * s  # the same λ in every colluder: the search is deterministic
    # w'_1 is the group leader's; the others send it moved by ε. A colluder is the leader
    # when its own update is, bit for bit, the leader's recomputed through the collusion
    # channel (RoundView carries no partition id).
    leader = v.updates([min(v.group)])[0]
    if np.array_equal(v.own, leader):
        return w1
    return omniscient.fang_krum_near(w1, p["eps"], v.rng)


def _evasive(craft: Craft) -> Craft:
    """`craft` followed by `omniscient.evade` with the attack's `evade` parameter, on the
    honest updates the attack was computed from (its `knowledge`)."""

    def hook(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
        crafted = craft(v, p)
        mode = p.get("evade", "none")
        if mode == "none":
            return crafted
        return omniscient.evade(crafted, v.honest(p.get("knowledge", "full")), v.own, mode, v.rng)

    return hook


def _sybil(v: RoundView, p: Mapping[str, Any]) -> np.ndarray:
    base = v.updates([min(v.group)])[0]  # the group leader's honest update
    return sybil.sybil(base, v.rng, p["sigma"])


# -- the registry -----------------------------------------------------------------------------

_KNOWLEDGE = Param(
    "full", str, "honest updates seen: full (every honest client) or own", ("full", "own")
)
_EVADE = Param(
    "none",
    str,
    "how colluders differ from one another (`omniscient.evade`): none (all send the same "
    "vector), own (own honest update + the crafted shift from the honest mean) or jitter "
    "(crafted + Gaussian noise of the honest mean per-coordinate std)",
    omniscient.EVASIONS,
)
_BACKDOOR = {
    "target": Param(0, int, "label the triggered examples get"),
    "patch": Param(3, int, "side of the square trigger in the image's bottom-right corner"),
    "value": Param(1.0, float, "value of the trigger's pixels (digits are in [0, 1])"),
    "fraction": Param(0.3, float, "fraction of local examples stamped and relabelled"),
}
_OPT = {
    "direction": Param(
        "std", str, "perturbation ∇p: −σ, −μ/‖μ‖ or −sign(μ)", omniscient.DIRECTIONS
    ),
    "init": Param(10.0, float, "initial γ of the search (the paper's 10)"),
    "tol": Param(1e-5, float, "bisection tolerance on γ (the paper's 1e-5)"),
    "knowledge": _KNOWLEDGE,
    "evade": _EVADE,
}

ATTACKS: dict[str, AttackSpec] = {
    s.name: s
    for s in [
        AttackSpec(
            "label-flip",
            "data",
            "flip local labels (y → C−1−y, or a map) and train honestly",
            poisoning.label_flip,
            {
                "map": Param("", str, "SRC>DST;… pairs; empty: y → C−1−y"),
                "fraction": Param(1.0, float, "fraction of local examples flipped"),
            },
            poison=_label_flip,
        ),
        AttackSpec(
            "backdoor",
            "data",
            "pixel-pattern backdoor on part of the local data, trained honestly",
            poisoning.backdoor_poison,
            dict(_BACKDOOR),
            poison=_backdoor,
        ),
        AttackSpec(
            "lazy",
            "data",
            "train on a sliver of the local data",
            poisoning.lazy_subset,
            {"fraction": Param(0.05, float, "fraction of the local examples used")},
            poison=_lazy,
        ),
        AttackSpec(
            "sign-flip",
            "model",
            "send −scale·Δ",
            tampering.sign_flip,
            {"scale": Param(4.0, float, "multiple of the flipped update")},
            craft=lambda v, p: tampering.sign_flip(v.own, p["scale"]),
        ),
        AttackSpec(
            "noise",
            "model",
            "send Gaussian noise N(0, σ²) (or Δ + noise)",
            tampering.gaussian_noise,
            {
                "sigma": Param(1.0, float, "standard deviation"),
                "additive": Param(False, bool, "add the noise to Δ instead of replacing Δ"),
            },
            craft=lambda v, p: tampering.gaussian_noise(v.own, v.rng, p["sigma"], p["additive"]),
        ),
        AttackSpec(
            "scaling",
            "model",
            "model replacement: backdoor the local data, then send factor·Δ",
            tampering.model_replacement,
            {
                "factor": Param(None, float, "boost γ; default n (participants), i.e. n/η, η=1"),
                "backdoor": Param(True, bool, "poison the local data with the backdoor first"),
                **_BACKDOOR,
            },
            poison=_backdoor,
            craft=_scaling,
        ),
        AttackSpec(
            "free-rider",
            "model",
            "send the global model back plus tiny noise",
            tampering.free_ride,
            {"sigma": Param(1e-6, float, "standard deviation of the disguise")},
            craft=lambda v, p: tampering.free_ride(len(v.own), v.rng, p["sigma"]),
        ),
        AttackSpec(
            "alie",
            "omniscient",
            "A Little Is Enough: μ − z·σ of the honest updates",
            omniscient.alie,
            {
                "z": Param(None, float, "shift; default z_max = Φ⁻¹((n−s)/n), s = ⌊n/2+1⌋ − m"),
                "knowledge": _KNOWLEDGE,
                "evade": _EVADE,
            },
            craft=_evasive(_alie),
        ),
        AttackSpec(
            "ipm",
            "omniscient",
            "Inner Product Manipulation: −ε·μ of the honest updates",
            omniscient.ipm,
            {"eps": Param(0.5, float, "ε"), "knowledge": _KNOWLEDGE, "evade": _EVADE},
            craft=_evasive(lambda v, p: omniscient.ipm(v.honest(p["knowledge"]), p["eps"])),
        ),
        AttackSpec(
            "min-max",
            "omniscient",
            "μ + γ·∇p, γ maximal with max distance to honest ≤ max honest pairwise distance",
            omniscient.min_max,
            dict(_OPT),
            craft=_evasive(
                lambda v, p: omniscient.min_max(
                    v.honest(p["knowledge"]), p["direction"], p["init"], p["tol"]
                )[0]
            ),
        ),
        AttackSpec(
            "min-sum",
            "omniscient",
            "μ + γ·∇p, γ maximal with sum of squared distances ≤ the honest maximum",
            omniscient.min_sum,
            dict(_OPT),
            craft=_evasive(
                lambda v, p: omniscient.min_sum(
                    v.honest(p["knowledge"]), p["direction"], p["init"], p["tol"]
                )[0]
            ),
        ),
        AttackSpec(
            "mimic",
            "omniscient",
            "send the honest mean μ (no work, no harm: a free ride), spread by `evade`",
            omniscient.mimic,
            {"knowledge": _KNOWLEDGE, "evade": replace(_EVADE, default="jitter")},
            craft=_evasive(lambda v, p: omniscient.mimic(v.honest(p["knowledge"]))),
        ),
        AttackSpec(
            "fang",
            "omniscient",
            "Fang et al. on median / trimmed mean: beyond the honest extremes, against s_j",
            omniscient.fang,
            {
                "b": Param(2.0, float, "interval scale b > 1 (the paper's 2)"),
                "space": Param(
                    "model", str, "craft local models (paper) or updates", ("model", "update")
                ),
                "knowledge": _KNOWLEDGE,
            },
            craft=_fang,
        ),
        AttackSpec(
            "fang-krum",
            "omniscient",
            "Fang et al. on Krum: −λ·s_j, λ halved from the paper's bound until Krum picks it",
            omniscient.fang_krum,
            {
                "f": Param(None, int, "Krum budget the attackers assume; default c (attackers)"),
                "threshold": Param(1e-5, float, "smallest λ tried, then sent (the paper's 1e-5)"),
                "eps": Param(
                    1e-4, float, "distance of w'_2…w'_c from w'_1, relative to ‖λ·s‖ (≥ 0)"
                ),
            },
            craft=_fang_krum,
        ),
        AttackSpec(
            "sybil",
            "identity",
            "k identities send the group leader's honest update plus tiny noise",
            sybil.sybil,
            {"sigma": Param(1e-5, float, "per-identity noise")},
            craft=_sybil,
        ),
    ]
}


def parse_attack_params(text: str) -> dict[str, dict[str, Any]]:
    """`"alie.z=1.5,scaling.factor=10"` → {"alie": {"z": 1.5}, "scaling": {"factor": 10.0}},
    checked against the registry (unknown attack, parameter or value: ValueError)."""
    out: dict[str, dict[str, Any]] = {}
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        key, eq, value = item.partition("=")
        name, dot, param = key.partition(".")
        if not eq or not dot or not name or not param:
            raise ValueError(f"attack-params item {item!r}: expected ATTACK.PARAM=VALUE")
        if name not in ATTACKS:
            raise ValueError(
                f"attack-params: unknown attack {name!r}; known: {', '.join(sorted(ATTACKS))}"
            )
        spec = ATTACKS[name]
        if param not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise ValueError(f"attack-params: {name} has no parameter {param!r}; known: {known}")
        if param in out.get(name, {}):
            raise ValueError(f"attack-params: {key} given twice")
        out.setdefault(name, {})[param] = spec.params[param].coerce(key, value)
    return out


def attack_table() -> list[dict[str, Any]]:
    """One row per attack (name, kind, summary, parameters with defaults, source) for
    documentation and reports."""
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "summary": s.summary,
            "params": {k: p.default for k, p in s.params.items()},
            "source": s.source,
        }
        for s in ATTACKS.values()
    ]
