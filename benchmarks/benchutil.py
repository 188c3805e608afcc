"""What the benchmarks share: a check that their numbers came out, and their report."""

from __future__ import annotations

import math


def finite(*values: float) -> bool:
    """Every value a finite number: what the smoke mode checks of a benchmark's numbers."""
    return all(isinstance(v, float | int) and math.isfinite(v) for v in values)


def report(title: str, rows: dict) -> None:
    """The numbers of one benchmark, printed for the note (``-s``)."""
    print(f"\n== {title}")
    for key, value in rows.items():
        print(f"   {key}: {value}")
