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


def cpu_wait_share(cpu_wait: Any) -> float | None:
    """``measurement.cpu_wait_share``: of the time both children were ready to run in the
    timed part of the sessions, the share they waited for a CPU (a
    measurement.CpuWait; None where /proc could not be read). Advisory: it changes no
    number (docs/DESIGN.md, Measurement: CPU wait)."""
    share = cpu_wait.share
    return None if share is None else round(float(share), 4)


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


def skeleton(submission: Any) -> dict:
    """A graded result's start: the header and the submission (a config.Submission) as read."""
    return {
        **header(),
        "submission": {
            "team": submission.team,
            "members": list(submission.members),
            "workload": submission.workload,
            "events": list(submission.events),
            "techniques_claimed": list(submission.techniques),
            "description": submission.description,
            "entrypoint": f"{submission.entrypoint_file}:{submission.entrypoint_function}",
            "content_sha256": content_sha256(submission.folder),
        },
        "techniques": {"claimed": list(submission.techniques), "detected": None},
        "verdict": {"status": "graded", "code": None, "message": ""},
    }


def referee_verdict(exc: Any, private: bool) -> dict:
    """The verdict of a submission the referee rejected (an errors.Rejected)."""
    message = exc.message
    if private:  # its text could carry private inputs out
        message = (
            f"the submission failed ({exc.code}) with the sealed private split among its "
            "inputs; in the final phase the details are not published"
        )
    return {"status": "rejected", "code": exc.code, "message": message}


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


def text_metrics(m: Any, kinds: list[str], files: dict[str, int], parameters: int | None) -> dict:
    """The observed numbers of one generation model (a textanswers.TextMeasurement) as
    stored in JSON: the digits' fields where they mean the same (``correct``/``total``: the
    held-out answers' characters the arg-max predicted; ``latency_samples_ms``: each walk's
    time per token), and under ``text`` what only a text model has."""
    test = np.array([k == "test" for k in kinds])
    peak = None
    if m.peak_rss_bytes is not None and m.base_rss_bytes is not None:
        peak = max(0, m.peak_rss_bytes - m.base_rss_bytes)
    blocks = [[t * 1e3 for t in walk] for walk in m.token_latency_s]

    def counts(found: Any) -> dict:
        return {"agreed": found.agreed, "compared": found.compared}

    return {
        "correct": int(m.record_correct[test].sum()),
        "total": int(m.record_chars[test].sum()),
        "latency_samples_ms": [float(np.mean(walk)) for walk in blocks],
        "harness_overhead_ms_per_sample": float(np.median(m.overhead_s_per_token)) * 1e3,
        "throughput_samples_sps": [],
        "batch_agreement": m.greedy_agreement.share,
        "repeat_agreement": m.replays.share,
        "first_sight_agreement": None,
        "files": files,
        "rss_base_bytes": m.base_rss_bytes,
        "rss_peak_bytes": m.peak_rss_bytes,
        "peak_memory_bytes": peak,
        "parameters": parameters,
        "load_seconds": m.load_seconds,
        "text": {
            "record_nll": [float(x) for x in m.record_nll],
            "record_chars": [int(x) for x in m.record_chars],
            "record_correct": [int(x) for x in m.record_correct],
            "filler_nll": list(m.filler_nll),
            "filler_steps": list(m.filler_steps),
            "block_latency_ms": blocks,
            "block_nll": [list(b) for b in m.block_nll],
            "greedy": list(m.greedy or []),
            "greedy_again": m.greedy_again,
            "replays": counts(m.replays),
            "greedy_agreement": counts(m.greedy_agreement),
            "greedy_walks": counts(m.greedy_against_walks()),
        },
    }
