"""The referee's timing logic on a fake clock, with fake children (no processes).

Each fake child advances the clock by exactly the time its model would take, so every
number the harness derives is known in advance: calibrated latencies, the speedup, the
the accuracy, the never-repeated inputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from fakechild import OVERHEAD, FakeChild, FakeClock

from grader import stats
from grader.measure import harness
from grader.measure.harness import Model, Plan, Referee
from grader.result import document as result


@pytest.fixture
def fake(monkeypatch):
    clock = FakeClock()
    latencies = {"baseline": 20e-6, "submission": 10e-6}
    seen: dict[str, list] = {"baseline": [], "submission": []}

    def spawn(name, folder, limits, core, page_bytes, *, files):
        child = FakeChild(name, clock, latencies[name], seen[name])
        spawned.append(child)
        return child

    spawned: list[FakeChild] = []
    clock.spawned = spawned

    monkeypatch.setattr(harness, "spawn", spawn)
    monkeypatch.setattr(harness.time, "perf_counter", clock.perf_counter)
    return clock, latencies, seen


def images_and_labels(count: int = 200) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(count) % 10
    images = np.zeros((count, 16), dtype=np.float32)
    images[:, 0] = labels / 10
    images[:, 1:] = np.random.default_rng(1).random((count, 15), dtype=np.float32)
    return images, labels


PLAN = Plan(
    sessions=2,
    warmup_rounds=2,
    min_rounds=6,
    max_rounds=10,
    calibration_blocks=3,
    throughput_batch=4,
    throughput_rounds=2,
    block_seconds=0.001,
)


def measure(plan: Plan = PLAN, seed: int = 7):
    images, labels = images_and_labels()
    referee = Referee(images, labels, 10, plan, seed=seed)
    m = referee.measure(
        Model("baseline", Path("."), "model.py", "build_model", ("model.py",)),
        Model("submission", Path("."), "model.py", "build_model", ("model.py",)),
    )
    return m, labels


def test_calibrated_latency_is_exactly_the_models_own(fake) -> None:
    _, latencies, _ = fake
    m, _ = measure()
    assert m.baseline.latency_samples_s == pytest.approx([latencies["baseline"]] * m.rounds)
    assert m.submission.latency_samples_s == pytest.approx([latencies["submission"]] * m.rounds)
    expected_overhead = OVERHEAD  # the round trip is outside the clock
    assert m.submission.overhead_s_per_sample == pytest.approx([expected_overhead] * 2)


def test_speedup_is_the_ratio_of_latencies(fake) -> None:
    m, _ = measure()
    groups = result.session_ratios(
        m.baseline.latency_samples_s, m.submission.latency_samples_s, m.session_of_round
    )
    assert groups.shape[0] == 2
    assert stats.median(groups.ravel()) == pytest.approx(2.0)


def test_block_is_sized_to_the_slower_model(fake) -> None:
    m, _ = measure()
    # 1 ms over the baseline's probe time per sample: 20 µs + 3 µs (no round trip).
    assert m.block_size == min(round(0.001 / (20e-6 + OVERHEAD)), 200 // (PLAN.reserve_rounds + 2))


def test_every_digit_has_a_scored_answer_and_a_first_one(fake) -> None:
    m, labels = measure()
    assert (m.submission.predictions == labels).all()
    assert (m.baseline.predictions == labels).all()
    assert (m.submission.reference == labels).all()
    assert m.submission.batch_agreement == 1.0


def test_every_presentation_carries_noise_the_first_pass_too(fake) -> None:
    """On the 8-bit grid a noiseless first pass could be told from the rest, and a model
    be honest there only (8 digits from a table score 0.951 against the model's 0.943,
    inside the agreement bar). docs/DESIGN.md, Answer checks."""
    _, _, seen = fake
    images, _ = images_and_labels()
    measure()
    exact = {row.tobytes() for row in images}
    assert not exact & set(seen["submission"])


def test_the_scored_answer_is_drawn_among_every_presentation(fake, monkeypatch) -> None:
    """A model right on each digit's first presentation in the grade (the pass it could
    take for the scored one) and wrong on two digits of 200 ever after (1 %: under the
    agreement bar) is scored wrong on those digits, nearly always: the scored answer is
    one of a digit's presentations drawn at random, and it has dozens."""
    images, labels = images_and_labels()
    cheat = {0, 1}  # digits 0 and 1: answered from the "table" only the first time
    original = FakeChild.run_block

    def run_block(self, message, inputs, batch, classes, timeout):
        elapsed, scores = original(self, message, inputs, batch, classes, timeout)
        if self.name == "submission" and not message["noop"]:
            met = self.__dict__.setdefault("met", set())
            for j, row in enumerate(inputs.reshape(len(inputs), -1)):
                distance = np.abs(images - row).sum(axis=1)
                which = int(np.argmin(distance))
                if distance[which] > 0.1:
                    continue  # a decoy (noise here), not a held-out digit with noise
                if which in cheat and which in met:
                    scores[j] = np.roll(scores[j], 1)
                met.add(which)
        return elapsed, scores

    monkeypatch.setattr(FakeChild, "run_block", run_block)
    wrong = 0
    for seed in range(5):
        m, labels = measure(TAIL_PLAN, seed)  # 8 sessions: a digit's first in each process
        assert (m.submission.reference == labels).all()  # the first pass: all right
        wrong += int(np.sum(m.submission.predictions[list(cheat)] != labels[list(cheat)]))
    assert wrong >= 8  # of 10 scored answers; the first pass alone would give 0


def test_no_input_is_ever_presented_twice(fake) -> None:
    _, _, seen = fake
    m, _ = measure()
    for name in ("baseline", "submission"):
        assert len(seen[name]) == len(set(seen[name])), name
    # Paired rounds: both models saw the same inputs in every timed round (and warm-up).
    common = set(seen["baseline"]) & set(seen["submission"])
    assert len(common) >= m.rounds * m.block_size


def test_sessions_run_the_same_number_of_rounds(fake) -> None:
    m, _ = measure()
    counts = np.bincount(m.session_of_round)
    assert len(counts) == 2 and counts[0] == counts[1] and counts[0] % 2 == 0


def test_peak_memory_is_measured_against_the_bare_footprint(fake) -> None:
    m, _ = measure()
    assert m.submission.peak_rss_bytes - m.submission.base_rss_bytes == 20_000_000


def test_the_other_child_is_stopped_while_one_is_timed(fake) -> None:
    """FakeChild.run_block asserts that a stopped child gets no block; here, that both were
    stopped in turn, every block."""
    clock, _, _ = fake
    m, _ = measure()
    for child in clock.spawned:
        assert child.pauses > m.rounds // PLAN.sessions
        assert not child.paused  # resumed after the last block


def test_a_submission_cannot_inflate_the_harness_cost_it_is_credited(fake, monkeypatch) -> None:
    """Its own no-op blocks run where its code runs: slowing them down (a signal handler,
    a thread) would raise what is subtracted from its latency. The subtraction is capped
    at the baseline child's, so the speedup stays the true 2x."""
    original = FakeChild.__init__

    def init(self, name, *args):
        original(self, name, *args)
        if name == "submission":
            self.noop_extra = 8e-6  # would erase 80 % of its 10 µs latency

    monkeypatch.setattr(FakeChild, "__init__", init)
    m, _ = measure()
    sub = np.median(m.submission.latency_samples_s)
    base = np.median(m.baseline.latency_samples_s)
    assert sub == pytest.approx(10e-6, rel=0.01)
    assert base / sub == pytest.approx(2.0, rel=0.01)


def test_a_failure_of_the_submission_is_a_verdict(fake, monkeypatch) -> None:
    def broken_send(self, message, payload=None, timeout=0.0):
        if self.name == "submission" and message["op"] == "load":
            raise self.failure("crashed", "submission: build_model failed: ValueError")
        original(self, message, payload, timeout)

    original = FakeChild.send
    monkeypatch.setattr(FakeChild, "send", broken_send)
    with pytest.raises(harness.Rejected) as info:
        measure()
    assert info.value.code == "crashed"


def test_a_failure_of_the_baseline_is_the_graders_problem(fake, monkeypatch) -> None:
    def broken_send(self, message, payload=None, timeout=0.0):
        if self.name == "baseline" and message["op"] == "load":
            raise self.failure("crashed", "baseline: missing weights")
        original(self, message, payload, timeout)

    original = FakeChild.send
    monkeypatch.setattr(FakeChild, "send", broken_send)
    with pytest.raises(harness.GraderError, match="the baseline failed") as info:
        measure()
    assert not isinstance(info.value, harness.Rejected)


@pytest.mark.parametrize(("wrong_from", "rejected"), [(None, False), (200, True), (5000, False)])
def test_later_answers_must_match_the_first(fake, monkeypatch, wrong_from, rejected) -> None:
    """The first pass (200 images here) sets each digit's first answer. A submission that
    answers wrongly from its 200th answer on (the probes and warm-up come first, so about
    where the first pass ends) is rejected; one whose 5,000th answer would be the first
    wrong one, after the measurement has ended, is not (the control)."""
    original = FakeChild.run_block

    def run_block(self, message, inputs, batch, classes, timeout):
        elapsed, scores = original(self, message, inputs, batch, classes, timeout)
        if self.name == "submission" and wrong_from is not None and not message["noop"]:
            answered = len(self.seen)  # including this block
            late = np.arange(answered - len(inputs), answered) >= wrong_from
            scores[late] = np.roll(scores[late], 1, axis=1)
        return elapsed, scores

    monkeypatch.setattr(FakeChild, "run_block", run_block)
    if rejected:
        with pytest.raises(harness.Rejected, match="answered the same digits differently") as e:
            measure()
        assert e.value.code == "bad_output"
    else:
        m, labels = measure()
        assert m.submission.repeat_agreement == 1.0
        assert (m.submission.predictions == labels).all()


def costing(monkeypatch, cost) -> None:
    """The submission's per-sample cost becomes ``cost(child, inputs)`` times its latency
    (an array, one factor per sample); ``cost`` may also change the scores in place, as
    ``cost.answer(child, inputs, scores)``. The baseline is left as it is."""
    original = FakeChild.run_block

    def run_block(self, message, inputs, batch, classes, timeout):
        if self.name != "submission" or message["noop"]:
            return original(self, message, inputs, batch, classes, timeout)
        factors = np.asarray(cost(self, inputs), dtype=float)
        extra = float(np.sum(factors - 1)) * self.latency
        elapsed, scores = original(self, message, inputs, batch, classes, timeout)
        self.clock.now += extra
        if hasattr(cost, "answer"):
            cost.answer(self, inputs, scores)
        return elapsed + extra, scores

    monkeypatch.setattr(FakeChild, "run_block", run_block)


def keys(inputs: np.ndarray) -> list[tuple]:
    """What a cache keys on: the pixels rounded (here to 1/100, which undoes the noise)."""
    return [tuple(k) for k in np.rint(inputs.reshape(len(inputs), -1)[:, 1:3] * 100)]


def cache(cached_cost: float):
    """Answers cost ``cached_cost`` once this process has met the digit."""

    def cost(child, inputs):
        met = child.__dict__.setdefault("met", set())
        k = keys(inputs)
        factors = [cached_cost if key in met else 1.0 for key in k]
        met |= set(k)
        return factors

    return cost


CACHE_PLAN = dataclasses.replace(PLAN, min_rounds=20, max_rounds=20, max_block=40)
QUICK_PLAN = dataclasses.replace(harness.QUICK, block_seconds=0.001, time_budget_s=1e9)


@pytest.mark.parametrize("plan", [CACHE_PLAN, QUICK_PLAN], ids=["sessions", "quick"])
@pytest.mark.parametrize(("cached_cost", "rejected"), [(0.2, True), (1.0, False)])
def test_answering_repeated_digits_faster_is_a_cache(
    fake, monkeypatch, plan, cached_cost, rejected
) -> None:
    """A submission whose answers cost a fifth once it has met a digit (in this process)
    is rejected, in a full grade and in a quick one (one session); at full cost (the
    control) it is graded. Each session's reserve rounds show digits new to its processes
    among the repeats."""
    costing(monkeypatch, cache(cached_cost))
    if rejected:
        with pytest.raises(harness.Rejected, match="seen before") as e:
            measure(plan)
        assert e.value.code == "bad_output"
    else:
        m, _ = measure(plan)
        assert m.cache_check["judged"] and m.cache_check["gain"] == pytest.approx(1.0)


def test_a_model_too_fast_for_the_pool_is_still_checked_for_a_cache(fake) -> None:
    """A model fast enough for blocks as large as the pool would leave no round of
    digits new to a session's processes, and nothing to check a cache on. Blocks are
    capped so that every session keeps a reserve, and the result says what was
    compared."""
    _, latencies, _ = fake
    latencies.update(baseline=0.2e-6, submission=0.1e-6)  # blocks of 300 would be asked
    m, _ = measure()
    assert m.block_size == 200 // (PLAN.reserve_rounds + 2)
    check = m.cache_check
    assert check["judged"] and check["fresh_rounds"] >= PLAN.sessions * PLAN.reserve_rounds // 2


TUNING_CALLS = 300  # past the probes, the warm-up and the main digits: into the window


def test_a_model_that_tunes_itself_over_its_first_calls_is_not_a_cache(fake, monkeypatch) -> None:
    """A model three times slower over its first calls (it tunes itself) runs its first
    rounds slowly; were the new digits all in them, it would be taken for a cache (gain
    1.80). The reserve rounds sit at random places among the repeats, so a trend over
    time weighs on both alike."""

    def cost(child, inputs):
        done = child.__dict__.get("calls", 0)
        child.calls = done + len(inputs)
        return np.where(np.arange(done, done + len(inputs)) < TUNING_CALLS, 3.0, 1.0)

    costing(monkeypatch, cost)
    m, _ = measure(CACHE_PLAN)
    assert m.cache_check["judged"]
    assert m.cache_check["p_value"] > 1e-3


def test_guessing_at_new_digits_and_keeping_the_guess_is_caught(fake, monkeypatch) -> None:
    """A lazy cache guesses at a digit it meets first (one guess in ten wrong) and keeps
    the guess: fast everywhere after, and consistent with itself within a process (and no
    pass can be told for the scored one, so it cannot be honest there only). Its first
    answers in a later session's new processes disagree with the first pass's."""

    def cost(child, inputs):
        met = child.__dict__.setdefault("lazy", {})
        return [1.0 if key not in met else 0.2 for key in keys(inputs)]

    def answer(child, inputs, scores):
        met = child.lazy
        for i, key in enumerate(keys(inputs)):
            if key not in met:
                guess = scores[i].copy()
                if child.rng.random() < 0.1:
                    guess = np.roll(guess, 1)
                met[key] = guess
            scores[i] = met[key]

    cost.answer = answer
    monkeypatch.setattr(FakeChild, "rng", np.random.default_rng(0), raising=False)
    costing(monkeypatch, cost)
    with pytest.raises(harness.Rejected, match="answered the same digits differently") as e:
        measure(CACHE_PLAN)
    assert e.value.code == "bad_output"


@pytest.mark.parametrize(
    ("first", "rejected"), [((900, 1000), True), ((995, 1000), False), ((4, 5), False)]
)
def test_first_answers_of_a_new_process_must_match_the_first_pass(first, rejected) -> None:
    """90 % of 1,000 is significantly below 99 %: rejected. 99.5 % is above; 4 of 5 is too
    few to tell from an honest model's near-ties (p = 0.05)."""
    images, labels = images_and_labels()
    referee = Referee(images, labels, 10, PLAN, seed=1)
    m = harness.ModelMeasurement(repeats_agreed=5000, repeats_compared=5000)
    m.first_agreed, m.first_compared = first
    if rejected:
        with pytest.raises(harness.Rejected, match="first answers") as e:
            referee.check_answers(m)
        assert "90.0%" in e.value.message
    else:
        referee.check_answers(m)


def rounds_of(stream, count: int) -> list:
    return [stream.next_round() for _ in range(count)]


def test_the_first_session_shows_every_digit_once_and_then_repeats() -> None:
    """Session 0: every image once, the first pass (the reserve's at random rounds after
    the main digits, up to the session's last); after its first sighting a digit comes
    back as a repeat. Every round after the main digits is compared: none is known to be
    safe to answer from a cache."""
    images, labels = images_and_labels(200)
    referee = Referee(images, labels, 10, PLAN, seed=3)
    stream = referee.schedule(0, 20)
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
    others = {
        Referee(images, labels, 10, PLAN, seed=s).schedule(0, 20).reserve_at for s in range(5)
    }
    assert len(others) == 5


def test_a_later_session_meets_its_reserve_anywhere_among_the_repeats() -> None:
    images, labels = images_and_labels(200)
    referee = Referee(images, labels, 10, PLAN, seed=3)
    stream = referee.schedule(1, 20, target=40)
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
    latest = [max(referee.schedule(1, 20, target=40).reserve_at) for _ in range(40)]
    assert max(latest) >= 35  # the reserve reaches the session's last rounds


def test_the_first_session_stopped_early_still_shows_its_reserve(fake) -> None:
    """A first session that stops before its last reserve round (out of time) shows the
    rest of the reserve at once: every digit has a first answer and a scored one."""
    plan = dataclasses.replace(PLAN, max_rounds=40, time_budget_s=0.0)  # stops at its least
    m, labels = measure(plan)
    assert m.stop_reason == "time_budget"
    assert (m.submission.predictions == labels).all()


def test_after_the_first_pass_only_the_private_digits_are_timed() -> None:
    """The final phase: the first pass shows every public and private digit once; after
    it, only private ones. The public digits are published, so a submission could
    carry a table of their answers: timing them would time a lookup."""
    images, labels = images_and_labels(200)
    private = images[:100] + 0.5
    referee = Referee(images, labels, 10, PLAN, seed=3, private=private)
    stream = referee.schedule(0, 10)
    shown = rounds_of(stream, stream.cap)
    first = np.concatenate([r.idx[r.first_pass] for r in shown])
    assert sorted(first) == list(range(300))
    again = np.concatenate([r.idx[~r.first_pass] for r in shown])
    assert len(again) and again.min() >= 200
    assert all(r.idx.min() >= 200 for r in shown if r.role == "fresh")
    later = rounds_of(referee.schedule(1, 10, target=60), 60)
    assert min(r.idx.min() for r in later) >= 200


def test_without_a_private_split_every_digit_can_be_repeated() -> None:
    images, labels = images_and_labels(200)
    referee = Referee(images, labels, 10, PLAN, seed=3)
    stream = referee.schedule(0, 20)
    shown = rounds_of(stream, stream.cap)
    repeated = np.concatenate([r.idx[~r.new] for r in shown])
    assert set(repeated.tolist()) <= set(range(200)) and len(set(repeated.tolist())) > 100


def test_noise_moves_no_pixel_at_either_end_of_the_range() -> None:
    """A model that binarises its input (``x > 0``) must see the same image every time:
    unclipped noise would turn half the background on, and such a model would agree with
    its first answers on a quarter of the digits. Pixels in between
    move by less than half a grey level and stay in [0, 1]."""
    from grader.config import load_rules
    from grader.data.workloads import as_inputs, get_workload, load_split

    rules = load_rules()
    workload = get_workload(rules, "mlp_sprint")
    images, labels = load_split(rules, workload.dataset, "test")
    x = as_inputs(images, workload)
    referee = Referee(x, labels, 10, PLAN, seed=5)
    moved = referee.noisy(np.arange(len(x)))
    ends = (x == 0) | (x == 1)
    assert ends.mean() > 0.8  # most of a digit is background
    assert (moved[ends] == x[ends]).all()
    assert np.array_equal(moved > 0, x > 0) and np.array_equal(moved >= 1, x >= 1)
    step = np.abs(moved - x)[~ends]
    assert 0 < step.max() < 0.5 / 255 and (step > 0).mean() > 0.99
    assert moved.min() >= 0 and moved.max() <= 1
    # Never the same bytes: every digit has pixels in between, and they moved.
    assert all(a.tobytes() != b.tobytes() for a, b in zip(moved, x, strict=True))
    decoys = referee.decoys(100)
    assert decoys.min() >= 0 and decoys.max() <= 1


TAIL_PLAN = dataclasses.replace(PLAN, sessions=8, min_rounds=20, max_rounds=60, max_block=33)


def test_a_cache_that_waits_for_the_unchecked_rounds_is_caught(fake, monkeypatch) -> None:
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

    costing(monkeypatch, cost)
    with pytest.raises(harness.Rejected, match="seen before"):
        measure(TAIL_PLAN)


@pytest.mark.parametrize(("share", "factor"), [(0.094, 6.5), (0.05, 10.0)])
def test_a_model_whose_speed_depends_on_the_digit_is_not_a_cache(
    fake, monkeypatch, share, factor
) -> None:
    """An honest model that spends more on hard digits (9.4 % of them at 6.5x; 5 % at
    10x) is no cache. Were the repeats one fixed set of digits round after round, and
    caching judged after the second session on 3 reserve rounds, it would be taken for one
    in about one grade in ten. Repeats are drawn from every digit seen, and caching is
    judged once, at the end. 20 grades."""
    images, _ = images_and_labels()
    hard = {tuple(k) for k in keys(images[np.random.default_rng(0).random(len(images)) < share])}
    costing(monkeypatch, lambda child, inputs: [factor if k in hard else 1.0 for k in keys(inputs)])
    plan = dataclasses.replace(PLAN, sessions=8, min_rounds=20, max_rounds=30, max_block=40)
    for seed in range(20):
        assert measure(plan, seed)[0].cache_check["judged"]


def test_new_digits_answered_faster_than_repeats_is_hiding_something(fake, monkeypatch) -> None:
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

    costing(monkeypatch, cost)
    with pytest.raises(harness.Rejected, match="new to it") as e:
        measure(TAIL_PLAN)
    assert e.value.code == "bad_output"


def test_a_later_session_runs_all_its_rounds_whatever_the_submission_spends(
    fake, monkeypatch
) -> None:
    """A submission that spends its session's time budget in a later session must not
    end it early: every session would then be cut to the shortest for the speedup,
    leaving only rounds it had cached. Later sessions run the first's count; a grade that
    runs past its deadline is a timeout."""

    costing(monkeypatch, lambda child, inputs: np.full(len(inputs), 100.0))  # 1 ms a sample
    plan = dataclasses.replace(TAIL_PLAN, sessions=3, time_budget_s=0.3)  # 0.1 s a session
    m, _ = measure(plan)
    assert m.block_size == plan.min_block  # the fewest a block holds
    assert len(set(np.bincount(m.session_of_round))) == 1  # every session as long
    with pytest.raises(harness.Rejected, match="took more than") as e:
        measure(dataclasses.replace(plan, grade_timeout_s=0.5))
    assert e.value.code == "timeout"


def published(m) -> tuple[float, dict]:
    """The speedup as the result publishes it, from the measurement's own rounds."""
    speedup, _, _, _, held = result.published_speedup(
        m.baseline.latency_samples_s,
        m.submission.latency_samples_s,
        m.session_of_round,
        m.round_roles,
    )
    return speedup, held


@pytest.mark.parametrize("share", [0.6, 0.9], ids=["60-percent", "90-percent"])
def test_a_cache_on_most_repeats_padded_slow_on_the_rest_gains_nothing(
    fake, monkeypatch, share
) -> None:
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

    costing(monkeypatch, cost)
    try:
        m, _ = measure(TAIL_PLAN)
    except harness.Rejected as exc:  # caught outright: nothing to publish
        assert "seen before" in exc.message
        return
    _, latencies, _ = fake
    honest = latencies["baseline"] / latencies["submission"]  # its speed computing: 2x
    speedup, held = published(m)
    assert held["speedup_measured"] > 1.5 * honest  # what the cache would have bought
    assert speedup == held["speedup_new_digits_ci95"][1] <= 1.05 * honest  # what it gets


def test_an_honest_speedup_is_not_held(fake) -> None:
    """The same plan, no cache: every round alike, the bound leaves the speedup as measured."""
    m, _ = measure(TAIL_PLAN)
    speedup, held = published(m)
    assert speedup == held["speedup_measured"]
    lo, hi = held["speedup_new_digits_ci95"]
    assert lo <= speedup <= hi


def test_a_quick_grade_of_a_model_slow_over_its_first_rounds_is_not_a_cache(
    fake, monkeypatch
) -> None:
    """A quick grade has 3-6 reserve rounds: their median can land among an honest model's
    slow first rounds (here 3x slower over about a quarter of them). The bound that holds
    whatever the rank test says waits for a full grade's reserve; 20 quick grades."""

    def cost(child, inputs):
        done = child.__dict__.get("calls", 0)
        child.calls = done + len(inputs)
        return np.where(np.arange(done, done + len(inputs)) < 700, 3.0, 1.0)

    costing(monkeypatch, cost)
    for seed in range(20):
        assert measure(QUICK_PLAN, seed)[0].cache_check["judged"]


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


def test_a_thread_alive_only_between_the_childs_own_blocks_is_counted(
    fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grader counted a child's threads only when it stopped it for the other's block;
    now before every block, the timed child's own included, and at the end."""
    clock, latencies, seen = fake

    def spawn(name, folder, limits, core, page_bytes, *, files):
        kind = ThreadBetweenOwnBlocks if name == "submission" else FakeChild
        child = kind(name, clock, latencies[name], seen[name])
        clock.spawned.append(child)
        return child

    monkeypatch.setattr(harness, "spawn", spawn)
    with pytest.raises(harness.Rejected) as raised:
        measure()
    assert raised.value.code == "sandbox_violation" and "thread" in raised.value.message


def test_slow_probes_cannot_make_blocks_of_one(fake, monkeypatch) -> None:
    """A submission sizes its own blocks by its speed on the probes: 8.5 ms on each
    untimed probe call would give blocks of one sample, and so rounds of new digits of one
    digit each, few enough to guess at.
    A block holds at least ``min_block`` samples whatever the probes say."""

    def cost(child, inputs):
        calls = child.__dict__.get("calls", 0)
        child.calls = calls + len(inputs)
        return np.full(len(inputs), 500.0 if calls < 64 else 1.0)  # only the probes slow

    costing(monkeypatch, cost)
    m, _ = measure(TAIL_PLAN)
    assert m.block_size == TAIL_PLAN.min_block == 32


def test_guesses_at_the_digits_met_among_the_repeats_are_checked_on_their_own() -> None:
    """A guesser that answers the reserve rounds' digits by a cheap guess (80 % right)
    and everything else honestly: a few dozen wrong answers among a grade's
    thousands of first sightings pass the 99 % bar, but not among the reserve's own."""
    images, labels = images_and_labels()
    referee = Referee(images, labels, 10, PLAN, seed=1)
    m = harness.ModelMeasurement(repeats_agreed=5000, repeats_compared=5000)
    m.first_agreed, m.first_compared = 2000 - 20, 2000  # 99 %: passes as a whole
    m.reserve_agreed, m.reserve_compared = 650 - 20, 650  # 96.9 %: not on its own
    with pytest.raises(harness.Rejected, match="met for the first time among the repeats"):
        referee.check_answers(m)
    m.reserve_agreed = 650 - 3  # an honest model's near-ties
    referee.check_answers(m)


@pytest.mark.parametrize(("cached_cost", "rejected"), [(0.8, False), (0.6, True)])
def test_a_cache_is_rejected_when_its_gain_is_material_and_held_either_way(
    fake, monkeypatch, cached_cost, rejected
) -> None:
    """Repeats at 0.8 of the cost (1.25x, under the 1.5x the check rejects at) are a
    significant gain, but not rejected: the honest example's own rounds showed 1.10x at
    p = 0.0002 once in 200 grades on a busy machine. What such a cache publishes is held
    to the new digits' interval, so it earns nothing it did not compute. At 0.6 (1.67x)
    the check rejects it."""
    costing(monkeypatch, cache(cached_cost))
    if rejected:
        with pytest.raises(harness.Rejected, match="seen before"):
            measure(TAIL_PLAN)
        return
    m, _ = measure(TAIL_PLAN)
    check = m.cache_check
    assert check["judged"] and check["p_value"] < harness.CACHE_P_VALUE
    assert 1.15 < check["gain"] < 1 + TAIL_PLAN.max_repeat_gain
    _, latencies, _ = fake
    honest = latencies["baseline"] / latencies["submission"]
    speedup, held = published(m)
    assert held["speedup_measured"] > 1.1 * honest
    assert speedup == held["speedup_new_digits_ci95"][1] <= 1.05 * honest
