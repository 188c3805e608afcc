"""Model folders of known speed for the harness benchmarks, built from the real baseline, and
the smoke mode that keeps every benchmark from rotting.

The test suite runs with ``--benchmark-disable`` (pyproject.toml's addopts): there each
benchmark runs once, on small inputs and quick grades, and checks that it still computes
every number it reports, not its targets. ``--benchmark-enable`` measures for real:

    python -m pytest benchmarks/ -s --benchmark-enable
"""

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


def median_time(f, x, n=3000):
    for _ in range(300):
        f(x)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


class Slower:
    """The baseline plus a busy wait, tuned at build so that the whole wrapped model takes
    1 + SLOWDOWN times the baseline's own latency (both measured here, in-process)."""

    def __init__(self, model):
        self.model = model
        x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
        target = (1 + SLOWDOWN) * median_time(model, x)
        self.extra = 0.0
        for _ in range(4):  # the wrapper and the clock reads cost too: converge on the target
            self.extra = max(0.0, self.extra + target - median_time(self, x))

    def wait(self, x):
        end = time.perf_counter() + self.extra
        while time.perf_counter() < end:
            pass

    def __call__(self, x):
        y = self.model(x)
        self.wait(x)
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


def build_model():
    # As little work as a model can do, the same as the harness's own no-op (graded with a
    # throughput batch of 1, so that one sample is all it is ever asked for).
    return lambda x: ONE
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
def smoke(request: pytest.FixtureRequest) -> bool:
    """Run once, small, numbers checked but not targets (as pytest-benchmark decides it)."""
    config = request.config
    return bool(config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


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
