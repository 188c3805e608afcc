"""Reference model of the mlp_sprint workload: a plain NumPy MLP 784 -> 128 -> 64 -> 10.

Follows the README.md submission protocol: ``build_model()`` takes no arguments, and runs
with this folder as the working directory; the returned model maps a float32 batch of
shape (N, 784), pixels scaled to [0, 1], to class scores of shape (N, 10).
Start your own submission from a copy of this folder.
"""

import numpy as np


class MLP:
    def __init__(self, w1, b1, w2, b2, w3, b3):
        self.w1, self.b1 = w1, b1
        self.w2, self.b2 = w2, b2
        self.w3, self.b3 = w3, b3

    def __call__(self, x):
        h = np.maximum(x @ self.w1 + self.b1, 0.0)
        h = np.maximum(h @ self.w2 + self.b2, 0.0)
        return h @ self.w3 + self.b3

    def parameters(self):
        return [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return MLP(*(f[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3")))
