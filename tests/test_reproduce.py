"""The reproduction check of the baselines' weights (grader/data/reproduce.py): pinned kernels
before NumPy loads, bytes where they can be equal, a stated tolerance where they cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from grader.config import project_root
from grader.data import reproduce

ROOT = project_root()
RECORDED = {
    "numpy": "2.4.6",
    "numpy_simd": ["X86_V3"],
    "blas": "openblas",
    "blas_version": "0.3.31",
    "blas_kernels": "Haswell",
}


def weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"w1": rng.standard_normal((784, 128), dtype=np.float32), "b1": np.ones(128, np.float32)}


def nudged(params: dict[str, np.ndarray], relative: float) -> dict[str, np.ndarray]:
    """The same tensors moved by ``relative`` of their norm (the last kernels' rounding, grown)."""
    rng = np.random.default_rng(99)
    out = {}
    for k, w in params.items():
        noise = rng.standard_normal(w.shape).astype(np.float32)
        out[k] = w + noise * np.float32(relative * np.linalg.norm(w) / np.linalg.norm(noise))
    return out


OTHER_KERNELS = RECORDED | {"blas_kernels": "SkylakeX"}


def test_equal_bytes_are_a_reproduction_anywhere() -> None:
    w = weights(1)
    verdict = reproduce.judge(w, dict(w), 0.5, 0.9, OTHER_KERNELS, RECORDED)
    assert verdict.reproduced and verdict.how == "bit for bit"


def test_other_bytes_in_the_recorded_environment_are_not_a_reproduction() -> None:
    w = weights(1)
    verdict = reproduce.judge(nudged(w, 1e-6), w, 0.943, 0.943, dict(RECORDED), RECORDED)
    assert not verdict.reproduced
    assert "environment the weights were recorded in" in verdict.how


def test_another_kernel_set_is_judged_by_the_stated_tolerance() -> None:
    w = weights(1)
    verdict = reproduce.judge(nudged(w, 0.15), w, 0.946, 0.943, OTHER_KERNELS, RECORDED)
    assert verdict.reproduced, verdict
    assert verdict.how.startswith("within tolerance")
    assert "blas_kernels 'SkylakeX' (recorded 'Haswell')" in verdict.how


@pytest.mark.parametrize(
    "params_seed, relative, accuracy, why",
    [
        (2, 0.0, 0.945, "relative distance"),  # another seed: measured 1.42 for the MLP
        (1, 0.35, 0.943, "relative distance"),
        (1, 0.15, 0.955, "held-out accuracy"),
        (1, 0.15, 0.931, "held-out accuracy"),
    ],
    ids=["another-seed", "too-far", "accuracy-above", "accuracy-below"],
)
def test_out_of_tolerance_is_not_a_reproduction(params_seed, relative, accuracy, why) -> None:
    params = nudged(weights(params_seed), relative) if relative else weights(params_seed)
    verdict = reproduce.judge(params, weights(1), accuracy, 0.943, OTHER_KERNELS, RECORDED)
    assert not verdict.reproduced
    assert "out of tolerance" in verdict.how and why in verdict.how


def test_without_a_recorded_environment_the_tolerance_decides() -> None:
    w = weights(1)
    assert reproduce.judge(nudged(w, 0.1), w, 0.943, 0.943, RECORDED, None).reproduced
    assert not reproduce.judge(weights(2), w, 0.943, 0.943, RECORDED, None).reproduced


def test_other_tensors_are_not_a_reproduction() -> None:
    w = weights(1)
    verdict = reproduce.judge({"w1": w["w1"]}, w, 0.943, 0.943, OTHER_KERNELS, RECORDED)
    assert not verdict.reproduced and "tensors" in verdict.how


def test_pin_refuses_once_numpy_is_loaded(tmp_path) -> None:
    assert "numpy" in sys.modules
    with pytest.raises(RuntimeError, match="before NumPy"):
        reproduce.pin(tmp_path)


def pinned_in_a_child(folder, **env: str) -> dict[str, str | None]:
    code = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from grader.data import reproduce\n"
        "reproduce.pin(Path(sys.argv[1]))\n"
        "print(json.dumps({v: os.environ.get(v) for v in "
        "('OPENBLAS_CORETYPE', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS')}))"
    )
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True, text=True, check=True, env=base | env,
    )  # fmt: skip
    return json.loads(proc.stdout)


def test_pin_sets_the_recorded_kernels_where_the_cpu_runs_them(tmp_path) -> None:
    (tmp_path / reproduce.ENV_FILE).write_text(json.dumps({"blas_kernels": "Haswell"}))
    got = pinned_in_a_child(tmp_path)
    assert got["OPENBLAS_NUM_THREADS"] == got["OMP_NUM_THREADS"] == "1"
    runs_them = reproduce.KERNEL_FLAGS["Haswell"] <= reproduce.cpu_flags()
    assert got["OPENBLAS_CORETYPE"] == ("Haswell" if runs_them else None)


def test_pin_leaves_a_chosen_kernel_set_alone(tmp_path) -> None:
    (tmp_path / reproduce.ENV_FILE).write_text(json.dumps({"blas_kernels": "Haswell"}))
    assert pinned_in_a_child(tmp_path, OPENBLAS_CORETYPE="Prescott")["OPENBLAS_CORETYPE"] == (
        "Prescott"
    )


def test_pin_never_asks_for_kernels_the_cpu_lacks(tmp_path) -> None:
    (tmp_path / reproduce.ENV_FILE).write_text(json.dumps({"blas_kernels": "NoSuchCPU"}))
    assert pinned_in_a_child(tmp_path)["OPENBLAS_CORETYPE"] is None


@pytest.mark.parametrize("workload", ["mlp_sprint", "cnn_marathon", "transformer_decathlon"])
def test_each_baseline_records_the_environment_of_its_weights(workload: str) -> None:
    import hashlib

    folder = ROOT / "baselines" / workload
    env = reproduce.recorded(folder)
    assert env is not None, f"{folder / reproduce.ENV_FILE} is missing: run its train.py"
    assert (
        env["weights_sha256"] == hashlib.sha256((folder / "weights.npz").read_bytes()).hexdigest()
    )
    assert set(reproduce.KERNEL_FIELDS) <= set(env)
    assert env["blas_threads"] == 1
