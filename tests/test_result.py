"""The result JSON: golden results validate, a hand-edited derived number is caught, and
reading and writing refuse what is not a valid result.

The golden results are real grades. To update them (after a change of the result format),
regrade from the repository root:

    python -m grader grade submissions/example-baseline --quick \
        --json tests/data/result_example_baseline.json
    python -m grader grade submissions/example-int8 --quick \
        --json tests/data/result_example_int8.json

and then refresh the Markdown goldens (see tests/test_render.py). The int8 result's
``ablation`` (and the techniques re-derived from it) was added from a later real quick
grade of the same submission, to keep the Markdown goldens built on its other numbers;
a regrade replaces it with the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from golden import golden_result as golden

from grader.config import SCHEMA_DIR, Rules
from grader.errors import ConfigError, Verdict, Violation
from grader.grade import exit_code, rejected_config
from grader.result import build, derive, jsonfile, verify

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = ["result_example_baseline.json", "result_example_int8.json"]


def rederive(doc: dict, rule_set: Rules) -> dict:
    return derive.apply_derived(doc, derive.derive(doc, rule_set))


def fields(violations: list[Violation]) -> set[str]:
    return {v.field for v in violations if v.field}


@pytest.mark.parametrize("name", [pytest.param(n, id=n.split(".")[0]) for n in GOLDEN])
def test_golden_results_are_valid(rule_set: Rules, name: str) -> None:
    doc = golden(name)
    assert doc["verdict"]["status"] == "graded"
    assert verify.check(doc, rule_set, name) == []


@pytest.mark.parametrize("name", [pytest.param(n, id=n.split(".")[0]) for n in GOLDEN])
def test_golden_results_are_as_written(name: str) -> None:
    # sort_keys + indent + final newline: the file is exactly what `write` produces.
    text = (DATA / name).read_text(encoding="utf-8")
    assert text == jsonfile.dumps(json.loads(text))


# --- hand edits are caught ----------------------------------------------------------------------


def _set(path: str, value: Callable[[object], object]) -> Callable[[dict], None]:
    """An edit of the value at a dotted path (``[i]`` for list items)."""

    def edit(doc: dict) -> None:
        keys = path.replace("[", ".").replace("]", "").split(".")
        target = doc
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last: str | int = int(keys[-1]) if isinstance(target, list) else keys[-1]
        target[last] = value(target[last])

    return edit


def _add_flag(doc: dict) -> None:
    doc["flags"].append(
        {
            "id": "speedup_suspicious",
            "severity": "warn",
            "metric": "speedup",
            "op": ">",
            "threshold": 20,
            "value": 25.0,
            "message": "speedup above 20x: unrealistic improvement, needs a human look",
        }
    )


EDITS = [
    pytest.param(
        _set("improvements.speedup", lambda v: v * 1.5), "$.improvements.speedup", id="speedup"
    ),
    pytest.param(
        _set("improvements.speedup_ci95", lambda v: [v[0] * 1.2, v[1] * 1.2]),
        "$.improvements.speedup_ci95[0]",
        id="speedup-ci95",
    ),
    pytest.param(
        _set("improvements.speedup_p_value", lambda v: 0.001),
        "$.improvements.speedup_p_value",
        id="p-value",
    ),
    pytest.param(
        _set("improvements.compression_ratio", lambda v: v * 4),
        "$.improvements.compression_ratio",
        id="compression",
    ),
    pytest.param(
        _set("improvements.accuracy_delta", lambda v: v + 0.01),
        "$.improvements.accuracy_delta",
        id="accuracy-delta",
    ),
    pytest.param(
        _set("improvements.efficiency", lambda v: v * 2), "$.improvements.efficiency", id="eff"
    ),
    pytest.param(
        _set("events.latency_sprint.score", lambda v: v + 0.5),
        "$.events.latency_sprint.score",
        id="event-score",
    ),
    pytest.param(
        _set("events.latency_sprint.qualified", lambda v: not v),
        "$.events.latency_sprint.qualified",
        id="event-qualified",
    ),
    pytest.param(
        _set("events.latency_sprint.rules[0].passed", lambda v: not v),
        "$.events.latency_sprint.rules[0].passed",
        id="rule-passed",
    ),
    pytest.param(
        _set("events.latency_sprint.rules[0].expected", lambda v: 0.5),
        "$.events.latency_sprint.rules[0].expected",
        id="rule-threshold",
    ),
    pytest.param(_add_flag, "$.flags", id="flag-added"),
    pytest.param(
        _set("optimized.metrics.accuracy", lambda v: v + 0.02),
        "$.optimized.metrics.accuracy",
        id="accuracy",
    ),
    pytest.param(
        _set("optimized.metrics.latency_ms.median", lambda v: v / 3),
        "$.optimized.metrics.latency_ms.median",
        id="latency-median",
    ),
    pytest.param(
        _set("baseline.metrics.size_bytes", lambda v: v * 10),
        "$.baseline.metrics.size_bytes",
        id="baseline-size",
    ),
]


@pytest.mark.parametrize(("edit", "path"), EDITS)
def test_hand_edit_is_caught(rule_set: Rules, edit: Callable[[dict], None], path: str) -> None:
    doc = golden()
    edit(doc)
    violations = verify.check(doc, rule_set, "edited.json")
    assert path in fields(violations), [str(v) for v in violations]
    mine = next(v for v in violations if v.field == path)
    assert mine.rule == "derived_mismatch"
    assert mine.file == "edited.json"
    assert path in mine.message
    assert mine.fix


def test_removed_flag_is_caught(rule_set: Rules) -> None:
    doc = golden()
    sub = doc["optimized"]["metrics"]
    # Consistently 25x faster: the suspicious-speedup flag is raised on re-derivation.
    sub["latency_samples_ms"] = [t / 25 for t in doc["baseline"]["metrics"]["latency_samples_ms"]]
    doc = rederive(doc, rule_set)
    assert "speedup_suspicious" in {f["id"] for f in doc["flags"]}
    assert verify.check(doc, rule_set, "x.json") == []
    doc["flags"] = [f for f in doc["flags"] if f["id"] != "speedup_suspicious"]
    assert "$.flags" in fields(verify.check(doc, rule_set, "x.json"))


def test_consistent_edit_of_an_observation_is_rederived(rule_set: Rules) -> None:
    doc = golden()
    before = doc["improvements"]["speedup"]
    sub = doc["optimized"]["metrics"]
    sub["latency_samples_ms"] = [2 * t for t in sub["latency_samples_ms"]]
    # Stored derived numbers now disagree with the observations...
    stale = fields(verify.check(doc, rule_set, "x.json"))
    assert {"$.improvements.speedup", "$.optimized.metrics.latency_ms.median"} <= stale
    # ...and re-deriving gives half the speedup (the baseline's is about 1, so about 0.5).
    doc = rederive(doc, rule_set)
    after = doc["improvements"]["speedup"]
    assert after == pytest.approx(before / 2, rel=1e-9)
    assert 0.4 < after < 0.6
    assert verify.check(doc, rule_set, "x.json") == []


def with_roles(doc: dict, fresh_every: int = 5) -> tuple[dict, list[int]]:
    """The golden result with its rounds' roles recorded: every ``fresh_every``-th round a
    reserve round of digits new to the processes, the rest repeats."""
    n = len(doc["baseline"]["metrics"]["latency_samples_ms"])
    fresh = list(range(3, n, fresh_every))
    doc["measurement"]["round_roles"] = ["fresh" if i in fresh else "repeat" for i in range(n)]
    return doc, fresh


def test_a_speedup_earned_on_repeats_only_is_held_to_the_new_digits(rule_set: Rules) -> None:
    """A cache: repeated digits answered 10x faster than the submission computes. The
    published speedup is the new digits' interval's upper end, and a stored speedup that
    was not held is caught as a hand edit."""
    doc, fresh = with_roles(golden())
    assert len(fresh) >= derive.MIN_NEW_DIGIT_ROUNDS
    sub = doc["optimized"]["metrics"]
    sub["latency_samples_ms"] = [
        t if i in fresh else t / 10 for i, t in enumerate(sub["latency_samples_ms"])
    ]
    doc = rederive(doc, rule_set)
    imp = doc["improvements"]
    hi = imp["speedup_new_digits_ci95"][1]
    assert imp["speedup_measured"] > 5 and imp["speedup"] == hi < 1.2
    assert imp["speedup_ci95"][1] == hi and imp["speedup_ci95"][0] <= hi
    assert verify.check(doc, rule_set, "x.json") == []
    doc["improvements"]["speedup"] = doc["improvements"]["speedup_measured"]
    assert "$.improvements.speedup" in fields(verify.check(doc, rule_set, "x.json"))


def test_an_honest_speedup_is_published_as_measured(rule_set: Rules) -> None:
    doc, _ = with_roles(golden())
    doc = rederive(doc, rule_set)
    imp = doc["improvements"]
    assert imp["speedup"] == imp["speedup_measured"] == golden()["improvements"]["speedup"]


def test_too_few_new_digit_rounds_hold_nothing(rule_set: Rules) -> None:
    doc, fresh = with_roles(golden(), fresh_every=40)
    assert len(fresh) < derive.MIN_NEW_DIGIT_ROUNDS
    doc = rederive(doc, rule_set)
    assert "speedup_measured" not in doc["improvements"]


def test_round_roles_of_another_length_are_refused(rule_set: Rules) -> None:
    doc, _ = with_roles(golden())
    doc["measurement"]["round_roles"].pop()
    with pytest.raises(ValueError, match="round_roles"):
        derive.derive(doc, rule_set)


# --- schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        pytest.param(2, id="two"),
        pytest.param(0, id="zero"),
        pytest.param("1", id="string"),
        pytest.param(None, id="null"),
    ],
)
def test_unknown_schema_version_is_refused(rule_set: Rules, version: object) -> None:
    doc = golden()
    doc["schema_version"] = version
    (violation,) = verify.check(doc, rule_set, "x.json")
    assert violation.rule == "schema_version"
    assert violation.field == "$.schema_version"
    assert "schema_version" in violation.message
    assert repr(version) in violation.message


def test_verdict_codes_are_the_schemas() -> None:
    schema = json.loads((SCHEMA_DIR / "result.schema.json").read_text())
    (codes, _null) = schema["properties"]["verdict"]["properties"]["code"]["oneOf"]
    assert [v.value for v in Verdict] == codes["enum"]


def test_missing_schema_version_is_refused(rule_set: Rules) -> None:
    doc = golden()
    del doc["schema_version"]
    (violation,) = verify.check(doc, rule_set, "x.json")
    assert violation.rule == "schema_version"


@pytest.mark.parametrize(
    ("path", "parent", "key"),
    [
        pytest.param("", "$", "timestamp", id="timestamp"),
        pytest.param("", "$", "events", id="graded-needs-events"),
        pytest.param("improvements", "$.improvements", "speedup", id="improvements-speedup"),
        pytest.param("verdict", "$.verdict", "status", id="verdict-status"),
        pytest.param("optimized.metrics", "$.optimized.metrics", "correct", id="correct"),
    ],
)
def test_missing_required_key_is_a_schema_violation(
    rule_set: Rules, path: str, parent: str, key: str
) -> None:
    doc = golden()
    target = doc
    for part in filter(None, path.split(".")):
        target = target[part]
    del target[key]
    violations = verify.check(doc, rule_set, "x.json")
    assert violations
    assert all(v.rule == "schema" for v in violations)
    mine = [v for v in violations if v.field == parent and repr(key) in v.message]
    assert mine, [str(v) for v in violations]


def test_not_an_object_is_refused(rule_set: Rules) -> None:
    (violation,) = verify.check([1, 2], rule_set, "x.json")
    assert violation.rule == "schema"


def test_wrong_type_names_the_path(rule_set: Rules) -> None:
    doc = golden()
    doc["improvements"]["speedup"] = "fast"
    violations = verify.check(doc, rule_set, "x.json")
    assert "$.improvements.speedup" in fields(violations)
    assert all(v.rule == "schema" for v in violations)


# --- read_json ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b'{"speedup": NaN}', "NaN", id="nan"),
        pytest.param(b'{"speedup": Infinity}', "Infinity", id="infinity"),
        pytest.param(b'{"speedup": -Infinity}', "-Infinity", id="minus-infinity"),
        pytest.param(b'{"speedup": ', "not valid JSON", id="truncated"),
        pytest.param(b"speedup: 2", "not valid JSON", id="yaml-not-json"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b'{"team": "caf\xe9"}', "not valid JSON", id="latin-1"),
        pytest.param(b"\xff\xfe{\x00}\x00", "not valid JSON", id="utf-16"),
    ],
)
def test_read_json_refuses(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        jsonfile.read_json(path)
    assert message in info.value.message
    assert str(path) in info.value.message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_read_json_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        jsonfile.read_json(tmp_path / "nope.json")


def test_read_json_refuses_a_file_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonfile, "MAX_RESULT_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"pad": "x" * 100}))
    with pytest.raises(ConfigError, match="over the 100-byte limit"):
        jsonfile.read_json(path)
    path.write_text("{}")
    assert jsonfile.read_json(path) == {}


def test_golden_results_are_far_below_the_limit() -> None:
    for name in GOLDEN:
        assert (DATA / name).stat().st_size < jsonfile.MAX_RESULT_BYTES / 100


def test_read_json_refuses_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError):
        jsonfile.read_json(path)


# --- write ----------------------------------------------------------------------------------------


def test_write_is_sorted_indented_and_ends_with_newline(tmp_path: Path) -> None:
    doc = golden()
    target = tmp_path / "out.json"
    jsonfile.write(doc, target)
    text = target.read_text(encoding="utf-8")
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert text.startswith('{\n  "artifacts": {')
    assert jsonfile.read_json(target) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left


def test_write_refuses_an_invalid_result_and_keeps_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous\n")
    doc = golden()
    del doc["timestamp"]
    with pytest.raises(ConfigError) as info:
        jsonfile.write(doc, target)
    assert "refusing to write" in info.value.message
    assert any(v.rule == "schema" and "'timestamp'" in v.message for v in info.value.violations)
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_replaces_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous\n")

    def crash(src: object, dst: object) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(jsonfile.os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        jsonfile.write(golden(), target)
    assert target.read_text() == "previous\n"  # the half-done write never reached the target


def test_write_refuses_nan_with_a_config_error(tmp_path: Path) -> None:
    doc = golden()
    doc["improvements"]["speedup"] = math.nan
    with pytest.raises(ConfigError):
        jsonfile.write(doc, tmp_path / "out.json")


# --- rejected results and exit codes -------------------------------------------------------------


def _violations(n: int) -> list[Violation]:
    return [
        Violation(
            rule="event_unknown",
            message=f"there is no event 'nope{i}'",
            file="submissions/broken/submission.yaml",
            line=i + 1,
            field=f"events[{i}]",
            expected="one of latency_sprint, …",
            found=f"'nope{i}'",
            fix="choose an event from events.yaml",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("path", "count"),
    [
        pytest.param("submissions/broken", 2, id="folder"),
        pytest.param("submissions/broken/submission.yaml", 1, id="yaml-file"),
        pytest.param("submissions/broken", 0, id="no-violations"),
        pytest.param("submissions/broken", 250, id="capped-at-200"),
    ],
)
def test_rejected_result_validates(rule_set: Rules, path: str, count: int) -> None:
    doc = rejected_config(Path(path), _violations(count))
    assert verify.check(doc, rule_set, "rejected.json") == []
    assert doc["submission"]["team"] == "broken"
    assert doc["verdict"]["code"] == "config_invalid"
    assert len(doc["verdict"]["violations"]) == min(count, 200)
    assert exit_code(doc) == 2


def test_exit_code_graded_and_qualified_is_0() -> None:
    assert exit_code(golden()) == 0
    assert exit_code(golden("result_example_int8.json")) == 0


def test_exit_code_rule_not_met_is_1(rule_set: Rules) -> None:
    doc = golden()
    doc["optimized"]["metrics"]["correct"] = 800  # accuracy 0.80 < 0.85
    doc = rederive(doc, rule_set)
    assert doc["events"]["latency_sprint"]["qualified"] is False
    assert doc["events"]["extreme_push"]["qualified"] is True
    assert verify.check(doc, rule_set, "x.json") == []
    assert exit_code(doc) == 1


def test_exit_code_ignores_an_unscored_all_around(rule_set: Rules) -> None:
    doc = golden()
    doc["code_quality"].update(findings=None, problem="the linter could not run: gone")
    doc = rederive(doc, rule_set)
    assert doc["events"]["all_around"]["qualified"] is None
    assert exit_code(doc) == 0


@pytest.mark.parametrize("code", ["timeout", "crashed", "import_forbidden", "memory_limit"])
def test_exit_code_rejected_is_2(rule_set: Rules, code: str) -> None:
    doc = golden()
    for key in ("measurement", "baseline", "optimized", "improvements", "events", "flags"):
        del doc[key]
    doc["verdict"] = {"status": "rejected", "code": code, "message": "the submission failed"}
    assert verify.check(doc, rule_set, "x.json") == []
    assert exit_code(doc) == 2


# --- what a submission's files count for --------------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    ["model.py", "weights.npz", "README.md", "submission.yaml", "LICENSE", "__pycache__/w1.npz"],
)
def test_a_changed_byte_anywhere_in_the_folder_changes_the_content_hash(
    tmp_path: Path, changed: str
) -> None:
    """A stored result is current only for the exact folder graded: a byte changed under
    __pycache__ left the hash as it was, so a stale result looked current."""
    folder = tmp_path / "team"
    for name in ("model.py", "weights.npz", "README.md", "submission.yaml", "LICENSE", changed):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"content of " + name.encode())
    before = build.content_sha256(folder)
    (folder / changed).write_bytes(b"Content of " + changed.encode())
    assert build.content_sha256(folder) != before


def test_the_content_hash_counts_a_link_by_its_target_and_never_follows_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.npz"
    outside.write_bytes(b"one")
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "weights.npz").symlink_to(outside)
    before = build.content_sha256(folder)
    outside.write_bytes(b"two")  # not read through the link
    assert build.content_sha256(folder) == before
    (folder / "weights.npz").unlink()
    (folder / "weights.npz").symlink_to(tmp_path / "elsewhere.npz")
    assert build.content_sha256(folder) != before


def test_the_size_is_the_files_given_and_no_other(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    for name, size in {"model.py": 10, "lib/x.py": 5, "README.md": 1000}.items():
        (tmp_path / name).write_bytes(b"x" * size)
    assert build.model_files(tmp_path, ("model.py", "lib/x.py")) == {"lib/x.py": 5, "model.py": 10}


def test_a_models_size_counts_its_paths_too() -> None:
    """A model can list its copy: its file names are bytes it reads, which could spell out
    weights (some 50 kB within the caps). They count in its size."""
    plain = {"model.py": 1000, "weights.npz": 5000}
    spelt = {"model.py": 1000, "weights.npz": 5000, "a" * 200 + ".py": 0}
    assert derive.model_size(plain) == 6000 + len("model.py") + len("weights.npz")
    assert derive.model_size(spelt) == derive.model_size(plain) + 203
