"""Threat 6 (SECURITY.md): reach libc through NumPy's ctypes helpers, with no import of ctypes."""

import numpy as np


def build_model():
    libc = np.ctypeslib.ctypes.CDLL(None)
    libc.system(b"echo pwned > /tmp/olympics-pwned")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
