"""What the referee uses of a model's process: the ``ModelProcess`` protocol.

``handle.Child`` (a real worker process) satisfies it, and so does the tests' fake child
(``tests/fakechild.py``), which runs the referee on a fake clock; ``tests/test_process.py``
checks both against it, signatures included. A child speaks the wire's messages for the
referee (``load``, ``reset``, ``time_block``): the referee never writes one itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from grader.child import wire
from grader.errors import ChildFailure, Verdict


@runtime_checkable
class ModelProcess(Protocol):
    """One model's process, as the referee drives it: load the model, time blocks of
    samples, keep it stopped while the other is timed, probe it, close it."""

    name: str  # "baseline" or "submission": whose verdict a failure is
    info: dict  # what it reported and was given: "limits", "layers", "numpy"

    def failure(self, code: Verdict, message: str) -> ChildFailure:
        """The verdict ``code`` for this process (the caller raises it)."""
        ...

    def load(
        self,
        entrypoint_file: str,
        function: str,
        layout_shift: int,
        imports: dict | None,
        timeout: float,
        protocol: str = wire.CLASSIFICATION,
    ) -> None:
        """Build the model, to be called by ``protocol`` (``wire.PROTOCOLS``); raise the
        verdict if it fails or answers anything but "loaded"."""
        ...

    def reset(self, batch: int, timeout: float) -> None:
        """Start ``batch`` new sequences of a generation model; raise the verdict if it
        fails or answers anything but "ready"."""
        ...

    def time_block(
        self,
        inputs: np.ndarray,
        batch: int,
        noop: bool,
        input_shape: Sequence[int],
        classes: int,
        timeout: float,
    ) -> tuple[float, np.ndarray]:
        """Time one block of ``inputs``, ``batch`` at a time: (seconds, scores). For a
        generation model, ``inputs`` are token ids ``(steps, batch)``, one step per
        hand-over, ``input_shape`` is ``()`` and the scores ``(steps, batch, classes)``."""
        ...

    def pause(self) -> None:
        """Stop the process until ``resume``: nothing of it runs meanwhile."""
        ...

    def resume(self) -> None: ...

    def check_threads(self) -> None:
        """Raise ``sandbox_violation`` if it runs more than one thread."""
        ...

    def peak_rss_bytes(self) -> int | None:
        """Its peak resident memory so far (None where it cannot be read)."""
        ...

    def schedstat(self) -> tuple[int, int] | None:
        """Its nanoseconds so far on a CPU and waiting on a run queue while runnable (None
        where they cannot be read)."""
        ...

    def close(self) -> None:
        """End the process and remove what it was given; never raises its verdict."""
        ...
