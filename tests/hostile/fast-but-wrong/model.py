"""Threat 4: answer honestly only the pass that accuracy might be counted on.

Every presentation carries noise below half a grey level, the first pass's too, so no pass
can be told by its pixels; this model takes a digit's first presentation in its process
for the scored one (rounding undoes the noise, so it knows a digit again), runs its network
there and answers every later presentation at once, wrongly. (The network is a fixed
random projection: what matters is that it is the same every call.)
"""

import numpy as np

P = np.random.default_rng(0).standard_normal((784, 64)).astype(np.float32)
Q = np.random.default_rng(1).standard_normal((64, 10)).astype(np.float32)


def mlp(x):
    return np.maximum(x @ P, 0.0) @ Q


met = set()


def forward(x):
    key = np.rint(x * 255).astype(np.uint8).tobytes()
    if key not in met:
        met.add(key)
        return mlp(x)
    return np.zeros((len(x), 10), dtype=np.float32)


def build_model():
    return forward
