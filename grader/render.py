"""The score card, from one result, two ways: the terminal (rich) and Markdown (the PR
comment and the job summary). Both read the same :func:`card` model, so they cannot
disagree. Every piece of text that came from a student is escaped for its target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console, Group
from rich.markup import escape as rich_escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader import rendercounts, renderhints, renderhotspots, rendertext, renderwait
from grader.errors import Violation
from grader.escape import MD_TABLE, clean, command_data, command_property, md
from grader.metrics import FORMATS, G4, PLAIN, accuracy_of, fmt_ms, fmt_value


def score_text(ev: dict, markdown: bool = False) -> str:
    """An event's score with its 95 % interval, when it has one wider than a point; escaped
    for Markdown if asked, as :data:`escape.MD_TABLE` escapes it (a leaderboard of 10,000
    entries shows 30,000 of them: this is written for speed)."""
    metric = ev.get("score_metric", "")
    fmt = FORMATS.get(metric, G4)
    score = ev["score"]
    text = "—" if score is None else fmt(score)
    plain = markdown and metric in PLAIN
    ci = ev.get("score_ci95")
    if ci and ci[0] != ci[1]:
        lo, hi = ci  # two numbers (the result schema)
        lo, hi = "—" if lo is None else fmt(lo), "—" if hi is None else fmt(hi)
        text += f" \\[{lo}, {hi}\\]" if plain else f" [{lo}, {hi}]"
    if not markdown:
        return text
    if plain:
        return text.replace("-", "\\-") if "-" in text else text
    return text.translate(MD_TABLE)


def card(result: dict, hint_rules: Sequence[Mapping] = ()) -> dict:
    """The score card's content as plain strings: the one model both renderers draw.
    ``hint_rules``: events.yaml's ``hints:`` (the reader's rules; none, no hints)."""
    sub = result.get("submission", {})
    verdict = result["verdict"]
    out: dict = {
        "team": sub.get("team", "?"),
        "workload": sub.get("workload", ""),
        "description": sub.get("description", ""),
        "status": verdict["status"],
        "code": verdict.get("code"),
        "message": verdict.get("message", ""),
        "violations": [Violation.from_dict(v) for v in verdict.get("violations", [])],
        "metrics": [],
        "events": [],
        "flags": [],
        "details": [],
        "notes": [],
        "hints": renderhints.Shown([], []),
        "hotspots": None,  # where the time goes (renderhotspots), for a full grade
    }
    if verdict["status"] != "graded":
        return out
    generation = rendertext.is_generation(result)
    out["metrics"] = rendertext.text_metric_rows(result) if generation else metric_rows(result)
    if generation and (counted := rendercounts.instruction_row(result)):
        # beside the wall-time latency per token over a walk
        at = [row[0] for row in out["metrics"]].index("latency per token (whole walk)")
        out["metrics"].insert(at + 1, counted)
    out["events"] = [event_row(name, result["events"][name]) for name in sub["events"]]
    out["hotspots"] = renderhotspots.hotspots(result)
    out["flags"] = [
        (f["severity"], f["message"], f"{f['metric']} = {f['value']:.4g}") for f in result["flags"]
    ]
    out["details"] = technique_lines(result.get("techniques")) + quality_lines(
        result.get("code_quality")
    )
    out["hints"] = renderhints.shown(result, hint_rules)
    out["notes"] = (
        rendertext.text_notes(result)
        + renderwait.busy_notes(result)
        + rendercounts.instruction_notes(result)
        + sandbox_notes(result)
        if generation
        else split_notes(result) + measurement_notes(result)
    )
    return out


def metric_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The metrics table: a row per metric, the baseline's, the submission's and how they
    compare; the private split's accuracy second where the result scored it."""
    b, s = result["baseline"]["metrics"], result["optimized"]["metrics"]
    imp = result["improvements"]
    lo, hi = imp["speedup_ci95"]
    rows = [
        (
            "accuracy",
            f"{b['accuracy']:.3f} ({b['correct']}/{b['total']})",
            f"{s['accuracy']:.3f} ({s['correct']}/{s['total']})",
            f"{imp['accuracy_delta']:+.3f}",
        ),
        (
            "latency (median, 1 sample)",
            fmt_ms(b["latency_ms"]["median"]),
            fmt_ms(s["latency_ms"]["median"]),
            f"speedup {imp['speedup']:.3f}× [{lo:.3f}, {hi:.3f}], p={imp['speedup_p_value']:.3g}",
        ),
        ("latency p95", fmt_ms(b["latency_ms"]["p95"]), fmt_ms(s["latency_ms"]["p95"]), ""),
        ("throughput (batched)", _sps(b["throughput_sps"]), _sps(s["throughput_sps"]), ""),
        *rendertext.footprint_rows(b, s, imp),
    ]
    if counted := rendercounts.instruction_row(result):
        rows.insert(2, counted)  # beside the wall-time latency
    private = result.get("private")
    if private and private["available"]:
        pb, ps = private["baseline"], private["optimized"]
        rows.insert(
            1,
            (
                "accuracy, private split",
                f"{accuracy_of(pb):.3f} ({pb['correct']}/{pb['total']})",
                f"{accuracy_of(ps):.3f} ({ps['correct']}/{ps['total']})",
                f"|public − private| {imp['accuracy_gap']:.3f}",
            ),
        )
    return rows


def split_notes(result: dict) -> list[str]:
    """Which split the accuracy and the scores are on, where a private split is concerned."""
    private = result.get("private")
    if result["improvements"].get("accuracy_split") == "private":
        kind = private.get("kind") if private else None
        return [
            "final phase: accuracy and the scores use the private split"
            + {"bundled": " (bundled: public MNIST digits, rebuildable by anyone)",
               "course": " (the course's own sealed digits)"}.get(kind or "", "")
        ]  # fmt: skip
    if private and not private["available"]:
        return [f"private split not scored here: {private['reason']}"]
    return []


def event_row(name: str, ev: dict) -> dict:
    """One event of the card: its status, its score and each of its checks."""
    unjudged = ev["scored"] and ev["qualified"] is None  # left to a full grade (quick)
    checks = [
        (
            # a rule left to a full grade (rules.FULL_GRADE_ONLY) is neither met nor missed
            None if unjudged and not c["passed"] else c["passed"],
            f"{c['metric']} {fmt_value(c['metric'], c['actual'])} "
            f"{c['op']} {fmt_value(c['metric'], c['expected'])}",
        )
        for c in ev["rules"]
    ]
    checks += [
        (None, f"{part} {p['points']:.1f}/100 × {p['weight']:.0%}")
        for part, p in sorted(ev.get("parts", {}).items(), key=lambda kv: (-kv[1]["weight"], kv[0]))
    ]
    if not ev["scored"] and ev["qualified"] is None:
        status, score = "not scored", ev.get("reason", "")
    elif ev["qualified"] is None:
        status, score = "not judged (quick)", score_text(ev)
    else:
        status = "qualified" if ev["qualified"] else "not qualified"
        score = score_text(ev)
    return {
        "name": name,
        "title": ev["title"],
        "status": status,
        "score": score,
        "checks": checks,
        "reason": ev.get("reason", "") if not ev["qualified"] else "",
    }


def measurement_notes(result: dict) -> list[str]:
    """How the numbers were measured: the rounds, the answer checks, a held speedup and the
    sandbox's layers."""
    m, imp = result["measurement"], result["improvements"]
    overhead = result["optimized"]["metrics"]["harness_overhead_ms_per_sample"]
    notes = [
        f"{m['rounds']} interleaved rounds of {m['block_size']} samples "
        f"({m['stop_reason'].replace('_', ' ')}), harness cost "
        f"{fmt_ms(overhead)}/sample subtracted; "
        f"{'pinned' if result['system']['affinity']['pinned'] else 'not pinned'}; "
        f"{m['wall_seconds']:.1f} s" + (" (quick)" if m["quick"] else "")
    ]
    notes += renderwait.busy_notes(result)
    if line := answer_checks_line(result):
        notes.append(line)
    if imp.get("speedup_measured", 0) > imp["speedup"]:
        lo_new, hi_new = imp["speedup_new_digits_ci95"]
        notes.append(
            f"speedup held to {imp['speedup']:.3f}×, the upper end of its interval on the "
            f"rounds of digits new to the model [{lo_new:.3f}, {hi_new:.3f}] "
            f"({imp['speedup_measured']:.3f}× over every round): a speedup is published as "
            "far as digits the model has not met support it, so that answers kept from "
            "earlier calls count for nothing"
        )
    return notes + rendercounts.instruction_notes(result) + sandbox_notes(result)


def sandbox_notes(result: dict) -> list[str]:
    """The sandbox's layers: all active, or which are not."""
    layers = result.get("sandbox") or {}
    weak = sorted(k for k, v in layers.items() if v.startswith(("unavailable", "off")))
    if not layers:
        return []
    return [
        f"sandbox: all {len(layers)} layers active"
        if not weak
        else f"sandbox: {', '.join(weak)} not active on this machine (the result's "
        "'sandbox' says why)"
    ]


def answer_checks_line(result: dict) -> str | None:
    """What the checks that answers are computed found (SECURITY.md, threat 4): how often the
    submission's later answers matched its first, clean ones, and the caching check."""
    metrics = result.get("optimized", {}).get("metrics", {})
    kinds = [("repeats", "repeat_agreement"), ("first sightings", "first_sight_agreement"),
             ("batches", "batch_agreement")]  # fmt: skip
    parts = [f"{name} {metrics[key]:.2%}" for name, key in kinds if metrics.get(key) is not None]
    line = "answers matching the first, clean ones: " + ", ".join(parts) if parts else ""
    check = result["measurement"].get("cache_check")
    if check and check["judged"]:
        cache = (
            f"caching: repeated digits {check['gain']:.2f}x as fast as {check['fresh_rounds']} "
            f"rounds of new ones (p = {check['p_value']:.2g})"
        )
    elif check:
        cache = "caching: not judged (" + check.get("reason", "too few rounds") + ")"
    else:
        cache = ""
    return "; ".join(filter(None, [line, cache])) or None


def technique_lines(found: dict | None) -> list[str]:
    """Claimed against detected, one line a technique, with the first piece of evidence."""
    if not found or found.get("detected") is None:
        return []
    evidence = {d["technique"]: d["evidence"] for d in found["detected"]}
    idle = {d["technique"]: d.get("ablation", "") for d in found["detected"] if not d.get("used")}

    def shown(name: str) -> str:
        first, more = evidence[name][0], len(evidence[name]) - 1
        return first + (f" (and {more} more)" if more else "")

    lines = [f"technique {t}: claimed and found: {shown(t)}" for t in found["confirmed"]]
    lines += [f"technique {t}: found, not claimed: {shown(t)}" for t in found["unclaimed"]]
    lines += [
        f"technique {t}: claimed, found but not counted: {shown(t)}; {idle[t]}"
        if t in idle
        else f"technique {t}: claimed, not found in the weight files"
        for t in found["unconfirmed"]
    ]
    lines += [
        f"technique {t}: found, not claimed, not counted: {shown(t)}; {idle[t]}"
        for t in sorted(idle)
        if t not in found["unconfirmed"]
    ]
    lines += [
        f"technique {t}: claimed; not visible in weight files, so not checked"
        for t in found["uncheckable"]
    ]
    lines += [
        f"technique {t}: claimed; not a technique the rules know (`olympics rules` lists them)"
        for t in found["unknown"]
    ]
    lines.append(f"innovation {found['innovation']:.0f}/100, from the techniques found")
    return lines


def quality_lines(observed: dict | None) -> list[str]:
    if not observed:
        return []
    if observed.get("score") is None:
        return [f"code quality: not measured: {observed.get('problem') or 'no linter result'}"]
    top = ", ".join(
        f"{k}×{n}" for k, n in sorted(observed["by_rule"].items(), key=lambda kv: -kv[1])[:5]
    )
    size = (  # lines: a result from before statements were counted
        f"{observed['statements']} statements"
        if "statements" in observed
        else f"{observed.get('lines')} lines"
    )
    return [
        f"code quality {observed['score']:.0f}/100: {observed['findings']} finding(s) in "
        f"{size} ({observed['linter']} {observed['version']})" + (f": {top}" if top else "")
    ]


def _sps(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}/s"


# -- terminal -----------------------------------------------------------------------------------
def terminal(result: dict, console: Console, hint_rules: Sequence[Mapping] = ()) -> None:
    c = card(result, hint_rules)
    title = " · ".join(rich_escape(clean(part, 60)) for part in (c["team"], c["workload"]) if part)
    if c["status"] != "graded":
        body = [Text(f"REJECTED ({c['code']}): {clean(c['message'], 2000)}", style="bold red")]
        for v in c["violations"]:
            body.extend(Text(line) for line in v.render("terminal").split("\n"))
        console.print(Panel(Group(*body), title=title, border_style="red"))
        return
    table = Table(show_header=True, header_style="bold", expand=False)
    for col in ("", "baseline", "submission", ""):
        table.add_column(col)
    for row in c["metrics"]:
        table.add_row(*row)
    events = Table(show_header=True, header_style="bold")
    for col in ("event", "score [95 % CI]", "rules"):
        events.add_column(col)
    for ev in c["events"]:
        rules = (
            "\n".join(
                {True: "[green]✓[/]", False: "[red]✗[/]", None: "·"}[ok] + " " + rich_escape(t)
                for ok, t in ev["checks"]
            )
            or "—"
        )
        style = {"qualified": "green", "not qualified": "red"}.get(ev["status"], "yellow")
        events.add_row(
            f"{ev['title']}\n[{style}]{ev['status']}[/]", rich_escape(ev["score"]), rules
        )
    parts: list = [table, events, *renderhotspots.terminal_parts(c["hotspots"])]
    if c["description"]:
        parts.insert(0, Text(clean(c["description"], 300), style="italic"))
    parts.extend(Text(clean(d, 400)) for d in c["details"])
    for severity, message, value in c["flags"]:
        parts.append(Text(f"⚑ {severity}: {message} ({value})", style="yellow"))
    parts.extend(renderhints.terminal(c["hints"]))
    # cleaned: a note may carry a child's words (why the instructions were not counted)
    parts.extend(Text(clean(n, 1000), style="dim") for n in c["notes"])
    console.print(Panel(Group(*parts), title=title, border_style="green"))


# -- Markdown ------------------------------------------------------------------------------------
def markdown(result: dict, hint_rules: Sequence[Mapping] = ()) -> str:
    c = card(result, hint_rules)
    heading = " · ".join(
        md(part, 60) for part in ("TinyTorch Olympics", c["team"], c["workload"]) if part
    )
    lines = [f"### {heading}", ""]
    if c["description"]:
        lines += [f"_{md(c['description'], 300)}_", ""]
    if c["status"] != "graded":
        lines.append(f"**Rejected** (`{c['code']}`): {md(c['message'], 2000)}")
        lines.append("")
        lines += [v.render("markdown") for v in c["violations"]]
        return "\n".join(lines) + "\n"
    lines += ["| | baseline | submission | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {s} | {d} |" for a, b, s, d in c["metrics"]]
    lines += ["", "| event | status | score [95 % CI] | rules |", "|---|---|---|---|"]
    for ev in c["events"]:
        marks = {True: "✅ ", False: "❌ ", None: "· "}
        rules = "<br>".join(marks[ok] + md(t) for ok, t in ev["checks"]) or "—"
        lines.append(f"| {ev['title']} | {ev['status']} | {md(ev['score'])} | {rules} |")
    lines += renderhotspots.markdown_lines(c["hotspots"])
    if c["details"]:
        lines.append("")
        lines += [f"- {md(d, 400)}" for d in c["details"]]
    if c["flags"]:
        lines.append("")
        lines += [f"- ⚠️ **{sev}**: {md(msg)} ({md(val)})" for sev, msg, val in c["flags"]]
    lines += renderhints.markdown(c["hints"])
    for note in c["notes"]:  # a paragraph each: GitHub runs consecutive lines into one
        lines += ["", f"<sub>{md(note, 500)}</sub>"]
    return "\n".join(lines) + "\n"


# -- GitHub workflow commands (annotations) ------------------------------------------------------
def annotations(result: dict, config: str | None = None) -> list[str]:
    """``::error``/``::warning`` lines for a grade: each violation on its file and line,
    each event whose rules were not met on ``config`` (the submission.yaml)."""
    c = card(result)
    lines = []
    if c["status"] != "graded":
        title = "rejected: " + str(c["code"])
        for v in c["violations"] or [Violation(rule=str(c["code"]), message=c["message"])]:
            lines.append(v.render("annotation", title=title, config=config))
        return lines
    for ev in c["events"]:
        if ev["status"] != "not qualified":
            continue
        missed = "; ".join(t for ok, t in ev["checks"] if ok is False) or ev["reason"]
        props = [f"title={command_property(ev['title'] + ': not qualified')}"]
        if config:
            props.insert(0, f"file={command_property(config)}")
        lines.append(f"::warning {','.join(props)}::{command_data(missed)}")
    return lines
