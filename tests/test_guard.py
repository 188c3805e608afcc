"""The child's audit hook: the policy on its own (no process), then real grades that try
each escape at run time, where the static check cannot see it (``exec`` of a string)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.child import guard
from grader.config import project_root
from grader.grade import exit_code, grade
from grader.measure.plan import Plan

ROOT = project_root()
LABELS = ROOT / "data" / "digits" / "test.npz"


@pytest.fixture
def policy(tmp_path, rules):
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "layers.py").write_text("")
    (folder / "pkg").mkdir()
    reports: list[str] = []
    g = guard.Guard(str(folder), rules.imports, reports.append, guard.read_roots())
    return g, folder, reports


EVENTS = [
    ("os.system", ("ls",)),
    ("subprocess.Popen", ("ls", ["ls"], None, None)),
    ("os.fork", ()),
    ("os.posix_spawn", ("/bin/sh", [], {})),
    ("os.kill", (1, 9)),
    ("socket.connect", (None, ("1.2.3.4", 80))),
    ("socket.__new__", (None, 2, 1, 0)),
    ("ctypes.dlopen", ("libc.so.6",)),
    ("pickle.find_class", ("os", "system")),
    ("os.symlink", ("/etc/passwd", "x", -1)),
    ("os.chdir", ("/",)),
]


@pytest.mark.parametrize("event, args", EVENTS, ids=[e for e, _ in EVENTS])
def test_escape_events_are_refused(policy, event, args) -> None:
    g, _, _ = policy
    assert event in (g.judge(event, args) or "")


@pytest.mark.parametrize(
    "name, refused",
    [
        ("torch", "forbidden"),
        ("_posixsubprocess", "forbidden"),  # what subprocess imports to fork and exec
        ("threading", None),  # the standard library's own needs: zipfile, for np.load
        ("pandas", "outside NumPy"),
        ("numpy.linalg", None),
        ("json", None),
        ("layers", None),
        ("pkg.sub", None),
        ("org.python.core", None),  # copy's and pickle's Jython probe: `import copy` passes
        ("_sysconfigdata__linux_x86_64-linux-gnu", None),
        ("organization", "outside NumPy"),
    ],
)
def test_run_time_imports(policy, name, refused) -> None:
    g, _, _ = policy
    why = g.judge("import", (name, None, [], [], []))
    assert (why is None) if refused is None else (refused in why)


def test_reads_and_writes(policy) -> None:
    g, folder, _ = policy
    own = str(folder / "weights.npz")
    allowed = [
        (own, "r", 0),
        ("/dev/null", "w", 0),
        ("weights.npz", "rb", 0) if Path.cwd() == folder else (own, "rb", 0),
        (np.__file__, "r", 0),
        (os.__file__, "r", 0),
        ("/dev/null", "r", 0),
    ]
    for args in allowed:
        assert g.judge("open", args) is None, args
    refused = [
        (str(LABELS), "rb", 0),  # the labels
        (str(ROOT / "baselines" / "mlp_sprint" / "weights.npz"), "rb", 0),
        (str(folder.parent / "other-team" / "model.py"), "r", 0),
        ("/etc/passwd", "r", 0),
        ("/tmp/out.txt", "w", 0),
        (own, "wb", 0),  # not even in its own folder: that is a read-only copy
        (own, None, os.O_RDWR),
        ("/proc/self/fd/3", None, os.O_WRONLY),  # re-opening the worker's pipe
        ("/proc/self/environ", "r", 0),
        (str(folder / ".." / "escape.txt"), "w", 0),
        (3, "rb", 0),  # an inherited file descriptor
    ]
    for args in refused:
        assert g.judge("open", args), args


def test_only_the_child_package_of_the_grader_is_readable(policy) -> None:
    """The read root is grader/child/ alone (grader/child/guard.py, read_roots): the parent's
    modules beside it, the private split's among them, are refused, also through ``..``."""
    g, _, _ = policy
    package = ROOT / "grader"
    for own in ("worker.py", "wire.py", "handoff.py", "guard.py"):
        assert g.judge("open", (str(package / "child" / own), "rb", 0)) is None, own
    for parent in ("data/private.py", "measure/referee.py", "result/build.py", "__init__.py"):
        assert g.judge("open", (str(package / parent), "rb", 0)), parent
    dotdot = str(package / "child" / ".." / "data" / "private.py")
    assert g.judge("open", (dotdot, "r", 0))


def test_a_violation_is_reported_once(policy) -> None:
    g, _, reports = policy
    g("os.system", ("ls",))
    g("os.system", ("ls",))  # the report itself may cause events: it is not judged again
    assert len(reports) == 1


PLAN = Plan(
    sessions=1, warmup_rounds=2, min_rounds=4, max_rounds=4,
    calibration_blocks=2, throughput_rounds=2, time_budget_s=1.0, block_seconds=0.002,
    block_timeout_s=3.0, load_timeout_s=5.0, count_samples=0,
)  # fmt: skip

MODEL = """\
import numpy as np


def build_model():
{body}
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
"""

ESCAPES = [
    pytest.param("exec('import sub' + 'process')", "subprocess", id="exec-import-subprocess"),
    pytest.param("exec('import soc' + 'ket; socket.socket()')", "socket", id="exec-socket"),
    pytest.param("exec('import ctypes; ctypes.CDLL(None)')", "ctypes", id="ctypes-dlopen"),
    pytest.param("import os\nos.kill(os.getppid(), 0)", "os.kill", id="signal-the-grader"),
    pytest.param(f"open({str(LABELS)!r}, 'rb').read()", "reading", id="read-the-labels"),
    pytest.param("open('/tmp/escape.txt', 'w')", "writing", id="write-outside"),
    pytest.param(
        "try:\n    open('/etc/passwd').read()\nexcept Exception:\n    pass",
        "reading",
        id="caught-by-the-model",
    ),
]


@pytest.mark.parametrize("body, needle", ESCAPES)
@pytest.mark.e2e
def test_escapes_at_run_time_end_in_sandbox_violation(tmp_path, rules, body, needle) -> None:
    folder = tmp_path / "escape"
    folder.mkdir()
    (folder / "submission.yaml").write_text(
        "team: escape\nworkload: mlp_sprint\nevents: [latency_sprint]\n"
        "entrypoint: model.py:build_model\n"
    )
    (folder / "model.py").write_text(MODEL.format(body=textwrap.indent(body, "    ")))
    doc = grade(folder, rules, PLAN)
    assert doc["verdict"]["code"] == "sandbox_violation", doc["verdict"]
    assert needle in doc["verdict"]["message"]
    assert exit_code(doc) == 2
