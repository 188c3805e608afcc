"""Threat 7 (SECURITY.md): change leaderboard.md from the grader's runner."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


def build_model():
    with open(os.path.join(ROOT, "leaderboard.md"), "a") as f:
        f.write("| 1 | hostile | 1000x |\n")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
