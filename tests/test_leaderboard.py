"""The results store and ``leaderboard.md``: stored results made from a real grade's JSON
(``tests/data/result_example_int8.json``) with its observations changed and every derived
number recomputed, so each is a result the grader could have written."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import urllib.parse
from pathlib import Path

import pytest
from clirun import runner
from golden import DATA, check_golden

from grader import __version__
from grader.config import load_rules
from grader.errors import ConfigError
from grader.publish import leaderboard, store, verified
from grader.result import dependencies, derive, jsonfile, verify
from grader.result.build import content_sha256

INT8 = json.loads((DATA / "result_example_int8.json").read_text())
RULES = load_rules()


def variant(team: str, slower: float = 1.0, correct: int | None = None, **sub: object) -> dict:
    """The int8 grade as another team's: latency samples scaled by ``slower``."""
    doc = copy.deepcopy(INT8)
    doc["submission"]["team"] = team
    doc["submission"]["content_sha256"] = f"{abs(hash(team)):064x}"[-64:]
    doc["submission"].update(sub)
    doc["grader"]["version"] = __version__
    doc["grader"]["dependencies_sha256"] = dependencies.fingerprint()
    doc["grader"]["rules_sha256"] = RULES.sha256
    doc["measurement"]["quick"] = False  # the store takes full grades only
    metrics = doc["optimized"]["metrics"]
    metrics["latency_samples_ms"] = [t * slower for t in metrics["latency_samples_ms"]]
    if correct is not None:
        metrics["correct"] = correct
    doc = derive.apply_derived(doc, derive.derive(doc, RULES))
    assert verify.check(doc, RULES, team) == []
    return doc


def put(root: Path, doc: dict, tmp_path: Path) -> Path:
    source = tmp_path / f"in-{doc['submission']['team']}-{doc['timestamp']}.json"
    source.write_text(jsonfile.dumps(doc))
    return store.store(source, root, RULES)


run = runner(flat_out=True, flat_err=True)


def table(text: str, title: str) -> list[list[str]]:
    """The rows of one event's table, as cells."""
    section = text.split(f"### {title}")[1].split("###")[0]
    rows = [r for r in section.splitlines() if r.startswith("| ") and "---" not in r]
    return [[c.strip() for c in r.strip("|").split(" | ")] for r in rows[1:]]


# -- ranking --------------------------------------------------------------------------------------
def rows(*spans: tuple[str, float, float, float]) -> list[leaderboard.Ranked]:
    entry = store.Entry(Path("x"), {"submission": {"team": "?"}}, None)
    made = []
    for team, score, lo, hi in spans:
        e = store.Entry(Path(team), {**entry.doc, "submission": {"team": team}}, None)
        made.append(leaderboard.Ranked(e, score, lo, hi))
    return made


def test_overlapping_intervals_share_a_rank_and_disjoint_ones_do_not() -> None:
    ranked = leaderboard.ranks(
        rows(("c", 1.0, 0.9, 1.1), ("a", 2.0, 1.9, 2.1), ("b", 1.95, 1.85, 2.05))
    )
    assert [(r.entry.team, r.rank) for r in ranked] == [("a", 1), ("b", 1), ("c", 3)]


def test_equal_point_scores_tie_and_a_chain_of_overlaps_is_not_transitive() -> None:
    ranked = leaderboard.ranks(
        rows(("a", 3.0, 3.0, 3.0), ("b", 3.0, 3.0, 3.0), ("c", 2.0, 1.0, 2.95))
    )
    assert [(r.entry.team, r.rank) for r in ranked] == [("a", 1), ("b", 1), ("c", 3)]
    chain = leaderboard.ranks(rows(("a", 3, 2.5, 3.5), ("b", 2.4, 2.0, 2.6), ("c", 1.8, 1.5, 2.1)))
    assert [r.rank for r in chain] == [1, 1, 2]  # c overlaps b but lies wholly below a


def test_a_lower_is_better_score_ranks_the_lowest_first_with_its_interval() -> None:
    """A perplexity: the lowest first; overlapping intervals share a rank as for speedups."""

    def entry(team: str, score: float, lo: float, hi: float) -> store.Entry:
        ev = {"qualified": True, "scored": True, "score": score, "score_ci95": [lo, hi]}
        return store.Entry(Path(team), {"submission": {"team": team}, "events": {"q": ev}}, None)

    entries = [entry("c", 9.0, 8.0, 10.0), entry("a", 5.0, 4.5, 5.5), entry("b", 5.4, 5.2, 6.0)]
    ranked, _, _ = leaderboard.standing("q", entries, lower_better=True)
    assert [(r.entry.team, r.rank, r.score, r.lo, r.hi) for r in ranked] == [
        ("a", 1, 5.0, 4.5, 5.5),
        ("b", 1, 5.4, 5.2, 6.0),
        ("c", 3, 9.0, 8.0, 10.0),
    ]
    higher, _, _ = leaderboard.standing("q", entries)
    assert [r.entry.team for r in higher] == ["c", "b", "a"]


# -- the store and the file -----------------------------------------------------------------------
@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "results"


def build(root: Path) -> str:
    return leaderboard.build(store.latest(root, RULES), RULES, root.parent)


def test_ranks_ties_and_a_non_qualifying_entry(root: Path, tmp_path: Path) -> None:
    put(root, variant("fast"), tmp_path)
    put(root, variant("also-fast", slower=1.004), tmp_path)
    put(root, variant("slow", slower=2.0), tmp_path)
    put(root, variant("sloppy", correct=800), tmp_path)
    text = build(root)
    sprint = table(text, "Latency Sprint")
    assert [(r[0], r[1]) for r in sprint] == [("=1", "fast"), ("=1", "also\\-fast"), ("3", "slow")]
    speedup, (low, high) = INT8["improvements"]["speedup"], INT8["improvements"]["speedup_ci95"]
    assert f"{speedup:.3f}× \\[{low:.3f}×, {high:.3f}×\\]" in sprint[0][2]
    section = text.split("### Latency Sprint")[1].split("###")[0]
    assert "Not qualifying:" in section
    assert "- sloppy: accuracy 0.800 not &gt;= 0.850" in section
    assert "sloppy" in [r[1] for r in table(text, "Extreme Push")]  # 0.800 ≥ 0.80 qualifies


def test_only_the_latest_grade_of_a_team_counts_and_the_history_stays(
    root: Path, tmp_path: Path
) -> None:
    put(root, variant("fast", slower=2.0), tmp_path)
    later = variant("fast")
    later["timestamp"] = "2026-11-24T09:00:00Z"
    put(root, later, tmp_path)
    assert len(list((root / "fast" / "mlp_sprint").glob("*.json"))) == 2
    speedup = INT8["improvements"]["speedup"]
    assert table(build(root), "Latency Sprint")[0][2].startswith(f"{speedup:.3f}×")


def test_regenerating_gives_identical_bytes_and_check_agrees(root: Path, tmp_path: Path) -> None:
    put(root, variant("fast"), tmp_path)
    out = tmp_path / "leaderboard.md"
    args = ("--results-dir", str(root), "--out", str(out))
    assert run("leaderboard", *args)[0] == 0
    first = out.read_bytes()
    assert run("leaderboard", *args)[:2] == (0, f"{out} unchanged")
    assert out.read_bytes() == first
    assert run("leaderboard", *args, "--check") == (0, f"{out} is up to date", "")


@pytest.mark.parametrize(
    "out", ["leaderboard.md", "site/board/leaderboard.md", "../elsewhere/lb.md", "<absolute>"]
)
def test_every_link_resolves_from_where_the_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """As GitHub renders a Markdown file, and as a browser opens one from disk, a relative link
    resolves against the file's own folder: the teams' READMEs and the charts are found from
    wherever --out puts the leaderboard (given relative to the current folder, or absolute)."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "events.yaml").write_bytes((RULES.path.parent / "events.yaml").read_bytes())
    (course / "submissions" / "fast").mkdir(parents=True)
    (course / "submissions" / "fast" / "README.md").write_text("# fast\n")
    results = course / "results"
    put(results, variant("fast"), tmp_path)
    monkeypatch.setenv("OLYMPICS_ROOT", str(course))
    monkeypatch.chdir(course)
    target = tmp_path / "elsewhere" / "at-root.md" if out == "<absolute>" else Path(out)
    code, text, _ = run("leaderboard", "--results-dir", str(results), "--out", str(target))
    assert code == 0, text
    written = (course / target).read_text()  # course / an absolute path is that path
    links = re.findall(r"\]\(([^)]+)\)", written)
    assert "leaderboard-mlp_sprint.svg" in links and any("README.md" in x for x in links)
    folder = (course / target).parent
    for link in links:
        assert (folder / urllib.parse.unquote(link)).is_file(), (out, link)
    if out == "leaderboard.md":  # the course's own: the links it always had
        assert "](submissions/fast/README.md)" in written


def test_check_names_a_stale_file_in_one_line(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "leaderboard.md"
    put(root, variant("fast"), tmp_path)
    run("leaderboard", "--results-dir", str(root), "--out", str(out))
    put(root, variant("newcomer"), tmp_path)
    code, text, _ = run("leaderboard", "--results-dir", str(root), "--out", str(out), "--check")
    assert code == 1
    svg = out.parent / "leaderboard-mlp_sprint.svg"
    assert text == f"stale: {out}, {svg}: regenerate with `olympics leaderboard`"


def test_an_edit_after_a_warm_run_is_refused_too(root: Path, tmp_path: Path) -> None:
    stored = put(root, variant("fast"), tmp_path)
    past = stored.stat().st_mtime_ns - 10_000_000_000
    os.utime(stored, ns=(past, past))  # older than the racy window: its size and time recorded
    assert run("leaderboard", "--results-dir", str(root), "--out", str(tmp_path / "l"))[0] == 0
    cache = json.loads((root / verified.CACHE).read_text())
    assert cache["files"][str(stored)][:2] == [stored.stat().st_size, past]
    text = stored.read_text()
    score = json.loads(text)["events"]["latency_sprint"]["score"]
    digits = repr(score)  # its first decimal changed: a different score of the same length
    edited = text.replace(digits, digits[:2] + ("1" if digits[2] != "1" else "2") + digits[3:])
    assert len(edited) == len(text) and edited != text
    stored.write_text(edited)  # the same size, a new modification time
    code, _, err = run("leaderboard", "--results-dir", str(root), "--out", str(tmp_path / "l"))
    assert code == 2 and "edited by hand" in err


def test_a_hand_edited_result_is_refused_with_its_path(root: Path, tmp_path: Path) -> None:
    stored = put(root, variant("fast"), tmp_path)
    doc = json.loads(stored.read_text())
    doc["events"]["latency_sprint"]["score"] = 9.0
    stored.write_text(json.dumps(doc))
    code, _, err = run("leaderboard", "--results-dir", str(root), "--out", str(tmp_path / "l"))
    assert code == 2
    assert f"{stored}: its numbers do not recompute: it was edited by hand" in err
    assert "events.latency_sprint.score" in err or "latency_sprint" in err
    assert not (tmp_path / "l").exists()


def test_an_invalid_result_is_not_stored(root: Path, tmp_path: Path) -> None:
    doc = variant("fast")
    doc["improvements"]["speedup"] = 20.0
    source = tmp_path / "forged.json"
    source.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="not a valid result; not stored"):
        store.store(source, root, RULES)
    assert not root.exists()


def test_another_grader_version_is_stale_not_ranked(root: Path, tmp_path: Path) -> None:
    old = variant("old-timer")
    old["grader"]["version"] = "0.0.9"
    target = store.place(old, root, "old")  # put by hand: store() refuses a stale result
    target.parent.mkdir(parents=True)
    target.write_text(jsonfile.dumps(old))
    put(root, variant("fast"), tmp_path)
    text = build(root)
    assert [r[1] for r in table(text, "Latency Sprint")] == ["fast"]
    assert "- old\\-timer: graded by grader 0.0.9, not" in text


def test_other_runtime_dependencies_are_stale_not_ranked(root: Path, tmp_path: Path) -> None:
    # a lock that moved NumPy on: the result says it ran with another set
    old = variant("old-deps")
    old["grader"]["dependencies_sha256"] = "0" * 64
    target = store.place(old, root, "old")  # put by hand: store() refuses a stale result
    target.parent.mkdir(parents=True)
    target.write_text(jsonfile.dumps(old))
    put(root, variant("fast"), tmp_path)
    text = build(root)
    assert [r[1] for r in table(text, "Latency Sprint")] == ["fast"]
    assert "- old\\-deps: graded with other runtime dependencies (000000000000…, not" in text


def test_a_result_from_before_the_fingerprint_is_read_and_stale(root: Path, tmp_path: Path) -> None:
    # results stored before dependencies were recorded: valid, shown, not ranked, re-graded
    old = variant("before")
    del old["grader"]["dependencies_sha256"]
    assert verify.check(old, RULES, "old.json") == []
    assert store.stale_reason(old, RULES) == (
        "graded before results recorded their runtime dependencies: re-grade"
    )
    target = store.place(old, root, "old")
    target.parent.mkdir(parents=True)
    target.write_text(jsonfile.dumps(old))
    text = build(root)
    assert "- before: graded before results recorded their runtime dependencies" in text


def test_a_rejected_result_of_other_dependencies_is_stale_too() -> None:
    old = variant("crashed")
    old["verdict"] = {"status": "rejected", "code": "crash", "message": "numpy changed"}
    assert store.stale_reason(old, RULES) is None
    old["grader"]["dependencies_sha256"] = "0" * 64
    assert "graded with other runtime dependencies" in store.stale_reason(old, RULES)


def test_where_the_grader_is_not_installed_every_result_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = variant("fast")
    monkeypatch.setattr(dependencies, "fingerprint", lambda: None)
    assert "this grader is not installed" in store.stale_reason(doc, RULES)
    doc["grader"]["dependencies_sha256"] = None  # graded so: never matched either
    assert "this grader is not installed" in store.stale_reason(doc, RULES)


def test_student_text_is_inert(root: Path, tmp_path: Path) -> None:
    hostile = "[win](http://evil.example)<script>@octocat|x"
    doc = variant("fast", techniques_claimed=[hostile])
    target = store.place(doc, root, "hostile")
    target.parent.mkdir(parents=True)
    target.write_text(jsonfile.dumps(doc))  # not derived, so not checked: only escaped
    row = next(r for r in build(root).splitlines() if "evil" in r)
    assert "<script" not in row and "](" not in row and "http://" not in row
    assert "@octocat" not in row and row.count(" | ") == 5  # no extra cell


def test_a_rejected_result_is_listed_not_ranked(root: Path, tmp_path: Path) -> None:
    put(root, variant("fast"), tmp_path)
    from grader.errors import Violation
    from grader.result.build import rejected

    bad = rejected("broken", [Violation(rule="x", message="no model")], "config_invalid")
    put(root, bad, tmp_path)
    text = build(root)
    assert "## Rejected before grading" in text
    assert "- broken: `config_invalid`: 1 problem\\(s\\)" in text


def test_no_results_give_the_header_only(root: Path) -> None:
    text = build(root)
    assert "from 0 stored result(s)." in text and "##" not in text


def test_the_leaderboard_matches_its_golden_file(root: Path, tmp_path: Path) -> None:
    put(root, variant("fast"), tmp_path)
    put(root, variant("also-fast", slower=1.004), tmp_path)
    put(root, variant("slow", slower=2.0), tmp_path)
    put(root, variant("sloppy", correct=800), tmp_path)
    text = build(root).replace(f"grader {__version__}", "grader VERSION")
    check_golden("leaderboard_four_teams.md", text)


def test_a_noisy_lower_score_never_ranks_above_a_higher_one() -> None:
    ranked = leaderboard.ranks(
        rows(("a", 5.05, 5.0, 5.1), ("r", 3.0, 2.9, 3.1), ("s", 2.5, 1.0, 6.0))
    )
    assert [(r.entry.team, r.rank) for r in ranked] == [("a", 1), ("r", 2), ("s", 2)]


# -- what the store refuses -----------------------------------------------------------------------
@pytest.mark.parametrize("stamp", ["../../../../tmp/escaped", "/tmp/absolute", "2026-11-23"])
def test_a_timestamp_cannot_steer_where_a_result_is_stored(
    root: Path, tmp_path: Path, stamp: str
) -> None:
    doc = variant("fast")
    doc["timestamp"] = stamp
    source = tmp_path / "r.json"
    source.write_text(json.dumps(doc))
    with pytest.raises(ConfigError):
        store.store(source, root, RULES)
    assert not root.exists() and not Path("/tmp/absolute-000000000000.json").exists()


def test_a_stale_result_is_not_stored(root: Path, tmp_path: Path) -> None:
    doc = variant("fast")
    doc["grader"]["rules_sha256"] = "0" * 64
    source = tmp_path / "r.json"
    source.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="graded under other rules"):
        store.store(source, root, RULES)


def test_a_result_of_other_dependencies_is_not_stored(root: Path, tmp_path: Path) -> None:
    doc = variant("fast")
    doc["grader"]["dependencies_sha256"] = "0" * 64
    source = tmp_path / "r.json"
    source.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="graded with other runtime dependencies"):
        store.store(source, root, RULES)
    assert not root.exists()


def test_a_result_moved_to_another_team_s_folder_is_refused(root: Path, tmp_path: Path) -> None:
    stored = put(root, variant("fast"), tmp_path)
    moved = root / "victim" / "mlp_sprint" / stored.name
    moved.parent.mkdir(parents=True)
    stored.rename(moved)
    with pytest.raises(ConfigError, match="not where its team, workload and time put it"):
        store.latest(root, RULES)


def tree_with(tmp_path: Path, *teams: str) -> Path:
    tree = tmp_path / "checkout"
    for team in teams:
        folder = tree / "submissions" / team
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(f"# {team}\n")
    return tree


def graded_from(tree: Path, team: str) -> dict:
    return variant(team, content_sha256=content_sha256(tree / "submissions" / team))


def test_a_result_must_be_of_the_files_the_checkout_has(root: Path, tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "fast")
    doc = graded_from(tree, "fast")
    (tree / "submissions" / "fast" / "model.py").write_text("# changed after the grade\n")
    source = tmp_path / "r.json"
    source.write_text(jsonfile.dumps(doc))
    with pytest.raises(ConfigError, match="graded from other files"):
        store.store(source, root, RULES, tree=tree)


def test_a_graded_result_without_its_content_hash_is_not_stored_against_a_checkout(
    root: Path, tmp_path: Path
) -> None:
    """Without the hash nothing ties a result to the files the checkout has: a grade of older
    files (or of none) would be stored as current."""
    tree = tree_with(tmp_path, "fast")
    doc = graded_from(tree, "fast")
    del doc["submission"]["content_sha256"]
    assert verify.check(doc, RULES, "fast") == []  # valid otherwise: the schema allows it
    source = tmp_path / "r.json"
    source.write_text(jsonfile.dumps(doc))
    code, out, err = run("store", str(source), "--results-dir", str(root), "--tree", str(tree))
    assert code == 1 and "stored" not in out
    assert f"refused: {source}: a graded result without submission.content_sha256" in err
    assert "submissions/fast" in err and "re-grade it with `olympics grade`" in err
    assert not root.exists()


def test_a_quick_grade_is_not_stored(root: Path, tmp_path: Path) -> None:
    """A --quick grade is a student's rough check: stored after the team's full grade, it
    became the latest and replaced it on the leaderboard. The store refuses it by name."""
    full = put(root, variant("fast"), tmp_path)
    quick = variant("fast", slower=0.5)
    quick["measurement"]["quick"] = True
    quick["timestamp"] = "2099-01-01T00:00:00Z"
    assert verify.check(quick, RULES, "fast") == []  # valid: only the store refuses it
    source = tmp_path / "quick.json"
    source.write_text(jsonfile.dumps(quick))
    code, out, err = run("store", str(source), "--results-dir", str(root))
    assert code == 1 and "stored" not in out
    assert f"refused: {source}: a --quick grade; not stored" in err
    assert "grade again without --quick" in err
    [entry] = store.latest(root, RULES, cache=False)
    assert Path(entry.path) == full  # the full grade stays the team's latest


def test_a_shard_may_store_only_its_own_teams(root: Path, tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "alpha", "bravo", "victim")
    artifacts = tmp_path / "artifacts"
    (artifacts / "results-1").mkdir(parents=True)
    (artifacts / "results-1" / "alpha.json").write_text(jsonfile.dumps(graded_from(tree, "alpha")))
    forged = graded_from(tree, "victim")
    (artifacts / "results-1" / "victim.json").write_text(jsonfile.dumps(forged))
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "shards": [
                    {"index": 1, "folders": "submissions/alpha submissions/beta"},
                    {"index": 2, "folders": "submissions/bravo"},
                ]
            }
        )
    )
    done = store.store_shards(plan, artifacts, root, RULES, tree)
    assert [p.parent.parent.name for p in done.paths] == ["alpha"]
    assert any("'victim', which this shard did not grade" in r for r in done.refused)
    assert any("shard 2: no results" in r for r in done.refused)
    assert not (root / "victim").exists()


def test_the_plan_re_grades_what_has_no_current_result(root: Path, tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "alpha", "bravo", "charlie")
    for team in ("alpha", "bravo", "charlie"):
        (tree / "submissions" / team / "submission.yaml").write_text(f"team: {team}\n")
    put(root, graded_from(tree, "alpha"), tmp_path)
    put(root, graded_from(tree, "bravo"), tmp_path)
    (tree / "submissions" / "bravo" / "model.py").write_text("# a new version\n")
    assert store.to_regrade(tree, root, RULES) == ["submissions/bravo", "submissions/charlie"]


def test_the_plan_re_grades_what_other_dependencies_graded(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tree_with(tmp_path, "alpha", "bravo")
    for team in ("alpha", "bravo"):
        (tree / "submissions" / team / "submission.yaml").write_text(f"team: {team}\n")
    put(root, graded_from(tree, "alpha"), tmp_path)
    put(root, graded_from(tree, "bravo"), tmp_path)
    assert store.to_regrade(tree, root, RULES) == []
    # the lock moved on (a new NumPy): this grader now runs with another set
    monkeypatch.setattr(dependencies, "fingerprint", lambda: "f" * 64)
    assert store.to_regrade(tree, root, RULES) == ["submissions/alpha", "submissions/bravo"]


def test_the_grade_book_has_a_row_per_member_and_event(root: Path, tmp_path: Path) -> None:
    put(root, variant("fast", members=["ada", '=HYPERLINK("http://x")']), tmp_path)
    put(root, variant("sloppy", correct=800), tmp_path)
    book = tmp_path / "book.csv"
    code, _, _ = run("leaderboard", "--results-dir", str(root), "--out", str(tmp_path / "l.md"),
                     "--csv", str(book))  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(book.read_text())))
    sprint = [(r["team"], r["member"], r["rank"], r["status"][:14]) for r in rows
              if r["event"] == "latency_sprint"]  # fmt: skip
    assert sprint == [
        ("fast", "ada", "1", "qualified"),
        ("fast", '\'=HYPERLINK("http://x")', "1", "qualified"),  # not a formula
        ("sloppy", "octocat", "", "not qualified:"),
    ]
    fast = next(r for r in rows if r["team"] == "fast" and r["event"] == "latency_sprint")
    speedup, interval = INT8["improvements"]["speedup"], INT8["improvements"]["speedup_ci95"]
    expected = tuple(f"{v:.6g}" for v in (speedup, *interval))
    assert (fast["score"], fast["ci95_low"], fast["ci95_high"]) == expected
    assert fast["graded"] == INT8["timestamp"]


# -- the Pareto chart -----------------------------------------------------------------------------
def test_the_pareto_front_keeps_what_nothing_beats_on_both() -> None:
    from grader.publish.chart import Point, front

    # (team, speedup, its interval, accuracy, size): higher speedup and accuracy are better
    found = [Point("a", 2.0, 1.9, 2.1, 0.90, 1), Point("b", 1.0, 0.9, 1.1, 0.95, 1),
             Point("c", 0.6, 0.5, 0.7, 0.93, 1), Point("d", 4.0, 3.9, 4.1, 0.80, 1),
             Point("e", 1.0, 0.9, 1.1, 0.94, 1)]  # fmt: skip
    assert [p.team for p in front(found)] == ["d", "a", "b"]


def test_the_chart_is_written_beside_the_leaderboard_and_is_deterministic(
    root: Path, tmp_path: Path
) -> None:
    put(root, variant("fast"), tmp_path)
    put(root, variant("slow", slower=2.0), tmp_path)
    out = tmp_path / "site" / "leaderboard.md"
    out.parent.mkdir()
    args = ("leaderboard", "--results-dir", str(root), "--out", str(out))
    assert run(*args)[0] == 0
    svg = out.parent / "leaderboard-mlp_sprint.svg"
    first = svg.read_bytes()
    assert first.startswith(b"<?xml") and b"<svg" in first
    assert b"<text" not in first  # text drawn as glyph paths: no student text as markup
    assert b"dc:date" not in first
    assert "![mlp\\_sprint: accuracy against speedup" in out.read_text()
    assert "](leaderboard-mlp_sprint.svg)" in out.read_text()
    assert run(*args)[1] == f"{out} unchanged"
    assert svg.read_bytes() == first
    svg.write_bytes(first.replace(b"</svg>", b"<!-- edited --></svg>"))
    code, text, _ = run(*args, "--check")
    assert code == 1 and str(svg) in text


# -- review mends ---------------------------------------------------------------------------------
def rejected_doc(team: str, when: str) -> dict:
    from grader.errors import Violation
    from grader.result.build import rejected

    doc = rejected(team, [Violation(rule="x", message="no model")], "config_invalid")
    doc["timestamp"] = when
    return doc


def test_a_newer_rejection_replaces_the_team_s_ranked_entry_and_an_older_one_does_not(
    root: Path, tmp_path: Path
) -> None:
    put(root, rejected_doc("fast", "2026-11-01T00:00:00Z"), tmp_path)
    put(root, variant("fast"), tmp_path)  # graded 2026-11-23: the older rejection is history
    assert [(e.team, e.graded) for e in store.latest(root, RULES)] == [("fast", True)]
    put(root, rejected_doc("fast", "2026-11-30T00:00:00Z"), tmp_path)
    assert [(e.team, e.graded) for e in store.latest(root, RULES)] == [("fast", False)]


def test_a_chart_without_entries_is_removed_and_check_sees_it(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder" / "leaderboard.md"  # a folder that does not exist yet
    orphan = out.parent / "leaderboard-gone_workload.svg"
    args = ("leaderboard", "--results-dir", str(root), "--out", str(out))
    assert run(*args)[0] == 0
    orphan.write_bytes(b"<svg/>")
    code, text, _ = run(*args, "--check")
    assert code == 1 and str(orphan) in text
    assert run(*args)[0] == 0 and not orphan.exists()


def test_numbers_stay_numbers_in_the_grade_book() -> None:
    assert leaderboard.spreadsheet_safe("-0.01") == "-0.01"
    assert leaderboard.spreadsheet_safe("+3") == "+3"
    assert leaderboard.spreadsheet_safe("-cmd|' /C calc'!A0") == "'-cmd|' /C calc'!A0"


# -- the verification cache -----------------------------------------------------------------------
def test_verified_bytes_are_not_recomputed_again(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, variant("fast"), tmp_path)
    first = build(root)
    assert (root / verified.CACHE).is_file()

    def no_recompute(*args: object) -> list:
        raise AssertionError("recomputed although the bytes were verified")

    monkeypatch.setattr(verify, "check", no_recompute)
    assert build(root) == first  # from the cache, the same leaderboard


def test_an_edit_after_caching_is_still_refused(root: Path, tmp_path: Path) -> None:
    stored = put(root, variant("fast"), tmp_path)
    build(root)  # verified and cached
    doc = json.loads(stored.read_text())
    doc["events"]["latency_sprint"]["score"] = 9.0
    stored.write_text(jsonfile.dumps(doc))
    with pytest.raises(ConfigError, match="its numbers do not recompute"):
        store.latest(root, RULES)


def test_a_cache_from_other_rules_is_ignored(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, variant("fast"), tmp_path)
    build(root)
    cache = json.loads((root / verified.CACHE).read_text())
    cache["key"] = "0.0.0:" + "0" * 64
    (root / verified.CACHE).write_text(json.dumps(cache))
    calls = []
    real = verify.check
    monkeypatch.setattr(verify, "check", lambda *a: calls.append(1) or real(*a))
    build(root)
    assert calls == [1]


def test_a_cache_from_other_dependencies_is_ignored(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, variant("fast"), tmp_path)
    build(root)
    assert verified.load_cache(root, RULES)[0]
    monkeypatch.setattr(dependencies, "fingerprint", lambda: "f" * 64)
    assert verified.load_cache(root, RULES) == ({}, {})


@pytest.mark.slow
def test_the_committed_leaderboard_is_made_from_the_committed_results(tmp_path: Path) -> None:
    """leaderboard.md as committed shows every workload's table and chart, made from the
    example submissions' stored grades (results/), and regenerates to the same bytes where
    those grades are current. They are stale on a machine whose runtime dependencies differ
    (another Python takes other locked versions): there the leaderboard lists them apart,
    and --check says the committed one is stale, as it must."""
    root = RULES.path.parent
    entries = store.latest(root / "results", RULES, cache=False)
    assert {e.workload for e in entries} == set(RULES.workloads)
    assert all(e.doc["verdict"]["status"] == "graded" for e in entries)
    for entry in entries:
        team = root / "submissions" / entry.team
        assert entry.doc["submission"]["content_sha256"] == content_sha256(team)
        assert jsonfile.read_json(Path(entry.path))["system"]["cpu_model"]  # where measured
    committed = (root / "leaderboard.md").read_text()
    stale = {e.stale for e in entries if e.stale}
    out = tmp_path / "leaderboard.md"
    code, text, _ = run("leaderboard", "--results-dir", str(root / "results"), "--out", str(out))
    assert code == 0, text
    if not stale:
        # --check's comparison: the file as written at the root is the committed one
        assert leaderboard.build(entries, RULES, root) == committed
        # written elsewhere, the same but for its links' way back to the teams' READMEs
        way = leaderboard.link_base(root, tmp_path)
        assert way.startswith("../") and "](submissions/" in committed
        assert out.read_text() == committed.replace("](submissions/", f"]({way}submissions/")
        for workload in RULES.workloads:
            assert f"## {workload.replace('_', chr(92) + '_')}" in committed  # escaped
            assert f"](leaderboard-{workload}.svg)" in committed
            assert (root / f"leaderboard-{workload}.svg").read_bytes() == (
                tmp_path / f"leaderboard-{workload}.svg"
            ).read_bytes()
        # each example team has several grades: its history chart, committed as made
        histories = sorted(p.name for p in tmp_path.glob("leaderboard-history-*.svg"))
        assert histories == [f"leaderboard-history-{e.team}.svg" for e in entries]
        for name in histories:
            assert (root / name).read_bytes() == (tmp_path / name).read_bytes(), name
    else:
        assert all("runtime dependencies" in why for why in stale), stale
        assert out.read_text() != committed
