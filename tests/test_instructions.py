"""The instruction counts (docs/DESIGN.md, Instruction counts): cachegrind's output read from
a real run, the per-sample numbers derived from the counted runs and recomputed on read, a
grade without valgrind, and, in real counted children (slow), determinism across grades, a
model that does twice the work, and a sandbox layer off.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from golden import golden_result

from grader.config import Rules, project_root
from grader.errors import CountFileError, InstructionsMissing
from grader.grade import find_valgrind, grade
from grader.measure.instructions import (
    RUNS,
    InstructionCount,
    counted_samples,
    samples_per_block,
)
from grader.measure.plan import Model, Plan
from grader.measure.referee import Referee
from grader.render import card
from grader.result import counts, derive, jsonfile, verify
from grader.sandbox import cachegrind
from grader.sandbox.launch import Limits

ROOT = project_root()
BASELINE = ROOT / "baselines" / "mlp_sprint"
VALGRIND = cachegrind.find()
needs_valgrind = pytest.mark.skipif(
    isinstance(VALGRIND, str), reason=f"no valgrind to count with: {VALGRIND}"
)


# -- cachegrind's output file ---------------------------------------------------------------
@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[str, int]:
    """cachegrind's output of a real run of a small program, and the total valgrind
    printed for it."""
    if isinstance(VALGRIND, str):
        pytest.skip(VALGRIND)
    out = tmp_path_factory.mktemp("cg") / "cachegrind.out"
    done = subprocess.run(
        [VALGRIND.program, *cachegrind.TOOL_OPTIONS, f"--cachegrind-out-file={out}",
         "/bin/echo", "counted"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "VALGRIND_LIB": VALGRIND.libdir},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    assert printed, done.stderr
    return out.read_text(), int(printed.group(1).replace(",", ""))


def test_the_count_read_from_a_real_file_is_what_valgrind_printed(real_run) -> None:
    text, printed = real_run
    found = cachegrind.parse(text)
    assert found.events == ("Ir",)
    assert found.instructions == printed > 10_000
    assert "/bin/echo counted" in found.command
    assert sum(found.functions.values()) == printed  # each function's share, summed


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        pytest.param(lambda t: t[: len(t) // 2], "summary", id="truncated"),
        pytest.param(lambda t: re.sub(r"summary: \d+", "summary: 7", t), "not the sum",
                     id="edited"),
        pytest.param(lambda t: t.replace("events: Ir", "events: Dr"), "not instructions",
                     id="event"),
        pytest.param(lambda t: t + "garbage line\n", "not cachegrind's format", id="garbage"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_whole_count_is_refused(real_run, edit, words) -> None:
    with pytest.raises(CountFileError, match=words):
        cachegrind.parse(edit(real_run[0]))


def test_an_empty_file_is_refused_with_its_path(tmp_path: Path) -> None:
    empty = tmp_path / "cachegrind.out"
    empty.touch()
    with pytest.raises(CountFileError, match="wrote nothing"):
        cachegrind.read(empty)


# -- the numbers derived from the runs ----------------------------------------------------
def section(base: tuple[int, int, int], sub: tuple[int, int], samples: int = 100) -> dict:
    """A counted section whose runs are A, B, C of the baseline and A, B of the submission."""
    return {
        "counted": True,
        "reason": None,
        "valgrind": "valgrind-3.19.0",
        "tool": "--tool=cachegrind --cache-sim=no",
        "warmup_samples": 8,
        "samples": samples,
        "runs": {
            "baseline": [
                {"blocks": list(b), "instructions": c}
                for b, c in zip(RUNS["baseline"], base, strict=True)
            ],
            "optimized": [
                {"blocks": list(b), "instructions": c}
                for b, c in zip(RUNS["optimized"], sub, strict=True)
            ],
        },
        "agreement": {"agreed": 300, "compared": 300},
        "dispatch": {"native": None, "valgrind": None},
        "sandbox": {"syscalls": "seccomp: …"},
        "wall_seconds": 30.0,
    }


def test_the_loop_is_subtracted_from_both_models() -> None:
    # Start-up 1,000,000; the loop 500 a sample; the baseline 9,500 more, the submission 4,500.
    base = (1_000_000 + 100 * 500 + 100 * 10_000, 0, 0)
    base = (base[0], base[0] + 100 * 10_000, base[0] + 100 * 500)
    sub = (2_000_000 + 100 * 500 + 100 * 5_000, 2_000_000 + 100 * 500 + 200 * 5_000)
    found = counts.per_sample(section(base, sub))
    assert found.harness == 500
    assert found.baseline == 9_500
    assert found.optimized == 4_500
    assert found.ratio == pytest.approx(9_500 / 4_500)


def test_runs_may_come_in_any_order_but_each_once() -> None:
    s = section((10_000, 20_000, 11_000), (5_000, 9_000))
    s["runs"]["baseline"].reverse()
    assert counts.per_sample(s).baseline == 90  # (20,000 - 10,000) / 100 - 10
    s["runs"]["baseline"].append(dict(s["runs"]["baseline"][0]))
    with pytest.raises(ValueError, match="2 runs of"):
        counts.per_sample(s)


def test_a_submission_that_costs_nothing_has_no_ratio() -> None:
    found = counts.per_sample(section((10_000, 20_000, 11_000), (5_000, 5_500)))
    assert found.optimized == -5  # its block cost less than the loop alone
    assert found.ratio is None


def counted_result(s: dict, rules: Rules) -> dict:
    doc = golden_result("result_example_int8.json")
    doc["instructions"] = s
    return derive.apply_derived(doc, derive.derive(doc, rules))


def test_a_result_with_counts_validates_and_its_numbers_are_recomputed(rules: Rules) -> None:
    doc = counted_result(section((10_000, 20_000, 11_000), (5_000, 9_000)), rules)
    assert doc["improvements"]["instruction_ratio"] == pytest.approx(90 / 30)
    assert doc["optimized"]["metrics"]["instructions_per_sample"] == 30
    assert doc["baseline"]["metrics"]["harness_instructions_per_sample"] == 10
    assert verify.check(doc, rules, "r.json") == []
    edited = copy.deepcopy(doc)
    edited["improvements"]["instruction_ratio"] = 4.0
    assert [v.field for v in verify.check(edited, rules, "r.json")] == [
        "$.improvements.instruction_ratio"
    ]
    edited = copy.deepcopy(doc)
    edited["instructions"]["runs"]["optimized"][1]["instructions"] = 13_000
    fields = {v.field for v in verify.check(edited, rules, "r.json")}
    assert "$.improvements.instruction_ratio" in fields


def test_results_from_before_the_counts_still_validate(rules: Rules) -> None:
    for name in ("result_example_baseline.json", "result_example_int8.json"):
        doc = golden_result(name)
        assert "instructions" not in doc
        assert verify.check(doc, rules, name) == []
        assert "instruction_ratio" not in derive.derive(doc, rules)["improvements"]


def test_an_absent_count_says_why_and_an_event_ranked_by_it_does_not_qualify(
    rules: Rules,
) -> None:
    absent = {"counted": False, "reason": "valgrind is not installed", "valgrind": None}
    doc = counted_result(absent, rules)
    assert doc["improvements"]["instruction_ratio"] is None
    assert verify.check(doc, rules, "r.json") == []
    assert "instructions not counted: valgrind is not installed" in card(doc)["notes"]
    event = {"title": "Instruction Sprint", "score": "instruction_ratio", "rules": []}
    from grader import rules as scoring

    scored = scoring.evaluate_event(event, {"instruction_ratio": None}, [])
    assert (scored["scored"], scored["qualified"]) == (False, False)
    assert "not measured" in scored["reason"]
    scored = scoring.evaluate_event(event, {"instruction_ratio": 1.25}, [])
    assert scored["score"] == 1.25 and scored["qualified"]
    assert scored["score_ci95"] == [1.25, 1.25]  # exact: a point


def test_the_card_shows_both_numbers(rules: Rules) -> None:
    doc = counted_result(section((10_000, 20_000, 11_000), (5_000, 9_000)), rules)
    rows = {row[0]: row for row in card(doc)["metrics"]}
    row = rows["instructions per sample"]
    assert row[1:3] == ("90", "30")
    assert "ratio 3.000×" in row[3] and "wall-time speedup" in row[3]
    notes = card(doc)["notes"]
    assert any("the worker loop's 10 a sample subtracted" in n for n in notes)


def test_a_counted_block_is_cut_by_the_slowdown_never_by_the_machine_s_time() -> None:
    assert counted_samples(128, 1.0, 2.0) == 128  # the MLP baseline against a copy
    assert counted_samples(32, 0.5, 2.0) == 32  # a fast transformer: its workload's 32
    assert counted_samples(128, 2.0, 2.0) == 128  # at the limit
    assert counted_samples(128, 3.0, 2.0) == 64  # 85 fit: cut to a power of two
    assert counted_samples(128, 40.0, 2.0) == 8  # the floor
    assert counted_samples(8, 40.0, 2.0) == 8


def test_the_transformer_workload_counts_32_digits_a_block(rules: Rules) -> None:
    from grader.data.workloads import get_workload
    from grader.grade import fitted

    for name, most in (("transformer_decathlon", 32), ("mlp_sprint", 128)):
        workload = get_workload(rules, name)
        assert fitted(Plan(), workload, False).count_samples == most
        assert (
            fitted(dataclasses.replace(Plan(), count_samples=0), workload, False).count_samples == 0
        )
    assert fitted(Plan(), get_workload(rules, "mlp_sprint"), True).require_sandbox


def test_a_slow_model_gets_fewer_samples_in_a_profiled_block() -> None:
    assert samples_per_block(128, 0.05, 30e-6) == 128  # the MLP baseline
    assert samples_per_block(128, 0.05, 0.005) == 8  # 10 fit: cut to a power of two
    assert samples_per_block(128, 0.05, 0.00117) == 32  # the transformer's baseline: 42 fit
    assert samples_per_block(128, 0.05, 0.00125) == 32  # its latency's noise changes nothing
    assert samples_per_block(128, 0.05, 0.1) == 8  # the accuracy contest's slowest: floor


# -- without valgrind ---------------------------------------------------------------------------
def test_no_valgrind_on_path_is_a_reason(tmp_path: Path) -> None:
    found = cachegrind.find(path=str(tmp_path))
    assert isinstance(found, str) and "valgrind is not installed" in found


def test_require_instructions_stops_before_any_code_runs(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    plan = Plan(require_instructions=True)
    with pytest.raises(InstructionsMissing, match="valgrind is not installed"):
        find_valgrind(plan)
    assert find_valgrind(dataclasses.replace(plan, count_samples=0)) is None  # a quick grade
    assert isinstance(find_valgrind(Plan()), str)  # not required: the grade goes on


SMALL = Plan(
    sessions=1, warmup_rounds=2, min_rounds=4, max_rounds=4, calibration_blocks=2,
    throughput_rounds=2, time_budget_s=1.0, block_seconds=0.002, block_timeout_s=3.0,
    load_timeout_s=5.0, count_samples=32,
)  # fmt: skip
SUBMISSION_YAML = """\
team: {team}
members: [octocat]
workload: mlp_sprint
events: [latency_sprint]
entrypoint: model.py:build_model
"""


def copy_of_baseline(root: Path, team: str, model: str | None = None) -> Path:
    folder = root / team
    folder.mkdir()
    for name in ("model.py", "weights.npz"):
        shutil.copy(BASELINE / name, folder / name)
    if model is not None:
        (folder / "model.py").write_text(textwrap.dedent(model))
    (folder / "submission.yaml").write_text(SUBMISSION_YAML.format(team=team))
    return folder


@pytest.mark.e2e
def test_a_grade_without_valgrind_goes_on_and_says_why(
    monkeypatch, tmp_path: Path, rules: Rules
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the children get their own PATH
    doc = grade(copy_of_baseline(tmp_path, "copy"), rules, SMALL, seed=3)
    assert doc["verdict"]["status"] == "graded"
    assert doc["instructions"]["counted"] is False
    assert "valgrind is not installed" in doc["instructions"]["reason"]
    assert doc["improvements"]["instruction_ratio"] is None
    assert verify.check(doc, rules, "r.json") == []


# -- real counted children --------------------------------------------------------------------
TWICE = '''\
import numpy as np


class Twice:
    """The baseline's forward pass, computed twice a call: twice the work, the same answers."""

    def __init__(self, w1, b1, w2, b2, w3, b3):
        self.p = (w1, b1, w2, b2, w3, b3)

    def once(self, x):
        w1, b1, w2, b2, w3, b3 = self.p
        h = np.maximum(x @ w1 + b1, 0.0)
        h = np.maximum(h @ w2 + b2, 0.0)
        return h @ w3 + b3

    def __call__(self, x):
        self.once(x)
        return self.once(x)


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        return Twice(*(f[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3")))
'''


@pytest.mark.slow
@needs_valgrind
def test_two_grades_count_the_same_and_twice_the_work_counts_half(
    tmp_path: Path, rules: Rules
) -> None:
    """Two grades of the same folders, with different seeds (so different digits and
    noise), give the same counts within 0.1 %; a model that computes the baseline's forward
    pass twice has an instruction ratio near 0.5, in every layer of the sandbox."""
    folder = copy_of_baseline(tmp_path, "twice", TWICE)
    # Twice the work is about twice as slow, on the edge of count_slowdown (2): beside other
    # work its 4 rounds measured it over 4x once, which cut its block to 8 digits. The cut
    # is counted_samples' to test; here every grade counts the whole block.
    plan = dataclasses.replace(SMALL, count_slowdown=1e6)
    docs = [grade(folder, rules, plan, seed=seed) for seed in (1, 2)]
    per_sample = []
    for doc in docs:
        found = doc["instructions"]
        assert found["counted"], found["reason"]
        assert found["agreement"]["agreed"] == found["agreement"]["compared"] == 2 * 8 + 32
        assert not any(v.startswith(("off", "unavailable")) for v in found["sandbox"].values())
        assert verify.check(doc, rules, "r.json") == []
        per_sample.append(
            [doc[side]["metrics"]["instructions_per_sample"] for side in ("baseline", "optimized")]
        )
        assert 0.45 < doc["improvements"]["instruction_ratio"] < 0.55
    np.testing.assert_allclose(per_sample[0], per_sample[1], rtol=1e-3)


@pytest.mark.slow
@needs_valgrind
def test_a_layer_off_is_reported_and_require_sandbox_refuses_the_count(rules: Rules) -> None:
    plan = dataclasses.replace(
        SMALL, require_sandbox=True, limits=Limits(skip_layers=("syscalls",))
    )
    images = np.random.default_rng(0).random((100, 784), dtype=np.float32)
    referee = Referee(images, 10, plan, seed=1, imports=rules.imports)
    files = ("model.py", "weights.npz")
    models = [Model(n, BASELINE, "model.py", "build_model", files) for n in ("b", "s")]
    counter = InstructionCount(referee, VALGRIND, lambda: 0.0)
    found = counter.count(*models, np.full(100, -1), SMALL.count_samples, 1.0)
    assert found["counted"] is False
    assert "--require-sandbox" in found["reason"] and "syscalls: off" in found["reason"]
    assert found["sandbox"]["syscalls"].startswith("off")
    assert "valgrind started" in found["sandbox"]["filesystem"]  # the others: set before exec


# What a process that escaped the audit hook could try under valgrind: each is stopped by an
# OS layer set before valgrind started (grader/child/precount.py). (case, code, what stops it)
ESCAPES = {
    "read-etc": ("open('/etc/hostname').read()", "PermissionError"),
    "read-other-proc": ("open('/proc/1/environ').read()", "PermissionError"),
    "write-the-copy": ("open('planted.py', 'w').write('x')", "PermissionError"),
    "exec-a-shell": ("import os; os.execv('/bin/sh', ['sh', '-c', 'true'])", "PermissionError"),
    "fork": ("import os; os.fork()", "SIGSYS"),
    "socket": ("import socket; socket.socket()", "SIGSYS"),
}


@pytest.mark.slow
@needs_valgrind
@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_the_layers_set_before_valgrind_hold_under_it(case: str, tmp_path: Path) -> None:
    """Python run by valgrind after ``precount`` confined the process, with no audit hook:
    what a submission that got past the hook would meet. The read of its own copy works."""
    import json
    import os
    import signal
    import sys

    from grader.sandbox.launch import GRADER_PARENT, PRECOUNT, child_environment

    code, stopped_by = ESCAPES[case]
    work, tmp, out = tmp_path / "work", tmp_path / "valgrind-tmp", tmp_path / "cachegrind.out"
    work.mkdir()
    tmp.mkdir()
    out.touch()
    (work / "model.py").write_text("x = 1\n")
    probe = (
        "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"
        "assert open('model.py').read() == 'x = 1\\n'\n"  # its own copy stays readable
        f"try:\n    {code}\nexcept OSError as exc:\n    print(type(exc).__name__)\n"
        "else:\n    print('not stopped')\n"
    )
    doorbell_r, doorbell_w = os.pipe()
    spec = {
        "valgrind": VALGRIND.program, "libdir": VALGRIND.libdir, "out": str(out),
        "tmp": str(tmp), "doorbell": doorbell_r, "skip": [],
        "command": [*VALGRIND.command(out), sys.executable, "-s", "-B", "-c", probe],
    }  # fmt: skip
    os.write(doorbell_w, b"\x01")
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", PRECOUNT.format(root=str(GRADER_PARENT)),
         json.dumps(spec)],
        cwd=work, env=child_environment() | VALGRIND.environment(tmp), pass_fds=(doorbell_r,),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    os.close(doorbell_r)
    os.close(doorbell_w)
    if stopped_by == "SIGSYS":
        assert done.returncode == -signal.SIGSYS, (done.returncode, done.stdout, done.stderr)
    else:
        assert done.stdout.strip() == stopped_by, (done.stdout, done.stderr)
    assert not (work / "planted.py").exists()


def test_a_count_far_above_the_timed_speedup_is_flagged(rules: Rules) -> None:
    """A model that does less under valgrind than when timed (same answers) shows an
    instruction ratio far above its wall-time speedup: flagged, on read, as the count
    disagreeing with the timing. The stored example (ratio 1.24 at 1.32x) is not."""
    newest = sorted((ROOT / "results" / "example-int8" / "mlp_sprint").glob("*.json"))[-1]
    doc = jsonfile.read_json(newest)
    assert "instructions" in doc
    ids = {f["id"] for f in derive.derive(doc, rules)["flags"]}
    assert "counted_work_disagrees" not in ids
    cheat = copy.deepcopy(doc)
    cheat.pop("hotspots")  # its buckets sum to the counts as graded, not to these
    runs = cheat["instructions"]["runs"]["optimized"]
    base, twice = (
        next(r for r in runs if tuple(r["blocks"]) == b) for b in (counts.BASE, counts.TWICE)
    )
    n = cheat["instructions"]["samples"]
    twice["instructions"] = (
        base["instructions"] + (twice["instructions"] - base["instructions"]) // 4
    )
    derived = derive.derive(cheat, rules)
    over = derived["improvements"]["instruction_ratio"] / derived["improvements"]["speedup"]
    assert over > 3, (over, n)
    flags = {f["id"]: f for f in derived["flags"]}
    assert flags["counted_work_disagrees"]["value"] == pytest.approx(over)
    assert flags["counted_work_disagrees"]["severity"] == "warn"
    absent = copy.deepcopy(doc)
    del absent["instructions"], absent["hotspots"]  # as a quick grade's
    assert "counted_work_disagrees" not in {f["id"] for f in derive.derive(absent, rules)["flags"]}
