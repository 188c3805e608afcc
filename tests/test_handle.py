"""``grader.sandbox.handle.Child`` speaks the worker's messages: what it writes to the pipe
is, byte for byte, what ``grader/child/worker.py`` reads, and what comes back is checked
(docs/DESIGN.md, Trust boundaries). No worker here: the child's end of each pipe is the
test's, and the process is a sleeping interpreter in a session of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.child import handoff, wire
from grader.errors import ChildFailure
from grader.sandbox.channel import Channel
from grader.sandbox.handle import Child


@pytest.fixture
def ends(tmp_path: Path) -> Iterator[tuple[Child, int, int]]:
    """A child whose pipes end in the test: (the child, what it was sent, what it says)."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    os.set_blocking(to_child_w, False)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    proc = subprocess.Popen(sleeper, start_new_session=True)
    page_fd = handoff.create(handoff.page_bytes(1, 16 * 4, 10 * 4))
    log = tmp_path / "log" / "submission.log"
    log.parent.mkdir()
    child = Child(
        "submission",
        proc,
        Channel("submission", to_child_w, from_child_r),
        log,
        handoff.Page(page_fd),
    )
    os.close(page_fd)
    try:
        yield child, to_child_r, from_child_w
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        child.channel.close()
        child.page.close()
        for fd in (to_child_r, from_child_w):
            os.close(fd)


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        pytest.param(
            {"allowed": ["numpy"]},
            {
                "op": "load",
                "entrypoint_file": "model.py",
                "function": "build_model",
                "layout_shift": 48,
                "imports": {"allowed": ["numpy"]},
            },
            id="with-imports",
        ),
        pytest.param(
            None,
            {
                "op": "load",
                "entrypoint_file": "model.py",
                "function": "build_model",
                "layout_shift": 48,
            },
            id="without",
        ),
    ],
)
def test_load_sends_the_workers_load_message(ends, imports, expected) -> None:
    child, sent, says = ends
    wire.send(says, {"op": "loaded"})
    child.load("model.py", "build_model", 48, imports, timeout=5.0)
    assert os.read(sent, 1 << 16) == wire.encode(expected)
    assert not child.killed


def test_a_loaded_message_with_anything_more_ends_the_child(ends) -> None:
    child, _, says = ends
    wire.send(says, {"op": "loaded", "parameters": 1})
    with pytest.raises(ChildFailure) as raised:
        child.load("model.py", "build_model", 0, None, timeout=5.0)
    assert (raised.value.code, raised.value.who) == ("bad_output", "submission")
    assert "malformed 'loaded' message" in raised.value.message
    assert child.killed
    assert child.proc.wait(5.0) == -signal.SIGKILL


def test_time_block_sends_the_workers_block_message(ends) -> None:
    """The block's message, then the hand-over: a child that never says it is ready
    is ended with ``timeout`` once the block's time is up."""
    child, sent, _ = ends
    inputs = np.zeros((3, 16), dtype=np.float32)
    with pytest.raises(ChildFailure) as raised:
        child.time_block(inputs, 1, False, (16,), 10, timeout=0.2)
    assert raised.value.code == "timeout"
    assert os.read(sent, 1 << 16) == wire.encode(
        {
            "op": "block",
            "n": 3,
            "batch": 1,
            "noop": False,
            "input_shape": [16],
            "classes": 10,
            "block": 1,
            "first": 0,
        }
    )
    assert child.killed


def test_a_generation_load_names_its_protocol_and_reset_waits_for_ready(ends) -> None:
    """The load message gains ``"protocol": "generation"`` (a classification load's bytes
    stay as above); ``reset`` sends the batch and takes "ready"."""
    child, sent, says = ends
    wire.send(says, {"op": "loaded"})
    child.load("model.py", "build_model", 48, None, timeout=5.0, protocol="generation")
    wire.send(says, {"op": "ready"})
    child.reset(4, timeout=5.0)
    assert os.read(sent, 1 << 16) == wire.encode(
        {
            "op": "load",
            "entrypoint_file": "model.py",
            "function": "build_model",
            "layout_shift": 48,
            "protocol": "generation",
        }
    ) + wire.encode({"op": "reset", "batch": 4})
    assert (child.protocol, child.sequences, child.killed) == ("generation", 4, False)


def test_a_ready_message_with_anything_more_ends_the_child(ends) -> None:
    child, _, says = ends
    wire.send(says, {"op": "loaded"})
    child.load("model.py", "build_model", 0, None, timeout=5.0, protocol="generation")
    wire.send(says, {"op": "ready", "batch": 4})
    with pytest.raises(ChildFailure) as raised:
        child.reset(4, timeout=5.0)
    assert (raised.value.code, raised.value.who) == ("bad_output", "submission")
    assert "malformed 'ready' message" in raised.value.message
    assert child.killed
    assert child.proc.wait(5.0) == -signal.SIGKILL


def test_a_classification_model_is_never_sent_a_reset(ends) -> None:
    child, sent, says = ends
    wire.send(says, {"op": "loaded"})
    child.load("model.py", "build_model", 0, None, timeout=5.0)
    os.read(sent, 1 << 16)
    with pytest.raises(ValueError, match="classification"):
        child.reset(2, timeout=5.0)
    os.set_blocking(sent, False)
    with pytest.raises(BlockingIOError):
        os.read(sent, 1 << 16)  # nothing was sent


def test_a_generation_block_sends_one_token_a_sample_and_batch_sequences(ends) -> None:
    """Three steps of two sequences: six samples of shape (), handed over two at a time."""
    child, sent, says = ends
    wire.send(says, {"op": "loaded"})
    child.load("model.py", "build_model", 0, None, timeout=5.0, protocol="generation")
    wire.send(says, {"op": "ready"})
    child.reset(2, timeout=5.0)
    os.read(sent, 1 << 16)
    with pytest.raises(ChildFailure) as raised:
        child.time_block(np.zeros((3, 2), np.int64), 2, False, (), 10, timeout=0.2)
    assert raised.value.code == "timeout"
    assert os.read(sent, 1 << 16) == wire.encode(
        {
            "op": "block",
            "n": 6,
            "batch": 2,
            "noop": False,
            "input_shape": [],
            "classes": 10,
            "block": 1,
            "first": 0,
        }
    )
