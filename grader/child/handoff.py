"""Samples handed to the child one at a time through a page of shared memory.

The parent writes sample k into the page, then *releases* it by setting a counter; the
child's loop waits for that counter, calls the model on the sample in place, copies the
scores back and sets its own counter to say *answered*; only then does the parent copy the
scores out and write sample k+1 over sample k. So the next sample exists nowhere the child
can reach (not in a pipe, not in its memory) until the current one is answered, whatever
the child's code does, and the block's clock runs in the parent from the first release to
the last answer: the pipe's wake-ups stay outside it (docs/DESIGN.md, Measurement).

Both sides spin on the counters (one core each when the machine has two, see
``referee.pick_cores``), then yield the core: on one core the other side must get to run.

The page is a ``memfd`` (a file with no name) passed to the child on its command line; it
is created before the child starts and mapped by both. Layout: three 64-bit counters, each
on its own cache line (released, written by the parent; answered and ready, by the
child), then the input slot (up to ``capacity`` samples), then the answer slot.

Child-side code as well: imports only the standard library and NumPy.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import tempfile

import numpy as np

LINE = 64  # bytes of a cache line: the counters do not share one
RELEASED, ANSWERED, READY = 0, LINE // 8, 2 * LINE // 8  # indices of int64 words
HEADER = 3 * LINE
FAST_SPINS = 4096  # reads of a counter before the waiting side starts to yield its core
CHECK_EVERY = 512  # yields between checks of the deadline (parent) or the parent (child)


def page_bytes(capacity: int, sample_bytes: int, answer_bytes: int) -> int:
    size = HEADER + capacity * (sample_bytes + answer_bytes)
    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE


def create(size: int) -> int:
    """A descriptor of ``size`` zeroed bytes that only its holders can reach.

    On Linux, a memfd sealed at that size: the child holds the descriptor too, and
    shrinking the file under the parent's mapping would end the parent with SIGBUS at its
    next write. With ``F_SEAL_SHRINK`` the kernel refuses ``ftruncate`` to anyone, so
    that holds without the audit hook and without seccomp.
    """
    if hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS"):
        fd = os.memfd_create("olympics-handoff", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(fd, size)
        seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        return fd
    # Not Linux: an unnamed temporary file (see SECURITY.md: grade on Linux).
    with tempfile.TemporaryFile() as f:
        fd = os.dup(f.fileno())
    os.ftruncate(fd, size)
    return fd


class Page:
    """One side's mapping of the page, and views on its parts."""

    def __init__(self, fd: int) -> None:
        self.mm = mmap.mmap(fd, os.fstat(fd).st_size)
        self.words = memoryview(self.mm)[:HEADER].cast("q")

    def slots(self, batch: int, in_shape: tuple, classes: int) -> tuple[np.ndarray, np.ndarray]:
        """The input slot for ``batch`` samples and the answer slot, as float32 arrays."""
        sample = int(np.prod(in_shape)) * 4
        size = batch * (sample + classes * 4)
        if HEADER + size > len(self.mm):
            raise ValueError(f"a batch of {batch} does not fit the shared page")
        x = np.frombuffer(self.mm, np.float32, batch * sample // 4, HEADER)
        answer = np.frombuffer(self.mm, np.float32, batch * classes, HEADER + batch * sample)
        return x.reshape(batch, *in_shape), answer.reshape(batch, classes)

    def close(self) -> None:
        """Unmap now, or (while an exception's traceback still holds a view on a slot)
        when the last view goes."""
        self.words.release()
        with contextlib.suppress(BufferError):
            self.mm.close()
