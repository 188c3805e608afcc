"""Threat 4 (SECURITY.md): a thread started while the model is built, gone before the grader counts.

``sys.modules["_thread"]`` hands the module over without an import (no audit event before
Python 3.13). This thread looks for a second core to work on (the child has one, so it
returns) and has ended before ``build_model`` does: every count of the child's threads in
/proc came after it, and found one. The thread starters are now replaced in the child, so
the start itself ends the child, whatever the thread would have done.
"""

import os
import sys
import time

import numpy as np

W = np.random.default_rng(0).standard_normal((784, 10)).astype(np.float32)
_thread = sys.modules["_thread"]
done = _thread.allocate_lock()
found = []


def look_for_a_core():
    found.append(len(os.sched_getaffinity(0)))  # one here: nothing to do off the clock
    done.release()


def build_model():
    done.acquire()
    _thread.start_new_thread(look_for_a_core, ())
    done.acquire()  # the thread has returned
    time.sleep(0.05)  # and is gone from /proc before the grader first counts
    return lambda x: x.reshape(len(x), -1) @ W
