"""The referee's sessions and ABBA rounds on a fake clock, with fake children (no
processes; tests/fakechild.py): calibrated latencies, the speedup, the block size, the
order of the blocks, the children stopped in turn, and a child's failure as a verdict.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fakechild import OVERHEAD, PLAN, TAIL_PLAN, FakeChild, costing, measure

from grader import stats
from grader.errors import GraderError, Rejected
from grader.result import derive


def test_calibrated_latency_is_exactly_the_models_own(fake) -> None:
    latencies = fake.latencies
    m, _ = measure(fake)
    assert m.baseline.latency_samples_s == pytest.approx([latencies["baseline"]] * m.rounds)
    assert m.submission.latency_samples_s == pytest.approx([latencies["submission"]] * m.rounds)
    expected_overhead = OVERHEAD  # the round trip is outside the clock
    assert m.submission.overhead_s_per_sample == pytest.approx([expected_overhead] * 2)


def test_speedup_is_the_ratio_of_latencies(fake) -> None:
    m, _ = measure(fake)
    groups = derive.session_ratios(
        m.baseline.latency_samples_s, m.submission.latency_samples_s, m.session_of_round
    )
    assert groups.shape[0] == 2
    assert stats.median(groups.ravel()) == pytest.approx(2.0)


def test_block_is_sized_to_the_slower_model(fake) -> None:
    m, _ = measure(fake)
    # 1 ms over the baseline's probe time per sample: 20 µs + 3 µs (no round trip).
    assert m.block_size == min(round(0.001 / (20e-6 + OVERHEAD)), 200 // (PLAN.reserve_rounds + 2))


def test_no_input_is_ever_presented_twice(fake) -> None:
    seen = fake.seen
    m, _ = measure(fake)
    for name in ("baseline", "submission"):
        assert len(seen[name]) == len(set(seen[name])), name
    # Paired rounds: both models saw the same inputs in every timed round (and warm-up).
    common = set(seen["baseline"]) & set(seen["submission"])
    assert len(common) >= m.rounds * m.block_size


def test_sessions_run_the_same_number_of_rounds(fake) -> None:
    m, _ = measure(fake)
    counts = np.bincount(m.session_of_round)
    assert len(counts) == 2 and counts[0] == counts[1] and counts[0] % 2 == 0


def test_peak_memory_is_measured_against_the_bare_footprint(fake) -> None:
    m, _ = measure(fake)
    assert m.submission.peak_rss_bytes - m.submission.base_rss_bytes == 20_000_000


def test_the_other_child_is_stopped_while_one_is_timed(fake) -> None:
    """FakeChild.run_block asserts that a stopped child gets no block; here, that both were
    stopped in turn, every block."""
    m, _ = measure(fake)
    for child in fake.spawned:
        assert child.pauses > m.rounds // PLAN.sessions
        assert not child.paused  # resumed after the last block


class SlowNoOps(FakeChild):
    """A submission slowing its own no-op blocks down: 8 µs a sample, which would erase
    80 % of its 10 µs latency."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.noop_extra = 8e-6


def test_a_submission_cannot_inflate_the_harness_cost_it_is_credited(fake) -> None:
    """Its own no-op blocks run where its code runs: slowing them down (a signal handler,
    a thread) would raise what is subtracted from its latency. The subtraction is capped
    at the baseline child's, so the speedup stays the true 2x."""
    fake.kinds["submission"] = SlowNoOps
    m, _ = measure(fake)
    sub = np.median(m.submission.latency_samples_s)
    base = np.median(m.baseline.latency_samples_s)
    assert sub == pytest.approx(10e-6, rel=0.01)
    assert base / sub == pytest.approx(2.0, rel=0.01)


class FailsToLoad(FakeChild):
    """A child whose model cannot be built."""

    def send(self, message: dict, payload=None, timeout: float = 0.0) -> None:
        if message["op"] == "load":
            raise self.failure("crashed", f"{self.name}: build_model failed: ValueError")
        super().send(message, payload, timeout)


def test_a_failure_of_the_submission_is_a_verdict(fake) -> None:
    fake.kinds["submission"] = FailsToLoad
    with pytest.raises(Rejected) as info:
        measure(fake)
    assert info.value.code == "crashed"


def test_a_failure_of_the_baseline_is_the_graders_problem(fake) -> None:
    fake.kinds["baseline"] = FailsToLoad
    with pytest.raises(GraderError, match="the baseline failed") as info:
        measure(fake)
    assert not isinstance(info.value, Rejected)


def test_a_later_session_runs_all_its_rounds_whatever_the_submission_spends(fake) -> None:
    """A submission that spends its session's time budget in a later session must not
    end it early: every session would then be cut to the shortest for the speedup,
    leaving only rounds it had cached. Later sessions run the first's count; a grade that
    runs past its deadline is a timeout."""

    costing(fake, lambda child, inputs: np.full(len(inputs), 100.0))  # 1 ms a sample
    plan = dataclasses.replace(TAIL_PLAN, sessions=3, time_budget_s=0.3)  # 0.1 s a session
    m, _ = measure(fake, plan)
    assert m.block_size == plan.min_block  # the fewest a block holds
    assert len(set(np.bincount(m.session_of_round))) == 1  # every session as long
    with pytest.raises(Rejected, match="took more than") as e:
        measure(fake, dataclasses.replace(plan, grade_timeout_s=0.5))
    assert e.value.code == "timeout"


class ThreadBetweenOwnBlocks(FakeChild):
    """A submission whose thread lives from the end of each of its blocks until the grader
    next stops it (it has ended by the time a paused child is counted): alive only where
    the grader moves on to another block of the same child, or stops."""

    threads = 1

    def pause(self) -> None:
        self.threads = 1
        super().pause()

    def check_threads(self) -> None:
        if self.threads > 1:
            raise self.failure("sandbox_violation", f"{self.name} started a thread")

    def run_block(self, message, inputs, batch, classes, timeout):
        answer = super().run_block(message, inputs, batch, classes, timeout)
        self.threads = 2
        return answer


def test_a_thread_alive_only_between_the_childs_own_blocks_is_counted(fake) -> None:
    """The grader counted a child's threads only when it stopped it for the other's block;
    now before every block, the timed child's own included, and at the end."""
    fake.kinds["submission"] = ThreadBetweenOwnBlocks
    with pytest.raises(Rejected) as raised:
        measure(fake)
    assert raised.value.code == "sandbox_violation" and "thread" in raised.value.message


def test_slow_probes_cannot_make_blocks_of_one(fake) -> None:
    """A submission sizes its own blocks by its speed on the probes: 8.5 ms on each
    untimed probe call would give blocks of one sample, and so rounds of new digits of one
    digit each, few enough to guess at.
    A block holds at least ``min_block`` samples whatever the probes say."""

    def cost(child, inputs):
        calls = child.__dict__.get("calls", 0)
        child.calls = calls + len(inputs)
        return np.full(len(inputs), 500.0 if calls < 64 else 1.0)  # only the probes slow

    costing(fake, cost)
    m, _ = measure(fake, TAIL_PLAN)
    assert m.block_size == TAIL_PLAN.min_block == 32


def test_the_first_session_stopped_early_still_shows_its_reserve(fake) -> None:
    """A first session that stops before its last reserve round (out of time) shows the
    rest of the reserve at once: every digit has a first answer and a scored one."""
    plan = dataclasses.replace(PLAN, max_rounds=40, time_budget_s=0.0)  # stops at its least
    m, labels = measure(fake, plan)
    assert m.stop_reason == "time_budget"
    assert (m.submission.answers.predictions == labels).all()
