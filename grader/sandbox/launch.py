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
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.child import handoff
from grader.errors import ChildFailure
from grader.sandbox.channel import Channel
from grader.sandbox.handle import Child
from grader.sandbox.workdir import private_copy, remove_tree

F_SETPIPE_SZ = 1031  # Linux fcntl; absent elsewhere, where the default pipe size is used
# The checkout (or site-packages) holding the grader package: the child imports its worker
# from there, installed or not.
GRADER_PARENT = Path(__file__).resolve().parents[2]

BOOTSTRAP = "import sys; sys.path.append({root!r}); from grader.child.worker import run; run()"


@dataclass
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3
    file_bytes: int = 16 * 1024**2  # the log: what the child prints, truncated before this
    open_files: int = 256
    skip_layers: tuple[str, ...] = ()  # OS layers not to apply (tests of the fallbacks)


def child_environment() -> dict[str, str]:
    """A whitelisted environment: nothing of the parent's (tokens, secrets) gets through."""
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


def spawn(
    name: str,
    folder: Path,
    limits: Limits,
    core: int | None,
    page_bytes: int = 1 << 20,
    *,
    files: Iterable[str],
    prepare: Callable[[Path], None] | None = None,
) -> Child:
    """Start a worker in a private copy of ``files`` of ``folder`` and wait for its hello.

    ``page_bytes`` sizes the hand-over page (``handoff.page_bytes``). ``prepare``, if
    given, changes the private copy before the child starts (the ablation's shuffled
    weight files); the submission's own folder is never touched.

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
        remove_tree(log_dir)
        for fd in (to_child_r, to_child_w, from_child_r, from_child_w, page_fd):
            os.close(fd)
        raise ChildFailure("crashed", f"could not copy {folder} for {name}: {exc}", name) from None
    proc = start(workdir, log_path, (to_child_r, from_child_w, page_fd), limits.skip_layers)
    os.close(to_child_r)
    os.close(from_child_w)
    os.set_blocking(to_child_w, False)
    pipes = Channel(name, to_child_w, from_child_r)
    child = Child(name, proc, pipes, log_path, handoff.Page(page_fd), core)
    os.close(page_fd)  # the mapping stays
    confine(child, limits, core)
    try:
        child.hello(timeout=60.0)
    except BaseException:
        child.close()
        raise
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
