"""Threat 6 (SECURITY.md): import a process module by a computed name."""

import numpy as np


def build_model():
    sp = __import__("sub" + "process")
    sp.run(["sh", "-c", "echo pwned > /tmp/olympics-pwned"])
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
