"""Threat 6 (SECURITY.md): run code through the weights: an object array whose pickle calls os.system."""

import numpy as np


def build_model():
    weights = np.load("weights.npy", allow_pickle=True)
    return lambda x: np.zeros((len(x), 10), dtype=np.float32) + weights.size
