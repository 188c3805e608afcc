"""The bundled example submissions, one honest optimized entry per workload, graded as a
student grades them: each is faster or smaller than its baseline in the way its README
says, keeps the baseline's accuracy, and its claimed techniques are found in its files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from grader.cli.main import main
from grader.config import check_submission, load_rules, project_root

ROOT = project_root()
RULES = load_rules()
# folder: (workload, techniques claimed and found, the fewest times faster, smaller)
# The speed an example gains is the CPU's and its BLAS kernels' as much as its own, so each
# bar sits under the least it measured anywhere: the ViT's full grades gave 1.91-1.97x on
# an AMD EPYC (2.4-2.8x on other machines), and its quick grade 1.83x and 1.94x here with
# OPENBLAS_CORETYPE=Prescott and NumPy's AVX2 and AVX-512 paths off; the int8 MLP's full
# grades 1.22-1.40x, the CNN's 2.88-4.83x.
EXAMPLES = {
    "example-int8": ("mlp_sprint", ["quantization"], 1.05, 3.5),
    "example-cnn-int8": ("cnn_marathon", ["quantization"], 2.0, 2.0),
    "example-vit-fp16": ("transformer_decathlon", ["float16"], 1.5, 1.6),
}


# A generation workload's: (workload, the fewest times faster per token over a walk)
TEXT_EXAMPLES = {"example-kv-cache": ("tinytalks", 4.0)}


def test_every_workload_has_an_example() -> None:
    examples = {w for w, *_ in EXAMPLES.values()} | {w for w, _ in TEXT_EXAMPLES.values()}
    assert examples == set(RULES.workloads)


@pytest.mark.slow
@pytest.mark.e2e
def test_the_kv_cache_example_grades_as_its_readme_says(tmp_path: Path) -> None:
    """Faster per token, at every context length more so the longer the context, with the
    baseline's perplexity and greedy answers (a quick grade: the greedy answers are asked
    once, so inference_speed is left to a full grade: only that rule is unmet, and the
    event is not judged)."""
    workload, faster = TEXT_EXAMPLES["example-kv-cache"]
    folder = ROOT / "submissions" / "example-kv-cache"
    out = tmp_path / "result.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["grade", str(folder), "--quick", "--seed", "5", "--json", str(out)],
                stdout, stderr)  # fmt: skip
    assert code == 0, stdout.getvalue()[-3000:] + stderr.getvalue()
    doc = json.loads(out.read_text())
    imp, sub, base = doc["improvements"], doc["optimized"]["metrics"], doc["baseline"]["metrics"]
    assert doc["submission"]["workload"] == workload and imp["speedup"] > faster, imp
    # The longer the context, the more the cache saves: its ends compared, 16 and 120 tokens
    # (3.5x against 16.8x in a full grade). Quick grades on a busy machine (2 cores) measured
    # 17.1x at 64 tokens and 9.8x at 120 (load 13), and 100x, 35.5x and 104x at 16, 64
    # and 120 (load 17, OPENBLAS_CORETYPE=Prescott), so the middle one is not ranked.
    by_context = [imp["speedup_by_context"][k]["speedup"] for k in ("16", "64", "120")]
    assert 1.5 < by_context[0] < by_context[2], by_context
    assert (
        abs(imp["perplexity_ratio"] - 1) < 1e-4 and abs(imp["filler_perplexity_ratio"] - 1) < 1e-4
    )
    assert sub["text"]["greedy"] == base["text"]["greedy"]
    assert doc["events"]["generation_quality"]["qualified"]
    speed = doc["events"]["inference_speed"]
    assert [r["id"] for r in speed["rules"] if not r["passed"]] == ["answers_agree"]
    assert speed["qualified"] is None and "not judged (quick)" in stdout.getvalue()
    assert doc["code_quality"]["findings"] == 0
    # A busy machine stretches the baseline's long steps more than the cache's short ones:
    # at load 15 on 2 cores this quick grade measured 50.5x (248x after 120 tokens), over
    # the warning's 50x. That warning is the load's; any other flag, or a disqualifying
    # one, is the example's.
    flags = doc["flags"]
    assert [f["id"] for f in flags if f["id"] != "token_speedup_suspicious"] == [], flags
    assert all(f["severity"] == "warn" for f in flags), flags


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.e2e
def test_each_example_grades_as_its_readme_says(name: str, tmp_path: Path) -> None:
    workload, found, faster, smaller = EXAMPLES[name]
    folder = ROOT / "submissions" / name
    submission, problems = check_submission(folder, RULES)
    assert problems == [] and submission is not None and submission.workload == workload
    out = tmp_path / "result.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["grade", str(folder), "--quick", "--seed", "5", "--json", str(out)],
                stdout, stderr)  # fmt: skip
    assert code == 0, stdout.getvalue()[-3000:] + stderr.getvalue()
    doc = json.loads(out.read_text())
    imp = doc["improvements"]
    # The speedup itself, not its interval's lower end: a quick grade on a busy machine
    # (blocks of 5 digits, seen at load 6) can widen the interval past any bound.
    assert imp["speedup"] > faster, imp
    assert imp["compression_ratio"] > smaller, imp
    assert imp["accuracy_delta"] >= -0.005
    assert doc["techniques"]["confirmed"] == found
    # its arrays shuffled, the model answers near chance (10 %): the ablation sees them used
    checks = doc["ablation"]["checks"]
    assert all(c["failure"] is None and c["agreed"] / c["compared"] < 0.2 for c in checks.values())
    assert doc["techniques"]["unconfirmed"] == []
    assert doc["code_quality"]["findings"] == 0
    # A quick grade beside other work can leave a real speedup short of significance (the
    # int8 example: p = 0.059 once, in CI beside two grades), or stretch the baseline's
    # longer blocks more than the example's (the CNN: 23.7x at load 12 on 2 cores, over
    # speedup_suspicious's 20x; 2.9-4.8x in full grades): those warnings are the load's.
    # Any other flag, or a disqualifying one, is the example's.
    flags = doc["flags"]
    by_load = {"speedup_not_significant", "speedup_suspicious"}
    assert [f["id"] for f in flags if f["id"] not in by_load] == [], flags
    assert all(f["severity"] == "warn" for f in flags), flags
    assert all(ev["qualified"] for ev in doc["events"].values())
