"""The child's line profile: one untimed block of the model, traced line by line, so that
the card can say where its time goes (docs/DESIGN.md, Where the time goes).

A profiled block (``"profile": true`` in its block message) calls the model through
:func:`traced`: the tracer (``sys.settrace``) is on during each call only, never in the
worker's loop, and only the submission's own frames (code whose file lies in its folder)
get line events. Time between two events is charged to the submission's line that was
running, so a NumPy or BLAS call, and any of NumPy's own Python functions it goes through,
is charged to the line of the submission that called it: "94 % in model.py:31".

The tracer costs time of its own at every event, which the charged time includes: it is
measured on calibration functions of this module just before the block (``calibrate``) and
reported beside the raw numbers, for the parent to take off (``grader/result/hotspots.py``).
Everything here runs in the submission's process and is as untrusted as the rest of what
the child sends: advisory, never scored. The block's ``done`` message carries the report
(:func:`report`).

Child-side code: imports only the standard library.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

MAX_LINES = 40  # lines reported one by one; the rest summed (``rest``)
CALIBRATION = "<calibration>"  # this module's functions, while they calibrate
CALIBRATION_STEPS = 400
CALIBRATION_REPEATS = 5

# The child's own CPU time, not the wall clock's: on a shared machine the child may be
# descheduled in the middle of a line, and a wall clock would charge the wait to that line.
CLOCK = time.thread_time
# The last profiled block's report, until ``report`` hands it to the "done" message.
PENDING: dict[str, dict] = {}


class Tracer:
    """Charges the time between trace events to the submission's line that ran meanwhile,
    by (file relative to ``folder``, line, function): [seconds, line events, calls out]."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.realpath(folder) + os.sep
        self.files: dict[str, str | None] = {}
        self.spent: dict[tuple[str, int, str], list] = {}
        self.state: list = [None, 0.0]  # the line running (None: not the submission's), since
        self.trace = self.functions()[0]

    def relative(self, filename: str) -> str | None:
        """The file's path in the submission's folder, or None for any other code."""
        found = self.files.get(filename, "")
        if found == "":
            full = os.path.realpath(filename) if filename[:1] not in "<" else filename
            found = full[len(self.folder) :] if full.startswith(self.folder) else None
            self.files[filename] = found
        return found

    def functions(self) -> tuple[Callable, Callable]:
        """The global trace function (a call) and the local one (a line, a return) of the
        submission's frames, with what they read bound as locals: each event costs a few
        hundred nanoseconds, so they stay lean."""
        clock, spent, state, relative = CLOCK, self.spent, self.state, self.relative

        def charge(now: float, outward: int) -> None:
            key = state[0]
            if key is not None:
                cell = spent.get(key)
                if cell is None:
                    spent[key] = [now - state[1], 1 - outward, outward]
                else:
                    cell[0] += now - state[1]
                    cell[1] += 1 - outward
                    cell[2] += outward

        def local(frame, event: str, arg: object):
            now = clock()
            charge(now, 0)
            if event == "line":
                code = frame.f_code
                state[0] = (relative(code.co_filename), frame.f_lineno, code.co_name)
            elif event == "return":  # to the innermost line of the submission's still running
                back, name = frame.f_back, None
                while back is not None and (name := relative(back.f_code.co_filename)) is None:
                    back = back.f_back  # a callback's caller in NumPy: charged to who called it
                state[0] = None if back is None else (name, back.f_lineno, back.f_code.co_name)
            state[1] = clock()
            return local

        def call(frame, event: str, arg: object):
            name = relative(frame.f_code.co_filename)
            now = clock()
            if name is None:  # NumPy's or the standard library's: charged to the caller
                charge(now, 1)
                state[1] = clock()
                return None
            charge(now, 0)
            state[0] = (name, frame.f_lineno, frame.f_code.co_name)
            state[1] = clock()
            return local

        return call, local

    def run(self, call: Callable, x: object) -> object:
        """``call(x)`` with the tracer on; the time before its first event and after its
        last is nobody's."""
        self.state[0] = None
        sys.settrace(self.trace)
        try:
            return call(x)
        finally:
            sys.settrace(None)
            self.state[0] = None


def calibrate(folder: str) -> dict[str, float]:
    """The tracer's own cost per event, as the charged time includes it: per line event,
    and per call out of the submission's code (into NumPy's Python, say). The least of a few
    repeats: noise only adds."""
    per_line, per_call = [], []
    for _ in range(CALIBRATION_REPEATS):
        lines, calls = _charged(folder, _lines), _charged(folder, _calls)
        bare_lines, bare_calls = _bare(_lines), _bare(_calls)
        per_line.append(max(lines[0] - bare_lines, 0.0) / max(lines[1], 1))
        extra = calls[0] - bare_calls - calls[1] * min(per_line)
        per_call.append(max(extra, 0.0) / max(calls[2], 1))
    return {"line_s": min(per_line), "call_s": min(per_call)}


def _lines(n: int) -> int:
    i = 0
    while i < n:
        i += 1
    return i


def _calls(n: int) -> int:
    i, out = 0, os.path.basename  # a Python function of the standard library's
    while i < n:
        out("a/b")
        i += 1
    return i


def _bare(function: Callable[[int], int]) -> float:
    start = CLOCK()
    function(CALIBRATION_STEPS)
    return CLOCK() - start


def _charged(folder: str, function: Callable[[int], int]) -> tuple[float, int, int]:
    """What the tracer charges to ``function`` (counted as the submission's), its line
    events and its calls out."""
    tracer = Tracer(folder)
    tracer.files[__file__] = CALIBRATION
    tracer.run(function, CALIBRATION_STEPS)
    cells = [c for key, c in tracer.spent.items() if key[0] == CALIBRATION]
    return sum(c[0] for c in cells), sum(c[1] for c in cells), sum(c[2] for c in cells)


class Profiled:
    """The model's call, traced; what it found becomes the report of its block."""

    def __init__(self, call: Callable, folder: str) -> None:
        self.call = call
        self.tracer = Tracer(folder)
        self.calibration = calibrate(folder)
        self.calls = 0
        self.seconds = 0.0
        PENDING.clear()

    def __call__(self, x: object) -> object:
        start = CLOCK()
        try:
            return self.tracer.run(self.call, x)
        finally:
            self.seconds += CLOCK() - start
            self.calls += 1
            PENDING["profile"] = self.summary  # type: ignore[assignment]

    def summary(self) -> dict:
        """The report: the lines that took the most time, one by one, the rest summed."""
        cost = self.calibration
        cells = sorted(
            self.spent_items(),
            key=lambda kc: -(kc[1][0] - kc[1][1] * cost["line_s"] - kc[1][2] * cost["call_s"]),
        )
        lines = [
            {"file": f, "line": n, "function": fn[:100], "seconds": c[0], "events": c[1],
             "calls_out": c[2]}
            for (f, n, fn), c in cells[:MAX_LINES]
        ]  # fmt: skip
        rest = [c for _, c in cells[MAX_LINES:]]
        return {
            "calls": self.calls,
            "traced_seconds": self.seconds,
            "tracer": dict(cost),
            "lines": lines,
            "rest": {
                "lines": len(rest),
                "seconds": sum(c[0] for c in rest),
                "events": sum(c[1] for c in rest),
                "calls_out": sum(c[2] for c in rest),
            },
        }

    def spent_items(self) -> list:
        return [(k, c) for k, c in self.tracer.spent.items() if k[0] != CALIBRATION]


def traced(call: Callable, message: dict) -> Callable:
    """The model's call for a block: traced where the block message asks for a profile."""
    return Profiled(call, os.getcwd()) if message.get("profile") else call


def report() -> dict:
    """What the "done" message of a profiled block adds (nothing after any other block)."""
    found = PENDING.pop("profile", None)
    return {"profile": found()} if callable(found) else {}
