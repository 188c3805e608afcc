"""The result JSON: built from a measurement, written and read against the schema, and
re-derived on read so that a hand-edited number is caught rather than trusted.

Only the *observations* are stored as given (per-round latencies, correct/total, file
sizes, resident memory); every derived number (latency summaries, speedup and its
interval and p-values, compression ratio, accuracy delta, event scores, rule checks,
flags) is recomputed by :func:`derive` and must match what the file says.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import jsonschema
import numpy as np

from grader import rules, stats
from grader.analysis import quality, techniques
from grader.config import SCHEMA_DIR, Rules
from grader.errors import ConfigError, Violation
from grader.metrics import accuracy_of

SCHEMA_VERSION = 1
RESULT_TYPE = "tinytorch_olympics_result"
MAX_RESULT_BYTES = 8 * 1024 * 1024


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
    with its files' sizes and its parameter count (``techniques.parameters``), both read
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


# -- derived numbers ----------------------------------------------------------------------------
def derive_model(metrics: dict) -> dict:
    """Numbers of one model that follow from its observations."""
    samples = metrics["latency_samples_ms"]
    low, high = stats.wilson_interval(metrics["correct"], metrics["total"])
    tput = metrics["throughput_samples_sps"]
    return {
        "accuracy": accuracy_of(metrics),
        "accuracy_ci95": [low, high],
        "latency_ms": stats.summarize(samples),
        "throughput_sps": stats.median(tput) if tput else None,
        "size_bytes": model_size(metrics["files"]),
    }


def model_size(files: dict[str, int]) -> int:
    """A model's size: every byte it can read, its files' contents and their paths (a model
    can list its copy, so its file names are bytes it can read: some 50 kB within the
    folder's caps, which a model could have spelt its weights in)."""
    return sum(files.values()) + sum(len(name.encode()) for name in files)


def session_ratios(
    baseline: list[float], submission: list[float], session_of_round: list[int]
) -> np.ndarray:
    """ABBA ratios grouped by session, as a (sessions, pairs) array for the grouped bootstrap.

    Sessions are cut to the shortest one's pair count (normally all have the same).
    """
    if not (len(baseline) == len(submission) == len(session_of_round)):
        raise ValueError("latency samples and session_of_round differ in length")
    sessions = np.asarray(session_of_round)
    groups = []
    for k in sorted(set(session_of_round)):
        mask = sessions == k
        groups.append(stats.abba_ratios(np.asarray(baseline)[mask], np.asarray(submission)[mask]))
    m = min(len(g) for g in groups)
    return np.stack([g[:m] for g in groups])


def speedup_estimate(groups: np.ndarray) -> tuple[float, list[float], float, float]:
    """Speedup, 95 % interval and one-sided p-values (faster, slower) from session groups.

    The speedup is the median of all ABBA ratios (docs/DESIGN.md, Statistics). The p-values
    come from a two-stage bootstrap (sessions, then rounds): robust to one odd session,
    since the pooled median hardly moves. The interval is the bootstrap's percentile
    interval, widened where need be to Student's t interval of the session medians: with a
    few sessions the bootstrap alone sees too little of their spread, and fresh processes of
    the same model differ by about ±1 % here. One session (``--quick``) can only speak for
    itself: the bootstrap alone.
    """
    speedup = stats.median(groups.ravel())
    replicates = stats.grouped_bootstrap(groups)
    lo, hi = stats.percentile_interval(replicates)
    if len(groups) > 1:
        t_lo, t_hi = stats.session_interval(np.median(groups, axis=1))
        lo, hi = min(lo, t_lo), max(hi, t_hi)
    return (
        speedup,
        [lo, hi],
        stats.bootstrap_p_value(replicates, 1.0, "greater"),
        stats.bootstrap_p_value(replicates, 1.0, "less"),
    )


# Rounds of digits new to the processes that can bound a speedup: a full grade has about 24.
# A quick grade's 3-6 cannot: with 3, the bound is about their largest ratio, which an
# honest model's median exceeds one time in eight (2 % a time with 12 or more).
MIN_NEW_DIGIT_ROUNDS = 12


def new_digit_bound(
    baseline: list[float], submission: list[float], round_roles: list[str] | None
) -> list[float] | None:
    """The 95 % interval of the median speedup over the rounds of digits new to the
    submission's processes (the reserve rounds, placed at random among the repeats; see
    grader/measure/schedule.py), or None where the result does not say which rounds those were.

    What a submission gains by answering a digit faster once it has met it (a cache of
    answers, in whatever share of the repeated rounds) shows in the repeated rounds only:
    the published speedup is held to this interval's upper end, so a cache buys nothing
    beyond the interval's own width, whether or not the caching check can tell it apart."""
    if round_roles is None:
        return None
    if len(round_roles) != len(baseline):
        raise ValueError("round_roles and the latency samples differ in length")
    fresh = [i for i, role in enumerate(round_roles) if role == "fresh"]
    if len(fresh) < MIN_NEW_DIGIT_ROUNDS:
        return None
    ratios = stats.paired_ratios([baseline[i] for i in fresh], [submission[i] for i in fresh])
    return list(stats.bootstrap_ci(ratios, "median"))


def published_speedup(
    baseline: list[float],
    submission: list[float],
    session_of_round: list[int],
    round_roles: list[str] | None,
) -> tuple[float, list[float], float, float, dict]:
    """The speedup as published: :func:`speedup_estimate` over every round, held to the
    upper end of :func:`new_digit_bound` where the result records the rounds' roles; with
    the interval, the p-values and what holding it took (the two extra improvements)."""
    speedup, interval, p_faster, p_slower = speedup_estimate(
        session_ratios(baseline, submission, session_of_round)
    )
    bound = new_digit_bound(baseline, submission, round_roles)
    if bound is None:
        return speedup, interval, p_faster, p_slower, {}
    held = {"speedup_measured": speedup, "speedup_new_digits_ci95": bound}
    if speedup > bound[1]:
        # Held: the interval keeps its lower end (below the held value where it was) and
        # ends at it. Taking the new digits' own lower end as well widened an honest
        # model's interval that was held by a hair (1.239 held at 1.213: [0.631, 1.213]).
        speedup, interval = bound[1], [min(interval[0], bound[1]), bound[1]]
    return speedup, interval, p_faster, p_slower, held


def derive(result: dict, rule_set: Rules) -> dict:
    """Every derived part of a graded result, recomputed from its observations."""
    base = {**result["baseline"]["metrics"], **derive_model(result["baseline"]["metrics"])}
    sub = {**result["optimized"]["metrics"], **derive_model(result["optimized"]["metrics"])}
    speedup, interval, p_faster, p_slower, held = published_speedup(
        base["latency_samples_ms"],
        sub["latency_samples_ms"],
        result["measurement"]["session_of_round"],
        result["measurement"].get("round_roles"),
    )
    compression = base["size_bytes"] / sub["size_bytes"] if sub["size_bytes"] > 0 else math.inf
    accuracy, accuracy_ci, base_accuracy = sub["accuracy"], sub["accuracy_ci95"], base["accuracy"]
    private = result.get("private") or {}
    private_accuracy = gap = None
    if private.get("available"):
        mine, theirs = private["optimized"], private["baseline"]
        private_accuracy = accuracy_of(mine)
        gap = abs(accuracy - private_accuracy)  # either way: fit to one split, or told apart
    split = "public"
    if rule_set.is_final and private_accuracy is not None:
        split = "private"  # the final ranking: accuracy, its delta and the scores on it
        accuracy, base_accuracy = private_accuracy, accuracy_of(theirs)
        accuracy_ci = list(stats.wilson_interval(mine["correct"], mine["total"]))
    delta = accuracy - base_accuracy
    penalty = 1 + max(0.0, -delta)
    improvements = {
        "speedup": speedup,
        "speedup_ci95": interval,
        "speedup_p_value": p_faster,
        "speedup_p_value_slower": p_slower,
        "compression_ratio": compression,
        "accuracy_delta": delta,
        "accuracy_penalty": penalty,
        "efficiency": speedup * compression / penalty,
        "accuracy_split": split,
        "private_accuracy": private_accuracy,
        "accuracy_gap": gap,
        **held,
    }
    workload = rule_set.workloads.get(result["submission"]["workload"], {})
    found = techniques.compare(
        result.get("artifacts"),
        result["submission"].get("techniques_claimed", []),
        rule_set,
        workload.get("baseline_parameters", 1),
        result.get("ablation"),
    )
    code_quality = quality.score(result.get("code_quality"), rule_set)
    flat = {
        "accuracy": accuracy,
        "accuracy_ci95": accuracy_ci,
        "error_ratio": (1 - accuracy) / (1 - base_accuracy) if base_accuracy < 1 else None,
        "latency_ms": sub["latency_ms"]["median"],
        "size_bytes": sub["size_bytes"],
        **improvements,
        "code_quality": code_quality["score"],
        "innovation": found["innovation"],
        "techniques_unconfirmed": None if found["detected"] is None else len(found["unconfirmed"]),
    }
    events, flags = rules.evaluate(rule_set, flat, result["submission"]["events"])
    return {
        "baseline_derived": {k: base[k] for k in derive_model(base)},
        "optimized_derived": {k: sub[k] for k in derive_model(sub)},
        "improvements": improvements,
        "techniques": found,
        "code_quality_derived": code_quality,
        "events": events,
        "flags": flags,
    }


def apply_derived(result: dict, derived: dict) -> dict:
    result["baseline"]["metrics"].update(derived["baseline_derived"])
    result["optimized"]["metrics"].update(derived["optimized_derived"])
    if "code_quality" in result:
        result["code_quality"].update(derived["code_quality_derived"])
    result["improvements"] = derived["improvements"]
    result["techniques"] = derived["techniques"]
    result["events"] = derived["events"]
    result["flags"] = derived["flags"]
    return result


def qualified_everywhere(result: dict) -> bool:
    return all(e["qualified"] is not False for e in result.get("events", {}).values())


# -- comparison of stored with recomputed ------------------------------------------------------
def mismatches(stored: Any, recomputed: Any, path: str = "$") -> list[Violation]:
    """Every place where a stored derived number differs from its recomputation."""
    if isinstance(recomputed, dict):
        if not isinstance(stored, dict):
            return [_mismatch(path, stored, recomputed)]
        out = []
        for key in sorted(set(recomputed) | set(stored)):
            if key not in stored or key not in recomputed:
                out.append(_mismatch(f"{path}.{key}", stored.get(key), recomputed.get(key)))
            else:
                out.extend(mismatches(stored[key], recomputed[key], f"{path}.{key}"))
        return out
    if isinstance(recomputed, list):
        if not isinstance(stored, list) or len(stored) != len(recomputed):
            return [_mismatch(path, stored, recomputed)]
        return [
            v
            for i, (a, b) in enumerate(zip(stored, recomputed, strict=False))
            for v in mismatches(a, b, f"{path}[{i}]")
        ]
    if (
        isinstance(recomputed, float)
        and isinstance(stored, int | float)
        and not isinstance(stored, bool)
    ):
        if math.isclose(stored, recomputed, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(recomputed) and math.isnan(stored)
        ):
            return []
        return [_mismatch(path, stored, recomputed)]
    return [] if stored == recomputed else [_mismatch(path, stored, recomputed)]


def _mismatch(path: str, stored: Any, recomputed: Any) -> Violation:
    return Violation(
        rule="derived_mismatch",
        field=path,
        message=f"{path} is {stored!r} but its observations give {recomputed!r}",
        expected=repr(recomputed),
        found=repr(stored),
        fix="derived numbers are recomputed, not trusted: regrade instead of editing the file",
    )


def recompute_violations(result: dict, rule_set: Rules, file: str) -> list[Violation]:
    if result["verdict"]["status"] != "graded":
        return []
    try:
        derived = derive(result, rule_set)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        return [
            Violation(
                rule="observations_invalid",
                file=file,
                message=f"the stored observations cannot be re-derived: {exc}",
                fix="regrade the submission",
            )
        ]
    stored = {
        "baseline_derived": {
            k: result["baseline"]["metrics"].get(k) for k in derived["baseline_derived"]
        },
        "optimized_derived": {
            k: result["optimized"]["metrics"].get(k) for k in derived["optimized_derived"]
        },
        "improvements": result.get("improvements"),
        "techniques": result.get("techniques"),
        "code_quality_derived": {
            k: (result.get("code_quality") or {}).get(k) for k in derived["code_quality_derived"]
        },
        "events": result.get("events"),
        "flags": result.get("flags"),
    }
    found = mismatches(stored, derived)
    names = {
        "$.baseline_derived": "$.baseline.metrics",
        "$.optimized_derived": "$.optimized.metrics",
        "$.code_quality_derived": "$.code_quality",
    }
    return [
        Violation(
            **{
                **v.as_dict(),
                "file": file,
                "field": _rename(v.field or "", names),
                "message": _rename(v.message, names),
            }
        )
        for v in found
    ]


def _rename(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = text.replace(old, new)
    return text


# -- files -----------------------------------------------------------------------------------------
@functools.cache
def validator(schema_file: str = "result.schema.json") -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / schema_file).read_text())  # the grader's own format
    return jsonschema.Draft202012Validator(schema)


def schema_violations(
    doc: Any,
    file: str,
    schema_file: str = "result.schema.json",
    fix: str = "this file does not follow schemas/result.schema.json; regrade to produce a "
    "valid one",
) -> list[Violation]:
    """Every schema error of ``doc``, each named by its JSON path."""
    errors = sorted(validator(schema_file).iter_errors(doc), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors:
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(
            Violation(
                rule="schema",
                file=file,
                field=path,
                message=f"{path}: {err.message[:300]}",
                fix=fix,
            )
        )
    return out


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write(result: dict, path: Path, stdout: TextIO | None = None) -> None:
    """Validate, then write atomically: a half-written result never replaces a good one.
    The path ``-`` is ``stdout`` (the process's standard output by default)."""
    problems = schema_violations(result, str(path))
    if problems:
        raise ConfigError(f"refusing to write an invalid result to {path}", problems)
    try:
        text = dumps(result)
    except ValueError as exc:  # NaN or infinity: the schema says "number", JSON cannot
        raise ConfigError(f"refusing to write an invalid result to {path}: {exc}") from None
    if str(path) == "-":  # in one write
        stream = stdout or sys.stdout
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise ConfigError(f"{path}: {size} bytes is over the {MAX_RESULT_BYTES}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_json(data, path)


def parse_json(data: bytes, path: Path) -> Any:
    """A result's bytes as JSON: no NaN or infinity, not nested too deep, size-capped."""
    if len(data) > MAX_RESULT_BYTES:
        raise ConfigError(f"{path}: {len(data)} bytes is over the {MAX_RESULT_BYTES}-byte limit")
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid JSON: nested too deeply") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a result")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number in a result")
    return value


def check(result: Any, rule_set: Rules, file: str) -> list[Violation]:
    """Schema first (by version), then every derived number recomputed."""
    if not isinstance(result, dict):
        return [Violation(rule="schema", file=file, message="a result must be a JSON object")]
    version = result.get("schema_version")
    if version != SCHEMA_VERSION:
        return [
            Violation(
                rule="schema_version",
                file=file,
                field="$.schema_version",
                message=f"unknown schema_version {version!r}",
                expected=str(SCHEMA_VERSION),
                found=repr(version),
                fix="regrade with this grader, or use the grader that wrote it",
            )
        ]
    problems = schema_violations(result, file)
    return problems or recompute_violations(result, rule_set, file)
