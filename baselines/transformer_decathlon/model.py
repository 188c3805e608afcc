"""Reference model of the transformer_decathlon workload: a tiny vision transformer in NumPy.

Follows the README.md submission protocol: ``build_model()`` takes no arguments, and runs
with this folder as the working directory; the returned model maps a float32 batch of
shape (N, 1, 28, 28), pixels scaled to [0, 1], to class scores of shape (N, 10).
Start your own submission from a copy of this folder.

The forward pass, for a batch of N images:

1. pad each image to 32x32 (two pixels of zeros each side) and cut it into 8x8 = 64
   patches of 4x4 pixels, row by row: 64 tokens of 16 values each;
2. patch embedding (a linear layer 16 -> 32) plus a learned position embedding (64 x 32);
3. two pre-norm transformer blocks, each
       x = x + attention(layernorm(x))   # 4 heads of size 8, softmax over the 64 tokens
       x = x + mlp(layernorm(x))         # 32 -> 64 -> 32, ReLU
   (the key projection has no bias: it would add the same amount to every score of a
   query, which the softmax ignores);
4. a final layer norm, the mean over the 64 tokens and a linear classifier 32 -> 10.
"""

import numpy as np

PATCH = 4  # pixels per patch side
HEADS = 4
EPS = np.float32(1e-5)  # layer norm
# A block's arrays, in the order of Block's arguments; weights.npz names them b0_wq, b1_wq, ...
BLOCK_KEYS = ("ln1_g", "ln1_b", "wq", "bq", "wk", "wv", "bv", "wo", "bo",
              "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")  # fmt: skip


def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * g + b


def softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Block:
    """One pre-norm transformer block: multi-head self-attention, then an MLP."""

    def __init__(self, ln1_g, ln1_b, wq, bq, wk, wv, bv, wo, bo, ln2_g, ln2_b, w1, b1, w2, b2):
        self.ln1_g, self.ln1_b = ln1_g, ln1_b
        self.wq, self.bq, self.wk, self.wv, self.bv = wq, bq, wk, wv, bv
        self.wo, self.bo = wo, bo
        self.ln2_g, self.ln2_b = ln2_g, ln2_b
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2

    def attention(self, h):
        n, t, d = h.shape  # batch, tokens, width
        hd = d // HEADS  # width of one head

        def heads(z):  # (N, T, D) -> (N, HEADS, T, hd)
            return z.reshape(n, t, HEADS, hd).transpose(0, 2, 1, 3)

        q = heads(h @ self.wq + self.bq)
        k = heads(h @ self.wk)
        v = heads(h @ self.wv + self.bv)
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(hd))  # (N, H, T, T)
        o = softmax(scores) @ v  # (N, H, T, hd)
        o = o.transpose(0, 2, 1, 3).reshape(n, t, d)  # heads side by side again
        return o @ self.wo + self.bo

    def __call__(self, x):
        x = x + self.attention(layernorm(x, self.ln1_g, self.ln1_b))
        h = np.maximum(layernorm(x, self.ln2_g, self.ln2_b) @ self.w1 + self.b1, 0.0)
        return x + h @ self.w2 + self.b2

    def parameters(self):
        return [getattr(self, name) for name in BLOCK_KEYS]


class TinyViT:
    """Patch embedding, transformer blocks, final layer norm, mean pooling, classifier."""

    def __init__(self, patch_w, patch_b, pos, blocks, ln_g, ln_b, head_w, head_b):
        self.patch_w, self.patch_b, self.pos = patch_w, patch_b, pos
        self.blocks = blocks
        self.ln_g, self.ln_b = ln_g, ln_b
        self.head_w, self.head_b = head_w, head_b

    @staticmethod
    def patchify(x):
        """(N, 1, 28, 28) -> (N, 64, 16): pad to 32x32, then 4x4 patches row by row."""
        n = len(x)
        g = 32 // PATCH  # patches per side
        img = np.pad(x.reshape(n, 28, 28), ((0, 0), (2, 2), (2, 2)))
        return img.reshape(n, g, PATCH, g, PATCH).transpose(0, 1, 3, 2, 4).reshape(n, g * g, -1)

    def __call__(self, x):
        x = self.patchify(x) @ self.patch_w + self.patch_b + self.pos  # (N, 64, D)
        for block in self.blocks:
            x = block(x)
        x = layernorm(x, self.ln_g, self.ln_b).mean(axis=1)  # (N, D)
        return x @ self.head_w + self.head_b

    def parameters(self):
        inner = [p for block in self.blocks for p in block.parameters()]
        return [self.patch_w, self.patch_b, self.pos, *inner,
                self.ln_g, self.ln_b, self.head_w, self.head_b]  # fmt: skip


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        depth = len([k for k in f.files if k.endswith("_wq")])
        blocks = [Block(*(f[f"b{i}_{k}"] for k in BLOCK_KEYS)) for i in range(depth)]
        return TinyViT(f["patch_w"], f["patch_b"], f["pos"], blocks,
                       f["ln_g"], f["ln_b"], f["head_w"], f["head_b"])  # fmt: skip
