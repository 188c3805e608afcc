"""What a generation model answered, read by the parent (docs/DESIGN.md, Generation).

This is the generation workload's answer protocol, as ``answers.py`` is the digits': the
referee hands over each walk's scores and each block's time and reads no answer itself.
From a walk's scores, position by position: the negative log-likelihood of the character
that follows (teacher forcing) and the arg-max. Its first record's answer characters give
the record's perplexity terms, on its first showing; the whole walk's give the walk's
(every timed step is scored: an answer that is cheap and wrong anywhere costs perplexity
there); a walk shown again must give the same arg-max, position by position, as on its
first showing. The greedy answers are generated here, one step at a time, the parent
choosing every next token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.data import textmetrics
from grader.data.textmetrics import NEWLINE
from grader.errors import Rejected, Verdict
from grader.measure.answers import Agreement, p_text, significantly_below
from grader.measure.blocks import BlockTimer, calibrated
from grader.measure.measurement import CpuWait, Footprint
from grader.measure.walks import Walk
from grader.sandbox.process import ModelProcess


@dataclass
class TextMeasurement(Footprint):
    """One generation model's observations, over every session."""

    # Per scored record, on its first showing: its answer characters' summed negative
    # log-likelihood (nats), how many there are, and how many the arg-max predicted.
    record_nll: np.ndarray
    record_chars: np.ndarray
    record_correct: np.ndarray
    # Per showing: the summed negative log-likelihood of the characters past its first
    # record (the filler), and how many.
    filler_nll: list[float] = field(default_factory=list)
    filler_steps: list[int] = field(default_factory=list)
    # Per showing: each block's summed negative log-likelihood (``block_steps`` rows each).
    block_nll: list[list[float]] = field(default_factory=list)
    first_argmax: dict[int, np.ndarray] = field(default_factory=dict)  # walk index -> arg-max
    replays: Agreement = field(default_factory=Agreement)  # positions of walks shown again
    # Per scored record, the first session's greedy answer (None where it is not asked: a
    # sealed private record), and the last session's, in fresh processes.
    greedy: list[str | None] | None = None
    greedy_again: list[str | None] | None = None
    greedy_agreement: Agreement = field(default_factory=Agreement)
    # Per scored record: the ids the first greedy pass generated (its newline included where
    # it ended on one), the arg-max of its first walk's rows that predict the answer, and the
    # answer's true ids (the walk's teacher-forced text there).
    greedy_ids: dict[int, list[int]] = field(default_factory=dict)
    record_argmax: dict[int, np.ndarray] = field(default_factory=dict)
    record_truth: dict[int, np.ndarray] = field(default_factory=dict)
    # Per showing, in order: each block's time per token, the harness's cost taken off.
    token_latency_s: list[list[float]] = field(default_factory=list)
    showing_session: list[int] = field(default_factory=list)
    overhead_s_per_token: list[float] = field(default_factory=list)  # per session

    block_steps: int = 8

    @classmethod
    def of(cls, scored: int, block_steps: int = 8) -> TextMeasurement:
        return cls(
            record_nll=np.full(scored, np.nan),
            record_chars=np.zeros(scored, dtype=np.int64),
            record_correct=np.zeros(scored, dtype=np.int64),
            block_steps=block_steps,
        )

    def walked(self, walk: Walk, scores: np.ndarray) -> None:
        """A walk's scores, ``(steps, vocab)``: row t answers token t and predicts t + 1."""
        steps = len(scores)
        logp = textmetrics.log_softmax(scores)
        following = walk.tokens[1 : steps + 1]
        nll = -logp[np.arange(steps), following]
        argmax = logp.argmax(axis=-1)
        # The rows that predict the filler's characters: a blind walk's every row.
        past = slice(0 if walk.blind else walk.span[1] - 1, steps)
        self.filler_nll.append(float(nll[past].sum()))
        self.filler_steps.append(len(nll[past]))
        if steps % self.block_steps == 0:
            blocks = nll.reshape(-1, self.block_steps).sum(axis=1)
            self.block_nll.append([float(x) for x in blocks])
        if walk.replay:
            first = self.first_argmax[walk.index]
            self.replays.add(Agreement(int((argmax == first).sum()), steps))
            return
        self.first_argmax[walk.index] = argmax
        if walk.blind:
            return
        start, end = walk.span
        at = np.arange(start - 1, min(end, steps + 1) - 1)  # the rows that predict the answer
        self.record_argmax[walk.scored] = argmax[at]
        self.record_truth[walk.scored] = following[at]
        self.record_nll[walk.scored] = float(nll[at].sum())
        self.record_chars[walk.scored] = len(at)
        self.record_correct[walk.scored] = int((argmax[at] == following[at]).sum())

    def keep_blocks(self, raw: list[np.ndarray], cost: float, steps: int, session: int) -> None:
        """A session's walks' block times: per token, the harness's cost per block off."""
        for times in raw:
            self.token_latency_s.append(calibrated(list(times), cost, steps))
            self.showing_session.append(session)
        self.overhead_s_per_token.append(cost / steps)

    def keep_greedy(
        self,
        answers: list[str | None],
        again: bool,
        generated: list[list[int] | None] | None = None,
    ) -> None:
        """One greedy pass's answers, per scored record (None where not asked)."""
        if not again:
            self.greedy = answers
            made = generated or []
            self.greedy_ids = {i: ids for i, ids in enumerate(made) if ids is not None}
            return
        self.greedy_again = answers
        first = self.greedy or []
        asked = [(a, b) for a, b in zip(first, answers, strict=True) if b is not None]
        self.greedy_agreement = Agreement(sum(a == b for a, b in asked), len(asked))

    def greedy_against_walks(self) -> Agreement:
        """The greedy answers against the model's own answers to the same text in its walks:
        while a greedy answer has followed the reference, the greedy step and the walk's step
        saw the same characters, and must have chosen the same next one."""
        found = Agreement()
        for i, generated in self.greedy_ids.items():
            walked, truth = self.record_argmax.get(i), self.record_truth.get(i)
            if walked is None or truth is None:
                continue  # its first walk is still to come
            for k, token in enumerate(generated[: len(walked)]):
                found.add(Agreement(int(walked[k] == token), 1))
                if k >= len(truth) or token != truth[k]:
                    break  # past here the two saw different characters
        return found

    def check(self, least: float) -> None:
        """Reject a model whose answers to walks shown again, or whose greedy answers given
        again, do not match their first showing's."""
        checks = [
            (self.replays, "answers to walks it was shown again (position by position, "
             "in fresh processes)"),
            (self.greedy_agreement, "greedy answers to questions it was asked again (in a "
             "fresh process, in another order and batch)"),
            (self.greedy_against_walks(), "greedy steps that saw the same characters as a "
             "step of its walks (the answer so far the reference's)"),
        ]  # fmt: skip
        for found, what in checks:
            if (p := significantly_below(found, least)) is None:
                continue
            raise Rejected(
                Verdict.BAD_OUTPUT,
                f"the model answered the same text differently: of its {found.compared:,} "
                f"{what}, {found.share:.1%} matched its first answer; at least {least:.0%} "
                f"must ({p_text(p)}). Every step is scored: answer each one as you would "
                "the first, and keep nothing across reset.",
            )


@dataclass
class GenerationMeasurement:
    """What the generation referee hands to the result."""

    baseline: TextMeasurement
    submission: TextMeasurement
    seed: int
    walks: list[list[tuple[int, bool]]]  # per session: (walk index, shown again?)
    blind: list[int]  # the indices of the blind walks (walks.BLIND)
    openings: list[int]  # per first walk, by index: its first record's characters (blind: 0)
    affinity: dict
    wall_seconds: float
    cpu_wait: CpuWait = field(default_factory=CpuWait)  # over every session's walks


def greedy_answers(
    timer: BlockTimer, child: ModelProcess, questions: list[str], cap: int, timeout: float
) -> tuple[list[str], list[list[int]]]:
    """Each question's greedy answer (``textmetrics.Greedy``: the parent chooses every
    token), all sequences stepped together, one untimed block of one step at a time; and
    the ids it generated (the newline that ended it included)."""
    decoder = textmetrics.Greedy.for_questions(questions, cap)
    child.reset(len(questions), timeout)
    scores = None
    while not decoder.done:
        tokens = decoder.next_tokens(scores)
        if decoder.done:
            break
        scores = timer.block(child, tokens[None, :], batch=len(questions))[1][0]
    generated = [[*ids, NEWLINE] if len(ids) < cap else list(ids) for ids in decoder.answer_ids]
    return decoder.answers(), generated
