"""An untrusted result file checked: against the schema of its version, then every derived
number recomputed from its observations and compared with what the file says
(docs/DESIGN.md, Owners of the numbers). A number that does not match is refused with its
JSON path.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import jsonschema

from grader.config import SCHEMA_DIR, Rules
from grader.errors import Violation
from grader.result import build, derive


# -- stored against recomputed ------------------------------------------------------
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
        derived = derive.derive(result, rule_set)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        return [
            Violation(
                rule="observations_invalid",
                file=file,
                message=f"the stored observations cannot be re-derived: {exc}",
                fix="regrade the submission",
            )
        ]
    return [
        Violation(**{**v.as_dict(), "file": file})
        for v in mismatches(derive.stored_part(result, derived), derived)
    ]


# -- the schema ------------------------------------------------------------------------------------
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


def check(result: Any, rule_set: Rules, file: str) -> list[Violation]:
    """Schema first (by version), then every derived number recomputed."""
    if not isinstance(result, dict):
        return [Violation(rule="schema", file=file, message="a result must be a JSON object")]
    version = result.get("schema_version")
    if version != build.SCHEMA_VERSION:
        return [
            Violation(
                rule="schema_version",
                file=file,
                field="$.schema_version",
                message=f"unknown schema_version {version!r}",
                expected=str(build.SCHEMA_VERSION),
                found=repr(version),
                fix="regrade with this grader, or use the grader that wrote it",
            )
        ]
    problems = schema_violations(result, file)
    return problems or recompute_violations(result, rule_set, file)
