"""A result built: from a grade's observations, or a rejection reached before any code ran.

What is built here is stored as made (docs/DESIGN.md, Owners of the numbers): the header
(format, time, grader, machine), the content hash of the submission's folder and each
model's observed numbers. Every derived number is added by :mod:`grader.result.derive`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from grader import __version__
from grader.errors import Verdict, Violation
from grader.result import dependencies

SCHEMA_VERSION = 1
RESULT_TYPE = "tinytorch_olympics_result"


# -- observations -----------------------------------------------------------------------------
def model_files(folder: Path, files: Iterable[str]) -> dict[str, int]:
    """Bytes on disk of each of the model's ``files`` (docs/DESIGN.md, Owners of the numbers).

    ``files`` are exactly what its process gets in its private copy, the only files it can
    read (``static.model_files`` for a submission, the workload's ``baseline_files`` for a
    baseline), so nothing it uses can hide outside its size.
    """
    return {name: (folder / name).stat().st_size for name in sorted(files)}


def content_sha256(folder: Path) -> str:
    """One hash over every entry's relative path and bytes, in sorted order: model and
    description files alike, and whatever the static check would refuse (a link counts by
    its target's name, never followed), so that any change to the folder makes a stored
    result of it stale."""
    digest = hashlib.sha256()
    entries = []
    for root, _dirs, names in os.walk(folder, followlinks=False):
        entries += [Path(root) / name for name in names]
    for path in sorted(entries):  # by path components, as every stored hash was made
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link\0" + os.fsencode(os.readlink(path)))
        elif path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def system_info(affinity: dict | None = None) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = None
    try:
        config = np.show_config(mode="dicts")
        dep = config.get("Build Dependencies", {}).get("blas", {})
        blas = f"{dep.get('name', '?')} {dep.get('version', '')}".strip()
    except (TypeError, AttributeError):  # NumPy < 1.25 has no dict mode
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "affinity": affinity or {"parent": None, "children": None, "pinned": False},
    }


def grader_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,  # the grader's own checkout
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def now() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def model_metrics(
    m: Any, labels: np.ndarray, files: dict[str, int], parameters: int | None
) -> dict:
    """The observed numbers of one model (a measurement.ModelMeasurement) as stored in JSON,
    with its files' sizes and its parameter count (``weights.parameters``), both read
    by the grader."""
    correct = int(np.sum(m.answers.predictions == labels))
    peak = None
    if m.peak_rss_bytes is not None and m.base_rss_bytes is not None:
        peak = max(0, m.peak_rss_bytes - m.base_rss_bytes)
    return {
        "correct": correct,
        "total": len(labels),
        "latency_samples_ms": [t * 1e3 for t in m.latency_samples_s],
        "harness_overhead_ms_per_sample": float(np.median(m.overhead_s_per_sample)) * 1e3,
        "throughput_samples_sps": list(m.throughput_samples_s),
        "batch_agreement": m.answers.batch_agreement,
        "repeat_agreement": m.answers.repeat_agreement,
        "first_sight_agreement": m.answers.first_sight_agreement,
        "files": files,
        "rss_base_bytes": m.base_rss_bytes,
        "rss_peak_bytes": m.peak_rss_bytes,
        "peak_memory_bytes": peak,
        "parameters": parameters,
        "load_seconds": m.load_seconds,
    }


# -- the header and a rejection ----------------------------------------------------------------
def header() -> dict:
    """What every result starts with, graded or rejected: format, time, grader, machine."""
    return {
        "schema_version": SCHEMA_VERSION,
        "submission_type": RESULT_TYPE,
        "timestamp": now(),
        "grader": {
            "version": __version__,
            "commit": grader_commit(),
            "dependencies_sha256": dependencies.fingerprint(),
        },
        "system": system_info(),
    }


WHAT_FAILED = {
    Verdict.CONFIG_INVALID: "in the submission's configuration or files",
    Verdict.IMPORT_FORBIDDEN: "with what the submission's code imports",
    Verdict.SCOPE_VIOLATION: "with what the pull request changes",
}


def rejected(team: str, violations: list[Violation], code: Verdict) -> dict:
    """A result with a verdict and no measurement: nothing of the submission ran."""
    return {
        **header(),
        "submission": {"team": team[:100], "workload": "", "events": []},
        "verdict": {
            "status": "rejected",
            "code": code,
            "message": f"{len(violations)} problem(s) {WHAT_FAILED[code]}",
            "violations": [v.as_dict() for v in violations[:200]],
        },
    }
