"""The ablation: do the submission's answers depend on the arrays its techniques show?
(docs/DESIGN.md, Techniques and code quality)

Untimed, after the measurement: for each kind of evidence found (``weights.ablate``
rewrites one technique's arrays with their values shuffled), one more child of the
submission, started and loaded exactly as a timed one, answers public held-out digits; its
answers are counted against the submission's own first-pass answers to them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.errors import ChildFailure
from grader.measure.answers import agreement, answers_of
from grader.measure.plan import Model
from grader.measure.referee import Referee


class Ablation:
    """The ablation children of one grade, started by its referee's spawner, on its
    random stream, timed by its block timer (untimed here: only the answers count)."""

    def __init__(self, referee: Referee) -> None:
        launcher = referee.launcher
        self.plan = referee.plan
        self.imports = launcher.imports
        self.progress = referee.progress
        self.spawner, self.page_bytes = launcher.spawner, launcher.page_bytes
        self.layout_shift = launcher.layout_shift
        self.timer = referee.timer
        self.block = referee.timer.block
        self.inputs = referee.inputs
        self.decoys, self.noisy = referee.inputs.decoys, referee.inputs.noisy

    def ablate(
        self,
        submission: Model,
        rewrites: dict[str, Callable[[Path], None]],
        first: np.ndarray,
        samples: int,
    ) -> dict:
        """For each ``rewrites`` entry, one more child of the submission whose private copy
        that rewrite changed (one technique's evidence arrays shuffled) answers ``samples``
        public held-out digits, with noise as every timed presentation, one at a time; its
        answers are counted against ``first``, the submission's own first-pass answers to
        them.

        A child that fails (crashes, hangs, answers NaN) is no verdict on the submission:
        its failure is recorded, as the answers' dependence on the arrays it shows."""
        idx = self.inputs.public_sample(samples)
        checks: dict[str, dict] = {}
        for kind, rewrite in rewrites.items():
            checks[kind] = self.check(submission, rewrite, first, idx)
            self.progress("checking that the techniques found are used", len(checks), len(rewrites))
        return {"samples": len(idx), "checks": checks}

    def check(
        self,
        submission: Model,
        rewrite: Callable[[Path], None],
        first: np.ndarray,
        idx: np.ndarray,
    ) -> dict:
        """One ablation child: its answers to the digits ``idx`` against ``first``."""
        agreed = compared = failure = None
        child = None
        try:
            child = self.spawner(
                submission.name, submission.folder, self.plan.limits, None,
                self.page_bytes, files=submission.files, prepare=rewrite,
            )  # fmt: skip
            self.timer.live = [child]
            child.load(
                submission.entrypoint_file, submission.function, self.layout_shift(),
                self.imports, self.plan.load_timeout_s,
            )  # fmt: skip
            for _ in range(2):  # as a timed child begins: its first calls are decoys
                self.block(child, self.decoys(32))
            _, scores = self.block(child, self.noisy(idx))  # as every presentation
            found = agreement(first, idx, answers_of(scores))
            agreed, compared = found.agreed, found.compared
        except ChildFailure as exc:
            failure = f"{exc.code}: {exc.message}"[:300]
        finally:
            if child is not None:
                child.close()
            self.timer.live = []
        return {"agreed": agreed, "compared": compared, "failure": failure}
