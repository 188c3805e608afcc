"""The referee of a generation workload: sessions of two fresh children stepped through the
grade's walks in interleaved blocks, every step timed, every answer read by the parent
(docs/DESIGN.md, Generation).

Each session starts a pair of children (the baseline's and the submission's), loads both
models with the generation protocol and steps them through every walk of the session
(``walks.plan``): both models ``reset(1)``, then step through the walk's text in blocks of
``block_steps`` tokens, the two in turn, A B then B A, block by block; each block is timed
on the parent's clock, and its scores come back for the parent to read
(``GenerationAnswers``). A no-op block of each child at a random place in each walk
measures the harness's own cost per step, which is subtracted as for the digits. In the
first and the last session the models then answer the scored questions greedily
(``greedy``). The scored records here are public ones only (held-out pairs and composed
questions): a grade that scores the course's sealed Q&A walks those in sessions of their
own, after these (``sealedwalks``), so no process here, the greedy ones included, has ever
seen a sealed record.

The clock and the spawner are passed in, as to the digits' referee.
"""

from __future__ import annotations

import os
import time

import numpy as np

from grader.child import handoff, wire
from grader.data import text
from grader.errors import Rejected, Verdict
from grader.measure.blocks import BlockTimer, overhead
from grader.measure.launch import Clock, Launcher, Spawner
from grader.measure.measurement import CpuWait
from grader.measure.plan import GenerationPlan, Model
from grader.measure.referee import Progress, Verdicts, pick_cores, pinned
from grader.measure.textanswers import GenerationMeasurement, TextMeasurement, greedy_answers
from grader.measure.walks import Extend, Walk, filled, plan
from grader.sandbox.launch import spawn
from grader.sandbox.process import ModelProcess


def like_lengths(
    asked: list[int], lengths: list[int], batches: int, rng: np.random.Generator
) -> list[list[int]]:
    """The records ``asked`` dealt into ``batches`` batches of like prompt lengths (ties
    broken at random), each batch in a random order and the batches too. A batch steps
    until its last sequence ends, every sequence at the context of the longest, so one
    batch of prompts of 13 to 37 characters cost the baseline 8.4 s here, two batches of
    like lengths 6.4 s and four 5.7 s; the second asking, in three batches, meets the
    records in other company and order than the first."""
    if not asked:
        return []
    order = np.lexsort((rng.random(len(asked)), np.asarray(lengths)))
    parts = [rng.permutation(part) for part in np.array_split(order, batches) if len(part)]
    return [[int(asked[j]) for j in parts[b]] for b in rng.permutation(len(parts))]


class GenerationReferee:
    """Runs one generation grade: two children per session, one clock."""

    def __init__(
        self,
        scored: list[text.Pair],
        filler: list[text.Pair],
        vocab: int,
        gplan: GenerationPlan,
        progress: Progress | None = None,
        seed: int | None = None,
        imports: dict | None = None,
        *,
        asked: list[int] | None = None,
        extend: Extend | None = None,
        clock: Clock = time.perf_counter,
        spawner: Spawner = spawn,
    ) -> None:
        self.plan = gplan
        self.scored = scored
        self.asked = list(range(len(scored))) if asked is None else asked
        self.vocab = vocab
        self.progress = progress or (lambda phase, done, total: None)
        self.clock = clock
        self.seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        # The filler: ``extend``'s (a grade's: drawn from the baseline, sampler.Sampler), or
        # where it is None the records of ``filler``.
        self.walks = plan(
            scored,
            None if extend else filler,
            gplan.sessions,
            gplan.replays,
            gplan.length,
            self.rng,
            gplan.blind,
        )
        if extend:
            self.walks = filled(self.walks, extend)
        page_bytes = handoff.page_bytes(len(scored), 1, vocab * 4)
        self.launcher = Launcher(gplan, imports, self.rng, page_bytes, clock, spawner)
        self.sandbox = self.launcher.sandbox
        self.timer = BlockTimer(gplan.block_timeout_s, (), vocab, self.decoys)
        self.walked_seconds = 0.0
        self.cpu_wait = CpuWait()

    def decoys(self, n: int) -> np.ndarray:
        """``n`` steps of random tokens of one sequence, for the untimed and no-op blocks."""
        return self.rng.integers(0, self.vocab, size=(n, 1), dtype=np.int64)

    # -- the whole measurement ----------------------------------------------------------------
    def measure(self, baseline: Model, submission: Model) -> GenerationMeasurement:
        started = self.clock()
        self.cpu_wait = CpuWait()  # the children's, over every session's walks
        parent_core, child_core = pick_cores()
        results = [TextMeasurement.of(len(self.scored), self.plan.block_steps) for _ in range(2)]
        with pinned(parent_core):
            for k in range(self.plan.sessions):
                self.session(k, (baseline, submission), results, child_core)
                results[1].check(self.plan.min_agreement)
        return GenerationMeasurement(
            baseline=results[0],
            submission=results[1],
            seed=self.seed,
            walks=[[(w.index, w.replay) for w in session] for session in self.walks],
            blind=sorted({w.index for session in self.walks for w in session if w.blind}),
            openings=self.openings(),
            affinity={
                "parent": parent_core,
                "children": child_core,
                "pinned": parent_core is not None and child_core is not None,
            },
            wall_seconds=self.clock() - started,
            cpu_wait=self.cpu_wait,  # a new one each measure()
        )

    def openings(self) -> list[int]:
        """Per first walk, by index, how many of its characters are its first record's (a
        blind walk's: none): the text a table may hold (docs/DESIGN.md, Generation: speed
        from text no table holds)."""
        firsts = {w.index: w for session in self.walks for w in session if not w.replay}
        return [0 if firsts[i].blind else int(firsts[i].span[1]) for i in range(len(firsts))]

    # -- one session ---------------------------------------------------------------------------
    def session(
        self,
        k: int,
        models: tuple[Model, Model],
        results: list[TextMeasurement],
        core: int | None,
    ) -> None:
        """One pair of fresh children: load, walks, greedy answers (first and last session)."""
        children: list[ModelProcess] = []
        self.timer.live = children
        steps = self.plan.block_steps
        try:
            with Verdicts():
                self.launcher.start(k, models, core, children)
                self.timer.calibrate(children, steps, 1, 3)  # before any model code runs
                base_rss = [c.peak_rss_bytes() for c in children]
                self.launcher.load(children, results, models, wire.GENERATION)
                calib = self.timer.calibrate(children, steps, 1, self.plan.calibration_blocks)
                raw: list[list[np.ndarray]] = [[], []]
                with self.cpu_wait.over(children):
                    for w, walk in enumerate(self.walks[k]):
                        self.walk(w, walk, children, results, raw, calib)
                        self.progress(
                            f"session {k + 1}/{self.plan.sessions}: walks",
                            w + 1,
                            len(self.walks[k]),
                        )
                # The last session asks the submission alone again, in larger batches (three
                # where the first session asks both in four), so its peak memory is read
                # before that; read after, the TinyTalks baseline's unchanged copy showed
                # 15.5-16.1 MB against the baseline's 12.0-12.5 MB in full grades.
                peaks = [c.peak_rss_bytes() for c in children] if self.asks_again(k) else None
                # After the walks: what a model kept of the greedy prompts could not speed a
                # walk up, and an answer copied from a walk's text is caught by
                # greedy_against_walks (docs/DESIGN.md, Generation).
                self.greedy(k, children, results)
                cost = overhead(calib)
                for i, res in enumerate(results):
                    res.keep_blocks(raw[i], cost, steps, k)
                for child in children:
                    child.check_threads()
                if peaks is None:
                    peaks = [c.peak_rss_bytes() for c in children]
                for res, base, peak in zip(results, base_rss, peaks, strict=True):
                    res.keep_largest_rss(base, peak)
        finally:
            for child in children:
                child.close()

    def asks_again(self, k: int) -> bool:
        """Whether session ``k`` asks the submission's greedy answers again (the last one)."""
        return k > 0 and k == self.plan.sessions - 1

    def greedy(self, k: int, children: list[ModelProcess], results: list[TextMeasurement]) -> None:
        """The scored questions ``asked`` answered greedily (``like_lengths``): both models
        in the first session, in four batches; the submission again in the last session's
        fresh process, in three batches and another order, to be compared with its first
        answers. A record not asked keeps None."""
        again = self.asks_again(k)
        if k and not again:
            return
        lengths = [len(text.prompt(self.scored[i].question)) for i in self.asked]
        parts = like_lengths(self.asked, lengths, 3 if again else 4, self.rng)
        for i, child in enumerate(children):
            if again and i == 0:
                continue  # the baseline's answers are not in question
            answers: list[str | None] = [None] * len(self.scored)
            generated: list[list[int] | None] = [None] * len(self.scored)
            for part in parts:
                said, ids = greedy_answers(
                    self.timer,
                    child,
                    [self.scored[j].question for j in part],
                    self.plan.answer_cap,
                    self.plan.block_timeout_s,
                )
                for j, answer, made in zip(part, said, ids, strict=True):
                    answers[j], generated[j] = answer, made
            results[i].keep_greedy(answers, again, generated)

    # -- one walk: ABBA, block by block --------------------------------------------------------
    def walk(
        self,
        w: int,
        walk: Walk,
        children: list[ModelProcess],
        results: list[TextMeasurement],
        raw: list[list[np.ndarray]],
        calib: list[list[float]],
    ) -> None:
        """Both models step through ``walk``: block ``j`` of the one, then of the other, in
        A B order and B A for the next block; a no-op block of each at a random block."""
        started = self.clock()
        steps, length = self.plan.block_steps, self.plan.length
        blocks = length // steps
        feed = walk.tokens[:length].reshape(blocks, steps, 1)
        noop_at = int(self.rng.integers(blocks))
        for child in children:
            child.reset(1, self.plan.block_timeout_s)
        scores = [np.empty((length, self.vocab), dtype=np.float32) for _ in children]
        times = [np.empty(blocks) for _ in children]
        for j in range(blocks):
            order = [0, 1] if (w + j) % 2 == 0 else [1, 0]
            for i in order:
                times[i][j], out = self.timer.block(children[i], feed[j])
                scores[i][j * steps : (j + 1) * steps] = out[:, 0, :]
            if j == noop_at:
                for i in order:
                    calib[i].append(self.timer.block(children[i], feed[j], noop=True)[0])
        for i, res in enumerate(results):
            raw[i].append(times[i])
            res.walked(walk, scores[i])
        self.walked_seconds += self.clock() - started
        if self.walked_seconds > self.plan.grade_timeout_s:
            raise Rejected(
                Verdict.TIMEOUT,
                f"the grade's walks took more than {self.plan.grade_timeout_s:g} s in all: "
                "the submission steps too slowly to be measured",
            )
