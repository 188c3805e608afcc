"""What each round of a session shows (grader/measure/schedule.py), as the referee's
inputs draw it (``Inputs.schedule``): the first pass, the repeats, the reserve placed at
random, and the private digits alone after the first pass (docs/DESIGN.md, Caching check).
"""

from __future__ import annotations

import numpy as np
from fakechild import PLAN, images_and_labels

from grader.measure.inputs import Inputs


def shows(images: np.ndarray, seed: int, private: np.ndarray | None = None) -> Inputs:
    """The inputs of a grade of ``images`` (and ``private``) on the random stream ``seed``."""
    return Inputs(images, PLAN, np.random.default_rng(seed), private)


def rounds_of(stream, count: int) -> list:
    return [stream.next_round() for _ in range(count)]


def test_the_first_session_shows_every_digit_once_and_then_repeats() -> None:
    """Session 0: every image once, the first pass (the reserve's at random rounds after
    the main digits, up to the session's last); after its first sighting a digit comes
    back as a repeat. Every round after the main digits is compared: none is known to be
    safe to answer from a cache."""
    images, _ = images_and_labels(200)
    inputs = shows(images, 3)
    stream = inputs.schedule(0, 20)
    shown = rounds_of(stream, stream.cap)
    first = np.concatenate([r.idx[r.first_pass] for r in shown])
    assert sorted(first) == list(range(200))
    met: set[int] = set()
    for r in shown:
        assert (r.first_pass == r.new).all()  # in session 0 a first sighting is the first pass
        assert [int(i) not in met for i in r.idx] == list(r.new)
        met |= set(r.idx.tolist())
    roles = [r.role for r in shown]
    fresh = [i for i, role in enumerate(roles) if role == "fresh"]
    assert 2 <= len(fresh) <= PLAN.reserve_rounds
    assert min(fresh) >= stream.first_rounds == 200 // 20 - len(fresh)
    assert roles[stream.first_rounds :].count("other") == 0
    # Placed at random: other seeds, other rounds.
    others = {shows(images, s).schedule(0, 20).reserve_at for s in range(5)}
    assert len(others) == 5


def test_a_later_session_meets_its_reserve_anywhere_among_the_repeats() -> None:
    images, _ = images_and_labels(200)
    inputs = shows(images, 3)
    stream = inputs.schedule(1, 20, target=40)
    assert stream.cap == 40
    shown = rounds_of(stream, 40)
    assert not any(r.first_pass.any() for r in shown)  # only session 0 has the first pass
    met: set[int] = set()
    contents = set()
    for r in shown:
        assert [int(i) not in met for i in r.idx] == list(r.new)
        met |= set(r.idx.tolist())
        if r.role == "fresh":
            assert r.new.all()
        if r.role == "repeat":
            assert not r.new.any()
            contents.add(frozenset(r.idx.tolist()))
    assert 2 <= sum(r.role == "fresh" for r in shown) <= PLAN.reserve_rounds
    assert stream.first_rounds == 100 // 20  # 100 main digits, then every round compared
    assert len(contents) > 10  # repeats draw from every digit seen: their content varies
    latest = [max(inputs.schedule(1, 20, target=40).reserve_at) for _ in range(40)]
    assert max(latest) >= 35  # the reserve reaches the session's last rounds


def test_without_a_private_split_every_digit_can_be_repeated() -> None:
    images, _ = images_and_labels(200)
    inputs = shows(images, 3)
    stream = inputs.schedule(0, 20)
    shown = rounds_of(stream, stream.cap)
    repeated = np.concatenate([r.idx[~r.new] for r in shown])
    assert set(repeated.tolist()) <= set(range(200)) and len(set(repeated.tolist())) > 100


def test_after_the_first_pass_only_the_private_digits_are_timed() -> None:
    """The final phase: the first pass shows every public and private digit once; after
    it, only private ones. The public digits are published, so a submission could
    carry a table of their answers: timing them would time a lookup."""
    images, _ = images_and_labels(200)
    private = images[:100] + 0.5
    inputs = shows(images, 3, private)
    stream = inputs.schedule(0, 10)
    shown = rounds_of(stream, stream.cap)
    first = np.concatenate([r.idx[r.first_pass] for r in shown])
    assert sorted(first) == list(range(300))
    again = np.concatenate([r.idx[~r.first_pass] for r in shown])
    assert len(again) and again.min() >= 200
    assert all(r.idx.min() >= 200 for r in shown if r.role == "fresh")
    later = rounds_of(inputs.schedule(1, 10, target=60), 60)
    assert min(r.idx.min() for r in later) >= 200
