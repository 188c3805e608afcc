"""StepAdapter: the tinytalks protocol's ``reset``/``step`` for a model that offers only
``forward(tokens) -> logits`` over whole sequences (the course framework's GPT, say).

The grader generates text one token at a time, for ``batch`` sequences at once:

    m = build_model()
    m.reset(batch)            # start `batch` new, empty sequences
    scores = m.step(tokens)   # tokens: int array (batch,), one per sequence;
                              # scores: float32 (batch, 69), of the next token

A model built for training sees a whole sequence instead: ``forward(tokens)`` maps int ids
of shape (batch, T) to logits (batch, T, vocab), position t scoring the token after
tokens[:, : t + 1]. ``StepAdapter`` keeps each sequence's tokens since ``reset``, and at
each ``step`` appends the new ones, calls ``forward`` on the prefix (its last ``context``
tokens at most) and returns the last position's scores:

    from adapter import StepAdapter

    def build_model():
        net = load_my_gpt()                  # your model, weights loaded
        return StepAdapter(net, context=128)

``forward`` may return a NumPy array or an object holding one in ``.data`` (a framework's
Tensor). If it takes a Tensor rather than an array, pass a function instead of the model:
``StepAdapter(lambda ids: net.forward(Tensor(ids)))``.

Every step recomputes the whole prefix, as the baseline does: correct, and slow. Keeping
each layer's keys and values between steps (a KV cache) is the optimisation this adapter
leaves to you. This file counts towards your submission's size like any ``.py`` file of
the folder: delete it if your model has its own ``step``.

Imports NumPy only (the grader's import rules: ``olympics rules``).
"""

import numpy as np


class StepAdapter:
    """``reset(batch)`` and ``step(tokens)`` over a model's ``forward(tokens)``."""

    def __init__(self, model, context=128):
        # The model's forward method, or the model itself if it is a function.
        self.forward = getattr(model, "forward", model)
        self.context = int(context)
        self.prefix = None  # (batch, t) int64 token ids of each sequence since reset

    def reset(self, batch):
        """Start ``batch`` new, empty sequences."""
        self.prefix = np.zeros((int(batch), 0), dtype=np.int64)

    def step(self, tokens):
        """Append one token to each sequence; the scores of each one's next token,
        float32 (batch, vocab)."""
        if self.prefix is None:
            raise RuntimeError("call reset(batch) before step(tokens)")
        tokens = np.asarray(tokens)
        if tokens.shape != (len(self.prefix),):
            raise ValueError(f"step takes ({len(self.prefix)},) token ids, got {tokens.shape}")
        self.prefix = np.concatenate([self.prefix, tokens.astype(np.int64)[:, None]], axis=1)
        self.prefix = self.prefix[:, -self.context :]  # past the context, the last tokens
        logits = self.forward(self.prefix)
        logits = np.asarray(getattr(logits, "data", logits))  # a Tensor's array, or the array
        return np.ascontiguousarray(logits[:, -1], dtype=np.float32)
