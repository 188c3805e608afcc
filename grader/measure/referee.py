"""The referee: owns the clock, and runs the grade's sessions, each a pair of fresh
children timed in turn (docs/DESIGN.md, Measurement).

The baseline and the submission each run in a worker child of their own. Rounds alternate
A B, B A, … on the same inputs (``Referee.timed_round``), so that each round yields one
paired ratio of per-sample latencies; the speedup is the median of those ratios. What
each block shows is ``inputs.py``'s; timing one block is ``blocks.py``'s; the answers and
their checks are ``answers.py``'s, the caching check ``caching.py``'s.

The clock and the process spawner are passed in (``clock``, ``spawner``), so that the
timing logic runs on a fake clock with fake children in the tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator

import numpy as np

from grader.child import handoff
from grader.errors import ChildFailure, GraderError, Rejected, Verdict
from grader.measure import caching, schedule
from grader.measure.answers import Answers, ScoredDraw, check_answers
from grader.measure.blocks import MIN_LATENCY_S, BlockTimer, block_size, calibrated, overhead
from grader.measure.inputs import Inputs
from grader.measure.launch import Clock, Launcher, Spawner
from grader.measure.measurement import CpuWait, Measurement, ModelMeasurement
from grader.measure.plan import Model, Plan
from grader.sandbox.launch import spawn
from grader.sandbox.process import ModelProcess

Progress = Callable[[str, int, int], None]


class Referee:
    """Runs one grade: two children per session, one clock."""

    def __init__(
        self,
        images: np.ndarray,
        classes: int,
        plan: Plan,
        progress: Progress | None = None,
        seed: int | None = None,
        imports: dict | None = None,
        private: np.ndarray | None = None,
        decoys: np.ndarray | None = None,
        *,
        clock: Clock = time.perf_counter,
        spawner: Spawner = spawn,
    ) -> None:
        self.plan = plan
        self.progress = progress or (lambda phase, done, total: None)
        self.clock = clock
        self.seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.inputs = Inputs(images, plan, self.rng, private, decoys)
        images = self.inputs.images
        page_bytes = handoff.page_bytes(
            max(plan.throughput_batch, 1), images[0].nbytes // images.itemsize * 4, classes * 4
        )
        self.launcher = Launcher(plan, imports, self.rng, page_bytes, clock, spawner)
        self.sandbox = self.launcher.sandbox  # what the children reported, for the result
        self.timer = BlockTimer(
            plan.block_timeout_s, self.inputs.in_shape, classes, self.inputs.decoys
        )
        self.scored = ScoredDraw(len(images), self.rng)
        self.round_roles: list[str] = []  # per timed round: its role in the caching check
        self.round_sessions: list[int] = []
        self.cache_check = caching.NOT_RUN
        self.timed_seconds = 0.0  # the timed rounds' wall time, all sessions
        self.cpu_wait = CpuWait()  # the children's, over the timed part of every session

    # -- the whole measurement ----------------------------------------------------------------
    def measure(self, baseline: Model, submission: Model) -> Measurement:
        started = self.clock()
        self.cpu_wait = CpuWait()
        parent_core, child_core = pick_cores()
        affinity = {
            "parent": parent_core,
            "children": child_core,
            "pinned": parent_core is not None and child_core is not None,
        }
        results = [ModelMeasurement(Answers.of(len(self.inputs.images))) for _ in range(2)]
        with pinned(parent_core):
            block_size, sessions, stop_reason = self.sessions(
                (baseline, submission), results, child_core
            )
            self.check_caching(results)  # once, on every session's rounds
        if len(self.inputs.images) > self.inputs.public_count:
            for r in results:
                r.answers.split_private(self.inputs.public_count)
        return Measurement(
            baseline=results[0],
            submission=results[1],
            block_size=block_size,
            warmup_rounds=self.plan.warmup_rounds,
            rounds=len(sessions),
            session_of_round=sessions,
            round_roles=list(self.round_roles),
            stop_reason=stop_reason,
            seed=self.seed,
            affinity=affinity,
            wall_seconds=self.clock() - started,
            cache_check=self.cache_check,
            cpu_wait=self.cpu_wait,  # a new one each measure()
        )

    def sessions(
        self, models: tuple[Model, Model], results: list[ModelMeasurement], core: int | None
    ) -> tuple[int, list[int], str]:
        """Every session in turn: the block size, each round's session, why the first stopped."""
        block_size = 0
        sessions: list[int] = []
        stop_reason = "max_rounds"
        budget = self.plan.time_budget_s / self.plan.sessions
        target_rounds = None
        for k in range(self.plan.sessions):
            block_size, rounds, reason = self.session(
                k, models, results, block_size, core, budget, target_rounds
            )
            # After each session: a submission caught need not be measured further.
            check_answers(results[1].answers, self.plan.min_repeat_agreement)
            target_rounds = target_rounds or rounds
            sessions += [k] * rounds
            stop_reason = reason if k == 0 else stop_reason
        return block_size, sessions, stop_reason

    def check_caching(self, results: list[ModelMeasurement]) -> None:
        """The caching check over every session's rounds (caching.py), kept for the result."""
        self.cache_check = caching.compare(
            self.round_roles,
            self.round_sessions,
            results[0].latency_samples_s,
            results[1].latency_samples_s,
            self.seed,
        )
        caching.reject_a_cache(self.cache_check, self.plan.max_repeat_gain)

    # -- one session -----------------------------------------------------------------------------
    def session(
        self,
        k: int,
        models: tuple[Model, Model],
        results: list[ModelMeasurement],
        n: int,
        core: int | None,
        budget: float,
        target_rounds: int | None,
    ) -> tuple[int, int, str]:
        """One pair of fresh children: calibrate, load, warm up, time rounds, throughput."""
        children: list[ModelProcess] = []
        self.timer.live = children
        try:
            with Verdicts():
                self.launcher.start(k, models, core, children)
                # The interpreter-plus-NumPy footprint, before any model code is imported.
                self.timer.calibrate(children, 16, 1, 3)
                base_rss = [c.peak_rss_bytes() for c in children]
                self.launcher.load(children, results, models)
                if not n:
                    n = block_size(self.timer, children, self.plan, self.inputs)
                with self.cpu_wait.over(children):
                    rounds, reason = self.timed_rounds(
                        k, children, results, n, budget, target_rounds
                    )
                    self.throughput(children, results, n)
                for child in children:  # one started in the last block, never followed
                    child.check_threads()
                for child, res, base in zip(children, results, base_rss, strict=True):
                    res.keep_largest_rss(base, child.peak_rss_bytes())
            return n, rounds, reason
        finally:
            for child in children:
                child.close()

    # -- the rounds: ABBA ------------------------------------------------------------------------
    def timed_rounds(
        self,
        k: int,
        children: list[ModelProcess],
        results: list[ModelMeasurement],
        n: int,
        budget: float,
        target_rounds: int | None,
    ) -> tuple[int, str]:
        plan = self.plan
        calib = self.timer.calibrate(children, n, 1, plan.calibration_blocks)
        for r in range(plan.warmup_rounds):
            inputs = self.inputs.decoys(n)
            for child in children if r % 2 == 0 else children[::-1]:
                self.timer.block(child, inputs)
            self.progress(f"session {k + 1}/{plan.sessions}: warming up", r + 1, plan.warmup_rounds)
        stream = self.inputs.schedule(k, n, target_rounds)
        least, cap = stream.least, stream.cap
        raw: list[list[float]] = [[], []]
        rounds, reason = 0, "max_rounds"
        started = last = self.clock()
        while rounds < cap:
            self.timed_round(k, rounds, stream.next_round(), children, results, raw, calib)
            rounds += 1
            now = self.clock()
            self.timed_seconds += now - last
            last = now
            if self.timed_seconds > plan.grade_timeout_s:
                raise Rejected(
                    Verdict.TIMEOUT,
                    f"the grade's timed rounds took more than {plan.grade_timeout_s:g} s in "
                    "all: the submission answers too slowly to be measured (a sample must "
                    "take well under a second)",
                )
            self.progress(f"session {k + 1}/{plan.sessions}: measuring", rounds, cap)
            if rounds < least or rounds % 2:
                continue
            if target_rounds is None and self.clock() - started > budget:
                reason = "time_budget"  # the first session only: see Plan.grade_timeout_s
                break
        if k == 0:  # every digit once (the first pass): the reserve not yet shown comes now
            left = stream.unshown_reserve()
            if len(left) % 2:
                left.append(dataclasses.replace(stream.next_round(), role=schedule.OTHER))
            for shown in left:
                self.timed_round(k, rounds, shown, children, results, raw, calib)
                rounds += 1
        cost = overhead(calib)  # the same for both children
        for i, res in enumerate(results):
            res.latency_samples_s += calibrated(raw[i], cost, n)
            res.overhead_s_per_sample.append(cost / n)
        return rounds, reason

    def timed_round(
        self,
        k: int,
        r: int,
        shown: schedule.Round,
        children: list[ModelProcess],
        results: list[ModelMeasurement],
        raw: list[list[float]],
        calib: list[list[float]],
    ) -> None:
        """Round ``r`` of session ``k``: both children time the same inputs, in A B or B A
        order; then both time a no-op block of them."""
        inputs = self.inputs.of_round(shown)
        self.round_roles.append(shown.role)
        self.round_sessions.append(k)
        scored = self.scored.draw(shown.idx)  # the same presentations for both children
        order = [0, 1] if r % 2 == 0 else [1, 0]  # A B, then B A: an ABBA pair
        for i in order:
            elapsed, scores = self.timer.block(children[i], inputs)
            raw[i].append(elapsed)
            results[i].answers.timed(shown, scored, scores)
        # The no-op blocks ride along in every round, so that the harness's cost is known
        # as precisely as the models' and drifts with them.
        for i in order:
            calib[i].append(self.timer.block(children[i], inputs, noop=True)[0])

    def throughput(
        self, children: list[ModelProcess], results: list[ModelMeasurement], n: int
    ) -> None:
        """Batched blocks, in another order and batching than the timed single samples; the
        answers must agree with the first pass's."""
        b = self.plan.throughput_batch
        nb = max(b, (n // b) * b)
        calib = self.timer.calibrate(children, nb, b, self.plan.calibration_blocks)
        cost = overhead(calib)  # the baseline child's, for both (see overhead)
        for r in range(self.plan.throughput_rounds):
            idx, inputs = self.inputs.random_inputs(nb)
            for i in [0, 1] if r % 2 == 0 else [1, 0]:
                elapsed, scores = self.timer.block(children[i], inputs, batch=b)
                results[i].throughput_samples_s.append(nb / max(elapsed - cost, MIN_LATENCY_S * nb))
                results[i].answers.batched(idx, scores)


class Verdicts:
    """Turn a child's failure into a verdict: the submission's is ``Rejected``; the
    baseline's is the grader's own problem and says so."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or not issubclass(exc_type, ChildFailure):
            return False
        if exc.who == "submission":
            raise Rejected(exc.code, exc.message) from None
        raise GraderError(f"the baseline failed ({exc.code}): {exc.message}") from None


def pick_cores() -> tuple[int | None, int | None]:
    """One core for the parent and one shared by both children, where there are two.

    Measured here: pinned, identical models came out 0.999 with a CV of 0.56 %;
    unpinned, 0.973 with a CV of 7.4 % (docs/DESIGN.md, Measurement).
    """
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(cores) < 2:
        return None, None
    return cores[0], cores[1]


@contextlib.contextmanager
def pinned(core: int | None) -> Iterator[None]:
    """The parent pinned to ``core`` for the measurement, where there is one to pin to."""
    if core is None:
        yield
        return
    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, original)
