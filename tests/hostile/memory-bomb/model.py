"""SPEC §5.5: allocate far beyond the memory limit, a little at a time."""

import numpy as np


def build_model():
    hoard = []
    while True:
        hoard.append(np.ones(64 * 1024 * 1024, dtype=np.uint8))
