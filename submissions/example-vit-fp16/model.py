"""transformer_decathlon, optimized: the baseline's ViT with float16 weights, leaner forward.

- Weights are stored as float16 (convert.py) and cast to float32 once, here at load.
- One 32 -> 100 matrix per block gives q, k and v of all heads: q | k | v fused at conversion;
  at load each head's v gets a 9th output (weight 0, bias 1), so v @ exp(scores) also gives
  the softmax denominators, which then divide 8 values per query instead of 64. The layer
  norms' gain and shift are folded into the next matrix, the 1/sqrt(8) scale into q.
- Activations are laid out (width, tokens): every head is a contiguous slice, every reshape a
  view. Layer-norm means are matrix-vector products.
- exp(scores) needs no shift by the maximum when |scores| < 80: layer-norm outputs have norm
  <= sqrt(32), so the weights bound the scores (about 26 here); checked at load.
- Patches come from one np.take with a precomputed index (padding zeroed by a mask); the
  position embedding and the patch bias are one array.
Batches (N > 1) run the same code with a leading batch axis.
"""

import numpy as np

WIDTH, HEADS, HEAD, TOKENS = 32, 4, 8, 64
EPS = np.float32(1e-5)
BLOCK_KEYS = ("ln1_g", "ln1_b", "wqkv", "bqkv", "wo", "bo",
              "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")  # fmt: skip
MEAN = np.full(WIDTH, 1 / WIDTH, dtype=np.float32)


def patch_index():
    """(16, 64): each patch's pixels in the flat 28x28 image (pad 2, 4x4 patches); padding mask."""
    grid = (np.arange(32) - 2).reshape(8, 4)  # padded rows, by patch
    rows, cols = np.broadcast_arrays(grid[:, None, :, None], grid[None, :, None, :])
    inside = (rows >= 0) & (rows < 28) & (cols >= 0) & (cols < 28)
    index = np.where(inside, rows * 28 + cols, 0).reshape(TOKENS, 16).T
    return np.ascontiguousarray(index), np.ascontiguousarray(inside.reshape(TOKENS, 16).T, "f4")


def normalize(x):
    """Layer norm over the width (axis -2) of x (..., 32, tokens), without gain and shift."""
    xc = x - (MEAN @ x)[..., None, :]
    std = MEAN @ np.square(xc)
    std += EPS
    np.sqrt(std, out=std)
    xc /= std[..., None, :]
    return xc


def folded(gain, shift, w, b):
    """layernorm(x) @ w + b as w' @ normalize(x) + b', with w' (out, in) and b' (out, 1)."""
    return np.ascontiguousarray((gain[:, None] * w).T), (shift @ w + b)[:, None]


class Block:
    """A pre-norm transformer block on activations (..., width, tokens)."""

    def __init__(self, ln1_g, ln1_b, wqkv, bqkv, wo, bo, ln2_g, ln2_b, w1, b1, w2, b2):
        scale = np.float32(HEAD**-0.5)
        wq, wk, wv = np.split(wqkv, 3, axis=1)
        bq, bk, bv = np.split(bqkv, 3)
        wv = np.insert(wv.reshape(WIDTH, HEADS, HEAD), HEAD, 0, axis=2)  # append a 0 weight
        bv = np.insert(bv.reshape(HEADS, HEAD), HEAD, 1, axis=1)  # and a bias 1, a head
        w = np.hstack([wq * scale, wk, wv.reshape(WIDTH, -1)])
        b = np.concatenate([bq * scale, bk, bv.ravel()])
        self.wqkv, self.bqkv = folded(ln1_g, ln1_b, w, b)  # (100, 32), (100, 1)
        self.shift = score_bound(self.wqkv, self.bqkv) >= 80  # else exp(scores) is safe
        self.wo, self.bo = np.ascontiguousarray(wo.T), bo[:, None]
        self.w1, self.b1 = folded(ln2_g, ln2_b, w1, b1)
        self.w2, self.b2 = np.ascontiguousarray(w2.T), b2[:, None]

    def __call__(self, x):
        lead = x.shape[:-2]
        qkv = self.wqkv @ normalize(x)
        qkv += self.bqkv
        q, k, v = np.split(qkv, [WIDTH, 2 * WIDTH], axis=-2)
        q = q.reshape(*lead, HEADS, HEAD, TOKENS)
        k = k.reshape(*lead, HEADS, HEAD, TOKENS)
        v = v.reshape(*lead, HEADS, HEAD + 1, TOKENS)  # the last row is ones
        e = np.swapaxes(k, -1, -2) @ q  # scores (..., heads, keys, queries)
        if self.shift:
            e -= e.max(axis=-2, keepdims=True)
        np.exp(e, out=e)
        o = v @ e  # (..., heads, 9, queries): outputs, then the softmax denominators
        o = o[..., :HEAD, :] / o[..., HEAD:, :]
        x = x + self.wo @ o.reshape(*lead, WIDTH, TOKENS)
        x += self.bo
        h = self.w1 @ normalize(x)
        h += self.b1
        np.maximum(h, 0, out=h)
        x += self.w2 @ h
        x += self.b2
        return x

    def parameters(self):
        return [self.wqkv, self.bqkv, self.wo, self.bo, self.w1, self.b1, self.w2, self.b2]


def score_bound(w, b):
    """max |q . k| over all inputs of norm <= sqrt(32), from the q and k rows of w and b."""
    n = [
        np.linalg.norm(w[i : i + HEAD], 2) * WIDTH**0.5 + np.linalg.norm(b[i : i + HEAD])
        for i in range(0, 2 * WIDTH, HEAD)
    ]
    return max(q * k for q, k in zip(n[:HEADS], n[HEADS:], strict=True))


class FastViT:
    """Patch embedding, transformer blocks, final layer norm, mean pooling, classifier."""

    def __init__(self, w, blocks):
        self.index, self.mask = patch_index()
        self.patch_w = np.ascontiguousarray(w["patch_w"].T)  # (32, 16)
        self.embed_b = np.ascontiguousarray((w["pos"] + w["patch_b"]).T)  # (32, 64)
        self.blocks = blocks
        head_w, head_b = folded(w["ln_g"], w["ln_b"], w["head_w"], w["head_b"])
        self.head_w, self.head_b = head_w.T, head_b[:, 0]  # (32, 10), (10,)
        self.pool = np.full(TOKENS, 1 / TOKENS, dtype=np.float32)  # mean over the tokens

    def __call__(self, x):
        n = len(x)
        patches = np.take(x.reshape(-1) if n == 1 else x.reshape(n, -1), self.index, axis=-1)
        patches *= self.mask
        h = self.patch_w @ patches  # (..., 32, 64)
        h += self.embed_b
        for block in self.blocks:
            h = block(h)
        out = (normalize(h) @ self.pool) @ self.head_w
        out += self.head_b
        return out.reshape(n, -1)

    def parameters(self):
        inner = [p for block in self.blocks for p in block.parameters()]
        return [self.patch_w, self.embed_b, *inner, self.head_w, self.head_b]


def build_model():
    with np.load("weights_fp16.npz", allow_pickle=False) as f:
        w = {k: f[k].astype(np.float32) for k in f.files}  # float16 -> float32, once
    blocks = [Block(*(w[k][i] for k in BLOCK_KEYS)) for i in range(len(w["wqkv"]))]
    return FastViT(w, blocks)
