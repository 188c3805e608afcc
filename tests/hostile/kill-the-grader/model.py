"""Threats 2 and 5 (SECURITY.md): kill the grader's process (its parent)."""

import os

import numpy as np


def build_model():
    os.kill(os.getppid(), 9)
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
