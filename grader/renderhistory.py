"""A team's grades over time in words: the terminal's tables (``olympics history``) and the
PR comment's section (docs/DESIGN.md, Progress over time). The rows are
:mod:`grader.publish.history`'s, as ``olympics history --json`` prints them; this module
only words them. A grade measured with another grader, other dependencies or under other
rules carries a mark and what differs, never a bare number beside the others.
"""

from __future__ import annotations

from rich.markup import escape as rich_escape
from rich.table import Table
from rich.text import Text

from grader import escape
from grader.metrics import fmt_bytes

NOT_COMPARABLE = "⚠"
COLUMNS = ("graded (UTC)", "commit", "files", "speedup [95 % CI]", "quality", "size",
           "instr. ratio", "yardstick")  # fmt: skip
WHY = (
    "measured by another grader version, with other runtime dependencies or under other "
    "rules: not comparable with the grades of this grader (a re-grade would be)"
)


def quality_name(rows: list[dict]) -> str:
    """The quality column's title: perplexity for a generation workload's rows."""
    text = any(r["perplexity"] is not None for r in rows)
    return "perplexity" if text else "accuracy"


def yardsticks(rows: list[dict]) -> list[str]:
    """What differs for each grade not comparable with this grader's, each once, in order:
    the notes the yardstick column's marks number."""
    found: list[str] = []
    for row in rows:
        if row["not_comparable"] and row["not_comparable"] not in found:
            found.append(row["not_comparable"])
    return found


def cells(row: dict, notes: list[str]) -> list[str]:
    """One grade's cells, in :data:`COLUMNS` order, plain text; ``notes``: the
    :func:`yardsticks` of its table."""
    short = (row["content_sha256"] or "")[:8] or "—"
    date = row["timestamp"][:16].replace("T", " ")
    commit = (row["commit"] or "")[:8] or "—"
    why = row["not_comparable"]
    basis = f"{NOT_COMPARABLE} {notes.index(why) + 1}" if why else "current"
    if row["status"] != "graded":
        rejected = f"rejected ({row['verdict_code']})"
        return [date, commit, short, rejected, "—", "—", "—", basis]
    speedup = "—"
    if row["speedup"] is not None:
        speedup = f"{row['speedup']:.3f}×"
        if row["speedup_ci95"]:
            lo, hi = row["speedup_ci95"]
            speedup += f" [{lo:.3f}, {hi:.3f}]"
    if row["perplexity"] is not None:
        quality = f"{row['perplexity']:.3f}"
    else:
        quality = "—" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
    ratio = row["instruction_ratio"]
    return [
        date,
        commit,
        short,
        speedup,
        quality,
        fmt_bytes(row["size_bytes"]),
        "—" if ratio is None else f"{ratio:.3f}×",
        basis,
    ]


def footnotes(notes: list[str]) -> list[str]:
    """The marks' notes, then what a mark means; none where every grade is current."""
    if not notes:
        return []
    return [f"{NOT_COMPARABLE} {i}: {escape.clean(n, 300)}" for i, n in enumerate(notes, 1)] + [
        f"{NOT_COMPARABLE} {WHY}."
    ]


def terminal_tables(team: str, workloads: dict[str, list[dict]]) -> list[Table | Text]:
    """A table per workload, its grades oldest first, each followed by its marks' notes.
    A stored file's words (its commit, its grader's version) are shown as typed: rich would
    read ``[/x]`` in them as markup (and fail) and ``[link=…]`` as a terminal hyperlink."""
    shown: list[Table | Text] = []
    for workload, rows in workloads.items():
        notes = yardsticks(rows)
        title = rich_escape(f"{escape.clean(team, 60)} · {escape.clean(workload, 64)}")
        table = Table(title=title, title_justify="left")
        for col in COLUMNS:  # a narrow terminal wraps the cells (not a hash); nothing is cut
            name = quality_name(rows) if col == "quality" else col
            table.add_column(name, overflow="fold", no_wrap=col in ("commit", "files"))
        for row in rows:
            shown_cells = (rich_escape(escape.clean(c, 200)) for c in cells(row, notes))
            table.add_row(*shown_cells, style="yellow" if row["not_comparable"] else None)
        shown.append(table)
        shown += [Text(note) for note in footnotes(notes)]
    return shown


def markdown_section(team: str, workload: str, rows: list[dict], limit: int = 10) -> str:
    """The PR comment's section: the team's earlier stored grades of this workload (the
    latest ``limit`` of them), marked where measured with another yardstick; "" if none."""
    if not rows:
        return ""
    shown = rows[-limit:]
    notes = yardsticks(shown)
    heading = f"#### Earlier grades of {escape.md(team, 60)} · {escape.md(workload, 64)}"
    head = [quality_name(shown) if c == "quality" else c for c in COLUMNS]
    lines = [heading, ""]
    if len(rows) > len(shown):
        lines += [f"The latest {len(shown)} of {len(rows)} stored grades, oldest first.", ""]
    else:
        lines += ["The stored grades, oldest first (the leaderboard counts the latest).", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(escape.md(c, 200) for c in cells(r, notes)) + " |" for r in shown]
    for note in footnotes(notes):  # a paragraph each: GitHub would run lines together
        lines += ["", escape.md(note, 400)]
    return "\n".join(lines) + "\n"
