"""Threat 4 (SECURITY.md): keep what earlier sequences showed across reset (a cache of
answers): the answers then depend on how much this process has seen, and a walk shown again
in a fresh process gets others."""

import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)


class Keeps:
    seen = 0

    def reset(self, batch):
        Keeps.seen += 1
        self.batch = batch

    def step(self, tokens):
        drift = np.float32(3.0) * np.sin(Keeps.seen * np.arange(69, dtype=np.float32))
        return TABLE[tokens] + drift


def build_model():
    return Keeps()
