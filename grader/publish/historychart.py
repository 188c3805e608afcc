"""A team's speedup over time: one small chart per team with more than one grade, beside the
leaderboard (``leaderboard-history-<team>.svg``; docs/DESIGN.md, Progress over time).

A panel per workload the team was graded on: each grade's speedup with its 95 % interval as
an error bar, in the order graded, the baseline's 1× drawn across, the instruction ratio
beside it where the grade counted one. A grade measured with another grader version, other
runtime dependencies or under other rules is drawn hollow and grey, under its own legend
entry: shown, never silently compared. Deterministic as the Pareto charts are
(:data:`grader.publish.chart.SVG_SETTINGS`): the same store gives the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from grader.config import Rules
from grader.publish import chart, verified
from grader.publish.chart import SVG_SETTINGS
from grader.publish.history import History, all_histories

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PREFIX = "leaderboard-history-"  # beside leaderboard-<workload>.svg: no workload has a hyphen
CURRENT, OTHER = "#4c72b0", "#999999"
CHART_CACHE = ".history-charts.json"
# What a chart is drawn by: this module and the Pareto chart's settings, as source (a change
# of either draws every chart again; matplotlib's version is in the cache's key).
DRAWING = hashlib.sha256(
    Path(__file__).read_bytes() + Path(chart.__file__).read_bytes()
).hexdigest()


def chart_name(team: str) -> str:
    return f"{PREFIX}{team}.svg"  # the team is a checked slug (history.Reader.team)


def panels(history: History) -> dict[str, list[dict]]:
    """The graded rows with a speedup, by workload; a workload with none has no panel."""
    found = {}
    for workload, rows in history.workloads().items():
        graded = [r for r in rows if r["status"] == "graded" and r["speedup"] is not None]
        if graded:
            found[workload] = graded
    return found


def errors(rows: list[dict]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars, [below, above], from each row's interval."""
    below, above = [], []
    for r in rows:
        lo, hi = r["speedup_ci95"] or (r["speedup"], r["speedup"])
        below.append(max(0.0, r["speedup"] - lo))
        above.append(max(0.0, hi - r["speedup"]))
    return [below, above]


def history_svg(history: History) -> bytes | None:
    """The chart of one team's graded history, or None with fewer than two grades."""
    found = panels(history)
    if sum(len(rows) for rows in found.values()) < 2:
        return None
    import matplotlib
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"), matplotlib.rc_context(SVG_SETTINGS):
        fig = Figure(figsize=(8.0, 0.6 + 2.4 * len(found)))
        axes = fig.subplots(len(found), 1, squeeze=False)[:, 0]
        for ax, (workload, rows) in zip(axes, found.items(), strict=True):
            draw_panel(ax, history.team, workload, rows)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "olympics leaderboard"})
    return out.getvalue()


def draw_panel(ax: Axes, team: str, workload: str, rows: list[dict]) -> None:
    """One workload's grades: speedups with their intervals, the baseline, the ratio."""
    ax.axhline(1.0, color="#333333", linewidth=0.8, linestyle="--", label="baseline (1×)")
    for comparable in (True, False):
        picked = [i for i, r in enumerate(rows) if (r["not_comparable"] is None) == comparable]
        if not picked:
            continue
        chosen = [rows[i] for i in picked]
        color = CURRENT if comparable else OTHER
        ax.errorbar(
            picked, [r["speedup"] for r in chosen], yerr=errors(chosen), fmt="o",
            color=color, markerfacecolor=color if comparable else "white", capsize=3,
            label="speedup [95 % CI]" if comparable
            else "another grader or rules: not comparable",
        )  # fmt: skip
    counted = [(i, r["instruction_ratio"]) for i, r in enumerate(rows)
               if r["instruction_ratio"] is not None]  # fmt: skip
    if counted:
        ax.scatter([i for i, _ in counted], [v for _, v in counted], marker="D", s=18,
                   color="#dd8452", label="instruction ratio", zorder=3)  # fmt: skip
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["timestamp"][:16].replace("T", "\n") for r in rows], fontsize=7)
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("speedup (×, higher is better)", fontsize=8)
    ax.set_title(f"{team[:40]} · {workload}: speedup over time", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def charts(
    root: Path, rules: Rules, folder: Path | None = None
) -> tuple[dict[str, bytes], list[str]]:
    """The history chart of each team with more than one grade, by file name, and the
    stored files that could not be read (each named with its fix).

    Drawing one costs about 0.1 s; a course regenerates the leaderboard on every push, so a
    chart whose rows and drawing code are those it was last drawn from, and whose file in
    ``folder`` still has the bytes drawn then, is taken from the file (the cache
    ``results/.history-charts.json``, never committed; an edited file is drawn again)."""
    histories, problems = all_histories(root, rules)
    drawn, _ = verified.load_cache(root, rules, CHART_CACHE)
    made, kept = {}, {}
    for history in histories:
        name = chart_name(history.team)
        inputs = hashlib.sha256(
            (DRAWING + json.dumps(history.grades, sort_keys=True)).encode()
        ).hexdigest()
        before = drawn.get(history.team)
        svg = None
        if folder is not None and isinstance(before, dict) and before.get("inputs") == inputs:
            with contextlib.suppress(OSError):
                data = (folder / name).read_bytes()
                if hashlib.sha256(data).hexdigest() == before.get("svg"):
                    svg = data
        if svg is None:
            svg = history_svg(history)
        if svg is not None:
            made[name] = svg
            kept[history.team] = {"inputs": inputs, "svg": hashlib.sha256(svg).hexdigest()}
    if kept != drawn:
        verified.save_cache(root, rules, kept, None, CHART_CACHE)
    return made, problems
