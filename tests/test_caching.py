"""The caching check (grader/measure/caching.py): a model that answers digits faster once
it has seen them is rejected, an honest one whose speed varies (by digit, over time) is
not, and what a cache that escapes the test publishes is held to the new digits' interval;
on a fake clock with fake children (tests/fakechild.py), and on hand-made rounds
(docs/DESIGN.md, Caching check).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fakechild import (
    CACHE_PLAN,
    PLAN,
    QUICK_PLAN,
    TAIL_PLAN,
    cache,
    costing,
    images_and_labels,
    keys,
    measure,
    published,
)

from grader.errors import Rejected
from grader.measure import caching
from grader.measure.caching import CACHE_P_VALUE, CacheCheck


@pytest.mark.parametrize("plan", [CACHE_PLAN, QUICK_PLAN], ids=["sessions", "quick"])
@pytest.mark.parametrize(("cached_cost", "rejected"), [(0.2, True), (1.0, False)])
def test_answering_repeated_digits_faster_is_a_cache(fake, plan, cached_cost, rejected) -> None:
    """A submission whose answers cost a fifth once it has met a digit (in this process)
    is rejected, in a full grade and in a quick one (one session); at full cost (the
    control) it is graded. Each session's reserve rounds show digits new to its processes
    among the repeats."""
    costing(fake, cache(cached_cost))
    if rejected:
        with pytest.raises(Rejected, match="seen before") as e:
            measure(fake, plan)
        assert e.value.code == "bad_output"
    else:
        m, _ = measure(fake, plan)
        assert m.cache_check.judged and m.cache_check.gain == pytest.approx(1.0)


def test_a_model_too_fast_for_the_pool_is_still_checked_for_a_cache(fake) -> None:
    """A model fast enough for blocks as large as the pool would leave no round of
    digits new to a session's processes, and nothing to check a cache on. Blocks are
    capped so that every session keeps a reserve, and the result says what was
    compared."""
    latencies = fake.latencies
    latencies.update(baseline=0.2e-6, submission=0.1e-6)  # blocks of 300 would be asked
    m, _ = measure(fake)
    assert m.block_size == 200 // (PLAN.reserve_rounds + 2)
    check = m.cache_check
    assert check.judged and check.fresh_rounds >= PLAN.sessions * PLAN.reserve_rounds // 2


TUNING_CALLS = 300  # past the probes, the warm-up and the main digits: into the window


def test_a_model_that_tunes_itself_over_its_first_calls_is_not_a_cache(fake) -> None:
    """A model three times slower over its first calls (it tunes itself) runs its first
    rounds slowly; were the new digits all in them, it would be taken for a cache (gain
    1.80). The reserve rounds sit at random places among the repeats, so a trend over
    time weighs on both alike."""

    def cost(child, inputs):
        done = child.__dict__.get("calls", 0)
        child.calls = done + len(inputs)
        return np.where(np.arange(done, done + len(inputs)) < TUNING_CALLS, 3.0, 1.0)

    costing(fake, cost)
    m, _ = measure(fake, CACHE_PLAN)
    assert m.cache_check.judged
    assert m.cache_check.p_value > 1e-3


def test_a_cache_that_waits_for_the_unchecked_rounds_is_caught(fake) -> None:
    """A tail cache: a model can count its calls (the warm-up's decoys are training
    digits it has). Were the compared rounds to end at a session's least rounds, with as
    many after them unchecked, it would answer honestly until then and from a cache after
    (2.6-8x). Every round after the main digits is compared."""

    def cost(child, inputs):
        met = child.__dict__.setdefault("met", set())
        done = child.__dict__.get("calls", 0)
        child.calls = done + len(inputs)
        k = keys(inputs)
        late = done > 64 + (2 + 20) * 33  # probes, warm-up, the least rounds (blocks of 33)
        factors = [0.1 if late and key in met else 1.0 for key in k]
        met |= set(k)
        return factors

    costing(fake, cost)
    with pytest.raises(Rejected, match="seen before"):
        measure(fake, TAIL_PLAN)


@pytest.mark.slow
@pytest.mark.parametrize(("share", "factor"), [(0.094, 6.5), (0.05, 10.0)])
def test_a_model_whose_speed_depends_on_the_digit_is_not_a_cache(fake, share, factor) -> None:
    """An honest model that spends more on hard digits (9.4 % of them at 6.5x; 5 % at
    10x) is no cache. Were the repeats one fixed set of digits round after round, and
    caching judged after the second session on 3 reserve rounds, it would be taken for one
    in about one grade in ten. Repeats are drawn from every digit seen, and caching is
    judged once, at the end. 20 grades."""
    images, _ = images_and_labels()
    hard = {tuple(k) for k in keys(images[np.random.default_rng(0).random(len(images)) < share])}
    costing(fake, lambda child, inputs: [factor if k in hard else 1.0 for k in keys(inputs)])
    plan = dataclasses.replace(PLAN, sessions=8, min_rounds=20, max_rounds=30, max_block=40)
    for seed in range(20):
        assert measure(fake, plan, seed)[0].cache_check.judged


def test_new_digits_answered_faster_than_repeats_is_hiding_something(fake) -> None:
    """A counter-bias: a model knows at a round's first sample whether
    it has met the digit; slowing the repeats where the check compares them (here, all of
    them) makes the new digits look faster, which would cancel a cache elsewhere. An
    honest model is as fast on both: new digits significantly faster is rejected too."""

    def cost(child, inputs):
        met = child.__dict__.setdefault("met", set())
        k = keys(inputs)
        factors = [3.0 if key in met else 1.0 for key in k]
        met |= set(k)
        return factors

    costing(fake, cost)
    with pytest.raises(Rejected, match="new to it") as e:
        measure(fake, TAIL_PLAN)
    assert e.value.code == "bad_output"


@pytest.mark.parametrize("share", [0.6, 0.9], ids=["60-percent", "90-percent"])
def test_a_cache_on_most_repeats_padded_slow_on_the_rest_gains_nothing(fake, share) -> None:
    """A rank split: repeat rounds answered from a cache (60 % of them, 10x faster) or
    padded to be slower than any new digit (the rest), so that the new digits' ranks sit
    near the middle (the rank test: p about 0.01) while the median speedup rides on the
    cached ones (4-5x unheld). The speedup is held to what the rounds
    of digits new to the processes support: the cache buys nothing, caught or not."""
    rng = np.random.default_rng(5)

    def cost(child, inputs):
        met = child.__dict__.setdefault("met", set())
        k = keys(inputs)
        repeat = k[0] in met
        met |= set(k)
        if not repeat:
            return np.ones(len(inputs))
        return np.full(len(inputs), 0.1 if rng.random() < share else 1.3)

    costing(fake, cost)
    try:
        m, _ = measure(fake, TAIL_PLAN)
    except Rejected as exc:  # caught outright: nothing to publish
        assert "seen before" in exc.message
        return
    latencies = fake.latencies
    honest = latencies["baseline"] / latencies["submission"]  # its speed computing: 2x
    speedup, held = published(m)
    assert held["speedup_measured"] > 1.5 * honest  # what the cache would have bought
    assert speedup == held["speedup_new_digits_ci95"][1] <= 1.05 * honest  # what it gets


def test_an_honest_speedup_is_not_held(fake) -> None:
    """The same plan, no cache: every round alike, the bound leaves the speedup as measured."""
    m, _ = measure(fake, TAIL_PLAN)
    speedup, held = published(m)
    assert speedup == held["speedup_measured"]
    lo, hi = held["speedup_new_digits_ci95"]
    assert lo <= speedup <= hi


def test_a_quick_grade_of_a_model_slow_over_its_first_rounds_is_not_a_cache(fake) -> None:
    """A quick grade has 3-6 reserve rounds: their median can land among an honest model's
    slow first rounds (here 3x slower over about a quarter of them). The bound that holds
    whatever the rank test says waits for a full grade's reserve; 20 quick grades."""

    def cost(child, inputs):
        done = child.__dict__.get("calls", 0)
        child.calls = done + len(inputs)
        return np.where(np.arange(done, done + len(inputs)) < 700, 3.0, 1.0)

    costing(fake, cost)
    for seed in range(20):
        assert measure(fake, QUICK_PLAN, seed)[0].cache_check.judged


@pytest.mark.parametrize(("cached_cost", "rejected"), [(0.8, False), (0.6, True)])
def test_a_cache_is_rejected_when_its_gain_is_material_and_held_either_way(
    fake, cached_cost, rejected
) -> None:
    """Repeats at 0.8 of the cost (1.25x, under the 1.5x the check rejects at) are a
    significant gain, but not rejected: the honest example's own rounds showed 1.10x at
    p = 0.0002 once in 200 grades on a busy machine. What such a cache publishes is held
    to the new digits' interval, so it earns nothing it did not compute. At 0.6 (1.67x)
    the check rejects it."""
    costing(fake, cache(cached_cost))
    if rejected:
        with pytest.raises(Rejected, match="seen before"):
            measure(fake, TAIL_PLAN)
        return
    m, _ = measure(fake, TAIL_PLAN)
    check = m.cache_check
    assert check.judged and check.p_value < CACHE_P_VALUE
    assert 1.15 < check.gain < 1 + TAIL_PLAN.max_repeat_gain
    latencies = fake.latencies
    honest = latencies["baseline"] / latencies["submission"]
    speedup, held = published(m)
    assert held["speedup_measured"] > 1.1 * honest
    assert speedup == held["speedup_new_digits_ci95"][1] <= 1.05 * honest


def test_too_few_rounds_of_new_digits_are_not_judged_and_say_so() -> None:
    """Two reserve rounds against four repeats: under ``MIN_FRESH_ROUNDS``, no verdict,
    and the result says what was compared."""
    roles = ["other", "fresh", "repeat", "repeat", "fresh", "repeat", "repeat"]
    check = caching.compare(roles, [0] * 7, [2.0] * 7, [1.0] * 7, seed=0)
    assert check.as_dict() == {
        "judged": False,
        "fresh_rounds": 2,
        "repeated_rounds": 4,
        "reason": "2 rounds of new digits and 4 of repeated ones: too few to judge "
        "(at least 3 and 2)",
    }
    caching.reject_a_cache(check, PLAN.max_repeat_gain)  # nothing to reject on


def test_a_judged_check_records_its_gain_and_p_value_only() -> None:
    """Repeats twice as fast, relative to the baseline, over 8 sessions: a cache. The
    result records the gain and its p-value; the reverse test's p-value decides nothing
    here and is not recorded."""
    roles = (["fresh"] * 3 + ["repeat"] * 9) * 8
    sessions = [k for k in range(8) for _ in range(12)]
    submission = [1.0 if role == "fresh" else 0.5 for role in roles]
    check = caching.compare(roles, sessions, [1.0] * len(roles), submission, seed=0)
    assert check.judged and check.gain == pytest.approx(2.0) and check.p_value < CACHE_P_VALUE
    assert set(check.as_dict()) == {"judged", "fresh_rounds", "repeated_rounds", "gain", "p_value"}
    with pytest.raises(Rejected, match=r"seen before 2\.00x as fast"):
        caching.reject_a_cache(check, PLAN.max_repeat_gain)


def test_a_session_cut_short_is_not_judged() -> None:
    """Rounds whose latencies are missing (a session cut short) leave the check unrun."""
    check = caching.compare(["fresh", "repeat"], [0, 0], [1.0], [1.0], seed=0)
    assert check == caching.NOT_RUN == CacheCheck(judged=False, reason="no timed rounds")
