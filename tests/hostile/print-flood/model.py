"""Threat 5 (SECURITY.md): flood the log from every call."""

import numpy as np


def forward(x):
    print("x" * 100_000)
    return np.zeros((len(x), 10), dtype=np.float32)


def build_model():
    return forward
