"""Threat 4 (SECURITY.md): compute the scored digits, guess at new noisy ones, and keep every answer.

A lazy cache. A clean digit (on the 8-bit grid) is taken for one the accuracy is counted
on: it gets the full network, and its answer is kept. A noisy digit already met is looked
up (rounding undoes the noise). A noisy digit not met yet, which only a new process sees,
gets a cheap guess (half the network: it agrees with the full one on about four digits in
five), kept too, so that every later answer to it agrees with the guess. Fast everywhere
after the first pass, and consistent with itself: the caching check alone sees a gain of
1.04 and the agreement of repeats 98 %; the first answers of new processes, checked
against the first pass (docs/DESIGN.md, Answer checks), give it away.
"""

import numpy as np

P = np.random.default_rng(0).standard_normal((784, 256)).astype(np.float32)
Q = np.random.default_rng(1).standard_normal((256, 10)).astype(np.float32)
kept = {}


def network(x, depth):
    h = x
    for _ in range(depth):
        h = np.tanh(h @ P) @ P.T / 256
    return np.maximum(h @ P, 0.0) @ Q


def forward(x):
    if len(x) > 1:
        return network(x, 4)
    grey = x * 255
    key = np.rint(grey).astype(np.uint8).tobytes()
    if key not in kept:
        clean = np.abs(grey - np.rint(grey)).max() < 1e-3
        kept[key] = network(x, 4 if clean else 2)
    return kept[key]


def build_model():
    return forward
