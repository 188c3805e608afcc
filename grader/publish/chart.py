"""The Pareto chart of a workload: accuracy against latency, marker area by size on disk, the
baseline marked and the Pareto front (no other entry both faster and more accurate) drawn. A
generation workload's plots perplexity (lower is better, the axis turned so that up is
better) against the latency per token (docs/DESIGN.md, Generation).

The SVG is deterministic: no date, a fixed creator, a fixed hash salt for element ids, text
drawn as paths (a team name becomes glyph outlines, never SVG markup), points in a fixed
order. Regenerating from the same results with the same matplotlib gives the same bytes.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.publish.store import Entry

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SVG_SETTINGS = {"svg.hashsalt": "tinytorch-olympics", "svg.fonttype": "path"}


@dataclass(frozen=True)
class Point:
    team: str
    latency_ms: float
    accuracy: float
    size_bytes: int


def generation(entries: list[Entry]) -> bool:
    return any((e.doc.get("measurement") or {}).get("protocol") == "generation" for e in entries)


def quality(metrics: dict, text: bool) -> float:
    """What the y axis shows, as a number where higher is better: accuracy, or minus the
    perplexity of a generation workload."""
    return -metrics["perplexity"] if text else metrics["accuracy"]


def latency(metrics: dict, text: bool) -> float:
    """What the x axis shows: the median latency of one sample, or of one token over a walk."""
    return metrics["walk_latency_ms"] if text else metrics["latency_ms"]["median"]


def points(entries: list[Entry]) -> list[Point]:
    made = []
    text = generation(entries)
    for e in entries:
        m = e.doc["optimized"]["metrics"]
        made.append(Point(e.team, latency(m, text), quality(m, text), m["size_bytes"]))
    return sorted(made, key=lambda p: (p.latency_ms, -p.accuracy, p.team))


def front(found: list[Point]) -> list[Point]:
    """The entries no other entry beats on both latency (lower) and accuracy (higher)."""
    kept: list[Point] = []
    for p in sorted(found, key=lambda p: (p.latency_ms, -p.accuracy, p.team)):
        if not kept or p.accuracy > kept[-1].accuracy:
            kept.append(p)
    return kept


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
    base_latency = statistics.median(latency(m, text) for m in base)
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
        ax.scatter(
            [p.latency_ms for p in found],
            [sign * p.accuracy for p in found],
            s=[area(p.size_bytes) for p in found],
            color="#4c72b0",
            alpha=0.6,
            label="entries (area: size on disk)",
        )
        best = front(found)
        ax.plot(
            [p.latency_ms for p in best],
            [sign * p.accuracy for p in best],
            color="#c44e52",
            marker="o",
            markersize=4,
            label="Pareto front",
        )
        ax.scatter(
            [base_latency], [sign * base_accuracy], s=area(base_size), marker="*", color="#333333",
            label="baseline",
        )  # fmt: skip
        for p in best:  # the front is labelled; with thousands of entries, all would blur
            ax.annotate(p.team[:24], (p.latency_ms, sign * p.accuracy), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
        _label(ax, workload, text)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": "olympics leaderboard"})
    return out.getvalue()


def _label(ax: Axes, workload: str, text: bool = False) -> None:
    """Latency on a log scale in µs, its minor ticks labelled within a decade; the axes'
    labels, the title, the grid and the legend beside the plot."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v * 1e3:g}")  # ms on the axis, µs on the ticks
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    low, high = ax.get_xlim()
    if high / low > 10:  # more than a decade: the major ticks are enough
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    if text:
        ax.invert_yaxis()  # up is better: the lower perplexity
        ax.set_xlabel("latency per token, median over walks (µs, log scale; lower is better)")
        ax.set_ylabel("perplexity, held-out answers (lower is better)")
        ax.set_title(f"{workload}: perplexity against latency per token")
    else:
        ax.set_xlabel("latency, median of one sample (µs, log scale; lower is better)")
        ax.set_ylabel("accuracy (higher is better)")
        ax.set_title(f"{workload}: accuracy against latency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
