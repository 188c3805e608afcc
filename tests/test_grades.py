"""Real grades of hostile and well-behaved submissions through real worker children.

Each test writes a submission into ``tmp_path/<team>/`` and grades it with
``grader.grade.grade`` against the real baseline, with a plan small enough that one grade
takes a fraction of a second. The grader must never raise for anything a submission does:
every failure ends in a result with a verdict code and a sentence a student can act on
(SECURITY.md).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import inspect
import io
import math
import os
import shutil
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from processes import worker_pids, zombie

from grader.config import Rules, project_root
from grader.data.workloads import load_split
from grader.errors import ChildFailure, SandboxIncomplete
from grader.grade import exit_code, grade
from grader.measure.plan import Plan
from grader.result import verify
from grader.sandbox import launch as sandbox
from grader.sandbox.handle import Child
from grader.sandbox.launch import Limits

BASELINE = project_root() / "baselines" / "mlp_sprint"
TOTAL = 1000  # samples in the public test split
MLP_PARAMETERS = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10

SUBMISSION_YAML = """\
team: {team}
members: [octocat]
workload: mlp_sprint
events: [latency_sprint]
entrypoint: model.py:build_model
"""

# The baseline's forward pass, for submissions that must answer correctly. Each model below
# is this header plus its own code; ``mlp(x)`` gives the baseline's scores.
MLP = """\
import os
import sys
import time
from pathlib import Path

import numpy as np

with np.load("weights.npz", allow_pickle=False) as _f:
    W1, B1, W2, B2, W3, B3 = (_f[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3"))


def mlp(x):
    h = np.maximum(x @ W1 + B1, 0.0)
    h = np.maximum(h @ W2 + B2, 0.0)
    return h @ W3 + B3

"""
# For submissions that need no weights.
PLAIN = "import os\nimport sys\nimport time\nfrom pathlib import Path\n\nimport numpy as np\n\n"


@pytest.fixture
def plan() -> Plan:
    """One short session; the first pass still presents all 1,000 images once."""
    return Plan(
        sessions=1,
        warmup_rounds=2,
        min_rounds=4,
        max_rounds=4,
        calibration_blocks=2,
        throughput_rounds=2,
        time_budget_s=1.0,
        block_seconds=0.002,
        block_timeout_s=3.0,
        load_timeout_s=5.0,
        count_samples=0,  # the instruction counts have their tests (tests/test_instructions.py)
    )


def submit(root: Path, team: str, body: str, *, header: str = PLAIN) -> Path:
    """Write ``tmp_path/<team>/`` with a valid submission.yaml and ``header + body``."""
    folder = root / team
    folder.mkdir()
    (folder / "submission.yaml").write_text(SUBMISSION_YAML.format(team=team))
    (folder / "model.py").write_text(header + textwrap.dedent(body))
    if header is MLP:
        shutil.copy(BASELINE / "weights.npz", folder / "weights.npz")
    return folder


def rejected(doc: dict, code: str, *needles: str) -> str:
    """Assert a rejection with ``code`` whose message names every needle; return it."""
    verdict = doc["verdict"]
    assert (verdict["status"], verdict["code"]) == ("rejected", code), verdict
    assert exit_code(doc) == 2
    message = verdict["message"]
    for needle in needles:
        assert needle.lower() in message.lower(), message
    assert verify.schema_violations(doc, "result.json") == []
    return message


def graded(doc: dict) -> dict:
    """Assert a graded, schema-valid result; return the submission's metrics."""
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    assert doc["verdict"]["code"] is None
    assert verify.schema_violations(doc, "result.json") == []
    return doc["optimized"]["metrics"]


# Every presentation has its own noise, the first pass's too, so a near-tie may tip between
# two of a digit's answers. How many answers an agreement compares is set by the block size,
# which the probes' timings set (blocks.block_size): on a busy machine blocks of 32 give 64
# batched answers, where one tipped is 0.984 (seen in CI), and about 300 repeats. So the
# honest models' claims count tipped answers, not a share of a count the machine's speed sets.
def tipped(share: float, compared: int) -> int:
    """How many of ``compared`` answers differed from their first, from the share that agreed
    (the result keeps the share); whole, or the grader compared another count."""
    differed = (1 - share) * compared
    assert differed == pytest.approx(round(differed), abs=1e-6), (share, compared)
    return round(differed)


def batched_compared(doc: dict, plan: Plan) -> int:
    """The batched answers a one-session grade compared: its throughput rounds' blocks, each
    the block size rounded down to whole batches (Referee.throughput)."""
    batch, block = doc["measurement"]["throughput_batch"], doc["measurement"]["block_size"]
    return plan.throughput_rounds * max(batch, block // batch * batch)


def repeats_compared(doc: dict) -> int:
    """The timed answers a one-session grade compared: all but each digit's first."""
    return doc["measurement"]["rounds"] * doc["measurement"]["block_size"] - TOTAL


def gone(pid: int, within: float = 1.0) -> bool:
    """Whether ``pid`` is dead (an unreaped zombie counts as dead), waiting up to ``within``."""
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if zombie(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids a submission started on its own: killed after the test if they survived it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a worker child's ``load`` or ``time_block``, timed on the parent's clock
    from the call to its return or its raise (the child killed, where it was)."""

    child: str  # "baseline" or "submission"
    method: str
    timeout: float  # the one the call was given
    seconds: float
    code: str | None  # the verdict it raised, or None


class Recorded:
    """A grade's spawner that records every worker child it starts, as the parent's own
    spawn returned it, and times each child's ``load`` and ``time_block`` calls."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.calls: list[Call] = []

    def spawn(self, *args, **kwargs) -> Child:
        child = sandbox.spawn(*args, **kwargs)
        self.children.append(child)
        for method in ("load", "time_block"):
            setattr(child, method, self.timed(child, method))
        return child

    def timed(self, child: Child, method: str) -> Callable[..., Any]:
        real = getattr(child, method)
        signature = inspect.signature(real)

        def call(*args: Any, **kwargs: Any) -> Any:
            timeout = signature.bind(*args, **kwargs).arguments["timeout"]
            code = None
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            except ChildFailure as exc:
                code = exc.code
                raise
            finally:
                seconds = time.perf_counter() - started
                self.calls.append(Call(child.name, method, timeout, seconds, code))

        return call

    def timed_out(self) -> Call:
        """The one call that ended in ``timeout``."""
        (found,) = [c for c in self.calls if c.code == "timeout"]
        return found


@pytest.fixture
def spawned() -> Recorded:
    return Recorded()


# -- rejections with a verdict ----------------------------------------------------------------


REJECTIONS = [
    pytest.param(
        "def build_model():\n    raise ValueError('no weights for you')\n",
        "crashed",
        ("build_model", "ValueError", "no weights for you", "model.py:"),
        id="build-raises",
    ),
    pytest.param(
        """\
        def build_model():
            sys.exit(0)
        """,
        "crashed",
        ("build_model", "SystemExit"),
        id="build-calls-sys-exit",
    ),
    pytest.param(
        """\
        calls = []

        def build_model():
            def forward(x):
                calls.append(1)
                if len(calls) == 3:
                    raise RuntimeError('third call fails')
                return np.zeros((len(x), 10), dtype=np.float32)
            return forward
        """,
        "crashed",
        ("RuntimeError", "third call fails"),
        id="forward-raises-on-third-call",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.zeros((len(x), 9), dtype=np.float32)
        """,
        "bad_output",
        ("shape", "(1, 9)", "(1, 10)"),
        id="wrong-shape",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.zeros(10, dtype=np.float32)
        """,
        "bad_output",
        ("shape", "(10,)"),
        id="flat-vector",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: None
        """,
        "bad_output",
        ("shape",),
        id="returns-none",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: [[0.0] * 9 for _ in range(len(x))]
        """,
        "bad_output",
        ("shape", "(1, 9)"),
        id="list-of-lists-wrong-length",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.full((len(x), 10), 'cat')
        """,
        "bad_output",
        ("model",),
        id="string-array",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.full((len(x), 10), '1.5')
        """,
        "bad_output",
        ("model",),
        id="numeric-string-array",
    ),
    pytest.param(
        # NaN only where the centre pixel is bright: most inputs answer normally.
        """\
        def build_model():
            def forward(x):
                y = np.zeros((len(x), 10), dtype=np.float32)
                y[x[:, 406] > 0.5] = np.nan
                return y
            return forward
        """,
        "bad_output",
        ("NaN",),
        id="nan-for-some-inputs",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.full((len(x), 10), np.inf, dtype=np.float32)
        """,
        "bad_output",
        ("infinite",),
        id="infinite-scores",
    ),
    pytest.param(
        """\
        def build_model():
            return 42
        """,
        "bad_output",
        ("int", "neither callable nor has a forward"),
        id="neither-callable-nor-forward",
    ),
    pytest.param(
        """\
        class Model:
            forward = 'not a method'

        def build_model():
            return Model()
        """,
        "bad_output",
        ("Model", "neither callable nor has a forward"),
        id="forward-not-callable",
    ),
    pytest.param(
        """\
        def build_model():
            def forward(x):
                os._exit(7)
            return forward
        """,
        "crashed",
        ("exited with code 7",),
        id="forward-calls-os-exit",
    ),
    pytest.param(
        """\
        def build_model():
            np.ones(10**11)
        """,
        "memory_limit",
        ("memory", "building"),
        id="build-allocates-800gb",
    ),
    pytest.param(
        """\
        def build_model():
            return lambda x: np.ones(10**11)
        """,
        "memory_limit",
        ("memory", "inference"),
        id="forward-allocates-800gb",
    ),
    pytest.param(
        # The model shares the worker's process: it can write to the pipe. A forged reply
        # is checked like any other untrusted input.
        """\
        import json
        import struct

        def build_model():
            body = json.dumps({"op": "loaded", "parameters": "a billion", "dtypes": []})
            os.write(int(sys.argv[2]), struct.pack("!I", len(body)) + body.encode())
            return lambda x: np.zeros((len(x), 10), dtype=np.float32)
        """,
        "bad_output",
        ("malformed 'loaded' message",),
        id="forged-loaded-message",
    ),
    pytest.param(
        # print() is capped at 1 MiB by the worker: past it, the child ends with a verdict.
        """\
        def build_model():
            print('x' * 50_000_000)
            return lambda x: np.zeros((len(x), 10), dtype=np.float32)
        """,
        "bad_output",
        ("printed more than 1,048,576 bytes",),
        id="build-prints-50mb",
    ),
    pytest.param(
        """\
        def build_model():
            def forward(x):
                try:  # swallowing the error does not help: the child is already gone
                    sys.stderr.write('y' * 300_000)
                except BaseException:
                    pass
                return np.zeros((len(x), 10), dtype=np.float32)
            return forward
        """,
        "bad_output",
        ("printed more than",),
        id="forward-prints-a-little-each-call",
    ),
    pytest.param(
        # Writing to descriptor 1 directly skips the cap and meets RLIMIT_FSIZE (16 MiB) on
        # the log: Python ignores SIGXFSZ, so the write fails with EFBIG.
        """\
        def build_model():
            for _ in range(50):
                os.write(1, b'x' * 1_000_000)
            return lambda x: np.zeros((len(x), 10), dtype=np.float32)
        """,
        "bad_output",
        ("wrote more to its output", "File too large"),
        id="build-writes-50mb-to-fd-1",
    ),
    pytest.param(
        """\
        def build_model():
            del time.perf_counter
        """,
        "sandbox_violation",
        ("deleting time.perf_counter",),
        id="delete-the-clock",
    ),
    pytest.param(
        """\
        def build_model():
            os.ftruncate(int(sys.argv[3]), 0)  # the hand-over page, under the grader's mapping
        """,
        "sandbox_violation",
        ("os.truncate",),
        id="shrink-the-page",
    ),
    pytest.param(
        """\
        import types


        def build_model():
            object.__setattr__(time, "__class__", types.ModuleType)  # unseal the module
            time.perf_counter = lambda: 0.0
        """,
        "sandbox_violation",
        ("changing the module 'time'",),
        id="unseal-the-clock",
    ),
    pytest.param(
        """\
        def build_model():
            type(time).__setattr__ = object.__setattr__  # lift the seal
            time.perf_counter = lambda: 0.0
        """,
        "sandbox_violation",
        ("seal on modules (__setattr__)",),
        id="silence-the-seal",
    ),
]


@pytest.mark.parametrize(("body", "code", "needles"), REJECTIONS)
def test_hostile_submission_gets_a_verdict(
    tmp_path: Path, rules: Rules, plan: Plan, body: str, code: str, needles: tuple[str, ...]
) -> None:
    folder = submit(tmp_path, "hostile", body)
    started = time.perf_counter()
    doc = grade(folder, rules, plan)
    assert time.perf_counter() - started < 10.0
    rejected(doc, code, *needles)
    assert doc["submission"]["team"] == "hostile"
    assert "events" not in doc  # nothing is scored for a rejected submission


# -- limits: time and processes ---------------------------------------------------------------

# How long past its timeout a timed-out call may return: the wait's wake-up and the kill
# (0.002-0.11 s measured at load 15 on 2 cores).
TIMEOUT_SLACK_S = 1.0
# A whole grade that ends at a 1 s timeout, beside other work: 2.4-4.8 s measured at load
# 10-18 on 2 cores; the submissions below would wait 3,600 s.
GRADE_AROUND_A_TIMEOUT_S = 30.0


def test_build_model_that_sleeps_forever_times_out_and_its_group_is_killed(
    tmp_path: Path, rules: Rules, plan: Plan, spawned: Recorded
) -> None:
    plan = dataclasses.replace(plan, load_timeout_s=1.0)
    folder = submit(
        tmp_path,
        "sleeper",
        """\
        def build_model():
            time.sleep(3600)
        """,
    )
    started = time.perf_counter()
    doc = grade(folder, rules, plan, spawner=spawned.spawn)
    elapsed = time.perf_counter() - started
    rejected(doc, "timeout", "in time")
    # The load's own wait, from "load" sent to the child killed: the rest of the grade
    # (starting both children, the baseline's load) is not the timeout's, and beside other
    # work it alone took up to 2.7 s (3.7 s in all at load 14 on 2 cores).
    call = spawned.timed_out()
    assert (call.child, call.method, call.timeout) == ("submission", "load", plan.load_timeout_s)
    assert plan.load_timeout_s <= call.seconds < plan.load_timeout_s + TIMEOUT_SLACK_S
    assert elapsed < GRADE_AROUND_A_TIMEOUT_S  # nothing else in the grade waited it out
    pid = spawned.children[-1].pid  # the submission's child
    assert spawned.children[-1].name == "submission"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the worker led its own session: the whole group is gone


def test_forward_that_hangs_times_out_within_the_block_timeout(
    tmp_path: Path, rules: Rules, plan: Plan, spawned: Recorded
) -> None:
    plan = dataclasses.replace(plan, block_timeout_s=1.0)
    # The block-size probe makes 64 calls; the 100th comes during the warm-up.
    folder = submit(
        tmp_path,
        "hanger",
        """\
        calls = []

        def build_model():
            def forward(x):
                calls.append(1)
                if len(calls) == 100:
                    time.sleep(3600)
                return np.zeros((len(x), 10), dtype=np.float32)
            return forward
        """,
    )
    started = time.perf_counter()
    doc = grade(folder, rules, plan, spawner=spawned.spawn)
    elapsed = time.perf_counter() - started
    rejected(doc, "timeout", "in time")
    call = spawned.timed_out()  # the block's own wait (see the test above)
    assert (call.child, call.method, call.timeout) == (
        "submission", "time_block", plan.block_timeout_s
    )  # fmt: skip
    assert plan.block_timeout_s <= call.seconds < plan.block_timeout_s + TIMEOUT_SLACK_S
    assert elapsed < GRADE_AROUND_A_TIMEOUT_S
    assert spawned.children and all(gone(child.pid) for child in spawned.children)


GRANDCHILD = """\
{bypass}def build_model():
    pid = os.fork()
    if pid == 0:  # the grandchild: outlive the grade if it can
        {escape}time.sleep(60)
        os._exit(0)
    return mlp
"""
# Code that reaches the Guard through the garbage collector and switches it off: past
# this, only the operating-system layers stand (SECURITY.md, "Threat by threat").
HOOK_OFF = """\
import gc

for _o in gc.get_objects():
    if type(_o).__name__ == "Guard":
        _o.busy = True

"""


@pytest.mark.parametrize(
    ("bypass", "escape", "layer"),
    [
        pytest.param("", "", "os.fork", id="in-the-workers-group"),
        pytest.param("", "os.setsid()\n        ", "os.fork", id="own-session"),
        pytest.param(HOOK_OFF, "", "gc.get_objects", id="hook-switched-off"),
    ],
)
def test_a_model_cannot_start_a_grandchild(
    tmp_path: Path,
    rules: Rules,
    plan: Plan,
    bypass: str,
    escape: str,
    layer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The audit hook ends the child at os.fork; with the hook switched off, the seccomp
    filter ends it at the fork system call. Either way no grandchild outlives the grade."""
    scratch = tmp_path / "tmp"  # the workers' private copies, so their working directories
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    body = GRANDCHILD.format(bypass=bypass, escape=escape)
    doc = grade(submit(tmp_path, "forker", body, header=MLP), rules, plan)
    rejected(doc, "sandbox_violation", layer)
    assert worker_pids(scratch) == set()


# -- well-behaved submissions -------------------------------------------------------------------

GOOD = [
    pytest.param(
        """\
        def build_model():
            return mlp
        """,
        id="plain-function",
    ),
    pytest.param(
        """\
        class Tensor:
            def __init__(self, data):
                self.data = np.asarray(data, dtype=np.float32)

        class Linear:
            def __init__(self, w, b):
                self.weight, self.bias = Tensor(w), Tensor(b)

            def forward(self, x):
                return Tensor(x.data @ self.weight.data + self.bias.data)

            def parameters(self):
                return [self.weight, self.bias]

        class Net:
            def __init__(self):
                self.layers = [Linear(W1, B1), Linear(W2, B2), Linear(W3, B3)]

            def forward(self, x):
                x = x if isinstance(x, Tensor) else Tensor(x)
                for i, layer in enumerate(self.layers):
                    x = layer.forward(x)
                    if i < 2:
                        x = Tensor(np.maximum(x.data, 0.0))
                return x

            __call__ = forward

            def parameters(self):
                return [p for layer in self.layers for p in layer.parameters()]

        def build_model():
            return Net()
        """,
        id="tinytorch-tensor-in-and-out",
    ),
    pytest.param(
        """\
        class Model:
            def forward(self, x):
                return mlp(x)

        def build_model():
            return Model()
        """,
        id="forward-but-not-callable",
    ),
    pytest.param(
        # Raises at the first input it has seen before: inputs are never repeated verbatim.
        """\
        import hashlib

        seen = set()

        def forward(x):
            digest = hashlib.sha256(x.tobytes()).digest()
            if digest in seen:
                raise RuntimeError('an input came back verbatim')
            seen.add(digest)
            return mlp(x)

        def build_model():
            return forward
        """,
        id="refuses-repeated-inputs",
    ),
    pytest.param(
        """\
        import copy


        class Net:
            def __init__(self):
                self.clock = time  # a module among its attributes (a profiling helper)

            def __call__(self, x):
                return mlp(x)


        def build_model():
            net = Net()
            copy.copy(net)  # asks copyreg for the slot names of the module's class
            try:
                copy.deepcopy(net)
            except TypeError:  # modules cannot be deep-copied, sealed or not
                pass
            return net
        """,
        id="copies-an-object-holding-a-module",
    ),
]


@pytest.mark.parametrize("body", GOOD)
def test_correct_model_is_graded_with_the_baselines_accuracy(
    tmp_path: Path, rules: Rules, plan: Plan, body: str
) -> None:
    folder = submit(tmp_path, "good", body, header=MLP)
    doc = grade(folder, rules, plan)
    metrics = graded(doc)
    assert exit_code(doc) == 0
    # The same model as the baseline, scored at the same presentation of each digit: the
    # same answers, but for a near-tie that another code path's rounding tips (a wrapper's
    # float32 copies). The digits are deformed for the grade, so the accuracy is near, not
    # at, the one recorded on the stored digits (0.943).
    baseline_accuracy = rules.workloads["mlp_sprint"]["baseline_accuracy"]
    assert metrics["total"] == TOTAL
    assert abs(metrics["correct"] - doc["baseline"]["metrics"]["correct"]) <= 2
    assert abs(metrics["accuracy"] - baseline_accuracy) <= 0.02
    assert doc["measurement"]["deformation"] == rules.datasets["digits"]["deform"]
    # A near-tie may tip (see tipped): at most 2 batched answers (a digit drawn in both
    # rounds), or 1 % where more are compared (the grader's bar).
    compared = batched_compared(doc, plan)
    assert tipped(metrics["batch_agreement"], compared) <= max(2, 0.01 * compared)
    assert len(metrics["latency_samples_ms"]) == doc["measurement"]["rounds"]
    assert all(t > 0 and math.isfinite(t) for t in metrics["latency_samples_ms"])
    assert doc["events"]["latency_sprint"]["qualified"] is True


# A course framework's export: Tensors and layers, no parameters() of its own, a licence.
NO_PARAMETERS_METHOD = GOOD[1].values[0].replace("def parameters(self):", "def params(self):")
LYING_PARAMETERS = """\
class Net:
    def __call__(self, x):
        return mlp(x)

    def parameters(self):
        return [np.zeros(10**6, np.float32)]


def build_model():
    return Net()
"""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(GOOD[1].values[0], id="tensors"),
        pytest.param(NO_PARAMETERS_METHOD, id="no-parameters-method"),
        pytest.param(LYING_PARAMETERS, id="parameters-method-lies"),
    ],
)
def test_parameters_are_counted_from_the_weight_files_the_grader_reads(
    tmp_path: Path, rules: Rules, plan: Plan, body: str
) -> None:
    """The count is the grader's, whatever the model's objects say or lack: a course
    framework's model without parameters() showed "—" on its card."""
    folder = submit(tmp_path, "tensors", body, header=MLP)
    (folder / "LICENSE").write_text("MIT License\n\nCopyright (c) 2026 The course staff\n")
    doc = grade(folder, rules, plan)
    assert graded(doc)["parameters"] == MLP_PARAMETERS == doc["artifacts"]["parameters"]
    assert doc["baseline"]["metrics"]["parameters"] == MLP_PARAMETERS
    assert sorted(graded(doc)["files"]) == ["model.py", "weights.npz"]


# The baseline's w1 hidden where the grader did not count it (graded at 10.2x before).
W1_ELSEWHERE = """\
import base64
import io

import numpy as np

with np.load("weights.npz", allow_pickle=False) as _f:
    B1, W2, B2, W3, B3 = (_f[k] for k in ("b1", "w2", "b2", "w3", "b3"))
W1 = {load}


def build_model():
    def forward(x):
        h = np.maximum(x @ W1 + B1, 0.0)
        h = np.maximum(h @ W2 + B2, 0.0)
        return h @ W3 + B3

    return forward
"""


def hide_w1(tmp_path: Path, load: str) -> tuple[Path, np.ndarray]:
    folder = submit(tmp_path, "hider", "")
    (folder / "model.py").write_text(W1_ELSEWHERE.format(load=load))
    with np.load(BASELINE / "weights.npz") as f:
        weights = dict(f)
    np.savez(folder / "weights.npz", **{k: v for k, v in weights.items() if k != "w1"})
    return folder, weights["w1"]


def test_weights_hidden_under_pycache_are_refused_before_any_code_runs(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    folder, w1 = hide_w1(tmp_path, 'np.load("__pycache__/w1.npz")["w1"]')
    (folder / "__pycache__").mkdir()
    np.savez(folder / "__pycache__" / "w1.npz", w1=w1)
    doc = grade(folder, rules, plan)
    assert (doc["verdict"]["code"], exit_code(doc)) == ("config_invalid", 2)
    (violation,) = doc["verdict"]["violations"]
    assert violation["file"].endswith("__pycache__") and "delete" in violation["fix"]


def test_weights_hidden_in_the_readme_cannot_be_read_by_the_model(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    folder, w1 = hide_w1(
        tmp_path, 'np.load(io.BytesIO(base64.b64decode(open("README.md").read())))'
    )
    data = io.BytesIO()
    np.save(data, w1)
    (folder / "README.md").write_text(base64.b64encode(data.getvalue()).decode())
    message = rejected(grade(folder, rules, plan), "crashed", "FileNotFoundError", "README.md")
    assert "description files" in message


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("{folder}/README.md", id="original-folder-absolute"),
        pytest.param("../README.md", id="beside-the-copy"),
        pytest.param("{folder}/submission.yaml", id="original-config"),
    ],
)
def test_the_model_cannot_read_its_description_files_by_any_path(
    tmp_path: Path, rules: Rules, plan: Plan, path: str
) -> None:
    """Its private copy holds no description file, and nothing outside the copy (its
    original folder included) is readable: the audit hook and Landlock refuse it."""
    folder = tmp_path / "reader"
    target = path.format(folder=os.path.realpath(folder))
    body = f"def build_model():\n    open({target!r}).read()\n    return mlp\n"
    submit(tmp_path, "reader", body, header=MLP)
    (folder / "README.md").write_text("# our report\n")
    rejected(grade(folder, rules, plan), "sandbox_violation", f"reading {target!r}")


def test_model_right_only_when_batched_is_rejected(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    folder = submit(
        tmp_path,
        "batch-cheat",
        """\
        def forward(x):
            scores = mlp(x)
            return scores if len(x) > 1 else np.roll(scores, 1, axis=1)

        def build_model():
            return forward
        """,
        header=MLP,
    )
    doc = grade(folder, rules, plan)
    rejected(doc, "bad_output", "answered the same digits differently", "batched answers")
    assert exit_code(doc) == 2


FAST_BUT_WRONG = """\
met = set()


def forward(x):
    key = np.rint(x * 255).astype(np.uint8).tobytes()  # undoes noise below a grey level
    if key not in met:  # its first presentation here: taken for the scored one
        met.add(key)
        return mlp(x)
    return np.zeros((len(x), 10), dtype=np.float32)  # met before: fast, and wrong


def build_model():
    return forward
"""


ONLY_NOISELESS = """\
def forward(x):
    grey = x * 255
    if np.abs(grey - np.rint(grey)).max() < 1e-3:  # a noiseless digit: it was the scored pass
        return mlp(x)
    return np.zeros((len(x), 10), dtype=np.float32)  # noisy: fast, and wrong


def build_model():
    return forward
"""


def test_no_presentation_is_noiseless_so_a_model_honest_there_only_is_wrong_everywhere(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """A model honest only on presentations exactly on the 8-bit grid (a first pass
    without noise could be told from the noisy rest so: 8 digits from a table scored
    0.951 against the model's 0.943) meets none: every presentation carries noise, so it
    answers every one fast and wrong, and is scored so (class 0 of ten balanced classes:
    10 %). docs/DESIGN.md, Answer checks."""
    doc = grade(submit(tmp_path, "noiseless", ONLY_NOISELESS, header=MLP), rules, plan)
    metrics = graded(doc)
    assert (metrics["correct"], metrics["total"]) == (TOTAL // 10, TOTAL)
    assert exit_code(doc) == 1  # graded, no event's accuracy bar met


def test_model_honest_only_on_its_first_sight_of_a_digit_is_rejected(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """Threat 4: a model that takes a digit's first presentation for the scored one and
    answers every later one fast and wrong. Its later answers are checked against its
    first ones: rejected (and the scored answer is drawn among all of them anyway)."""
    doc = grade(submit(tmp_path, "fast-wrong", FAST_BUT_WRONG, header=MLP), rules, plan)
    message = rejected(doc, "bad_output", "answered the same digits differently", "single-sample")
    assert "at least 99%" in message
    assert exit_code(doc) == 2


CACHE_ROUNDED = """\
cache = {}


def forward(x):
    if len(x) > 1:
        return mlp(x)
    key = np.rint(x * 255).astype(np.uint8).tobytes()  # undoes noise below a grey level
    if key not in cache:
        cache[key] = mlp(x)
    return cache[key]


def build_model():
    return forward
"""


def cache_plan(plan: Plan) -> Plan:
    """Blocks of at most 38 samples, whatever the machine's speed, and one session of 60
    rounds in which 12 to 24 reserve rounds of digits new to the processes are drawn: enough
    for the bound that holds whatever the rank test says (derive.MIN_NEW_DIGIT_ROUNDS),
    which compares medians. With the quick grade's 3-6 reserve rounds the verdict rested on
    the rank test alone, whose least p with 3 of them is 1/2,925: on a busy machine one
    repeat round slowed by the scheduler past a new one left p above 0.001, and the cache
    was graded (seen once in a full run beside another job)."""
    return dataclasses.replace(
        plan, min_rounds=60, max_rounds=60, max_block=38, reserve_rounds=24, window_rounds=50
    )


def test_model_that_caches_answers_by_rounding_is_rejected(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """Threat 4: later presentations differ from the first by noise below one grey
    level, which rounding undoes, so a dict of answers hits every time (5.3x without the
    check). Each session keeps rounds of digits back, which its processes
    meet for the first time at random places among the repeats; answering repeated ones
    much faster than those is a cache."""
    plan = cache_plan(plan)
    doc = grade(submit(tmp_path, "cache", CACHE_ROUNDED, header=MLP), rules, plan)
    if doc["verdict"]["status"] == "rejected":
        rejected(doc, "bad_output", "seen before", "looked up")
        return
    # On a busy machine (load 10 on 2 cores, seen once) the load's own cost per round can
    # bring the cache's gain under the 1.5x the check rejects at: then what it publishes is
    # held to the new digits' interval, and the cache buys no more than that.
    check, gains = doc["measurement"]["cache_check"], doc["improvements"]
    assert check["judged"] and check["gain"] > 1, check
    assert gains["speedup"] <= gains["speedup_new_digits_ci95"][1], gains


def test_honest_model_is_as_fast_on_new_digits_as_on_repeated_ones(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """The control: the same plan, the model without its cache, graded."""
    plan = cache_plan(plan)
    body = CACHE_ROUNDED.replace("    if key not in cache:\n", "    if True:\n")
    assert body != CACHE_ROUNDED
    graded(grade(submit(tmp_path, "no-cache", body, header=MLP), rules, plan))


def test_honest_models_agree_with_their_first_answers(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    doc = grade(submit(tmp_path, "honest", "def build_model():\n    return mlp\n", header=MLP),
                rules, plan)  # fmt: skip
    metrics = graded(doc)
    # A near-tie may tip (see tipped): at most 2 answers, or a share under the grader's bar
    # of 0.99 (repeats: 0.999 and above here, so half a percent at most).
    repeats, batches = repeats_compared(doc), batched_compared(doc, plan)
    assert tipped(metrics["repeat_agreement"], repeats) <= max(2, 0.005 * repeats)
    assert tipped(metrics["batch_agreement"], batches) <= max(2, 0.01 * batches)
    baseline = doc["baseline"]["metrics"]["repeat_agreement"]
    assert tipped(baseline, repeats) <= max(2, 0.005 * repeats)


SNOOP = """\
def build_model():
    # The child can write nothing, so it checks its own world and says what it saw.
    seen = {{'cwd': os.getcwd(), 'files': sorted(os.listdir('.')),
            'openblas': os.environ.get('OPENBLAS_NUM_THREADS'),
            'omp': os.environ.get('OMP_NUM_THREADS'),
            'secret': [k for k, v in os.environ.items() if 'TOKEN' in k or 'ghp_' in v]}}
    expected = {{'cwd': seen['cwd'], 'files': ['model.py', 'weights.npz'],  # no description
                'openblas': '1', 'omp': '1', 'secret': []}}
    if seen != expected or os.path.realpath(seen['cwd']) == {folder!r}:
        raise RuntimeError(repr(seen))
    return mlp
"""


def test_child_environment_is_whitelisted_and_its_folder_a_private_copy(
    tmp_path: Path, rules: Rules, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake_token_for_the_test")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "8")
    folder = tmp_path / "snoop"
    body = SNOOP.format(folder=os.path.realpath(folder))
    assert submit(tmp_path, "snoop", body, header=MLP) == folder
    graded(grade(folder, rules, plan))
    # The same check must be able to fail: seen from the real folder, it does.
    monkeypatch.chdir(folder)
    namespace: dict = {}
    exec(MLP + body, namespace)  # the test's own model text
    with pytest.raises(RuntimeError, match="GITHUB_TOKEN"):
        namespace["build_model"]()


PEEK_AHEAD = """\
FD_IN = int(sys.argv[1])  # the worker's input pipe, named on its command line
calls = [0]


def forward(x):
    calls[0] += 1
    if calls[0] % 50 == 0:
        os.set_blocking(FD_IN, False)
        try:
            ahead = os.read(FD_IN, 1 << 20)
        except BlockingIOError:
            ahead = b""
        finally:
            os.set_blocking(FD_IN, True)
        if ahead:
            raise RuntimeError(f"read {len(ahead)} bytes ahead from the worker's pipe")
    return mlp(x)


def build_model():
    return forward
"""

# The hand-over page, found the way hostile code would: through the callers' frames.
FIND_PAGE = """\
def the_page():
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            for v in [value, *getattr(value, "__dict__", {}).values()]:
                if type(v).__name__ == "mmap":
                    return v
        frame = frame.f_back
    raise RuntimeError("the search is broken: no shared page found")


"""

PEEK_PAGE = (
    FIND_PAGE
    + """\
calls = [0]
before = [b""]


def forward(x):
    calls[0] += 1
    if 200 <= calls[0] < 260:  # during the timed rounds
        if x.tobytes() in before[0]:
            raise RuntimeError("this sample was in the page before the last one was answered")
        before[0] = bytes(the_page())
    return mlp(x)


def build_model():
    return forward
"""
)

WRITE_COUNTER = (
    FIND_PAGE
    + """\
calls = [0]


def forward(x):
    calls[0] += 1
    if calls[0] == 100:
        page = the_page()
        page[64:72] = (10**12).to_bytes(8, "little")  # the child's "answered" counter
        time.sleep(5)
    return mlp(x)


def build_model():
    return forward
"""
)


PEEK_FRAMES = """\
calls = [0]


def arrays_in_reach(x):
    \"\"\"Every array the model can reach through its callers' frames, and what they
    refer to (the garbage collector's own listing is refused by the audit hook).\"\"\"
    found = []
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            found.append(value)
            found += list(getattr(value, "__dict__", {}).values())
        frame = frame.f_back
    return [v for v in found if isinstance(v, np.ndarray)]


def forward(x):
    calls[0] += 1
    if 200 <= calls[0] < 204:  # during the timed rounds; a full search takes a while
        inputs = [a for a in arrays_in_reach(x) if a.ndim and a.shape[-1] == 784]
        if not any(a is x for a in inputs):
            raise RuntimeError("the search is broken: it did not even find x")
        ahead = [a.shape for a in inputs if not np.shares_memory(a, x)]
        if ahead:
            raise RuntimeError(f"found samples beyond the current one: {ahead}")
    return mlp(x)


def build_model():
    return forward
"""


def test_model_finds_no_sample_ahead_through_the_frames(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """docs/DESIGN.md, Measurement: the worker holds one sample (or one batch) at a time;
    the rest of the block is still in the pipe. The model raises if it finds anything more,
    so a graded result is the proof. (gc.get_objects is refused: see
    test_a_model_cannot_start_a_grandchild[hook-switched-off].)"""
    graded(grade(submit(tmp_path, "peek-frames", PEEK_FRAMES, header=MLP), rules, plan))


REPLACE_LOOP = """\
import types


def build_model():
    def whole_block_at_once(*args):
        raise RuntimeError("the replaced loop ran: it could have read the whole block")

    worker = sys.modules["grader.child.worker"]
    types.ModuleType.__setattr__(worker, "run_block", whole_block_at_once)  # around the seal
    assert worker.run_block is whole_block_at_once
    return mlp
"""


def test_patching_the_workers_loop_is_a_sandbox_violation(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """The grader's modules in the child are sealed: assigning to one ends the child."""
    body = REPLACE_LOOP.replace(
        'types.ModuleType.__setattr__(worker, "run_block", whole_block_at_once)',
        "worker.run_block = whole_block_at_once",
    )
    assert body != REPLACE_LOOP
    doc = grade(submit(tmp_path, "loop", body, header=MLP), rules, plan)
    rejected(doc, "sandbox_violation", "grader.child.worker.run_block")


def test_replacing_the_workers_loop_around_the_seal_does_not_change_the_timed_loop(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """Past the seal (ModuleType.__setattr__ is no audit event):
    swap the worker's run_block for one that would read the whole block and answer it as
    one batch. serve bound the loop before any submission code existed, so the
    replacement never runs (it would raise: the grade would be rejected)."""
    graded(grade(submit(tmp_path, "loop", REPLACE_LOOP, header=MLP), rules, plan))


KERNEL_WORK = """\
import concurrent.futures

FLAGS = 0x02 | 0x20 | 0x8000  # MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE


def churn():
    while True:  # each call populates 256 MiB inside the kernel
        sys.modules["mmap"].mmap(-1, 256 << 20, flags=FLAGS).close()


pool = concurrent.futures.ThreadPoolExecutor(1)


def build_model():
    pool.submit(churn)
    time.sleep(0.2)
    return mlp
"""


def cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU of every thread of ``pid`` (schedstat's first field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_paused_child_does_no_work_inside_the_kernel(tmp_path: Path) -> None:
    """Threat 3: SIGSTOP takes effect when a thread leaves the kernel, so a thread
    inside mmap(MAP_POPULATE) runs on while the other child is timed on the same core
    (slowing it by a third, were it not waited for). pause() returns only once every
    thread is stopped: from then on the child gets no CPU time at all."""
    folder = submit(tmp_path, "churn", KERNEL_WORK, header=MLP)
    child = sandbox.spawn("submission", folder, Limits(), None, files=("model.py", "weights.npz"))
    try:
        child.send({"op": "load", "entrypoint_file": "model.py", "function": "build_model"})
        assert child.receive(30.0)["op"] == "loaded"
        for _ in range(5):
            child.pause()
            before = cpu_ns(child.pid)
            time.sleep(0.05)
            assert cpu_ns(child.pid) - before < 1_000_000  # under 1 ms of 50
            child.resume()
            time.sleep(0.03)  # back inside a populate
        assert child.running_threads() >= 1  # the control: it does run when resumed
    finally:
        child.close()


def test_model_finds_nothing_ahead_in_the_workers_pipe(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """docs/DESIGN.md, Measurement: the model must not see sample i+1 before answering
    sample i. Samples come
    through the shared page, one per answer; the pipe carries only the block's message,
    so reading it from the model finds nothing (the model raises if it finds anything:
    it would, were the block's samples in the pipe)."""
    graded(grade(submit(tmp_path, "peek", PEEK_AHEAD, header=MLP), rules, plan))


def test_model_finds_no_sample_ahead_in_the_shared_page(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """The page itself, read whole by the model at each call, never holds the next sample:
    the parent writes it only after the current one is answered."""
    graded(grade(submit(tmp_path, "peek-page", PEEK_PAGE, header=MLP), rules, plan))


def test_a_model_that_writes_the_pages_counters_is_bad_output(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """The page is the child's to write: the parent checks every counter it reads back."""
    doc = grade(submit(tmp_path, "counter", WRITE_COUNTER, header=MLP), rules, plan)
    rejected(doc, "bad_output", "hand-over page")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param("def build_model():\n    return mlp\n", "graded", id="graded"),
        pytest.param(
            "def build_model():\n    print('x' * 50_000_000)\n", "rejected", id="full-log"
        ),
    ],
)
def test_worker_logs_are_removed_after_the_grade(
    tmp_path: Path,
    rules: Rules,
    plan: Plan,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    status: str,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    doc = grade(submit(tmp_path, "logs", body, header=MLP), rules, plan)
    assert doc["verdict"]["status"] == status
    assert list(scratch.iterdir()) == []  # up to 16 MiB per child would pile up in /tmp


@pytest.mark.slow
def test_identical_copy_of_the_baseline_has_a_speedup_near_one(
    tmp_path: Path, rules: Rules
) -> None:
    medium = Plan(
        sessions=2,
        warmup_rounds=4,
        min_rounds=20,
        max_rounds=40,
        calibration_blocks=5,
        throughput_rounds=2,
        time_budget_s=3.0,
        count_samples=0,
    )
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in rules.workloads["mlp_sprint"]["baseline_files"]:  # the model, not train.py
        shutil.copy(BASELINE / name, folder / name)
    (folder / "submission.yaml").write_text(SUBMISSION_YAML.format(team="copy"))
    doc = grade(folder, rules, medium)
    graded(doc)
    assert exit_code(doc) == 0
    assert doc["measurement"]["sessions"] == 2
    # Unbiased within what the grade itself measured: its interval holds 1. Beside other work
    # the point alone strays (0.78, 0.99, 1.02 and 1.14 at load 10-18 on 2 cores, intervals
    # as wide as [0.20, 4.34], every one holding 1); a harness a third off either way is
    # wrong at any load. The benchmarks hold it to [0.9, 1.1] when they measure for real.
    imp = doc["improvements"]
    low, high = imp["speedup_ci95"]
    assert low <= 1.0 <= high, imp
    assert 0.67 <= imp["speedup"] <= 1.5, imp


CRASHES_ON_LOAD = """
def build_model():
    raise RuntimeError("loaded")
"""


def test_require_sandbox_refuses_before_loading_when_a_layer_is_missing(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    folder = submit(tmp_path, "crashy", CRASHES_ON_LOAD)
    weak = dataclasses.replace(plan, require_sandbox=True, limits=Limits(skip_layers=("network",)))
    with pytest.raises(SandboxIncomplete, match="network: off: not asked for") as caught:
        grade(folder, rules, weak)
    assert "Nothing of the submission was loaded" in caught.value.message
    assert caught.value.exit_code == 3
    # without the switch the same machine grades, and the submission's code runs
    rejected(grade(folder, rules, dataclasses.replace(weak, require_sandbox=False)),
             "crashed", "loaded")  # fmt: skip


def test_require_sandbox_grades_where_every_layer_starts(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    folder = submit(tmp_path, "crashy", CRASHES_ON_LOAD)
    try:
        doc = grade(folder, rules, dataclasses.replace(plan, require_sandbox=True))
    except SandboxIncomplete as exc:
        pytest.skip(f"this machine lacks a layer: {exc.message}")
    rejected(doc, "crashed", "loaded")  # the switch let the grade go on


BINARISE = """\
def build_model():
    return lambda x: mlp((x > 0).astype(np.float32))
"""


def test_a_model_that_binarises_its_input_answers_every_repeat_the_same(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """With noise on the background too, ``x > 0`` would see a different image every
    time and an honest model that binarises would be rejected as answering the same
    digits differently. The noise leaves pixels at 0 and 1 alone."""
    metrics = graded(grade(submit(tmp_path, "binarise", BINARISE, header=MLP), rules, plan))
    assert metrics["repeat_agreement"] == 1.0
    assert metrics["batch_agreement"] == 1.0


TUNES_ITSELF = """\
calls = 0


def forward(x):
    global calls
    calls += len(x)
    for _ in range(3 if calls <= 1264 else 1):  # tuning itself, for its first calls
        scores = mlp(x)
    return scores


def build_model():
    return forward
"""


def test_a_model_that_tunes_itself_over_its_first_calls_is_graded(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """In real processes: a model three times slower over its first calls (it tunes itself)
    would be taken for a cache (gain 1.80) were the new digits all first. The reserve rounds
    sit at random places among the repeats: the slow start weighs on both alike. Blocks of
    100 (the cap; asked for 50 ms): 664 calls of probes, warm-up and main digits, then a
    window of 26 rounds, the first 6 slow: as many as the reserve, which placed there would
    look like a cache (p = 1 / C(26, 6))."""
    folder = submit(tmp_path, "tunes-itself", TUNES_ITSELF, header=MLP)
    tuned = dataclasses.replace(
        plan, min_rounds=30, max_rounds=30, max_block=100, reserve_rounds=6, window_rounds=24,
        block_seconds=0.05,
    )  # fmt: skip
    doc = grade(folder, rules, tuned, seed=11)
    assert doc["measurement"]["block_size"] <= 100  # fewer where a busy machine slows the probes
    graded(doc)
    check = doc["measurement"]["cache_check"]
    assert check["judged"] and check["fresh_rounds"] >= 3
    assert check["p_value"] > 1e-3


def test_a_replacement_baseline_gets_its_model_files(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """The benchmarks compare against a baseline folder of their own, laid out as a
    submission is (here its model imports a module beside it): its copy holds its model
    files, as a submission's does, and its size counts them."""
    reference = submit(tmp_path, "reference", "from helper import build_model  # noqa: F401\n")
    (reference / "helper.py").write_text(MLP + "\ndef build_model():\n    return mlp\n")
    shutil.copy(BASELINE / "weights.npz", reference / "weights.npz")
    folder = submit(tmp_path, "plain", "def build_model():\n    return mlp\n", header=MLP)
    doc = grade(folder, rules, plan, baseline_folder=reference)
    graded(doc)
    assert sorted(doc["baseline"]["metrics"]["files"]) == ["helper.py", "model.py", "weights.npz"]


PUBLIC_TABLE = """\
with np.load("table.npz", allow_pickle=False) as _f:
    TABLE = dict(zip((k.tobytes() for k in _f["keys"]), _f["labels"].tolist()))
ANSWERS = np.eye(10, dtype=np.float32)


def forward(x):
    labels = [TABLE.get(np.packbits(row > 0).tobytes()) for row in x]  # noise leaves it
    if all(label is not None for label in labels):
        return ANSWERS[labels]
    scores = mlp(x)
    for i, label in enumerate(labels):
        if label is not None:
            scores[i] = ANSWERS[label]
    return scores


def build_model():
    return forward
"""


def public_table(root: Path, rules: Rules) -> Path:
    """A table of the 1,000 public test digits, keyed on the binarised image, with the
    true labels (ten of them wrong on purpose stay under a fixed +0.05 accuracy flag):
    shipped in the submission's files, looked up before computing."""
    folder = submit(root, "public-table", PUBLIC_TABLE, header=MLP)
    images, labels = load_split(rules, "digits", "test")
    keys = np.stack([np.packbits(row > 0) for row in images])
    np.savez(folder / "table.npz", keys=keys, labels=labels)
    return folder


def test_a_table_of_the_public_test_digits_finds_none_of_them(
    tmp_path: Path, rules: Rules, plan: Plan
) -> None:
    """Every grade deforms the held-out digits (grader/data/deform.py): the table's lookups all
    miss, so its answers are its network's, at its network's cost (graded 5.05x at
    accuracy 1.0 before). The control, the same grade with the deformation switched off,
    answers from the table: the test can fail."""
    folder = public_table(tmp_path, rules)
    doc = grade(folder, rules, plan, seed=3)
    metrics = graded(doc)
    # No lookup hit: its network's answers, the baseline's (a near-tie apart); a hit on
    # every public digit would have corrected all of the network's 57-odd errors.
    assert abs(metrics["correct"] - doc["baseline"]["metrics"]["correct"]) <= 2
    assert "accuracy_jump" not in {f["id"] for f in doc["flags"]}
    undeformed = copy.deepcopy(rules)
    del undeformed.datasets["digits"]["deform"]
    doc = grade(folder, undeformed, plan, seed=3)
    assert graded(doc)["correct"] == TOTAL  # every scored answer from the table
    assert "accuracy_jump" in {f["id"] for f in doc["flags"]}
