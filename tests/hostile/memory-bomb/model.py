"""Threat 5 (SECURITY.md): allocate far beyond the memory limit, a little at a time.

Zeroed blocks: the address-space limit counts them as they are mapped, before a page is
touched, so the limit is met in milliseconds on any machine. (Blocks of ones wrote 4 GB
first, which on a busy machine took longer than the load deadline: a timeout, not the
memory verdict this case is about.)
"""

import numpy as np


def build_model():
    hoard = []
    while True:
        hoard.append(np.zeros(64 * 1024 * 1024, dtype=np.uint8))
