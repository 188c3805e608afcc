"""Model folders of known speed for the harness benchmarks, built from the real baseline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.config import load_rules, project_root

BASELINE = project_root() / "baselines" / "mlp_sprint"

SLOWER = '''
import time
import numpy as np
from base import build_model as build_base

SLOWDOWN = {slowdown!r}


class Slower:
    """The baseline plus a busy wait of SLOWDOWN of its own latency, measured at build."""

    def __init__(self, model):
        self.model = model
        x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
        for _ in range(500):
            model(x)
        times = []
        for _ in range(2000):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
        self.extra = SLOWDOWN * float(np.median(times))

    def __call__(self, x):
        y = self.model(x)
        end = time.perf_counter() + self.extra
        while time.perf_counter() < end:
            pass
        return y


def build_model():
    return Slower(build_base())
'''

TWICE = '''
from base import build_model as build_base


class Twice:
    """Exactly twice the baseline's work: the reference for a true 2x speedup."""

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        self.model(x)
        return self.model(x)


def build_model():
    return Twice(build_base())
'''


NOOP = """
import numpy as np

ONE = np.zeros((1, 10), dtype=np.float32)
BATCH = np.zeros((32, 10), dtype=np.float32)


def build_model():
    # As little work as a model can do: the same as the harness's own no-op, plus one
    # comparison for the batched throughput pass.
    return lambda x: ONE if x.shape[0] == 1 else BATCH
"""


def model_folder(root: Path, team: str, source: str) -> Path:
    folder = root / team
    folder.mkdir()
    shutil.copy(BASELINE / "weights.npz", folder / "weights.npz")
    shutil.copy(BASELINE / "model.py", folder / "base.py")
    (folder / "model.py").write_text(source)
    (folder / "submission.yaml").write_text(
        f"team: {team}\nworkload: mlp_sprint\nevents: [latency_sprint]\n"
        "entrypoint: model.py:build_model\n"
    )
    return folder


@pytest.fixture(scope="session")
def rules():
    return load_rules()


@pytest.fixture(scope="session")
def slower_5pct(tmp_path_factory) -> Path:
    return model_folder(tmp_path_factory.mktemp("m"), "slower-5pct", SLOWER.format(slowdown=0.05))


@pytest.fixture(scope="session")
def twice_baseline(tmp_path_factory) -> Path:
    return model_folder(tmp_path_factory.mktemp("m"), "twice-baseline", TWICE)


@pytest.fixture(scope="session")
def noop_model(tmp_path_factory) -> Path:
    return model_folder(tmp_path_factory.mktemp("m"), "noop", NOOP)
