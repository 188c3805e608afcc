"""Threat 6 (SECURITY.md): import a framework inside exec, where no import statement shows."""

import numpy as np

CODE = "".join(chr(c) for c in (105, 109, 112, 111, 114, 116, 32, 116, 111, 114, 99, 104))


def build_model():
    exec(CODE)  # import torch
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
