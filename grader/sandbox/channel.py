"""The pipe transport between the parent and one child: the wire's framed messages
(``grader/child/wire.py``) written and read with deadlines.

Two dedicated pipes, never stdout (docs/DESIGN.md, Trust boundaries). The parent's write
end is non-blocking, so a child that stops reading cannot hang the grader, and every read
waits in ``select`` for the time left before its deadline. The channel knows no verdicts:
it raises what went wrong on the pipe (``Hangup``, ``Interrupted``, ``Broken``), and the
handle (``handle.Child``) ends the child and turns that into its verdict.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from dataclasses import dataclass

from grader.child import wire
from grader.errors import Verdict


class Hangup(Exception):
    """The child closed its end of the pipe: it is dead or dying, and its death's verdict
    (``verdicts.death``) says why."""


class Interrupted(Exception):
    """The child spoke, or closed its end, while its input was being written: only an
    error message or its death can explain that."""


class Broken(Exception):
    """The child broke the transport's rules: a deadline passed, or it sent an oversized
    or malformed message. ``code`` is the verdict (``timeout`` or ``bad_output``)."""

    def __init__(self, code: Verdict, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Channel:
    """The parent's two pipe ends to one child, named for the messages it raises."""

    name: str
    to_child: int  # non-blocking
    from_child: int

    def send(self, message: dict, timeout: float = 30.0) -> None:
        self._write(memoryview(wire.encode(message)), time.monotonic() + timeout)

    def _write(self, view: memoryview, deadline: float) -> None:
        while view:
            try:
                view = view[os.write(self.to_child, view) :]
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                raise Interrupted from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Broken(Verdict.TIMEOUT, f"{self.name} stopped reading its input")
            # Wake on writable, or on the child talking back (an error) or dying (EOF).
            readable, _, _ = select.select([self.from_child], [self.to_child], [], remaining)
            if readable:
                raise Interrupted

    def receive(self, timeout: float) -> dict:
        """The next message, decoded and checked for its shape (a JSON object with an
        ``op``); what it says is the caller's to check."""
        deadline = time.monotonic() + timeout
        header = self.read(wire.LENGTH.size, deadline)
        (length,) = wire.LENGTH.unpack(header)
        if length > wire.MAX_MESSAGE_BYTES:
            raise Broken(
                Verdict.BAD_OUTPUT,
                f"{self.name} sent a {length}-byte message (limit {wire.MAX_MESSAGE_BYTES})",
            )
        try:
            return wire.decode(self.read(length, deadline))
        except wire.WireError as exc:
            raise Broken(Verdict.BAD_OUTPUT, f"{self.name}: {exc}") from None

    def read(self, n: int, deadline: float) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Broken(Verdict.TIMEOUT, f"{self.name} did not answer in time")
            ready, _, _ = select.select([self.from_child], [], [], remaining)
            if not ready:
                continue
            k = os.readv(self.from_child, [view[got:]])
            if k == 0:
                raise Hangup
            got += k
        return bytes(buf)

    def readable(self) -> bool:
        """Whether the child has written something (or closed its end) not yet read."""
        return bool(select.select([self.from_child], [], [], 0)[0])

    def close(self) -> None:
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
