"""Threat 5 (SECURITY.md): scores that are not numbers."""

import numpy as np


class NaNs:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return np.full((len(tokens), 69), np.nan, dtype=np.float32)


def build_model():
    return NaNs()
