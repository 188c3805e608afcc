"""Threat 6 (SECURITY.md): reach a service on the runner's own loopback.

A runner's 127.0.0.1 may serve something (a cache, a metadata proxy, a Docker socket's
TCP twin). The corpus listens on 127.0.0.1:47654 while it runs and checks that nothing
connected. Each of the audit hook, seccomp (no sockets), the network namespace (its own,
unconfigured loopback) and Landlock's TCP rules stops this on its own
(tests/test_confine.py tries the last two without the others).
"""

import numpy as np


def build_model():
    namespace = {}
    exec("import socket", namespace)
    conn = namespace["socket"].create_connection(("127.0.0.1", 47654), timeout=2)
    conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
