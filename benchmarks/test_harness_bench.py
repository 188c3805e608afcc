"""Benchmarks of the measuring harness, grading end to end, on this machine
(docs/DESIGN.md, Measurement).

    python -m pytest benchmarks/ -s --benchmark-enable   # minutes; prints a table of numbers

Every check compares numbers measured in the same run (ratios), never absolute times
against a constant: these 2-core machines are shared and noisy. In the test suite's smoke
mode (conftest.py) each runs one quick grade and checks only that its numbers come out.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchutil import finite, report

from grader import stats
from grader.config import project_root
from grader.data.workloads import as_inputs, get_workload, load_split
from grader.grade import grade
from grader.measure.plan import QUICK, Model, Plan
from grader.measure.referee import Referee

EXAMPLE = project_root() / "submissions" / "example-baseline"
pytestmark = pytest.mark.slow  # real grades, even in the smoke mode


def plan(smoke: bool, **changes) -> Plan:
    """A full grade's plan, or the quick one in the smoke mode; without the instruction
    counts, which these benchmarks do not measure (benchmarks/test_instructions_bench.py
    does)."""
    import dataclasses

    return dataclasses.replace(QUICK if smoke else Plan(), **{"count_samples": 0, **changes})


def speedups(docs: list[dict]) -> tuple[list[float], list[list[float]]]:
    return (
        [d["improvements"]["speedup"] for d in docs],
        [d["improvements"]["speedup_ci95"] for d in docs],
    )


def test_repeatability_of_identical_models(benchmark, rules, smoke) -> None:
    """5 grades of example-baseline: CV of the speedup <= 2 %, each in [0.9, 1.1]."""
    docs = []
    benchmark.pedantic(
        lambda: docs.append(grade(EXAMPLE, rules, plan(smoke), quick=smoke)), rounds=5, iterations=1
    )
    values, intervals = speedups(docs)
    cv = stats.coefficient_of_variation(values) if len(values) > 1 else 0.0
    contains = [lo <= 1.0 <= hi for lo, hi in intervals]
    walls = [d["measurement"]["wall_seconds"] for d in docs]
    benchmark.extra_info.update(speedups=values, intervals=intervals, cv=cv, contains_one=contains)
    report(
        "repeatability: example-baseline, 5 full grades",
        {
            "speedups": [round(v, 4) for v in values],
            "95% intervals": [[round(a, 4), round(b, 4)] for a, b in intervals],
            "CV of the speedup": f"{cv:.2%}",
            "intervals containing 1": f"{sum(contains)}/{len(docs)}",
            "wall time of a full grade (s)": [round(w, 1) for w in walls],
        },
    )
    assert docs and finite(*values, *(x for i in intervals for x in i), cv, *walls)
    if smoke:
        return
    assert all(0.9 <= v <= 1.1 for v in values)
    assert cv <= 0.02
    assert max(walls) <= 60


def test_a_5_percent_slower_model_is_reported_slower(benchmark, rules, slower_5pct, smoke) -> None:
    """A copy of the baseline made 5 % slower: slower at p < 0.05 in >= 9 of 10 grades."""
    docs = []
    benchmark.pedantic(
        lambda: docs.append(grade(slower_5pct, rules, plan(smoke), quick=smoke)),
        rounds=10,
        iterations=1,
    )
    values, _ = speedups(docs)
    p_slower = [d["improvements"]["speedup_p_value_slower"] for d in docs]
    detected = sum(p < 0.05 for p in p_slower)
    benchmark.extra_info.update(speedups=values, p_slower=p_slower, detected=detected)
    report(
        "sensitivity: baseline + 5 % busy wait, 10 full grades",
        {
            "speedups": [round(v, 4) for v in values],
            "p (slower)": [f"{p:.2g}" for p in p_slower],
            "reported slower at p < 0.05": f"{detected}/{len(docs)}",
        },
    )
    assert docs and finite(*values, *p_slower)
    if smoke:
        return
    assert detected >= 9


def test_true_2x(benchmark, rules, twice_baseline, smoke) -> None:
    """Submission = baseline, reference = baseline doing its work twice: speedup 2 +- 5 %."""
    docs = []
    benchmark.pedantic(
        lambda: docs.append(
            grade(EXAMPLE, rules, plan(smoke), quick=smoke, baseline_folder=twice_baseline)
        ),
        rounds=3,
        iterations=1,
    )
    values, intervals = speedups(docs)
    report(
        "accuracy of a known speedup: reference does the baseline's work twice",
        {
            "speedups": [round(v, 4) for v in values],
            "95% intervals": [[round(a, 4), round(b, 4)] for a, b in intervals],
        },
    )
    assert docs and finite(*values, *(x for i in intervals for x in i))
    if smoke:
        return
    assert all(abs(v - 2.0) <= 0.10 for v in values)


class Unchecked(Referee):
    """The referee without its caching check (grader/measure/caching.py), for the no-op
    model only: a model that does nothing has a calibrated latency of the clock's own
    noise, whose ratio between repeated and new digits the check would read as a cache (a
    full grade rejects it, bad_output).
    The residual is a property of the harness, not a verdict on a submission."""

    def check_caching(self, results) -> None:
        return None


def residual_of_a_noop(rules, folder, smoke: bool) -> float:
    """The no-op submission's calibrated latency over the baseline's, measured as a grade
    measures it (the same plan, children and subtraction)."""
    workload = get_workload(rules, "mlp_sprint")
    images, _ = load_split(rules, workload.dataset, "test")
    referee = Unchecked(
        as_inputs(images, workload), workload.classes, plan(smoke, throughput_batch=1),
        imports=rules.imports,
    )  # fmt: skip
    file, function = workload.entrypoint.split(":")
    measured = referee.measure(
        Model("baseline", workload.baseline, file, function, workload.baseline_files),
        Model("submission", folder, "model.py", "build_model", ("model.py",)),
    )
    base = float(np.median(measured.baseline.latency_samples_s))
    return float(np.median(measured.submission.latency_samples_s)) / base


def test_harness_cost_and_quick_grade(benchmark, rules, noop_model, smoke) -> None:
    """The harness's own cost per sample against the baseline's latency, and --quick time.

    Raw: the worker loop's cost (pipe read, call, copy), measured with a no-op model in
    every round and subtracted. Residual: what is left of it after the subtraction, seen
    as the calibrated latency of a submission that does nothing.
    """
    docs = []
    benchmark.pedantic(
        lambda: docs.append(grade(EXAMPLE, rules, QUICK, quick=True)), rounds=3, iterations=1
    )
    residual = [residual_of_a_noop(rules, noop_model, smoke) for _ in range(1 if smoke else 3)]
    raw = []
    for d in docs:
        b = d["baseline"]["metrics"]
        raw.append(b["harness_overhead_ms_per_sample"] / b["latency_ms"]["median"])
    walls = [d["measurement"]["wall_seconds"] for d in docs]
    report(
        "harness cost and --quick",
        {
            "baseline latency (µs)": [
                round(d["baseline"]["metrics"]["latency_ms"]["median"] * 1e3, 2) for d in docs
            ],
            "raw loop cost per sample / baseline latency (subtracted)": [f"{f:.1%}" for f in raw],
            "residual after subtraction (no-op submission) / baseline latency": [
                f"{f:.2%}" for f in residual
            ],
            "wall time of --quick (s)": [round(w, 1) for w in walls],
        },
    )
    assert docs and finite(*raw, *residual, *walls)
    if smoke:
        return
    assert max(walls) <= 15
    assert max(residual) <= 0.01


def test_every_workload_grades_a_copy_of_its_baseline_as_even(
    benchmark, rules, tmp_path, smoke
) -> None:
    """Each classification workload (generation has its own benchmark,
    test_generation_bench.py), entered in every event open to it and graded with its own
    baseline copied as the submission (3 full grades): the speedup of identical models within
    [0.9, 1.1], the harness's raw cost per sample against the baseline's latency, and the wall
    time of a full grade."""
    import shutil

    from grader.cli.scaffold import init
    from grader.crosschecks import event_protocols

    shutil.copytree(project_root() / "baselines", tmp_path / "baselines")
    rows, docs = {}, {}
    graded_here = [n for n, w in rules.workloads.items() if w.get("protocol") != "generation"]
    events = [e for e, spec in rules.events.items() if "classification" in event_protocols(spec)]
    for workload in graded_here:
        folder = init(f"even-{workload.replace('_', '-')}", workload, events, rules,
                      tmp_path, ["octocat"])  # fmt: skip
        docs[workload] = [
            grade(folder, rules, plan(smoke), quick=smoke) for _ in range(1 if smoke else 3)
        ]
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the grades above are the runs
    for workload, graded in docs.items():
        values, intervals = speedups(graded)
        base = [d["baseline"]["metrics"] for d in graded]
        cost = [b["harness_overhead_ms_per_sample"] / b["latency_ms"]["median"] for b in base]
        rows[workload] = {
            "baseline latency (µs)": [round(b["latency_ms"]["median"] * 1e3, 1) for b in base],
            "speedups": [round(v, 4) for v in values],
            "95% intervals": [[round(a, 4), round(b, 4)] for a, b in intervals],
            "raw loop cost / baseline latency": [f"{c:.1%}" for c in cost],
            "block size": [d["measurement"]["block_size"] for d in graded],
            "wall time (s)": [round(d["measurement"]["wall_seconds"], 1) for d in graded],
        }
        report(f"{workload}: its baseline against a copy of itself, {len(graded)} grades",
               rows[workload])  # fmt: skip
        assert finite(*values, *cost, *(x for i in intervals for x in i)), workload
    benchmark.extra_info.update(rows)
    if smoke:
        return
    for workload, graded in docs.items():
        assert all(0.9 <= d["improvements"]["speedup"] <= 1.1 for d in graded), workload
        assert all(d["measurement"]["wall_seconds"] <= 60 for d in graded), workload
