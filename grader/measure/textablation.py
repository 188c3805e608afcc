"""The ablation of a generation grade: do the model's answers depend on the arrays its
techniques show? (docs/DESIGN.md, Techniques and code quality)

As for the digits (``ablation.py``): untimed, after the measurement, one more child of the
submission per kind of evidence found, started from a private copy in which that
evidence's arrays have their values shuffled (``weights.ablate``), loaded exactly as a
timed one. It is stepped through walks the submission has already walked (public ones,
opened by a held-out pair), and its arg-max is compared, step by step, with the
submission's own on their first showing. Without it no technique of a text model counts
(``techniques.compare``), and a claimed one is flagged as not used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.child import wire
from grader.errors import ChildFailure
from grader.measure.generation import GenerationReferee
from grader.measure.plan import Model
from grader.measure.walks import Walk

WALKS = 2  # walks per ablation child: 256 steps, each compared


def ablation_walks(referee: GenerationReferee, kinds: list[str]) -> list[Walk]:
    """The first session's first walks opened by a held-out pair (``kinds``: the scored
    records' kinds), at most :data:`WALKS`: text every grade may show, never a sealed record."""
    shown = [w for w in referee.walks[0] if not (w.replay or w.blind) and kinds[w.scored] == "test"]
    return shown[:WALKS]


def ablate(
    referee: GenerationReferee,
    submission: Model,
    rewrites: dict[str, Callable[[Path], None]],
    first: dict[int, np.ndarray],
    walks: list[Walk],
) -> dict:
    """For each ``rewrites`` entry, one child of the submission whose private copy that
    rewrite changed steps through ``walks``; its arg-max is counted against ``first`` (the
    submission's arg-max on each walk's first showing, by walk index). A child that fails
    is no verdict on the submission: its failure is recorded."""
    checks = {kind: _check(referee, submission, rw, first, walks) for kind, rw in rewrites.items()}
    return {"samples": sum(len(first[w.index]) for w in walks), "checks": checks}


def _check(
    referee: GenerationReferee,
    submission: Model,
    rewrite: Callable[[Path], None],
    first: dict[int, np.ndarray],
    walks: list[Walk],
) -> dict:
    plan, launcher, timer = referee.plan, referee.launcher, referee.timer
    agreed = compared = 0
    failure = None
    child = None
    steps = plan.block_steps
    try:
        child = launcher.spawner(
            submission.name, submission.folder, plan.limits, None, launcher.page_bytes,
            files=submission.files, prepare=rewrite,
        )  # fmt: skip
        timer.live = [child]
        child.load(
            submission.entrypoint_file, submission.function, launcher.layout_shift(),
            launcher.imports, plan.load_timeout_s, wire.GENERATION,
        )  # fmt: skip
        for walk in walks:
            child.reset(1, plan.block_timeout_s)
            feed = walk.tokens[: plan.length].reshape(-1, steps, 1)
            argmax = np.concatenate([timer.block(child, block)[1][:, 0, :] for block in feed])
            argmax = argmax.argmax(axis=-1)
            agreed += int((argmax == first[walk.index]).sum())
            compared += len(argmax)
    except ChildFailure as exc:
        failure = f"{exc.code}: {exc.message}"[:300]
        agreed = compared = None
    finally:
        if child is not None:
            child.close()
        timer.live = []
    return {"agreed": agreed, "compared": compared, "failure": failure}
