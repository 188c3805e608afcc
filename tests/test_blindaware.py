"""The filler's bound against a model that tells a blind walk from one a record opens
(docs/DESIGN.md, Generation: the filler; ``result/textspeed.py``, ``filler_perplexity``).

A blind walk opens with a letter, a record walk with ``Q``: a model can tell them apart at
its first step. The filler's perplexity is weighted by block, and a walk's first blocks are
counted in the blind walks alone, so an approximation used past the record of the record
walks only (never in a blind walk) is charged at about half its cost:
``attacks/blind-aware`` (the KV-cache example skipping its second block's MLP on every
other step there) is 1.086 times the baseline's perplexity on the text where it is used
and published filler ratios of 1.043 and 1.045 in two full grades, past ``filler_kept``
(1.05), where used on every walk it would not be.
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


def charged(where) -> float:
    """The filler ratio a grade publishes for a model that adds ``USED`` nats a character
    to the blocks of the stored KV-cache grade that ``where`` (showings, blocks) selects."""
    result = json.loads(STORED.read_text())
    spec = result["measurement"]["text"]
    text = result["optimized"]["metrics"]["text"]
    nll = np.asarray(text["block_nll"], dtype=float)
    changed = copy.deepcopy(text)
    changed["block_nll"] = (nll + where(spec, nll.shape) * USED * spec["block_steps"]).tolist()
    return textspeed.filler_perplexity(changed, spec) / textspeed.filler_perplexity(text, spec)


def everywhere(spec: dict, shape: tuple[int, int]) -> np.ndarray:
    return np.ones(shape, dtype=bool)


def record_walks_only(spec: dict, shape: tuple[int, int]) -> np.ndarray:
    blind = set(spec["blind"])
    rows = np.array([index not in blind for index, _ in spec["walks"]])
    return textspeed.counted(spec, shape) & rows[:, None]


def test_an_approximation_used_on_every_walk_is_charged_in_full() -> None:
    assert charged(everywhere) == pytest.approx(1.086, rel=1e-9)


@pytest.mark.xfail(
    strict=True,
    reason="the filler is weighted by block and a walk's first blocks are counted in the "
    "blind walks alone: an approximation 1.086 times the baseline's perplexity, used past "
    "the record of record walks only, is charged 1.04 here; attacks/blind-aware published "
    "1.043 and 1.045 in two full grades and qualified for inference_speed",
)
def test_an_approximation_used_on_record_walks_only_is_charged_as_much() -> None:
    assert charged(record_walks_only) > 1.05
