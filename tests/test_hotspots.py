"""Where the time goes (docs/DESIGN.md, Where the time goes): the child's line tracer on a
model whose hot line is known, in process and in a real sandboxed child, for a digit model
and a generation model; the library buckets read from real cachegrind counts and derived
from a result's runs; a child that forges its profile (it can: the profile is advisory)
changes no score; old results without hot spots still validate and render; the card's and
the comment's rows; and, slow, a whole grade whose card points at the hot line.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from golden import golden_result
from markdownrows import unescaped_pipes

from grader import render
from grader.child import handoff, profile, wire
from grader.config import Rules, load_rules
from grader.data import text
from grader.measure import hotspots
from grader.measure.generation import GenerationReferee
from grader.measure.instructions import RUNS
from grader.measure.launch import Launcher
from grader.measure.plan import GenerationPlan, Model, Plan
from grader.publish import comment
from grader.result import derive, jsonfile, verify
from grader.result import hotspots as derived_spots
from grader.sandbox import cachegrind, libraries
from grader.sandbox.launch import spawn

VALGRIND = cachegrind.find()
needs_valgrind = pytest.mark.skipif(
    isinstance(VALGRIND, str), reason=f"no valgrind to count with: {VALGRIND}"
)
HOT = "# the hot line"

# A digit model whose time is in one line: a 784 x 4096 product (3.2 million multiply-adds)
# beside a ReLU and a 4096 x 10 product (41,000).
ONE_BIG_MATMUL = """
import numpy as np


class Model:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.big = rng.standard_normal((784, 4096)).astype(np.float32)
        self.small = rng.standard_normal((4096, 10)).astype(np.float32)

    def __call__(self, x):
        h = x @ self.big  # the hot line
        h = np.maximum(h, 0.0)
        return h @ self.small


def build_model():
    return Model()
"""

# A generation model whose steps spend their time in one line, a 512 x 512 product applied
# 16 times in a loop, beside a look-up of the token's row.
GENERATION_HOT = """
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 512)).astype(np.float32)
MIX = np.random.default_rng(6).standard_normal((512, 512)).astype(np.float32) / 32
OUT = np.random.default_rng(7).standard_normal((512, 69)).astype(np.float32)


class Model:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        h = TABLE[tokens]
        for _ in range(16):
            h = np.tanh(h @ MIX)  # the hot line
        return h @ OUT


def build_model():
    return Model()
"""


def hot_line(source: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if HOT in line)


def folder_with(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "model.py").write_text(source)
    return folder


def shares(report: dict) -> list[tuple[float, str, int]]:
    """A report's lines as the result derives them: (share, file, line), largest first."""
    side = {"available": True, "reason": None, "samples": report["calls"], **report}
    _, shown, _ = derived_spots.lines(side)
    return [(line["share"], line["file"], line["line"]) for line in shown]


# -- the tracer, in this process -------------------------------------------------------------------
def test_the_tracer_puts_the_big_product_first_and_numpy_s_time_on_its_caller(
    tmp_path: Path, monkeypatch
) -> None:
    folder = folder_with(tmp_path, "hot", ONE_BIG_MATMUL)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    model = importlib.import_module("model").build_model()
    call = profile.traced(model, {"profile": True})
    x = np.random.default_rng(1).random((1, 784), dtype=np.float32)
    for _ in range(64):
        call(x)
    found = profile.report()["profile"]
    assert profile.report() == {}  # once: the next block's "done" carries nothing
    assert found["calls"] == 64
    top = shares(found)
    assert top[0][1:] == ("model.py", hot_line(ONE_BIG_MATMUL))
    assert top[0][0] > 0.5 and top[0][0] == max(s for s, _, _ in top)
    assert sum(s for s, _, _ in top) == pytest.approx(1.0)
    # The time inside NumPy is charged to the line that called it: no line of NumPy's.
    assert {f for _, f, _ in top} == {"model.py"}


def test_an_untraced_block_is_called_as_it_is() -> None:
    def call(x):
        return x

    assert profile.traced(call, {"op": "block"}) is call


def test_the_tracer_s_own_cost_is_measured_and_taken_off() -> None:
    cost = profile.calibrate(".")
    assert 0 < cost["line_s"] < 1e-4 and 0 <= cost["call_s"] < 1e-4
    line = {"seconds": 1e-3, "events": 100, "calls_out": 10}
    tracer = {"line_s": 2e-6, "call_s": 5e-6}
    assert derived_spots.line_seconds(line, tracer) == pytest.approx(1e-3 - 2e-4 - 5e-5)
    assert derived_spots.line_seconds({**line, "seconds": 1e-5}, tracer) == 0.0


# -- in a real child -------------------------------------------------------------------------------
def launcher(rules: Rules, plan: Plan | GenerationPlan, page_bytes: int) -> Launcher:
    rng = np.random.default_rng(0)
    return Launcher(plan, rules.imports, rng, page_bytes, time.perf_counter, spawn)


def profile_in_a_child(rules: Rules, folder: Path, n: int = 64) -> dict:
    page = handoff.page_bytes(1, 784 * 4, 40)
    profiler = hotspots.Profiler(launcher(rules, Plan(), page), wire.CLASSIFICATION, (784,), 10)
    model = Model("submission", folder, "model.py", "build_model", ("model.py",))
    feed = np.random.default_rng(1).random((n, 784), dtype=np.float32)

    def warm(child) -> None:
        child.time_block(feed[:8], 1, False, (784,), 10, 30.0)

    return profiler.side(model, warm, feed)


@pytest.mark.e2e
def test_a_sandboxed_child_reports_the_hot_line_first(tmp_path: Path, rules: Rules) -> None:
    found = profile_in_a_child(rules, folder_with(tmp_path, "hot", ONE_BIG_MATMUL))
    assert found["available"], found["reason"]
    assert found["samples"] == 64
    first = derived_spots.lines(found)[1][0]
    assert (first["file"], first["line"]) == ("model.py", hot_line(ONE_BIG_MATMUL))
    assert first["function"] == "__call__" and first["share"] > 0.5


@pytest.mark.e2e
def test_a_generation_model_is_profiled_through_a_public_walk(tmp_path: Path, rules: Rules) -> None:
    folder = folder_with(tmp_path, "gen", GENERATION_HOT)
    data = Path(__file__).resolve().parents[1] / "data" / "tinytalks"
    scored = text.load_split(data, "test")[:4]
    filler = text.load_split(data, "train")
    gplan = GenerationPlan(sessions=1, replays=0, probes=0, length=32)
    referee = GenerationReferee(scored, filler, text.VOCAB_SIZE, gplan, seed=3, asked=[1, 2])
    model = Model("submission", folder, "model.py", "build_model", ("model.py",))
    found = hotspots.profile_text(referee, (model, model))
    for side in hotspots.SIDES:
        assert found[side]["available"], found[side]["reason"]
        assert found[side]["samples"] == 32  # one step a call, the walk's length
        first = derived_spots.lines(found[side])[1][0]
        assert (first["file"], first["line"], first["function"]) == (
            "model.py", hot_line(GENERATION_HOT), "step",
        )  # fmt: skip
        assert first["share"] > 0.5
    private = GenerationReferee(scored, filler, text.VOCAB_SIZE, gplan, seed=3, asked=[])
    assert hotspots.profile_text(private, (model, model))["optimized"] == {
        "available": False,
        "reason": "the grade shows no public walk to profile",
    }


# -- a forged profile ------------------------------------------------------------------------------
# The child's report is the submission's process's own account: a model can reach the
# tracer through its caller's frame and write what it likes there.
FORGER = """
import sys

import numpy as np


class Model:
    def __call__(self, x):
        caller = sys._getframe(1).f_locals.get("self")
        if caller is not None and hasattr(caller, "spent"):
            caller.spent[({file!r}, 1, "forged")] = [1000.0, 0, 0]
        return np.zeros((len(x), 10), np.float32)


def build_model():
    return Model()
"""


@pytest.mark.e2e
def test_a_child_can_forge_its_profile_and_a_forged_file_is_refused(
    tmp_path: Path, rules: Rules
) -> None:
    forged = profile_in_a_child(rules, folder_with(tmp_path, "f", FORGER.format(file="model.py")))
    assert forged["available"]
    assert derived_spots.lines(forged)[1][0]["function"] == "forged"  # forged, and shown so
    outside = profile_in_a_child(
        rules, folder_with(tmp_path, "g", FORGER.format(file="../grader/grade.py"))
    )
    assert not outside["available"]
    assert "not a Python file of the model's" in outside["reason"]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        pytest.param(lambda r: r.update(calls=63), "63 calls", id="calls"),
        pytest.param(lambda r: r["lines"][0].update(seconds=-1.0), "'seconds'", id="negative"),
        pytest.param(lambda r: r["lines"][0].update(line=True), "'line'", id="bool"),
        pytest.param(lambda r: r["tracer"].update(line_s=float("nan")), "'line_s'", id="nan"),
        pytest.param(lambda r: r.update(lines=[{}] * 41), "at most 40", id="too-many"),
        pytest.param(lambda r: r["lines"][0].update(function="f" * 101), "function", id="name"),
    ],
)
def test_a_report_that_is_not_one_leaves_the_profile_absent(edit, words: str) -> None:
    report = {
        "calls": 64,
        "traced_seconds": 0.01,
        "tracer": {"line_s": 1e-6, "call_s": 2e-6},
        "lines": [{"file": "model.py", "line": 3, "function": "f", "seconds": 0.01,
                   "events": 64, "calls_out": 0}],
        "rest": {"lines": 0, "seconds": 0.0, "events": 0, "calls_out": 0},
    }  # fmt: skip
    assert hotspots.checked(copy.deepcopy(report), ("model.py",), 64)["available"]
    edit(report)
    found = hotspots.checked(report, ("model.py",), 64)
    assert not found["available"] and words in found["reason"]


# -- the derived numbers, recomputed on read -------------------------------------------------------
def line(n: int, seconds: float) -> dict:
    return {"file": "model.py", "line": n, "function": "forward", "seconds": seconds,
            "events": 100, "calls_out": 0}  # fmt: skip


def side_profile(lines: list[tuple[int, float]], rest: float = 0.0) -> dict:
    """A profile of model.py's lines (line, seconds), no tracer cost."""
    return {
        "available": True,
        "reason": None,
        "samples": 100,
        "traced_seconds": sum(s for _, s in lines) + rest,
        "tracer": {"line_s": 0.0, "call_s": 0.0},
        "lines": [line(n, s) for n, s in lines],
        "rest": {"lines": 3 if rest else 0, "seconds": rest, "events": 0, "calls_out": 0},
    }


def counted(base: list[dict], sub: list[dict]) -> tuple[dict, dict]:
    """An instructions section and its buckets from each run's buckets (A, B, C of the
    baseline; A, B of the submission): each run's count is its buckets' sum."""
    runs = {"baseline": base, "optimized": sub}
    instructions = {
        "counted": True, "reason": None, "valgrind": "valgrind-3.19.0",
        "tool": "--tool=cachegrind --cache-sim=no", "warmup_samples": 8, "samples": 100,
        "runs": {
            side: [{"blocks": list(b), "instructions": sum(c.values())}
                   for b, c in zip(RUNS[side], runs[side], strict=True)]
            for side in runs
        },
        "agreement": {"agreed": 100, "compared": 100},
        "dispatch": {"native": None, "valgrind": None},
        "sandbox": {}, "wall_seconds": 30.0,
    }  # fmt: skip
    buckets = {
        "counted": True,
        "reason": None,
        "runs": {
            side: [
                {"blocks": list(b), "buckets": c}
                for b, c in zip(RUNS[side], runs[side], strict=True)
            ]
            for side in runs
        },
    }
    return instructions, buckets


def run(blas: int, numpy: int, interpreter: int, other: int) -> dict:
    return {"blas": blas, "numpy": numpy, "interpreter": interpreter, "other": other}


START = run(0, 1_000_000, 400_000_000, 50_000_000)  # start-up and warm-up, in every run
LOOP = run(0, 0, 40_000, 10_000)  # the worker loop's own, a block
BASE_BLOCK = run(600_000, 200_000, 150_000, 50_000)
SUB_BLOCK = run(50_000, 100_000, 300_000, 50_000)


def add(*parts: dict) -> dict:
    return {k: sum(p[k] for p in parts) for k in START}


def with_hotspots(rules: Rules, buckets: dict | None = None, instructions=None) -> dict:
    doc = golden_result("result_example_int8.json")
    if instructions is None:
        instructions, buckets = counted(
            [add(START), add(START, BASE_BLOCK, LOOP), add(START, LOOP)],
            [add(START), add(START, SUB_BLOCK, LOOP)],
        )
    doc["instructions"] = instructions
    doc["hotspots"] = {
        "profile": {
            "baseline": side_profile([(19, 0.006), (20, 0.003), (21, 0.001)]),
            "optimized": side_profile([(31, 0.0094), (32, 0.0004)], rest=0.0002),
        },
        "buckets": buckets,
        "wall_seconds": 1.5,
    }
    return derive.apply_derived(doc, derive.derive(doc, rules))


def test_the_shares_are_derived_from_the_observations_and_checked_on_read(rules: Rules) -> None:
    doc = with_hotspots(rules)
    spots = doc["optimized"]["metrics"]["hotspots"]
    assert spots["unit"] == "seconds" and spots["total"] == pytest.approx(0.01)
    assert [(x["line"], round(x["share"], 4)) for x in spots["lines"]] == [(31, 0.94), (32, 0.04)]
    # By function: the lines listed, summed (the 2 % of the rest is no function's).
    assert [(f["function"], round(f["share"], 4)) for f in spots["functions"]] == [
        ("forward", 0.98)
    ]
    # The loop's own block (C - A of the baseline) is taken off: the block's own buckets.
    assert spots["buckets_total"] == sum(SUB_BLOCK.values())
    assert spots["buckets"] == pytest.approx(
        {k: v / sum(SUB_BLOCK.values()) for k, v in SUB_BLOCK.items()}
    )
    assert sum(spots["buckets"].values()) == pytest.approx(1.0)
    assert doc["baseline"]["metrics"]["hotspots"]["buckets"]["blas"] == pytest.approx(0.6)
    assert spots["why_absent"] is None
    assert verify.check(doc, rules, "r.json") == []
    edited = copy.deepcopy(doc)
    edited["optimized"]["metrics"]["hotspots"]["lines"][0]["share"] = 0.99
    assert [v.field for v in verify.check(edited, rules, "r.json")] == [
        "$.optimized.metrics.hotspots.lines[0].share"
    ]
    edited = copy.deepcopy(doc)
    edited["hotspots"]["buckets"]["runs"]["optimized"][1]["buckets"]["blas"] += 1000
    (problem,) = verify.check(edited, rules, "r.json")
    assert problem.rule == "observations_invalid" and "not the run's count" in problem.message


def test_without_counts_the_buckets_are_absent_and_say_why(rules: Rules) -> None:
    absent = {"counted": False, "reason": "valgrind is not installed", "valgrind": None}
    buckets = hotspots.bucket_runs(absent, {})
    doc = with_hotspots(rules, buckets, absent)
    spots = doc["optimized"]["metrics"]["hotspots"]
    assert spots["buckets"] is None and spots["lines"][0]["line"] == 31
    assert spots["why_absent"] == (
        "library buckets: the instructions were not counted (valgrind is not installed)"
    )
    assert verify.check(doc, rules, "r.json") == []
    assert "not shown: library buckets" in render.markdown(doc)


def test_hot_spots_change_no_score(rules: Rules) -> None:
    """The profile is the submission's process's account: whatever it says, every score,
    event, flag and improvement is the same as without it."""
    honest = with_hotspots(rules)
    forged = copy.deepcopy(honest)
    forged["hotspots"]["profile"]["optimized"] = side_profile([(1, 1000.0)])
    forged["hotspots"]["buckets"]["runs"]["optimized"][1]["buckets"] = run(
        sum(add(START, SUB_BLOCK, LOOP).values()), 0, 0, 0
    )
    forged = derive.apply_derived(forged, derive.derive(forged, rules))
    assert forged["optimized"]["metrics"]["hotspots"]["lines"][0]["line"] == 1
    without = golden_result("result_example_int8.json")
    without["instructions"] = honest["instructions"]
    without = derive.apply_derived(without, derive.derive(without, rules))
    for key in ("events", "improvements", "flags", "techniques", "code_quality"):
        assert forged[key] == honest[key] == without[key], key


# -- old results, the card, the comment ------------------------------------------------------------
def test_results_from_before_the_hot_spots_still_validate_and_render(rules: Rules) -> None:
    for name in ("result_example_baseline.json", "result_example_int8.json"):
        doc = golden_result(name)
        assert "hotspots" not in doc
        assert verify.check(doc, rules, name) == []
        assert "hotspots" not in derive.derive(doc, rules)["optimized"]["metrics"]
        assert render.card(doc)["hotspots"] is None
        assert "Where the time goes" not in render.markdown(doc)


SEVEN = (0.5, 0.2, 0.1, 0.08, 0.06, 0.04, 0.02)


def test_the_card_and_the_comment_show_the_top_five_with_share_and_file_line(
    rules: Rules, tmp_path: Path
) -> None:
    doc = with_hotspots(rules)
    doc["hotspots"]["profile"]["optimized"] = side_profile(
        [(n, s) for n, s in zip(range(30, 37), SEVEN, strict=True)]
    )
    doc = derive.apply_derived(doc, derive.derive(doc, rules))
    rows = render.card(doc)["hotspots"]["rows"]
    assert rows == [
        ("50.0 %", "model.py:30", "forward"), ("20.0 %", "model.py:31", "forward"),
        ("10.0 %", "model.py:32", "forward"), ("8.0 %", "model.py:33", "forward"),
        ("6.0 %", "model.py:34", "forward"),
    ]  # fmt: skip
    assert len(doc["optimized"]["metrics"]["hotspots"]["lines"]) == 7  # the result keeps more
    file = tmp_path / "result.json"
    file.write_text(json.dumps(doc))
    body = comment.compose([file], rules)
    assert "| 50.0 % | `model.py:30` | `forward` |" in body
    assert "| 6.0 % | `model.py:34` | `forward` |" in body
    assert "`model.py:35`" not in body  # five on the card
    assert "as the model's own process reported them \\(advisory" in body  # it could forge them
    assert "interpreter 60.0 % · NumPy 20.0 % · BLAS 10.0 % · other 10.0 %" in body
    from rich.console import Console

    console = Console(record=True, width=120)
    render.terminal(doc, console)
    shown = console.export_text()
    assert "where the time goes" in shown and "model.py:30" in shown and "50.0 %" in shown


def test_the_card_and_the_comment_list_the_libraries_in_one_order(
    rules: Rules, tmp_path: Path
) -> None:
    """Largest share first, a tie by name, whatever order the buckets' keys came in: the
    grade's card draws them in the order the counts were made, the comment from the stored
    file, whose keys are sorted."""
    doc = with_hotspots(rules)
    assert list(doc["optimized"]["metrics"]["hotspots"]["buckets"]) == [
        "blas", "numpy", "interpreter", "other",
    ]  # fmt: skip
    shown = "interpreter 60.0 % · NumPy 20.0 % · BLAS 10.0 % · other 10.0 %"
    from rich.console import Console

    console = Console(record=True, width=300)
    render.terminal(doc, console)
    assert shown in console.export_text()
    file = tmp_path / "result.json"
    file.write_text(jsonfile.dumps(doc))  # as the grade writes it: sorted keys
    assert shown in comment.compose([file], rules)


def test_student_names_are_escaped_on_the_card(rules: Rules) -> None:
    doc = with_hotspots(rules)
    doc["hotspots"]["profile"]["optimized"]["lines"][0]["function"] = "x`<b>@team"
    doc = derive.apply_derived(doc, derive.derive(doc, rules))
    assert verify.check(doc, rules, "r.json") == []
    assert "`x'<b>@team`" in render.markdown(doc)  # a code span: shown literally


def test_a_pipe_in_a_file_or_function_name_stays_in_its_cell(rules: Rules) -> None:
    """GitHub splits a table row at every unescaped pipe, inside a code span too: a file named
    ``x|[pwn](#pwn).py`` would end its cell and put ``[pwn](#pwn).py`` in the next one as
    live Markdown."""
    doc = with_hotspots(rules)
    line = doc["hotspots"]["profile"]["optimized"]["lines"][0]
    line["file"], line["function"] = "x|**bold** [pwn](#pwn) <kbd>a.py", "f\\|g|h"
    doc = derive.apply_derived(doc, derive.derive(doc, rules))
    (row,) = [r for r in render.markdown(doc).splitlines() if "pwn" in r]
    assert unescaped_pipes(row) == 4  # the row's own: three cells
    assert "`x\\|**bold** [pwn](#pwn) <kbd>a.py:31`" in row


# -- the library buckets, from real counts ---------------------------------------------------------
def test_the_symbol_tables_name_the_interpreter_numpy_and_blas() -> None:
    table = libraries.symbol_buckets()
    assert table["_PyEval_EvalFrameDefault"] == "interpreter"
    assert table["PyArray_NewFromDescr"] == "numpy"
    assert "blas" in set(table.values())
    assert libraries.bucket_of("???", "memcpy@@GLIBC_2.14", table) == "other"
    assert libraries.bucket_of("???", "???", table) == "other"
    assert libraries.function_names(__file__) == set()  # not an ELF file


PROGRAM = """
import sys
import numpy as np

w = np.random.default_rng(0).standard_normal((300, 300))
x = np.ones((300, 300))
def matmul():
    return x @ w
def loop():
    total = 0
    for i in range(20000):
        total += i * i
    return total
work = {"matmul": matmul, "loop": loop}[sys.argv[1]]
for _ in range(int(sys.argv[2])):
    work()
"""


@pytest.mark.slow
@needs_valgrind
def test_real_counts_put_a_product_in_blas_and_a_loop_in_the_interpreter(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)

    def count(work: str, ns: tuple[int, int]) -> list[cachegrind.CountFile]:
        """Both runs of ``work`` at once, counted."""
        env = {"PATH": "/usr/bin:/bin", "VALGRIND_LIB": VALGRIND.libdir, "PYTHONHASHSEED": "0",
               "OPENBLAS_NUM_THREADS": "1", "HOME": "/nonexistent"}  # fmt: skip
        outs = [tmp_path / f"{work}{n}.out" for n in ns]
        procs = [
            subprocess.Popen(
                [*VALGRIND.command(out), sys.executable, "-s", "-B", str(program), work, str(n)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for out, n in zip(outs, ns, strict=True)
        ]
        assert [proc.wait(timeout=600) for proc in procs] == [0, 0]
        return [cachegrind.read(out) for out in outs]

    found = {}
    for work in ("matmul", "loop"):
        counts = count(work, (1, 3))
        one, three = (libraries.buckets(c.functions) for c in counts)
        assert sum(three.values()) == counts[1].instructions  # every instruction, once
        block = {k: three[k] - one[k] for k in one}
        found[work] = {k: v / sum(block.values()) for k, v in block.items()}
    assert max(found["matmul"], key=found["matmul"].get) == "blas"
    assert found["matmul"]["blas"] > 0.8
    assert max(found["loop"], key=found["loop"].get) == "interpreter"
    assert found["loop"]["interpreter"] > 0.8


YAML = """team: hot
members: [me]
workload: mlp_sprint
events: [latency_sprint]
entrypoint: model.py:build_model
techniques: []
description: One big product on a known line.
"""


@pytest.mark.slow
@needs_valgrind
def test_a_full_grade_points_the_card_at_the_hot_line(tmp_path: Path) -> None:
    from grader.grade import grade

    rules = load_rules()
    folder = folder_with(tmp_path, "hot", ONE_BIG_MATMUL)
    (folder / "submission.yaml").write_text(YAML)
    doc = grade(folder, rules, Plan(), seed=5)
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    assert verify.check(json.loads(json.dumps(doc)), rules, "r.json") == []
    spots = doc["optimized"]["metrics"]["hotspots"]
    assert spots["why_absent"] is None, spots["why_absent"]
    first = spots["lines"][0]
    assert (first["file"], first["line"]) == ("model.py", hot_line(ONE_BIG_MATMUL))
    assert first["share"] == max(line["share"] for line in spots["lines"]) > 0.5
    assert sum(spots["buckets"].values()) == pytest.approx(1.0)
    assert max(spots["buckets"], key=spots["buckets"].get) == "blas"
    base = doc["baseline"]["metrics"]["hotspots"]
    assert {line["file"] for line in base["lines"]} == {"model.py"}
    card = render.markdown(doc)
    assert re.search(
        rf"\| [\d.]+ % \| `model.py:{hot_line(ONE_BIG_MATMUL)}` \| `__call__` \|", card
    )
    assert doc["hotspots"]["wall_seconds"] < 30


def test_a_model_with_no_python_lines_of_its_own_says_so(rules: Rules) -> None:
    doc = with_hotspots(rules)
    doc["hotspots"]["profile"]["optimized"] = side_profile([])  # a bare NumPy callable
    doc = derive.apply_derived(doc, derive.derive(doc, rules))
    spots = doc["optimized"]["metrics"]["hotspots"]
    assert spots["lines"] == [] and spots["total"] == 0
    assert spots["why_absent"] == (
        "lines: the block spent no measurable time in the model's own Python code"
    )
    assert verify.check(doc, rules, "r.json") == []


CALLBACK = """
import numpy as np


def row(r):
    return r.sum()


class Model:
    def __call__(self, x):
        tiles = np.repeat(x, 64, axis=0)
        sums = np.apply_along_axis(row, 1, tiles)  # the hot line
        return np.zeros((len(x), 10), np.float32) + sums[:1, None]


def build_model():
    return Model()
"""


def test_numpy_s_time_between_callbacks_counts_for_the_line_that_called_numpy(
    tmp_path: Path, monkeypatch
) -> None:
    """np.apply_along_axis runs Python of NumPy's between calls of the model's own ``row``:
    that time is the calling line's, not nobody's."""
    folder = folder_with(tmp_path, "cb", CALLBACK)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    call = profile.traced(importlib.import_module("model").build_model(), {"profile": True})
    for _ in range(20):
        call(np.ones((1, 784), np.float32))
    found = profile.report()["profile"]
    top = shares(found)
    assert {(f, n) for _, f, n in top[:2]} == {("model.py", hot_line(CALLBACK)), ("model.py", 6)}
    # Here 47 % and 46 %; with NumPy's Python between the callbacks charged to nobody, the
    # calling line had 10 % and ``row`` 78 %.
    calling = next(share for share, _, n in top if n == hot_line(CALLBACK))
    assert calling > 0.3
