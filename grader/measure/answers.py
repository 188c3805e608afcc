"""The answer checks: what a model answered, which answer is scored, and whether its later
answers to a digit match its first (docs/DESIGN.md, Answer checks).

This is where the workload's answer protocol lives: a classifier's answer to a sample is
its highest score (``answers_of``), one answer per digit is kept for accuracy, and every
later answer is compared with the first pass's. The referee hands over a block's scores
and what the round showed; it reads no answer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.errors import Rejected, Verdict
from grader.measure import schedule

AGREEMENT_P_VALUE = 1e-3  # agreement below the least share at this significance: rejected


def answers_of(scores: np.ndarray) -> np.ndarray:
    """A classifier's answer to each sample: the class of its highest score."""
    return scores.argmax(axis=1)


def p_text(p: float) -> str:
    """A p-value for a sentence: one significant digit, and no "p = 0"."""
    return f"p = {p:.1g}" if p >= 1e-12 else "p < 1e-12"


@dataclass
class Agreement:
    """Answers of one kind to digits already answered once, against that first answer."""

    agreed: int = 0
    compared: int = 0

    def add(self, other: Agreement) -> None:
        self.agreed += other.agreed
        self.compared += other.compared

    @property
    def share(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def agreement(first: np.ndarray, idx: np.ndarray, answers: np.ndarray) -> Agreement:
    """``answers`` to the digits ``idx`` against ``first``, where a first answer is known
    (-1: none yet)."""
    known = first[idx] >= 0
    return Agreement(int(np.sum(answers[known] == first[idx][known])), int(known.sum()))


@dataclass
class Answers:
    """One model's answers, per digit: the scored one (one single-sample presentation drawn
    at random among all of the digit's, see ``ScoredDraw``) and the first pass's, which
    every later one is compared with (-1: none yet).

    The agreements: timed single samples shown again (repeats), the first sightings of
    later sessions' processes (first; the reserve rounds' among them, met among the
    repeats), and the batched blocks. A model honest only on the pass it takes for the
    scored one, or one that guesses at digits new to it and keeps the guess, disagrees
    here."""

    predictions: np.ndarray
    reference: np.ndarray
    private_predictions: np.ndarray | None = None  # on the sealed split, when it is scored
    repeats: Agreement = field(default_factory=Agreement)
    first: Agreement = field(default_factory=Agreement)
    reserve: Agreement = field(default_factory=Agreement)
    batch: Agreement = field(default_factory=Agreement)

    @classmethod
    def of(cls, digits: int) -> Answers:
        """No answer yet to any of ``digits`` digits."""
        return cls(predictions=np.full(digits, -1), reference=np.full(digits, -1))

    @property
    def batch_agreement(self) -> float | None:
        return self.batch.share

    @property
    def repeat_agreement(self) -> float | None:
        return self.repeats.share

    @property
    def first_sight_agreement(self) -> float | None:
        return self.first.share

    def timed(self, shown: schedule.Round, scored: np.ndarray, scores: np.ndarray) -> None:
        """A timed round's answers: the scored ones kept, the first pass's taken as the
        reference, every other one compared with the reference."""
        idx, answers = shown.idx, answers_of(scores)
        self.predictions[idx[scored]] = answers[scored]
        self.reference[idx[shown.first_pass]] = answers[shown.first_pass]
        first = shown.new & ~shown.first_pass  # a later session's first sightings
        self.first.add(agreement(self.reference, idx[first], answers[first]))
        if shown.role == schedule.FRESH:
            self.reserve.add(agreement(self.reference, idx[first], answers[first]))
        self.repeats.add(agreement(self.reference, idx[~shown.new], answers[~shown.new]))

    def batched(self, idx: np.ndarray, scores: np.ndarray) -> None:
        """A batched block's answers, compared with the reference."""
        self.batch.add(agreement(self.reference, idx, answers_of(scores)))

    def split_private(self, public_count: int) -> None:
        """The sealed split's scored answers apart from the public ones'."""
        self.private_predictions = self.predictions[public_count:]
        self.predictions = self.predictions[:public_count]


class ScoredDraw:
    """Which presentation of each digit is scored: one of them, drawn uniformly among all
    of them as they come (a reservoir of one, Vitter's algorithm R), the same for both
    children; the submission cannot know which until the grade ends."""

    def __init__(self, digits: int, rng: np.random.Generator) -> None:
        self.rng = rng
        self.presented = np.zeros(digits, dtype=np.int64)  # timed single samples a digit

    def draw(self, idx: np.ndarray) -> np.ndarray:
        """Per sample of a round showing ``idx``: is this presentation now the scored one?"""
        self.presented[idx] += 1
        return self.rng.random(len(idx)) * self.presented[idx] < 1


def significantly_below(found: Agreement, least: float) -> float | None:
    """The p-value of ``found`` agreeing less often than ``least`` (a one-sided binomial
    test), where it is below ``AGREEMENT_P_VALUE``; None where too few answers disagree to
    tell it from an honest model's near-ties."""
    if not found.compared or found.agreed >= least * found.compared:
        return None
    from scipy.special import bdtr  # P(X <= agreed): scipy.stats.binomtest's "less" p-value

    p = float(bdtr(found.agreed, found.compared, least))
    return p if p < AGREEMENT_P_VALUE else None


def check_answers(submission: Answers, least: float) -> None:
    """Reject a submission whose later answers to a digit do not match its first.

    Accuracy counts one presentation of each digit, drawn at random: a model that
    answered most presentations fast and wrong would lose accuracy in proportion, but
    one that answered a few wrong would lose little and save their time; it could also
    answer batches differently from single samples; or, in a later session's new
    processes, guess at digits it has not met yet and keep the guess for their
    repeats (fast, and consistent with itself). Each is checked against its own
    first-pass answers; a share below ``least`` (``Plan.min_repeat_agreement``) is
    rejected once it is significantly below."""
    checks = [
        (submission.repeats, "timed single-sample",
         "the same image with noise under half a grey level"),
        (submission.first, "first",
         "the same image with noise, met for the first time by a new process"),
        (submission.reserve, "first",
         "the same image with noise, met for the first time among the repeats"),
        (submission.batch, "batched", "the same image with noise, in a batch"),
    ]  # fmt: skip
    for found, kind, how in checks:
        agreed, compared = found.agreed, found.compared
        if (p := significantly_below(found, least)) is None:
            continue
        raise Rejected(
            Verdict.BAD_OUTPUT,
            f"the model answered the same digits differently: of its {compared:,} "
            f"{kind} answers to digits it had answered before ({how}), "
            f"{agreed / compared:.1%} matched its first answer; at least {least:.0%} "
            f"must ({p_text(p)}). Every call is scored: answer each one as you would "
            "the first (and check that no layer behaves differently in a batch).",
        )
