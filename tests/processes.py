"""What the tests see of processes, from /proc (Linux): shared by the harness and corpus
tests. Not a test module; pytest puts ``tests/`` on the path, so they import it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but is not reaped yet (it counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def worker_pids() -> set[int]:
    """Every live process running the grader's worker, whoever started it."""
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(entry.path, "cmdline").read_bytes()
                if b"grader.worker" in cmdline and not zombie(int(entry.name)):
                    pids.add(int(entry.name))
    return pids
