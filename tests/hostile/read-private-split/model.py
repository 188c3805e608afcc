"""Threat 1 (SECURITY.md): read the sealed private split, and its key from the environment."""

import os
import sys

# The grader's own package is imported in the worker: its file names the repository.
ROOT = os.path.dirname(os.path.dirname(sys.modules["grader"].__file__))


def build_model():
    key = os.environ.get("OLYMPICS_PRIVATE_KEY")
    if key:
        raise RuntimeError(f"the key reached the child: {key}")
    with open(os.path.join(ROOT, "data", "digits", "private.npz.fernet"), "rb") as f:
        token = f.read()
    raise RuntimeError(f"read {len(token)} bytes of the sealed split")
