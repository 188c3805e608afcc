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


def worker_pids(under: Path | None = None) -> set[int]:
    """Every live process running the grader's worker; with ``under``, only those whose
    working directory lies below it (a worker runs in its private copy, made in the
    temporary directory of the grade that started it: grades elsewhere on the machine,
    a developer's or another test run's, are not counted)."""
    prefix = os.path.realpath(under) + os.sep if under is not None else None
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(entry.path, "cmdline").read_bytes()
                if b"grader.child.worker" not in cmdline or zombie(int(entry.name)):
                    continue
                if prefix is None or os.readlink(Path(entry.path, "cwd")).startswith(prefix):
                    pids.add(int(entry.name))
    return pids
