"""The filler's bound against a model that tells a blind walk from one a record opens
(docs/DESIGN.md, Generation: the filler; ``result/textspeed.py``, ``filler_ratio``).

A blind walk opens with a letter, a record walk with ``Q``: a model can tell them apart at
its first step. The filler's perplexity is weighted by block, and a walk's first blocks are
counted in the blind walks alone, so in the pooled ratio an approximation used past the
record of the record walks only (never in a blind walk) was charged about half its cost:
the KV-cache example skipping its second block's MLP on every other step there, 1.086
times the baseline's perplexity on the text where it is used, published filler ratios of
1.043 and 1.045 in two full grades, under ``filler_kept`` (1.05). The ratio is now the
worse of that and the record walks' own where they carry the median time.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from grader.config import project_root
from grader.result import textspeed

# The newest stored grade of the KV-cache example (a full grade, with openings and blind walks).
STORED = sorted((project_root() / "results/example-kv-cache/tinytalks").glob("*.json"))[-1]
USED = math.log(1.086)  # nats a character where the approximation is used (measured)


def charged(where, ratio=textspeed.filler_ratio) -> float:
    """The filler ratio a grade publishes for a model that adds ``USED`` nats a character
    to the blocks of the stored KV-cache grade that ``where`` (showings, blocks) selects,
    against the unchanged model."""
    result = json.loads(STORED.read_text())
    spec = result["measurement"]["text"]
    text = result["optimized"]["metrics"]["text"]
    nll = np.asarray(text["block_nll"], dtype=float)
    changed = copy.deepcopy(text)
    changed["block_nll"] = (nll + where(spec, nll.shape) * USED * spec["block_steps"]).tolist()
    return ratio(text, changed, spec)


def pooled(base: dict, sub: dict, spec: dict) -> float:
    """The ratio over every walk together, as it was published before."""
    return textspeed.filler_perplexity(sub, spec) / textspeed.filler_perplexity(base, spec)


def everywhere(spec: dict, shape: tuple[int, int]) -> np.ndarray:
    return np.ones(shape, dtype=bool)


def record_walks_only(spec: dict, shape: tuple[int, int]) -> np.ndarray:
    blind = set(spec["blind"])
    rows = np.array([index not in blind for index, _ in spec["walks"]])
    return textspeed.counted(spec, shape) & rows[:, None]


def test_an_approximation_used_on_every_walk_is_charged_in_full() -> None:
    assert charged(everywhere) == pytest.approx(1.086, rel=1e-9)


def test_an_approximation_used_on_record_walks_only_is_charged_as_much() -> None:
    assert charged(record_walks_only, pooled) < 1.05  # the pooled ratio let it qualify
    assert charged(record_walks_only) == pytest.approx(1.086, rel=1e-9)


def test_an_approximation_used_on_blind_walks_only_is_charged_as_much() -> None:
    def blind_walks_only(spec: dict, shape: tuple[int, int]) -> np.ndarray:
        return textspeed.counted(spec, shape) & ~record_walks_only(spec, shape)

    # Fast only where the blind walks carry a block's median time: charged there in full,
    # at least that share of the blocks' worth of the whole cost (not 12 walks' own ratio,
    # too noisy to bound by).
    result = json.loads(STORED.read_text())
    spec = result["measurement"]["text"]
    mask = textspeed.counted(spec, np.shape(result["optimized"]["metrics"]["text"]["block_nll"]))
    blind = mask & ~record_walks_only(spec, mask.shape)
    share = float(np.mean(2 * blind.sum(axis=0) >= mask.sum(axis=0)))
    assert 0 < share < 1
    assert charged(blind_walks_only) >= 1.086**share
