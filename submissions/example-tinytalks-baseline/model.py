"""Reference model of the tinytalks workload: a tiny character-level GPT in plain NumPy.

``build_model()`` takes no arguments and runs with this folder as the working directory.
The model generates text one character at a time, for ``batch`` sequences at once:

    m = build_model()
    m.reset(batch)              # start `batch` new, empty sequences
    logits = m.step(tokens)     # tokens: int array (batch,), one per sequence;
                                # logits: float32 (batch, vocab), scores of the next token

Token ids are those of the workload's character vocabulary (version 1, 69 ids).
``step`` keeps the sequences' tokens and recomputes the whole prefix with ``forward`` at
every step, keeping nothing else: no cache, the honest naive baseline that a KV cache
improves on. Past ``context`` tokens only the last ``context`` are kept (a sliding window).

``forward(tokens)`` maps int ids (batch, T), T <= context, to float32 logits
(batch, T, vocab): position t scores the token after tokens[:, : t + 1].

The network: token embedding plus a learned position embedding; pre-norm transformer
blocks, each
    x = x + attention(layernorm(x))   # causal, 4 heads
    x = x + mlp(layernorm(x))         # width -> 4 x width -> width, ReLU
(the key projection has no bias: it would add the same amount to every score of a query,
which the softmax ignores); a final layer norm; the output head is the token embedding
transposed (tied) plus a bias.
"""

import numpy as np

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
    """One pre-norm transformer block: causal multi-head self-attention, then an MLP."""

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
        future = np.triu(np.ones((t, t), dtype=bool), k=1)  # a token sees itself and the past
        scores = np.where(future, np.float32(-np.inf), scores)
        o = softmax(scores) @ v  # (N, H, T, hd)
        o = o.transpose(0, 2, 1, 3).reshape(n, t, d)  # heads side by side again
        return o @ self.wo + self.bo

    def __call__(self, x):
        x = x + self.attention(layernorm(x, self.ln1_g, self.ln1_b))
        h = np.maximum(layernorm(x, self.ln2_g, self.ln2_b) @ self.w1 + self.b1, 0.0)
        return x + h @ self.w2 + self.b2

    def parameters(self):
        return [getattr(self, name) for name in BLOCK_KEYS]


class TinyGPT:
    """Embeddings, transformer blocks, final layer norm, tied output head; reset and step."""

    def __init__(self, tok, pos, blocks, ln_g, ln_b, head_b):
        self.tok, self.pos, self.blocks = tok, pos, blocks
        self.ln_g, self.ln_b, self.head_b = ln_g, ln_b, head_b
        self.vocab, self.context = tok.shape[0], pos.shape[0]
        self.prefix = None  # (batch, t) token ids of the sequences since reset

    def forward(self, tokens):
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or not 1 <= tokens.shape[1] <= self.context:
            raise ValueError(f"tokens of shape (batch, 1..{self.context}), got {tokens.shape}")
        if tokens.min() < 0 or tokens.max() >= self.vocab:
            raise ValueError(f"token ids must be in 0..{self.vocab - 1}")
        x = self.tok[tokens] + self.pos[: tokens.shape[1]]  # (N, T, D)
        for block in self.blocks:
            x = block(x)
        return layernorm(x, self.ln_g, self.ln_b) @ self.tok.T + self.head_b

    def reset(self, batch):
        self.prefix = np.zeros((int(batch), 0), dtype=np.int64)

    def step(self, tokens):
        if self.prefix is None:
            raise RuntimeError("call reset(batch) before step(tokens)")
        tokens = np.asarray(tokens)
        if tokens.shape != (len(self.prefix),) or tokens.dtype.kind not in "iu":
            raise ValueError(f"step takes ints of shape ({len(self.prefix)},), got {tokens.shape}")
        self.prefix = np.concatenate([self.prefix, tokens[:, None].astype(np.int64)], axis=1)
        self.prefix = self.prefix[:, -self.context :]  # a sliding window past the context
        return self.forward(self.prefix)[:, -1]

    def parameters(self):
        inner = [p for block in self.blocks for p in block.parameters()]
        return [self.tok, self.pos, *inner, self.ln_g, self.ln_b, self.head_b]


def from_arrays(f):
    """The model of a mapping of named arrays (weights.npz's names)."""
    depth = len([k for k in f if k.endswith("_wq")])
    blocks = [Block(*(f[f"b{i}_{k}"] for k in BLOCK_KEYS)) for i in range(depth)]
    return TinyGPT(f["tok"], f["pos"], blocks, f["ln_g"], f["ln_b"], f["head_b"])


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return from_arrays({k: f[k] for k in f.files})
