"""``olympics init``: a scaffold from the baseline that validates and grades out of the box."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from clirun import runner

from grader.analysis import static
from grader.cli.scaffold import ADAPTER, STEP_ADAPTER, init
from grader.config import check_submission, load_rules, project_root
from grader.crosschecks import event_protocols, protocol
from grader.errors import GraderError

ROOT = project_root()
RULES = load_rules()


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course's checkout: the rules, the schemas' home and the baselines, no submissions."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "events.yaml", root / "events.yaml")
    shutil.copytree(ROOT / "baselines", root / "baselines")
    monkeypatch.setenv("OLYMPICS_ROOT", str(root))
    return root


run = runner(flat_out=True, flat_err=True)


def test_init_writes_a_submission_that_validates(course: Path) -> None:
    code, out, err = run("init", "speed-demons", "--workload", "mlp_sprint",
                         "--event", "latency_sprint", "--event", "memory_challenge",
                         "--member", "octocat")  # fmt: skip
    assert code == 0, err
    folder = course / "submissions" / "speed-demons"
    assert "is ready. Grade it with: olympics grade" in out
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "model.py", "submission.yaml", "weights.npz",
    ]  # fmt: skip
    submission, problems = check_submission(folder, RULES)
    assert problems == [] and submission is not None
    assert submission.events == ("latency_sprint", "memory_challenge")
    assert submission.members == ("octocat",)
    assert (folder / "model.py").read_text().endswith(ADAPTER)
    assert "net.forward(Tensor(x)).data" in (folder / "model.py").read_text()
    assert "# speed-demons: technical report" in (folder / "README.md").read_text()


# The workloads this version grades (a generation workload is refused: see below).
GRADED = sorted(RULES.workloads)  # every workload: the scaffold grades out of the box


@pytest.mark.slow
@pytest.mark.parametrize("workload", GRADED)
@pytest.mark.e2e
def test_the_scaffold_grades_out_of_the_box(
    course: Path, monkeypatch: pytest.MonkeyPatch, workload: str
) -> None:
    events = [e for e in RULES.events if admits(e, workload)]
    folder = init("fresh", workload, events, RULES, course, ["octocat"])
    monkeypatch.delenv("OLYMPICS_ROOT")  # graded by this checkout, with its data
    code, out, err = run("grade", str(folder), "--quick", "--seed", "1")
    assert code in (0, 1), out + err  # graded: never rejected
    assert RULES.events[events[0]]["title"] in out and "rejected" not in out.lower()


def test_a_tinytalks_scaffold_validates_with_its_adapter(course: Path) -> None:
    code, out, err = run("init", "chatty", "--workload", "tinytalks",
                         "--event", "inference_speed", "--member", "octocat")  # fmt: skip
    assert code == 0, err
    folder = course / "submissions" / "chatty"
    assert "olympics grade" in out
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "adapter.py", "model.py", "submission.yaml", "weights.npz",
    ]  # fmt: skip
    baseline = course / "baselines" / "tinytalks"
    for name in ("adapter.py", "weights.npz"):
        assert (folder / name).read_bytes() == (baseline / name).read_bytes()
    assert (folder / "model.py").read_text().endswith(STEP_ADAPTER)
    code, out, err = run("validate", str(folder / "submission.yaml"))
    assert code == 0 and "is valid" in out, out + err
    assert static.check(folder, RULES) == (None, [])  # allowed imports only: NumPy
    adapter = ast.parse((folder / "adapter.py").read_text())
    imported = {a.name for n in ast.walk(adapter) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"numpy"} and not any(
        isinstance(n, ast.ImportFrom) for n in ast.walk(adapter)
    )


def test_events_and_members_may_follow_one_flag(course: Path) -> None:
    code, _, err = run("init", "two-flags", "--workload", "cnn_marathon",
                       "--event", "latency_sprint", "all_around",
                       "--member", "ada", "octocat")  # fmt: skip
    assert code == 0, err
    submission, problems = check_submission(course / "submissions" / "two-flags", RULES)
    assert problems == [] and submission is not None
    assert submission.events == ("latency_sprint", "all_around")
    assert submission.members == ("ada", "octocat")


@pytest.mark.parametrize(
    ("workload", "event"), [("cnn_marathon", "latency_sprint"), ("tinytalks", "inference_speed")]
)
def test_init_says_what_next_in_whole_lines_at_80_columns(
    course: Path, monkeypatch: pytest.MonkeyPatch, workload: str, event: str
) -> None:
    """Run from the clone's root in a terminal of 80 columns: the grade command on a line of
    its own, as typed from there; lines broken between phrases, none wider than 80."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(course)
    code, out, err = runner()("init", "speed-demons", "--workload", workload,
                              "--event", event, "--member", "octocat")  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [
        "✓ submissions/speed-demons is ready. Grade it with:",
        "",
        "    olympics grade submissions/speed-demons",
        "",
        "Then edit model.py, list your techniques in submission.yaml",
        "and fill in README.md, your technical report.",
    ]


def test_the_grade_command_is_never_broken_inside(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From outside the clone the folder is named in full, however long, and quoted for the
    shell where it must be; a narrow console still prints the command on one line."""
    monkeypatch.setenv("COLUMNS", "40")
    deep = tmp_path / "a course with spaces" / ("long-" * 12)
    shutil.copytree(course, deep)
    monkeypatch.setenv("OLYMPICS_ROOT", str(deep))
    code, out, err = runner()("init", "speed-demons", "--workload", "mlp_sprint",
                              "--event", "latency_sprint", "--member", "octocat")  # fmt: skip
    assert code == 0, err
    folder = deep / "submissions" / "speed-demons"
    assert f"    olympics grade '{folder}'" in out.splitlines()
    assert out.splitlines()[0] == f"✓ {folder} is ready. Grade it with:"


@pytest.mark.parametrize(("team", "member"), [("2024", "on"), ("yes", "12345"), ("null", "no")])
def test_names_that_yaml_would_read_as_other_types_stay_text(
    course: Path, team: str, member: str
) -> None:
    folder = init(team, "mlp_sprint", ["latency_sprint"], RULES, course, [member])
    submission, problems = check_submission(folder, RULES)
    assert problems == [] and submission is not None
    assert (submission.team, submission.members) == (team, (member,))


def test_init_needs_a_member(course: Path) -> None:
    code, _, err = run("init", "x", "--workload", "mlp_sprint", "--event", "latency_sprint")
    assert code == 2 and "--member" in err
    assert not (course / "submissions").exists()


def test_init_writes_into_the_clone_it_is_run_in(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLYMPICS_ROOT")
    (course / "submissions").mkdir()
    monkeypatch.chdir(course / "submissions")
    code, out, err = run("init", "here", "--workload", "mlp_sprint", "--event", "latency_sprint",
                       "--member", "ada")  # fmt: skip
    assert code == 0, err
    assert (course / "submissions" / "here" / "submission.yaml").is_file(), out
    assert not (ROOT / "submissions" / "here").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Speed_Demons", "--workload", "mlp_sprint", "--event", "latency_sprint"],
         "'Speed_Demons' is not a team slug"),
        (["x", "--workload", "cnn", "--event", "latency_sprint"],
         "unknown workload 'cnn'; the workloads are: mlp_sprint"),
        (["x", "--workload", "mlp_sprint", "--event", "sprint"],
         "unknown event(s) 'sprint'; the events are: latency_sprint"),
        (["x", "--workload", "mlp_sprint", "--event", "latency_sprint",
          "--event", "latency_sprint"], "an event is named twice"),
        (["x", "--workload", "mlp_sprint", "--event", "latency_sprint", "--member", "a b"],
         "not a GitHub login: 'a b'"),
        (["x", "--workload", "mlp_sprint", "--event", "latency_sprint", "--member", "octo\n"],
         "not a GitHub login: 'octo\\n'"),
    ],
)  # fmt: skip
def test_init_refuses_what_would_not_be_a_submission(
    course: Path, argv: list[str], message: str
) -> None:
    code, _, err = run("init", *argv, "--member", "ada")
    assert code == 2 and message in err, err
    assert not (course / "submissions").exists()


def test_init_never_overwrites(course: Path) -> None:
    folder = course / "submissions" / "taken"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text("# mine\n")
    code, _, err = run("init", "taken", "--workload", "mlp_sprint", "--event", "latency_sprint",
                       "--member", "ada")  # fmt: skip
    assert code == 2 and "already exists" in err
    assert (folder / "model.py").read_text() == "# mine\n"


def test_a_failed_copy_leaves_no_half_folder(course: Path, tmp_path: Path) -> None:
    (course / "baselines" / "mlp_sprint" / "weights.npz").unlink()
    with pytest.raises(OSError):
        init("half", "mlp_sprint", ["latency_sprint"], RULES, course, ["ada"])
    assert not (course / "submissions" / "half").exists()
    with pytest.raises(GraderError):
        init("half", "mlp_sprint", [], RULES, course, ["ada"])


def admits(event: str, workload: str) -> bool:
    return protocol(RULES.workloads[workload]) in event_protocols(RULES.events[event])


@pytest.mark.parametrize("workload", sorted(RULES.workloads))
@pytest.mark.parametrize("event", sorted(RULES.events))
def test_every_workload_and_event_scaffolds_a_valid_submission_or_is_refused(
    course: Path, workload: str, event: str
) -> None:
    team = f"t-{event.replace('_', '-')}"
    if not admits(event, workload):
        with pytest.raises(GraderError, match="not open to a"):
            init(team, workload, [event], RULES, course, ["ada"])
        assert not (course / "submissions" / team).exists()
        return
    folder = init(team, workload, [event], RULES, course, ["ada"])
    assert check_submission(folder, RULES)[1] == []


def test_each_workload_has_events_open_to_it() -> None:
    for workload in RULES.workloads:
        assert [e for e in RULES.events if admits(e, workload)], workload


TINY_MODEL = """\
import numpy as np


class Linear:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, x):
        return x.reshape(len(x), -1) @ self.w + self.b


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return Linear(f["w"], f["b"])
"""


@pytest.mark.slow
@pytest.mark.e2e
def test_an_instructor_adds_a_workload_with_a_folder_and_an_entry(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fourth workload, defined only here: a linear model on the digits seen as 28x28
    images. No Python of the grader changes; init, grade and validate take it as data."""
    from grader.data.workloads import as_inputs, deterministic_npz, get_workload, load_split

    shutil.copytree(ROOT / "data", course / "data")
    folder = course / "baselines" / "tiny_linear"
    folder.mkdir()
    (folder / "model.py").write_text(TINY_MODEL)
    images, labels = load_split(RULES, "digits", "train")
    x = images.astype(np.float32) / 255
    w = np.linalg.lstsq(x, np.eye(10, dtype=np.float32)[labels], rcond=None)[0]
    (folder / "weights.npz").write_bytes(
        deterministic_npz(w=w.astype(np.float32), b=np.zeros(10, np.float32))
    )
    entry = (
        "  tiny_linear:\n"
        "    title: Tiny Linear\n"
        "    description: A linear model on the digits as 28x28 images.\n"
        "    dataset: digits\n"
        "    input_shape: [28, 28]\n"
        "    classes: 10\n"
        "    baseline: baselines/tiny_linear\n"
        "    entrypoint: model.py:build_model\n"
        "    baseline_files: [model.py, weights.npz]\n"
        "    baseline_accuracy: 0.5\n"
        "    baseline_parameters: 7850\n"
    )
    text = (course / "events.yaml").read_text()
    (course / "events.yaml").write_text(text.replace("workloads:\n", "workloads:\n" + entry, 1))
    rules = load_rules(course / "events.yaml")
    workload = get_workload(rules, "tiny_linear")
    assert as_inputs(images[:2], workload).shape == (2, 28, 28)

    code, out, err = run("init", "linear-team", "--workload", "tiny_linear",
                         "--event", "latency_sprint", "all_around", "--member", "ada")  # fmt: skip
    assert code == 0, err
    result_file = course / "result.json"
    code, out, err = run("grade", str(course / "submissions" / "linear-team"), "--quick",
                         "--seed", "1", "--json", str(result_file))  # fmt: skip
    assert code in (0, 1), out + err
    doc = json.loads(result_file.read_text())
    assert doc["submission"]["workload"] == "tiny_linear"
    assert doc["baseline"]["path"].endswith("baselines/tiny_linear")
    assert doc["artifacts"]["parameters"] == 7850
    assert doc["techniques"]["detected"] == []  # the copy of its baseline: 7,850 of 7,850
    assert doc["events"]["all_around"]["scored"] is True
    assert run("validate", str(result_file))[0] == 0


# A student's own framework as a course's notebooks export it: a package that imports os, sys,
# time, warnings, copy, typing and math, whose layers take and return Tensors only.
TINYTORCH = {
    "tinytorch/__init__.py": "from tinytorch.core import Linear, ReLU, Sequential, Tensor\n",
    "tinytorch/core.py": """\
import copy
import math
import os
import sys
import time
import warnings
from typing import List

import numpy as np

DEBUG = os.environ.get("TINYTORCH_DEBUG") == "1" and sys.platform != "win32"


class Tensor:
    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float32)

    @property
    def shape(self):
        return self.data.shape


class Linear:
    def __init__(self, weight, bias):
        self.weight, self.bias = Tensor(weight), Tensor(bias)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError("Linear expects a Tensor")
        return Tensor(x.data @ self.weight.data + self.bias.data)

    def parameters(self) -> List[Tensor]:
        return [self.weight, self.bias]


class ReLU:
    def forward(self, x: Tensor) -> Tensor:
        return Tensor(np.maximum(x.data, 0.0))

    def parameters(self):
        return []


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)
        self.built = time.time() > 0 and math.isfinite(1.0)
        if DEBUG:
            warnings.warn("debug mode", stacklevel=2)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def clone(self):
        return copy.deepcopy(self)
""",
    "model.py": """\
import numpy as np

from tinytorch import Linear, ReLU, Sequential, Tensor


def load_my_tinytorch_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return Sequential(
            Linear(f["w1"], f["b1"]), ReLU(), Linear(f["w2"], f["b2"]), ReLU(),
            Linear(f["w3"], f["b3"]),
        )


def build_model():
    net = load_my_tinytorch_model()  # your model, weights loaded
    return lambda x: net.forward(Tensor(x)).data  # Tensor in, float32 .data out
""",
}


@pytest.mark.e2e
def test_a_tinytorch_model_grades_through_the_two_line_adapter(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = init("tinytorch-team", "mlp_sprint", ["latency_sprint"], RULES, course, ["ada"])
    for name, text in TINYTORCH.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    assert "net.forward(Tensor(x)).data" in ADAPTER  # the lines the scaffold shows
    monkeypatch.delenv("OLYMPICS_ROOT")
    result_file = course / "tinytorch.json"
    code, out, err = run("grade", str(folder), "--quick", "--seed", "1",
                         "--json", str(result_file))  # fmt: skip
    assert code == 0, out + err
    doc = json.loads(result_file.read_text())
    assert doc["verdict"]["status"] == "graded"
    assert doc["optimized"]["metrics"]["correct"] == doc["baseline"]["metrics"]["correct"]
