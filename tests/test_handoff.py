"""The hand-over page (``grader/handoff.py``) on its own: what the child can and cannot do
to the memory it shares with the grader. The protocol itself is exercised by every real
grade (``tests/test_harness.py``: nothing ahead in the pipe or the page, counters checked)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from grader import handoff

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
