"""The score card's hot spots: where the submission's time goes, by its own lines (the top
five, each with its share and its file:line) and by library
(docs/DESIGN.md, Where the time goes). The numbers are the result's derived ones
(``grader/result/hotspots.py``); this module only words them, for ``render.card`` and both
of its renderers. The file names and function names are the submission's: escaped for
each target."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.markup import escape as rich_escape
from rich.table import Table
from rich.text import Text

from grader.escape import cell_code, clean, md

SHOWN = 5
BUCKET_NAMES = {"blas": "BLAS", "numpy": "NumPy", "interpreter": "interpreter", "other": "other"}


def share(value: float) -> str:
    return f"{value * 100:.1f} %"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _rows(found: Mapping) -> list[tuple[str, str, str]]:
    """The largest lines, each with a numeric share (an odd line is passed over)."""
    lines = found.get("lines")
    rows = [
        (share(ln["share"]), f"{ln.get('file', '?')}:{ln.get('line', '?')}",
         str(ln.get("function", "?")))
        for ln in (lines if isinstance(lines, list) else [])
        if isinstance(ln, Mapping) and _number(ln.get("share"))
    ]  # fmt: skip
    return rows[:SHOWN]


def bucket_order(shares: Mapping) -> list[tuple[str, float]]:
    """The library buckets as shown, (name, share): the largest share first, a tie by name.
    The keys' own order is no order: a grade derives them in the order its counts were
    made, a stored result (sorted keys) in the alphabet's."""
    named = [(BUCKET_NAMES.get(k, str(k)), v) for k, v in shares.items()]
    return sorted(named, key=lambda nv: (-nv[1], nv[0].casefold(), nv[0]))


def _buckets(found: Mapping) -> str | None:
    """The library buckets in words, in :func:`bucket_order`; None where absent or not
    shares. The one text both renderers show."""
    shares = found.get("buckets")
    if not isinstance(shares, Mapping) or not all(_number(v) for v in shares.values()):
        return None
    parts = [f"{name} {share(v)}" for name, v in bucket_order(shares)]
    return "by library (instructions of the counted block): " + " · ".join(parts)


def hotspots(result: dict) -> dict | None:
    """The card's hot spots of the submission: its largest lines (share, file:line,
    function), what was profiled, the library buckets, or why either is absent; None where
    the result has none (a quick grade, or one from before them). Read leniently, as the
    hints read them: an odd field leaves its part out, never stops the card from being
    drawn."""
    found = (result.get("optimized") or {}).get("metrics", {}).get("hotspots")
    if not found or not isinstance(found, Mapping):
        return None
    samples = ((result.get("hotspots") or {}).get("profile") or {}).get("optimized") or {}
    unit = "steps of a walk" if result["measurement"].get("protocol") == "generation" else "digits"
    caption = (
        f"the submission's own lines, one untimed block of {samples.get('samples', '?')} "
        f"{unit} traced; calls into NumPy and BLAS count for the line that made them; as "
        "the model's own process reported them (advisory: nothing is scored by them)"
    )
    why = found.get("why_absent")
    return {
        "rows": _rows(found),
        "caption": caption,
        "buckets": _buckets(found),
        "why": why if isinstance(why, str) else None,
    }


def markdown_lines(spots: dict | None) -> list[str]:
    """The hot spots as Markdown: a table of the top lines, the buckets, what is missing."""
    if spots is None:
        return []
    lines = ["", f"**Where the time goes**: {md(spots['caption'], 300)}", ""]
    if spots["rows"]:
        lines += ["| share | line | function |", "|---|---|---|"]
        lines += [
            f"| {s} | {cell_code(where, 120)} | {cell_code(fn, 100)} |"
            for s, where, fn in spots["rows"]
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
