"""``olympics init``: a scaffold from the baseline that validates and grades out of the box."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from grader.cli import main
from grader.config import check_submission, load_rules, project_root
from grader.errors import GraderError
from grader.scaffold import ADAPTER, init

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


def run(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout, stderr)
    return code, " ".join(stdout.getvalue().split()), " ".join(stderr.getvalue().split())


def test_init_writes_a_submission_that_validates(course: Path) -> None:
    code, out, err = run("init", "speed-demons", "--workload", "mlp_sprint",
                         "--event", "latency_sprint", "--event", "memory_challenge",
                         "--member", "octocat")  # fmt: skip
    assert code == 0, err
    folder = course / "submissions" / "speed-demons"
    assert "is ready: grade it with `olympics grade" in out
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


@pytest.mark.parametrize("workload", sorted(RULES.workloads))
def test_the_scaffold_grades_out_of_the_box(
    course: Path, monkeypatch: pytest.MonkeyPatch, workload: str
) -> None:
    folder = init("fresh", workload, list(RULES.events), RULES, course, ["octocat"])
    monkeypatch.delenv("OLYMPICS_ROOT")  # graded by this checkout, with its data
    code, out, err = run("grade", str(folder), "--quick", "--seed", "1")
    assert code in (0, 1), out + err  # graded: never rejected
    assert "All-Around" in out and "rejected" not in out.lower()


def test_events_and_members_may_follow_one_flag(course: Path) -> None:
    code, _, err = run("init", "two-flags", "--workload", "cnn_marathon",
                       "--event", "latency_sprint", "all_around",
                       "--member", "ada", "octocat")  # fmt: skip
    assert code == 0, err
    submission, problems = check_submission(course / "submissions" / "two-flags", RULES)
    assert problems == [] and submission is not None
    assert submission.events == ("latency_sprint", "all_around")
    assert submission.members == ("ada", "octocat")


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


@pytest.mark.parametrize("workload", sorted(RULES.workloads))
@pytest.mark.parametrize("event", sorted(RULES.events))
def test_every_workload_and_event_scaffolds_a_valid_submission(
    course: Path, workload: str, event: str
) -> None:
    folder = init(f"t-{event.replace('_', '-')}", workload, [event], RULES, course, ["ada"])
    assert check_submission(folder, RULES)[1] == []
