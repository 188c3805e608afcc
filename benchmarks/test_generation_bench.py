"""Benchmarks of the generation measurement, grading end to end, on this machine
(docs/DESIGN.md, Generation).

    python -m pytest benchmarks/test_generation_bench.py -s --benchmark-enable

Each compares numbers measured in the same run (ratios), never an absolute time against a
constant, except the wall times the issue states as budgets, which are reported and
checked only when measuring for real. In the test suite's smoke mode every benchmark runs
once, quick, with a bigram model standing in for the tinytalks baseline (seconds, not
minutes), and checks only that its numbers come out.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import pytest
from benchutil import BIGRAM, finite, report

from grader import stats
from grader.config import project_root
from grader.grade import grade
from grader.measure.plan import QUICK

BASELINE = project_root() / "baselines" / "tinytalks"
KV_CACHE = project_root() / "submissions" / "example-kv-cache"
pytestmark = pytest.mark.slow  # real grades, even in the smoke mode

YAML = (
    "team: {team}\nmembers: [bench]\nworkload: tinytalks\nevents: [inference_speed]\n"
    "entrypoint: model.py:build_model\n"
)
TWICE = '''
import numpy as np
from base import build_model as build_base


class Twice:
    """The baseline doing each step's work twice: the reference for a true 2x speedup."""

    def __init__(self, model):
        self.model = model

    def reset(self, batch):
        self.model.reset(batch)

    def step(self, tokens):
        scores = self.model.step(tokens)
        self.model.forward(self.model.prefix)  # the whole prefix again
        return scores


def build_model():
    return Twice(build_base())
'''


def folder(root: Path, team: str, smoke: bool, source: str | None = None) -> Path:
    """A submission folder: the tinytalks baseline's files (or a bigram in the smoke mode),
    ``source`` as model.py over the baseline's own as base.py where given."""
    made = root / team
    made.mkdir()
    if smoke:
        (made / "model.py").write_text(BIGRAM)
    else:
        shutil.copy(BASELINE / "weights.npz", made / "weights.npz")
        if source is None:
            shutil.copy(BASELINE / "model.py", made / "model.py")
        else:
            shutil.copy(BASELINE / "model.py", made / "base.py")
            (made / "model.py").write_text(source)
    (made / "submission.yaml").write_text(YAML.format(team=team))
    return made


def run(path: Path, rules, smoke: bool, quick: bool, baseline: Path | None = None) -> dict:
    """One grade; in the smoke mode a quick one against a bigram stand-in baseline. The
    whole grade's wall time (loading, walks, instruction counts, hot spots, analysis) is
    kept as ``doc["bench_wall_s"]``, beside the walks' own ``measurement.wall_seconds``."""
    if smoke:
        baseline = baseline or folder(path.parent, "stand-in-" + path.name, True)
    start = time.perf_counter()
    doc = grade(path, rules, QUICK, quick=quick or smoke, baseline_folder=baseline)
    doc["bench_wall_s"] = time.perf_counter() - start
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    return doc


def test_repeatability_of_the_baseline_against_a_copy(benchmark, rules, smoke, tmp_path) -> None:
    """5 full grades of a copy of the baseline: CV of the speedup <= 1 %, every interval
    containing 1; the harness's cost per token <= 1 % of the baseline's latency per token;
    a full grade within 90 s (the median of the five; the whole grade, not only its walks)."""
    copy = folder(tmp_path, "copy", smoke)
    docs: list[dict] = []
    benchmark.pedantic(
        lambda: docs.append(run(copy, rules, smoke, quick=False)), rounds=5, iterations=1
    )
    values = [d["improvements"]["speedup"] for d in docs]
    intervals = [d["improvements"]["speedup_ci95"] for d in docs]
    cv = stats.coefficient_of_variation(values) if len(values) > 1 else 0.0
    contains = [lo <= 1.0 <= hi for lo, hi in intervals]
    cost = [
        d["baseline"]["metrics"]["harness_overhead_ms_per_sample"]
        / d["baseline"]["metrics"]["latency_ms"]["median"]
        for d in docs
    ]
    walls = [d["bench_wall_s"] for d in docs]
    walks = [d["measurement"]["wall_seconds"] for d in docs]
    report(
        "repeatability: the tinytalks baseline against a copy, 5 full grades",
        {
            "speedups": [round(v, 4) for v in values],
            "95% intervals": [[round(a, 4), round(b, 4)] for a, b in intervals],
            "CV of the speedup": f"{cv:.2%}",
            "intervals containing 1": f"{sum(contains)}/{len(docs)}",
            "harness cost / baseline latency per token": [f"{c:.2%}" for c in cost],
            "by context": [
                {
                    k: round(v["speedup"], 3)
                    for k, v in d["improvements"]["speedup_by_context"].items()
                }
                for d in docs
            ],
            "wall time of a full grade (s)": [round(w, 1) for w in walls],
            "of which the timed walks (s)": [round(w, 1) for w in walks],
        },
    )
    assert docs and finite(*values, cv, *cost, *walls, *walks)
    if smoke:
        return
    assert cv <= 0.01 and all(contains)
    assert max(cost) <= 0.01
    assert statistics.median(walls) <= 90  # a neighbour's burst moves one grade, not the median


def test_true_2x(benchmark, rules, smoke, tmp_path) -> None:
    """The baseline doing each step twice as the reference: the copy's speedup within 5 % of 2."""
    copy = folder(tmp_path, "copy", smoke)
    twice = folder(tmp_path, "twice", smoke, TWICE)
    docs: list[dict] = []
    benchmark.pedantic(
        lambda: docs.append(run(copy, rules, smoke, quick=False, baseline=twice)),
        rounds=3,
        iterations=1,
    )
    values = [d["improvements"]["speedup"] for d in docs]
    report(
        "a known speedup: the reference steps the baseline twice",
        {
            "speedups": [round(v, 4) for v in values],
            "95% intervals": [
                [round(a, 4), round(b, 4)]
                for a, b in (d["improvements"]["speedup_ci95"] for d in docs)
            ],
        },
    )
    assert docs and finite(*values)
    if smoke:
        return
    assert all(abs(v - 2.0) <= 0.10 for v in values)


def test_the_kv_cache_example_by_context_length(benchmark, rules, smoke, tmp_path) -> None:
    """submissions/example-kv-cache: its speedup after 16, 64 and 120 tokens (reported)."""
    if not KV_CACHE.exists() and not smoke:
        pytest.skip("no submissions/example-kv-cache in this checkout")
    path = folder(tmp_path, "kv", True) if smoke else KV_CACHE
    docs: list[dict] = []
    benchmark.pedantic(lambda: docs.append(run(path, rules, smoke, quick=False)), rounds=1)
    imp = docs[0]["improvements"]
    by_context = {k: round(v["speedup"], 3) for k, v in imp["speedup_by_context"].items()}
    report(
        "the KV cache example against the baseline",
        {
            "speedup per token (whole walk)": round(imp["speedup"], 3),
            "by context": by_context,
            "tokens/s (baseline, example)": (
                round(docs[0]["baseline"]["metrics"]["tokens_per_s"]),
                round(docs[0]["optimized"]["metrics"]["tokens_per_s"]),
            ),
        },
    )
    assert finite(imp["speedup"], *by_context.values())


def test_quick_grade_wall_time(benchmark, rules, smoke, tmp_path) -> None:
    """A quick grade of a copy of the baseline: within 15 s (reported; checked for real)."""
    copy = folder(tmp_path, "copy", smoke)
    docs: list[dict] = []
    benchmark.pedantic(lambda: docs.append(run(copy, rules, smoke, quick=True)), rounds=1)
    wall = docs[0]["bench_wall_s"]
    report(
        "wall time of a quick grade",
        {
            "seconds": round(wall, 1),
            "of which the walks": round(docs[0]["measurement"]["wall_seconds"], 1),
        },
    )
    assert finite(wall)
    if not smoke:
        assert wall <= 15
