"""Instructions per sample and the instruction ratio, derived from the counts a result
stores (docs/DESIGN.md, Instruction counts): recomputed on every read, as every number.

The section stores each counted run whole: its blocks (``noop`` or ``model``, each of
``samples`` digits) and cachegrind's count from start to exit. Runs of one model that
differ by their last block differ by that block's instructions
(``grader/measure/instructions.py``):

- the loop's own cost per sample: (baseline ``noop model noop`` - ``noop model``) / samples;
- a model's per sample: (``noop model model`` - ``noop model``) / samples, minus the loop's.

The ratio is the baseline's per sample over the submission's (higher is better, as a
speedup). Pure functions: numbers in, numbers out.
"""

from __future__ import annotations

from typing import NamedTuple

BASE = ("noop", "model")
TWICE = ("noop", "model", "model")
LOOP = ("noop", "model", "noop")


class Counted(NamedTuple):
    """The derived numbers: each model's instructions per sample (the worker loop's own
    taken off), the loop's, and the ratio."""

    baseline: float
    optimized: float
    harness: float
    ratio: float | None  # None where the submission's per sample is not positive


def count_of(runs: list[dict], blocks: tuple[str, ...], side: str) -> int:
    """The count of the run of ``blocks`` among ``runs``; a missing or repeated run is an
    invalid observation."""
    found = [r["instructions"] for r in runs if tuple(r["blocks"]) == blocks]
    if len(found) != 1:
        raise ValueError(f"instructions.runs.{side} holds {len(found)} runs of {list(blocks)}")
    return int(found[0])


def per_sample(section: dict) -> Counted:
    """Instructions per sample of both models and of the loop, and the ratio."""
    n = section["samples"]
    if n < 1:
        raise ValueError("instructions.samples must be at least 1")
    runs = section["runs"]
    base = runs["baseline"]
    loop = (count_of(base, LOOP, "baseline") - count_of(base, BASE, "baseline")) / n

    def model(side: str) -> float:
        mine = runs[side]
        return (count_of(mine, TWICE, side) - count_of(mine, BASE, side)) / n - loop

    baseline, optimized = model("baseline"), model("optimized")
    ratio = baseline / optimized if optimized > 0 else None
    return Counted(baseline, optimized, loop, ratio)


def derived(section: dict | None) -> tuple[dict, dict, dict] | None:
    """What a result's ``instructions`` section adds to the baseline's metrics, the
    submission's, and the improvements; None where the result has no such section (a
    result from before the counts, or a quick grade)."""
    if section is None:
        return None
    if not section["counted"]:
        none = {"instructions_per_sample": None, "harness_instructions_per_sample": None}
        return none, dict(none), {"instruction_ratio": None}
    c = per_sample(section)
    return (
        {"instructions_per_sample": c.baseline, "harness_instructions_per_sample": c.harness},
        {"instructions_per_sample": c.optimized, "harness_instructions_per_sample": c.harness},
        {"instruction_ratio": c.ratio},
    )


def over_speedup(improvements: dict) -> float | None:
    """The instruction ratio over the wall-time speedup, where both were measured: near 1 for
    a model whose counted work is its timed work (0.4-1.3 for the examples here), far above
    it for one that does less under valgrind than when timed. Only the flags read it
    (docs/DESIGN.md, Instruction counts)."""
    ratio, speedup = improvements.get("instruction_ratio"), improvements.get("speedup")
    if not isinstance(ratio, float | int) or not isinstance(speedup, float | int) or speedup <= 0:
        return None
    return ratio / speedup
