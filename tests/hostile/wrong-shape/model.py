"""Return nine scores a sample instead of ten."""

import numpy as np


def build_model():
    return lambda x: np.zeros((len(x), 9), dtype=np.float32)
