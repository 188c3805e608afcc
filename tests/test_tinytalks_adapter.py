"""baselines/tinytalks/adapter.py: ``StepAdapter`` gives a whole-sequence model the generation
protocol's ``reset``/``step``, scoring as the baseline's own ``step`` does."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from grader.config import project_root
from grader.data import text

FOLDER = project_root() / "baselines" / "tinytalks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tinytalks_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


adapter = load("adapter")


@pytest.fixture(scope="module")
def model():
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(FOLDER)
        return load("model").build_model()


def test_the_adapted_forward_scores_as_the_baselines_step(model) -> None:
    """40 steps of 3 sequences: the adapter over the baseline's forward gives the baseline's
    step's scores, bit for bit."""
    steps, batch = 40, 3
    tokens = np.random.default_rng(7).integers(0, text.VOCAB_SIZE, (steps, batch))
    adapted = adapter.StepAdapter(model, context=model.context)
    model.reset(batch)
    adapted.reset(batch)
    for k in range(steps):
        want = model.step(tokens[k])
        got = adapted.step(tokens[k])
        assert got.shape == (batch, text.VOCAB_SIZE) and got.dtype == np.float32
        assert np.array_equal(got, want), f"step {k}"


class Tensor:
    """A framework's tensor: its array in ``.data``."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def test_a_tensor_from_forward_and_a_plain_function_are_accepted(model) -> None:
    seen = []

    def forward(ids: np.ndarray) -> Tensor:
        seen.append(ids.shape)
        return Tensor(model.forward(ids).astype(np.float64))

    adapted = adapter.StepAdapter(forward)
    adapted.reset(2)
    model.reset(2)
    for token in ([1, 2], [3, 4], [5, 6]):
        got = adapted.step(np.array(token))
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_allclose(got, model.step(np.array(token)), rtol=1e-6)
    assert seen == [(2, 1), (2, 2), (2, 3)]  # the whole prefix at every step


def test_past_the_context_forward_sees_the_last_tokens() -> None:
    seen = []

    def forward(ids: np.ndarray) -> np.ndarray:
        seen.append(ids.copy())
        return np.zeros((*ids.shape, text.VOCAB_SIZE), dtype=np.float32)

    adapted = adapter.StepAdapter(forward, context=4)
    adapted.reset(1)
    for token in range(6):
        adapted.step(np.array([token]))
    assert [s.tolist() for s in seen[-2:]] == [[[1, 2, 3, 4]], [[2, 3, 4, 5]]]
    adapted.reset(1)  # a fresh, empty sequence
    adapted.step(np.array([9]))
    assert seen[-1].tolist() == [[9]]


def test_step_before_reset_or_with_the_wrong_batch_is_refused() -> None:
    adapted = adapter.StepAdapter(lambda ids: np.zeros((*ids.shape, 3)))
    with pytest.raises(RuntimeError, match="reset"):
        adapted.step(np.array([1]))
    adapted.reset(2)
    with pytest.raises(ValueError, match=r"\(2,\) token ids"):
        adapted.step(np.array([1, 2, 3]))


def test_the_adapter_is_not_part_of_the_baselines_model() -> None:
    """It is copied into a scaffold (scaffold_files), never counted in the baseline's size."""
    from grader.config import load_rules

    spec = load_rules().workloads["tinytalks"]
    assert "adapter.py" in spec["scaffold_files"]
    assert "adapter.py" not in spec["baseline_files"]
    assert Path(FOLDER / "adapter.py").is_file()
