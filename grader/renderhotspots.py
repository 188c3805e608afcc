"""The score card's hot spots: where the submission's time goes, by its own lines (the top
five, each with its share and its file:line) and by library
(docs/DESIGN.md, Where the time goes). The numbers are the result's derived ones
(``grader/result/hotspots.py``); this module only words them, for ``render.card`` and both
of its renderers. The file names and function names are the submission's: escaped for
each target."""

from __future__ import annotations

from rich.markup import escape as rich_escape
from rich.table import Table
from rich.text import Text

from grader.escape import clean, code, md

SHOWN = 5
BUCKET_NAMES = {"blas": "BLAS", "numpy": "NumPy", "interpreter": "interpreter", "other": "other"}


def share(value: float) -> str:
    return f"{value * 100:.1f} %"


def hotspots(result: dict) -> dict | None:
    """The card's hot spots of the submission: its largest lines (share, file:line,
    function), what was profiled, the library buckets, or why either is absent; None where
    the result has none (a quick grade, or one from before them)."""
    found = (result.get("optimized") or {}).get("metrics", {}).get("hotspots")
    if not found:
        return None
    samples = ((result.get("hotspots") or {}).get("profile") or {}).get("optimized") or {}
    unit = "steps of a walk" if result["measurement"].get("protocol") == "generation" else "digits"
    caption = (
        f"the submission's own lines, one untimed block of {samples.get('samples', '?')} "
        f"{unit} traced; calls into NumPy and BLAS count for the line that made them"
    )
    try:  # a verified result has the shape derive writes; a card is drawn whatever it holds
        rows = [
            (share(line["share"]), f"{line['file']}:{line['line']}", line["function"])
            for line in found["lines"][:SHOWN]
        ]
        buckets = None
        if found["buckets"] is not None:
            parts = [f"{BUCKET_NAMES[k]} {share(v)}" for k, v in found["buckets"].items()]
            buckets = "by library (instructions of the counted block): " + " · ".join(parts)
    except (TypeError, KeyError, AttributeError, ValueError):
        why = "the result's hot spots are not in the shape this grader derives"
        return {"rows": [], "caption": caption, "buckets": None, "why": why}
    return {"rows": rows, "caption": caption, "buckets": buckets, "why": found["why_absent"]}


def markdown_lines(spots: dict | None) -> list[str]:
    """The hot spots as Markdown: a table of the top lines, the buckets, what is missing."""
    if spots is None:
        return []
    lines = ["", f"**Where the time goes**: {md(spots['caption'], 300)}", ""]
    if spots["rows"]:
        lines += ["| share | line | function |", "|---|---|---|"]
        lines += [
            f"| {s} | {code(where, 120)} | {code(fn, 100)} |" for s, where, fn in spots["rows"]
        ]
    if spots["buckets"]:
        lines += ["", md(spots["buckets"], 300)]
    if spots["why"]:
        lines += ["", f"<sub>not shown: {md(spots['why'], 600)}</sub>"]
    return lines


def terminal_parts(spots: dict | None) -> list:
    """The hot spots for the terminal card: a table, and its caption lines."""
    if spots is None:
        return []
    table = Table(title="where the time goes", show_header=True, header_style="bold")
    for col in ("share", "line", "function"):
        table.add_column(col)
    for s, where, fn in spots["rows"]:
        table.add_row(s, rich_escape(clean(where, 120)), rich_escape(clean(fn, 100)))
    parts: list = [table] if spots["rows"] else []
    parts.append(Text(clean(spots["caption"], 300), style="dim"))
    parts += [Text(clean(t, 600), style="dim") for t in (spots["buckets"], spots["why"]) if t]
    return parts
