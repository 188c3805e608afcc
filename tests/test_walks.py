"""The walks of a generation grade (grader/measure/walks.py): what each session shows."""

from __future__ import annotations

import numpy as np
import pytest

from grader.config import project_root
from grader.data import text
from grader.measure import walks

DATA = project_root() / "data" / "tinytalks"


@pytest.fixture(scope="module")
def pairs() -> tuple[list[text.Pair], list[text.Pair]]:
    return text.load_split(DATA, "test"), text.load_split(DATA, "train") + text.load_split(
        DATA, "val"
    )


def grade_plan(pairs, seed=1, sessions=4, replays=8, length=128):
    scored, filler = pairs
    return walks.plan(scored, filler, sessions, replays, length, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", range(5))
def test_no_process_sees_a_record_twice(pairs, seed):
    for session in grade_plan(pairs, seed):
        shown = [r for w in session for r in w.records]
        assert len(shown) == len(set(shown))


def test_every_scored_record_opens_one_first_walk_at_position_0(pairs):
    scored, _ = pairs
    first = [w for session in grade_plan(pairs) for w in session if not w.replay]
    assert sorted(w.scored for w in first) == list(range(len(scored)))
    for w in first:
        pair = scored[w.scored]
        assert text.decode(w.tokens).startswith(text.record(pair))
        start, end = w.span
        assert text.decode(w.tokens[start:end]) == f" {pair.answer}\n"
        assert w.records[0] == w.scored


def test_replays_are_earlier_walks_verbatim_in_later_sessions(pairs):
    plan = grade_plan(pairs)
    first = {w.index: (k, w) for k, s in enumerate(plan) for w in s if not w.replay}
    replays = [(k, w) for k, s in enumerate(plan) for w in s if w.replay]
    assert not [w for w in plan[0] if w.replay]
    assert [sum(w.replay for w in s) for s in plan[1:]] == [8, 8, 8]
    for k, w in replays:
        shown_in, original = first[w.index]
        assert shown_in < k
        assert np.array_equal(w.tokens, original.tokens)


def test_walks_have_the_length_asked_and_one_more_token(pairs):
    for session in grade_plan(pairs, length=40):
        for w in session:
            assert len(w.tokens) == 41


def test_the_same_seed_gives_the_same_walks_and_another_seed_others(pairs):
    def texts(plan):
        return [text.decode(w.tokens) for s in plan for w in s]

    assert texts(grade_plan(pairs, 3)) == texts(grade_plan(pairs, 3))
    assert texts(grade_plan(pairs, 3)) != texts(grade_plan(pairs, 4))


def test_too_few_records_to_fill_the_walks_is_refused(pairs):
    scored, filler = pairs
    with pytest.raises(ValueError, match="too few records"):
        walks.plan(scored, filler[:10], 1, 0, 128, np.random.default_rng(0))


def test_no_walk_shows_a_scored_record_but_as_its_first(pairs):
    scored, _ = pairs
    for session in grade_plan(pairs):
        for w in session:
            assert all(r >= len(scored) for r in w.records[1:])
