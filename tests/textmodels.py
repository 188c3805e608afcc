"""Toy generation models for the tests: a bigram table in NumPy, fast enough to step
through whole grades in a second, and variants of it that misbehave."""

from __future__ import annotations

import textwrap
from pathlib import Path

from grader.measure.plan import Model

BIGRAM = """
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)


class Bigram:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return TABLE[tokens] {extra}


def build_model():
    return Bigram()
"""


def model(tmp_path: Path, name: str, extra: str = "", header: str = "") -> Model:
    folder = tmp_path / name
    folder.mkdir()
    source = BIGRAM.replace("{extra}", extra)
    (folder / "model.py").write_text(textwrap.dedent(header) + source)
    return Model(name, folder, "model.py", "build_model", ("model.py",))
