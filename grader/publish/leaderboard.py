"""``leaderboard.md`` from the stored results: one table per workload and event, ranked by the
event's score, ties where the 95 % intervals overlap.

The output depends on the stored results and the rules only (no clock, no machine), so
regenerating an unchanged store gives the same bytes and ``--check`` can tell a stale file.
Every piece of student text is escaped by :func:`grader.escape.md`.
"""

from __future__ import annotations

import bisect
import collections
import csv
import functools
import io
import os
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from grader import __version__, escape, render
from grader.config import Rules
from grader.crosschecks import CLASSIFICATION, GENERATION, protocol
from grader.metrics import TABLE, fmt_value
from grader.publish import store
from grader.publish.store import Entry


class Ranked(NamedTuple):  # a tuple: 80,000 of them are made ranking 10,000 results
    entry: Entry
    score: float
    lo: float
    hi: float
    rank: int = 0


def ranks(rows: list[Ranked]) -> list[Ranked]:
    """Rank by score, higher first. An entry's rank is one more than the number of entries
    whose interval lies wholly above its own, and never better than the entry scored above
    it: entries whose intervals overlap share a rank, and the order follows the score."""
    lows = sorted(r.lo for r in rows)  # counting the intervals above by bisection: n log n
    ordered = sorted(rows, key=lambda r: (-r.score, r.entry.team))
    ranked, floor = [], 1
    for r in ordered:
        floor = max(floor, 1 + len(lows) - bisect.bisect_right(lows, r.hi))
        ranked.append(Ranked(r.entry, r.score, r.lo, r.hi, floor))
    return ranked


@functools.lru_cache(maxsize=65536)
def team_cell(team: str, root: Path, base: str = "") -> str:
    """The team's name, linked to its README where it has one: ``base`` leads from the
    leaderboard's folder to ``root`` (:func:`link_base`)."""
    name = escape.md(team, 60)
    readme = f"submissions/{team}/README.md"  # a slug: the store refuses any other team name
    return f"[{name}]({base}{readme})" if os.path.isfile(f"{root}/{readme}") else name


def link_base(root: Path, folder: Path) -> str:
    """A relative link's way from ``folder``, where the leaderboard is written, to ``root``,
    the course's clone: "" where they are one ("submissions/TEAM/README.md", the committed
    leaderboard's links), else "../" or the folders between, percent-encoded. A Markdown
    file's relative links resolve against its own folder, on GitHub as on disk; the charts
    are written beside the file and linked by their names alone."""
    way = Path(os.path.relpath(root.resolve(), folder.resolve())).as_posix()
    return "" if way == "." else urllib.parse.quote(way) + "/"


Reasons = list[tuple[Entry, str]]


def standing(
    name: str, entries: list[Entry], lower_better: bool = False
) -> tuple[list[Ranked], Reasons, Reasons]:
    """One event's ranked entries, the ones that missed a rule (and which), the unscored.
    Where the lower score is the better (a perplexity), the ranks are those of the negated
    scores and intervals: the lowest first."""
    rows, missed, unscored = [], [], []
    sign = -1 if lower_better else 1
    for e in entries:
        ev = e.doc["events"][name]
        if ev.get("qualified") and ev.get("scored"):
            lo, hi = sorted(sign * x for x in (ev.get("score_ci95") or (ev["score"],) * 2))
            rows.append(Ranked(e, sign * ev["score"], lo, hi))
        elif ev.get("qualified") is False:
            why = "; ".join(
                f"{r['metric']} {fmt_value(r['metric'], r['actual'])} "
                f"not {r['op']} {fmt_value(r['metric'], r['expected'])}"
                for r in ev.get("rules", [])
                if not r["passed"]
            )
            missed.append((e, why or ev.get("reason", "")))
        else:
            unscored.append((e, ev.get("reason", "not scored")))
    ranked = ranks(rows)
    if lower_better:
        ranked = [Ranked(r.entry, -r.score, -r.hi, -r.lo, r.rank) for r in ranked]
    return ranked, missed, unscored


def direction(event: dict) -> str:
    """Which way an event's score is better: "higher", or "lower" (a perplexity)."""
    return TABLE[event["score"]].better if event["score"] in TABLE else "higher"


Cells = dict[int, tuple[str, str]]  # one build's: an entry's cells, whatever the event


def event_table(
    name: str, rules: Rules, entries: list[Entry], root: Path, made: Cells, base: str = ""
) -> list[str]:
    event = rules.events[name]
    better = direction(event)
    ranked, missed, unscored = standing(name, entries, better == "lower")
    lines = [f"### {escape.md(event['title'], 80)}", ""]
    lines.append(f"Ranked by `{event['score']}`, {better} is better.")
    lines.append("")
    if ranked:
        lines += ["| rank | team | score [95 % CI] | techniques | flags | graded |"]
        lines += ["|---|---|---|---|---|---|"]
        counts = collections.Counter(r.rank for r in ranked)
        shared = {rank for rank, n in counts.items() if n > 1}
        for r in ranked:
            ev = r.entry.doc["events"][name]
            rank = f"={r.rank}" if r.rank in shared else str(r.rank)
            team, rest = entry_cells(r.entry, root, made, base)
            lines.append(f"| {rank} | {team} | {render.score_text(ev, markdown=True)} | {rest} |")
    else:
        lines.append("No qualifying entry yet.")
    for title, items in (("Not qualifying", missed), ("Not scored", unscored)):
        if items:
            lines += ["", f"{title}:", ""]
            lines += [
                f"- {team_cell(e.team, root, base)}: {escape.md(why, 300)}" for e, why in items
            ]
    return [*lines, ""]


def entry_cells(entry: Entry, root: Path, made: Cells, base: str = "") -> tuple[str, str]:
    """The team cell, and the techniques, flags and date cells, of one entry's rows."""
    cells = made.get(id(entry))  # the entries outlive the build: their ids stay theirs
    if cells is None:
        rest = f"{techniques(entry)} | {flags(entry)} | {md_date(entry.doc)}"
        cells = made[id(entry)] = (team_cell(entry.team, root, base), rest)
    return cells


def md_date(doc: dict) -> str:
    return doc["timestamp"][:10]  # digits and hyphens: the schema's pattern for a timestamp


# Claimed against found: ✓ claimed and found in the weight files, ✗ claimed and not found,
# + found and not claimed; a bare name was claimed and cannot be seen in weight files.
TECHNIQUE_MARKS = (("confirmed", "✓ "), ("unconfirmed", "✗ "), ("unclaimed", "+ "),
                   ("uncheckable", ""), ("unknown", ""))  # fmt: skip


def techniques(entry: Entry) -> str:
    found = entry.doc.get("techniques")
    if not found or "confirmed" not in found:  # a result from before detection
        marked = tuple(("", t) for t in entry.doc["submission"].get("techniques_claimed", []))
    else:
        marked = tuple((mark, t) for key, mark in TECHNIQUE_MARKS for t in found[key])
    return _techniques(marked[:8])


@functools.lru_cache(maxsize=4096)
def _techniques(marked: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(mark + escape.md(t, 40) for mark, t in marked) or "—"


def flags(entry: Entry) -> str:
    return _flags(tuple(f["message"] for f in entry.doc.get("flags", [])[:3]))


@functools.lru_cache(maxsize=4096)
def _flags(messages: tuple[str, ...]) -> str:
    return "; ".join(f"⚠️ {escape.md(m, 80)}" for m in messages) or "—"


def phase_line(rules: Rules, entries: list[Entry]) -> str:
    if not rules.is_final:
        return (
            "Public phase: ranked on the public test split; the final ranking, on the sealed "
            "private split, comes when the instructor sets `phase: final`."
        )
    if any(e.current for e in entries):
        return "**Final phase**: ranked on the sealed private test split. " + split_kinds(rules)
    return (
        "**Final phase, unavailable**: no entry has been graded on the sealed private split "
        "yet (the leaderboard workflow needs the secret `OLYMPICS_PRIVATE_KEY`)."
    )


def split_kinds(rules: Rules) -> str:
    """What the private split(s) ranked on are, in words: bundled (public digits) or the
    course's own; and for a generation workload its sealed Q&A, or that it has none and its
    entries are not ranked (docs/DESIGN.md, Generation)."""
    from grader.data import private

    ranked = [w for w in rules.workloads.values() if protocol(w) == CLASSIFICATION]
    kinds = sorted({private.kind(rules, w["dataset"]) or "bundled" for w in ranked})
    if kinds == ["course"]:
        words = "It is the course's own sealed split: " + private.KINDS["course"] + "."
    else:
        words = "It is the bundled private split: " + private.KINDS["bundled"] + "."
    for name, w in sorted(rules.workloads.items()):
        if protocol(w) != GENERATION:
            continue
        title = escape.md(name, 64)
        if private.kind(rules, w["dataset"]) is None:
            words += (
                f" {title} has no sealed Q&A split, so none of its entries is ranked: a course "
                f"seals its own with `olympics seal {name} --text FILE`."
            )
        else:
            words += f" {title} ranks perplexity on the course's own sealed Q&A."
    return words


def build(entries: Iterable[Entry], rules: Rules, root: Path, folder: Path | None = None) -> str:
    """The leaderboard's Markdown, to be written into ``folder`` (default: ``root``, the
    course's clone); its links lead from there."""
    with store.gc_paused():
        return _build(list(entries), rules, root, link_base(root, folder or root))


def _build(entries: list[Entry], rules: Rules, root: Path, base: str) -> str:
    entries = list(entries)
    team_cell.cache_clear()  # a README may have come or gone since the last build
    made: Cells = {}
    latest = max((e.doc["timestamp"] for e in entries), default=None)
    lines = [
        "# TinyTorch Olympics — leaderboard",
        "",
        f"Regenerated by `olympics leaderboard` (grader {escape.md(__version__, 20)}) from "
        f"{len(entries)} stored result(s)"
        + (f"; the latest grade was on {latest[:16].replace('T', ' at ')} UTC." if latest else "."),
        phase_line(rules, entries),
        "Each score has its 95 % interval; entries whose intervals overlap share a rank (=).",
        "Techniques: ✓ claimed and found in the weight files, ✗ claimed and not found,"
        " \\+ found and not claimed; a bare name cannot be seen in weight files.",
        "",
    ]
    workloads = list(rules.workloads) + sorted(
        {e.workload for e in entries} - set(rules.workloads) - {""}
    )
    for workload in workloads:
        here = [e for e in entries if e.workload == workload]
        if not here:
            continue
        lines += [f"## {escape.md(workload, 60)}", ""]
        current = [e for e in here if e.current]
        if current:
            axes = (
                "perplexity against speedup per token"
                if protocol(rules.workloads.get(workload, {})) == GENERATION
                else "accuracy against speedup"
            )
            alt = f"{escape.md(workload, 60)}: {axes}, size as marker area"
            lines += [f"![{alt}]({chart_name(workload)})", ""]
        for name in rules.events:
            entered = [e for e in current if name in e.doc["submission"]["events"]]
            if entered:
                lines += event_table(name, rules, entered, root, made, base)
        stale = [e for e in here if e.stale is not None]
        rejected = [e for e in here if not e.graded and e.stale is None]
        lines += listed("Stale, not ranked", [(e, e.stale or "") for e in stale], root, base)
        lines += listed("Rejected", [(e, verdict(e)) for e in rejected], root, base)
    before = [e for e in entries if not e.workload]
    if before:
        lines += ["## Rejected before grading", ""]
        lines += listed("", [(e, verdict(e)) for e in before], root, base)
    return "\n".join(lines).rstrip("\n") + "\n"


def chart_name(workload: str) -> str:
    return f"leaderboard-{workload}.svg"  # the workload is a checked slug (store.place)


def charts(entries: Iterable[Entry]) -> dict[str, bytes]:
    """The Pareto chart of each workload with current graded entries, by file name."""
    from grader.publish.chart import pareto_svg

    current = [e for e in entries if e.current]
    made = {}
    for workload in sorted({e.workload for e in current}):
        svg = pareto_svg(workload, [e for e in current if e.workload == workload])
        if svg is not None:
            made[chart_name(workload)] = svg
    return made


GRADE_BOOK = ("team", "member", "workload", "event", "rank", "score", "ci95_low", "ci95_high",
              "status", "graded")  # fmt: skip


def grade_book(entries: list[Entry], rules: Rules) -> list[list[str]]:
    """The instructor's export: a row per team, member, workload and event entered."""
    out: list[list[str]] = []

    def add(e: Entry, event: str, rank: str, score: tuple, status: str) -> None:
        members = e.doc["submission"].get("members") or [""]
        for member in members:
            row = [e.team, member, e.workload, event, rank, *score, status, e.doc["timestamp"]]
            out.append([spreadsheet_safe(str(cell)) for cell in row])

    for workload in sorted({e.workload for e in entries}):
        here = [e for e in entries if e.workload == workload]
        current = [e for e in here if e.current]
        for name in rules.events:
            entered = [e for e in current if name in e.doc["submission"]["events"]]
            ranked, missed, unscored = standing(
                name, entered, direction(rules.events[name]) == "lower"
            )
            for r in ranked:
                add(r.entry, name, str(r.rank), (f"{r.score:.6g}", f"{r.lo:.6g}", f"{r.hi:.6g}"),
                    "qualified")  # fmt: skip
            for e, why in missed:
                add(e, name, "", ("", "", ""), f"not qualified: {why}")
            for e, why in unscored:
                add(e, name, "", ("", "", ""), f"not scored: {why}")
        for e in here:
            if e.stale is not None:
                add(e, "", "", ("", "", ""), f"stale: {e.stale}")
            elif not e.graded:
                add(e, "", "", ("", "", ""), f"rejected: {e.doc['verdict']['code']}")
    return out


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    if cell[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return cell
    try:
        float(cell)  # a number, negative or signed, is data
        return cell
    except ValueError:
        return "'" + cell


def write_grade_book(entries: list[Entry], rules: Rules) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GRADE_BOOK)
    writer.writerows(grade_book(entries, rules))
    return buffer.getvalue()


def verdict(e: Entry) -> str:
    v = e.doc["verdict"]
    return f"`{v['code']}`: {escape.md(v['message'], 200)}"


def listed(title: str, items: list[tuple[Entry, str]], root: Path, base: str = "") -> list[str]:
    if not items:
        return []
    head = [f"{title}:", ""] if title else []
    return [*head, *[f"- {team_cell(e.team, root, base)}: {why}" for e, why in items], ""]
