"""Reference model of the cnn_marathon workload: a small plain NumPy CNN on 28x28 digits.

    conv 3x3 (1 -> 8) -> ReLU -> max-pool 2 -> conv 3x3 (8 -> 16) -> ReLU -> max-pool 2
    -> flatten (7 * 7 * 16 = 784) -> dense 784 -> 10

Follows the README.md submission protocol: ``build_model()`` takes no arguments, and runs
with this folder as the working directory; the returned model maps a float32 batch of
shape (N, 1, 28, 28), pixels scaled to [0, 1], to class scores of shape (N, 10).
Start your own submission from a copy of this folder.

Inside, activations are channels-last (N, H, W, C); the convolution kernels are stored as
(3, 3, C_in, C_out) and the dense layer reads the pooled map flattened in (H, W, C) order.
"""

import numpy as np


def conv3x3(x, w, b):
    """Zero-padded ("same") 3x3 convolution by im2col: (N, H, W, C_in) -> (N, H, W, C_out).

    Each output pixel's 3x3 x C_in neighbourhood becomes one row of a matrix, so the whole
    convolution is one matrix product with the kernels flattened to (9 * C_in, C_out).
    """
    n, h, wd, c = x.shape
    padded = np.zeros((n, h + 2, wd + 2, c), dtype=x.dtype)
    padded[:, 1:-1, 1:-1, :] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, H, W, 3, 3, C_in), like the kernels
    cols = windows.reshape(n * h * wd, 9 * c)
    out = cols @ w.reshape(9 * c, -1) + b
    return out.reshape(n, h, wd, -1)


def maxpool2(x):
    """2x2 max-pooling with stride 2: (N, H, W, C) -> (N, H / 2, W / 2, C).

    The larger of the four pixels of each 2x2 block, taken as four strided views.
    """
    top = np.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2])
    bottom = np.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2])
    return np.maximum(top, bottom)


class CNN:
    def __init__(self, w1, b1, w2, b2, w3, b3):
        self.w1, self.b1 = w1, b1  # conv 1: (3, 3, 1, 8), (8,)
        self.w2, self.b2 = w2, b2  # conv 2: (3, 3, 8, 16), (16,)
        self.w3, self.b3 = w3, b3  # dense: (784, 10), (10,)

    def __call__(self, x):
        h = x.transpose(0, 2, 3, 1)  # (N, 1, 28, 28) -> channels last (N, 28, 28, 1)
        h = maxpool2(np.maximum(conv3x3(h, self.w1, self.b1), 0.0))  # (N, 14, 14, 8)
        h = maxpool2(np.maximum(conv3x3(h, self.w2, self.b2), 0.0))  # (N, 7, 7, 16)
        return h.reshape(len(h), -1) @ self.w3 + self.b3

    def parameters(self):
        return [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return CNN(*(f[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3")))
