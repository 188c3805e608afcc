"""The answers and the answer checks (grader/measure/answers.py): which answer is scored,
the first pass as the reference, and the agreement of every later answer with it; on a
fake clock with fake children (tests/fakechild.py) and on hand-made counts
(docs/DESIGN.md, Answer checks).
"""

from __future__ import annotations

import numpy as np
import pytest
from fakechild import (
    CACHE_PLAN,
    PLAN,
    TAIL_PLAN,
    FakeChild,
    costing,
    images_and_labels,
    keys,
    measure,
)

from grader.errors import Rejected
from grader.measure import schedule
from grader.measure.answers import Agreement, Answers, check_answers

LEAST = PLAN.min_repeat_agreement


def test_every_digit_has_a_scored_answer_and_a_first_one(fake) -> None:
    m, labels = measure(fake)
    assert (m.submission.answers.predictions == labels).all()
    assert (m.baseline.answers.predictions == labels).all()
    assert (m.submission.answers.reference == labels).all()
    assert m.submission.answers.batch_agreement == 1.0


@pytest.mark.slow
def test_the_scored_answer_is_drawn_among_every_presentation(fake) -> None:
    """A model right on each digit's first presentation in the grade (the pass it could
    take for the scored one) and wrong on two digits of 200 ever after (1 %: under the
    agreement bar) is scored wrong on those digits, nearly always: the scored answer is
    one of a digit's presentations drawn at random, and it has dozens."""
    images, labels = images_and_labels()
    cheat = {0, 1}  # digits 0 and 1: answered from the "table" only the first time

    class RightTheFirstTime(FakeChild):
        def run_block(self, message, inputs, batch, classes, timeout):
            elapsed, scores = super().run_block(message, inputs, batch, classes, timeout)
            if not message["noop"]:
                met = self.__dict__.setdefault("met", set())
                for j, row in enumerate(inputs.reshape(len(inputs), -1)):
                    distance = np.abs(images - row).sum(axis=1)
                    which = int(np.argmin(distance))
                    if distance[which] > 0.1:
                        continue  # a decoy (noise here), not a held-out digit with noise
                    if which in cheat and which in met:
                        scores[j] = np.roll(scores[j], 1)
                    met.add(which)
            return elapsed, scores

    fake.kinds["submission"] = RightTheFirstTime
    wrong = 0
    for seed in range(5):
        m, labels = measure(fake, TAIL_PLAN, seed)  # 8 sessions: a digit's first in each process
        answers = m.submission.answers
        assert (answers.reference == labels).all()  # the first pass: all right
        wrong += int(np.sum(answers.predictions[list(cheat)] != labels[list(cheat)]))
    assert wrong >= 8  # of 10 scored answers; the first pass alone would give 0


@pytest.mark.parametrize(("wrong_from", "rejected"), [(None, False), (200, True), (5000, False)])
def test_later_answers_must_match_the_first(fake, wrong_from, rejected) -> None:
    """The first pass (200 images here) sets each digit's first answer. A submission that
    answers wrongly from its 200th answer on (the probes and warm-up come first, so about
    where the first pass ends) is rejected; one whose 5,000th answer would be the first
    wrong one, after the measurement has ended, is not (the control)."""

    class WrongLater(FakeChild):
        def run_block(self, message, inputs, batch, classes, timeout):
            elapsed, scores = super().run_block(message, inputs, batch, classes, timeout)
            if wrong_from is not None and not message["noop"]:
                answered = len(self.seen)  # including this block
                late = np.arange(answered - len(inputs), answered) >= wrong_from
                scores[late] = np.roll(scores[late], 1, axis=1)
            return elapsed, scores

    fake.kinds["submission"] = WrongLater
    if rejected:
        with pytest.raises(Rejected, match="answered the same digits differently") as e:
            measure(fake)
        assert e.value.code == "bad_output"
    else:
        m, labels = measure(fake)
        assert m.submission.answers.repeat_agreement == 1.0
        assert (m.submission.answers.predictions == labels).all()


def test_guessing_at_new_digits_and_keeping_the_guess_is_caught(fake) -> None:
    """A lazy cache guesses at a digit it meets first (one guess in ten wrong) and keeps
    the guess: fast everywhere after, and consistent with itself within a process (and no
    pass can be told for the scored one, so it cannot be honest there only). Its first
    answers in a later session's new processes disagree with the first pass's."""

    rng = np.random.default_rng(0)

    def cost(child, inputs):
        met = child.__dict__.setdefault("lazy", {})
        return [1.0 if key not in met else 0.2 for key in keys(inputs)]

    def answer(child, inputs, scores):
        met = child.lazy
        for i, key in enumerate(keys(inputs)):
            if key not in met:
                guess = scores[i].copy()
                if rng.random() < 0.1:
                    guess = np.roll(guess, 1)
                met[key] = guess
            scores[i] = met[key]

    cost.answer = answer
    costing(fake, cost)
    with pytest.raises(Rejected, match="answered the same digits differently") as e:
        measure(fake, CACHE_PLAN)
    assert e.value.code == "bad_output"


@pytest.mark.parametrize(
    ("first", "rejected"), [((900, 1000), True), ((995, 1000), False), ((4, 5), False)]
)
def test_first_answers_of_a_new_process_must_match_the_first_pass(first, rejected) -> None:
    """90 % of 1,000 is significantly below 99 %: rejected. 99.5 % is above; 4 of 5 is too
    few to tell from an honest model's near-ties (p = 0.05)."""
    answers = Answers.of(0)
    answers.repeats, answers.first = Agreement(5000, 5000), Agreement(*first)
    if rejected:
        with pytest.raises(Rejected, match="first answers") as e:
            check_answers(answers, LEAST)
        assert "90.0%" in e.value.message
    else:
        check_answers(answers, LEAST)


def test_guesses_at_the_digits_met_among_the_repeats_are_checked_on_their_own() -> None:
    """A guesser that answers the reserve rounds' digits by a cheap guess (80 % right)
    and everything else honestly: a few dozen wrong answers among a grade's
    thousands of first sightings pass the 99 % bar, but not among the reserve's own."""
    answers = Answers.of(0)
    answers.repeats = Agreement(5000, 5000)
    answers.first = Agreement(2000 - 20, 2000)  # 99 %: passes as a whole
    answers.reserve = Agreement(650 - 20, 650)  # 96.9 %: not on its own
    with pytest.raises(Rejected, match="met for the first time among the repeats"):
        check_answers(answers, LEAST)
    answers.reserve.agreed = 650 - 3  # an honest model's near-ties
    check_answers(answers, LEAST)


def one_hot(classes: list[int]) -> np.ndarray:
    """Scores whose highest is at ``classes``, one row per sample."""
    scores = np.zeros((len(classes), 10), dtype=np.float32)
    scores[np.arange(len(classes)), classes] = 1.0
    return scores


def shown(idx: list[int], new: list[bool], first_pass: bool, role: str) -> schedule.Round:
    return schedule.Round(np.array(idx), np.array(new), np.full(len(idx), first_pass), role)


def test_a_rounds_answers_are_kept_and_compared_with_the_first_pass() -> None:
    """The first pass's answers become the reference and the scored ones are kept; a
    later round's repeats and first sightings are counted against the reference, where
    there is one, those of a reserve round on their own too."""
    answers = Answers.of(4)
    answers.timed(
        shown([0, 1], [True, True], True, schedule.OTHER), np.array([True, False]), one_hot([3, 5])
    )
    assert answers.reference.tolist() == [3, 5, -1, -1]
    assert answers.predictions.tolist() == [3, -1, -1, -1]
    answers.timed(
        shown([1, 0, 2], [False, False, True], False, schedule.FRESH),
        np.array([True, False, True]),
        one_hot([5, 4, 7]),
    )
    assert answers.predictions.tolist() == [3, 5, 7, -1]
    assert answers.repeats == Agreement(1, 2)  # digit 0 answered 4, first 3
    assert answers.first == answers.reserve == Agreement(0, 0)  # digit 2: no first answer
    answers.batched(np.array([0, 1, 3]), one_hot([3, 5, 1]))
    assert answers.batch == Agreement(2, 2) and answers.batch_agreement == 1.0
    assert answers.repeat_agreement == 0.5 and answers.first_sight_agreement is None
