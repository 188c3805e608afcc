"""The filler of a generation grade's walks: text drawn at grade time from the baseline's own
distribution, character by character, from the grade's seed (docs/DESIGN.md, Generation:
the filler).

Past its first record a walk shows text no one can have tabled, and its steps are timed: so
the quality of those steps must be checked as strictly as the speed is measured. Text drawn
from the baseline (sampled at temperature 1, each character from the baseline's scores for
what came before) is both: no table holds it, as the grade's seed draws it, and a model's
perplexity on it is ``exp(H + KL)`` where the baseline's is ``exp(H)`` (``H`` the baseline's
entropy, ``KL`` the divergence of the model's predictions from the baseline's), so the ratio
of the two is ``exp(KL)``: how far the model's next-character distribution is from the
baseline's, measured wherever it was timed. Measured here on 30 walks of 128 characters: the
baseline 4.28, a character bigram of the public records 8.54, a 4-gram 18.8; on the words of
public records in a drawn order (the filler before this one), the baseline was 24.1 and a
4-gram 7.4, which let a cheap model past ``filler_kept`` and buy a speedup of 34x.

:class:`Sampler` is the baseline's network (``baselines/tinytalks/model.py``: embeddings,
pre-norm blocks with causal multi-head attention, tied head) run with a cache of each
block's keys and values, so that drawing the filler of a full grade costs the parent about
0.2 s where the baseline's own step (no cache) would take 13 s. It reads the baseline's
``weights.npz`` (``allow_pickle=False``) and runs in the grader's process: it is the
grader's code and the course's weights, never a submission's. tests/test_sampler.py checks
that its scores are the baseline's ``forward``'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.data import text

# An empty opening's first character (a blind walk's): a lowercase letter at random, so that
# the drawn text starts mid-word, not at a record's ``Q: ``, as no public text does.
FIRST = text.encode("abcdefghijklmnopqrstuvwxyz")

HEADS = 4  # as the baseline's model.py
EPS = np.float32(1e-5)
BLOCK_KEYS = ("ln1_g", "ln1_b", "wq", "bq", "wk", "wv", "bv", "wo", "bo",
              "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")  # fmt: skip


def _layernorm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * g + b


class Sampler:
    """The baseline's network with a key-value cache: ``reset(batch)``, then ``step(tokens)``
    gives the scores of the next character of each sequence."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.w = arrays
        self.depth = len([k for k in arrays if k.endswith("_wq")])
        self.vocab, self.width = arrays["tok"].shape
        self.context = arrays["pos"].shape[0]
        self.keys: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.t = 0

    @classmethod
    def load(cls, weights: Path) -> Sampler:
        with np.load(weights, allow_pickle=False) as f:
            return cls({k: f[k] for k in f.files})

    def reset(self, batch: int) -> None:
        shape = (batch, HEADS, self.context, self.width // HEADS)
        self.keys = [np.zeros(shape, np.float32) for _ in range(self.depth)]
        self.values = [np.zeros(shape, np.float32) for _ in range(self.depth)]
        self.t = 0

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """``tokens`` (batch,) at position ``t``: float32 scores (batch, vocab)."""
        w, t = self.w, self.t
        if t >= self.context:
            raise ValueError(f"the sampler holds {self.context} positions")
        x = w["tok"][tokens] + w["pos"][t]  # (N, D)
        n, hd = len(tokens), self.width // HEADS
        for i in range(self.depth):
            b = {k: w[f"b{i}_{k}"] for k in BLOCK_KEYS}
            h = _layernorm(x, b["ln1_g"], b["ln1_b"])
            q = (h @ b["wq"] + b["bq"]).reshape(n, HEADS, 1, hd)
            self.keys[i][:, :, t] = (h @ b["wk"]).reshape(n, HEADS, hd)
            self.values[i][:, :, t] = (h @ b["wv"] + b["bv"]).reshape(n, HEADS, hd)
            k, v = self.keys[i][:, :, : t + 1], self.values[i][:, :, : t + 1]
            s = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(hd))  # (N, H, 1, t+1)
            e = np.exp(s - s.max(axis=-1, keepdims=True))
            o = ((e / e.sum(axis=-1, keepdims=True)) @ v).reshape(n, self.width)
            x = x + o @ b["wo"] + b["bo"]
            m = np.maximum(_layernorm(x, b["ln2_g"], b["ln2_b"]) @ b["w1"] + b["b1"], 0.0)
            x = x + m @ b["w2"] + b["b2"]
        self.t += 1
        return _layernorm(x, w["ln_g"], w["ln_b"]) @ w["tok"].T + w["head_b"]

    def extend(
        self, openings: list[np.ndarray], length: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """Each opening continued to ``length + 1`` tokens: past its own tokens, each next
        one drawn from the baseline's scores at temperature 1, every sequence of the batch
        stepped together; an empty opening starts with a letter drawn from :data:`FIRST`.
        An opening that long already is cut there."""
        if not openings:
            return []
        if length + 1 > self.context + 1:
            raise ValueError(f"a walk of {length} steps does not fit {self.context} positions")
        openings = [o if len(o) else rng.choice(FIRST, size=1) for o in openings]
        out = np.zeros((len(openings), length + 1), dtype=np.int64)
        given = np.array([min(len(o), length + 1) for o in openings])
        for j, o in enumerate(openings):
            out[j, : given[j]] = o[: given[j]]
        self.reset(len(openings))
        for t in range(length):
            scores = self.step(out[:, t]).astype(np.float64)
            drawn = t + 1 >= given
            if drawn.any():
                p = np.exp(scores - scores.max(axis=1, keepdims=True))
                cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
                pick = (cdf < rng.random(len(openings))[:, None]).sum(axis=1)
                out[drawn, t + 1] = np.minimum(pick, self.vocab - 1)[drawn]
        return list(out)
