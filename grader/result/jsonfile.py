"""A result as a file: dumped as the project writes every JSON (sorted keys, indented),
written only when valid and atomically, and read size-capped and strictly (no NaN or
infinity, no nesting too deep): a stored result is untrusted input until
:mod:`grader.result.verify` has checked it (docs/DESIGN.md, Trust boundaries).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from grader.errors import ConfigError
from grader.result import verify

MAX_RESULT_BYTES = 8 * 1024 * 1024


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write(result: dict, path: Path, stdout: TextIO | None = None) -> None:
    """Validate, then write atomically: a half-written result never replaces a good one.
    The path ``-`` is ``stdout`` (the process's standard output by default)."""
    problems = verify.schema_violations(result, str(path))
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
