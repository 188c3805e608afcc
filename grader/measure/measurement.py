"""What the referee hands to the result: each model's observations and the grade's
measurement as a whole (docs/DESIGN.md, Owners of the numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from grader.measure.answers import Answers
from grader.measure.caching import CacheCheck
from grader.sandbox.process import ModelProcess


@dataclass(kw_only=True)
class Footprint:
    """A model's load time and its memory above its process's bare footprint, kept from
    the session whose model took the most."""

    base_rss_bytes: int | None = None
    peak_rss_bytes: int | None = None
    load_seconds: float = 0.0

    def keep_largest_rss(self, base: int | None, peak: int | None) -> None:
        """Keep the session whose model took the most memory above its bare footprint."""
        if base is None or peak is None:
            return
        if self.peak_rss_bytes is None or peak - base > self.peak_rss_bytes - self.base_rss_bytes:
            self.base_rss_bytes, self.peak_rss_bytes = base, peak


@dataclass
class ModelMeasurement(Footprint):
    """One model's observations, over every session."""

    answers: Answers  # what it answered, and how its later answers agreed with its first
    latency_samples_s: list[float] = field(default_factory=list)  # calibrated, per round
    overhead_s_per_sample: list[float] = field(default_factory=list)  # per session
    throughput_samples_s: list[float] = field(default_factory=list)  # samples/s, per block


Schedstat = tuple[int, int] | None  # a child's ns on a CPU and waiting for one, or None


@dataclass
class CpuWait:
    """Both children's nanoseconds on a CPU (``run_ns``) and runnable but waiting for one
    (``delay_ns``), summed over the timed part of every session; both None once a reading
    failed (docs/DESIGN.md, Measurement: CPU wait)."""

    run_ns: int | None = 0
    delay_ns: int | None = 0

    @contextlib.contextmanager
    def over(self, children: Sequence[ModelProcess]) -> Iterator[None]:
        """Add what ``children`` ran and waited while the ``with`` block runs (nothing
        where it raises: the grade is rejected)."""
        before = [c.schedstat() for c in children]
        yield
        self.add(before, [c.schedstat() for c in children])

    def add(self, before: list[Schedstat], after: list[Schedstat]) -> None:
        """Add what the children ran and waited between ``before`` and ``after``."""
        if self.run_ns is None or self.delay_ns is None:
            return
        if any(x is None for x in (*before, *after)):
            self.run_ns = self.delay_ns = None
            return
        for (run0, delay0), (run1, delay1) in zip(before, after, strict=True):  # type: ignore[misc]
            self.run_ns += run1 - run0
            self.delay_ns += delay1 - delay0

    @property
    def share(self) -> float | None:
        """The share of their runnable time the children waited for a CPU: delay / (run +
        delay); None where unread or nothing ran."""
        if self.run_ns is None or self.delay_ns is None or self.run_ns + self.delay_ns <= 0:
            return None
        return self.delay_ns / (self.run_ns + self.delay_ns)


@dataclass
class Measurement:
    baseline: ModelMeasurement
    submission: ModelMeasurement
    block_size: int
    warmup_rounds: int
    rounds: int
    session_of_round: list[int]
    round_roles: list[str]
    stop_reason: str
    seed: int
    affinity: dict
    wall_seconds: float
    cache_check: CacheCheck
    cpu_wait: CpuWait = field(default_factory=CpuWait)
