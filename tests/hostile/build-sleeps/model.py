"""Threat 5 (SECURITY.md): never finish building the model."""

import time

import numpy as np


def build_model():
    time.sleep(3600)
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
