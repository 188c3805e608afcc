"""A team's grades over time (``olympics history``, the PR comment's section, the history
chart): stored results made from a real grade's JSON (``tests/data/result_example_int8.json``)
with their latencies scaled and every derived number recomputed, at three dates."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from clirun import runner
from golden import DATA

from grader import __version__
from grader.config import load_rules
from grader.publish import comment, history, historychart, store
from grader.result import dependencies, derive, jsonfile, verify

RULES = load_rules()
INT8 = json.loads((DATA / "result_example_int8.json").read_text())
KV_CACHE = sorted((RULES.path.parent / "results" / "example-kv-cache" / "tinytalks").glob("*.json"))
run = runner(flat_err=True)
TEAM = "speedy"
DATES = ("2026-11-01T10:00:00Z", "2026-11-08T10:00:00Z", "2026-11-15T10:00:00Z")


def grade(team: str, when: str, slower: float, **grader: str) -> dict:
    """The int8 grade as ``team``'s at ``when``, its latencies scaled by ``slower``; ``grader``
    overrides what the result records of its grader (another version, other rules)."""
    doc = copy.deepcopy(INT8)
    doc["submission"]["team"] = team
    doc["submission"]["content_sha256"] = f"{abs(hash((team, slower))):064x}"[-64:]
    doc["timestamp"] = when
    doc["grader"].update(version=__version__, dependencies_sha256=dependencies.fingerprint(),
                         rules_sha256=RULES.sha256)  # fmt: skip
    metrics = doc["optimized"]["metrics"]
    metrics["latency_samples_ms"] = [t * slower for t in metrics["latency_samples_ms"]]
    doc = derive.apply_derived(doc, derive.derive(doc, RULES))
    assert verify.check(doc, RULES, team) == []
    doc["grader"].update(grader)
    return doc


def put(root: Path, doc: dict) -> Path:
    """Where the store would file it (written directly: the store refuses a stale result)."""
    path = store.place(doc, root, "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    jsonfile.write(doc, path)
    return path


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # the tables a row a line


@pytest.fixture(scope="module")
def grades() -> list[dict]:
    """Three grades of one team, faster each time; the first under other rules, the second
    by another grader version."""
    return [
        grade(TEAM, DATES[0], 1.2, rules_sha256="e" * 64),
        grade(TEAM, DATES[1], 1.1, version="0.1.0"),
        grade(TEAM, DATES[2], 0.9),
    ]


@pytest.fixture
def root(tmp_path: Path, grades: list[dict]) -> Path:
    results = tmp_path / "results"
    for doc in reversed(grades):  # the order of writing is not the order shown
        put(results, doc)
    return results


# -- olympics history ---------------------------------------------------------------------------
def test_the_history_lists_each_grade_oldest_first_with_its_numbers(
    root: Path, grades: list[dict]
) -> None:
    code, out, err = run("history", TEAM, "--json", "--results-dir", str(root))
    assert code == 0, err
    shown = json.loads(out)
    assert shown["schema_version"] == 1 and shown["team"] == TEAM
    assert shown["grader"] == {"version": __version__, "rules_sha256": RULES.sha256}
    rows = shown["workloads"]["mlp_sprint"]
    assert [r["timestamp"] for r in rows] == list(DATES)
    for row, doc in zip(rows, grades, strict=True):
        imp, metrics = doc["improvements"], doc["optimized"]["metrics"]
        assert row["speedup"] == imp["speedup"] and row["speedup_ci95"] == imp["speedup_ci95"]
        assert row["accuracy"] == metrics["accuracy"] and row["perplexity"] is None
        assert row["size_bytes"] == metrics["size_bytes"]
        assert row["commit"] == doc["grader"]["commit"]
        assert row["content_sha256"] == doc["submission"]["content_sha256"]
        assert row["instruction_ratio"] is None  # graded before the counts
    speedups = [r["speedup"] for r in rows]
    assert speedups == sorted(speedups)  # latencies scaled 1.2, 1.1, 0.9: faster each time


def test_a_grade_of_another_grader_or_rules_is_marked_with_what_differs(root: Path) -> None:
    _, out, _ = run("history", TEAM, "--json", "--results-dir", str(root))
    rows = json.loads(out)["workloads"]["mlp_sprint"]
    assert rows[0]["not_comparable"] == (
        f"other rules (events.yaml eeeeeeee, now {RULES.sha256[:8]})"
    )
    assert rows[1]["not_comparable"] == f"grader 0.1.0 (now {__version__})"
    assert rows[2]["not_comparable"] is None


def test_the_terminal_table_marks_the_grades_that_are_not_comparable(root: Path) -> None:
    code, out, _ = run("history", TEAM, "--results-dir", str(root))
    assert code == 0
    flat = " ".join(out.split())
    assert "speedy · mlp_sprint" in flat
    assert "⚠ 1: other rules (events.yaml eeeeeeee" in flat
    assert f"⚠ 2: grader 0.1.0 (now {__version__})" in flat
    assert "not comparable" in flat and "current" in flat
    lines = [line for line in out.splitlines() if "2026-11-15" in line]
    assert len(lines) == 1 and "⚠" not in lines[0]  # the current grade has no mark


def test_a_stored_file_s_words_are_shown_as_typed_in_the_terminal(tmp_path: Path) -> None:
    """The commit and the grader's version are a result's own words (no schema pattern holds
    them): rich would read them as markup, fail on a stray closing tag and make a terminal
    hyperlink of ``[link=…]``."""
    root = tmp_path / "results"
    put(root, grade(TEAM, DATES[0], 1.0, commit="[/x]abc"))
    put(root, grade(TEAM, DATES[1], 1.0, version="[link=https://e.x]", commit="[bold]b"))
    code, out, err = run("history", TEAM, "--results-dir", str(root))
    assert code == 0, err
    assert "[/x]abc" in out and "[bold]b" in out and "grader [link=https://e.x]" in out


def test_a_rejected_grade_is_a_row_of_its_own(root: Path, tmp_path: Path) -> None:
    from grader.errors import Verdict, Violation
    from grader.result import build

    doc = build.rejected(TEAM, [Violation(rule="x", message="broken")], Verdict.CONFIG_INVALID)
    doc["timestamp"] = "2026-11-20T10:00:00Z"
    put(root, doc)
    _, out, _ = run("history", TEAM, "--json", "--results-dir", str(root))
    (rejected,) = json.loads(out)["workloads"][store.REJECTED]
    assert rejected["status"] == "rejected" and rejected["verdict_code"] == "config_invalid"
    assert rejected["speedup"] is None
    _, text, _ = run("history", TEAM, "--results-dir", str(root))
    assert "rejected" in text and "config_invalid" in " ".join(text.split())


def test_an_unknown_team_is_an_error_that_names_the_store_and_the_teams(root: Path) -> None:
    code, out, err = run("history", "speedie", "--results-dir", str(root))
    assert code == 2 and out == ""
    assert f"no grades stored for team 'speedie' in {root}" in err
    assert "did you mean speedy?" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["../speedy", "Speedy", ""], ids=["path", "capitals", "empty"])
def test_a_name_that_is_no_slug_reads_no_folder(root: Path, name: str) -> None:
    (root.parent / "outside").mkdir()
    code, _, err = run("history", name, "--results-dir", str(root))
    assert code == 2 and "is not a team name" in err


def test_a_corrupt_stored_result_is_named_with_its_fix_and_the_others_are_shown(
    root: Path,
) -> None:
    broken = sorted((root / TEAM / "mlp_sprint").glob("*.json"))[0]
    broken.write_text('{"not": "closed"')
    code, out, err = run("history", TEAM, "--json", "--results-dir", str(root))
    assert code == 1
    assert f"{broken}: not valid JSON" in err
    assert f"git checkout -- {broken}" in err and "re-grade" in err and "Traceback" not in err
    shown = json.loads(out)
    assert [r["timestamp"] for r in shown["workloads"]["mlp_sprint"]] == list(DATES[1:])
    assert len(shown["problems"]) == 1


def test_a_hand_edited_current_result_is_refused_with_its_path(root: Path) -> None:
    latest = sorted((root / TEAM / "mlp_sprint").glob("*.json"))[-1]
    doc = json.loads(latest.read_text())
    doc["improvements"]["speedup"] = 50.0
    latest.write_text(json.dumps(doc))
    code, out, err = run("history", TEAM, "--json", "--results-dir", str(root))
    assert code == 1 and str(latest) in err and "do not recompute" in err
    assert 50.0 not in [r["speedup"] for r in json.loads(out)["workloads"]["mlp_sprint"]]


def test_verified_rows_come_from_the_cache_and_an_edited_file_is_read_again(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = history.team_history(root, TEAM, RULES)
    past = os.stat(root).st_mtime_ns - 10_000_000_000  # older than the racy window
    for path in (root / TEAM / "mlp_sprint").glob("*.json"):
        os.utime(path, ns=(past, past))
    history.team_history(root, TEAM, RULES)  # records each file's size and time

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("read again")

    monkeypatch.setattr(store, "read_verified", refuse)
    assert history.team_history(root, TEAM, RULES).grades == first.grades
    monkeypatch.undo()
    latest = sorted((root / TEAM / "mlp_sprint").glob("*.json"))[-1]
    doc = json.loads(latest.read_text())
    doc["improvements"]["speedup"] = 50.0
    latest.write_text(json.dumps(doc))
    assert history.team_history(root, TEAM, RULES).problems  # verified afresh, refused


def test_a_generation_grade_shows_its_perplexity() -> None:
    doc = jsonfile.read_json(KV_CACHE[-1])
    row = history.grade_row(doc, str(KV_CACHE[-1]), RULES)
    assert row["perplexity"] == doc["optimized"]["metrics"]["perplexity"]
    assert row["accuracy"] is None and row["speedup"] == doc["improvements"]["speedup"]


def test_an_instruction_ratio_is_shown_where_the_grade_counted_one(grades: list[dict]) -> None:
    from grader import renderhistory

    doc = copy.deepcopy(grades[2])
    doc["improvements"]["instruction_ratio"] = 2.5
    row = history.grade_row(doc, "x.json", RULES)
    assert row["instruction_ratio"] == 2.5
    assert renderhistory.cells(row, [])[6] == "2.500×"


# -- the PR comment -----------------------------------------------------------------------------
def test_the_comment_shows_the_team_s_earlier_grades(root: Path, tmp_path: Path) -> None:
    new = grade(TEAM, "2026-11-22T10:00:00Z", 0.8)
    file = tmp_path / "result.json"
    file.write_text(jsonfile.dumps(new))
    text = comment.compose([file], RULES, results=root)
    section = text.split("#### Earlier grades of speedy · mlp\\_sprint")[1]
    rows = [line for line in section.splitlines() if line.startswith("| 2026")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| 2026\\-11\\-01 10:00", "| 2026\\-11\\-08 10:00", "| 2026\\-11\\-15 10:00"
    ]  # fmt: skip
    assert "⚠ 1" in rows[0] and "⚠ 2" in rows[1] and rows[2].endswith("| current |")
    assert "not comparable" in section
    assert "Earlier grades" not in comment.compose([file], RULES)  # no store, no section


def test_a_team_without_stored_grades_gets_no_section(root: Path, tmp_path: Path) -> None:
    file = tmp_path / "result.json"
    file.write_text(jsonfile.dumps(grade("newcomer", DATES[0], 1.0)))
    assert "Earlier grades" not in comment.compose([file], RULES, results=root)


def test_the_comment_says_how_many_stored_grades_could_not_be_read(
    root: Path, tmp_path: Path
) -> None:
    sorted((root / TEAM / "mlp_sprint").glob("*.json"))[0].write_text("{")
    file = tmp_path / "result.json"
    file.write_text(jsonfile.dumps(grade(TEAM, "2026-11-22T10:00:00Z", 0.8)))
    text = comment.compose([file], RULES, results=root)
    assert "1 stored grade(s) of this team could not be read" in text
    assert "`olympics history speedy`" in text


# -- the history chart --------------------------------------------------------------------------
def test_a_team_with_more_than_one_grade_gets_a_chart_beside_the_leaderboard(
    root: Path, tmp_path: Path
) -> None:
    put(root, grade("once", DATES[0], 1.0))
    out = tmp_path / "board" / "leaderboard.md"
    code, _, err = run("leaderboard", "--results-dir", str(root), "--out", str(out))
    assert code == 0, err
    chart = out.parent / "leaderboard-history-speedy.svg"
    first = chart.read_bytes()
    assert first.startswith(b"<?xml") and b"<svg" in first
    assert not (out.parent / "leaderboard-history-once.svg").exists()
    run("leaderboard", "--results-dir", str(root), "--out", str(out))
    assert chart.read_bytes() == first  # deterministic
    chart.write_bytes(first.replace(b"</svg>", b"<!-- edited --></svg>"))
    code, text, _ = run("leaderboard", "--check", "--results-dir", str(root), "--out", str(out))
    assert code == 1 and str(chart) in text


def test_the_chart_draws_each_grade_and_marks_the_incomparable_ones(root: Path) -> None:
    found = history.team_history(root, TEAM, RULES)
    (rows,) = historychart.panels(found).values()
    assert len(rows) == 3
    below, above = historychart.errors(rows)
    for row, lo, hi in zip(rows, below, above, strict=True):
        assert row["speedup"] - lo == pytest.approx(row["speedup_ci95"][0])
        assert row["speedup"] + hi == pytest.approx(row["speedup_ci95"][1])
    grey = historychart.OTHER.encode()
    svg = historychart.history_svg(found)
    assert svg is not None and grey in svg  # the grades of another yardstick, in grey
    (now,) = [r for r in found.grades if r["not_comparable"] is None]
    assert historychart.history_svg(history.History(TEAM, [now])) is None  # nothing over time
    again = now | {"timestamp": "2026-11-30T10:00:00Z"}
    svg = historychart.history_svg(history.History(TEAM, [now, again]))
    assert svg is not None and grey not in svg  # all current: nothing grey


def test_an_unchanged_chart_is_not_drawn_again_and_an_edited_one_is(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "board"
    folder.mkdir()
    made, _ = historychart.charts(root, RULES, folder)
    name = historychart.chart_name(TEAM)
    (folder / name).write_bytes(made[name])
    drawn = []
    draw = historychart.history_svg

    def counted(found: history.History) -> bytes | None:
        drawn.append(found.team)
        return draw(found)

    monkeypatch.setattr(historychart, "history_svg", counted)
    assert historychart.charts(root, RULES, folder)[0] == made and drawn == []
    (folder / name).write_bytes(made[name] + b"<!-- edited -->")
    assert historychart.charts(root, RULES, folder)[0] == made and drawn == [TEAM]
    put(root, grade(TEAM, "2026-11-22T10:00:00Z", 0.8))  # a new grade: a new chart
    assert historychart.charts(root, RULES, folder)[0][name] != made[name]
    assert drawn == [TEAM, TEAM]
