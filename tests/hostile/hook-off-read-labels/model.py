"""Threat 1 (SECURITY.md): disarm the audit hook, then read the labels."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))

def switch_off_the_audit_hook():
    """Reach the Guard through the garbage collector and disarm it: from here on, only
    the operating-system layers stand."""
    import gc

    for obj in gc.get_objects():
        if type(obj).__name__ == "Guard":
            obj.busy = True


def build_model():
    switch_off_the_audit_hook()
    with np.load(os.path.join(ROOT, "data", "digits", "test.npz")) as f:
        labels = f["y"]
    answers = iter(labels)
    return lambda x: np.eye(10, dtype=np.float32)[[next(answers) for _ in x]]
