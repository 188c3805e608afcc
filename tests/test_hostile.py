"""The hostile corpus (``tests/hostile/``): each folder is a submission that tries one
threat of SECURITY.md, graded the way CI grades, with ``olympics grade --json`` in a
subprocess. For each: the right verdict code and a sentence naming what was stopped, exit
2, and nothing escapes: no file of the repository changed and none written outside, no
process left behind, no secret of the grader's environment in any output. Afterwards a
normal submission still gets the same numbers.

The grades run three at a time (two of them wait out a timeout): about 50-70 s; one at a
time the corpus takes about 124 s here for its 37 cases (the bound is 3 minutes).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import worker_pids

from grader.config import Rules, project_root
from grader.result import jsonfile, verify

ROOT = project_root()
CORPUS = ROOT / "tests" / "hostile"
SECRET = "ghp_olympicsCorpusSecret0123456789"
PWNED = Path("/tmp/olympics-pwned")
LOOPBACK_PORT = 47654  # socket-localhost dials it; the corpus listens there while it runs
GRADE = [sys.executable, "-m", "grader", "grade"]

pytestmark = pytest.mark.slow  # about 40 s: kept in CI, skipped by -m "not slow"

# case: (verdict code, words the verdict's sentence must contain)
EXPECTED = {
    "framework-torch": ("import_forbidden", ["torch"]),
    "computed-import": ("import_forbidden", ["__import__"]),
    "symlink-to-labels": ("config_invalid", ["weights.npz", "link"]),
    "read-labels": ("sandbox_violation", ["test.npz"]),
    "read-private-split": ("sandbox_violation", ["private.npz.fernet"]),
    "write-leaderboard": ("sandbox_violation", ["leaderboard.md"]),
    "write-other-team": ("sandbox_violation", ["example-int8"]),
    "exec-socket": ("sandbox_violation", ["socket"]),
    "subclasses-walk": ("sandbox_violation", ["os.system"]),
    "numpy-f2py-subprocess": ("sandbox_violation", ["_posixsubprocess"]),
    "pickle-in-weights": ("sandbox_violation", ["pickle"]),
    # Disarming the hook through the garbage collector is itself refused; what would
    # follow is stopped by the OS layers alone in tests/test_confine.py.
    "hook-off-fork": ("sandbox_violation", ["gc.get_objects"]),
    "hook-off-read-labels": ("sandbox_violation", ["gc.get_objects"]),
    "kill-the-grader": ("sandbox_violation", ["os.kill"]),
    "parent-environ": ("sandbox_violation", ["environ"]),
    "build-sleeps": ("timeout", ["in time"]),
    "forward-spins": ("timeout", ["in time"]),
    "memory-bomb": ("memory_limit", ["memory"]),
    "print-flood": ("bad_output", ["printed more than"]),
    "error-injection": ("crashed", ["RuntimeError"]),
    "patch-the-clock": ("sandbox_violation", ["time.perf_counter"]),
    "patch-the-grader": ("sandbox_violation", ["grader.child.worker.run_block"]),
    "fork-bomb": ("sandbox_violation", ["os.fork"]),
    "ctypes-through-numpy": ("sandbox_violation", ["ctypes"]),
    "exit-early": ("crashed", ["exited with code 0"]),
    "nan-scores": ("bad_output", ["NaN"]),
    "wrong-shape": ("bad_output", ["shape"]),
    "not-an-array": ("bad_output", ["str"]),
    "read-other-team": ("sandbox_violation", ["example-int8"]),
    "importlib-torch": ("import_forbidden", ["importlib"]),
    "exec-import-torch": ("sandbox_violation", ["torch"]),
    "environ-to-file": ("sandbox_violation", ["olympics-pwned"]),
    "fast-but-wrong": ("bad_output", ["answered the same digits differently"]),
    "cache-answers": ("bad_output", ["seen before"]),
    "thread-off-the-clock": ("sandbox_violation", ["thread"]),
    # Counted before its own blocks and after load too, not only before the baseline's.
    "thread-between-own-blocks": ("sandbox_violation", ["thread"]),
    # Gone before the first count: the start itself is refused (the starters are replaced).
    "thread-in-build": ("sandbox_violation", ["starting a thread"]),
    # Caught by whichever check comes first: its repeats, its first answers to digits new
    # to a later session, or the speed of its reserve rounds (all bad_output).
    "lazy-cache": ("bad_output", ["answered"]),
    "socket-localhost": ("sandbox_violation", ["socket"]),
    # Every byte the model can read is counted: nothing of it sits where the size does not look.
    "weights-in-pycache": ("config_invalid", ["__pycache__"]),
    "weights-in-readme": ("crashed", ["FileNotFoundError", "README.md", "description files"]),
    # The language track's (docs/DESIGN.md, Generation).
    "text-read-test-split": ("sandbox_violation", ["test.txt"]),
    "text-keeps-across-reset": ("bad_output", ["keep nothing across reset"]),
    "text-nan-step": ("bad_output", ["NaN"]),
    "text-wrong-batch": ("bad_output", ["shape"]),
}


@dataclass
class Graded:
    returncode: int
    doc: dict
    markdown: str
    output: str
    seconds: float


def grade_case(name: str, out: Path, scratch: Path) -> Graded:
    env = {
        **os.environ,
        "TMPDIR": str(scratch),  # the grade's private copies and logs, and so its workers
        "GITHUB_TOKEN": SECRET,
        "OLYMPICS_TEST_SECRET": SECRET,
        "OLYMPICS_PRIVATE_KEY": SECRET,  # no key: the grader drops it before any child starts
    }
    started = time.perf_counter()
    proc = subprocess.run(
        [
            *GRADE,
            str(CORPUS / name),
            "--json",
            str(out / f"{name}.json"),
            "--markdown",
            str(out / f"{name}.md"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - started
    doc = json.loads((out / f"{name}.json").read_text()) if (out / f"{name}.json").exists() else {}
    md = (out / f"{name}.md").read_text() if (out / f"{name}.md").exists() else ""
    return Graded(proc.returncode, doc, md, proc.stdout + proc.stderr, seconds)


def tracked_files() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    digests = {}
    for name in filter(None, names):
        path = ROOT / os.fsdecode(name)
        if path.is_file() and not path.is_symlink():
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def corpus_digests() -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in CORPUS.rglob("*") if p.is_file()}


def olympics_temp(scratch: Path) -> set[str]:
    """The children's private copies and logs (sandbox.spawn's mkdtemp), and whatever
    else was left in the grades' temporary directory or as /tmp/olympics-* holding a file
    of the corpus (a grader that ignored TMPDIR). Another grade on the machine makes
    /tmp/olympics-* folders of its own: they are not the corpus's (seen in a fresh-clone
    run beside other grades: three of them, the test failed)."""
    ours = corpus_digests()

    def of_the_corpus(folder: Path) -> bool:
        with contextlib.suppress(OSError):
            for path in folder.rglob("*"):
                if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() in ours:
                    return True
        return False

    return {p.name for p in scratch.iterdir()} | {
        p.name for p in Path(tempfile.gettempdir()).glob("olympics-*") if of_the_corpus(p)
    }


@dataclass
class Corpus:
    graded: dict[str, Graded]
    files_before: dict[str, str]
    files_after: dict[str, str]
    temp_before: set[str]
    temp_after: set[str]
    workers_before: set[int]
    workers_after: set[int]
    listening: bool  # the loopback listener was up during the corpus
    contacts: int  # connections it accepted
    wall_seconds: float  # the whole corpus, three grades at a time


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    if git_missing():
        pytest.skip("git is needed to list the repository's files")
    out = tmp_path_factory.mktemp("hostile")
    scratch = tmp_path_factory.mktemp("hostile-tmp")
    PWNED.unlink(missing_ok=True)
    files_before, temp_before = tracked_files(), olympics_temp(scratch)
    workers_before = worker_pids(scratch)
    try:
        listener = socket.create_server(("127.0.0.1", LOOPBACK_PORT))
    except OSError:  # the port is taken here: the other layers' tests still run
        listener = None
    started = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {name: pool.submit(grade_case, name, out, scratch) for name in EXPECTED}
            graded = {name: f.result() for name, f in futures.items()}
        time.sleep(0.2)  # let the kernel reap what was killed last
        contacts = 0
        if listener is not None:
            listener.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while listener.accept():
                    contacts += 1
    finally:
        if listener is not None:
            listener.close()
    return Corpus(
        graded,
        files_before,
        tracked_files(),
        temp_before,
        olympics_temp(scratch),
        workers_before,
        worker_pids(scratch),
        listener is not None,
        contacts,
        time.perf_counter() - started,
    )


def git_missing() -> bool:
    try:
        subprocess.run(["git", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return True
    return not (ROOT / ".git").exists()


def test_the_corpus_is_the_folder() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_hostile_case_gets_its_verdict(corpus: Corpus, rules: Rules, name: str) -> None:
    got = corpus.graded[name]
    code, words = EXPECTED[name]
    assert got.returncode == 2, got.output[-1500:]
    assert got.doc["verdict"]["status"] == "rejected"
    assert got.doc["verdict"]["code"] == code, got.doc["verdict"]
    message = json.dumps(got.doc["verdict"])
    for word in words:
        assert word in message, (word, message)
    assert verify.check(got.doc, rules, "result.json") == [], "the rejected result must be valid"
    assert "Traceback" not in got.output


def test_no_secret_reaches_any_output(corpus: Corpus) -> None:
    for name, got in corpus.graded.items():
        for text in (json.dumps(got.doc), got.markdown, got.output):
            assert SECRET not in text, name


def test_nothing_is_written_outside(corpus: Corpus) -> None:
    changed = {
        path
        for path in corpus.files_before.keys() | corpus.files_after.keys()
        if corpus.files_before.get(path) != corpus.files_after.get(path)
    }
    assert changed == set()
    assert not PWNED.exists()
    assert corpus.temp_after <= corpus.temp_before  # private copies and logs removed


def test_no_network_contact_reached_the_loopback(corpus: Corpus) -> None:
    if not corpus.listening:
        pytest.skip(f"127.0.0.1:{LOOPBACK_PORT} was taken on this machine")
    assert corpus.contacts == 0


def test_no_process_is_left_behind(corpus: Corpus) -> None:
    assert corpus.workers_before == set()
    assert corpus.workers_after == set()


def test_injected_error_text_is_inert_in_the_pull_request_comment(corpus: Corpus) -> None:
    md = corpus.graded["error-injection"].markdown
    assert "RuntimeError" in md
    assert "<img" not in md and "](" not in md and "\x1b" not in md
    assert "@octocat" not in md and "http://" not in md
    # the heading, the description, the verdict: the error's newline and "##" started nothing
    assert [line[:4] for line in md.splitlines() if line] == ["### ", "_Thr", "**Re"]


def test_a_normal_submission_after_the_corpus_gets_the_same_numbers(
    corpus: Corpus, tmp_path: Path
) -> None:
    assert corpus.graded  # after the whole corpus ran
    out = tmp_path / "after.json"
    proc = subprocess.run(
        [*GRADE, "submissions/example-int8", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr[-1500:]
    after = json.loads(out.read_text())
    golden = jsonfile.read_json(ROOT / "tests" / "data" / "result_example_int8.json")
    for side in ("baseline", "optimized"):
        for metric in ("size_bytes", "parameters"):
            assert after[side]["metrics"][metric] == golden[side]["metrics"][metric], (
                side,
                metric,
            )
        # The grade deforms the digits by its own seed: near the stored digits' accuracy.
        accuracy = after[side]["metrics"]["accuracy"]
        assert abs(accuracy - golden[side]["metrics"]["accuracy"]) <= 0.02, (side, accuracy)
    assert after["verdict"]["status"] == "graded"
