"""The instruction counts (docs/DESIGN.md, Instruction counts): their spread over repeated
full grades, the time the counting pass adds to a grade, and how the instruction ratio
follows the wall-time speedup over the example submissions; the same for the generation
workload (tinytalks: instructions per token).

    python -m pytest benchmarks/test_instructions_bench.py -s --benchmark-enable
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from benchutil import BIGRAM

from grader.config import project_root
from grader.data import probes, text
from grader.grade import grade
from grader.measure import textcount
from grader.measure.generation import GenerationReferee
from grader.measure.plan import QUICK, GenerationPlan, Model, Plan
from grader.result import counts
from grader.sandbox import cachegrind

SUBMISSIONS = project_root() / "submissions"
EXAMPLES = ("example-baseline", "example-int8", "example-cnn-int8", "example-vit-fp16")
TEXT_EXAMPLES = ("example-tinytalks-baseline", "example-kv-cache")
VALGRIND = cachegrind.find()
pytestmark = [
    pytest.mark.slow,  # real counted children under valgrind, even in the smoke mode
    pytest.mark.skipif(isinstance(VALGRIND, str), reason=f"no valgrind: {VALGRIND}"),
]


def plan(smoke: bool) -> Plan:
    """A full grade's plan; in the smoke mode a quick grade's, counting small blocks."""
    return dataclasses.replace(QUICK, count_samples=16) if smoke else Plan()


def counted(doc: dict) -> tuple[float, float, float]:
    """(baseline per sample, submission per sample, the counting pass's seconds)."""
    found = doc["instructions"]
    assert found["counted"], found["reason"]
    per = [doc[side]["metrics"]["instructions_per_sample"] for side in ("baseline", "optimized")]
    return per[0], per[1], found["wall_seconds"]


def test_spread_of_the_counts_and_what_they_cost(benchmark, rules, smoke) -> None:
    """3 full grades of example-int8: each model's instructions per sample vary by under
    0.1 % between them; the counting pass adds at most 60 s."""
    docs: list[dict] = []
    benchmark.pedantic(
        lambda: docs.append(grade(SUBMISSIONS / "example-int8", rules, plan(smoke))),
        rounds=1 if smoke else 3,
        iterations=1,
    )
    rows = np.array([counted(d) for d in docs])
    spread = (rows[:, :2].max(axis=0) - rows[:, :2].min(axis=0)) / rows[:, :2].mean(axis=0)
    benchmark.extra_info.update(per_sample=rows[:, :2].tolist(), seconds=rows[:, 2].tolist())
    print(
        f"\n== instruction counts, example-int8, {len(docs)} grades\n"
        f"   baseline per sample: {rows[:, 0].round(1).tolist()}\n"
        f"   submission per sample: {rows[:, 1].round(1).tolist()}\n"
        f"   spread (max - min) / mean: {spread[0]:.4%}, {spread[1]:.4%}\n"
        f"   counting pass (s): {rows[:, 2].round(1).tolist()}"
    )
    assert np.isfinite(rows).all()
    if smoke:
        return
    assert (spread < 1e-3).all()
    assert rows[:, 2].max() <= 60


def test_instruction_ratio_against_wall_time_speedup(benchmark, rules, smoke) -> None:
    """One full grade of each example: the instruction ratio beside the speedup, and their
    correlation (Pearson's, on the logs)."""
    if smoke:
        pytest.skip("four full grades: run with --benchmark-enable")
    docs = {}
    benchmark.pedantic(
        lambda: docs.update(
            {n: grade(SUBMISSIONS / n, rules, Plan()) for n in EXAMPLES + TEXT_EXAMPLES}
        ),
        rounds=1,
        iterations=1,
    )
    pairs = {
        n: (d["improvements"]["instruction_ratio"], d["improvements"]["speedup"])
        for n, d in docs.items()
    }
    logs = np.log(np.array(list(pairs.values())))
    r = float(np.corrcoef(logs[:, 0], logs[:, 1])[0, 1])
    print("\n== instruction ratio against wall-time speedup")
    for n, (ratio, speedup) in pairs.items():
        print(f"   {n}: ratio {ratio:.3f}, speedup {speedup:.3f}")
    print(f"   correlation of the logs: {r:.3f}")
    assert np.isfinite(logs).all()


def smoke_count(root: Path, rules) -> dict:
    """The counting pass alone, over 16 tokens of a walk of two bigram stand-ins timed in one
    small session (a full generation grade takes minutes)."""
    models = []
    for name in ("stand-in-baseline", "stand-in"):
        (root / name).mkdir()
        (root / name / "model.py").write_text(BIGRAM)
        models.append(Model(name, root / name, "model.py", "build_model", ("model.py",)))
    data = project_root() / "data" / "tinytalks"
    filler = probes.scrambled(text.load_split(data, "train") + text.load_split(data, "val"), 1)
    gplan = GenerationPlan(sessions=1, replays=0, probes=0, calibration_blocks=2, count_steps=16)
    ref = GenerationReferee(
        text.load_split(data, "test")[:2], filler, text.VOCAB_SIZE, gplan, seed=1,
        imports=rules.imports,
    )  # fmt: skip
    measured = ref.measure(*models)
    found = textcount.StepCount(ref, VALGRIND, time.perf_counter).count(*models, measured)
    c = counts.per_sample(found)
    return {
        "instructions": found,
        "baseline": {"metrics": {"instructions_per_sample": c.baseline}},
        "optimized": {"metrics": {"instructions_per_sample": c.optimized}},
        "improvements": {"instruction_ratio": c.ratio},
    }


def test_generation_counts_spread_and_cost(benchmark, rules, smoke, tmp_path) -> None:
    """3 full grades of example-tinytalks-baseline (a copy of the baseline): each model's
    instructions per token vary by under 0.1 % between them, the ratio is 1 within 0.1 %,
    and the counting pass adds at most 60 s."""
    docs: list[dict] = []
    if smoke:
        benchmark.pedantic(lambda: docs.append(smoke_count(tmp_path, rules)), rounds=1)
    else:
        folder = SUBMISSIONS / "example-tinytalks-baseline"
        benchmark.pedantic(
            lambda: docs.append(grade(folder, rules, Plan())), rounds=3, iterations=1
        )
    rows = np.array([counted(d) for d in docs])
    ratios = [d["improvements"]["instruction_ratio"] for d in docs]
    spread = (rows[:, :2].max(axis=0) - rows[:, :2].min(axis=0)) / rows[:, :2].mean(axis=0)
    benchmark.extra_info.update(per_token=rows[:, :2].tolist(), seconds=rows[:, 2].tolist())
    print(
        f"\n== instruction counts per token, example-tinytalks-baseline, {len(docs)} grades"
        + (" (smoke: bigram stand-ins, 16 tokens)" if smoke else "")
        + f"\n   baseline per token: {rows[:, 0].round(1).tolist()}\n"
        f"   submission per token: {rows[:, 1].round(1).tolist()}\n"
        f"   ratio: {np.round(ratios, 5).tolist()}\n"
        f"   spread (max - min) / mean: {spread[0]:.4%}, {spread[1]:.4%}\n"
        f"   counting pass (s): {rows[:, 2].round(1).tolist()}"
    )
    assert np.isfinite(rows).all()
    if smoke:
        return
    assert (spread < 1e-3).all()
    assert all(abs(r - 1) < 1e-3 for r in ratios)
    assert rows[:, 2].max() <= 60
