"""Threat 7 (SECURITY.md): overwrite another team's model."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


def build_model():
    victim = os.path.join(ROOT, "submissions", "example-int8", "model.py")
    with open(victim, "w") as f:
        f.write("raise SystemExit(1)\n")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
