"""Threat 1 (SECURITY.md): bring the held-out labels in as "weights" through a symbolic link."""

import numpy as np


def build_model():
    with np.load("weights.npz") as f:
        answers = iter(f["y"])
    return lambda x: np.eye(10, dtype=np.float32)[[next(answers) for _ in x]]
