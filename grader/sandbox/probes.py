"""The child's process seen from outside: signals to its process group and what Linux's
/proc says of it (threads, their states, peak memory, its time on and waiting for a CPU).

Each function takes the child's pid, which is also its process group's (it starts a session
of its own). Where /proc is absent (not Linux) the probes read 0 or None.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

STOP_TIMEOUT_S = 2.0  # for a paused child's threads to leave the kernel and stop


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the child's whole process group (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_group(pid: int, timeout: float) -> int:
    """SIGSTOP the child's group and wait until every thread of it has stopped; return how
    many still run after ``timeout`` (0: all stopped).

    A stop takes effect when a thread next leaves the kernel, so a thread inside a long
    system call (populating a large mapping, say) runs on until it returns."""
    signal_group(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while (running := running_threads(pid)) and time.monotonic() < deadline:
        time.sleep(50e-6)
    return running


def thread_count(pid: int) -> int:
    """How many threads the child has (Linux /proc; 0 elsewhere)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def running_threads(pid: int) -> int:
    """How many of the child's threads are not stopped (Linux /proc; 0 elsewhere)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    running = 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2][1:2]
        except OSError:
            continue  # the thread is gone
        running += state not in (b"T", b"t", b"Z", b"X")
    return running


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM of the live child, read by the parent from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def schedstat(pid: int, proc: str = "/proc") -> tuple[int, int, int] | None:
    """The child's ``/proc/<pid>/schedstat`` (Linux): nanoseconds on a CPU, nanoseconds
    runnable but waiting on a run queue (``run_delay``), timeslices run. None where it
    cannot be read or is not exactly three non-negative integers. It is the main thread's,
    which is the child's all: a second thread ends it (``handle.Child.check_threads``).
    A stopped task is not runnable, so a child paused while the other is timed accrues no
    delay (docs/DESIGN.md, Measurement: CPU wait)."""
    try:
        with open(f"{proc}/{pid}/schedstat", "rb") as f:
            fields = f.read().split()
    except OSError:
        return None
    if len(fields) != 3 or not all(x.isdigit() for x in fields):
        return None
    run, delay, slices = (int(x) for x in fields)
    return run, delay, slices
