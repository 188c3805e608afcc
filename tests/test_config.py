"""submission.yaml and events.yaml: every malformed config refused with its rule and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from grader.config import (
    RULES,
    SCHEMA_DIR,
    Rules,
    Submission,
    check_submission,
    load_rules,
    load_submission,
    load_yaml,
    project_root,
)
from grader.errors import ConfigError, Violation

EVENTS_YAML = Path(__file__).resolve().parent.parent / "events.yaml"
TEAM = "speed-demons"
MODEL = "def build_model():\n    return None\n"
VALID = """\
team: speed-demons
members: [octocat]
workload: mlp_sprint
events: [latency_sprint, all_around]
entrypoint: model.py:build_model
techniques: [int8-quantization, magnitude-pruning]
description: INT8 weights with per-channel scales, 50 % magnitude pruning
"""
# Line numbers in VALID: 1 team, 2 members, 3 workload, 4 events, 5 entrypoint,
# 6 techniques, 7 description.
BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def with_line(number: int, text: str) -> str:
    """VALID with its line ``number`` (1-based) replaced by ``text`` (several lines allowed)."""
    lines = VALID.splitlines()
    lines[number - 1] = text
    return "\n".join(lines) + "\n"


def write(folder: Path, text: str | bytes | None, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    if isinstance(text, bytes):
        (folder / "submission.yaml").write_bytes(text)
    elif text is not None:
        (folder / "submission.yaml").write_text(text)
    return folder


def case(
    case_id: str,
    text: str | bytes | None,
    *expected: tuple[str, int | None],
    files: dict[str, str] | None = None,
    folder: str = TEAM,
):
    files = {"model.py": MODEL} if files is None else files
    return pytest.param(text, files, folder, list(expected), id=case_id)


MALFORMED = [
    # keys
    case("unknown-key-typo", with_line(2, "membres: [octocat]"), ("unknown_key", 2)),
    case("unknown-key-extra", VALID + "score: 99\n", ("unknown_key", 8)),
    case("unknown-key-huge", VALID + "k" * 1000 + ": 1\n", ("unknown_key", 8)),
    case("missing-entrypoint", with_line(5, "# no entrypoint"), ("missing_key", 1)),
    case(
        "missing-three-keys",
        "team: speed-demons\n",
        ("missing_key", 1),
        ("missing_key", 1),
        ("missing_key", 1),
    ),
    case("duplicate-key", VALID + "team: slow-pokes\n", ("duplicate_key", 8)),
    case(
        "non-string-key",
        VALID + "1: one\nyes: true\n",
        ("non_string_key", 8),
        ("non_string_key", 9),
    ),
    # types
    case("events-a-string", with_line(4, "events: latency_sprint"), ("wrong_type", 4)),
    case("members-a-string", with_line(2, "members: octocat"), ("wrong_type", 2)),
    case("team-a-number", with_line(1, "team: 42"), ("wrong_type", 1), folder="42"),
    case("workload-empty", with_line(3, "workload:"), ("wrong_type", 3)),
    case("event-a-number", with_line(4, "events: [latency_sprint, 3]"), ("wrong_type", 4)),
    case("description-a-list", with_line(7, "description: [fast]"), ("wrong_type", 7)),
    # team
    case("team-not-folder", with_line(1, "team: slow-pokes"), ("team_mismatch", 1)),
    case("team-not-slug", with_line(1, "team: Speed_Demons"), ("team_format", 1)),
    case("team-too-long", with_line(1, "team: " + "a" * 41), ("team_format", 1)),
    # workload and events
    case("unknown-workload", with_line(3, "workload: mlp_sprnt"), ("unknown_workload", 3)),
    case(
        "unknown-event-block-list",
        with_line(4, "events:\n  - latency_sprint\n  - speed_sprint"),
        ("unknown_event", 6),
    ),
    case(
        "duplicate-events",
        with_line(4, "events: [latency_sprint, latency_sprint]"),
        ("duplicate_event", 4),
    ),
    case("empty-events", with_line(4, "events: []"), ("events_empty", 4)),
    # entrypoint
    case(
        "entrypoint-no-colon",
        with_line(5, "entrypoint: model.build_model"),
        ("entrypoint_format", 5),
    ),
    case(
        "entrypoint-not-py",
        with_line(5, "entrypoint: model.txt:build_model"),
        ("entrypoint_format", 5),
    ),
    case(
        "entrypoint-keyword", with_line(5, "entrypoint: model.py:class"), ("entrypoint_format", 5)
    ),
    case(
        "entrypoint-backslash",
        with_line(5, r"entrypoint: sub\model.py:f"),
        ("entrypoint_format", 5),
    ),
    case("entrypoint-dotdot", with_line(5, "entrypoint: ../x.py:f"), ("entrypoint_outside", 5)),
    case("entrypoint-absolute", with_line(5, "entrypoint: /tmp/x.py:f"), ("entrypoint_outside", 5)),
    case(
        "entrypoint-file-missing",
        with_line(5, "entrypoint: net.py:build_model"),
        ("entrypoint_missing", 5),
    ),
    case(
        "entrypoint-function-missing",
        VALID,
        ("entrypoint_function_missing", 5),
        files={"model.py": "def make_model():\n    return None\n"},
    ),
    case(
        "entrypoint-function-in-class",
        VALID,
        ("entrypoint_function_missing", 5),
        files={"model.py": "class Net:\n    def build_model(self):\n        return self\n"},
    ),
    case(
        "entrypoint-syntax-error",
        VALID,
        ("entrypoint_syntax", 3),
        files={"model.py": "import numpy as np\n\ndef build_model(:\n    return None\n"},
    ),
    # lists
    case(
        "bad-member-logins",
        with_line(2, "members:\n  - octocat\n  - -bad-\n  - has space"),
        ("member_format", 4),
        ("member_format", 5),
    ),
    case("bad-technique", with_line(6, "techniques: [INT8 Quantization]"), ("technique_format", 6)),
    case("description-too-long", with_line(7, "description: " + "x" * 501), ("too_long", 7)),
    # the file itself
    case("file-missing", None, ("file_missing", None)),
    case("file-a-directory", None, ("file_not_regular", None), files={"submission.yaml/x": ""}),
    case("file-empty", "", ("file_empty", None)),
    case("file-blank", "\n  \n\n", ("file_empty", None)),
    case("file-comments-only", "# team: speed-demons\n\n# TODO\n", ("file_empty", None)),
    case("file-huge", VALID + "# " + "x" * 70_000 + "\n", ("file_too_large", None)),
    case("binary-garbage", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ("file_encoding", 1)),
    case(
        "latin-1-on-line-7",
        VALID.replace("50 %", "50 \xb5").encode("latin-1"),
        ("file_encoding", 7),
    ),
    case("control-character", with_line(3, "workload: mlp\x00sprint"), ("yaml_syntax", 3)),
    # YAML that is not a config
    case(
        "prose", "My model is fast.\nIt uses pruning: and quantization: both.\n", ("yaml_syntax", 2)
    ),
    case("bad-indentation", with_line(3, "  workload: mlp_sprint"), ("yaml_syntax", 3)),
    case("unclosed-list", with_line(4, "events: [latency_sprint, all_around"), ("yaml_syntax", 5)),
    case("tab-indentation", with_line(4, "events:\n\t- latency_sprint"), ("yaml_syntax", 5)),
    case("two-documents", VALID + "---\nteam: other\n", ("yaml_syntax", 8)),
    case("deeply-nested", "team: " + "[" * 5000 + "]" * 5000 + "\n", ("yaml_syntax", None)),
    case("top-level-list", "- team: speed-demons\n- workload: mlp_sprint\n", ("not_a_mapping", 1)),
    case("top-level-string", "speed-demons\n", ("not_a_mapping", 1)),
    case("billion-laughs", BOMB, ("yaml_alias", 1)),
    case("alias", VALID + "again: &t speed-demons\nteam2: *t\n", ("yaml_alias", 8)),
    case("merge-key", VALID + "extra:\n  <<: {team: x}\n", ("yaml_alias", 9)),
    case(
        "python-tag",
        with_line(5, "entrypoint: !!python/object/apply:os.system [ls]"),
        ("yaml_tag", 5),
    ),
    case("bad-date", with_line(7, "description: 2024-13-45"), ("yaml_value", 7)),
    # several problems in one file: every one reported, in line order
    case(
        "many-problems",
        "team: slow-pokes\n"
        "members: [octocat]\n"
        "workload: cnn_sprint\n"
        "events: [latency_sprint, bogus_event]\n"
        "entrypoint: ../model.py:build_model\n"
        "techniques: [Pruning]\n"
        "colour: blue\n",
        ("team_mismatch", 1),
        ("unknown_workload", 3),
        ("unknown_event", 4),
        ("entrypoint_outside", 5),
        ("technique_format", 6),
        ("unknown_key", 7),
    ),
]


@pytest.mark.parametrize(("text", "files", "folder", "expected"), MALFORMED)
def test_malformed_submission_is_refused_with_rule_and_line(
    tmp_path: Path,
    rules: Rules,
    text: str | bytes | None,
    files: dict[str, str],
    folder: str,
    expected: list[tuple[str, int | None]],
) -> None:
    submission, violations = check_submission(write(tmp_path / folder, text, files), rules)

    assert submission is None
    assert [(v.rule, v.line) for v in violations] == expected
    for v in violations:
        assert v.rule in RULES
        assert v.file and v.file.endswith(("submission.yaml", "model.py"))
        assert v.message and v.fix
        assert len(v.message) < 200 and len(v.fix) < 300
        assert str(v).startswith(v.file)
        assert v.found is None or len(v.found) <= 100


@pytest.mark.parametrize(("text", "files", "folder", "expected"), MALFORMED)
def test_load_submission_raises_with_every_violation(
    tmp_path: Path,
    rules: Rules,
    text: str | bytes | None,
    files: dict[str, str],
    folder: str,
    expected: list[tuple[str, int | None]],
) -> None:
    path = write(tmp_path / folder, text, files)
    with pytest.raises(ConfigError) as raised:
        load_submission(path, rules)

    n = len(expected)
    assert "submission.yaml" in raised.value.message
    assert f"{n} problem{'s' if n != 1 else ''} found" in raised.value.message
    assert [v.rule for v in raised.value.violations] == [rule for rule, _ in expected]


def test_violation_names_field_expected_found_and_fix(tmp_path: Path, rules: Rules) -> None:
    path = write(tmp_path / TEAM, with_line(4, "events: latency_sprint"), {"model.py": MODEL})
    [v] = check_submission(path, rules)[1]

    assert v == Violation(
        rule="wrong_type",
        message="events is a string, not a list of strings",
        file=(path / "submission.yaml").as_posix(),
        line=4,
        field="events",
        expected="a list of strings",
        found="'latency_sprint'",
        fix="write it as a list: events: [latency_sprint]",
    )


def test_suggestions_name_the_closest_valid_value(tmp_path: Path, rules: Rules) -> None:
    text = with_line(2, "membres: [octocat]").replace("mlp_sprint", "mlp_sprnt")
    _, violations = check_submission(write(tmp_path / TEAM, text, {"model.py": MODEL}), rules)

    assert [v.rule for v in violations] == ["unknown_key", "unknown_workload"]
    assert "did you mean 'members'?" in violations[0].message
    assert "members" in violations[0].expected and "techniques" in violations[0].expected
    assert violations[1].fix == "did you mean 'mlp_sprint'?"


def test_long_values_are_shown_truncated(tmp_path: Path, rules: Rules) -> None:
    path = write(tmp_path / TEAM, with_line(1, "team: " + "A" * 500), {"model.py": MODEL})
    [v] = check_submission(path, rules)[1]

    assert v.rule == "team_format"
    assert v.found.startswith("'AAAA") and v.found.endswith("...")
    assert len(v.found) == 80


def test_duplicate_key_names_both_lines(tmp_path: Path, rules: Rules) -> None:
    path = write(tmp_path / TEAM, VALID + "team: slow-pokes\n", {"model.py": MODEL})
    [v] = check_submission(path, rules)[1]

    assert "lines 1 and 8" in v.message


def test_syntax_error_points_into_the_entrypoint_file(tmp_path: Path, rules: Rules) -> None:
    files = {"model.py": "def build_model(:\n    return None\n"}
    [v] = check_submission(write(tmp_path / TEAM, VALID, files), rules)[1]

    assert (v.rule, v.line) == ("entrypoint_syntax", 1)
    assert v.file == (tmp_path / TEAM / "model.py").as_posix()


def test_entrypoint_symlink_out_of_the_folder_is_refused(tmp_path: Path, rules: Rules) -> None:
    (tmp_path / "outside.py").write_text(MODEL)
    folder = write(tmp_path / TEAM, VALID, {})
    (folder / "model.py").symlink_to(tmp_path / "outside.py")

    _, violations = check_submission(folder, rules)

    assert [(v.rule, v.line) for v in violations] == [("entrypoint_outside", 5)]


def test_entrypoint_missing_lists_the_python_files_present(tmp_path: Path, rules: Rules) -> None:
    text = with_line(5, "entrypoint: net.py:build_model")
    files = {"model.py": MODEL, "lib/layers.py": ""}
    [v] = check_submission(write(tmp_path / TEAM, text, files), rules)[1]

    assert "lib/layers.py, model.py" in v.fix


# ---------------------------------------------------------------- valid submissions


def test_valid_submission_loads(tmp_path: Path, rules: Rules) -> None:
    folder = write(tmp_path / TEAM, VALID, {"model.py": MODEL})

    assert load_submission(folder, rules) == Submission(
        folder=folder,
        config_file=folder / "submission.yaml",
        team=TEAM,
        members=("octocat",),
        workload="mlp_sprint",
        events=("latency_sprint", "all_around"),
        entrypoint_file="model.py",
        entrypoint_function="build_model",
        techniques=("int8-quantization", "magnitude-pruning"),
        description="INT8 weights with per-channel scales, 50 % magnitude pruning",
    )


def test_the_yaml_file_itself_can_be_named(tmp_path: Path, rules: Rules) -> None:
    folder = write(tmp_path / TEAM, VALID, {"model.py": MODEL})

    submission, violations = check_submission(folder / "submission.yaml", rules)

    assert violations == []
    assert submission is not None and submission.folder == folder


def test_minimal_submission_has_empty_optional_fields(tmp_path: Path, rules: Rules) -> None:
    text = (
        "team: speed-demons\nworkload: mlp_sprint\nevents: [extreme_push]\n"
        "entrypoint: ./pkg/net.py:build_model\n"
    )
    folder = write(tmp_path / TEAM, text, {"pkg/net.py": MODEL})

    submission = load_submission(folder, rules)

    assert (submission.members, submission.techniques, submission.description) == ((), (), "")
    assert submission.entrypoint_file == "pkg/net.py"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(MODEL, id="def"),
        pytest.param("class build_model:\n    pass\n", id="class"),
        pytest.param("def make():\n    return 1\n\nbuild_model = make\n", id="assignment"),
        pytest.param("build_model: object = lambda: None\n", id="annotated-assignment"),
        pytest.param("from helpers import make as build_model\n", id="import"),
    ],
)
def test_entrypoint_may_bind_the_function_any_module_level_way(
    tmp_path: Path, rules: Rules, source: str
) -> None:
    folder = write(tmp_path / TEAM, VALID, {"model.py": source})

    assert check_submission(folder, rules)[1] == []


# ---------------------------------------------------------------- events.yaml


def test_the_real_events_yaml_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLYMPICS_ROOT", raising=False)
    rules = load_rules()

    assert rules.path == project_root() / "events.yaml"
    assert set(rules.events) == {
        "latency_sprint",
        "memory_challenge",
        "accuracy_contest",
        "all_around",
        "extreme_push",
        "generation_quality",
        "inference_speed",
    }
    assert rules.events["latency_sprint"]["rules"][0] == {
        "id": "min_accuracy",
        "metric": "accuracy",
        "op": ">=",
        "value": 0.85,
    }
    assert rules.workloads["mlp_sprint"]["dataset"] in rules.datasets
    assert "torch" in rules.imports["forbidden"]
    assert [f["severity"] for f in rules.flags].count("disqualify") == 3  # one for text


@pytest.mark.parametrize("name", ["events.schema.json", "submission.schema.json"])
def test_schemas_are_valid_2020_12(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / name).read_text())

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_line_map_points_at_keys_and_items() -> None:
    data, lines = load_yaml(EVENTS_YAML)
    text = EVENTS_YAML.read_text().splitlines()

    assert text[lines[("events",)] - 1] == "events:"
    assert text[lines[("events", "all_around", "composite")] - 1].strip() == "composite:"
    assert "compression_impossible" in text[lines[("flags", 3)] - 1]
    assert data["flags"][3]["id"] == "compression_impossible"


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


BROKEN_RULES = [
    pytest.param('op: ">=", value: 0.85', 'op: "=>", value: 0.85', "bad_value", id="bad-op"),
    pytest.param("severity: warn,", "severity: shout,", "bad_value", id="bad-severity"),
    pytest.param("value: 0.80}", "value: .nan}", "bad_value", id="nan-threshold"),
    pytest.param("dataset: digits", "dataset: mnist", "unknown_dataset", id="missing-dataset"),
    pytest.param("accuracy: 0.40", "accuracy: 0.50", "composite_weights", id="weights-sum"),
    pytest.param("score: speedup", "score: sped_up", "unknown_metric", id="unknown-score"),
    pytest.param("metric: latency_ms", "metric: latency_s", "unknown_metric", id="unknown-metric"),
    pytest.param("points: 20", "pionts: 20", "unknown_key", id="unknown-key"),
    pytest.param("aliases: [fp16,", "aliases: [int8, fp16,", "duplicate_alias", id="alias-twice"),
    pytest.param(
        "speed: {metric: speedup,", "speed: {metric: sped,", "unknown_metric", id="part-metric"
    ),
    pytest.param("formula: percent\n", "formula: percentage\n", "bad_value", id="part-formula"),
    pytest.param("cap: 0.5}", "cap: 1}", "bad_value", id="part-cap-one"),
    pytest.param(
        "generation: {metric: perplexity_ratio",
        "generation: {metric: perplexity_ration",
        "unknown_metric",
        id="part-protocol-metric",
    ),
    pytest.param("detect: float16", "detect: half", "bad_value", id="unknown-detection"),
    pytest.param("  latency_sprint:", "  Latency-Sprint:", "bad_key", id="bad-event-name"),
    pytest.param("classes: 10", "classes: ten", "wrong_type", id="classes-a-string"),
    pytest.param("sha256: 65b4", "sha256: 65B4", "bad_format", id="sha256-uppercase"),
    pytest.param("id: speedup_impossible", "id: speedup_suspicious", "duplicate_id", id="dup-flag"),
    pytest.param("allowed: [numpy]", "allowed: [numpy, pickle]", "import_conflict", id="import"),
    pytest.param("protocol: generation", "protocol: gpt", "bad_value", id="bad-protocol"),
    pytest.param("kind: text", "kind: txt", "bad_value", id="bad-dataset-kind"),
    pytest.param("vocab_size: 69", "vocab_size: 70", "vocabulary_mismatch", id="vocab-size"),
    pytest.param("vocab_version: 1", "vocab_version: 2", "vocabulary_mismatch", id="vocab-version"),
    pytest.param("sha256: 938d", "sha256: 038d", "text_split_mismatch", id="text-sha256"),
    pytest.param("splits/val.txt,", "splits/dev.txt,", "text_split_mismatch", id="text-file"),
    pytest.param("dataset: tinytalks", "dataset: digits", "dataset_kind", id="generation-digits"),
    pytest.param("dataset: digits", "dataset: tinytalks", "dataset_kind", id="digits-as-text"),
]


@pytest.mark.parametrize(("old", "new", "rule"), BROKEN_RULES)
def test_broken_events_yaml_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, rule: str
) -> None:
    text = EVENTS_YAML.read_text()
    assert old in text
    broken = text.replace(old, new, 1)
    path = tmp_path / "events.yaml"
    path.write_text(broken)
    expected_line = line_of(text, old)
    if rule == "composite_weights":
        expected_line = line_of(broken, "composite:")
    if rule == "import_conflict":
        expected_line = line_of(broken, "pickle, marshal")

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    assert path.as_posix() in raised.value.message
    assert [(v.rule, v.line) for v in raised.value.violations] == [(rule, expected_line)]
    assert all(v.file == path.as_posix() and v.fix for v in raised.value.violations)


def tinytalks_entry(text: str) -> tuple[int, int]:
    """Where events.yaml's tinytalks workload starts and ends."""
    start = text.index("  tinytalks:\n    title:")
    return start, text.index("\n\n", start)


@pytest.mark.parametrize(
    ("old", "new", "field", "fix"),
    [
        pytest.param("    context: 128", "    classes: 69\n    context: 128", "classes",
                     "remove classes", id="classes"),
        pytest.param("    context: 128", "    input_shape: [128]\n    context: 128",
                     "input_shape", "remove input_shape", id="input-shape"),
        pytest.param("    vocab_version", "    baseline_accuracy: 0.4\n    vocab_version",
                     "baseline_accuracy", "remove baseline_accuracy", id="accuracy"),
    ],
)  # fmt: skip
def test_a_generation_workload_with_a_classification_field_is_refused(
    tmp_path: Path, old: str, new: str, field: str, fix: str
) -> None:
    text = EVENTS_YAML.read_text()
    start, end = tinytalks_entry(text)
    broken = text[:start] + text[start:end].replace(old, new, 1) + text[end:]
    path = tmp_path / "events.yaml"
    path.write_text(broken)

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    [v] = raised.value.violations
    assert (v.rule, v.file, v.field) == (
        "key_not_allowed",
        path.as_posix(),
        f"workloads.tinytalks.{field}",
    )
    assert broken.splitlines()[v.line - 1].strip().startswith(f"{field}:")  # its own line
    assert v.fix == fix and "a generation workload" in v.expected
    assert "does not belong" in str(v)


def test_a_generation_workload_without_its_context_is_refused(tmp_path: Path) -> None:
    text = EVENTS_YAML.read_text()
    start, end = tinytalks_entry(text)
    entry = text[start:end]
    cut = entry.index("    context:")
    entry = entry[:cut] + entry[entry.index("\n", cut) + 1 :]
    path = tmp_path / "events.yaml"
    path.write_text(text[:start] + entry + text[end:])

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    [v] = raised.value.violations
    assert (v.rule, v.field) == ("missing_key", "workloads.tinytalks.context")
    assert v.line == line_of(text, "  tinytalks:\n    title:")  # the entry that lacks it
    assert v.fix.startswith("add `context: 128`")
    assert f"{path.as_posix()}:{v.line}: the required key 'context' is missing" in str(v)


def test_the_count_of_problems_is_the_count_shown(tmp_path: Path) -> None:
    """jsonschema reports one `required` error per missing key, each naming every missing
    key: the message counts each problem once, as the list shows it."""
    text = EVENTS_YAML.read_text()
    start, end = tinytalks_entry(text)
    entry = "".join(
        line for line in text[start:end].splitlines(keepends=True)
        if not line.startswith(("    context:", "    vocab_version:"))
    )  # fmt: skip
    path = tmp_path / "events.yaml"
    path.write_text(text[:start] + entry + text[end:])

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    fields = [v.field for v in raised.value.violations]
    assert fields == ["workloads.tinytalks.vocab_version", "workloads.tinytalks.context"]
    assert raised.value.message.endswith(": 2 problem(s) in the rules")


def test_a_classification_workload_with_a_generation_field_is_refused(tmp_path: Path) -> None:
    text = EVENTS_YAML.read_text()
    path = tmp_path / "events.yaml"
    path.write_text(text.replace("    classes: 10\n", "    classes: 10\n    context: 64\n", 1))

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    [v] = raised.value.violations
    assert (v.rule, v.field, v.fix) == (
        "key_not_allowed",
        "workloads.mlp_sprint.context",
        "remove context",
    )


def test_a_text_dataset_cannot_be_sealed_or_deformed(tmp_path: Path) -> None:
    text = EVENTS_YAML.read_text()
    path = tmp_path / "events.yaml"
    deform = "    deform: {shape: [28, 28], shift_px: 0.5, rotate_deg: 2, scale: 0.02}\n"
    path.write_text(text.replace("    kind: text\n", "    kind: text\n" + deform, 1))

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    [v] = raised.value.violations
    assert (v.rule, v.field) == ("key_not_allowed", "datasets.tinytalks.deform")


def test_events_yaml_violation_names_the_full_field(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text(
        EVENTS_YAML.read_text().replace('op: "<", value: 100}', 'op: "<<", value: 100}')
    )

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    [v] = raised.value.violations
    assert v.field == "events.accuracy_contest.rules[0].op"
    assert v.found == "'<<'"
    assert "is not one of" in v.message


def test_missing_events_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_rules(tmp_path / "events.yaml")

    assert [v.rule for v in raised.value.violations] == ["file_missing"]


def test_project_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLYMPICS_ROOT", str(tmp_path))

    assert project_root() == tmp_path


def test_project_root_defaults_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLYMPICS_ROOT", raising=False)

    assert project_root() == EVENTS_YAML.parent


def test_the_final_phase_needs_every_dataset_sealed(tmp_path: Path) -> None:
    text = EVENTS_YAML.read_text().replace("\nphase: public\n", "\nphase: final\n")
    path = tmp_path / "events.yaml"
    path.write_text(text)
    assert load_rules(path).is_final  # digits is sealed: fine (tinytalks has no private split)
    assert not load_rules(EVENTS_YAML).is_final
    start = text.index("    sealed:")
    path.write_text(text[:start] + text[text.index("\n", text.index("private:", start)) + 1 :])
    with pytest.raises(ConfigError) as raised:
        load_rules(path)
    assert [(v.rule, v.line) for v in raised.value.violations] == [
        ("phase_unsealed", line_of(text, "phase: final"))
    ]
