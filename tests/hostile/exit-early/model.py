"""Threat 5 (SECURITY.md): leave in the middle of the measurement with status 0."""

import os

import numpy as np

calls = [0]


def forward(x):
    calls[0] += 1
    if calls[0] == 40:
        os._exit(0)
    return np.zeros((len(x), 10), dtype=np.float32)


def build_model():
    return forward
