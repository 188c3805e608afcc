"""Threat 1 (SECURITY.md): read another team's weights."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


def build_model():
    with np.load(os.path.join(ROOT, "submissions", "example-int8", "weights_int8.npz")) as f:
        stolen = {k: f[k] for k in f.files}
    return lambda x: np.zeros((len(x), 10), dtype=np.float32) + len(stolen)
