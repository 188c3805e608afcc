"""Launching a worker child and talking to it under limits.

The child gets its own session (so the whole process group can be killed), a
whitelisted environment with BLAS pinned to one thread, resource limits, a CPU core of
its own where the machine has one to spare, two dedicated pipes and a page of shared memory
for the samples (``handoff``). Every read from
it has a deadline; on expiry the group is killed with SIGKILL.

The child runs in a private, read-only copy of the model's files (never its description:
``static.kind``), removed with its log when the child is closed: whatever it does to its
working directory, the real folder is untouched. Inside, the worker applies the
operating-system layers (``confine``) and then the audit hook (``guard``); the layers it
reports come back in its hello.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from grader.child import handoff, wire
from grader.errors import ChildFailure

F_SETPIPE_SZ = 1031  # Linux fcntl; absent elsewhere, where the default pipe size is used
STDERR_TAIL_BYTES = 4096
STOP_TIMEOUT_S = 2.0  # for a paused child's threads to leave the kernel and stop
GRADER_PARENT = Path(__file__).resolve().parent.parent

BOOTSTRAP = "import sys; sys.path.append({root!r}); from grader.child.worker import run; run()"


@dataclass
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3
    file_bytes: int = 16 * 1024**2  # the log: what the child prints, truncated before this
    open_files: int = 256
    skip_layers: tuple[str, ...] = ()  # OS layers not to apply (tests of the fallbacks)


@dataclass
class Child:
    """The parent's handle on one worker process."""

    name: str
    proc: subprocess.Popen
    to_child: int
    from_child: int
    log_path: Path
    core: int | None = None
    killed: bool = False
    info: dict = field(default_factory=dict)
    page: handoff.Page | None = None  # the hand-over page, shared with the child
    released: int = 0  # the last sample (or batch) handed over
    blocks: int = 0

    def failure(self, code: str, message: str) -> ChildFailure:
        return ChildFailure(code, message, self.name)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(
        self, message: dict, payload: bytes | memoryview | None = None, timeout: float = 30.0
    ) -> None:
        data = wire.encode(message)
        deadline = time.monotonic() + timeout
        self._write(memoryview(data), deadline)
        if payload is not None:
            self._write(memoryview(payload).cast("B"), deadline)

    def _write(self, view: memoryview, deadline: float) -> None:
        while view:
            try:
                view = view[os.write(self.to_child, view) :]
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                self._failed_while_writing()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise self.failure("timeout", f"{self.name} stopped reading its input")
            # Wake on writable, or on the child talking back (an error) or dying (EOF).
            readable, _, _ = select.select([self.from_child], [self.to_child], [], remaining)
            if readable:
                self._failed_while_writing()

    def run_block(
        self, message: dict, inputs: np.ndarray, batch: int, classes: int, timeout: float
    ) -> tuple[float, np.ndarray]:
        """Hand ``inputs`` over ``batch`` at a time through the page; return the seconds
        from the first release to the last answer, on the parent's clock, and the scores.

        The child's answer for each release is copied out before the next sample is
        written over the current one (``handoff``); the page is the child's to write, so
        every counter read back from it is checked like any other input from the child.
        """
        assert self.page is not None
        deadline = time.monotonic() + timeout
        self.blocks += 1
        first = self.released
        steps = len(inputs) // batch
        self.send({**message, "block": self.blocks, "first": first}, timeout=timeout)
        words = self.page.words
        x, answer = self.page.slots(batch, inputs.shape[1:], classes)
        x_bytes, answer_bytes = memoryview(x).cast("B"), memoryview(answer).cast("B")
        scores = np.empty((steps * batch, classes), dtype=np.float32)
        chunk, size = x_bytes.nbytes, answer_bytes.nbytes
        sources = memoryview(np.ascontiguousarray(inputs, dtype=np.float32)).cast("B")
        targets = memoryview(scores).cast("B")
        pieces = [
            (sources[k * chunk : (k + 1) * chunk], targets[k * size : (k + 1) * size])
            for k in range(steps)
        ]
        self._await(handoff.READY, self.blocks, self.blocks - 1, deadline)  # untimed
        released, answered = handoff.RELEASED, handoff.ANSWERED
        seq = first
        start = time.perf_counter()
        for source, target in pieces:
            x_bytes[:] = source
            seq += 1
            words[released] = seq
            if words[answered] != seq:
                self._await(answered, seq, seq - 1, deadline)
            target[:] = answer_bytes
        elapsed = time.perf_counter() - start
        self.released = seq
        reply = self.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if reply.get("op") != "done" or reply.get("n") != len(inputs):
            self.kill()
            raise self.failure("bad_output", f"{self.name} sent {reply!r}, not 'done'")
        return elapsed, scores

    def _await(self, index: int, value: int, before: int, deadline: float) -> None:
        """Spin until the child's counter ``index`` reaches ``value``; it may only hold
        ``before`` meanwhile. Past the deadline: ``timeout``; an error or EOF from the
        child meanwhile: its verdict."""
        words = self.page.words
        spins = 0
        while (seen := words[index]) != value:
            spins += 1
            if spins <= handoff.FAST_SPINS:
                continue
            os.sched_yield()
            if spins % handoff.CHECK_EVERY:
                continue
            if seen != before:
                self.kill()
                raise self.failure(
                    "bad_output", f"{self.name} wrote {seen} to the hand-over page's counter"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise self.failure("timeout", f"{self.name} did not answer in time")
            if select.select([self.from_child], [], [], 0)[0]:
                if words[index] == value:
                    # It answered since the counter was read, and what it sent is its
                    # reply to the block, for the caller. Rejecting it here ("spoke in
                    # the middle of a block") rejected 1 honest grade in 6.
                    return
                self.receive(timeout=5.0)  # an error message, or EOF: the verdict
                self.kill()
                raise self.failure("bad_output", f"{self.name} spoke in the middle of a block")

    def _failed_while_writing(self) -> None:
        # The child answered mid-block: only an error message or EOF can explain that.
        self.receive(timeout=5.0)
        raise self.failure("bad_output", f"{self.name} answered before reading its whole input")

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        header = self.read(wire.LENGTH.size, deadline)
        (length,) = wire.LENGTH.unpack(header)
        if length > wire.MAX_MESSAGE_BYTES:
            self.kill()
            raise self.failure(
                "bad_output",
                f"{self.name} sent a {length}-byte message (limit {wire.MAX_MESSAGE_BYTES})",
            )
        try:
            message = wire.decode(self.read(length, deadline))
        except wire.WireError as exc:
            self.kill()
            raise self.failure("bad_output", f"{self.name}: {exc}") from None
        if message["op"] == "error":
            self.wait(5.0)
            code = message.get("code")
            if code not in ("crashed", "bad_output", "memory_limit", "sandbox_violation"):
                code = "crashed"
            raise self.failure(code, str(message.get("message", ""))[:2000])
        return message

    def read(self, n: int, deadline: float) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise self.failure("timeout", f"{self.name} did not answer in time")
            ready, _, _ = select.select([self.from_child], [], [], remaining)
            if not ready:
                continue
            k = os.readv(self.from_child, [view[got:]])
            if k == 0:
                raise self.failure(*self._death_verdict())
            got += k
        return bytes(buf)

    def _death_verdict(self) -> tuple[str, str]:
        code = self.wait(5.0)
        tail = self.stderr_tail()
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:  # a real-time signal has no name
                sig = f"signal {-code}"
            if -code in (signal.SIGXCPU, signal.SIGKILL) and self.killed:
                return "timeout", f"{self.name} was killed ({sig}) after exceeding its time limit"
            if -code == signal.SIGXCPU:
                return "timeout", f"{self.name} exceeded its CPU-time limit ({sig})"
            if -code == signal.SIGXFSZ:
                return "bad_output", f"{self.name} wrote more output than allowed ({sig})"
            if -code == signal.SIGSYS:
                return "sandbox_violation", (
                    f"{self.name} made a system call the sandbox forbids (process creation, "
                    f"sockets, signals to other processes, namespaces…): seccomp ended it ({sig})"
                )
            return "crashed", f"{self.name} died with signal {sig}{tail}"
        if tail and "MemoryError" in tail:
            return "memory_limit", f"{self.name} ran out of memory{tail}"
        return "crashed", f"{self.name} exited with code {code} without answering{tail}"

    def stderr_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - STDERR_TAIL_BYTES))
                text = f.read().decode(errors="replace").strip()
        except OSError:
            return ""
        return f"; its last output: {text[-600:]!r}" if text else ""

    def peak_rss_bytes(self) -> int | None:
        """VmHWM of the live child, read by the parent from /proc (Linux)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait(5.0)

    def pause(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGSTOP the child's group, and wait until every thread of it has stopped: it
        cannot run while another child is timed.

        A stop takes effect when a thread next leaves the kernel, so a thread inside a
        long system call (populating a large mapping, say) runs on, on the core the
        other child is about to be timed on. Until every thread reads as stopped in
        /proc, the other child's clock does not start; one that has not stopped within
        ``timeout`` ends the child with ``sandbox_violation``."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while (running := self.running_threads()) and time.monotonic() < deadline:
            time.sleep(50e-6)
        if running:
            self.kill()
            raise self.failure(
                "sandbox_violation",
                f"{self.name} kept running for {timeout:g} s after the grader stopped it "
                f"({running} thread(s) still inside the kernel): a model must do nothing "
                "between the grader's calls",
            )

    def check_threads(self) -> None:
        """End the child if it runs more than one thread."""
        if (threads := self.thread_count()) > 1:
            # The worker runs in one thread (BLAS libraries are held to one as well): a
            # second one is the submission's, and would work on between the timed blocks,
            # off the clock. (Python 3.13 adds an audit event for it; /proc sees it now.)
            self.kill()
            raise self.failure(
                "sandbox_violation",
                f"{self.name} started a thread ({threads} threads running): a submission "
                "runs in the grader's one thread, where the clock sees all of its work",
            )

    def thread_count(self) -> int:
        """How many threads the child has (Linux /proc; 0 elsewhere)."""
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/task"))
        except OSError:
            return 0

    def running_threads(self) -> int:
        """How many of the child's threads are not stopped (Linux /proc; 0 elsewhere)."""
        try:
            tids = os.listdir(f"/proc/{self.proc.pid}/task")
        except OSError:
            return 0
        running = 0
        for tid in tids:
            try:
                with open(f"/proc/{self.proc.pid}/task/{tid}/stat", "rb") as f:
                    state = f.read().rpartition(b")")[2][1:2]
            except OSError:
                continue  # the thread is gone
            running += state not in (b"T", b"t", b"Z", b"X")
        return running

    def resume(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the child's whole process group: its own children die with it."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ChildFailure, OSError):
                self.send({"op": "exit"}, timeout=1.0)
            self.wait(2.0)
        self.kill()
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.page is not None:
            self.page.close()
        # The log is only read for a verdict's message, always before close.
        remove_tree(self.log_path.parent)


def private_copy(folder: Path, target: Path, files: Iterable[str]) -> None:
    """Copy ``files`` (POSIX paths inside ``folder``) to ``target``, read-only.

    The copy holds the listed files and the folders on their way, nothing else: it is all
    the model can read of its folder, so a file left out (a README, ``submission.yaml``)
    cannot carry anything the model uses. Each step of a path must be a plain folder and
    the last a plain file, looked at without following links: a link or a device where
    the static check saw none is an error, never followed.
    """
    target.mkdir()
    made = [target]
    for relative in sorted(set(files)):
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise OSError(f"{relative!r} is not a path inside the folder")
        source, dest = folder, target
        for part in parts[:-1]:
            source, dest = source / part, dest / part
            if not stat.S_ISDIR(os.lstat(source).st_mode):
                raise OSError(f"{relative}: {part} is not a plain folder")
            if not dest.exists():
                dest.mkdir()
                made.append(dest)
        source, dest = source / parts[-1], dest / parts[-1]
        if not stat.S_ISREG(os.lstat(source).st_mode):
            raise OSError(f"{relative} is not a plain file")
        shutil.copyfile(source, dest, follow_symlinks=False)
        dest.chmod(0o444)
    for made_folder in reversed(made):
        made_folder.chmod(0o555)


def remove_tree(path: Path) -> None:
    """Remove a tree that holds read-only folders (the private copy)."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)


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
    cmd = [
        sys.executable,
        "-I",
        "-B",
        "-c",
        BOOTSTRAP.format(root=str(GRADER_PARENT)),
        str(to_child_r),
        str(from_child_w),
        str(page_fd),
        ",".join(limits.skip_layers),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(to_child_r, from_child_w, page_fd),
            start_new_session=True,
            close_fds=True,
        )
    os.close(to_child_r)
    os.close(from_child_w)
    os.set_blocking(to_child_w, False)
    child = Child(name, proc, to_child_w, from_child_r, log_path, core)
    child.page = handoff.Page(page_fd)
    os.close(page_fd)  # the mapping stays
    try:
        apply_limits(proc.pid, limits)
    except (OSError, ValueError, AttributeError):
        child.info["limits"] = "unavailable"
    else:
        child.info["limits"] = "prlimit"
    if core is not None:
        try:
            os.sched_setaffinity(proc.pid, {core})
        except (OSError, AttributeError):
            child.core = None
    try:
        hello = child.receive(timeout=60.0)
    except BaseException:
        child.close()
        raise
    child.info["numpy"] = hello.get("numpy")
    layers = hello.get("layers") if isinstance(hello.get("layers"), dict) else {}
    child.info["layers"] = {str(k)[:64]: str(v)[:500] for k, v in list(layers.items())[:16]}
    return child
