"""Threat 4 (SECURITY.md): keep every answer and look repeated digits up.

Every presentation after the first carries noise below one grey level, which rounding to
the 8-bit grid undoes: a dict keyed on the rounded image hits every time. (The network is
a fixed random one, made slow on purpose so that the lookup pays; it sees the rounded
image, so that a digit's answer never depends on the noise: only the caching check can
catch it, not the agreement of its answers.)
"""

import numpy as np

P = np.random.default_rng(0).standard_normal((784, 256)).astype(np.float32)
Q = np.random.default_rng(1).standard_normal((256, 10)).astype(np.float32)
cache = {}


def network(x):
    h = np.rint(x * 255) / 255
    for _ in range(4):
        h = np.tanh(h @ P) @ P.T / 256
    return np.maximum(h @ P, 0.0) @ Q


def forward(x):
    if len(x) > 1:
        return network(x)
    key = np.rint(x * 255).astype(np.uint8).tobytes()
    if key not in cache:
        cache[key] = network(x)
    return cache[key]


def build_model():
    return forward
