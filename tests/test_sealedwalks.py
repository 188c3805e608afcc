"""The course's sealed Q&A walked apart (grader/measure/sealedwalks.py): what the sealed
session shows, and what the result keeps of it (docs/DESIGN.md, Generation).

The grades themselves (a bigram that codes the sealed records it walked into a public
record's score, one that fails where a process sees both kinds) are in
tests/test_sealedtext.py, with the course's checkout they need.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_sealedtext import PAIRS

from grader.config import project_root
from grader.data import probes, text
from grader.measure.plan import GenerationPlan
from grader.measure.sealedwalks import GRID, on_grid, sealed_walks, sums
from grader.measure.textanswers import TextMeasurement
from grader.result import text as text_result

ROOT = project_root()
SPLITS = {name: text.load_split(ROOT / "data" / "tinytalks", name) for name in text.SPLITS}
PUBLIC = [p for split in SPLITS.values() for p in split]


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_a_sealed_session_shows_sealed_records_and_scrambled_filler_only(seed: int) -> None:
    """Each sealed record opens one walk at position 0; the rest of every walk is the
    grade's scrambled filler, none twice; no held-out pair, no public record and no
    composed question with its answer is anywhere in the session's text."""
    filler = probes.scrambled(PUBLIC[:400], seed)  # train and val in a grade; a share here
    length = GenerationPlan().length
    walks = sealed_walks(PAIRS, filler, length, np.random.default_rng(seed))
    assert sorted(w.scored for w in walks) == list(range(len(PAIRS)))
    shown = [r for w in walks for r in w.records]
    assert len(shown) == len(set(shown))  # no record twice in the session's processes
    for walk in walks:
        assert walk.records[0] == walk.scored and not walk.replay
        assert all(r >= len(PAIRS) for r in walk.records[1:])  # the filler's indices
        body = text.decode(walk.tokens)
        assert body.startswith(text.record(PAIRS[walk.scored]))
        assert len(walk.tokens) == length + 1
    session = "\n".join(text.decode(w.tokens) for w in walks)
    composed = [p for made in probes.candidates().values() for p in made]
    for pair in PUBLIC + composed:  # (a short question's words can fall in their own order)
        assert text.record(pair) not in session


def measured(nll: list[float], chars: list[int], correct: list[int]) -> TextMeasurement:
    m = TextMeasurement.of(len(nll))
    m.record_nll[:] = nll
    m.record_chars[:] = chars
    m.record_correct[:] = correct
    return m


def test_the_result_keeps_rounded_sums_and_intervals_on_a_grid() -> None:
    rng = np.random.default_rng(3)
    chars = rng.integers(15, 40, size=35)
    base = measured(list(chars * 2.1 + rng.random(35)), list(chars), list(chars // 3))
    sub = measured(list(chars * 2.0 + rng.random(35)), list(chars), list(chars // 2))
    kept = sums(base, sub, 69)
    assert kept["records"] == 35
    for side, m in (("baseline", base), ("optimized", sub)):
        assert kept[side]["total"] == int(chars.sum())
        assert kept[side]["correct"] == int(m.record_correct.sum())
        assert kept[side]["nll"] == round(float(m.record_nll.sum()))
        assert isinstance(kept[side]["nll"], int)
    for low, high in [kept["optimized"]["perplexity_ci95"], kept["perplexity_ratio_ci95"]]:
        assert low < high
        for end in (low, high):
            assert abs(GRID * math.log(end) - round(GRID * math.log(end))) < 1e-9
    ratio = math.exp((sub.record_nll.sum() - base.record_nll.sum()) / chars.sum())
    assert kept["perplexity_ratio_ci95"][0] < ratio < kept["perplexity_ratio_ci95"][1]
    text_result.check_private({"available": True, **kept})  # what the reader accepts


def test_what_a_model_can_still_code_into_them_is_a_few_bits() -> None:
    """Every stored value moves in steps: a model that shifts its NLL by less than half a
    nat, or its per-record spread a little, publishes the same bytes; one that scores
    absurdly is clipped at perplexity vocab ** 2."""
    chars = np.full(35, 25)
    base = measured(list(chars * 2.0), list(chars), [10] * 35)
    nll = chars * 2.0 + np.linspace(0, 1, 35)
    kept = sums(base, measured(list(nll), list(chars), [10] * 35), 69)
    nudged = nll.copy()
    nudged[0] += 0.3  # a code of a fraction of a nat: gone in the rounding
    assert sums(base, measured(list(nudged), list(chars), [10] * 35), 69) == kept
    wild = measured([1e30] * 35, list(chars), [0] * 35)
    clipped = sums(base, wild, 69)["optimized"]
    assert clipped["nll"] == round(875 * math.log(69**2))
    assert clipped["perplexity_ci95"][1] <= 69**2 * 1.01
    assert on_grid(10.0, -1) <= 10.0 <= on_grid(10.0, +1)
    assert on_grid(math.exp(2.3), +1) == pytest.approx(math.exp(2.3))
