"""Threat 5 (SECURITY.md): spin forever inside forward, after answering the first few calls."""

import numpy as np

calls = [0]


def forward(x):
    calls[0] += 1
    while calls[0] > 50:
        pass
    return np.zeros((len(x), 10), dtype=np.float32)


def build_model():
    return forward
