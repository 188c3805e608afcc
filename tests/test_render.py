"""The score card: Markdown goldens, and student text made inert on both renderers.

Goldens: ``tests/data/card_example_baseline.md`` is the Markdown of the golden result
``tests/data/result_example_baseline.json`` after :func:`normalise` fixed its volatile
numbers (timestamps, wall seconds, latencies, speedups, memory, commit); ``card_rejected.md``
is a ``config_invalid`` card with two violations. The one way to update them, after a
deliberate change of the card:

    UPDATE_GOLDEN=1 python -m pytest tests/test_render.py -p no:cacheprovider

then review the diff of ``tests/data/*.md`` before committing it.
"""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
from clirun import flat
from golden import check_golden, golden_result
from markdownrows import unescaped_pipes
from rich.console import Console

from grader import escape, metrics, render, rules
from grader.config import load_rules, project_root
from grader.errors import Violation
from grader.grade import rejected_config
from grader.result import derive

NASTY = (
    "@octocat <img src=x onerror=alert(1)> [link](http://evil) | col |\n"
    "second line `code` \x1b[31mred\x1b[0m"
)


def normalise(doc: dict) -> dict:
    """A copy of a graded result whose volatile numbers are fixed (not re-derived)."""
    doc = copy.deepcopy(doc)
    doc["timestamp"] = "2026-01-01T00:00:00Z"
    doc["grader"]["commit"] = "0" * 40
    doc["system"]["affinity"] = {"parent": 0, "children": 1, "pinned": True}
    doc["measurement"].update(
        rounds=80, block_size=500, stop_reason="max_rounds", wall_seconds=2.0, quick=True
    )
    latency = {"baseline": (0.012, 0.017), "optimized": (0.0115, 0.0165)}
    for side, (median, p95) in latency.items():
        m = doc[side]["metrics"]
        m["latency_ms"].update(median=median, p50=median, p95=p95)
        m["throughput_sps"] = 400_000.0
        m["peak_memory_bytes"] = 1_400_000
        m["harness_overhead_ms_per_sample"] = 0.0025
    # A plausible, self-consistent fix: faster, but the interval still covers 1.
    speedup, interval = 1.05, [0.99, 1.11]
    doc["improvements"].update(
        speedup=speedup,
        speedup_ci95=interval,
        speedup_p_value=0.12,
        efficiency=speedup * doc["improvements"]["compression_ratio"],
    )
    for name, event in doc["events"].items():
        if event.get("score_metric") in ("speedup", "efficiency"):
            event["score"], event["score_ci95"] = speedup, interval
        for rule in event["rules"]:
            if rule["metric"] == "latency_ms":
                rule["actual"] = 0.0115
        assert event["qualified"], name
    doc["code_quality"]["version"] = "0.0.0"
    if "all_around" in doc["events"]:  # its speed part follows the fixed speedup
        rule_set = load_rules()
        flat = {
            **doc["improvements"],
            "accuracy": doc["optimized"]["metrics"]["accuracy"],
            "accuracy_ci95": doc["optimized"]["metrics"]["accuracy_ci95"],
            "code_quality": doc["code_quality"]["score"],
            "innovation": doc["techniques"]["innovation"],
        }
        event = rule_set.events["all_around"]
        doc["events"]["all_around"] = rules.evaluate_event(
            event, flat, [], rule_set.composite_parts
        )
    doc["flags"] = [
        {
            "id": "speedup_not_significant",
            "severity": "warn",
            "metric": "speedup_p_value",
            "op": ">=",
            "threshold": 0.05,
            "value": 0.12,
            "message": "the speedup is not statistically significant (p >= 0.05)",
        }
    ]
    return doc


def rejected_result(team: str = "broken-team", text: str = "") -> dict:
    violations = [
        Violation(
            rule="event_unknown",
            message=f"there is no event 'nope_event'{text}",
            file=f"submissions/{team}/submission.yaml",
            line=4,
            field="events[1]",
            expected="one of accuracy_contest, all_around, extreme_push, latency_sprint",
            found="'nope_event'",
            fix=f"choose one of accuracy_contest, all_around, extreme_push{text}",
        ),
        Violation(
            rule="entrypoint_function_missing",
            message=f"model.py does not define build_model{text}",
            file=f"submissions/{team}/model.py",
            fix=f"define `def build_model():` at the top level of model.py{text}",
        ),
    ]
    doc = rejected_config(Path("submissions") / team, violations)
    doc["timestamp"] = "2026-01-01T00:00:00Z"
    doc["grader"]["commit"] = "0" * 40
    return doc


def terminal_text(doc: dict, width: int = 200) -> str:
    buffer = io.StringIO()
    render.terminal(doc, Console(file=buffer, force_terminal=False, width=width))
    return buffer.getvalue()


# --- goldens ------------------------------------------------------------------------------------


def test_card_of_the_baseline_matches_the_golden() -> None:
    check_golden("card_example_baseline.md", render.markdown(normalise(golden_result())))


def test_card_of_a_rejected_config_matches_the_golden() -> None:
    check_golden("card_rejected.md", render.markdown(rejected_result()))


def test_normalising_fixes_every_volatile_number() -> None:
    # Two different real grades render to the same normalised card, except what is not
    # volatile (team, accuracy, sizes): a changed latency cannot leak into the golden.
    doc = golden_result()
    other = copy.deepcopy(doc)
    other["timestamp"] = "2030-12-31T23:59:59Z"
    other["measurement"]["wall_seconds"] = 99.0
    for side in ("baseline", "optimized"):
        other[side]["metrics"]["latency_ms"]["median"] *= 3
        other[side]["metrics"]["throughput_sps"] = 1.0
    other["improvements"]["speedup"] = 7.0
    assert render.markdown(normalise(doc)) == render.markdown(normalise(other))


def test_graded_card_has_both_tables() -> None:
    text = render.markdown(normalise(golden_result()))
    assert "| | baseline | submission | |" in text
    assert "| event | status | score [95 % CI] | rules |" in text
    for title in ("Latency Sprint", "Memory Challenge", "Accuracy Contest", "Extreme Push"):
        assert f"| {title} | qualified |" in text
    assert text.endswith("\n")


def test_terminal_and_markdown_show_the_same_numbers() -> None:
    doc = normalise(golden_result())
    term, mark = terminal_text(doc), render.markdown(doc)
    for shown in ("1.050×", "0.943 (943/1000)", "408.2 kB", "12.00 µs", "11.50 µs", "0.12"):
        assert shown in term, shown
        assert shown in mark, shown


def test_not_scored_event_shows_no_number() -> None:
    doc = normalise(golden_result())
    doc["events"]["all_around"] = {
        "title": "All-Around",
        "scored": False,
        "qualified": None,
        "score": None,
        "score_ci95": None,
        "rules": [],
        "reason": "not scored: code_quality was not measured",
    }
    (line,) = [ln for ln in render.markdown(doc).splitlines() if ln.startswith("| All-Around")]
    assert "not scored" in line
    assert not re.search(r"\d", line)


# --- escaping -------------------------------------------------------------------------------------

TABLE_ROW = re.compile(r"^\|.*\|$")


def assert_inert_markdown(text: str) -> None:
    # Every @ is followed by a zero-width space (no mention, no e-mail link), and every
    # scheme is cut from its "://" (no bare-URL autolink).
    assert re.findall(r"@(?!&#8203;)", text) == []
    assert re.findall(r"(?i)(?:https?|ftp)://", text) == []
    assert "<img" not in text.lower()
    assert "](" not in text
    assert "\x1b" not in text
    for line in text.splitlines():
        if TABLE_ROW.match(line):
            assert unescaped_pipes(line) == 5, line  # four columns, nothing more


@pytest.mark.parametrize(
    "field",
    [pytest.param("team", id="team"), pytest.param("description", id="description")],
)
def test_graded_card_escapes_student_text(field: str) -> None:
    doc = normalise(golden_result())
    doc["submission"][field] = NASTY
    text = render.markdown(doc)
    assert_inert_markdown(text)
    assert len(text.splitlines()) == len(render.markdown(normalise(golden_result())).splitlines())
    assert "\x1b" not in terminal_text(doc)


def test_rejected_card_escapes_student_text() -> None:
    doc = rejected_result(team="evil", text=NASTY)
    doc["submission"]["team"] = NASTY
    doc["verdict"]["message"] = NASTY
    text = render.markdown(doc)
    assert_inert_markdown(text)
    # One heading, the verdict, two violations: no line of the student's breaks out.
    assert len([ln for ln in text.splitlines() if ln.startswith("- ✗")]) == 2
    assert len(text.splitlines()) == 6
    assert "\x1b" not in terminal_text(doc)


def test_a_counted_childs_words_in_a_note_are_escaped() -> None:
    """A model that raises under valgrind only leaves the count absent with its exception's
    text as the reason, which the card's notes show: escaped there as everywhere."""
    doc = normalise(golden_result())
    doc["instructions"] = {"counted": False, "reason": NASTY, "valgrind": "valgrind-3.19.0"}
    doc = derive.apply_derived(doc, derive.derive(doc, load_rules()))
    assert_inert_markdown(render.markdown(doc))
    shown = terminal_text(doc)
    assert "instructions not counted" in shown and "\x1b" not in shown


@pytest.mark.parametrize("force_terminal", [False, True], ids=["plain", "colour"])
def test_terminal_keeps_student_markup_literal(force_terminal: bool) -> None:
    doc = normalise(golden_result())
    doc["submission"]["team"] = "[bold red]team[/] [link=http://evil]x[/link] \x1b[31mred"
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=force_terminal, width=200, color_system=None)
    render.terminal(doc, console)
    out = buffer.getvalue()
    assert "[bold red]team[/]" in out  # shown as typed, not interpreted
    assert "\x1b[31m" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("@octocat", "@&#8203;octocat", id="mention"),
        pytest.param("mail a@b.org", "mail a@&#8203;b.org", id="email-autolink"),
        pytest.param("<img src=x>", "&lt;img src=x&gt;", id="html"),
        pytest.param("[a](http://evil)", r"\[a\]\(http&#8203;://evil\)", id="link"),
        pytest.param("see https://evil.example", "see https&#8203;://evil.example", id="bare-url"),
        pytest.param("go to WWW.evil.example", "go to WWW&#8203;.evil.example", id="www"),
        pytest.param("a\u200bb", "ab", id="zero-width-removed"),
        pytest.param("a | b", r"a \| b", id="pipe"),
        pytest.param("one\ntwo", "one two", id="newline"),
        pytest.param("`x`", r"\`x\`", id="backtick"),
        pytest.param("\x1b[31mred", r"\[31mred", id="ansi"),
        pytest.param("a\u202eb", "ab", id="bidi-override"),
        pytest.param("x" * 300, "x" * 199 + "…", id="capped"),
    ],
)
def test_md_escapes(text: str, expected: str) -> None:
    assert escape.md(text) == expected


HOSTILE_VIOLATION = Violation(
    rule="r", message="bad [x](http://e.com) @me", file="sub/a.yaml", line=3, field="f.g",
    expected="1", found="2", fix="use *1*",
)  # fmt: skip


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "text",
            "sub/a.yaml:3: bad [x](http://e.com) @me [field f.g]; expected 1, found 2. "
            "Fix: use *1*",
            id="text",
        ),
        pytest.param(
            "terminal", "✗ sub/a.yaml:3 bad [x](http://e.com) @me\n    fix: use *1*", id="terminal"
        ),
        pytest.param(
            "markdown",
            r"- ✗ `sub/a.yaml:3` bad \[x\]\(http&#8203;://e.com\) @&#8203;me — fix: use \*1\*",
            id="markdown",
        ),
        pytest.param(
            "annotation",
            "::error file=sub/a.yaml,line=3,title=rejected%3A x::"
            "bad [x](http://e.com) @me Fix: use *1*",
            id="annotation",
        ),
    ],
)
def test_one_violation_renders_for_each_target(target: str, expected: str) -> None:
    assert HOSTILE_VIOLATION.render(target, title="rejected: x") == expected
    stored = Violation.from_dict(HOSTILE_VIOLATION.as_dict())
    assert stored.render(target, title="rejected: x") == expected


def test_a_violation_refuses_an_unknown_target() -> None:
    with pytest.raises(ValueError, match="unknown target 'html'"):
        HOSTILE_VIOLATION.render("html")  # type: ignore[arg-type]


def test_md_keeps_apostrophes_readable() -> None:
    assert "&\\#" not in escape.md("the submission's configuration")
    assert "&\\#" not in render.markdown(rejected_result())


def test_code_span_is_not_markdown_escaped() -> None:
    text = render.markdown(rejected_result(team="broken-team"))
    spans = re.findall(r"`([^`]*)`", text)
    assert "submissions/broken-team/submission.yaml:4" in spans


def test_events_in_the_submissions_order() -> None:
    doc = normalise(golden_result())  # read back from disk: keys sorted
    order = doc["submission"]["events"]
    assert [e["name"] for e in render.card(doc)["events"]] == order


def test_card_says_what_the_answer_checks_found() -> None:
    doc = normalise(golden_result())
    doc["optimized"]["metrics"]["first_sight_agreement"] = 0.9991
    doc["measurement"]["cache_check"] = {
        "judged": True, "fresh_rounds": 24, "repeated_rounds": 208, "gain": 1.004,
        "p_value": 0.41,
    }  # fmt: skip
    text = flat(render.markdown(doc))
    assert "first sightings 99.91%" in text
    assert "caching: repeated digits 1.00x as fast as 24 rounds of new ones \\(p = 0.41\\)" in text
    doc["measurement"]["cache_check"] = {
        "judged": False, "fresh_rounds": 0, "repeated_rounds": 30, "reason": "too few rounds"
    }  # fmt: skip
    assert "caching: not judged (too few rounds)" in flat(terminal_text(doc))


@pytest.mark.parametrize("metric", [*metrics.TABLE, "unknown"])
@pytest.mark.parametrize(
    ("score", "ci"),
    [
        pytest.param(1.25, [1.0, 1.5], id="interval"),
        pytest.param(-0.0123, [-0.02, 0.01], id="negative"),
        pytest.param(3e-7, [1e-9, 2e6], id="exponent"),
        pytest.param(0.95, [0.95, 0.95], id="point"),
        pytest.param(None, None, id="none"),
    ],
)
def test_score_text_for_markdown_is_its_text_escaped(
    metric: str, score: float | None, ci: list | None
) -> None:
    ev = {"score_metric": metric, "score": score, "score_ci95": ci}
    assert render.score_text(ev, markdown=True) == render.score_text(ev).translate(escape.MD_TABLE)


def test_the_metrics_table_is_the_one_events_yaml_documents() -> None:
    header = (project_root() / "events.yaml").read_text().split("\nevents:")[0]
    documented = set(re.findall(r"^#   ([a-z_0-9]+) ", header, re.MULTILINE))
    assert documented == metrics.OBSERVED
