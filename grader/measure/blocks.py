"""One timed block, and the blocks' size and calibration (docs/DESIGN.md, Measurement).

A timed *block* of distinct samples is ordered once over the pipe and then handed to the
child's loop one sample (or batch) at a time through a shared page, the next only once the
current one is answered (``handoff``); the clock runs from the first release to the last
answer, and the loop's own cost is calibrated with no-op blocks and subtracted. The child
not being timed is stopped meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from grader.errors import Verdict
from grader.measure import schedule
from grader.measure.inputs import Inputs
from grader.measure.plan import Plan
from grader.sandbox.process import ModelProcess

MIN_LATENCY_S = 1e-8  # floor for a calibrated latency: below this the clock cannot tell


class BlockTimer:
    """Times blocks of inputs in the session's live children, one child at a time.

    ``decoys(n)`` gives the inputs of ``n`` samples (or steps) for untimed and no-op
    blocks; ``in_shape`` is a sample's shape, ``()`` for a generation model's tokens."""

    def __init__(
        self,
        timeout: float,
        in_shape: Sequence[int],
        classes: int,
        decoys: Callable[[int], np.ndarray],
    ) -> None:
        self.timeout = timeout
        self.in_shape = tuple(in_shape)
        self.classes = classes
        self.decoys = decoys
        self.live: list[ModelProcess] = []  # the current session's children

    def block(
        self, child: ModelProcess, inputs: np.ndarray, batch: int = 1, noop: bool = False
    ) -> tuple[float, np.ndarray]:
        """Time one block of ``inputs``, handed over ``batch`` at a time; return (seconds,
        scores). The clock runs from the first sample's release to the last answer."""
        # The other child is stopped while this one works: nothing it left running (a
        # thread, a timer's signal handler) can take the shared core from the timed one.
        # Both are counted, the timed one too: a thread it started in its last block would
        # otherwise work on unseen between two of its own blocks (the order runs S S).
        others = [c for c in self.live if c is not child]
        for other in others:
            other.pause()
        for counted in (*others, child):
            counted.check_threads()
        try:
            elapsed, scores = child.time_block(
                inputs, batch, noop, self.in_shape, self.classes, self.timeout
            )
        finally:
            for other in others:
                other.resume()
        if not noop:
            bad = ~np.isfinite(scores).all(axis=-1)  # per sample, or per step and sequence
            if bad.any():
                raise child.failure(
                    Verdict.BAD_OUTPUT,
                    f"{child.name} returned NaN or infinite scores for {int(bad.sum())} of "
                    f"{bad.size} samples",
                )
        return elapsed, scores

    def calibrate(
        self, children: list[ModelProcess], n: int, batch: int, blocks: int
    ) -> list[list[float]]:
        """No-op blocks of the same size through the same loop: the harness's own cost."""
        times: list[list[float]] = [[] for _ in children]
        for _ in range(blocks):
            inputs = self.decoys(n)
            for i, child in enumerate(children):
                times[i].append(self.block(child, inputs, batch, noop=True)[0])
        return times


def block_size(timer: BlockTimer, children: list[ModelProcess], plan: Plan, inputs: Inputs) -> int:
    """Untimed probe blocks that size a block to the slower model's ``block_seconds``."""
    per_sample = []
    for child in children:
        for _ in range(2):  # the first call pays for lazy imports and page faults
            elapsed, _ = timer.block(child, inputs.decoys(32))
        per_sample.append(elapsed / 32)
    n = round(plan.block_seconds / max(per_sample))
    largest = min(plan.max_block, schedule.max_block(len(inputs.pool), plan.reserve_rounds))
    return int(np.clip(n, min(plan.min_block, largest), largest))


def calibrated(raw: list[float], overhead: float, n: int) -> list[float]:
    """Per-sample latencies of blocks of ``n`` samples, the harness's cost taken off."""
    return [max((t - overhead) / n, MIN_LATENCY_S) for t in raw]


def overhead(calib: list[list[float]]) -> float:
    """The harness cost to subtract from either child's blocks: the baseline child's no-op
    blocks' median (index 0), for both children. The two run the same loop, but only the
    baseline's process runs nothing but our code: the submission's no-op blocks share a
    process with its code (a signal handler could slow them down to inflate what is
    subtracted). Taking the smaller of the two medians instead would be
    biased: the minimum of two noisy estimates runs low, which charged an identical
    model about 1 % of extra latency where the loop's cost is a fifth of the model's."""
    return float(np.median(calib[0]))
