"""The wire protocol between the grader (parent) and a worker (child).

Two dedicated pipes, never stdout. A *message* is a 4-byte big-endian length followed by
that many bytes of UTF-8 JSON holding one object with an ``op``. A block's samples and
scores do not travel here but through the shared page (``handoff``), one at a time:

    parent -> child  {"op": "load", ...}             ("protocol": "generation", if so)
    child -> parent  {"op": "loaded", ...}
    parent -> child  {"op": "reset", "batch"}        (a generation model: B new sequences)
    child -> parent  {"op": "ready"}
    parent -> child  {"op": "block", "n", "batch", "noop", "block", "first", ...}
                     ... n / batch hand-overs through the page ...
    child -> parent  {"op": "done", "n"}
                     (an untimed block with "profile": true: its model's lines traced, and
                     "done" carries the "profile"; grader/child/profile.py)
    parent -> child  {"op": "exit"}
    child -> parent  {"op": "error", "code", "message"} at any point; then the child exits

A model speaks one of two protocols, named at load: a *classification* model is called on a
batch of samples and returns one row of scores per sample; a *generation* model keeps
``batch`` sequences from ``reset(batch)`` on, and each hand-over of a block is one step:
the batch's next tokens in, the scores of the token after each out
(docs/DESIGN.md, Trust boundaries).

This module is imported by the child, so it imports nothing of the grader and only the
standard library.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Sequence
from enum import Enum

LENGTH = struct.Struct("!I")
MAX_MESSAGE_BYTES = 64 * 1024


class Verdict(str, Enum):
    """Why a submission was rejected: a result's ``verdict.code``, and the ``code`` of the
    child's ``error`` message. Defined here, not in ``errors`` (which re-exports it), because
    the child imports nothing of the grader but this module. A ``str``, so it compares
    equal to its value and is written to JSON as it.
    """

    CONFIG_INVALID = "config_invalid"
    IMPORT_FORBIDDEN = "import_forbidden"
    SANDBOX_VIOLATION = "sandbox_violation"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    CRASHED = "crashed"
    BAD_OUTPUT = "bad_output"
    SCOPE_VIOLATION = "scope_violation"

    def __str__(self) -> str:  # the value, where a plain str-and-Enum gives Verdict.TIMEOUT
        return self.value


# The child's exit codes. The parent reads the verdict from the "error" message, never from
# these; it describes any other death by its code or signal.
CHILD_EXIT_OK, CHILD_EXIT_REPORTED, CHILD_EXIT_PROTOCOL = 0, 3, 4


# The models' protocols: what "load" names (classification when it names none).
CLASSIFICATION, GENERATION = "classification", "generation"
PROTOCOLS = (CLASSIFICATION, GENERATION)


class WireError(Exception):
    """The other side broke the protocol: a short read, an oversized or malformed message."""


def encode(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return LENGTH.pack(len(body)) + body


def decode(body: bytes) -> dict:
    try:
        message = json.loads(body.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"malformed message: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise WireError("malformed message: expected a JSON object with an 'op'")
    return message


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_exact(fd: int, n: int) -> bytes:
    buf = bytearray(n)
    readinto_exact(fd, memoryview(buf))
    return bytes(buf)


def readinto_exact(fd: int, view: memoryview) -> None:
    got = 0
    total = len(view)
    while got < total:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise WireError(f"pipe closed after {got} of {total} bytes")
        got += k


def send(fd: int, message: dict) -> None:
    write_all(fd, encode(message))


def receive(fd: int) -> dict:
    (length,) = LENGTH.unpack(read_exact(fd, LENGTH.size))
    if length > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
    return decode(read_exact(fd, length))


# -- the parent's requests: one builder each, for the real child's handle and the tests' fake --
def load_message(
    entrypoint_file: str,
    function: str,
    layout_shift: int,
    imports: dict | None,
    protocol: str = CLASSIFICATION,
) -> dict:
    """Build the model (``imports``: the rules the audit hook enforces, none if empty;
    ``protocol``: named only when it is not the default, classification)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown model protocol {protocol!r}; one of {PROTOCOLS}")
    return {
        "op": "load",
        "entrypoint_file": entrypoint_file,
        "function": function,
        "layout_shift": layout_shift,
        **({"imports": imports} if imports else {}),
        **({"protocol": protocol} if protocol != CLASSIFICATION else {}),
    }


def reset_message(batch: int) -> dict:
    """Start ``batch`` new sequences in a generation model (its ``reset(batch)``)."""
    return {"op": "reset", "batch": batch}


def block_message(n: int, batch: int, noop: bool, input_shape: Sequence[int], classes: int) -> dict:
    """Answer ``n`` samples handed over ``batch`` at a time (``noop``: with a model that
    answers zeros). For a generation model a sample is one token (``input_shape`` is
    ``()``), ``batch`` is the number of sequences and each hand-over is one step."""
    return {
        "op": "block",
        "n": n,
        "batch": batch,
        "noop": noop,
        "input_shape": list(input_shape),
        "classes": classes,
    }
