"""The child's ``sys.stdout`` and ``sys.stderr``: what the model prints reaches the log up to
a limit, and no further (SECURITY.md, threat 5).

Child-side code: imports only the standard library and the wire protocol.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

from grader.child import wire

OUTPUT_LIMIT_BYTES = 1 << 20


class CappedOutput(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` of the child: the first ``limit`` bytes reach the
    log; the write that would pass the limit ends the child with ``bad_output`` (SECURITY.md,
    threat 5: an output limit stops the submission with a verdict). Writing to descriptor 1
    directly bypasses this; RLIMIT_FSIZE on the log stops that (EFBIG, see ``limit_verdict``).
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.left = limit
        self.limit = limit
        self.exceeded: Callable[[str], None] | None = None  # set once the pipe is known

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        if len(data) > self.left:
            with contextlib.suppress(OSError):
                wire.write_all(self.fd, memoryview(data[: max(self.left, 0)]))
            self.left = 0
            if self.exceeded is not None:
                self.exceeded(
                    f"printed more than {self.limit:,} bytes to stdout/stderr (the limit); "
                    "print less, or nothing, while the grader measures"
                )
            return len(text)
        self.left -= len(data)
        wire.write_all(self.fd, memoryview(data))
        return len(text)
