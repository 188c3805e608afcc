"""Threat 4 (SECURITY.md): a thread that lives only between two blocks of the submission's own.

``threading`` and ``_thread`` are forbidden imports, but the interpreter has loaded
``_thread`` already, and ``sys.modules`` hands it over without an import (no audit event
before Python 3.13). The grader counted the child's threads only before the baseline's
blocks; the submission's first probe block is followed by its second, so a thread started
in the first call and ended in the first call of the second block (the probes are 32
digits each) was alive only where nothing counted, and would work there off the clock.
Now the thread starters are replaced (the start is refused), and the count runs before
every block of either child (tests/test_referee.py checks the count on its own).
"""

import sys
import time

import numpy as np

W = np.random.default_rng(0).standard_normal((784, 10)).astype(np.float32)
_thread = sys.modules["_thread"]
held = _thread.allocate_lock()
calls = [0]


def between_blocks():
    held.acquire()  # until the second block's first call: off the clock meanwhile


def build_model():
    def forward(x):
        calls[0] += 1
        if calls[0] == 1:
            held.acquire()
            _thread.start_new_thread(between_blocks, ())
        elif calls[0] == 33:
            held.release()
            time.sleep(0.01)  # the thread ends here, inside a timed block
        return x.reshape(len(x), -1) @ W

    return forward
