"""``olympics`` in-process: ``main(argv, stdout, stderr)`` with StringIO streams.

Only ``--version`` (through ``python -m grader``) and the one real grade (marked slow)
start processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from clirun import flat, runner

from grader import __version__
from grader.cli.main import COMMANDS, build_parser
from grader.config import load_rules, project_root
from grader.data.workloads import load_split
from grader.result import jsonfile, verify

ROOT = project_root()
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "result_example_baseline.json"
BASELINE_SUBMISSION = ROOT / "submissions" / "example-baseline"
BROKEN_YAML = """\
team: broken
members: [octocat]
workload: mlp_sprint
events: [latency_sprint, nope_event]
entrypoint: model.py:build_model
techniques: []
"""  # line 4: the unknown event


run = runner()


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A submission folder whose submission.yaml names an unknown event on line 4."""
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(BASELINE_SUBMISSION / "model.py", folder / "model.py")
    (folder / "submission.yaml").write_text(BROKEN_YAML)
    monkeypatch.chdir(tmp_path)  # paths are shown relative to the working directory
    return folder


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        assert 'File "' not in text


# --- validate -------------------------------------------------------------------------------------


def test_validate_good_submission_yaml() -> None:
    code, out, err = run("validate", str(BASELINE_SUBMISSION / "submission.yaml"))
    assert code == 0, out + err
    assert "is valid" in out


def test_validate_broken_submission_yaml_names_file_and_line(broken: Path) -> None:
    code, out, err = run("validate", "broken/submission.yaml")
    assert code == 2
    assert "broken/submission.yaml:4" in flat(out)
    assert "nope_event" in out
    assert_no_traceback(out, err)


def test_validate_golden_result() -> None:
    code, out, err = run("validate", str(GOLDEN))
    assert code == 0, out + err
    assert "is valid" in out


def test_validate_edited_result_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = jsonfile.read_json(GOLDEN)
    doc["improvements"]["speedup"] *= 3
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    code, out, err = run("validate", "edited.json")
    assert code == 2
    assert "$.improvements.speedup" in flat(out)
    assert "regrade" in out
    assert_no_traceback(out, err)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.json", None, "cannot read", id="missing"),
        pytest.param("garbage.json", b"this is not json", "not valid JSON", id="not-json"),
        pytest.param("nan.json", b'{"a": NaN}', "NaN", id="nan-constant"),
        pytest.param("binary.json", b"\x89PNG\r\n\x1a\n\x00\xff", "not valid JSON", id="binary"),
        pytest.param("list.json", b"[1, 2, 3]", "JSON object", id="not-an-object"),
    ],
)
def test_validate_unusable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    code, out, err = run("validate", name)
    assert code == 2
    assert message in flat(out + err)
    assert name in out + err
    assert_no_traceback(out, err)


def test_validate_reports_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("validate", "missing.json", str(GOLDEN))
    assert code == 2
    assert "missing.json" in out + err
    assert "is valid" in out


# --- rules ----------------------------------------------------------------------------------------


def test_rules_table_lists_every_event() -> None:
    code, out, _ = run("rules")
    assert code == 0
    rules = load_rules()
    for name in [*rules.events, *rules.workloads, *rules.techniques]:
        assert name in out, name
    assert "100 ×" in out and "log(8)" in out  # the All-Around parts' formulas
    assert "phase: public" in out


def test_rules_one_event_as_json() -> None:
    code, out, _ = run("rules", "latency_sprint", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc["events"]) == ["latency_sprint"]
    assert doc["events"]["latency_sprint"]["rules"][0]["value"] == 0.85
    assert doc["techniques"]["quantization"]["detect"] == "quantization"
    speed = {"metric": "speedup", "formula": "log_ratio", "cap": 8}
    assert doc["composite_parts"]["speed"] == speed


def test_rules_show_the_generation_workload_apart() -> None:
    """tinytalks in a table of its own (vocabulary, context, baseline perplexity); the digits'
    table keeps its columns and rows."""
    code, out, _ = run("rules")
    assert code == 0
    digits, generation = out.split("Generation workloads")
    assert "tinytalks" not in digits and "│ mlp_sprint " in digits
    assert all(c in digits for c in ("┃ input ", "┃ classes "))  # its header
    row = next(line for line in generation.splitlines() if "tinytalks" in line)
    assert all(s in row for s in ("69 ids (v1)", "128 tokens", "8.595", "baselines/tinytalks"))
    code, out, _ = run("rules", "--json")
    tinytalks = json.loads(out)["workloads"]["tinytalks"]
    assert tinytalks["protocol"] == "generation" and "classes" not in tinytalks
    assert (tinytalks["vocab_size"], tinytalks["context"]) == (69, 128)
    assert tinytalks["baseline_perplexity"] == 8.595


def test_rules_say_which_workloads_every_event_takes() -> None:
    """An event without `protocols` takes classification workloads only, and says so: the
    validation error for a tinytalks entry in latency_sprint points here."""
    for event, kinds in [
        ("latency_sprint", "classification"),
        ("inference_speed", "generation"),
        ("memory_challenge", "classification, generation"),
    ]:
        code, out, _ = run("rules", event)
        assert code == 0
        assert f"open to: {kinds}" in " ".join(out.split()), (event, out)


def test_rules_unknown_event() -> None:
    code, out, err = run("rules", "nope")
    assert code == 2
    assert "nope" in err
    assert "latency_sprint" in err  # the valid events are listed
    assert_no_traceback(out, err)


# --- data -----------------------------------------------------------------------------------------


def test_data_exports_only_the_training_split(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run("data", "mlp_sprint", "--out", str(out_dir))
    assert code == 0, out + err
    assert sorted(p.name for p in out_dir.iterdir()) == ["README.md", "train.npz"]
    with np.load(out_dir / "train.npz", allow_pickle=False) as f:
        assert sorted(f.files) == ["x", "y"]
        x, y = f["x"], f["y"]
    assert x.shape == (3000, 784)
    assert y.shape == (3000,)
    test_x, _ = load_split(load_rules(), "digits", "test")
    assert not {row.tobytes() for row in x} & {row.tobytes() for row in test_x}
    assert "3000" in (out_dir / "README.md").read_text()


def test_data_exports_the_tinytalks_training_text(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run("data", "tinytalks", "--out", str(out_dir))
    assert code == 0, out + err
    assert "train.txt, val.txt, LICENSE, README.md" in " ".join(out.split())
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "LICENSE",
        "README.md",
        "train.txt",
        "val.txt",
    ]  # fmt: skip: never test.txt
    splits = load_rules().datasets["tinytalks"]["splits"]
    for name in ("train", "val"):
        digest = hashlib.sha256((out_dir / f"{name}.txt").read_bytes()).hexdigest()
        assert digest == splits[name]["sha256"]
    assert (out_dir / "LICENSE").read_text().startswith("Creative Commons Attribution 4.0")


def test_data_unknown_workload(tmp_path: Path) -> None:
    code, out, err = run("data", "nope", "--out", str(tmp_path / "out"))
    assert code == 2
    assert_no_traceback(out, err)
    assert "unknown workload" in err
    assert not (tmp_path / "out").exists()


# --- grade ----------------------------------------------------------------------------------------


def test_grade_config_invalid_is_rejected(broken: Path, tmp_path: Path) -> None:
    code, out, err = run("grade", "broken", "--json", "r.json", "--markdown", "card.md")
    assert code == 2
    text = flat(out)
    assert "REJECTED (config_invalid)" in text
    assert "broken/submission.yaml:4" in text
    assert "nope_event" in text
    assert_no_traceback(out, err)
    doc = jsonfile.read_json(tmp_path / "r.json")
    assert doc["verdict"]["code"] == "config_invalid"
    assert verify.check(doc, load_rules(), "r.json") == []
    assert "**Rejected**" in (tmp_path / "card.md").read_text()


def test_grade_json_to_standard_output(broken: Path) -> None:
    """``--json -``: the result alone on standard output (for a pipe), the card on stderr."""
    code, out, err = run("grade", "broken", "--json", "-")
    assert code == 2
    doc = json.loads(out)
    assert doc["verdict"]["code"] == "config_invalid"
    assert "REJECTED (config_invalid)" in flat(err)
    assert not Path("-").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_grade_example_baseline_end_to_end(tmp_path: Path) -> None:
    target, card = tmp_path / "result.json", tmp_path / "card.md"
    code, out, err = run(
        "grade", str(BASELINE_SUBMISSION), "--quick", "--json", str(target), "--markdown", str(card)
    )
    assert code in (0, 1), out + err
    doc = jsonfile.read_json(target)
    assert doc["verdict"]["status"] == "graded"
    assert verify.check(doc, load_rules(), str(target)) == []
    markdown = card.read_text()
    assert "| event | status | score [95 % CI] | rules |" in markdown
    assert "| Latency Sprint |" in markdown
    assert "example-baseline" in out


# --- argparse and --version -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["nope"], id="unknown-command"),
        pytest.param([], id="no-command"),
        pytest.param(["grade"], id="grade-without-path"),
        pytest.param(["data", "mlp_sprint"], id="data-without-out"),
        pytest.param(["rules", "--frobnicate"], id="unknown-option"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert "usage: olympics" in err
    assert capsys.readouterr() == ("", ""), "argparse must write to the injected streams"


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "validate" in out
    assert capsys.readouterr() == ("", "")


def test_every_command_is_registered_with_its_handler() -> None:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(commands.choices) == len(COMMANDS)
    for name, command in commands.choices.items():
        handler = command.get_default("handler")
        assert callable(handler) and handler.__name__ == f"cmd_{name}", name


def test_usage_error_goes_to_the_injected_stderr() -> None:
    code, _, err = run("nope")
    assert code == 2
    assert "invalid choice" in err


def test_version_via_python_m_grader() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"olympics {__version__}"


@pytest.mark.slow
@pytest.mark.e2e
def test_a_grader_failure_on_one_path_does_not_stop_the_others(monkeypatch, tmp_path) -> None:
    from grader import grade as grade_module

    real = grade_module.weights.inspect

    def inspect(folder, files=None):
        if folder.name == "example-baseline":
            raise RuntimeError("the grader broke on this one")
        return real(folder, files)

    monkeypatch.setattr(grade_module.weights, "inspect", inspect)
    out_dir = tmp_path / "results"
    code, out, err = run("grade", str(ROOT / "submissions" / "example-baseline"),
                         str(ROOT / "submissions" / "example-int8"), "--quick", "--seed", "2",
                         "--json", str(out_dir))  # fmt: skip
    assert code == 3
    assert "could not grade" in flat(err) and "the grader broke on this one" in flat(err)
    assert sorted(p.name for p in out_dir.iterdir()) == ["example-int8.json"]
    assert_no_traceback(out, err)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_result_that_cannot_be_written_does_not_stop_the_others(monkeypatch, tmp_path) -> None:
    from grader.cli import grading as cli
    from grader.errors import ConfigError

    real = cli.jsonfile.write

    def write(doc, target, stdout=None):
        if doc["submission"]["team"] == "example-baseline":
            raise ConfigError(f"refusing to write an invalid result to {target}")
        real(doc, target, stdout)

    monkeypatch.setattr(cli.jsonfile, "write", write)
    out_dir = tmp_path / "results"
    code, out, err = run("grade", str(ROOT / "submissions" / "example-baseline"),
                         str(ROOT / "submissions" / "example-int8"), "--quick", "--seed", "2",
                         "--json", str(out_dir))  # fmt: skip
    assert code == 3 and "refusing to write an invalid result" in flat(err)
    assert_no_traceback(out, err)
    assert sorted(p.name for p in out_dir.iterdir()) == ["example-int8.json"]


def test_a_folder_of_results_skips_hidden_files(tmp_path: Path) -> None:
    """``results/`` holds the store's verification cache, ``.verified.json``: not a result."""
    import io

    from rich.console import Console

    from grader.cli.pipeline import result_files

    (tmp_path / ".verified.json").write_text("{}")
    (tmp_path / "team.json").write_text("{}")
    assert result_files([tmp_path], Console(file=io.StringIO())) == [tmp_path / "team.json"]
