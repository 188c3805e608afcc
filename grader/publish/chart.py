"""The Pareto chart of a workload: accuracy against the speedup over the baseline, marker
area by size on disk, the baseline marked at 1× and the Pareto front (no other entry both
faster and more accurate) drawn. A generation workload's plots perplexity (lower is better,
the axis turned so that up is better) against the speedup per token
(docs/DESIGN.md, Generation; the axes: docs/DESIGN.md, Progress over time).

The x axis is the speedup, not a latency: each grade times its submission against its own
baseline in interleaved rounds, so its speedup holds across runs and runners where an
absolute latency does not (grades from different runs, or machines, would sit on one axis
measured with different clocks). Each entry's 95 % interval is an error bar; the baseline's
is the spread of its own median latency (:func:`baseline_interval`). Every point carries its
team's name (up to :data:`MAX_LABELLED` entries; beyond, the front's).

The SVG is deterministic: no date, a fixed creator, a fixed hash salt for element ids, text
drawn as paths (a team name becomes glyph outlines, never SVG markup), points in a fixed
order. Regenerating from the same results with the same matplotlib gives the same bytes.
"""

from __future__ import annotations

import io
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.publish.store import Entry

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SVG_SETTINGS = {"svg.hashsalt": "tinytorch-olympics", "svg.fonttype": "path"}
# Every point carries its team's name up to this many entries (a course's class); beyond,
# the names would cover one another and each costs a glyph path (10,000 of them: a 20 MB SVG
# drawn in minutes), so only the front's are written and the legend says so.
MAX_LABELLED = 300


@dataclass(frozen=True)
class Point:
    team: str
    speedup: float
    low: float  # the speedup's 95 % interval
    high: float
    accuracy: float
    size_bytes: int


def generation(entries: list[Entry]) -> bool:
    return any((e.doc.get("measurement") or {}).get("protocol") == "generation" for e in entries)


def quality(metrics: dict, text: bool) -> float:
    """What the y axis shows, as a number where higher is better: accuracy, or minus the
    perplexity of a generation workload."""
    return -metrics["perplexity"] if text else metrics["accuracy"]


def speedup(improvements: dict) -> tuple[float, float, float]:
    """What the x axis shows: the speedup over the baseline (per sample, or per token over a
    walk) and its 95 % interval."""
    value = improvements["speedup"]
    low, high = improvements.get("speedup_ci95") or (value, value)
    return value, low, high


def baseline_interval(metrics: dict) -> tuple[float, float]:
    """The baseline's own interval about 1×: its median latency over the ends of the
    median's 95 % interval (percentile bootstrap, ``stats.summarize``), the speedup a copy
    of the baseline could show from the baseline's noise alone."""
    latency = metrics["latency_ms"]
    median = latency["median"]
    low, high = latency.get("median_ci95") or (median, median)
    return median / high, median / low


def points(entries: list[Entry]) -> list[Point]:
    made = []
    text = generation(entries)
    for e in entries:
        m = e.doc["optimized"]["metrics"]
        value, low, high = speedup(e.doc["improvements"])
        made.append(Point(e.team, value, low, high, quality(m, text), m["size_bytes"]))
    return sorted(made, key=lambda p: (-p.speedup, -p.accuracy, p.team))


def front(found: list[Point]) -> list[Point]:
    """The entries no other entry beats on both speedup and accuracy (higher each)."""
    kept: list[Point] = []
    for p in sorted(found, key=lambda p: (-p.speedup, -p.accuracy, p.team)):
        if not kept or p.accuracy > kept[-1].accuracy:
            kept.append(p)
    return kept


def interval_segments(found: list[Point], sign: int = 1) -> tuple[list[float], list[float]]:
    """Each entry's 95 % interval as a segment of one line, the segments apart by NaN: one
    SVG path for all of them (matplotlib's errorbar writes an element per bar and cap, which
    at 10,000 entries took three times as long to draw as the rest of the chart)."""
    xs: list[float] = []
    ys: list[float] = []
    for p in found:
        xs += [p.low, p.high, math.nan]
        ys += [sign * p.accuracy, sign * p.accuracy, math.nan]
    return xs, ys


def pareto_svg(workload: str, entries: list[Entry]) -> bytes | None:
    """The chart of the graded, current entries of one workload, or None if there are none."""
    found = points(entries)
    if not found:
        return None
    import matplotlib
    import matplotlib.style
    from matplotlib.figure import Figure

    base = [e.doc["baseline"]["metrics"] for e in entries]
    text = generation(entries)
    ends = [baseline_interval(m) for m in base]  # each grade timed its own baseline
    base_low = statistics.median(low for low, _ in ends)
    base_high = statistics.median(high for _, high in ends)
    base_accuracy = statistics.median(quality(m, text) for m in base)
    base_size = statistics.median(m["size_bytes"] for m in base)
    biggest = max([p.size_bytes for p in found] + [base_size])

    def area(size: float) -> float:
        return 30 + 400 * size / biggest

    # matplotlib's own defaults, whatever matplotlibrc the machine has, then ours
    with matplotlib.style.context("default"), matplotlib.rc_context(SVG_SETTINGS):
        fig = Figure(figsize=(8.6, 4.4))
        ax = fig.subplots()
        sign = -1 if text else 1  # a perplexity is drawn as itself, on a turned axis
        xs, ys = [p.speedup for p in found], [sign * p.accuracy for p in found]
        ax.plot(*interval_segments(found, sign), color="#4c72b0", linewidth=1, alpha=0.6)
        ax.scatter(xs, ys, s=[area(p.size_bytes) for p in found], color="#4c72b0", alpha=0.6,
                   label="entries (area: size on disk; bar: 95 % CI)")  # fmt: skip
        best = front(found)
        ax.plot(
            [p.speedup for p in best],
            [sign * p.accuracy for p in best],
            color="#c44e52",
            marker="o",
            markersize=4,
            label="Pareto front",
        )
        ax.errorbar(
            [1.0], [sign * base_accuracy], xerr=[[1.0 - base_low], [base_high - 1.0]],
            fmt="none", ecolor="#333333", elinewidth=1, capsize=3,
        )  # fmt: skip
        ax.scatter(
            [1.0], [sign * base_accuracy], s=area(base_size), marker="*", color="#333333",
            label="baseline (1×)",
        )  # fmt: skip
        named = found if len(found) <= MAX_LABELLED else best
        for p in named:  # in the fixed order of points()
            ax.annotate(p.team[:24], (p.speedup, sign * p.accuracy), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
        if named is best and len(found) > len(best):
            ax.plot([], [], " ", label=f"names: the front's ({len(found)} entries)")
        _label(ax, workload, text)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "olympics leaderboard"})
    return out.getvalue()


def _label(ax: Axes, workload: str, text: bool = False) -> None:
    """The speedup on a log scale (1× in the middle of a symmetric range reads as "as fast"),
    its minor ticks labelled where fewer than two powers of ten show (past a decade, 2, 3 and
    5 only); the axes' labels, the title, the grid and the legend beside the plot."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}×")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    low, high = ax.get_xlim()
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    majors = [10.0**k for k in decades if low <= 10.0**k <= high]
    if len(majors) >= 2:  # two powers of ten in sight: the major ticks are enough
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    elif high / low > 10:  # over a decade with only 1x labelled (0.9x to 9x): 2, 3 and 5 too
        few = FuncFormatter(lambda v, _: f"{v:g}×" if f"{v:.0e}"[0] in "235" else "")
        ax.xaxis.set_minor_formatter(few)
    bottom, top = ax.get_ylim()  # entries all but equal (a perplexity kept to 1e-7):
    middle, least = (bottom + top) / 2, 0.01 * abs(bottom + top) / 2 or 0.01
    if top - bottom < least:  # a readable span about them, not an offset axis
        ax.set_ylim(middle - least / 2, middle + least / 2)
    if text:
        ax.invert_yaxis()  # up is better: the lower perplexity
        ax.set_xlabel("speedup per token over the baseline, over walks (log scale; higher is "
                      "better)")  # fmt: skip
        ax.set_ylabel("perplexity, held-out answers (lower is better)")
        ax.set_title(f"{workload}: perplexity against speedup per token")
    else:
        ax.set_xlabel("speedup over the baseline, one sample (log scale; higher is better)")
        ax.set_ylabel("accuracy (higher is better)")
        ax.set_title(f"{workload}: accuracy against speedup")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
