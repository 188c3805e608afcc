"""The course's sealed Q&A, walked in a session of its own (docs/DESIGN.md, Generation: the
course's sealed Q&A).

A model may keep across ``reset`` what its walks showed, and nothing in its arg-max need
show it; every later step of the same process is then a number it controls, and a result
publishes many of them (each scored record's summed NLL as a float64, each walk's filler
sum, each block's latency). So no process that walks a sealed record walks anything the
result publishes per record, per walk or per block: after the grade's timed sessions, a
pair of fresh children (the baseline's and the submission's) steps through one walk per
sealed record (:func:`sealed_walks`: the record at position 0, then the grade's scrambled
filler, ``probes.scrambled``; never a held-out pair nor a composed question), each walk one
sequence of its own, in untimed blocks whose times are dropped. Of those walks the result
keeps each model's sums only (:func:`sums`), rounded so that a model controls few bits of
them: the answer characters' count, the arg-max's hits, the summed negative
log-likelihood in whole nats, and the intervals the derive needs (each model's perplexity
interval, the paired perplexity-ratio interval), computed here from the per-record values,
which are then dropped, their ends rounded outward to a grid of 1 % (:data:`GRID`), every
value clipped to what a model as bad as perplexity ``vocab ** 2`` would give.
"""

from __future__ import annotations

import math

import numpy as np

from grader import stats
from grader.child import wire
from grader.data import text
from grader.errors import Rejected, Verdict
from grader.measure.generation import GenerationReferee
from grader.measure.plan import Model
from grader.measure.referee import Progress, Verdicts, pick_cores, pinned
from grader.measure.textanswers import TextMeasurement
from grader.measure.walks import Walk, plan
from grader.sandbox.process import ModelProcess

SEALED_STREAM = 0x5EA2  # the sealed walks' random stream, apart from the referee's
GRID = 100  # interval ends are exp(k / GRID): a step of 1 % in perplexity


def sealed_walks(
    sealed: list[text.Pair], filler: list[text.Pair], length: int, rng: np.random.Generator
) -> list[Walk]:
    """One walk per sealed record, in a random order: the record at position 0, then filler
    records (none twice), cut at ``length + 1`` characters. A walk's ``scored`` is the
    record's index in ``sealed``; its other records are indices past them (the filler's)."""
    return plan(sealed, filler, sessions=1, replays=0, length=length, rng=rng)[0]


def on_grid(value: float, outward: int) -> float:
    """``value`` (> 0) on the grid exp(k / GRID): the next point below (``outward`` -1) or
    above (+1)."""
    k = math.log(value) * GRID
    k = math.floor(k + 1e-9) if outward < 0 else math.ceil(k - 1e-9)
    return math.exp(k / GRID)


def clipped_interval(low: float, high: float, ceiling: float) -> list[float]:
    """An interval's ends rounded outward on the grid, within [1 / ceiling, ceiling]."""
    low, high = max(low, 1 / ceiling), min(max(high, low), ceiling)
    return [on_grid(low, -1), on_grid(high, +1)]


def sums(base: TextMeasurement, sub: TextMeasurement, vocab: int) -> dict:
    """What the result keeps of the sealed walks (its ``private`` section's numbers): per
    model ``correct``, ``total``, ``nll`` (whole nats, at most ``total * 2 ln vocab``) and
    ``perplexity_ci95``; the paired ``perplexity_ratio_ci95``; and how many ``records``."""
    chars = sub.record_chars
    ceiling = float(vocab) ** 2  # a perplexity of vocab ** 2: twice as bad as uniform, in nats

    def side(m: TextMeasurement) -> dict:
        nll = np.minimum(m.record_nll, chars * math.log(ceiling))
        _, low, high = stats.perplexity_interval(nll, chars)
        return {
            "correct": int(m.record_correct.sum()),
            "total": int(chars.sum()),
            "nll": round(float(nll.sum())),
            "perplexity_ci95": clipped_interval(low, high, ceiling),
        }

    cap = chars * math.log(ceiling)
    _, low, high = stats.perplexity_ratio_interval(
        np.minimum(base.record_nll, cap), np.minimum(sub.record_nll, cap), chars
    )
    return {
        "records": len(chars),
        "baseline": side(base),
        "optimized": side(sub),
        "perplexity_ratio_ci95": clipped_interval(low, high, ceiling),
    }


class SealedSession:
    """The sealed records walked by a pair of fresh children of ``referee``'s grade."""

    def __init__(
        self,
        referee: GenerationReferee,
        sealed: list[text.Pair],
        filler: list[text.Pair],
        progress: Progress | None = None,
    ) -> None:
        self.referee = referee
        self.plan = referee.plan
        self.progress = progress or (lambda phase, done, total: None)
        self.walks = sealed_walks(
            sealed, filler, self.plan.length, np.random.default_rng([referee.seed, SEALED_STREAM])
        )
        self.count = len(sealed)

    def measure(self, baseline: Model, submission: Model) -> dict:
        """Both models through every sealed walk; their rounded sums (:func:`sums`)."""
        results = [TextMeasurement.of(self.count) for _ in range(2)]
        parent_core, child_core = pick_cores()
        children: list[ModelProcess] = []
        launcher, timer = self.referee.launcher, self.referee.timer
        timer.live = children
        with pinned(parent_core):
            try:
                with Verdicts():
                    launcher.start(self.plan.sessions, (baseline, submission), child_core, children)
                    spare = [TextMeasurement.of(0) for _ in children]  # its load is not kept
                    launcher.load(children, spare, (baseline, submission), wire.GENERATION)
                    for w, walk in enumerate(self.walks):
                        self.walk(walk, children, results)
                        self.progress("sealed walks", w + 1, len(self.walks))
                    for child in children:
                        child.check_threads()
            finally:
                for child in children:
                    child.close()
        return sums(results[0], results[1], self.referee.vocab)

    def walk(
        self, walk: Walk, children: list[ModelProcess], results: list[TextMeasurement]
    ) -> None:
        """Both models step through ``walk``, one sequence, in blocks of ``block_steps``
        under the timed walks' deadline; the blocks' times are dropped."""
        started = self.referee.clock()
        steps, length = self.plan.block_steps, self.plan.length
        feed = walk.tokens[:length].reshape(length // steps, steps, 1)
        for child, res in zip(children, results, strict=True):
            child.reset(1, self.plan.block_timeout_s)
            scores = np.concatenate([timer_block(self.referee, child, block) for block in feed])
            res.walked(walk, scores)
        self.referee.walked_seconds += self.referee.clock() - started
        if self.referee.walked_seconds > self.plan.grade_timeout_s:
            raise Rejected(
                Verdict.TIMEOUT,
                f"the grade's walks took more than {self.plan.grade_timeout_s:g} s in all: "
                "the submission steps too slowly to be measured",
            )


def timer_block(referee: GenerationReferee, child: ModelProcess, block: np.ndarray) -> np.ndarray:
    """One untimed block of one sequence: its scores, ``(steps, vocab)``."""
    return referee.timer.block(child, block)[1][:, 0, :]
