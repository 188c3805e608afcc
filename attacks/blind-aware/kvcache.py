"""The tinytalks baseline's GPT with a KV cache: the same architecture and the same weights
(weights.npz is a byte-for-byte copy of baselines/tinytalks/weights.npz); each step computes
one position instead of the whole prefix (README.md).

    m = build_model()
    m.reset(batch)              # start `batch` new, empty sequences; empties the caches
    scores = m.step(tokens)     # tokens: int ids (batch,); scores: float32 (batch, 69)

A step embeds the new token at its position and, in each block, computes the query, key
and value of that position only (one fused matmul), writes the key and value into the
block's cache, attends over the cached keys (the past and itself: the baseline's causal
mask by construction), and returns that position's scores. The arithmetic is the
baseline's in float32: layer norm with eps 1e-5, scores (q . k) / sqrt(16) before a
max-shifted softmax, the key projection without bias, the tied head (the token embedding
transposed) plus its bias. Rearranged at load (the layer norms' gains and biases and the
attention's scale folded into the matmuls after them, q/k/v fused), it rounds differently:
the scores stay within 1e-5 of the baseline's (README.md; the tests ask 1e-4).

Past ``context`` tokens the baseline keeps the last ``context`` and recomputes them at
positions 0..context-1: every position shifts, so every cached key and value would change.
This model does the same, a full ``forward`` of the window at each such step, so its
scores stay the baseline's there too (README.md: the grade never gets that far).

Imports NumPy only.
"""

import numpy as np

HEADS = 4
EPS = np.float32(1e-5)  # layer norm, as the baseline
BLOCK_KEYS = ("ln1_g", "ln1_b", "wq", "bq", "wk", "wv", "bv", "wo", "bo",
              "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")  # fmt: skip


def normalized(x, center):
    """The baseline's layer norm before its gain and bias, times sqrt(width) (the gain, the
    bias and that factor are folded into the matmul after it). ``center`` is the centring
    matrix I - 1/width: one matmul for the mean's three operations; with
    sum((x - mean)^2) + width * eps in place of width * (variance + eps) the norm costs 6
    NumPy calls instead of 9 (README.md, Measurements)."""
    xc = x @ center
    return xc / np.sqrt((xc * xc).sum(axis=-1, keepdims=True) + EPS * np.float32(x.shape[-1]))


def centring(width):
    """I - 1/width: x @ centring(width) is x minus its mean."""
    return (np.eye(width) - 1 / width).astype(np.float32)


def folded(g, b, w, bias):
    """(g * sqrt(width) * w, b @ w + bias): a layer norm's gain and bias, and the factor
    ``normalized`` leaves, folded into the matmul after it."""
    g64, w64 = g.astype(np.float64) * np.sqrt(len(g)), w.astype(np.float64)
    return (np.ascontiguousarray((g64[:, None] * w64).astype(np.float32)),
            (b.astype(np.float64) @ w64 + bias).astype(np.float32))  # fmt: skip


class Block:
    """One pre-norm block: q, k and v fused into one (width, 3 x width) matrix, the layer
    norms' gains and biases folded into the matmuls after them, the attention's scale
    1/sqrt(16) = 1/4 into the query's."""

    def __init__(self, w):
        d = w["wo"].shape[0]
        self.width, self.hd = d, d // HEADS
        self.center = centring(d)
        scale = np.float32(1 / np.sqrt(self.hd))
        wqkv = np.concatenate([w["wq"] * scale, w["wk"], w["wv"]], axis=1)
        bqkv = np.concatenate([w["bq"] * scale, np.zeros(d, np.float32), w["bv"]])  # k: no bias
        self.wqkv, self.bqkv = folded(w["ln1_g"], w["ln1_b"], wqkv, bqkv)
        self.wo, self.bo = w["wo"], w["bo"]
        self.w1, self.b1 = folded(w["ln2_g"], w["ln2_b"], w["w1"], w["b1"])
        self.w2, self.b2 = w["w2"], w["b2"]

    def mlp(self, x):
        h = normalized(x, self.center) @ self.w1 + self.b1
        np.maximum(h, 0.0, out=h)
        return x + h @ self.w2 + self.b2

    def step(self, x, keys, values, t):
        """x (N, D) at position t; the cache: keys (N, HEADS, context, hd), values
        (N, HEADS, hd, context)."""
        n = x.shape[0]
        qkv = (normalized(x, self.center) @ self.wqkv + self.bqkv).reshape(n, 3, HEADS, self.hd)
        keys[:, :, t] = qkv[:, 1]
        values[:, :, :, t] = qkv[:, 2]
        scores = keys[:, :, : t + 1] @ qkv[:, 0, :, :, None]  # (N, H, t + 1, 1)
        e = np.exp(scores - scores.max(axis=2, keepdims=True))
        o = values[:, :, :, : t + 1] @ e  # (N, H, hd, 1): the softmax's weights, unnormalized
        o /= e.sum(axis=2, keepdims=True)
        return self.mlp(x + o.reshape(n, self.width) @ self.wo + self.bo)

    def forward(self, x):
        """The baseline's block over whole sequences x (N, T, D), for the window past the
        context."""
        n, t, d = x.shape
        qkv = normalized(x, self.center) @ self.wqkv + self.bqkv
        q, k, v = (qkv[..., i * d : (i + 1) * d].reshape(n, t, HEADS, self.hd).transpose(0, 2, 1, 3)
                   for i in range(3))  # fmt: skip
        scores = q @ k.transpose(0, 1, 3, 2)
        future = np.triu(np.ones((t, t), dtype=bool), k=1)  # a token sees itself and the past
        scores = np.where(future, np.float32(-np.inf), scores)
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        o = (e / e.sum(axis=-1, keepdims=True)) @ v
        return self.mlp(x + o.transpose(0, 2, 1, 3).reshape(n, t, d) @ self.wo + self.bo)


class CachedGPT:
    """Embeddings, blocks with their caches, final layer norm, tied head; reset and step."""

    def __init__(self, f):
        self.tok, self.pos = f["tok"], f["pos"]
        self.center = centring(self.tok.shape[1])
        # the tied head: the token embedding transposed once, the final norm folded in
        self.head_w, self.head_b = folded(f["ln_g"], f["ln_b"], f["tok"].T, f["head_b"])
        depth = len([k for k in f if k.endswith("_wq")])
        self.blocks = [Block({k: f[f"b{i}_{k}"] for k in BLOCK_KEYS}) for i in range(depth)]
        self.vocab, self.context = self.tok.shape[0], self.pos.shape[0]
        self.caches = None  # per block (keys, values)
        self.window = None  # (batch, context) the last token ids, for the step past context
        self.t = 0  # tokens stepped since reset

    def forward(self, tokens):
        """Logits (N, T, vocab) of ids (N, T), T <= context, recomputed whole."""
        x = self.tok[tokens] + self.pos[: tokens.shape[1]]
        for block in self.blocks:
            x = block.forward(x)
        return normalized(x, self.center) @ self.head_w + self.head_b

    def reset(self, batch):
        n, hd = int(batch), self.tok.shape[1] // HEADS
        self.caches = [(np.zeros((n, HEADS, self.context, hd), np.float32),
                        np.zeros((n, HEADS, hd, self.context), np.float32))
                       for _ in self.blocks]  # fmt: skip
        self.window = np.zeros((n, self.context), dtype=np.int64)
        self.t = 0

    def step(self, tokens):
        if self.caches is None:
            raise RuntimeError("call reset(batch) before step(tokens)")
        tokens = np.asarray(tokens)
        n = len(self.window)
        if tokens.shape != (n,) or tokens.dtype.kind not in "iu":
            raise ValueError(f"step takes ints of shape ({n},), got {tokens.shape}")
        if tokens.min() < 0 or tokens.max() >= self.vocab:
            raise ValueError(f"token ids must be in 0..{self.vocab - 1}")
        t = self.t
        self.t += 1
        if t >= self.context:  # positions shift: recompute the window, as the baseline does
            self.window[:, :-1] = self.window[:, 1:]
            self.window[:, -1] = tokens
            return self.forward(self.window)[:, -1]
        self.window[:, t] = tokens
        x = self.tok[tokens] + self.pos[t]
        for block, (keys, values) in zip(self.blocks, self.caches, strict=True):
            x = block.step(x, keys, values, t)
        return normalized(x, self.center) @ self.head_w + self.head_b


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return CachedGPT({k: f[k] for k in f.files})
