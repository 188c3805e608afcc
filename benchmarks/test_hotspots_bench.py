"""Where the time goes (docs/DESIGN.md, Where the time goes): what the profiled children add
to a full grade, and what they find, for a digit baseline copy, the vision transformer in
float16 and the TinyTalks baseline copy.

    python -m pytest benchmarks/test_hotspots_bench.py -s --benchmark-enable
"""

from __future__ import annotations

import dataclasses

import pytest

from grader.config import project_root
from grader.grade import grade
from grader.measure.plan import QUICK, Plan
from grader.sandbox import cachegrind

SUBMISSIONS = project_root() / "submissions"
EXAMPLES = ("example-baseline", "example-vit-fp16", "example-tinytalks-baseline")
VALGRIND = cachegrind.find()
pytestmark = [
    pytest.mark.slow,  # real profiled and counted children, even in the smoke mode
    pytest.mark.skipif(isinstance(VALGRIND, str), reason=f"no valgrind: {VALGRIND}"),
]


def described(doc: dict) -> str:
    """Each model's three largest lines and its buckets, as one block of text."""
    out = []
    for side in ("baseline", "optimized"):
        spots = doc[side]["metrics"]["hotspots"]
        top = ", ".join(
            f"{x['file']}:{x['line']} {x['function']} {x['share']:.1%}" for x in spots["lines"][:3]
        )
        buckets = spots["buckets"] and {k: round(v, 3) for k, v in spots["buckets"].items()}
        out.append(f"   {side}: {top}; buckets {buckets or spots['why_absent']}")
    return "\n".join(out)


def test_what_the_hot_spots_add_to_a_full_grade(benchmark, rules, smoke) -> None:
    """A full grade of each example: the profiled pass (two children, one block each, and
    the counted runs read by library) adds a few seconds; the submission's top line is a
    line of its own model."""
    names = EXAMPLES[:1] if smoke else EXAMPLES
    plan = dataclasses.replace(QUICK, count_samples=16) if smoke else Plan()
    docs: dict[str, dict] = {}
    benchmark.pedantic(
        lambda: docs.update({n: grade(SUBMISSIONS / n, rules, plan) for n in names}),
        rounds=1,
        iterations=1,
    )
    seconds = {n: d["hotspots"]["wall_seconds"] for n, d in docs.items()}
    benchmark.extra_info.update(seconds=seconds)
    for name, doc in docs.items():
        print(
            f"\n== where the time goes, {name}: the pass adds {seconds[name]:.1f} s "
            f"(the grade's measurement {doc['measurement']['wall_seconds']:.1f} s)\n"
            + described(doc)
        )
        assert doc["optimized"]["metrics"]["hotspots"]["lines"][0]["file"].endswith(".py")
    if not smoke:
        assert max(seconds.values()) <= 15
