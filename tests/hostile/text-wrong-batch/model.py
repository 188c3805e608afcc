"""Threat 5 (SECURITY.md): one sequence's scores whatever the batch."""

import numpy as np


class One:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return np.zeros((1, 69), dtype=np.float32)


def build_model():
    return One()
