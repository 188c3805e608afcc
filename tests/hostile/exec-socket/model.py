"""Threat 6 (SECURITY.md): reach the network through an import the static check cannot see."""

import numpy as np


def build_model():
    exec("import socket; socket.create_connection(('1.1.1.1', 80), timeout=2)")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
