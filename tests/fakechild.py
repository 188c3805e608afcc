"""Fake children and a fake clock for the referee's tests (no processes): the spawner and
the clock a ``Referee`` is given in place of ``grader.sandbox.launch.spawn`` and
``time.perf_counter``.

``FakeChild`` satisfies ``grader.sandbox.process.ModelProcess`` as ``handle.Child`` does
(tests/test_process.py checks both): it answers from pixel 0 (which encodes the label) and
charges the clock exactly what its model would take, so every number the referee derives
is known in advance: calibrated latencies, the speedup, the accuracy, the never-repeated
inputs. Tests change its behaviour by subclassing it and replacing ``run_block`` or
``send``, which see the messages a real child would receive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from grader.child import wire
from grader.errors import ChildFailure, Verdict
from grader.measure.measurement import Measurement
from grader.measure.plan import QUICK, Model, Plan
from grader.measure.referee import Referee
from grader.result import derive

OVERHEAD = 3e-6  # the worker loop's cost per sample
ROUND_TRIP = 100e-6  # per block


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class FakeChild:
    """Answers from pixel 0 (which encodes the label) and charges the clock per sample."""

    name: str
    info: dict

    def __init__(self, name: str, clock: FakeClock, latency: float, seen: list) -> None:
        self.name, self.clock, self.latency, self.seen = name, clock, latency, seen
        self.info = {"limits": "prlimit"}
        self.loaded = False
        self.paused = False
        self.pauses = 0
        self.noop_extra = 0.0  # a submission slowing its own no-op blocks down
        # /proc's schedstat: ns on a CPU (the blocks it ran) and waiting for one, which is
        # ``waited`` per ns run; None: unreadable
        self.cpu_ns: list[int] | None = [0, 0]
        self.waited = 0.0

    def failure(self, code: Verdict, message: str) -> ChildFailure:
        return ChildFailure(code, message, self.name)

    def pause(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume(self) -> None:
        self.paused = False

    def check_threads(self) -> None:
        pass

    def load(
        self,
        entrypoint_file: str,
        function: str,
        layout_shift: int,
        imports: dict | None,
        timeout: float,
        protocol: str = wire.CLASSIFICATION,
    ) -> None:
        """The load message as ``handle.Child`` sends it, through ``send``."""
        message = wire.load_message(entrypoint_file, function, layout_shift, imports, protocol)
        self.send(message)
        if self.receive(timeout) != {"op": "loaded"}:
            raise self.failure("bad_output", f"{self.name} sent a malformed 'loaded' message")

    def reset(self, batch: int, timeout: float) -> None:
        """The reset message as ``handle.Child`` sends it, through ``send``."""
        self.send(wire.reset_message(batch))
        if self.receive(timeout) != {"op": "ready"}:
            raise self.failure("bad_output", f"{self.name} sent a malformed 'ready' message")

    def send(self, message: dict, payload=None, timeout: float = 0.0) -> None:
        assert not self.paused, f"{self.name} was sent a message while stopped"
        self.message = message
        self.loaded |= message["op"] == "load"

    def receive(self, timeout: float) -> dict:
        replies = {"load": {"op": "loaded"}, "reset": {"op": "ready"}}
        assert self.message["op"] in replies
        return replies[self.message["op"]]

    def time_block(
        self,
        inputs: np.ndarray,
        batch: int,
        noop: bool,
        input_shape: Sequence[int],
        classes: int,
        timeout: float,
    ) -> tuple[float, np.ndarray]:
        """The block message as ``handle.Child`` sends it, through ``run_block``."""
        message = wire.block_message(len(inputs), batch, noop, input_shape, classes)
        return self.run_block(message, inputs, batch, classes, timeout)

    def run_block(
        self, message: dict, inputs: np.ndarray, batch: int, classes: int, timeout: float
    ) -> tuple[float, np.ndarray]:
        """The block's message wakes the child (a pipe's round trip, outside the clock),
        then each sample costs the loop's overhead plus the model's latency."""
        assert not self.paused, f"{self.name} was sent a block while stopped"
        x = inputs.reshape(len(inputs), -1)
        per_sample = OVERHEAD + (self.noop_extra if message["noop"] else self.latency)
        self.clock.now += ROUND_TRIP
        elapsed = per_sample * message["n"]
        self.clock.now += elapsed
        if self.cpu_ns is not None:
            self.cpu_ns[0] += round(elapsed * 1e9)
            self.cpu_ns[1] += round(elapsed * 1e9 * self.waited)
        scores = np.zeros((message["n"], classes), dtype=np.float32)
        if not message["noop"]:
            self.seen.extend(row.tobytes() for row in x)
            label = np.clip(np.rint(x[:, 0] * 10).astype(int), 0, classes - 1)  # decoys: any
            scores[np.arange(len(x)), label] = 1.0
        return elapsed, scores

    def peak_rss_bytes(self) -> int | None:
        return 50_000_000 if self.loaded else 30_000_000

    def schedstat(self) -> tuple[int, int] | None:
        return None if self.cpu_ns is None else (self.cpu_ns[0], self.cpu_ns[1])

    def close(self) -> None:
        pass


class Fakes:
    """One fake clock, and the fake children a referee starts with ``spawn``: of
    ``kinds[name]`` (``FakeChild`` by default), at ``latencies[name]`` a sample, each
    recording the bytes of every input it answered in ``seen[name]``."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.latencies = {"baseline": 20e-6, "submission": 10e-6}
        self.seen: dict[str, list] = {"baseline": [], "submission": []}
        self.kinds: dict[str, type[FakeChild]] = {}
        self.spawned: list[FakeChild] = []

    def spawn(self, name, folder, limits, core, page_bytes, *, files, prepare=None) -> FakeChild:
        kind = self.kinds.get(name, FakeChild)
        child = kind(name, self.clock, self.latencies[name], self.seen[name])
        child.prepare = prepare  # what changed its private copy (the ablation's rewrite)
        self.spawned.append(child)
        return child

    def referee(self, images: np.ndarray, plan: Plan, seed: int, **kwargs) -> Referee:
        """A referee of 10 classes on this clock, starting these children."""
        return Referee(
            images, 10, plan, seed=seed, clock=self.clock.perf_counter, spawner=self.spawn,
            **kwargs,
        )  # fmt: skip


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
CACHE_PLAN = dataclasses.replace(PLAN, min_rounds=20, max_rounds=20, max_block=40)
QUICK_PLAN = dataclasses.replace(QUICK, block_seconds=0.001, time_budget_s=1e9)
TAIL_PLAN = dataclasses.replace(PLAN, sessions=8, min_rounds=20, max_rounds=60, max_block=33)
MODEL_FILES = ("model.py",)


def measure(fake: Fakes, plan: Plan = PLAN, seed: int = 7) -> tuple[Measurement, np.ndarray]:
    """A whole measurement of the fake baseline and submission, and the digits' labels."""
    images, labels = images_and_labels()
    m = fake.referee(images, plan, seed).measure(
        Model("baseline", Path("."), "model.py", "build_model", MODEL_FILES),
        Model("submission", Path("."), "model.py", "build_model", MODEL_FILES),
    )
    return m, labels


def published(m: Measurement) -> tuple[float, dict]:
    """The speedup as the result publishes it, from the measurement's own rounds."""
    speedup, _, _, _, held = derive.published_speedup(
        m.baseline.latency_samples_s,
        m.submission.latency_samples_s,
        m.session_of_round,
        m.round_roles,
    )
    return speedup, held


def costing(fake: Fakes, cost) -> None:
    """The submission's per-sample cost becomes ``cost(child, inputs)`` times its latency
    (an array, one factor per sample); ``cost`` may also change the scores in place, as
    ``cost.answer(child, inputs, scores)``. The baseline is left as it is."""

    class Costed(FakeChild):
        def run_block(self, message, inputs, batch, classes, timeout):
            if message["noop"]:
                return super().run_block(message, inputs, batch, classes, timeout)
            factors = np.asarray(cost(self, inputs), dtype=float)
            extra = float(np.sum(factors - 1)) * self.latency
            elapsed, scores = super().run_block(message, inputs, batch, classes, timeout)
            self.clock.now += extra
            if hasattr(cost, "answer"):
                cost.answer(self, inputs, scores)
            return elapsed + extra, scores

    fake.kinds["submission"] = Costed


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
