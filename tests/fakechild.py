"""A fake model process for the referee's tests: no process, a fake clock.

``FakeChild`` satisfies ``grader.sandbox.process.ModelProcess`` as ``handle.Child`` does
(tests/test_process.py checks both): it answers from pixel 0 (which encodes the label) and
charges the clock exactly what its model would take, so every number the referee derives
is known in advance. Tests change its behaviour by replacing ``run_block`` or ``send``,
which see the messages a real child would receive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.errors import ChildFailure

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

    def failure(self, code: str, message: str) -> ChildFailure:
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
    ) -> None:
        """The load message as ``handle.Child`` sends it, through ``send``."""
        self.send(
            {
                "op": "load",
                "entrypoint_file": entrypoint_file,
                "function": function,
                "layout_shift": layout_shift,
                **({"imports": imports} if imports else {}),
            }
        )
        if self.receive(timeout) != {"op": "loaded"}:
            raise self.failure("bad_output", f"{self.name} sent a malformed 'loaded' message")

    def send(self, message: dict, payload=None, timeout: float = 0.0) -> None:
        assert not self.paused, f"{self.name} was sent a message while stopped"
        self.message = message
        self.loaded |= message["op"] == "load"

    def receive(self, timeout: float) -> dict:
        assert self.message["op"] == "load"
        return {"op": "loaded"}

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
        message = {
            "op": "block",
            "n": len(inputs),
            "batch": batch,
            "noop": noop,
            "input_shape": list(input_shape),
            "classes": classes,
        }
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
        scores = np.zeros((message["n"], classes), dtype=np.float32)
        if not message["noop"]:
            self.seen.extend(row.tobytes() for row in x)
            label = np.clip(np.rint(x[:, 0] * 10).astype(int), 0, classes - 1)  # decoys: any
            scores[np.arange(len(x)), label] = 1.0
        return elapsed, scores

    def peak_rss_bytes(self) -> int | None:
        return 50_000_000 if self.loaded else 30_000_000

    def close(self) -> None:
        pass
