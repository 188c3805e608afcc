"""Where the time goes: each model's own lines, traced through one untimed block in a child
of its own, and the instructions of its counted block by library
(docs/DESIGN.md, Where the time goes).

After the timed sessions (and, for the digits, the ablation and the instruction counts),
one more child per model is started and loaded as a timed one is, warms up on decoys, and
answers one block with its lines traced (``grader/child/profile.py``): public held-out
digits with noise, one at a time, as a timed block shows them; for a generation model, a
public walk after ``reset(1)``, one step at a time. Nothing is timed meanwhile, and the
report it sends back is the submission's process's own account: checked here for shape and
size, kept as an observation, and never scored (hints read it; a hint changes no score).

The library buckets come from the counted runs instead (``instructions.InstructionCount``
keeps each run's functions as cachegrind wrote them): the parent reads those files, and
``grader/sandbox/libraries.py`` sorts each function into BLAS, NumPy, the interpreter or
other. Nothing here is a verdict: a child that fails leaves its profile absent, with why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from grader.child import profile, wire
from grader.errors import ChildFailure
from grader.measure.generation import GenerationReferee
from grader.measure.instructions import samples_per_block
from grader.measure.launch import Launcher
from grader.measure.plan import Model
from grader.measure.referee import Progress, Referee
from grader.sandbox import libraries
from grader.sandbox.handle import Child
from grader.sandbox.profiled import ProfiledChild

SIDES = ("baseline", "optimized")
PROFILE_SAMPLES = 256  # digits in the profiled block; fewer for a slow model
PROFILE_SECONDS = 0.25  # of the slower model's native time, which cuts the block
WARMUP_BLOCKS, WARMUP_SAMPLES = 2, 32  # as a timed child begins: its first calls pay more
PROFILE_TIMEOUT_S = 120.0  # the tracer slows a model down about twofold
NOT_COUNTED = "this grade's plan counts no instructions"
PHASE = "profiling where the time goes"
# What a child's report may hold, at most (it is the submission's process's account).
MAX_SECONDS, MAX_EVENTS, MAX_LINE, MAX_TRACER_S = 1e4, 10**9, 10**7, 1e-3


class Profiler:
    """The profiled children of one grade: started by its launcher, loaded by ``protocol``,
    each given one block to answer with its lines traced."""

    def __init__(self, launcher: Launcher, protocol: str, in_shape: tuple, classes: int) -> None:
        self.launcher = launcher
        self.plan = launcher.plan
        self.protocol = protocol
        self.in_shape, self.classes = in_shape, classes

    def side(self, model: Model, warm: Callable[[Child], None], feed: np.ndarray) -> dict:
        """One model's profile: its child warmed up by ``warm``, then ``feed`` traced."""
        child = None
        try:
            started = self.launcher.spawner(
                model.name, model.folder, self.plan.limits, None, self.launcher.page_bytes,
                files=model.files,
            )  # fmt: skip
            if not isinstance(started, Child):
                started.close()
                return absent("this grade's children cannot be profiled")
            child = ProfiledChild.of(started)
            child.load(
                model.entrypoint_file, model.function, 0, self.launcher.imports,
                self.plan.load_timeout_s, self.protocol,
            )  # fmt: skip
            warm(child)
            child.check_threads()
            child.profiling = True
            child.time_block(feed, 1, False, self.in_shape, self.classes, PROFILE_TIMEOUT_S)
            child.check_threads()
            return checked(child.report, model.files, len(feed))
        except ChildFailure as exc:
            return absent(f"{exc.code}: {exc.message}")
        finally:
            if child is not None:
                child.close()


def profile_digits(
    referee: Referee, models: tuple[Model, Model], latencies_s: tuple[float, float]
) -> dict[str, dict]:
    """Both models' profiles on the same digits (the digits' referee, ``referee``): a block
    of public held-out digits with noise, fewer where the slower model would spend more
    than ``PROFILE_SECONDS`` of its native time on them."""
    inputs, timer = referee.inputs, referee.timer
    n = samples_per_block(PROFILE_SAMPLES, PROFILE_SECONDS, max(latencies_s))
    feed = inputs.noisy(inputs.public_sample(n))
    profiler = Profiler(referee.launcher, wire.CLASSIFICATION, inputs.in_shape, timer.classes)

    def warm(child: Child) -> None:
        for _ in range(WARMUP_BLOCKS):
            child.time_block(
                inputs.decoys(WARMUP_SAMPLES), 1, False, inputs.in_shape, timer.classes,
                PROFILE_TIMEOUT_S,
            )  # fmt: skip

    return both(referee.progress, profiler, models, warm, feed)


def profile_text(referee: GenerationReferee, models: tuple[Model, Model]) -> dict[str, dict]:
    """Both models' profiles on the same walk (the generation referee, ``referee``): the
    first walk the grade shows that opens with a public record, after a warm-up of random
    tokens, each after ``reset(1)``."""
    plan = referee.plan
    public = [w for w in referee.walks[0] if w.scored in set(referee.asked)]
    if not public:
        return {side: absent("the grade shows no public walk to profile") for side in SIDES}
    feed = public[0].tokens[: plan.length].reshape(-1, 1).astype(np.int64)
    profiler = Profiler(referee.launcher, wire.GENERATION, (), referee.vocab)

    def warm(child: Child) -> None:
        child.reset(1, plan.block_timeout_s)
        child.time_block(referee.decoys(plan.block_steps), 1, False, (), referee.vocab,
                         PROFILE_TIMEOUT_S)  # fmt: skip
        child.reset(1, plan.block_timeout_s)

    return both(referee.progress, profiler, models, warm, feed)


def both(
    progress: Progress,
    profiler: Profiler,
    models: tuple[Model, Model],
    warm: Callable[[Child], None],
    feed: np.ndarray,
) -> dict[str, dict]:
    """Each model's profile, in turn."""
    out = {}
    for k, (side, model) in enumerate(zip(SIDES, models, strict=True)):
        progress(PHASE, k, len(SIDES))
        out[side] = profiler.side(model, warm, feed)
    progress(PHASE, len(SIDES), len(SIDES))
    return out


def section(profiles: dict[str, dict], buckets: dict, started: float) -> dict:
    """The result's ``hotspots``: the observations, as made."""
    return {
        "profile": profiles,
        "buckets": buckets,
        "wall_seconds": time.perf_counter() - started,
    }


def bucket_runs(instructions: dict, functions: dict[str, list]) -> dict:
    """The counted runs' instructions by library, run by run as ``instructions`` stores
    them; or, where they were not counted, why."""
    if not instructions.get("counted"):
        reason = f"the instructions were not counted ({instructions.get('reason')})"
        return {"counted": False, "reason": reason[:500], "runs": None}
    table = libraries.symbol_buckets()
    runs = {
        side: [
            {"blocks": list(blocks), "buckets": libraries.buckets(found, table)}
            for blocks, found in functions.get(side, [])
        ]
        for side in SIDES
    }
    return {"counted": True, "reason": None, "runs": runs}


def not_counted() -> dict:
    """The buckets of a grade whose plan counts no instructions."""
    return {"counted": False, "reason": NOT_COUNTED, "runs": None}


def absent(reason: str) -> dict:
    """A profile that could not be taken, and why."""
    return {"available": False, "reason": reason[:500]}


class BadReport(ValueError):
    """A child's report that is not one (it is the submission's process's account)."""


def checked(report: object, files: tuple[str, ...], samples: int) -> dict:
    """The child's report as the result keeps it, checked field by field; absent with why
    where it does not check out."""
    try:
        if not isinstance(report, dict):
            raise BadReport(f"its block's 'done' carried {type(report).__name__}, not a profile")
        lines = report.get("lines")
        if not isinstance(lines, list) or len(lines) > profile.MAX_LINES:
            raise BadReport(f"'lines' is not a list of at most {profile.MAX_LINES}")
        calls = number(report, "calls", int, MAX_EVENTS)
        if calls != samples:
            raise BadReport(f"it reports {calls} calls of the model for {samples} samples")
        tracer = report.get("tracer")
        if not isinstance(tracer, dict):
            raise BadReport("'tracer' is not an object")
        return {
            "available": True,
            "reason": None,
            "samples": samples,
            "traced_seconds": number(report, "traced_seconds", float, MAX_SECONDS),
            "tracer": {k: number(tracer, k, float, MAX_TRACER_S) for k in ("line_s", "call_s")},
            "lines": [line_of(line, set(files)) for line in lines],
            "rest": {
                "lines": number(report.get("rest") or {}, "lines", int, MAX_EVENTS),
                **spent(report.get("rest") or {}),
            },
        }
    except BadReport as exc:
        return absent(f"the profiled child's report does not check out: {exc}")


def line_of(line: object, files: set[str]) -> dict:
    """One line of the report: a line of one of the model's files, and its time."""
    if not isinstance(line, dict):
        raise BadReport("a line is not an object")
    file, function = line.get("file"), line.get("function")
    if not isinstance(file, str) or file not in files or not file.endswith(".py"):
        raise BadReport(f"a line names {str(file)[:80]!r}, not a Python file of the model's")
    if not isinstance(function, str) or len(function) > 100:
        raise BadReport("a line's function is not a name of at most 100 characters")
    return {
        "file": file,
        "line": number(line, "line", int, MAX_LINE),
        "function": function,
        **spent(line),
    }


def spent(found: dict) -> dict:
    """The time charged, the line events and the calls out of the submission's code."""
    return {
        "seconds": number(found, "seconds", float, MAX_SECONDS),
        "events": number(found, "events", int, MAX_EVENTS),
        "calls_out": number(found, "calls_out", int, MAX_EVENTS),
    }


def number(found: dict, key: str, kind: type, most: float) -> int | float:
    """``found[key]``, a number of ``kind`` in [0, ``most``]."""
    value = found.get(key)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        ok = ok and isinstance(value, int)
    if not ok or not math.isfinite(value) or not 0 <= value <= most:
        raise BadReport(f"{key!r} is {str(value)[:40]}, not a number in [0, {most:g}]")
    return kind(value)
