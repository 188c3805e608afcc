"""What a dead or misbehaving child means: its verdict.

A child that reports its own failure sends an ``error`` message with a code; one that dies
without a word is judged by how it died (the signal that ended it, or its exit code) and by
the tail of what it printed. Either way the verdict is a ``ChildFailure`` that names the
child; the referee turns the submission's into ``Rejected``.
See docs/DESIGN.md, Verdicts and exit codes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from grader.errors import ChildFailure, Verdict

STDERR_TAIL_BYTES = 4096
# The codes a child may report of itself: any other code it sends is read as "crashed".
REPORTABLE = (Verdict.CRASHED, Verdict.BAD_OUTPUT, Verdict.MEMORY_LIMIT, Verdict.SANDBOX_VIOLATION)


def reported(name: str, message: dict) -> ChildFailure:
    """The child's own ``error`` message as its verdict. The message is the submission's to
    write, so its code is taken only from the codes a child may report and its text is cut
    short."""
    code = message.get("code")
    verdict = Verdict(code) if code in REPORTABLE else Verdict.CRASHED
    return ChildFailure(verdict, str(message.get("message", ""))[:2000], name)


def death(name: str, code: int | None, killed: bool, log_path: Path) -> tuple[Verdict, str]:
    """The verdict code and message of a child that closed its pipe without answering.

    ``code`` is its exit status (negative: the signal that ended it; None: it would not
    exit), ``killed`` says whether the grader had killed it (after a deadline passed)."""
    tail = stderr_tail(log_path)
    if code is not None and code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:  # a real-time signal has no name
            sig = f"signal {-code}"
        if -code in (signal.SIGXCPU, signal.SIGKILL) and killed:
            return Verdict.TIMEOUT, f"{name} was killed ({sig}) after exceeding its time limit"
        if -code == signal.SIGXCPU:
            return Verdict.TIMEOUT, f"{name} exceeded its CPU-time limit ({sig})"
        if -code == signal.SIGXFSZ:
            return Verdict.BAD_OUTPUT, f"{name} wrote more output than allowed ({sig})"
        if -code == signal.SIGSYS:
            return Verdict.SANDBOX_VIOLATION, (
                f"{name} made a system call the sandbox forbids (process creation, "
                f"sockets, signals to other processes, namespaces…): seccomp ended it ({sig})"
            )
        return Verdict.CRASHED, f"{name} died with signal {sig}{tail}"
    if tail and "MemoryError" in tail:
        return Verdict.MEMORY_LIMIT, f"{name} ran out of memory{tail}"
    return Verdict.CRASHED, f"{name} exited with code {code} without answering{tail}"


def stderr_tail(log_path: Path) -> str:
    """The end of what the child printed, as a clause for a verdict's message ("" if
    nothing)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(log_path) - STDERR_TAIL_BYTES))
            text = f.read().decode(errors="replace").strip()
    except OSError:
        return ""
    return f"; its last output: {text[-600:]!r}" if text else ""
