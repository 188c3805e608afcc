"""The bundled tinytalks example submissions/example-kv-cache/ against the baseline it
optimizes: the same weights, the baseline's step scores over walks of real TinyTalks text
(within 1e-4), nothing kept across reset, the baseline's greedy answers, and a folder the
grader's static check accepts (docs/DESIGN.md, Generation)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from grader.analysis import static
from grader.config import Rules, check_submission, project_root
from grader.data import text
from grader.data.textmetrics import Greedy

ROOT = project_root()
BASELINE = ROOT / "baselines" / "tinytalks"
EXAMPLE = ROOT / "submissions" / "example-kv-cache"
WALK = 128  # a grade's walk: 128 steps from reset(1) (docs/DESIGN.md, Generation)
TOLERANCE = 1e-4  # absolute, on every score of every step


def _module(folder: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(folder: Path, name: str):
    """``build_model()`` run in its folder, as a grade runs it."""
    module, cwd = _module(folder, name), os.getcwd()
    os.chdir(folder)
    try:
        return module.build_model()
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """One BLAS thread, as a grade's child runs (grader/sandbox/launch.py): the baseline's
    walks take a second instead of ten on a busy two-core machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def baseline():
    return _build(BASELINE, "tinytalks_baseline_model")


@pytest.fixture(scope="module")
def cached():
    return _build(EXAMPLE, "example_kv_cache_model")


@pytest.fixture(scope="module")
def test_pairs() -> list[text.Pair]:
    return text.load_split(ROOT / "data" / "tinytalks", "test")


def walks(pairs: list[text.Pair], batch: int, length: int = WALK) -> np.ndarray:
    """(batch, length) ids of the split's records one after another, as a walk shows them,
    each sequence starting at another record."""
    ids = [text.encode("".join(text.record(p) for p in pairs[b * 7 :]), strict=True)
           for b in range(batch)]  # fmt: skip
    return np.stack([row[:length] for row in ids])


def stepped(model, ids: np.ndarray) -> np.ndarray:
    """Every step's scores (T, batch, vocab) of ``ids`` (batch, T) fed from reset."""
    model.reset(len(ids))
    return np.stack([model.step(ids[:, t]) for t in range(ids.shape[1])])


def greedy(model, questions: list[str]) -> list[str]:
    decoder = Greedy.for_questions(questions)
    model.reset(len(questions))
    scores = None
    while True:
        tokens = decoder.next_tokens(scores)
        if decoder.done:
            return decoder.answers()
        scores = model.step(tokens)


def test_the_weights_are_the_baselines_byte_for_byte() -> None:
    digests = {
        hashlib.sha256((f / "weights.npz").read_bytes()).digest() for f in (BASELINE, EXAMPLE)
    }
    assert len(digests) == 1


@pytest.mark.parametrize("batch", [1, 3])
def test_every_step_of_a_walk_scores_what_the_baseline_scores(
    baseline, cached, test_pairs: list[text.Pair], batch: int
) -> None:
    ids = walks(test_pairs, batch)
    want, got = stepped(baseline, ids), stepped(cached, ids)
    assert got.shape == (WALK, batch, text.VOCAB_SIZE) and got.dtype == np.float32
    worst = float(np.abs(got - want).max())
    assert worst < TOLERANCE, f"worst difference {worst:.2e} over {WALK} steps"
    # measured: 8.6e-6 at most; the arg-max of every step is the baseline's
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))


def test_past_the_context_it_recomputes_the_window_as_the_baseline_does(baseline, cached) -> None:
    ids = np.random.default_rng(3).integers(0, text.VOCAB_SIZE, (2, cached.context + 6))
    want, got = stepped(baseline, ids), stepped(cached, ids)
    assert np.abs(got[cached.context :] - want[cached.context :]).max() < TOLERANCE


def test_reset_keeps_nothing_of_the_sequences_before(cached, test_pairs: list[text.Pair]) -> None:
    first, second = walks(test_pairs, 2, length=40)
    fresh = stepped(_build(EXAMPLE, "example_kv_cache_fresh"), second[None])
    stepped(cached, np.stack([first, first[::-1]]))  # another batch size, other text
    np.testing.assert_array_equal(stepped(cached, second[None]), fresh)
    with pytest.raises(RuntimeError, match="reset"):
        _build(EXAMPLE, "example_kv_cache_unreset").step(np.zeros(1, dtype=np.int64))


def test_the_greedy_answers_are_the_baselines(
    baseline, cached, test_pairs: list[text.Pair]
) -> None:
    questions = [p.question for p in test_pairs[:10]]
    answers = greedy(cached, questions)
    assert answers == greedy(baseline, questions)
    assert len(set(answers)) > 1  # answers that differ: a test that can tell models apart


def test_the_grader_accepts_the_folder(rules: Rules) -> None:
    submission, problems = check_submission(EXAMPLE, rules)
    assert problems == [] and submission is not None
    assert submission.workload == "tinytalks" and submission.techniques == ("kv-cache",)
    assert static.check(EXAMPLE, rules) == (None, [])
