"""The generation protocol end to end in real worker children (``grader/child/worker.py``
driven through ``grader/sandbox/handle.py``'s ``Child``): a generation model is loaded as
one, ``reset`` starts its sequences and each hand-over of a block is one step of them
(docs/DESIGN.md, Trust boundaries). The TinyTalks baseline stepped through the child gives
the logits of its own ``forward`` over each whole prefix; a generation model that answers
the wrong shape, NaN or an exception, or that lacks ``reset``, gets its verdict.

These models are not in ``tests/hostile/``: that corpus is graded with ``olympics grade``,
which needs a registered workload of the generation kind. Each child starts in about half
a second here.
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.child import wire
from grader.config import Rules, project_root
from grader.data import text
from grader.errors import ChildFailure
from grader.sandbox.handle import Child
from grader.sandbox.launch import Limits, spawn

BASELINE = project_root() / "baselines" / "tinytalks"
VOCAB = text.VOCAB_SIZE
TIMEOUT = 20.0  # seconds: generous for a shared 2-core machine; the steps take milliseconds


def baseline_module():
    """The baseline's model.py, imported in the test's own process (it reads its weights
    from the working directory, so ``from_arrays`` is given them here)."""
    spec = importlib.util.spec_from_file_location("tinytalks_model", BASELINE / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    """The baseline's network in this process: its ``forward`` is the reference."""
    module = baseline_module()
    with np.load(BASELINE / "weights.npz", allow_pickle=False) as f:
        return module.from_arrays({k: f[k] for k in f.files})


def start(folder: Path, files: tuple[str, ...], rules: Rules) -> Child:
    """A generation model's child, loaded with the competition's import rules."""
    child = spawn("submission", folder, Limits(), None, files=files)
    try:
        child.load("model.py", "build_model", 64, rules.imports, TIMEOUT, wire.GENERATION)
    except BaseException:
        child.close()
        raise
    return child


@pytest.fixture(scope="module")
def baseline(rules: Rules) -> Iterator[Child]:
    child = start(BASELINE, ("model.py", "weights.npz"), rules)
    try:
        yield child
    finally:
        child.close()


def prompts(*questions: str) -> np.ndarray:
    """The questions' prompts as token ids, one row each, cut to the shortest."""
    ids = [text.encode(text.prompt(q)) for q in questions]
    return np.stack([row[: min(map(len, ids))] for row in ids]).astype(np.int64)


def steps(child: Child, tokens: np.ndarray) -> np.ndarray:
    """Hand ``tokens`` (batch, T) to the child one step at a time: logits (batch, T, vocab)."""
    _, scores = child.time_block(tokens.T.copy(), len(tokens), False, (), VOCAB, TIMEOUT)
    assert scores.shape == (tokens.shape[1], len(tokens), VOCAB)
    return scores.transpose(1, 0, 2)


def test_the_baseline_stepped_through_the_child_gives_its_forward_logits(
    baseline: Child, reference
) -> None:
    """Two blocks of steps (the sequences carry over from one block to the next) against
    ``forward`` over the whole prefix, once."""
    tokens = prompts("What is the capital of France?", "How are you today?", "Hi there!")
    baseline.reset(3, TIMEOUT)
    got = np.concatenate([steps(baseline, tokens[:, :4]), steps(baseline, tokens[:, 4:])], axis=1)
    expected = reference.forward(tokens)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert not baseline.killed


def test_reset_starts_fresh_sequences_and_a_noop_block_leaves_them_alone(
    baseline: Child, reference
) -> None:
    """After some steps, ``reset`` (to another batch) starts empty sequences: their logits
    are ``forward``'s over the new tokens alone. A no-op block answers zeros and never
    calls ``step``: the sequences go on as if it had not been."""
    baseline.reset(3, TIMEOUT)
    steps(baseline, prompts("Tell me a joke.", "What is two plus two?", "Who are you?"))
    tokens = prompts("Do you like music?", "Where do you live?")
    baseline.reset(2, TIMEOUT)
    first = steps(baseline, tokens[:, :5])
    _, zeros = baseline.time_block(tokens[:, :3].T.copy(), 2, True, (), VOCAB, TIMEOUT)
    assert zeros.shape == (3, 2, VOCAB) and not zeros.any()
    rest = steps(baseline, tokens[:, 5:])
    expected = reference.forward(tokens)
    np.testing.assert_allclose(
        np.concatenate([first, rest], axis=1), expected, rtol=1e-4, atol=1e-4
    )


def test_a_block_for_another_batch_than_the_reset_is_the_graders_error(baseline: Child) -> None:
    baseline.reset(2, TIMEOUT)
    with pytest.raises(ValueError, match="after reset"):
        baseline.time_block(np.zeros((1, 3), np.int64), 3, False, (), VOCAB, TIMEOUT)
    with pytest.raises(ValueError, match="token ids"):
        baseline.time_block(np.full((1, 2), VOCAB, np.int64), 2, False, (), VOCAB, TIMEOUT)
    assert not baseline.killed


GENERATION_MODEL = """\
import numpy as np

VOCAB = {vocab}


class Model:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
{step}


def build_model():
    return Model()
"""


@pytest.mark.parametrize(
    ("step", "code", "words"),
    [
        pytest.param(
            "return np.zeros((self.batch, VOCAB - 1), np.float32)",
            "bad_output",
            ["shape (2, 68)", "expected numbers of shape (2, 69)"],
            id="wrong-shape",
        ),
        pytest.param(
            "return np.full((self.batch, VOCAB), np.nan, np.float32)",
            "bad_output",
            ["NaN or infinite scores for 2 of 2 tokens"],
            id="nan",
        ),
        pytest.param(
            "return np.array([['a'] * VOCAB] * self.batch)",
            "bad_output",
            ["<U1 scores"],
            id="strings",
        ),
        pytest.param(
            "raise RuntimeError('no next token')",
            "crashed",
            ["RuntimeError: no next token", "model.py"],
            id="raises",
        ),
        pytest.param(
            "return np.zeros((self.batch, VOCAB), np.float32) / 0.0",
            "bad_output",
            ["NaN or infinite"],
            id="divides-by-zero",
        ),
    ],
)
def test_a_generation_model_that_answers_badly_gets_its_verdict(
    tmp_path: Path, rules: Rules, step: str, code: str, words: list[str]
) -> None:
    body = textwrap.indent(f"tokens = np.asarray(tokens)\n{step}", " " * 8)
    (tmp_path / "model.py").write_text(GENERATION_MODEL.format(vocab=VOCAB, step=body))
    child = start(tmp_path, ("model.py",), rules)
    try:
        child.reset(2, TIMEOUT)
        with pytest.raises(ChildFailure) as raised:
            child.time_block(np.zeros((1, 2), np.int64), 2, False, (), VOCAB, TIMEOUT)
        assert raised.value.code == code, raised.value.message
        for word in words:
            assert word in raised.value.message
    finally:
        child.close()


def test_a_generation_model_whose_step_returns_an_object_with_data_is_served(
    tmp_path: Path, rules: Rules
) -> None:
    """A course framework's tensor (an object with ``.data``) is read as its array, and the
    tokens reach ``step`` as int64 ids of shape (batch,)."""
    step = (
        "assert tokens.dtype == np.int64 and tokens.shape == (self.batch,), tokens\n"
        "scores = np.zeros((self.batch, VOCAB))\n"
        "scores[np.arange(self.batch), tokens] = 1.0\n"
        "return type('Tensor', (), {'data': scores})()"
    )
    body = textwrap.indent(step, " " * 8)
    (tmp_path / "model.py").write_text(GENERATION_MODEL.format(vocab=VOCAB, step=body))
    child = start(tmp_path, ("model.py",), rules)
    try:
        child.reset(2, TIMEOUT)
        tokens = np.array([[3, 68], [0, 5]], dtype=np.int64)
        _, scores = child.time_block(tokens, 2, False, (), VOCAB, TIMEOUT)
        assert (scores.argmax(axis=2) == tokens).all()
    finally:
        child.close()


@pytest.mark.parametrize(
    ("model", "code", "words"),
    [
        pytest.param(
            "class Model:\n    def step(self, tokens):\n        return tokens\n",
            "bad_output",
            ["build_model returned Model, which has no callable reset", "reset(batch)"],
            id="no-reset",
        ),
        pytest.param(
            "class Model:\n    reset = step = None\n",
            "bad_output",
            ["no callable reset or step"],
            id="neither",
        ),
    ],
)
def test_a_model_without_reset_or_step_is_refused_at_load(
    tmp_path: Path, rules: Rules, model: str, code: str, words: list[str]
) -> None:
    (tmp_path / "model.py").write_text(f"{model}\n\ndef build_model():\n    return Model()\n")
    with pytest.raises(ChildFailure) as raised:
        start(tmp_path, ("model.py",), rules)
    assert raised.value.code == code
    for word in words:
        assert word in raised.value.message


def test_a_reset_that_raises_is_a_crash(tmp_path: Path, rules: Rules) -> None:
    model = (
        "class Model:\n"
        "    def reset(self, batch):\n"
        "        raise ValueError(f'cannot hold {batch} sequences')\n"
        "    def step(self, tokens):\n"
        "        return tokens\n\n"
        "def build_model():\n"
        "    return Model()\n"
    )
    (tmp_path / "model.py").write_text(model)
    child = start(tmp_path, ("model.py",), rules)
    try:
        with pytest.raises(ChildFailure) as raised:
            child.reset(5, TIMEOUT)
        assert raised.value.code == "crashed"
        assert "reset(5) failed: ValueError: cannot hold 5 sequences" in raised.value.message
    finally:
        child.close()
