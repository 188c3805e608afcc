"""The instruction counts: each model's children answer a fixed, untimed stream of digits
under valgrind's cachegrind, in the same sandbox layers as a timed child, and the parent
keeps what cachegrind counted (docs/DESIGN.md, Instruction counts).

Cachegrind counts a process from its start to its exit, and valgrind 3.19 cannot be told
to count a part of it; Python cannot issue valgrind's client requests either. So each run
is counted whole, and the stream is told apart by difference: runs that differ by one
block of samples differ by that block's instructions, whatever Python's start-up, NumPy's
import and the model's build cost (the same in both, to the instruction: see
``launch.COUNTED_FLAGS``). Every run starts with the same warm-up (``WARMUP_SAMPLES``
digits to the no-op model, then the same to the model), so that its last block, the one
counted (``samples`` other digits), comes after the same state in each:

- baseline: ``noop model`` (A), ``noop model model`` (B), ``noop model noop`` (C);
- submission: ``noop model`` (A), ``noop model model`` (B).

B - A is a block of the model with the worker's loop, C - A a block of the loop alone (the
no-op model, as wall time subtracts a no-op block; the baseline's, whose process runs no
submission code), both with the block's message to and from the parent.
``grader/result/counts.py`` derives the per-sample numbers from the stored counts.

The five children start together (their start-up is most of the cost, and counts do not
depend on what else runs) and are then driven in turn. Nothing here is a verdict: a child
that fails leaves the count absent, with the reason.
"""

from __future__ import annotations

import compileall
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.data.reproduce import environment
from grader.errors import ChildFailure, CountFileError, InstructionsMissing, Verdict
from grader.measure.answers import Agreement, agreement, answers_of, significantly_below
from grader.measure.plan import GenerationPlan, Model, Plan
from grader.measure.referee import Referee
from grader.sandbox import cachegrind
from grader.sandbox.cachegrind import Valgrind
from grader.sandbox.counted import CountedChild

NOOP, MODEL = "noop", "model"
RUNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "baseline": ((NOOP, MODEL), (NOOP, MODEL, MODEL), (NOOP, MODEL, NOOP)),
    "optimized": ((NOOP, MODEL), (NOOP, MODEL, MODEL)),
}
MIN_SAMPLES = 8
# The first blocks of every run (a no-op one, then one of the model): the first calls' own
# costs (lazy imports, the allocator's first requests) fall there, before the block counted.
WARMUP_SAMPLES = 8
PHASE = "counting instructions under valgrind"
# Under valgrind, a child runs some 50-100 times slower than natively; these bound a hang.
HELLO_TIMEOUT_S, LOAD_TIMEOUT_S, BLOCK_TIMEOUT_S, EXIT_TIMEOUT_S = 600.0, 600.0, 600.0, 120.0


def samples_per_block(most: int, seconds: float, slower_latency_s: float) -> int:
    """Samples in an untimed block (the hot spots' profiled one): ``most``, fewer where the
    slower model would spend more than ``seconds`` of its native time on them, and never
    fewer than ``MIN_SAMPLES``; a power of two where it is cut."""
    if slower_latency_s <= 0 or seconds / slower_latency_s >= most:
        return most
    fits = 2 ** int(np.floor(np.log2(max(seconds / slower_latency_s, 1.0))))
    return int(np.clip(fits, min(MIN_SAMPLES, most), most))


def counted_samples(most: int, slowdown: float, limit: float) -> int:
    """Samples in a counted block: the workload's ``most`` (``count_samples``), fewer where
    the submission is more than ``limit`` times slower than the baseline (``slowdown``, its
    median latency over the baseline's: a ratio, so that the machine's load does not change
    it, where a cut by native time made the same folders count 16 digits on a busy machine
    and 32 on a quiet one), never fewer than ``MIN_SAMPLES``; a power of two (a block's
    per-sample count depends a little on its size: the garbage collector runs at counts of
    allocations, not at block boundaries)."""
    if not slowdown > limit:
        return most
    fits = 2 ** int(np.floor(np.log2(max(most * limit / slowdown, 1.0))))
    return int(np.clip(fits, min(MIN_SAMPLES, most), most))


def not_counted(reason: str, valgrind: Valgrind | None = None, **more: object) -> dict:
    """The section of a grade whose instructions were not counted, and why."""
    return {
        "counted": False,
        "reason": reason[:500],
        "valgrind": valgrind.version if valgrind else None,
        **more,
    }


Run = tuple[str, tuple[str, ...], Model, CountedChild]  # side, blocks, model, its child


def find(count: int, required: bool) -> Valgrind | str | None:
    """The valgrind a grade counts with, or why there is none; None where its plan counts
    nothing (``count`` 0: a quick grade). Where the counts are ``required`` and cannot be
    taken, the grade stops here, before any code runs."""
    if not count:
        return None
    found = cachegrind.find()
    if required and isinstance(found, str):
        raise InstructionsMissing(
            f"--require-instructions asks for the instruction counts, and {found}"
        )
    return found


def start_runs(
    runs: list[Run], start: Callable[[Model], CountedChild], baseline: Model, submission: Model
) -> None:
    """Every run's child started into ``runs`` (which the caller closes, whatever happens),
    all at once (their start-up is most of the cost), then greeted."""
    for side, model in (("baseline", baseline), ("optimized", submission)):
        for blocks in RUNS[side]:
            runs.append((side, blocks, model, start(model)))
    for *_, child in runs:
        child.hello(timeout=HELLO_TIMEOUT_S)


def refused(runs: list[Run], require_sandbox: bool, valgrind: Valgrind) -> tuple[dict, dict | None]:
    """The layers the submission's counted children report, and the section of a count
    refused where ``--require-sandbox`` asks for every layer and one is off under valgrind
    (None where it goes on)."""
    layers = runs[-1][3].info.get("layers", {})
    if require_sandbox and (weak := weak_layers(layers)):
        return layers, not_counted(
            "--require-sandbox asks for every layer, and under valgrind "
            f"{weak}: the submission's model was not loaded there",
            valgrind,
            sandbox=layers,
        )
    return layers, None


def counted(
    valgrind: Valgrind,
    sizes: tuple[int, int],
    counts: dict[str, list[dict]],
    agreed: dict,
    layers: dict,
    child: CountedChild,
    seconds: float,
    **more: object,
) -> dict:
    """The result's ``instructions`` of a pass that counted (the digits' or a generation
    grade's, which adds its ``walk``): the counts as observed, how they were taken."""
    native = environment()
    return {
        "counted": True,
        "reason": None,
        "valgrind": valgrind.version,
        "tool": " ".join(cachegrind.TOOL_OPTIONS),
        "warmup_samples": sizes[0],
        "samples": sizes[1],
        **more,
        "runs": counts,
        "agreement": agreed,
        "dispatch": {
            "native": {k: native[k] for k in ("numpy_simd", "blas_kernels")},
            "valgrind": child.info.get("dispatch"),
        },
        "sandbox": layers,
        "wall_seconds": seconds,
    }


def required(counts: dict, plan: Plan | GenerationPlan) -> dict:
    """``counts``, unless they are absent and ``--require-instructions`` asks for them."""
    if plan.require_instructions and not counts["counted"]:
        raise InstructionsMissing(
            f"the instructions were not counted ({counts['reason']}), and "
            "--require-instructions asks for them"
        )
    return counts


class InstructionCount:
    """The counted children of one grade, started by its referee's spawner with
    ``counted``, on its inputs and its plan."""

    def __init__(self, referee: Referee, valgrind: Valgrind, clock: Callable[[], float]) -> None:
        self.referee = referee
        self.plan = referee.plan
        self.valgrind = valgrind
        self.clock = clock
        # Each counted run's instructions by function, as cachegrind wrote them: the hot
        # spots' library buckets (grader/measure/hotspots.py), by side, run by run.
        self.functions: dict[str, list[tuple[tuple[str, ...], dict]]] = {}

    def count(
        self, baseline: Model, submission: Model, first: np.ndarray, most: int, slowdown: float
    ) -> dict:
        """Count both models' runs; the result's ``instructions`` section. ``first``: the
        submission's first-pass answers, which its counted answers must agree with; ``most``
        and ``slowdown``: the block's size (``counted_samples``)."""
        started = self.clock()
        same_bytecode()
        n = counted_samples(most, slowdown, self.plan.count_slowdown)
        w = min(WARMUP_SAMPLES, n)
        idx = self.referee.inputs.public_sample(w + n)
        n = len(idx) - w
        parts = (idx[:w], idx[w:])  # the warm-up's digits, the counted block's
        streams = tuple(self.referee.inputs.noisy(part) for part in parts)
        runs: list[Run] = []
        found = Agreement()
        try:
            start_runs(runs, self.start, baseline, submission)
            self.referee.progress(PHASE, 0, len(runs))
            layers, refusal = refused(runs, self.plan.require_sandbox, self.valgrind)
            if refusal is not None:
                return refusal
            self.load(runs)
            for side, blocks, _, child in runs:
                for k, kind in enumerate(blocks):
                    # The first two blocks are the warm-up; a run's last, the one counted.
                    last = int(k == 2)
                    scores = self.stream(child, streams[last], kind == NOOP)
                    if side == "optimized" and kind == MODEL:
                        found.add(agreement(first, parts[last], answers_of(scores)))
                child.request_exit()
                self.referee.progress(PHASE, sum(r[3].blocks > 0 for r in runs), len(runs))
            counts = {"baseline": [], "optimized": []}
            for side, blocks, _, child in runs:
                count = self.read(child)
                counts[side].append({"blocks": list(blocks), "instructions": count.instructions})
                self.functions.setdefault(side, []).append((blocks, count.functions))
        except (ChildFailure, CountFileError) as exc:
            who = getattr(exc, "who", "") or "a counted child"
            return not_counted(f"{who}: {exc}", self.valgrind)
        finally:
            for *_, child in runs:
                child.close()
        return self.section(counts, (w, n), found, layers, runs[0][3], self.clock() - started)

    def start(self, model: Model) -> CountedChild:
        child = self.referee.launcher.spawner(
            model.name, model.folder, self.plan.limits, None, self.referee.launcher.page_bytes,
            files=model.files, counted=self.valgrind, wait_hello=False,
        )  # fmt: skip
        assert isinstance(child, CountedChild)
        return child

    def load(self, runs: list) -> None:
        """Every model built at once, with no heap shift: the counts of two runs of the
        same model must not differ by what a random shift costs."""
        for _, _, model, child in runs:
            child.request_load(
                model.entrypoint_file, model.function, 0, self.referee.launcher.imports
            )
        for *_, child in runs:
            child.await_loaded(LOAD_TIMEOUT_S)

    def stream(self, child: CountedChild, inputs: np.ndarray, noop: bool) -> np.ndarray:
        shape, classes = self.referee.inputs.in_shape, self.referee.timer.classes
        scores = child.stream_block(inputs, noop, shape, classes, BLOCK_TIMEOUT_S)
        if not noop and not np.isfinite(scores).all():
            raise child.failure(
                Verdict.BAD_OUTPUT, "returned NaN or infinite scores under valgrind"
            )
        return scores

    @staticmethod
    def read(child: CountedChild) -> cachegrind.CountFile:
        """The child's count, once it has exited on its own (cachegrind writes it then)."""
        code = child.wait(EXIT_TIMEOUT_S)
        if code != 0:
            raise child.failure(Verdict.CRASHED, f"ended with code {code} under valgrind")
        return cachegrind.read(child.count_file)

    def section(
        self,
        counts: dict[str, list[dict]],
        sizes: tuple[int, int],
        found: Agreement,
        layers: dict,
        child: CountedChild,
        seconds: float,
    ) -> dict:
        """The result's ``instructions``: the counts as observed, how they were taken."""
        agreed = {"agreed": found.agreed, "compared": found.compared}
        if (p := significantly_below(found, self.plan.min_repeat_agreement)) is not None:
            return not_counted(
                f"its answers under valgrind agree with its first answers on {found.agreed} "
                f"of {found.compared} digits (p = {p:.1g}): not the model that was timed",
                self.valgrind,
                agreement=agreed,
            )
        return counted(self.valgrind, sizes, counts, agreed, layers, child, seconds)


def same_bytecode() -> None:
    """Compile the child's modules where their bytecode is missing or stale, before the
    counted children start: a child that compiles a module from source counts the compiler
    too, and leaves a larger heap for the garbage collector to walk in every later block.
    Measured here: two grades, one whose children compiled the worker from source, gave the
    baseline 93,327 and 92,361 instructions a sample (1 %); with the bytecode the same, two
    grades gave 92,361 and 92,366. Where the folder cannot be written, every child compiles
    from source alike."""
    from grader.child import handoff

    compileall.compile_dir(Path(handoff.__file__).parent, quiet=2)


def weak_layers(layers: dict) -> str:
    """The operating-system layers a counted child reported off or unavailable, as a
    sentence ('' where every one is on)."""
    from grader.child.confine import LAYERS

    weak = {k: layers.get(k, "not reported by the child") for k in LAYERS}
    weak = {k: v for k, v in weak.items() if v.startswith(("off", "unavailable", "not rep"))}
    return "; ".join(f"{k}: {v}" for k, v in sorted(weak.items()))
