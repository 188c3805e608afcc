"""The parent's handle on a counted child: a worker under valgrind's cachegrind, confined
before valgrind started (``grader/child/precount.py``), answering an untimed stream of
samples whose instructions are counted (docs/DESIGN.md, Instruction counts).

It is a ``handle.Child`` with a doorbell (a pipe the child's loop waits on for each
release, where a timed child spins: a spin's length depends on timing, and would be
counted) and the file its count is written to when it exits.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.child import handoff, wire
from grader.errors import Verdict
from grader.sandbox.handle import Child, await_counter

# How long the parent sleeps between looks at the page while a counted child works: a
# sample takes it a millisecond or more under valgrind, and spinning would take a core
# from the other counted children.
PATIENT = 50e-6
GO = b"\x01"  # the doorbell's one byte: the first lets the launcher start, then one a sample


@dataclass
class CountedChild(Child):
    """A worker under cachegrind (``launch.spawn`` with ``counted``)."""

    doorbell: int = -1  # the pipe's writing end, the child's loop reads the other
    count_file: Path = Path()  # where cachegrind writes the count as the child exits

    def go(self) -> None:
        """Let the launcher confine itself and exec valgrind (its rlimits are set)."""
        os.write(self.doorbell, GO)

    def stream_block(
        self,
        inputs: np.ndarray,
        noop: bool,
        input_shape: Sequence[int],
        classes: int,
        timeout: float,
    ) -> np.ndarray:
        """Hand ``inputs`` over one sample at a time, untimed, ringing the doorbell after
        each release (``worker.run_counted_block``); a ``noop`` block is answered by the
        worker's no-op model. The scores, ``(samples, classes)``."""
        deadline = time.monotonic() + timeout
        self.blocks += 1
        first = seq = self.released
        message = wire.block_message(len(inputs), 1, noop, input_shape, classes)
        self.send({**message, "block": self.blocks, "first": first}, timeout=timeout)
        words = self.page.words
        x, answer = self.page.slots(1, inputs.shape[1:], classes)
        scores = np.empty((len(inputs), classes), dtype=np.float32)
        await_counter(self, handoff.READY, self.blocks, self.blocks - 1, deadline, pause=PATIENT)
        for k, sample in enumerate(inputs):
            x[0] = sample
            seq += 1
            words[handoff.RELEASED] = seq
            os.write(self.doorbell, GO)
            await_counter(self, handoff.ANSWERED, seq, seq - 1, deadline, pause=PATIENT)
            scores[k] = answer[0]
        self.released = seq
        reply = self.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if reply.get("op") != "done" or reply.get("n") != len(inputs):
            self.kill()
            raise self.failure(Verdict.BAD_OUTPUT, f"{self.name} sent {reply!r}, not 'done'")
        return scores

    def request_exit(self) -> None:
        """Ask the child to leave, without waiting: cachegrind then writes its count
        (``wait`` for it)."""
        self.send({"op": "exit"}, timeout=5.0)

    def close(self) -> None:
        super().close()
        with contextlib.suppress(OSError):
            os.close(self.doorbell)
