"""The competition's earlier result format (``submission_type: capstone_benchmark``).

Written by TinyTorch's own capstone code (``tinytorch/olympics.py``, the 20_capstone
module): ``baseline.metrics`` and ``optimized.metrics`` with ``latency_ms_mean`` (and, in
later versions, ``latency_ms_median``), ``model_size_mb`` and ``accuracy``, and
``improvements`` with ``speedup``, ``compression_ratio`` and ``accuracy_delta``. Those
numbers were reported by the student's own process, so they rank nothing here; but a
student's existing capstone output validates, its improvements are recomputed from its
metrics as that code computes them, and the competition's plausibility limits apply.
"""

from __future__ import annotations

import math

from grader import rules
from grader.config import Rules
from grader.errors import Violation
from grader.result import verify

SUBMISSION_TYPE = "capstone_benchmark"


def is_legacy(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("submission_type") == SUBMISSION_TYPE


def improvements(baseline: dict, optimized: dict) -> dict:
    """As the capstone code computes them: medians when both reports have them, else means."""
    key = (
        "latency_ms_median"
        if "latency_ms_median" in baseline and "latency_ms_median" in optimized
        else "latency_ms_mean"
    )
    return {
        "speedup": baseline[key] / optimized[key],
        "compression_ratio": baseline["model_size_mb"] / optimized["model_size_mb"],
        "accuracy_delta": optimized["accuracy"] - baseline["accuracy"],
    }


def check(doc: dict, rule_set: Rules, file: str) -> list[Violation]:
    problems = verify.schema_violations(
        doc,
        file,
        "legacy_capstone.schema.json",
        fix="follow the capstone_benchmark format (schemas/legacy_capstone.schema.json)",
    )
    if problems or "optimized" not in doc:
        return problems
    derived = improvements(doc["baseline"]["metrics"], doc["optimized"]["metrics"])
    for name, value in derived.items():
        stored = doc["improvements"][name]
        if not math.isclose(stored, value, rel_tol=1e-9, abs_tol=1e-12):
            problems.append(
                Violation(
                    rule="derived_mismatch",
                    file=file,
                    field=f"$.improvements.{name}",
                    message=f"$.improvements.{name} is {stored!r} but the metrics give {value!r}",
                    expected=repr(value),
                    found=repr(stored),
                    fix="improvements are recomputed from the metrics, not trusted",
                )
            )
    flat = {**derived, "accuracy": doc["optimized"]["metrics"]["accuracy"]}
    for flag in rules.raise_flags(rule_set.flags, flat):
        if flag["severity"] == "disqualify":
            problems.append(
                Violation(
                    rule=flag["id"],
                    file=file,
                    field=f"$.improvements.{flag['metric']}",
                    message=flag["message"],
                    expected=f"{flag['metric']} <= {flag['threshold']}",
                    found=repr(flag["value"]),
                    fix="check the measurement; the competition refuses such results",
                )
            )
    return problems
