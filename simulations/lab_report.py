"""The lab's report: summary.csv, REPORT.md with the targets checked, and figures.

    report("out/grid")   # summary.csv, REPORT.md, accuracy*.png, stake*.png, heatmap-*.png

A sweep whose axes include `strategy` and `attack` is laid out as aggregator × attack: one
pivot table and one heatmap per metric, and one set per value of every other axis (e.g.
`dirichlet-alpha`). The issue's targets are checked per cell (`TARGETS`): attacker net
P&L < 0, honest false-slash rate ≤ 1 %, free-rider reward ≤ 10 % of an honest
participant's, and, per attack, the best defence's final accuracy within 2 points of the
best clean run (`attack = "none"`) under the same other axes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from simulations.scenario import NO_ATTACK, ScenarioError

RESULT = "result.json"
SWEEP = "sweep.json"
CLASSES = ("honest", "attacker", "free-rider", "sybil")
SUMMARY_FIELDS = (
    "accuracy",
    "backdoor_success",
    "attacker_pnl",
    "attacker_reward_ratio",
    "honest_pnl",
    "free_rider_reward_ratio",
    "honest_false_slash_rate",
    "honest_false_flag_rate",
    "precision",
    "recall",
    "gas_total",
)
# the targets (`check_targets`)
MAX_FALSE_SLASH = 0.01
MAX_FREE_RIDER_RATIO = 0.10
MAX_ACCURACY_GAP = 0.02
GRID = ("strategy", "attack")


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows of one shape as CSV (None → empty)."""
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def load_cells(out: Path) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """(cells with their results, the sweep's axes) under `out`: a sweep or one simulate."""
    if (out / RESULT).exists():
        result = json.loads((out / RESULT).read_text())
        return [{"name": result["scenario"].get("name") or out.name, "values": {}, **result}], {}
    meta = json.loads((out / SWEEP).read_text()) if (out / SWEEP).exists() else {}
    names = [c["name"] for c in meta.get("cells", [])] or sorted(
        p.name for p in out.iterdir() if (p / RESULT).exists()
    )
    values = {c["name"]: c["values"] for c in meta.get("cells", [])}
    found = []
    for name in names:
        path = out / name / RESULT
        if path.exists():
            found.append(
                {"name": name, "values": values.get(name, {}), **json.loads(path.read_text())}
            )
    return found, {k: list(dict.fromkeys(v)) for k, v in meta.get("axes", {}).items()}


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


# -- targets ------------------------------------------------------------------------------------
def _value(cell: Mapping[str, Any], key: str) -> Any:
    """An axis value of a cell, or its scenario's value when the key is not an axis."""
    if key in cell["values"]:
        return cell["values"][key]
    return cell.get("scenario", {}).get(key)


def _context(cell: Mapping[str, Any], axes: Iterable[str]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, _value(cell, k)) for k in axes if k not in GRID)


def check_targets(found: list[dict[str, Any]], axes: Iterable[str]) -> list[dict[str, Any]]:
    """Per cell: each target's verdict (True / False / None = not applicable) and why."""
    axes = list(axes)
    clean: dict[tuple, float] = {}
    best: dict[tuple, float] = {}
    for c in found:
        acc = c["final"].get("accuracy")
        if acc is None:
            continue
        ctx = _context(c, axes)
        if _value(c, "attack") == NO_ATTACK:
            clean[ctx] = max(clean.get(ctx, 0.0), acc)
        else:
            key = (*ctx, ("attack", _value(c, "attack")))
            best[key] = max(best.get(key, 0.0), acc)
    out = []
    for c in found:
        f = c["final"]
        attacked = _value(c, "attack") != NO_ATTACK
        ctx = _context(c, axes)
        best_acc = best.get((*ctx, ("attack", _value(c, "attack"))))
        verdict = {
            "attacker_pnl<0": (f["attacker_pnl"] < 0)
            if attacked and f.get("attacker_pnl") is not None
            else None,
            "false_slash<=1%": (f["honest_false_slash_rate"] <= MAX_FALSE_SLASH)
            if f.get("honest_false_slash_rate") is not None
            else None,
            "free_rider<=10%": (f["free_rider_reward_ratio"] <= MAX_FREE_RIDER_RATIO)
            if f.get("free_rider_reward_ratio") is not None
            else None,
            "best_defence_within_2pts": (clean[ctx] - best_acc <= MAX_ACCURACY_GAP)
            if attacked and ctx in clean and best_acc is not None
            else None,
        }
        out.append({"cell": c["name"], **verdict})
    return out


# -- known results ------------------------------------------------------------------------------
def _acc(cells: Mapping[tuple[str, str], Mapping[str, Any]], strategy: str, attack: str) -> Any:
    c = cells.get((strategy, attack))
    return None if c is None else c["final"].get("accuracy")


def _drop(
    cells: Mapping[tuple[str, str], Mapping[str, Any]], strategy: str, attack: str
) -> float | None:
    """How much accuracy `attack` costs `strategy` against its clean run."""
    clean, hit = _acc(cells, strategy, NO_ATTACK), _acc(cells, strategy, attack)
    return None if clean is None or hit is None else clean - hit


def known_results(found: list[dict[str, Any]], axes: Iterable[str]) -> list[str]:
    """The literature's qualitative results, checked on the cells at hand (one line each,
    ✓ or ✗ with the figures; a claim whose cells are missing is left out), per value of the
    non-grid axes."""
    axes = list(axes)
    groups: dict[tuple, dict[tuple[str, str], dict[str, Any]]] = {}
    for c in found:
        key = (_value(c, "strategy"), _value(c, "attack"))
        groups.setdefault(_context(c, axes), {})[key] = c
    lines: list[str] = []
    for ctx, cells in groups.items():
        where = ", ".join(f"{k} = {v}" for k, v in ctx) or "all cells"
        claims: list[tuple[bool, str]] = []

        for attack in ("sign-flip", "scaling"):
            d = _drop(cells, "fedavg", attack)
            if d is not None:
                claims.append((d > 0.3, f"FedAvg collapses under {attack}: accuracy {-d:+.2f}"))
            for rule in ("median", "krum"):
                d = _drop(cells, rule, attack)
                if d is not None:
                    claims.append((d < 0.1, f"{rule} resists {attack}: accuracy {-d:+.2f}"))
        for attack in ("alie", "ipm"):
            cc = _drop(cells, "centered-clipping", attack)
            for rule in ("median", "krum"):
                d = _drop(cells, rule, attack)
                if d is not None and cc is not None:
                    claims.append(
                        (
                            d > cc,
                            f"{attack} hurts {rule} more than centered clipping: "
                            f"{-d:+.2f} vs {-cc:+.2f}",
                        )
                    )
        for attack in ("backdoor", "scaling"):
            fa = cells.get(("fedavg", attack))
            cc = cells.get(("centered-clipping", attack))
            if fa is not None and cc is not None:
                a = fa["final"].get("backdoor_success")
                b = cc["final"].get("backdoor_success")
                if a is not None and b is not None:
                    claims.append(
                        (
                            a > 0.5 and b < a / 2,
                            f"the backdoor ({attack}) survives FedAvg ({a:.2f} success) and "
                            f"centered clipping cuts it ({b:.2f})",
                        )
                    )
        losing = [c for (_, attack), c in cells.items() if attack != NO_ATTACK]
        if losing:
            bad = [
                f"{c['values'].get('strategy')}/{c['values'].get('attack')}"
                for c in losing
                if not (c["final"].get("attacker_pnl") or 0) < 0
            ]
            gain = [c for c in cells.values() if (c["final"].get("honest_pnl") or 0) > 0]
            claims.append(
                (
                    not bad,
                    f"attackers lose stake in {len(losing) - len(bad)}/{len(losing)} attacked "
                    "cells" + (f" (not in {', '.join(bad)})" if bad else ""),
                )
            )
            claims.append(
                (
                    len(gain) == len(cells),
                    f"honest participants gain in {len(gain)}/{len(cells)} cells",
                )
            )
        if claims:
            lines += [f"*{where}*", ""]
            lines += [f"- {'✓' if ok else '✗'} {text}" for ok, text in claims]
            lines.append("")
    return lines


# -- the report ---------------------------------------------------------------------------------
def report(out_dir: str | Path) -> dict[str, Any]:
    """Collect the cells under `out_dir` into summary.csv, targets.csv, REPORT.md and
    (matplotlib permitting) figures. Returns what it wrote."""
    out = Path(out_dir)
    found, axes = load_cells(out)
    if not found:
        raise ScenarioError(f"{out}: no {RESULT} found (run simulate or sweep first)")
    axis_keys = list(axes) or sorted({k for c in found for k in c["values"]})
    rows = []
    for c in found:
        row = {"cell": c["name"], **{k: c["values"].get(k) for k in axis_keys}}
        row.update({k: c["final"].get(k) for k in SUMMARY_FIELDS})
        row["balanced"] = c.get("accounting_balanced")
        row["verified"] = c.get("verified")
        row["seconds"] = c.get("seconds")
        rows.append(row)
    (out / "summary.csv").write_text(csv_text(rows))
    targets = check_targets(found, axis_keys)
    (out / "targets.csv").write_text(csv_text(targets))

    figures, note = figures_for(out, found, axes)
    md = _markdown(out, found, axes, rows, targets, figures)
    if note:
        md += ["", note]
    (out / "REPORT.md").write_text("\n".join(md) + "\n")
    return {
        "cells": len(found),
        "summary": str(out / "summary.csv"),
        "targets": str(out / "targets.csv"),
        "report": str(out / "REPORT.md"),
        "figures": [str(f) for f in figures],
    }


def _markdown(
    out: Path,
    found: list[dict[str, Any]],
    axes: Mapping[str, list[Any]],
    rows: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    figures: list[Path],
) -> list[str]:
    seconds = sum(c.get("seconds") or 0 for c in found)
    md = [
        "# Poisoning-lab report",
        "",
        f"{len(found)} cell(s) under `{out.name}`, {seconds / 60:.1f} cell-minutes of "
        "simulation. P&L: mean net tokens per member of a class (rewards − slashed stake); "
        "reward ratio: a class's mean reward over an honest participant's; false-slash and "
        "false-flag rates over honest participants × rounds; precision and recall of "
        "detection (flagged, excluded or slashed) over every non-honest participant × "
        "rounds. Every cell's token accounting balances to the wei and every round passes "
        "`fedstake verify` unless the last columns of `summary.csv` say otherwise.",
        "",
        "## Targets",
        "",
    ]
    names = [k for k in targets[0] if k != "cell"] if targets else []
    for name in names:
        applicable = [t for t in targets if t[name] is not None]
        failed = [t["cell"] for t in applicable if not t[name]]
        md.append(
            f"- **{name}**: {len(applicable) - len(failed)}/{len(applicable)} cells meet it"
            + (f"; missed by: {', '.join(failed)}" if failed else "")
        )
    unbalanced = [r["cell"] for r in rows if r["balanced"] is False]
    unverified = [r["cell"] for r in rows if r["verified"] is False]
    md.append(f"- accounting balanced in {len(rows) - len(unbalanced)}/{len(rows)} cells")
    md.append(f"- every round verified in {len(rows) - len(unverified)}/{len(rows)} cells")
    md.append("")
    known = known_results(found, list(axes) or [])
    if known:
        md += ["## Known results, checked", "", *known]
    if all(k in axes for k in GRID):
        others = [k for k in axes if k not in GRID]
        for combo in itertools.product(*(axes[k] for k in others)):
            ctx = dict(zip(others, combo, strict=True))
            sub = [c for c in found if all(c["values"].get(k) == v for k, v in ctx.items())]
            title = ", ".join(f"{k} = {v}" for k, v in ctx.items()) or "all cells"
            md += [f"## {title}", ""]
            for metric, label in (
                ("accuracy", "final test accuracy"),
                ("attacker_pnl", "attacker net P&L per member (tokens)"),
                ("attacker_reward_ratio", "attacker reward / honest reward"),
                ("honest_false_slash_rate", "honest false-slash rate"),
                ("free_rider_reward_ratio", "free-rider reward / honest reward"),
                ("backdoor_success", "backdoor success rate (final round)"),
            ):
                table = _pivot(sub, axes["strategy"], axes["attack"], metric)
                if table:
                    md += [f"**{label}** (rows: attack, columns: strategy)", "", *table, ""]
    else:
        md += [
            "| cell | final accuracy | attacker P&L | honest P&L | false-slash rate "
            "| free-rider ratio | backdoor | recall |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            md.append(
                f"| {r['cell']} | {fmt(r['accuracy'])} | {fmt(r['attacker_pnl'], 1)} | "
                f"{fmt(r['honest_pnl'], 1)} | {fmt(r['honest_false_slash_rate'])} | "
                f"{fmt(r['free_rider_reward_ratio'])} | {fmt(r['backdoor_success'])} | "
                f"{fmt(r['recall'])} |"
            )
        md.append("")
    md += [f"![{f.stem}]({f.name})" for f in figures]
    return md


def _pivot(
    cells: list[dict[str, Any]], strategies: list[Any], attacks: list[Any], metric: str
) -> list[str]:
    """A Markdown table metric[attack][strategy]; [] when the metric is absent everywhere."""
    by = {(c["values"].get("attack"), c["values"].get("strategy")): c for c in cells}
    values = [c["final"].get(metric) for c in cells]
    if all(v is None for v in values):
        return []
    digits = 1 if metric.endswith("pnl") else 3
    lines = [
        "| attack | " + " | ".join(str(s) for s in strategies) + " |",
        "|---" * (len(strategies) + 1) + "|",
    ]
    for a in attacks:
        cols = [
            fmt(by[(a, s)]["final"].get(metric), digits) if (a, s) in by else "" for s in strategies
        ]
        lines.append(f"| {a} | " + " | ".join(cols) + " |")
    return lines


# -- figures ------------------------------------------------------------------------------------
def figures_for(
    out: Path, found: list[dict[str, Any]], axes: Mapping[str, list[Any]]
) -> tuple[list[Path], str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "(figures skipped: matplotlib is not installed; `pip install -e .[dev]`)"
    grid = all(k in axes for k in GRID)
    others = [k for k in axes if k not in GRID] if grid else []
    figures: list[Path] = []
    for combo in itertools.product(*(axes[k] for k in others)):
        ctx = dict(zip(others, combo, strict=True))
        sub = [c for c in found if all(c["values"].get(k) == v for k, v in ctx.items())]
        suffix = "".join(f"_{k}={v}" for k, v in ctx.items())
        figures += _curves(plt, out, sub, axes if grid else {}, suffix)
        if grid:
            for metric, label, cmap, vmin, vmax in (
                ("accuracy", "final test accuracy", "viridis", 0.0, 1.0),
                ("attacker_pnl", "attacker net P&L / member (tokens)", "RdBu", None, None),
                ("backdoor_success", "backdoor success rate", "magma", 0.0, 1.0),
            ):
                path = _heatmap(plt, out, sub, axes, metric, label, cmap, vmin, vmax, suffix)
                if path is not None:
                    figures.append(path)
    if not grid and len(axes) == 2:
        (kx, xs), (ky, ys) = axes.items()
        path = _heatmap(
            plt,
            out,
            found,
            {"strategy": xs, "attack": ys},
            "accuracy",
            "final test accuracy",
            "viridis",
            0.0,
            1.0,
            "",
            keys=(kx, ky),
        )
        if path is not None:
            figures.append(path)
    return figures, ""


def _facets(
    cells: list[dict[str, Any]], axes: Mapping[str, list[Any]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    if "attack" in axes:
        return [
            (f"attack = {a}", [c for c in cells if c["values"].get("attack") == a])
            for a in axes["attack"]
        ]
    return [("", cells)]


def _curves(
    plt: Any, out: Path, cells: list[dict[str, Any]], axes: Mapping[str, list[Any]], suffix: str
) -> list[Path]:
    """accuracy per round (a line per strategy or cell) and stake trajectories per class
    (cumulative net per member, mean over the facet's cells), one panel per attack."""
    facets = _facets(cells, axes)
    cols = min(4, len(facets))
    rows = -(-len(facets) // cols)
    written = []
    for kind in ("accuracy", "stake"):
        fig, panels = plt.subplots(
            rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharex=True
        )
        for ax, (title, sub) in zip(panels.flat, facets, strict=False):
            if kind == "accuracy":
                for c in sub:
                    label = c["values"].get("strategy", c["name"])
                    ax.plot(
                        [r["round"] for r in c["rounds"]],
                        [r["accuracy"] for r in c["rounds"]],
                        label=str(label),
                    )
                ax.set_ylim(0, 1)
                ax.set_ylabel("test accuracy")
            else:
                for cls in CLASSES:
                    key = f"{cls}_net_per_member"
                    series = [
                        [r.get(key) for r in c["rounds"]] for c in sub if key in c["rounds"][0]
                    ]
                    if not series:
                        continue
                    length = min(len(s) for s in series)
                    mean = [sum(s[i] for s in series) / len(series) for i in range(length)]
                    ax.plot(range(1, length + 1), mean, label=cls)
                ax.axhline(0, color="grey", lw=0.5)
                ax.set_ylabel("net tokens / member")
            ax.set_title(title or kind, fontsize="small")
            ax.set_xlabel("round")
        for ax in list(panels.flat)[len(facets) :]:
            ax.axis("off")
        handles, labels = panels.flat[0].get_legend_handles_labels()
        if handles and len(handles) <= 12:
            fig.legend(
                handles, labels, loc="lower center", ncol=min(6, len(handles)), fontsize="small"
            )
            fig.tight_layout(rect=(0, 0.06, 1, 1))
        else:
            fig.tight_layout()
        path = out / f"{kind}{suffix}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _heatmap(
    plt: Any,
    out: Path,
    cells: list[dict[str, Any]],
    axes: Mapping[str, list[Any]],
    metric: str,
    label: str,
    cmap: str,
    vmin: float | None,
    vmax: float | None,
    suffix: str,
    *,
    keys: tuple[str, str] = GRID,
) -> Path | None:
    kx, ky = keys
    xs, ys = axes["strategy"], axes["attack"]
    grid = [[float("nan")] * len(xs) for _ in ys]
    for c in cells:
        x, y, v = c["values"].get(kx), c["values"].get(ky), c["final"].get(metric)
        if x in xs and y in ys and v is not None:
            grid[ys.index(y)][xs.index(x)] = v
    if all(v != v for row in grid for v in row):
        return None
    if vmin is None:  # diverging around 0
        bound = max(abs(v) for row in grid for v in row if v == v) or 1.0
        vmin, vmax = -bound, bound
    fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 3, 0.45 * len(ys) + 2))
    im = ax.imshow(grid, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=30, ha="right")
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    for j, row in enumerate(grid):
        for i, v in enumerate(row):
            if v == v:
                text = f"{v:.0f}" if metric.endswith("pnl") else f"{v:.2f}"
                ax.text(i, j, text, ha="center", va="center", color="w", fontsize="x-small")
    fig.colorbar(im, ax=ax, label=label)
    fig.tight_layout()
    name = {
        "accuracy": "heatmap",
        "attacker_pnl": "heatmap-pnl",
        "backdoor_success": "heatmap-backdoor",
    }[metric]
    path = out / f"{name}{suffix}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
