"""The instruction counts of a generation workload: each model's children step one of the
grade's walks, untimed, under valgrind's cachegrind, in the same sandbox layers as a timed
child, and the parent keeps what cachegrind counted (docs/DESIGN.md, Instruction counts).

The runs are the digits' (``instructions.RUNS``), told apart by difference in the same
way; a block of a generation run is ``reset(1)`` and then its tokens, one step each:

- the warm-up: ``WARMUP_STEPS`` tokens to the no-op model, then the first
  ``WARMUP_STEPS`` tokens of another walk to the model;
- the block counted: the first ``steps`` tokens of one walk (contexts 0 to ``steps`` - 1),
  the same walk for both models, to the model (B) or to the no-op model (C).

B - A is the walk stepped by the model with its ``reset``, C - A the same tokens through
the loop alone, after a ``reset`` of its own, so that the reset's message cancels and the
model's own reset stays in the model's count. A baseline that recomputes its whole prefix
at every step costs more per token the longer the context: the count is the mean over the
walk's contexts, as the wall-time speedup over a whole walk is.

The walks are the grade's own first showings, a blind walk counted where there is one
(drawn text from its first token: a walk opened by a public record would count the steps a
model tabled at load), never one opened by a sealed record (whose text is shown again
nowhere it need not be): the submission's arg-max under valgrind must
agree with its timed answers to the same steps, or the count is absent. Both models run
OpenBLAS's kernels without FMA under valgrind (``BLAS_KERNELS``), and the two runs that
step the whole walk are driven side by side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from grader.child import wire
from grader.data import textmetrics
from grader.errors import ChildFailure, CountFileError, Verdict
from grader.measure.answers import Agreement, significantly_below
from grader.measure.generation import GenerationReferee
from grader.measure.instructions import (
    BLOCK_TIMEOUT_S,
    LOAD_TIMEOUT_S,
    MODEL,
    NOOP,
    PHASE,
    RUNS,
    InstructionCount,
    Run,
    counted,
    find,
    not_counted,
    refused,
    required,
    same_bytecode,
    start_runs,
)
from grader.measure.plan import GenerationPlan, Model
from grader.measure.textanswers import GenerationMeasurement, TextMeasurement
from grader.measure.walks import Walk
from grader.sandbox.cachegrind import Valgrind
from grader.sandbox.counted import CountedChild

MIN_STEPS = 16
WARMUP_STEPS = 8
# Under valgrind 3.19 OpenBLAS's Haswell kernels (AVX2 with FMA, which valgrind emulates
# slowly) ran the tinytalks baseline's first 48 steps in 25.7 s; its Sandybridge kernels
# (AVX, no FMA) in 4.4 s, the steps counting 10 % more instructions (160 against 145
# million). Both models are held to them, and the result records it (dispatch).
BLAS_KERNELS = "Sandybridge"


def valgrind_for(plan: GenerationPlan) -> Valgrind | str | None:
    """The valgrind a generation grade counts with, or why there is none (``instructions.find``)."""
    return find(plan.count_steps, plan.require_instructions)


def steps_counted(most: int, slowdown: float, models: list[TextMeasurement], block: int) -> int:
    """Tokens of the walk counted: ``most``, or where the submission (``models[1]``) would
    spend more than ``slowdown`` times the baseline's (``models[0]``) native time on them,
    the longest prefix that fits, cut to a power of two (at least ``MIN_STEPS``). A ratio
    of the two models' times, not a time: a busy machine slows both alike, and must not
    change what is counted. The time of a prefix is the sum of the per-block medians of
    the timed walks: a step's cost may grow with its context, as the baseline's does."""
    if not all(m.token_latency_s for m in models):
        return most
    spent = [
        np.cumsum(np.repeat(np.median(np.asarray(m.token_latency_s), axis=0), block)[:most])
        for m in models
    ]
    fits = int(np.sum(spent[1] <= slowdown * spent[0][-1]))
    if fits >= most:
        return most
    return int(np.clip(2 ** int(np.log2(max(fits, 1))), min(MIN_STEPS, most), most))


def counted_walks(referee: GenerationReferee) -> tuple[Walk, Walk]:
    """The walk counted and the warm-up's, first showings of the grade's first session: a
    blind walk counted where the session has one (drawn text from its first token, which no
    table holds: a walk opened by a public record counted, from its first token, steps a
    model had tabled at load: docs/DESIGN.md, Instruction counts), else the first walk
    opened by a record that is asked greedily (never a sealed one); the warm-up another
    of them, or the same where there is one walk only."""
    first = [w for w in referee.walks[0] if not w.replay]
    public = [w for w in first if w.scored in referee.asked] or first
    ranked = [w for w in first if w.blind] + [w for w in public if not w.blind]
    return ranked[0], ranked[1 % len(ranked)]


class StepCount:
    """The counted children of one generation grade, started by its referee's spawner."""

    def __init__(
        self, referee: GenerationReferee, valgrind: Valgrind, clock: Callable[[], float]
    ) -> None:
        self.referee = referee
        self.plan = referee.plan
        self.valgrind = dataclasses.replace(valgrind, blas_kernels=BLAS_KERNELS)
        self.clock = clock
        # each side's counted runs by function, for where the time goes (hotspots.bucket_runs)
        self.functions: dict[str, list[tuple[tuple[str, ...], dict]]] = {}

    def count(self, baseline: Model, submission: Model, measured: GenerationMeasurement) -> dict:
        """Count both models' runs over one walk of the grade; the result's
        ``instructions`` section. The submission's arg-max under valgrind must agree with
        its first showing's of the same walks."""
        started = self.clock()
        same_bytecode()
        sub = measured.submission
        steps = steps_counted(
            min(self.plan.count_steps, self.plan.length),
            self.plan.count_slowdown,
            [measured.baseline, sub],
            self.plan.block_steps,
        )
        walk, warm = counted_walks(self.referee)
        w = min(WARMUP_STEPS, steps)
        streams = (warm.tokens[:w], walk.tokens[:steps])  # the warm-up's, the counted block's
        firsts = (sub.first_argmax[warm.index][:w], sub.first_argmax[walk.index][:steps])
        runs: list[Run] = []
        try:
            start_runs(runs, self.start, baseline, submission)
            self.referee.progress(PHASE, 0, len(runs))
            layers, refusal = refused(runs, self.plan.require_sandbox, self.valgrind)
            if refusal is not None:
                return refusal
            self.load(runs)
            found = self.drive(runs, streams, firsts)
            counts: dict[str, list[dict]] = {"baseline": [], "optimized": []}
            for side, blocks, _, child in runs:
                count = InstructionCount.read(child)
                counts[side].append({"blocks": list(blocks), "instructions": count.instructions})
                self.functions.setdefault(side, []).append((blocks, count.functions))
        except (ChildFailure, CountFileError) as exc:
            who = getattr(exc, "who", "") or "a counted child"
            return not_counted(f"{who}: {exc}", self.valgrind)
        finally:
            for *_, child in runs:
                child.close()
        return self.section(counts, (w, steps), walk, found, layers, runs[0][3], started)

    def drive(self, runs: list[Run], streams: tuple, firsts: tuple) -> Agreement:
        """Every run's blocks, two runs at a time (a thread each: the parent only waits on
        them), the two that step the whole walk with the model first: on two cores they
        then run side by side. The submission's arg-max against its first showing's."""
        order = sorted(runs, key=lambda run: run[1] != RUNS["optimized"][1])
        found = Agreement()
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(self.run_blocks, run, streams, firsts) for run in order]
            try:
                for done, future in enumerate(futures, 1):
                    found.add(future.result())
                    self.referee.progress(PHASE, done, len(runs))
            except BaseException:
                for *_, child in runs:  # the other thread's child too: it ends at once
                    child.kill()
                raise
        return found

    def run_blocks(self, run: Run, streams: tuple, firsts: tuple) -> Agreement:
        """One run's blocks, then its exit; the submission's arg-max against its first."""
        side, blocks, _, child = run
        found = Agreement()
        for k, kind in enumerate(blocks):
            last = int(k == 2)  # the first two blocks are the warm-up
            scores = self.step(child, streams[last], kind == NOOP)
            if side == "optimized" and kind == MODEL:
                argmax = textmetrics.log_softmax(scores).argmax(axis=-1)
                found.add(Agreement(int((argmax == firsts[last]).sum()), len(argmax)))
        child.request_exit()
        return found

    def start(self, model: Model) -> CountedChild:
        launcher = self.referee.launcher
        child = launcher.spawner(
            model.name, model.folder, self.plan.limits, None, launcher.page_bytes,
            files=model.files, counted=self.valgrind, wait_hello=False,
        )  # fmt: skip
        assert isinstance(child, CountedChild)
        return child

    def load(self, runs: list) -> None:
        """Every model built at once, with no heap shift, called as a generation model."""
        imports = self.referee.launcher.imports
        for _, _, model, child in runs:
            child.request_load(model.entrypoint_file, model.function, 0, imports, wire.GENERATION)
        for *_, child in runs:
            child.await_loaded(LOAD_TIMEOUT_S, wire.GENERATION)

    def step(self, child: CountedChild, tokens: np.ndarray, noop: bool) -> np.ndarray:
        """``reset(1)``, then ``tokens`` stepped one at a time (by the no-op model where
        ``noop``): the scores, ``(steps, vocab)``."""
        child.reset(1, BLOCK_TIMEOUT_S)
        vocab = self.referee.vocab
        inputs = tokens.astype(np.float32)  # as the page carries them (ids below 2**24)
        scores = child.stream_block(inputs, noop, (), vocab, BLOCK_TIMEOUT_S)
        if not noop and not np.isfinite(scores).all():
            raise child.failure(
                Verdict.BAD_OUTPUT, "returned NaN or infinite scores under valgrind"
            )
        return scores

    def section(
        self,
        counts: dict[str, list[dict]],
        sizes: tuple[int, int],
        walk: Walk,
        found: Agreement,
        layers: dict,
        child: CountedChild,
        started: float,
    ) -> dict:
        """The result's ``instructions``, as the digits' (``samples``: tokens), with the
        walk counted; absent where the answers under valgrind are not the timed ones."""
        agreed = {"agreed": found.agreed, "compared": found.compared}
        if (p := significantly_below(found, self.plan.min_agreement)) is not None:
            return not_counted(
                f"its answers under valgrind agree with its timed answers on {found.agreed} "
                f"of {found.compared} steps of the same walks (p = {p:.1g}): not the model "
                "that was timed",
                self.valgrind,
                agreement=agreed,
            )
        seconds = self.clock() - started
        return counted(
            self.valgrind, sizes, counts, agreed, layers, child, seconds, walk=walk.index
        )


def instruction_counts(
    referee: GenerationReferee,
    models: tuple[Model, Model],
    measured: GenerationMeasurement,
    valgrind: Valgrind | str,
    clock: Callable[[], float],
) -> tuple[dict, dict[str, list]]:
    """The result's ``instructions`` for a generation grade, after its timed walks, or why
    not, which ``--require-instructions`` makes the grader's failure; and each side's
    counted runs by function (none where not counted)."""
    functions: dict[str, list] = {}
    if isinstance(valgrind, str):
        counts = not_counted(valgrind)
    else:
        counter = StepCount(referee, valgrind, clock)
        counts = counter.count(*models, measured)
        functions = counter.functions
    return required(counts, referee.plan), functions
