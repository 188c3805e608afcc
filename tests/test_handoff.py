"""The hand-over page (``grader/child/handoff.py``) on its own: what the child can and cannot do
to the memory it shares with the grader. The protocol itself is exercised by every real
grade (``tests/test_grades.py``: nothing ahead in the pipe or the page, counters checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest

from grader.child import handoff

SHRINK = """\
import os, sys
fd = int(sys.argv[1])
try:
    os.ftruncate(fd, 0)
except PermissionError:
    print("refused")
else:
    print("shrunk")
"""


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd seals are Linux's")
def test_a_child_holding_the_page_cannot_shrink_it_under_the_grader() -> None:
    """Shrinking the file under the parent's mapping would end the parent with SIGBUS at
    its next write: the kernel's seal refuses it, with no audit hook and no seccomp."""
    size = handoff.page_bytes(32, 784 * 4, 40)
    fd = handoff.create(size)
    try:
        page = handoff.Page(fd)
        out = subprocess.run(
            [sys.executable, "-c", SHRINK, str(fd)],
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert out == "refused"
        assert os.fstat(fd).st_size == size
        x, answer = page.slots(32, (784,), 10)
        x[:] = 1.0  # the parent's writes still land
        assert float(x.sum()) == 32 * 784
        del x, answer
        page.close()
    finally:
        os.close(fd)


def test_a_batch_larger_than_the_page_is_refused() -> None:
    fd = handoff.create(handoff.page_bytes(4, 16 * 4, 40))
    try:
        page = handoff.Page(fd)
        x, _ = page.slots(4, (16,), 10)
        assert x.shape == (4, 16) and x.dtype == np.float32
        del x
        with pytest.raises(ValueError, match="does not fit"):
            page.slots(4096, (16,), 10)
        page.close()
    finally:
        os.close(fd)


def test_the_counters_do_not_share_a_cache_line_with_each_other_or_the_samples() -> None:
    offsets = [i * 8 for i in (handoff.RELEASED, handoff.ANSWERED, handoff.READY)]
    lines = {o // handoff.LINE for o in offsets}
    assert len(lines) == 3
    assert handoff.HEADER % handoff.LINE == 0 and max(offsets) < handoff.HEADER


class Answer(np.ndarray):
    """Scores whose finaliser notes whether the grader had already been told they were in."""

    seen: ClassVar[list[int]] = []
    words: ClassVar[np.ndarray | None] = None

    def __del__(self) -> None:
        if Answer.words is not None:
            Answer.seen.append(int(Answer.words[handoff.ANSWERED]))


def test_the_answer_is_dropped_before_it_is_acknowledged() -> None:
    """Whatever the model's returned objects do as they go (a ``__del__``) runs before the
    answer is acknowledged, so on the clock, even after a block's last sample."""
    from grader.child import worker

    fd = handoff.create(handoff.page_bytes(1, 16 * 4, 40))
    try:
        page = handoff.Page(fd)
        page.words[handoff.RELEASED] = 1  # the grader's release of the block's one sample
        Answer.words, Answer.seen = page.words, []

        def model(x: np.ndarray) -> np.ndarray:
            return np.zeros((1, 10), dtype=np.float32).view(Answer)

        worker.run_block(page, model, 1, 1, (16,), 10, 0)
        assert page.words[handoff.ANSWERED] == 1  # answered…
        assert Answer.seen == [0]  # …after the answer had been dropped
        Answer.words = None
        page.close()
    finally:
        os.close(fd)


def test_an_answer_that_lands_while_the_pipe_is_checked_is_not_a_verdict(monkeypatch) -> None:
    """The parent reads the counter (not yet answered), yields, then finds the pipe
    readable: the child answered the last sample meanwhile and sent its ordinary 'done'.
    That is the block's end, not a child speaking in the middle of one (taking it for one
    rejected 1 honest grade in 6)."""
    from types import SimpleNamespace

    from grader.sandbox import channel, handle

    class Words:
        answered = False

        def __getitem__(self, index: int) -> int:
            return 7 if self.answered else 6

    words = Words()

    def select(readers, writers, errors, timeout):
        words.answered = True  # the answer landed, and 'done' is in the pipe
        return readers, [], []

    monkeypatch.setattr(channel.select, "select", select)
    read, write = os.pipe()
    os.write(write, b"done")
    child = handle.Child.__new__(handle.Child)
    child.page = SimpleNamespace(words=words)
    child.channel = channel.Channel("submission", write, read)
    child.name = "submission"
    child.kill = lambda: None
    try:
        handle.await_counter(child, handoff.ANSWERED, 7, 6, deadline=float("inf"))  # answered
        assert os.read(read, 4) == b"done"  # left for the caller, who reads the reply
    finally:
        os.close(read)
        os.close(write)
