"""The ``olympics`` command run in-process, with its streams captured (``main(argv, stdout,
stderr)``: no subprocess), and read as a test reads it."""

from __future__ import annotations

import io
from collections.abc import Callable

from grader.cli.main import main

Run = Callable[..., tuple[int, str, str]]


def flat(text: str) -> str:
    """``text`` with each run of whitespace one space and none at the ends: a message the
    same whatever width a console wrapped it at."""
    return " ".join(text.split())


def runner(*, flat_out: bool = False, flat_err: bool = False) -> Run:
    """``run(*argv)`` -> (exit code, stdout, stderr), each stream as written or ``flat``:
    flat where a test reads sentences, as written where it reads lines or JSON."""

    def run(*argv: str) -> tuple[int, str, str]:
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout, stderr)
        out, err = stdout.getvalue(), stderr.getvalue()
        return code, flat(out) if flat_out else out, flat(err) if flat_err else err

    return run
