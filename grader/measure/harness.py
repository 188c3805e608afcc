"""The referee: owns the clock and the labels, and measures two children in turn.

The baseline and the submission each run in a worker child of their own. Each timed
*block* of distinct samples is ordered over the pipe and then handed to the child's loop
one sample (or batch) at a time through a shared page, the next only once the current one
is answered (``handoff``); the clock runs from the first release to the last answer, and
the loop's own cost is calibrated with a no-op model and subtracted
(docs/DESIGN.md, Measurement).
Rounds alternate A B, B A, … on the same inputs, so that each round yields one paired
ratio of per-sample latencies; the speedup is the median of those ratios.

Every input presented within a run is distinct: every presentation (the first timed pass
over the held-out images, the further rounds, the batched pass, the warm-up's decoys) adds
fresh noise below half an 8-bit grey level to the pixels strictly between 0 and 1 (see
``Referee.perturbed``). The answer accuracy counts is, for each digit, the answer to one of
its single-sample presentations drawn at random (``Referee.timed_round``): no pass can be
told for the scored one. (The held-out digits themselves are deformed per grade before they
reach the referee: grader/data/deform.py.)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import stats
from grader.child import handoff
from grader.errors import ChildFailure, GraderError, Rejected, SandboxIncomplete
from grader.measure import schedule
from grader.sandbox.handle import Child
from grader.sandbox.launch import Limits, spawn

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Plan:
    """How much to measure. The defaults aim at a full grade within about 30 s here."""

    sessions: int = 8  # fresh process pairs: their spread enters the speedup's interval
    warmup_rounds: int = 6  # per session, untimed
    min_rounds: int = 30  # per session; rounds come in A B / B A pairs
    # Per session. Every session runs this many rounds (or the first session's count,
    # when the first pass needs more): an early stop that depended on the timings would
    # also depend on where the reserve rounds fell, and bias the caching check.
    max_rounds: int = 60
    block_seconds: float = 0.010  # the slower model's block; the round trip is ~1 % of it
    max_block: int = 2048
    # The fewest samples a block holds, whatever the probes say (unless the pool cannot give
    # a session its reserve in blocks that large). A submission sets its block size by how
    # slowly it answers the untimed probes: with blocks of one, each round of new digits
    # among the repeats is one digit, about 24 in a grade, few enough to guess at cheaply
    # within the agreement bar while repeats come from a cache (such a model graded
    # 2.2-5.8x). In blocks of 32 they are hundreds, and they are checked on their own.
    min_block: int = 32
    calibration_blocks: int = 9  # per child before the timed rounds; then one every round
    throughput_batch: int = 32
    throughput_rounds: int = 4  # per session
    time_budget_s: float = 24.0  # for the timed rounds of all sessions together
    # The first session may stop early on its share of the budget (a very slow model's
    # safety valve); the later ones run exactly as many rounds, whatever their timings
    # (a submission that could end a session would choose which rounds are counted). A
    # grade whose timed rounds take longer than this in all is a timeout.
    grade_timeout_s: float = 600.0
    # A hang costs this long before its verdict. The probe block (32 samples) is the
    # longest: 20 s allows 0.6 s a sample, six times the Accuracy Contest's 100 ms rule.
    load_timeout_s: float = 30.0
    block_timeout_s: float = 20.0
    noise: float = 0.5 / 255  # under half a grey level: the same digit, never the same bytes
    limits: Limits = field(default_factory=Limits)
    require_sandbox: bool = False  # refuse to load submission code without every layer
    # Of the answers to digits already answered once (the first pass), the share that must
    # match that first answer: the same digit with noise under half a grey level, single,
    # batched, or met for the first time by a later session's processes. The example
    # submissions and baselines here agree on 99.89-100 %; a model honest only where it
    # can tell it is scored does not, nor one that guesses at digits it has not met and
    # keeps the guess. A share below this one is rejected once it is significantly below
    # (a one-sided binomial test at AGREEMENT_P_VALUE). The slack is not a bound on compute
    # saved: a cheap guesser that answers only where it is sure (44-67 % of new digits,
    # about 1 % of them wrong, in a replay) passes, and its speed is then that of the
    # honest cascade of the same parts (guess where sure, compute elsewhere), which
    # publishes as much (1.13-1.30x against the guesser's 1.13-1.18x).
    min_repeat_agreement: float = 0.99
    # How much faster (relative to the baseline) repeated digits may be answered than new
    # ones before a significant difference is taken for a cache of answers. Whatever this
    # check says, the published speedup is held to the upper end of the new digits'
    # interval, which bounds what a smaller cache publishes; a tighter bound would protect
    # no score and rejected honest grades (at 10 %: the honest example in 1 of 200 full
    # grades on a busy machine, 1.10x at p = 0.0002). Caches gain several times (4.9-6.3x).
    max_repeat_gain: float = 0.5
    # Per session: rounds of digits kept back and first shown at random places among all
    # its rounds after the main digits (see grader/measure/schedule.py), and how many rounds at
    # least follow the main digits before a session may stop.
    reserve_rounds: int = 4
    window_rounds: int = 12


QUICK = Plan(
    sessions=1,
    warmup_rounds=4,
    min_rounds=40,
    max_rounds=80,
    calibration_blocks=5,
    throughput_rounds=4,
    time_budget_s=4.0,
    # One session: enough reserve rounds for the caching check to reach its significance
    # on its own (6 among 40 or more rounds).
    reserve_rounds=6,
    window_rounds=24,
)

MIN_LATENCY_S = 1e-8  # floor for a calibrated latency: below this the clock cannot tell
MIN_FRESH_ROUNDS = 3  # rounds of new digits needed for caching to be judged
# Caching is judged once, at the end of the grade: each look is a test at CACHE_P_VALUE,
# each way, so judging after every session once 12 reserve rounds were in multiplied the
# honest model's chance of a rejection (3 of 679 honest full grades of the example beside
# a grade loop, load 1.4-11.5, two of them on an early look, one 3.00x on 12 new rounds;
# the final looks fell under p = 0.001 twice, at gains of 1.21x and less, neither over the
# 1.5x bound). The published speedup's hold needs no early verdict.
CACHE_P_VALUE = 1e-3  # repeated rounds faster than new ones at this significance: a cache
AGREEMENT_P_VALUE = 1e-3  # agreement below the least share at this significance: rejected


@dataclass(frozen=True)
class Model:
    """Where a child finds its model: the files of a folder that make it up (all that its
    private copy holds) and ``file.py:function`` among them."""

    name: str
    folder: Path
    entrypoint_file: str
    function: str
    files: tuple[str, ...]


@dataclass
class ModelMeasurement:
    latency_samples_s: list[float] = field(default_factory=list)  # calibrated, per round
    overhead_s_per_sample: list[float] = field(default_factory=list)  # per session
    throughput_samples_s: list[float] = field(default_factory=list)  # samples/s, per block
    # Per digit: the scored answer (one single-sample presentation drawn at random among
    # all of the digit's, see Referee.timed_round), and the first pass's answer, which
    # every later one is compared with.
    predictions: np.ndarray | None = None
    reference: np.ndarray | None = None
    private_predictions: np.ndarray | None = None  # on the sealed split, when it is scored
    # Answers to digits already answered once (the first pass), against that first answer:
    # timed single samples shown again (repeats), the first sightings of later sessions,
    # and the batched blocks. A model honest only on the pass it takes for the scored one,
    # or one that guesses at digits new to it and keeps the guess, disagrees here.
    repeats_agreed: int = 0
    repeats_compared: int = 0
    first_agreed: int = 0
    first_compared: int = 0
    reserve_agreed: int = 0  # of those, the reserve rounds' (met among the repeats)
    reserve_compared: int = 0
    batch_agreed: int = 0
    batch_compared: int = 0
    base_rss_bytes: int | None = None
    peak_rss_bytes: int | None = None
    load_seconds: float = 0.0

    def keep_largest_rss(self, base: int | None, peak: int | None) -> None:
        """Keep the session whose model took the most memory above its bare footprint."""
        if base is None or peak is None:
            return
        if self.peak_rss_bytes is None or peak - base > self.peak_rss_bytes - self.base_rss_bytes:
            self.base_rss_bytes, self.peak_rss_bytes = base, peak

    @property
    def batch_agreement(self) -> float | None:
        return self.batch_agreed / self.batch_compared if self.batch_compared else None

    @property
    def repeat_agreement(self) -> float | None:
        return self.repeats_agreed / self.repeats_compared if self.repeats_compared else None

    @property
    def first_sight_agreement(self) -> float | None:
        return self.first_agreed / self.first_compared if self.first_compared else None

    def agreeing(self, idx: np.ndarray, answers: np.ndarray) -> tuple[int, int]:
        """(agreed, compared): the answers to digits whose first-pass answer is known."""
        first = self.reference[idx]
        known = first >= 0
        return int(np.sum(answers[known] == first[known])), int(known.sum())

    def compare(self, kind: str, idx: np.ndarray, answers: np.ndarray) -> None:
        """Count answers of one ``kind`` (repeats, first, batch) against the first pass's."""
        agreed, compared = self.agreeing(idx, answers)
        setattr(self, f"{kind}_agreed", getattr(self, f"{kind}_agreed") + agreed)
        setattr(self, f"{kind}_compared", getattr(self, f"{kind}_compared") + compared)


@dataclass
class Measurement:
    baseline: ModelMeasurement
    submission: ModelMeasurement
    block_size: int
    warmup_rounds: int
    rounds: int
    session_of_round: list[int]
    round_roles: list[str]
    stop_reason: str
    seed: int
    affinity: dict
    wall_seconds: float
    cache_check: dict


class Referee:
    """Runs one grade: two children per session, one clock, the labels kept here."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: int,
        plan: Plan,
        progress: Progress | None = None,
        seed: int | None = None,
        imports: dict | None = None,
        private: np.ndarray | None = None,
        decoys: np.ndarray | None = None,
    ) -> None:
        self.imports = imports  # the import rules the child's audit hook enforces
        # The decrypted private inputs (the final phase), never their labels, join the
        # held-out ones: the first timed pass shows each of both once, in one
        # random order, and both accuracies come from those answers. After it, only the
        # private inputs are timed: the public ones are published, so a submission could
        # carry a table of their answers and look them up instead of computing.
        self.public_count = len(images)
        if private is not None:
            images = np.concatenate([images, private.astype(np.float32)])
        self.images = images  # float32 (N, *input_shape), the held-out inputs, noiseless
        self.labels = labels
        self.classes = classes
        self.plan = plan
        self.progress = progress or (lambda phase, done, total: None)
        self.seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.in_shape = tuple(images.shape[1:])
        self.page_bytes = handoff.page_bytes(
            max(plan.throughput_batch, 1), images[0].nbytes // images.itemsize * 4, classes * 4
        )
        self._limits_ok = True  # did every child get its rlimits?
        self.child_layers: dict[str, str] = {}  # the OS layers the submission's child reported
        self.live: list[Child] = []  # the current session's children
        total = len(images)
        # What the timed stream repeats after the first pass (see above).
        self.pool = np.arange(self.public_count if private is not None else 0, total)
        self.round_roles: list[str] = []  # per timed round: its role in check_caching
        self.presented = np.zeros(len(images), dtype=np.int64)  # timed single samples a digit
        self.round_sessions: list[int] = []
        self.cache_check: dict = {"judged": False, "reason": "no timed rounds"}
        self.timed_seconds = 0.0  # the timed rounds' wall time, all sessions
        # Inputs for everything but the timed rounds (see decoys): the training digits,
        # which tell nothing of the held-out ones; or, without them, uniform noise.
        if decoys is None:
            decoys = self.rng.random((256, *self.in_shape), dtype=np.float32)
        self.decoy_images = np.asarray(decoys, dtype=np.float32)

    # -- inputs ---------------------------------------------------------------------------
    def perturbed(self, clean: np.ndarray) -> np.ndarray:
        """The same images, never the same bytes: every pixel strictly between 0 and 1
        moves by less than half a grey level (never across either end); a pixel at 0 or 1
        (the background, a full stroke) keeps its value, so that a model that thresholds
        at either end (``x > 0``) sees the very image it saw before. Every held-out digit
        has at least 20 pixels in between."""
        noise = self.rng.uniform(-self.plan.noise, self.plan.noise, clean.shape)
        inside = (clean > 0) & (clean < 1)
        moved = np.clip(clean + np.where(inside, noise, 0.0).astype(np.float32), 0.0, 1.0)
        return moved.astype(np.float32)

    def noisy(self, idx: np.ndarray) -> np.ndarray:
        return self.perturbed(self.images[idx])

    def random_inputs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.rng.choice(len(self.images), n, replace=n > len(self.images))
        return idx, self.noisy(idx)

    def decoys(self, n: int) -> np.ndarray:
        """Inputs that are not held-out digits, nor can be turned back into them: training
        digits, with noise. The warm-up, the probes and the no-op blocks use these, so that
        each new pair of processes meets the held-out digits first in its timed rounds,
        where a cache's first answers can be told from its later ones. (Held-out digits
        turned upside down or with their pixels shuffled would not do: a model could undo
        the one and recognise the other by its sorted pixels, and compute the answers it
        will be asked for while nothing is timed.)"""
        pool = self.decoy_images
        return self.perturbed(pool[self.rng.choice(len(pool), n, replace=n > len(pool))])

    def schedule(self, k: int, n: int, target: int | None = None) -> schedule.Schedule:
        """Session ``k``'s timed stream (see grader/measure/schedule.py); ``target``: the number of
        rounds the first session ran, which the later ones run."""
        plan = self.plan
        return schedule.session(
            self.rng, k, len(self.images), self.pool, n, plan.reserve_rounds,
            plan.window_rounds, plan.min_rounds, plan.max_rounds, target,
        )  # fmt: skip

    def inputs(self, shown: schedule.Round) -> np.ndarray:
        """A round's inputs: every sample with fresh noise, the first pass's too (on the
        8-bit grid it could be told from the rest, and a model could then be honest
        there only)."""
        return self.noisy(shown.idx)

    # -- one block --------------------------------------------------------------------------
    def block(
        self, child: Child, inputs: np.ndarray, batch: int = 1, noop: bool = False
    ) -> tuple[float, np.ndarray]:
        """Time one block of ``inputs``, handed over ``batch`` at a time; return (seconds,
        scores). The clock runs from the first sample's release to the last answer."""
        n = len(inputs)
        # The other child is stopped while this one works: nothing it left running (a
        # thread, a timer's signal handler) can take the shared core from the timed one.
        # Both are counted, the timed one too: a thread it started in its last block would
        # otherwise work on unseen between two of its own blocks (the order runs S S).
        others = [c for c in self.live if c is not child]
        for other in others:
            other.pause()
        for counted in (*others, child):
            counted.check_threads()
        try:
            elapsed, scores = child.time_block(
                inputs, batch, noop, self.in_shape, self.classes, self.plan.block_timeout_s
            )
        finally:
            for other in others:
                other.resume()
        if not noop:
            bad = ~np.isfinite(scores).all(axis=1)
            if bad.any():
                raise child.failure(
                    "bad_output",
                    f"{child.name} returned NaN or infinite scores for {int(bad.sum())} of "
                    f"{n} samples",
                )
        return elapsed, scores

    def calibrate(
        self, children: list[Child], n: int, batch: int, blocks: int
    ) -> list[list[float]]:
        """No-op blocks of the same size through the same loop: the harness's own cost."""
        times: list[list[float]] = [[] for _ in children]
        for _ in range(blocks):
            inputs = self.decoys(n)
            for i, child in enumerate(children):
                times[i].append(self.block(child, inputs, batch, noop=True)[0])
        return times

    # -- the whole measurement ----------------------------------------------------------------
    def measure(self, baseline: Model, submission: Model) -> Measurement:
        started = time.perf_counter()
        parent_core, child_core = pick_cores()
        affinity = {
            "parent": parent_core,
            "children": child_core,
            "pinned": parent_core is not None and child_core is not None,
        }
        if parent_core is not None:
            original = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {parent_core})
        try:
            results = [ModelMeasurement(), ModelMeasurement()]
            for r in results:
                r.predictions = np.full(len(self.images), -1)
                r.reference = np.full(len(self.images), -1)
            block_size = 0
            sessions: list[int] = []
            stop_reason = "max_rounds"
            budget = self.plan.time_budget_s / self.plan.sessions
            target_rounds = None
            for k in range(self.plan.sessions):
                block_size, rounds, reason = self.session(
                    k,
                    (baseline, submission),
                    results,
                    block_size,
                    child_core,
                    budget,
                    target_rounds,
                )
                # After each session: a submission caught need not be measured further.
                self.check_answers(results[1])
                target_rounds = target_rounds or rounds
                sessions += [k] * rounds
                stop_reason = reason if k == 0 else stop_reason
            self.check_caching(results)  # once, on every session's rounds
        finally:
            if parent_core is not None:
                os.sched_setaffinity(0, original)
        if len(self.images) > self.public_count:
            for r in results:
                r.private_predictions = r.predictions[self.public_count :]
                r.predictions = r.predictions[: self.public_count]
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
            wall_seconds=time.perf_counter() - started,
            cache_check=self.cache_check,
        )

    def ablate(
        self,
        submission: Model,
        rewrites: dict[str, Callable[[Path], None]],
        first: np.ndarray,
        samples: int,
    ) -> dict:
        """Untimed, after the measurement: for each ``rewrites`` entry, one more child of the
        submission whose private copy that rewrite changed (one technique's evidence arrays
        shuffled) answers ``samples`` public held-out digits, with noise as every timed
        presentation, one at a time; its answers are counted against ``first``, the
        submission's own first-pass answers to them.

        A child that fails (crashes, hangs, answers NaN) is no verdict on the submission:
        its failure is recorded, as the answers' dependence on the arrays it shows."""
        n = min(samples, self.public_count)
        idx = np.sort(self.rng.choice(self.public_count, n, replace=False))
        checks: dict[str, dict] = {}
        for kind, rewrite in rewrites.items():
            agreed = compared = failure = None
            child = None
            try:
                child = spawn(
                    submission.name, submission.folder, self.plan.limits, None,
                    self.page_bytes, files=submission.files, prepare=rewrite,
                )  # fmt: skip
                self.live = [child]
                child.load(
                    submission.entrypoint_file, submission.function, self.layout_shift(),
                    self.imports, self.plan.load_timeout_s,
                )  # fmt: skip
                for _ in range(2):  # as a timed child begins: its first calls are decoys
                    self.block(child, self.decoys(32))
                _, scores = self.block(child, self.noisy(idx))  # as every presentation
                known = first[idx] >= 0
                answers = scores.argmax(axis=1)
                agreed = int(np.sum(answers[known] == first[idx][known]))
                compared = int(known.sum())
            except ChildFailure as exc:
                failure = f"{exc.code}: {exc.message}"[:300]
            finally:
                if child is not None:
                    child.close()
                self.live = []
            checks[kind] = {"agreed": agreed, "compared": compared, "failure": failure}
            self.progress("checking that the techniques found are used", len(checks), len(rewrites))
        return {"samples": n, "checks": checks}

    def check_answers(self, submission: ModelMeasurement) -> None:
        """Reject a submission whose later answers to a digit do not match its first.

        Accuracy counts one presentation of each digit, drawn at random: a model that
        answered most presentations fast and wrong would lose accuracy in proportion, but
        one that answered a few wrong would lose little and save their time; it could also
        answer batches differently from single samples; or, in a later session's new
        processes, guess at digits it has not met yet and keep the guess for their
        repeats (fast, and consistent with itself). Each is checked against its own
        first-pass answers."""
        least = self.plan.min_repeat_agreement
        checks = [
            (submission.repeats_agreed, submission.repeats_compared, "timed single-sample",
             "the same image with noise under half a grey level"),
            (submission.first_agreed, submission.first_compared, "first",
             "the same image with noise, met for the first time by a new process"),
            (submission.reserve_agreed, submission.reserve_compared, "first",
             "the same image with noise, met for the first time among the repeats"),
            (submission.batch_agreed, submission.batch_compared, "batched",
             "the same image with noise, in a batch"),
        ]  # fmt: skip
        for agreed, compared, kind, how in checks:
            if not compared or agreed >= least * compared:
                continue
            from scipy.stats import binomtest

            p = binomtest(agreed, compared, least, alternative="less").pvalue
            if p >= AGREEMENT_P_VALUE:
                continue  # too few answers to tell from an honest model's near-ties
            raise Rejected(
                "bad_output",
                f"the model answered the same digits differently: of its {compared:,} "
                f"{kind} answers to digits it had answered before ({how}), "
                f"{agreed / compared:.1%} matched its first answer; at least {least:.0%} "
                f"must ({p_text(p)}). Every call is scored: answer each one as you would "
                "the first (and check that no layer behaves differently in a batch).",
            )

    def check_caching(self, results: list[ModelMeasurement]) -> None:
        """Reject a submission that answers digits faster once it has seen them.

        Every later presentation of a digit carries fresh noise, but the noise cannot hide
        the digit from a model that looks it up (rounding to the 8-bit grid undoes it); a
        cache of answers would then make repeated digits cheaper than new ones. Each
        session keeps a few rounds of digits back and shows them, new to its processes,
        at random places among all its rounds after the main digits (grader/measure/schedule.py):
        there the submission's per-round speedup is compared with the repeats', each
        round's taken relative to its session's median, by a test that draws the positions
        again as they were drawn (``stats.randomised_gain``). An honest model is as fast on both; a
        cache is not. What was compared, or why nothing could be, goes in the result."""
        roles = np.asarray(self.round_roles)
        base = np.asarray(results[0].latency_samples_s)
        sub = np.asarray(results[1].latency_samples_s)
        if len(roles) != len(base):
            return  # a session was cut short: its rounds are not in the latencies
        ratios = base / sub
        sessions = np.asarray(self.round_sessions)
        windows = []
        for k in np.unique(sessions):
            mine = (sessions == k) & (roles != schedule.OTHER)
            if (roles[mine] == schedule.FRESH).any() and (roles[mine] == schedule.REPEAT).any():
                windows.append((ratios[mine], roles[mine] == schedule.FRESH))
        fresh = sum(int(m.sum()) for _, m in windows)
        repeat = sum(int((~m).sum()) for _, m in windows)
        check = {"judged": False, "fresh_rounds": fresh, "repeated_rounds": repeat}
        if fresh < MIN_FRESH_ROUNDS or repeat < 2:
            check["reason"] = (
                f"{fresh} rounds of new digits and {repeat} of repeated ones: too few to "
                f"judge (at least {MIN_FRESH_ROUNDS} and 2)"
            )
            self.cache_check = check
            return
        gain, p, p_reverse = stats.randomised_gain(windows, seed=self.seed)
        self.cache_check = check | {"judged": True, "gain": gain, "p_value": p}
        # Rejected only where significant: the test is exact whatever the machine's load
        # does (the reserve's places are drawn uniformly), where a bound on the gain alone
        # rejected honest grades on a busy machine (1.79x and 1.94x, seen). What a cache
        # that escapes it could gain is held by the speedup's cap at the new digits'
        # interval (result.new_digit_bound), which also covers a cache on part of the
        # repeats, ranked to stay under the test (p about 0.01: docs/DESIGN.md, Caching check).
        bound = 1 + self.plan.max_repeat_gain
        if gain < 1 / bound and p_reverse < CACHE_P_VALUE:
            # An honest model is as fast on both; one that knows a new digit when it meets
            # one could slow its repeats where they are compared, to hide a cache.
            raise Rejected(
                "bad_output",
                f"the model answered digits new to it {1 / gain:.2f}x as fast, relative to "
                f"the baseline, as digits it had seen before ({p_text(p_reverse)} over "
                f"{fresh} new and {repeat} repeated rounds): its speed depends on whether "
                "it has met a digit. Answer every call the same way.",
            )
        if gain <= bound or p >= CACHE_P_VALUE:
            return
        raise Rejected(
            "bad_output",
            f"the model answered digits it had seen before {gain:.2f}x as fast, relative to "
            f"the baseline, as digits new to it ({p_text(p)} over {fresh} new and "
            f"{repeat} repeated rounds): answers are being kept and looked up. Compute "
            "every answer: a cache of previous inputs is not an optimisation the Olympics "
            "measure.",
        )

    def check_sandbox(self) -> None:
        """With ``require_sandbox``, stop before any submission code is loaded if a layer
        is not active here."""
        if not self.plan.require_sandbox:
            return
        from grader.child.confine import LAYERS

        reported = self.layers()
        weak = {k: v for k, v in reported.items() if v.startswith(("unavailable", "off"))}
        weak |= {k: "not reported by the child" for k in LAYERS if k not in reported}
        if weak:
            raise SandboxIncomplete(
                "the sandbox is not complete on this machine, and --require-sandbox asks for "
                "every layer: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(weak.items()))
                + ". Nothing of the submission was loaded. Grade on a machine where every "
                "layer starts (see SECURITY.md), or without --require-sandbox."
            )

    def layers(self) -> dict[str, str]:
        """Every layer of the sandbox and its state, as the result records it."""
        return {
            "static_check": "passed" if self.imports else "off",
            "workdir": "private read-only copy",
            "process_group": "own session, killed as a group",
            "environment": "whitelist",
            "rlimits": "prlimit" if self._limits_ok else "unavailable",
            **self.child_layers,
            "audit_hook": "installed" if self.imports else "off",
        }

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
        children: list[Child] = []
        self.live = children
        try:
            with _Verdicts():
                # Sessions alternate which child starts first: measured here, the child
                # started first ran the transformer about 0.5 % slower than the other,
                # whichever model it held. Alternating turns that into spread between
                # sessions, which the interval carries, instead of a bias.
                for model in models if k % 2 == 0 else models[::-1]:
                    children.append(
                        spawn(
                            model.name,
                            model.folder,
                            self.plan.limits,
                            core,
                            self.page_bytes,
                            files=model.files,
                        )
                    )
                    self._limits_ok &= children[-1].info.get("limits") == "prlimit"
                if k % 2:
                    children.reverse()  # in place: self.live is this list
                self.child_layers = children[1].info.get("layers", {})
                self.check_sandbox()
                # The interpreter-plus-NumPy footprint, before any model code is imported.
                self.calibrate(children, 16, 1, 3)
                base_rss = [c.peak_rss_bytes() for c in children]
                for child, res, model in zip(children, results, models, strict=True):
                    t0 = time.perf_counter()
                    child.load(
                        model.entrypoint_file, model.function, self.layout_shift(),
                        self.imports, self.plan.load_timeout_s,
                    )  # fmt: skip
                    child.check_threads()  # one started by build_model, before any block
                    res.load_seconds = max(res.load_seconds, time.perf_counter() - t0)
                if not n:
                    n = self.block_size(children)
                rounds, reason = self.timed_rounds(k, children, results, n, budget, target_rounds)
                self.throughput(children, results, n)
                for child in children:  # one started in the last block, never followed
                    child.check_threads()
                for child, res, base in zip(children, results, base_rss, strict=True):
                    res.keep_largest_rss(base, child.peak_rss_bytes())
            return n, rounds, reason
        finally:
            for child in children:
                child.close()

    def layout_shift(self) -> int:
        """Bytes a child allocates and keeps before it builds its model: a different
        amount in every child, so that where the model's arrays land in memory (and so
        how they align with cache lines and pages) is random from session to session.

        Measured here: the transformer's baseline, graded against a copy whose model.py
        differed only by a comment, came out 1.0125, 1.0076 and 1.0096, every interval
        excluding 1; the same copy against itself, 1.001, 0.9985, 1.0002. The addresses a
        process's allocations get are set by what it allocated before, down to the
        length of its source files, and a fixed layout is a fixed bias (Mytkowicz et al.,
        "Producing wrong data without doing anything obviously wrong!", ASPLOS 2009).
        Randomised per child, it becomes spread between sessions, which the interval
        carries."""
        return int(self.rng.integers(0, 4096)) * 16

    def block_size(self, children: list[Child]) -> int:
        """Untimed probe blocks that size a block to the slower model's ``block_seconds``."""
        per_sample = []
        for child in children:
            for _ in range(2):  # the first call pays for lazy imports and page faults
                elapsed, _ = self.block(child, self.decoys(32))
            per_sample.append(elapsed / 32)
        n = round(self.plan.block_seconds / max(per_sample))
        largest = min(
            self.plan.max_block, schedule.max_block(len(self.pool), self.plan.reserve_rounds)
        )
        return int(np.clip(n, min(self.plan.min_block, largest), largest))

    def timed_rounds(
        self,
        k: int,
        children: list[Child],
        results: list[ModelMeasurement],
        n: int,
        budget: float,
        target_rounds: int | None,
    ) -> tuple[int, str]:
        plan = self.plan
        calib = self.calibrate(children, n, 1, plan.calibration_blocks)
        for r in range(plan.warmup_rounds):
            inputs = self.decoys(n)
            for child in children if r % 2 == 0 else children[::-1]:
                self.block(child, inputs)
            self.progress(f"session {k + 1}/{plan.sessions}: warming up", r + 1, plan.warmup_rounds)
        stream = self.schedule(k, n, target_rounds)
        least, cap = stream.least, stream.cap
        raw: list[list[float]] = [[], []]
        rounds, reason = 0, "max_rounds"
        started = last = time.perf_counter()
        while rounds < cap:
            self.timed_round(k, rounds, stream.next_round(), children, results, raw, calib)
            rounds += 1
            now = time.perf_counter()
            self.timed_seconds += now - last
            last = now
            if self.timed_seconds > plan.grade_timeout_s:
                raise Rejected(
                    "timeout",
                    f"the grade's timed rounds took more than {plan.grade_timeout_s:g} s in "
                    "all: the submission answers too slowly to be measured (a sample must "
                    "take well under a second)",
                )
            self.progress(f"session {k + 1}/{plan.sessions}: measuring", rounds, cap)
            if rounds < least or rounds % 2:
                continue
            if target_rounds is None and time.perf_counter() - started > budget:
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
            res.latency_samples_s += self.calibrated(raw[i], cost, n)
            res.overhead_s_per_sample.append(cost / n)
        return rounds, reason

    def timed_round(
        self,
        k: int,
        r: int,
        shown: schedule.Round,
        children: list[Child],
        results: list[ModelMeasurement],
        raw: list[list[float]],
        calib: list[list[float]],
    ) -> None:
        """Round ``r`` of session ``k``: both children time the same inputs, in A B or B A
        order; then both time a no-op block of them."""
        idx, inputs = shown.idx, self.inputs(shown)
        self.round_roles.append(shown.role)
        self.round_sessions.append(k)
        # The scored answer of each digit: one of its presentations, drawn uniformly among
        # all of them as they come (a reservoir of one, Vitter's algorithm R), the same for
        # both children; the submission cannot know which until the grade ends.
        self.presented[idx] += 1
        scored = self.rng.random(len(idx)) * self.presented[idx] < 1
        order = [0, 1] if r % 2 == 0 else [1, 0]  # A B, then B A: an ABBA pair
        for i in order:
            elapsed, scores = self.block(children[i], inputs)
            raw[i].append(elapsed)
            answers = scores.argmax(axis=1)
            results[i].predictions[idx[scored]] = answers[scored]
            results[i].reference[idx[shown.first_pass]] = answers[shown.first_pass]
            first = shown.new & ~shown.first_pass  # a later session's first sightings
            results[i].compare("first", idx[first], answers[first])
            if shown.role == schedule.FRESH:
                results[i].compare("reserve", idx[first], answers[first])
            results[i].compare("repeats", idx[~shown.new], answers[~shown.new])
        # The no-op blocks ride along in every round, so that the harness's cost is known
        # as precisely as the models' and drifts with them.
        for i in order:
            calib[i].append(self.block(children[i], inputs, noop=True)[0])

    @staticmethod
    def calibrated(raw: list[float], overhead: float, n: int) -> list[float]:
        return [max((t - overhead) / n, MIN_LATENCY_S) for t in raw]

    def throughput(self, children: list[Child], results: list[ModelMeasurement], n: int) -> None:
        """Batched blocks, in another order and batching than the timed single samples; the
        answers must agree with the first pass's."""
        b = self.plan.throughput_batch
        nb = max(b, (n // b) * b)
        calib = self.calibrate(children, nb, b, self.plan.calibration_blocks)
        cost = overhead(calib)  # the baseline child's, for both (see overhead)
        for r in range(self.plan.throughput_rounds):
            idx, inputs = self.random_inputs(nb)
            for i in [0, 1] if r % 2 == 0 else [1, 0]:
                elapsed, scores = self.block(children[i], inputs, batch=b)
                results[i].throughput_samples_s.append(nb / max(elapsed - cost, MIN_LATENCY_S * nb))
                results[i].compare("batch", idx, scores.argmax(axis=1))


def p_text(p: float) -> str:
    """A p-value for a sentence: one significant digit, and no "p = 0"."""
    return f"p = {p:.1g}" if p >= 1e-12 else "p < 1e-12"


def overhead(calib: list[list[float]]) -> float:
    """The harness cost to subtract from either child's blocks: the baseline child's no-op
    blocks' median (index 0), for both children. The two run the same loop, but only the
    baseline's process runs nothing but our code: the submission's no-op blocks share a
    process with its code (a signal handler could slow them down to inflate what is
    subtracted). Taking the smaller of the two medians instead, as an earlier version did,
    is biased: the minimum of two noisy estimates runs low, which charged an identical
    model about 1 % of extra latency where the loop's cost is a fifth of the model's."""
    return float(np.median(calib[0]))


class _Verdicts:
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
