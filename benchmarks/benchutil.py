"""What the benchmarks share: a check that their numbers came out, their report, and a
stand-in generation model."""

from __future__ import annotations

import math


def finite(*values: float) -> bool:
    """Every value a finite number: what the smoke mode checks of a benchmark's numbers."""
    return all(isinstance(v, float | int) and math.isfinite(v) for v in values)


def report(title: str, rows: dict) -> None:
    """The numbers of one benchmark, printed for the note (``-s``)."""
    print(f"\n== {title}")
    for key, value in rows.items():
        print(f"   {key}: {value}")


# A stand-in generation model, fast enough for a smoke run: a fixed random bigram table.
BIGRAM = """
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)


class Bigram:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return TABLE[tokens]


def build_model():
    return Bigram()
"""
