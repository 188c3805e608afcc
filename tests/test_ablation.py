"""The ablation (grader/measure/ablation.py): one untimed child per kind of evidence, its
private copy rewritten, its answers counted against the submission's first-pass answers; a
child that fails is recorded, not a verdict. Fake children (tests/fakechild.py)
(docs/DESIGN.md, Techniques and code quality).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakechild import PLAN, FakeChild, Fakes, images_and_labels

from grader.measure.ablation import Ablation
from grader.measure.plan import Model

SUBMISSION = Model("submission", Path("."), "model.py", "build_model", ("model.py",))


def rewrite(path: Path) -> None:
    """Stands for one technique's arrays shuffled in the child's copy."""


class WrongOnEven(FakeChild):
    """Answers every digit of an even label wrong (one class over)."""

    def run_block(self, message, inputs, batch, classes, timeout):
        elapsed, scores = super().run_block(message, inputs, batch, classes, timeout)
        if not message["noop"]:
            even = scores.argmax(axis=1) % 2 == 0
            scores[even] = np.roll(scores[even], 1, axis=1)
        return elapsed, scores


def ablate(fake: Fakes, first: np.ndarray, samples: int = 50, **rewrites) -> dict:
    images, _ = images_and_labels()
    referee = fake.referee(images, PLAN, seed=4)
    return Ablation(referee).ablate(SUBMISSION, rewrites or {"pruning": rewrite}, first, samples)


def test_answers_that_do_not_depend_on_the_arrays_all_agree(fake: Fakes) -> None:
    _, labels = images_and_labels()
    observed = ablate(fake, labels, quantization=rewrite, pruning=rewrite)
    assert observed["samples"] == 50
    assert observed["checks"] == {
        kind: {"agreed": 50, "compared": 50, "failure": None}
        for kind in ("quantization", "pruning")
    }
    assert [child.prepare for child in fake.spawned] == [rewrite, rewrite]  # one child each
    assert all(child.loaded for child in fake.spawned)


def test_only_digits_with_a_first_answer_are_compared(fake: Fakes) -> None:
    """Half the labels are even: answered wrong, they disagree; a digit with no first
    answer (-1) is not compared. At most the public digits are asked, each once."""
    _, labels = images_and_labels()
    fake.kinds["submission"] = WrongOnEven
    first = labels.copy()
    first[:100] = -1
    check = ablate(fake, first, samples=500)["checks"]["pruning"]
    assert check["compared"] == 100 and check["agreed"] == 50


class CrashesOnBlock(FakeChild):
    def run_block(self, message, inputs, batch, classes, timeout):
        raise self.failure("crashed", "submission: IndexError in forward")


def test_a_child_that_fails_is_recorded_not_a_verdict(fake: Fakes) -> None:
    _, labels = images_and_labels()
    fake.kinds["submission"] = CrashesOnBlock
    check = ablate(fake, labels)["checks"]["pruning"]
    assert check == {
        "agreed": None,
        "compared": None,
        "failure": "crashed: submission: IndexError in forward",
    }
