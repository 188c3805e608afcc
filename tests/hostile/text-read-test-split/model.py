"""Threat 1 (SECURITY.md): read the held-out TinyTalks answers and answer from them."""

import os
import sys

import numpy as np

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


class Reader:
    def __init__(self):
        with open(os.path.join(ROOT, "data", "tinytalks", "splits", "test.txt")) as f:
            self.answers = f.read()

    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return np.zeros((len(tokens), 69), dtype=np.float32)


def build_model():
    return Reader()
