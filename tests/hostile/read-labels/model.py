"""Threat 1 (SECURITY.md): read the held-out labels and answer from them."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


def build_model():
    with np.load(os.path.join(ROOT, "data", "digits", "test.npz")) as f:
        labels = f["y"]
    answers = iter(labels)
    return lambda x: np.eye(10, dtype=np.float32)[[next(answers) for _ in x]]
