"""The record walks' filler ratio against an honest model's noise at a walk's first counted
blocks (docs/DESIGN.md, Generation: the filler; ``result/textspeed.py``, ``filler_ratio``).

The filler's ratio is the worse of the one over every counted block and the record
walks' own, each the mean over blocks of a block's ratio. A record walk is counted from
its first block wholly past its record, so at the first such blocks of a full grade one
to three record walks are counted (beside the blind ones): over the record walks alone,
each of those 8-character blocks weighed a twelfth of the ratio. A 4-bit copy of the
baseline with the KV cache (the MLPs 5-bit; the same arithmetic on every walk) measured
1.038 over the blind walks and 1.038 over the record walks' characters, and published
1.057 (refused by ``filler_kept``) from one record walk's one block there, 0.376 nats a
character above the baseline; in the next grade it published 1.033. Where the record
walks are fewer than half of a block's showings they cannot carry its median time, so
that block is no part of their ratio.
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
HONEST = math.log(1.038)  # nats a character on every counted block of every walk
BLOCK = 0.376  # nats a character more on one block of one record walk (measured)


def grade() -> tuple[dict, dict, np.ndarray, np.ndarray]:
    result = json.loads(STORED.read_text())
    spec = result["measurement"]["text"]
    text = result["optimized"]["metrics"]["text"]
    nll = np.asarray(text["block_nll"], dtype=float)
    blind = set(spec["blind"])
    rows = np.array([index in blind for index, _ in spec["walks"]])
    return spec, text, nll, rows


def with_cost(text: dict, nll: np.ndarray, cost: np.ndarray, steps: int) -> dict:
    changed = copy.deepcopy(text)
    changed["block_nll"] = (nll + cost * steps).tolist()
    return changed


def first_record_block(spec: dict, nll: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    """A record walk's first counted block, at the block where the fewest record walks
    are counted."""
    records = textspeed.counted(spec, nll.shape) & ~rows[:, None]
    j = int(np.flatnonzero(records.any(axis=0))[0])
    return int(np.flatnonzero(records[:, j])[0]), j


def test_the_stored_grade_counts_few_record_walks_at_their_first_blocks() -> None:
    spec, _, nll, rows = grade()
    mask = textspeed.counted(spec, nll.shape)
    records = (mask & ~rows[:, None]).sum(axis=0)
    first = int(np.flatnonzero(records)[0])
    assert 0 < records[first] < mask[:, first].sum() / 2


def test_one_noisy_block_of_an_honest_model_does_not_refuse_it() -> None:
    spec, text, nll, rows = grade()
    cost = np.full(nll.shape, HONEST)
    cost[first_record_block(spec, nll, rows)] += BLOCK
    changed = with_cost(text, nll, cost, spec["block_steps"])
    old = textspeed.filler_perplexity(changed, spec, ~rows) / textspeed.filler_perplexity(
        text, spec, ~rows
    )
    assert old > 1.05  # over every block the record walks are counted at: refused
    assert textspeed.filler_ratio(text, changed, spec) == pytest.approx(1.038, abs=2e-3)


def test_an_approximation_where_record_walks_carry_the_median_is_charged_in_full() -> None:
    spec, text, nll, rows = grade()
    mask = textspeed.counted(spec, nll.shape)
    records = mask & ~rows[:, None]
    carried = records & (2 * records.sum(axis=0) >= mask.sum(axis=0))
    changed = with_cost(text, nll, carried * math.log(1.086), spec["block_steps"])
    assert textspeed.filler_ratio(text, changed, spec) == pytest.approx(1.086, rel=1e-9)
