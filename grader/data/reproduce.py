"""Reproducing a baseline's committed weights on any machine.

Training follows the CPU's SIMD kernels. OpenBLAS picks a kernel set per CPU (Haswell's AVX2,
SkylakeX's AVX-512, ...) and NumPy dispatches its loops per CPU too; their sums round
differently in the last bit, and tens of epochs of SGD carry that bit into weights about
10-17 % apart (relative distance, per tensor) whose held-out accuracy moves by a few digits in
a thousand. So a reproduction check has two parts (README.md, "Baselines"):

1. :func:`pin`, called by a training script *before NumPy loads*: one BLAS thread, and
   OpenBLAS's kernels set to the ones recorded beside the weights (``weights.env.json``),
   where the CPU can run them and the user has not chosen others. On any x86-64 CPU with
   AVX2 this rebuilds the committed bytes whatever else the CPU has.
2. :func:`judge`: equal bytes are a reproduction; where the bytes differ in the recorded
   environment, the recipe changed and the check fails; where they differ in another
   environment, what holds everywhere is checked: the held-out accuracy within
   :data:`ACCURACY_TOLERANCE` of the recorded one and every tensor within
   :data:`RELATIVE_TOLERANCE` of the committed one (the same recipe under other kernels
   measured 0.11-0.17; another seed gives about 1.4).

This module imports NumPy only inside the functions that run after :func:`pin`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import EXIT_OK, EXIT_RULES

ENV_FILE = "weights.env.json"
ENV_VERSION = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ACCURACY_TOLERANCE = 0.01  # ten digits of the thousand held out
RELATIVE_TOLERANCE = 0.30  # ||w - w_committed|| / ||w_committed||, per tensor
# What the environment is judged by: the fields that decide which kernels ran.
KERNEL_FIELDS = ("numpy", "numpy_simd", "blas", "blas_version", "blas_kernels")
# The CPU flags (as /proc/cpuinfo names them) that each OpenBLAS kernel set needs.
KERNEL_FLAGS = {
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
    "Cooperlake": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"},
    "Sandybridge": {"avx"},
    "Nehalem": {"sse4_2"},
    "Prescott": {"pni"},
}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def recorded(folder: Path) -> dict[str, Any] | None:
    """The environment the folder's committed weights were trained in, if recorded."""
    try:
        return json.loads((folder / ENV_FILE).read_text())
    except (OSError, ValueError):
        return None


def pin(folder: Path) -> dict[str, str]:
    """Pin BLAS before NumPy loads; the variables set. Refuses to run after NumPy loaded."""
    if "numpy" in sys.modules:
        raise RuntimeError("reproduce.pin() must run before NumPy is imported")
    pinned = {}
    for var in THREAD_VARIABLES:
        os.environ[var] = pinned[var] = "1"
    env = recorded(folder) or {}
    kernels = env.get("blas_kernels")
    if (
        kernels in KERNEL_FLAGS
        and "OPENBLAS_CORETYPE" not in os.environ  # the user's choice (or the machine's) stands
        and KERNEL_FLAGS[kernels] <= cpu_flags()
    ):
        os.environ["OPENBLAS_CORETYPE"] = pinned["OPENBLAS_CORETYPE"] = kernels
    return pinned


def environment() -> dict[str, Any]:
    """The numeric environment of this process (NumPy loaded): what decides the kernels."""
    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    blas: dict[str, Any] = {}
    try:
        import threadpoolctl

        found = [
            i for i in threadpoolctl.threadpool_info()
            if i.get("user_api") == "blas" and "numpy" in str(i.get("filepath", ""))
        ]  # fmt: skip
        blas = found[0] if found else {}
    except ImportError:  # the kernels are then unknown, and judged as another environment
        pass
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "numpy_simd": sorted(t for t in __cpu_dispatch__ if __cpu_features__.get(t)),
        "blas": blas.get("internal_api"),
        "blas_version": blas.get("version"),
        "blas_kernels": blas.get("architecture"),
        "blas_threads": blas.get("num_threads"),
    }


@dataclass(frozen=True)
class Judgement:
    reproduced: bool
    how: str  # "bit for bit", "within tolerance", or why not

    def __str__(self) -> str:
        return f"{'reproduced' if self.reproduced else 'NOT reproduced'} {self.how}"


def judge(
    params: dict[str, Any],
    committed: dict[str, Any],
    held_out_accuracy: float,
    recorded_accuracy: float,
    env: dict[str, Any],
    recorded_env: dict[str, Any] | None,
) -> Judgement:
    """Whether freshly trained ``params`` reproduce the ``committed`` weights (module doc)."""
    import numpy as np

    if sorted(params) != sorted(committed):
        return Judgement(False, f"(tensors {sorted(params)}, committed {sorted(committed)})")
    if all(
        params[k].dtype == committed[k].dtype and np.array_equal(params[k], committed[k])
        for k in params
    ):
        return Judgement(True, "bit for bit")
    was = recorded_env or {}
    differs = [f for f in KERNEL_FIELDS if not was or env.get(f) != was.get(f)]
    if not differs:
        return Judgement(
            False,
            "(the bytes differ in the environment the weights were recorded in: the training "
            "recipe or its data changed; retrain and commit, or restore train.py)",
        )
    distance = {
        k: float(
            np.linalg.norm(params[k].astype(np.float64) - committed[k])
            / max(float(np.linalg.norm(committed[k].astype(np.float64))), 1e-12)
        )
        for k in params
    }
    worst = max(distance, key=distance.__getitem__)
    gap = abs(held_out_accuracy - recorded_accuracy)
    numbers = (
        f"held-out accuracy {held_out_accuracy:.4f} against {recorded_accuracy:.4f} recorded "
        f"(tolerance ±{ACCURACY_TOLERANCE}), largest relative distance {distance[worst]:.3f} "
        f"in {worst} (tolerance {RELATIVE_TOLERANCE}); another environment: "
        + ", ".join(f"{f} {env.get(f)!r} (recorded {was.get(f)!r})" for f in differs)
    )
    ok = gap <= ACCURACY_TOLERANCE + 1e-12 and distance[worst] <= RELATIVE_TOLERANCE
    return Judgement(ok, f"within tolerance: {numbers}" if ok else f"(out of tolerance: {numbers})")


def save_or_check(
    folder: Path,
    params: dict[str, Any],
    check: bool,
    train_accuracy: float,
    held_out_accuracy: float,
    recorded_accuracy: float,
) -> int:
    """A training script's last step: write ``weights.npz`` and the environment it came from,
    or (``check``) judge the fresh weights against the committed ones; the exit code."""
    import numpy as np

    from grader.data.workloads import deterministic_npz

    target = folder / "weights.npz"
    blob = deterministic_npz(**{k: params[k] for k in sorted(params)})
    digest = hashlib.sha256(blob).hexdigest()
    env = environment()
    print(
        f"train accuracy {train_accuracy:.4f}; held-out accuracy {held_out_accuracy:.4f}; "
        f"{target.name} sha256 {digest}"
    )
    if not check:
        target.write_bytes(blob)
        record = {"schema_version": ENV_VERSION, "weights_sha256": digest,
                  "held_out_accuracy": held_out_accuracy, **env}  # fmt: skip
        (folder / ENV_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    with np.load(target, allow_pickle=False) as f:
        committed = {k: f[k] for k in f.files}
    verdict = judge(params, committed, held_out_accuracy, recorded_accuracy, env, recorded(folder))
    print(verdict, file=sys.stdout if verdict.reproduced else sys.stderr)
    return EXIT_OK if verdict.reproduced else EXIT_RULES  # not reproduced: a check failed
