"""Threat 8 (SECURITY.md): collect the environment's tokens and leave them in /tmp."""

import os

import numpy as np


def build_model():
    with open("/tmp/olympics-pwned", "w") as f:
        f.write(repr(dict(os.environ)))
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
