"""mlp_sprint, optimized: int8 weights with per-channel scales, and a leaner forward pass.

Size: the weights are stored as int8 with one float32 scale per output channel (symmetric
quantization), about a quarter of the baseline's bytes; they are dequantized once, at load.
Speed: for one sample the MLP is bound by NumPy's per-call overhead, not by arithmetic, so
the forward pass multiplies a 1-D vector by pre-transposed, contiguous weights (a plain
matrix-vector product) and does the bias and ReLU in place, allocating nothing extra.
"""

import numpy as np


class LeanMLP:
    def __init__(self, layers):
        # (w transposed to (out, in), contiguous; b), float32
        self.layers = [(np.ascontiguousarray(w.T), b) for w, b in layers]

    def __call__(self, x):
        if x.shape[0] != 1:  # batches: the usual matrix product
            h = x
            for i, (wt, b) in enumerate(self.layers):
                h = h @ wt.T + b
                if i < len(self.layers) - 1:
                    np.maximum(h, 0.0, out=h)
            return h
        (w1, b1), (w2, b2), (w3, b3) = self.layers
        h = w1.dot(x[0])
        h += b1
        np.maximum(h, 0.0, out=h)
        g = w2.dot(h)
        g += b2
        np.maximum(g, 0.0, out=g)
        o = w3.dot(g)
        o += b3
        return o[None]

    def parameters(self):
        return [a for layer in self.layers for a in layer]


def build_model():
    with np.load("weights_int8.npz", allow_pickle=False) as f:
        layers = []
        for i in (1, 2, 3):
            q, scale, b = f[f"q{i}"], f[f"scale{i}"], f[f"b{i}"]
            layers.append(((q.astype(np.float32) * scale).astype(np.float32), b))
    return LeanMLP(layers)
