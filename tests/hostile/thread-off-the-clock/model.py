"""Threat 4 (SECURITY.md): work in a thread between the timed blocks, where no clock runs.

The grader stops the submission's process while the baseline is timed, but both run while
the grader does its bookkeeping between blocks: a thread started here (``threading`` is
imported through ``exec``, out of the static check's sight) would run on there, off the
clock, preparing whatever the timed calls then only look up.
"""

import numpy as np

W = np.random.default_rng(0).standard_normal((784, 10)).astype(np.float32)
prepared = []


def prepare():
    while True:
        prepared.append(W @ W.T)


def build_model():
    namespace = {}
    exec("import threading", namespace)
    namespace["threading"].Thread(target=prepare, daemon=True).start()
    return lambda x: x.reshape(len(x), -1) @ W
