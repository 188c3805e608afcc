"""Threat 2 (SECURITY.md): replace the worker's timed loop with one that batches the block."""

import sys

import numpy as np


def batched(*args, **kwargs):
    raise RuntimeError("the replaced loop ran")


def build_model():
    sys.modules["grader.child.worker"].run_block = batched
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
