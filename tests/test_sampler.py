"""The walks' filler, drawn from the baseline (grader/data/sampler.py): the sampler is the
baseline's network, and its draws keep each opening, follow the seed, and fill the walk."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from grader.config import project_root
from grader.data import text
from grader.data.sampler import FIRST, Sampler
from grader.measure import walks

BASELINE = project_root() / "baselines" / "tinytalks"


@pytest.fixture(scope="module")
def sampler() -> Sampler:
    return Sampler.load(BASELINE / "weights.npz")


def baseline_network():
    spec = importlib.util.spec_from_file_location("tinytalks_model", BASELINE / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with np.load(BASELINE / "weights.npz", allow_pickle=False) as f:
        return module.from_arrays({k: f[k] for k in f.files})


def test_its_scores_are_the_baseline_s_forward(sampler: Sampler) -> None:
    tokens = np.random.default_rng(0).integers(0, text.VOCAB_SIZE, size=(3, 128))
    expected = baseline_network().forward(tokens)
    sampler.reset(3)
    got = np.stack([sampler.step(tokens[:, t]) for t in range(128)], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_a_draw_keeps_its_opening_and_follows_the_seed(sampler: Sampler) -> None:
    opening = text.encode(text.record(text.Pair("What is 2 plus 2?", "2 plus 2 equals 4.")))
    long = np.arange(200) % text.VOCAB_SIZE
    openings = [opening, np.zeros(0, dtype=np.int64), long]

    def draw(seed: int) -> list[np.ndarray]:
        return sampler.extend(openings, 128, np.random.default_rng(seed))

    first, again, other = draw(1), draw(1), draw(2)
    assert all(len(t) == 129 for t in first)
    assert (first[0][: len(opening)] == opening).all()
    assert first[1][0] in FIRST  # a blind walk starts mid-word, never at a record's "Q: "
    assert (first[2] == long[:129]).all()  # nothing to draw
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    assert not (first[0] == other[0]).all() and not (first[1] == other[1]).all()


def test_filled_walks_share_their_text_with_their_replays(sampler: Sampler) -> None:
    scored = text.load_split(project_root() / "data" / "tinytalks", "test")[:12]
    planned = walks.plan(scored, None, 3, 2, 128, np.random.default_rng(0), blind=2)
    rng = np.random.default_rng(3)
    done = walks.filled(planned, lambda openings: sampler.extend(openings, 128, rng))
    first = {w.index: w for s in done for w in s if not w.replay}
    for session in done:
        for w in session:
            assert len(w.tokens) == 129
            assert (w.tokens == first[w.index].tokens).all()
            if not w.blind:
                record = text.encode(text.record(scored[w.scored]))[:129]
                assert (w.tokens[: len(record)] == record).all()
    assert any(w.replay for s in done for w in s)
