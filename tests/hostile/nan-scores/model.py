"""Threat 4 (SECURITY.md): answer NaN, which no argmax should turn into a class."""

import numpy as np


def build_model():
    return lambda x: np.full((len(x), 10), np.nan, dtype=np.float32)
