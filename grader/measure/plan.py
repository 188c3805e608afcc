"""What a grade measures and how much: the two models a child loads (``Model``) and the
plan of the measurement (``Plan``: sessions, rounds, blocks, timeouts, the answer checks'
bars), with ``QUICK`` for ``--quick`` (docs/DESIGN.md, Measurement).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from grader.analysis import static
from grader.sandbox.launch import Limits

if TYPE_CHECKING:
    from grader.config import Rules, Submission
    from grader.data.workloads import Workload


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
    # The instruction counts (docs/DESIGN.md, Instruction counts): samples in a counted
    # block (0: no counting pass; a workload may ask for fewer, events.yaml count_samples),
    # fewer where the submission is more than count_slowdown times slower than the
    # baseline (valgrind runs it some 100 times slower); and whether a grade without them
    # is the grader's failure (--require-instructions).
    count_samples: int = 128
    count_slowdown: float = 2.0
    require_instructions: bool = False


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
    count_samples=0,  # a student's check: the counts take most of a minute more
)


@dataclass(frozen=True)
class GenerationPlan:
    """How much a generation grade measures (docs/DESIGN.md, Generation). The defaults aim
    at a full grade of the tinytalks baseline against itself within about a minute here."""

    sessions: int = 4  # fresh process pairs; every one after the first replays walks
    length: int = 128  # steps in a walk: the context of the workload's baseline
    block_steps: int = 8  # steps a timed block holds; every step of a walk is timed
    replays: int = 4  # per session after the first: walks shown again in fresh processes
    probes: int = 16  # questions composed for the grade, beside the held-out ones
    # Per session: blind walks, all drawn text, which no table of public text holds; the speedup
    # is held to what they support (result/text.py, MIN_BLIND_SHOWINGS of them at least).
    blind: int = 3
    held_out: int | None = None  # of the held-out pairs, how many (None: all 46)
    # Where the grade scores the course's sealed Q&A: how many of its records (the same ones
    # in every grade, grader/data/sealedtext.py; one first walk each, as a held-out pair), and
    # how many held-out pairs and composed questions beside them (``sealed``).
    private_records: int = 35
    private_held_out: int = 19
    private_probes: int = 8
    lengths: tuple[int, ...] = (16, 64, 120)  # contexts the per-token latency is shown at
    answer_cap: int = 64  # characters a greedy answer may take
    calibration_blocks: int = 5  # no-op blocks per child before a session's walks
    # Of the answers to walks shown again, the share that must match their first showing's
    # (arg-max, position by position), and of the greedy answers given twice, the share
    # that must be identical; below it and significantly so, rejected (as for the digits).
    min_agreement: float = 0.99
    grade_timeout_s: float = 600.0  # the walks' wall time, all sessions
    load_timeout_s: float = 30.0
    block_timeout_s: float = 20.0
    limits: Limits = field(default_factory=Limits)
    require_sandbox: bool = False
    # The instruction counts (docs/DESIGN.md, Instruction counts): tokens of one walk
    # stepped under cachegrind (0: no counting pass), a shorter prefix where the submission
    # steps more than count_slowdown times slower than the baseline (whose walk takes some
    # 10-20 s under valgrind); and whether a grade without them is the grader's failure
    # (--require-instructions).
    count_steps: int = 128
    count_slowdown: float = 2.0
    require_instructions: bool = False

    def sealed(self) -> GenerationPlan:
        """This plan for a grade that scores the sealed Q&A: its records take the place of
        half the public ones, so that the grade walks as many records as without them and
        asks fewer greedily (docs/DESIGN.md, Generation: sizes of a grade)."""
        return replace(self, held_out=self.private_held_out, probes=self.private_probes)


# A student's check, within about 15 s here: 8 of the held-out pairs (drawn from the seed),
# a few composed questions (with the sealed Q&A: 6 of its records and 4 held-out pairs),
# one session (so no walk is shown again, and the greedy answers are asked once: their
# agreement is not measured).
QUICK_GENERATION = GenerationPlan(
    sessions=1,
    # Too few to hold a speedup to, enough that the first blocks (below a record's length)
    # are counted on text no table holds (docs/DESIGN.md, Generation).
    blind=2,
    probes=4,
    held_out=8,
    private_records=6,
    private_held_out=4,
    private_probes=2,
    calibration_blocks=3,
    count_steps=0,  # a student's check: the counts take most of a minute more
)


@dataclass(frozen=True)
class Model:
    """Where a child finds its model: the files of a folder that make it up (all that its
    private copy holds) and ``file.py:function`` among them."""

    name: str
    folder: Path
    entrypoint_file: str
    function: str
    files: tuple[str, ...]


def entry_models(
    rules: Rules, workload: Workload, submission: Submission, baseline_folder: Path | None
) -> tuple[Model, Model]:
    """Where the baseline's child and the submission's find their models: the workload's
    baseline, or ``baseline_folder`` laid out as a submission is (its model files, as for
    one), and the submission's folder."""
    base_file, base_function = workload.entrypoint.split(":")
    baseline = Model(
        "baseline",
        baseline_folder or workload.baseline,
        base_file,
        base_function,
        static.model_files(baseline_folder, rules.data["files"])
        if baseline_folder
        else workload.baseline_files,
    )
    candidate = Model(
        "submission",
        submission.folder,
        submission.entrypoint_file,
        submission.entrypoint_function,
        static.model_files(submission.folder, rules.data["files"]),
    )
    return baseline, candidate
