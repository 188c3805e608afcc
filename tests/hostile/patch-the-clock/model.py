"""Threat 2 (SECURITY.md): make the clock stand still by patching time.perf_counter."""

import time

import numpy as np


def build_model():
    frozen = time.perf_counter()
    time.perf_counter = lambda: frozen
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
