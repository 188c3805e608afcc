"""The tinytalks baseline (baselines/tinytalks/): the step protocol against the full forward,
reset, shapes, the committed weights' recorded numbers, and the trainer's backward pass."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from grader.config import project_root
from grader.data import reproduce, text, textmetrics

FOLDER = project_root() / "baselines" / "tinytalks"
DATA = project_root() / "data" / "tinytalks"
# The baseline's own record (baselines/tinytalks/README.md), on the test split.
RECORDED = {"perplexity": 8.5952, "exact_match": 0.0, "char_f1": 0.5052}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"tinytalks_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


evaluate = _module("evaluate")


@pytest.fixture(scope="module")
def model():
    return evaluate.load_model(FOLDER)


@pytest.fixture(scope="module")
def test_pairs() -> list[text.Pair]:
    return text.load_split(DATA, "test")


def random_ids(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, text.VOCAB_SIZE, (batch, length))


def test_each_step_scores_what_the_full_forward_scores_at_the_last_position(model) -> None:
    ids = random_ids(3, 40)
    full = model.forward(ids)
    model.reset(3)
    for t in range(ids.shape[1]):
        logits = model.step(ids[:, t])
        np.testing.assert_allclose(logits, model.forward(ids[:, : t + 1])[:, -1], atol=1e-5)
        np.testing.assert_allclose(logits, full[:, t], atol=1e-4)  # causal: no peeking ahead


def test_past_the_context_a_step_sees_the_last_context_tokens(model) -> None:
    ids = random_ids(2, model.context + 5, seed=1)
    model.reset(2)
    for t in range(ids.shape[1]):
        logits = model.step(ids[:, t])
    np.testing.assert_allclose(logits, model.forward(ids[:, -model.context :])[:, -1], atol=1e-5)


def test_reset_starts_fresh_sequences(model) -> None:
    ids = random_ids(4, 10, seed=2)
    model.reset(4)
    first = model.step(ids[:, 0])
    for t in range(1, 10):
        model.step(ids[:, t])
    model.reset(4)
    np.testing.assert_array_equal(model.step(ids[:, 0]), first)
    model.reset(2)  # another batch size
    np.testing.assert_array_equal(model.step(ids[:2, 0]), first[:2])
    assert model.prefix.shape == (2, 1)


def test_shapes_dtypes_and_refusals(model) -> None:
    assert model.vocab == text.VOCAB_SIZE and model.context == 128
    assert model.forward(random_ids(2, 7)).shape == (2, 7, text.VOCAB_SIZE)
    assert model.forward(random_ids(2, 7)).dtype == np.float32
    model.reset(5)
    out = model.step(np.arange(5, dtype=np.int32))
    assert out.shape == (5, text.VOCAB_SIZE) and out.dtype == np.float32
    with pytest.raises(ValueError, match=r"ints of shape \(5,\)"):
        model.step(np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match=r"ints of shape \(5,\)"):
        model.step(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"token ids must be in 0\.\.68"):
        model.step(np.full(5, text.VOCAB_SIZE))
    with pytest.raises(ValueError, match=r"tokens of shape \(batch, 1\.\.128\)"):
        model.forward(random_ids(1, 129))
    fresh = evaluate.load_model(FOLDER)
    with pytest.raises(RuntimeError, match="reset"):
        fresh.step(np.zeros(1, dtype=np.int64))


def test_the_committed_weights_give_the_recorded_perplexity(model, test_pairs) -> None:
    scores = evaluate.answer_scores(model, test_pairs)
    assert scores.chars.sum() == sum(len(p.answer) + 2 for p in test_pairs)
    assert scores.perplexity == pytest.approx(RECORDED["perplexity"], abs=5e-4)
    env = reproduce.recorded(FOLDER)
    assert env["held_out_accuracy"] == pytest.approx(scores.accuracy, abs=1e-9)
    readme = (FOLDER / "README.md").read_text()
    assert f"**{RECORDED['perplexity']:.3f}**" in readme


@pytest.mark.slow  # 46 answers of up to 64 steps, each recomputing its prefix: about 10 s
def test_the_committed_weights_give_the_recorded_greedy_answers(model, test_pairs) -> None:
    answers = evaluate.greedy_answers(model, [p.question for p in test_pairs])
    quality = textmetrics.answer_quality(answers, [p.answer for p in test_pairs])
    assert quality["exact_match"] == pytest.approx(RECORDED["exact_match"], abs=1e-9)
    assert quality["char_f1"] == pytest.approx(RECORDED["char_f1"], abs=5e-4)


def test_the_environment_of_the_weights_is_recorded() -> None:
    env = json.loads((FOLDER / reproduce.ENV_FILE).read_text())
    digest = hashlib.sha256((FOLDER / "weights.npz").read_bytes()).hexdigest()
    assert env["weights_sha256"] == digest
    assert set(reproduce.KERNEL_FIELDS) <= set(env) and env["blas_threads"] == 1
    assert digest in (FOLDER / "README.md").read_text()


class Scripted:
    """A model that answers every prompt with ``reply`` then a newline, whatever it is fed."""

    def __init__(self, reply: str) -> None:
        self.ids = text.encode(reply + "\n")

    def reset(self, batch: int) -> None:
        self.fed = np.zeros((batch, 0), dtype=np.int64)
        self.after = np.full(batch, -1)  # steps since each sequence's prompt ended

    def step(self, tokens: np.ndarray) -> np.ndarray:
        self.fed = np.concatenate([self.fed, tokens[:, None]], axis=1)
        ends = np.array([text.decode(row).endswith("A:") for row in self.fed])
        self.after = np.where(ends, 0, np.where(self.after >= 0, self.after + 1, -1))
        logits = np.zeros((len(tokens), text.VOCAB_SIZE), dtype=np.float32)
        at = np.clip(self.after, 0, len(self.ids) - 1)
        logits[np.arange(len(tokens)), self.ids[at]] = 1
        return logits


def test_greedy_answers_drive_prompts_of_any_length_and_stop_at_the_newline() -> None:
    questions = ["Hi?", "What is the longest question of this batch?"]
    model = Scripted(" Hello there.")
    assert evaluate.greedy_answers(model, questions) == ["Hello there.", "Hello there."]
    assert [text.decode(row)[: len(text.prompt(q))] for row, q in zip(
        model.fed, questions, strict=True)] == [text.prompt(q) for q in questions]  # fmt: skip
    assert evaluate.greedy_answers(Scripted(" " + "a" * 80), ["Hi?"], cap=10) == ["a" * 9]


def test_the_trainers_backward_pass_matches_finite_differences() -> None:
    proc = subprocess.run(
        [sys.executable, str(FOLDER / "train.py"), "--gradcheck"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    worst = float(re.search(r"worst relative error (\S+)", proc.stdout).group(1))
    assert worst < 1e-5
