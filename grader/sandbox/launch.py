"""Launching a worker child under limits.

The child gets its own session (so the whole process group can be killed), a
whitelisted environment with BLAS pinned to one thread, resource limits, a CPU core of
its own where the machine has one to spare, two dedicated pipes (``channel``) and a page of
shared memory for the samples (``handoff``). It runs in a private, read-only copy of the
model's files (``workdir``), removed with its log when the child is closed. Inside, the
worker applies the operating-system layers (``confine``) and then the audit hook
(``guard``); the layers it reports come back in its hello.
See docs/DESIGN.md, Trust boundaries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from grader.child import handoff
from grader.errors import ChildFailure, Verdict
from grader.sandbox.cachegrind import Valgrind
from grader.sandbox.channel import Channel
from grader.sandbox.counted import CountedChild
from grader.sandbox.handle import Child
from grader.sandbox.workdir import private_copy, remove_tree

F_SETPIPE_SZ = 1031  # Linux fcntl; absent elsewhere, where the default pipe size is used
# The checkout (or site-packages) holding the grader package: the child imports its worker
# from there, installed or not.
GRADER_PARENT = Path(__file__).resolve().parents[2]

BOOTSTRAP = "import sys; sys.path.append({root!r}); from grader.child.worker import run; run()"
# The counted child: its launcher (-I, as the worker), and the worker it execs under valgrind.
PRECOUNT = "import sys; sys.path.append({root!r}); from grader.child.precount import run; run()"
# Without -I, whose -E would ignore PYTHONHASHSEED: with the hash seed random, a string's
# hash and so the probes of every dict lookup change from run to run (Python's start-up
# alone then varied by 65,000 instructions in 88 million; with the seed fixed, by none).
# The environment is the whitelist, so -E has nothing else to ignore; -s keeps the user's
# site folder out, and the command's first act drops the working directory (the model's
# copy) from the path, which -I would not have put there.
COUNTED_FLAGS = ("-s", "-B")
COUNTED_BOOTSTRAP = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "sys.path.append({root!r}); from grader.child.worker import run; run()"
)
COUNT_FILE = "cachegrind.out"  # beside the log, outside the model's copy
HELLO_TIMEOUT_S = 60.0
# A counted child starts Python and NumPy under valgrind (about 450 million instructions,
# 8 s here), several at once on a shared machine.
COUNTED_HELLO_TIMEOUT_S = 600.0


@dataclass
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3
    file_bytes: int = 16 * 1024**2  # the log: what the child prints, truncated before this
    open_files: int = 256
    skip_layers: tuple[str, ...] = ()  # OS layers not to apply (tests of the fallbacks)


# The parent's choice of NumPy's and OpenBLAS's kernels, passed on to both children alike, so
# that a grade (and the test suite) can be run as on a machine with another CPU: the names
# of CPU features or of a core type, nothing else (docs/DESIGN.md, Trust boundaries).
KERNEL_CHOICES = ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")
_KERNEL_VALUE = re.compile(r"[A-Za-z0-9_, ]{1,200}")


def child_environment() -> dict[str, str]:
    """A whitelisted environment: nothing of the parent's (tokens, secrets) gets through but
    its choice of kernels (``KERNEL_CHOICES``), where it is only names."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "BLIS_NUM_THREADS",
    ):
        env[var] = "1"
    for var in KERNEL_CHOICES:
        if _KERNEL_VALUE.fullmatch(value := os.environ.get(var, "")):
            env[var] = value
    return env


def apply_limits(pid: int, limits: Limits) -> None:
    import resource

    settings = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in settings:
        resource.prlimit(pid, which, (value, value))


def copy_failed(log_dir: Path, fds: tuple[int, ...], why: str, name: str) -> NoReturn:
    """The private copy could not be made: the spawn's folder and descriptors released, a
    ``crashed`` verdict for the model ``name``."""
    remove_tree(log_dir)
    for fd in fds:
        os.close(fd)
    raise ChildFailure(Verdict.CRASHED, why, name) from None


def spawn(
    name: str,
    folder: Path,
    limits: Limits,
    core: int | None,
    page_bytes: int = 1 << 20,
    *,
    files: Iterable[str],
    prepare: Callable[[Path], None] | None = None,
    counted: Valgrind | None = None,
    wait_hello: bool = True,
) -> Child:
    """Start a worker in a private copy of ``files`` of ``folder`` and wait for its hello.

    ``page_bytes`` sizes the hand-over page (``handoff.page_bytes``). ``prepare``, if
    given, changes the private copy before the child starts (the ablation's shuffled
    weight files); the submission's own folder is never touched. ``counted``: the worker
    under that valgrind's cachegrind (``counted.CountedChild``), whose hello the caller
    awaits where ``wait_hello`` is False (docs/DESIGN.md, Instruction counts).

    The limits are set with prlimit before the child hears about any submission code: the
    worker imports nothing of the submission until it receives "load".
    """
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    for fd in (to_child_w, from_child_w):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
    page_fd = handoff.create(page_bytes)
    log_dir = Path(tempfile.mkdtemp(prefix="olympics-"))
    log_path = log_dir / f"{name}.log"
    workdir = log_dir / "work"
    try:
        private_copy(folder, workdir, files)
        if prepare is not None:
            prepare(workdir)
    except OSError as exc:
        fds = (to_child_r, to_child_w, from_child_r, from_child_w, page_fd)
        copy_failed(log_dir, fds, f"could not copy {folder} for {name}: {exc}", name)
    fds = (to_child_r, from_child_w, page_fd)
    doorbell = os.pipe() if counted is not None else None
    if counted is None or doorbell is None:
        proc = start(workdir, log_path, fds, limits.skip_layers)
    else:
        proc = start_counted(counted, workdir, log_path, (*fds, doorbell[0]), limits.skip_layers)
    for fd in (to_child_r, from_child_w, *(doorbell or ())[:1]):
        os.close(fd)
    child = handle(name, proc, (to_child_w, from_child_r), log_path, page_fd, core, doorbell)
    confine(child, limits, core)
    try:
        if isinstance(child, CountedChild):
            child.go()  # its rlimits are set: the launcher may confine itself, then exec
        if wait_hello:
            child.hello(timeout=HELLO_TIMEOUT_S if counted is None else COUNTED_HELLO_TIMEOUT_S)
    except BaseException:
        child.close()
        raise
    return child


def handle(
    name: str,
    proc: subprocess.Popen,
    pipes: tuple[int, int],
    log_path: Path,
    page_fd: int,
    core: int | None,
    doorbell: tuple[int, int] | None,
) -> Child:
    """The parent's handle on the child just started, given the parent's ends of its pipes
    (to it, from it); a counted child where it has a doorbell (the parent's end given)."""
    os.set_blocking(pipes[0], False)
    channel = Channel(name, *pipes)
    page = handoff.Page(page_fd)
    os.close(page_fd)  # the mapping stays
    if doorbell is None:
        return Child(name, proc, channel, log_path, page, core)
    child = CountedChild(name, proc, channel, log_path, page, core)
    child.doorbell, child.count_file = doorbell[1], log_path.parent / COUNT_FILE
    return child


def start(
    workdir: Path, log_path: Path, fds: tuple[int, int, int], skip_layers: Iterable[str]
) -> subprocess.Popen:
    """The worker's process, in a session of its own, with the whitelisted environment and
    ``fds`` (its pipes' ends and the page) passed on its command line; its output goes to
    ``log_path``."""
    cmd = [
        sys.executable,
        "-I",
        "-B",
        "-c",
        BOOTSTRAP.format(root=str(GRADER_PARENT)),
        *(str(fd) for fd in fds),
        ",".join(skip_layers),
    ]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=fds,
            start_new_session=True,
            close_fds=True,
        )


def start_counted(
    valgrind: Valgrind,
    workdir: Path,
    log_path: Path,
    fds: tuple[int, int, int, int],
    skip_layers: Iterable[str],
) -> subprocess.Popen:
    """The counted child's process: ``grader/child/precount.py``, which waits for the go on
    its doorbell (``fds[3]``), confines itself and execs valgrind on the worker. Valgrind's
    count goes to ``cachegrind.out`` and its scratch files to a folder of their own, both
    beside the log, outside the model's copy."""
    root = str(GRADER_PARENT)
    out, tmp = log_path.parent / COUNT_FILE, log_path.parent / "valgrind-tmp"
    out.touch(mode=0o600)  # Landlock grants writing this one file
    tmp.mkdir(mode=0o700)
    worker = [
        sys.executable,
        *COUNTED_FLAGS,
        "-c",
        COUNTED_BOOTSTRAP.format(root=root),
        *(str(fd) for fd in fds),
    ]
    worker.insert(len(worker) - 1, ",".join(skip_layers))  # skip, then the doorbell
    spec = {
        "valgrind": valgrind.program,
        "libdir": valgrind.libdir,
        "out": str(out),
        "tmp": str(tmp),
        "doorbell": fds[3],
        "skip": list(skip_layers),
        "command": [*valgrind.command(out), *worker],
    }
    cmd = [sys.executable, "-I", "-B", "-c", PRECOUNT.format(root=root), json.dumps(spec)]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_environment() | valgrind.environment(tmp),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=fds,
            start_new_session=True,
            close_fds=True,
        )


def confine(child: Child, limits: Limits, core: int | None) -> None:
    """Set the child's resource limits (recorded in ``info["limits"]``) and its core (none
    where the machine refuses it)."""
    try:
        apply_limits(child.pid, limits)
    except (OSError, ValueError, AttributeError):
        child.info["limits"] = "unavailable"
    else:
        child.info["limits"] = "prlimit"
    if core is not None:
        try:
            os.sched_setaffinity(child.pid, {core})
        except (OSError, AttributeError):
            child.core = None
