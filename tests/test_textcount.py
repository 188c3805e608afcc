"""A generation workload's instruction counts (grader/measure/textcount.py;
docs/DESIGN.md, Instruction counts): which walk is counted and how much of it, the counts
derived and recomputed on read and shown per token, a grade without valgrind, and, in real
counted children, a model that keeps a cache against one that recomputes its prefix
(stand-ins in the fast suite, the tinytalks baseline and the KV cache example in the slow
one).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
import textmodels

from grader.config import Rules, project_root
from grader.data import probes, text
from grader.errors import InstructionsMissing
from grader.grade import grade
from grader.measure import textcount
from grader.measure.generation import GenerationReferee
from grader.measure.instructions import RUNS
from grader.measure.plan import QUICK_GENERATION, GenerationPlan, Model, Plan
from grader.measure.textanswers import TextMeasurement
from grader.render import card
from grader.result import counts, derive, jsonfile, verify
from grader.sandbox import cachegrind

ROOT = project_root()
DATA = ROOT / "data" / "tinytalks"
TEST = text.load_split(DATA, "test")
FILLER = probes.scrambled(text.load_split(DATA, "train") + text.load_split(DATA, "val"), 1)
VALGRIND = cachegrind.find()
needs_valgrind = pytest.mark.skipif(
    isinstance(VALGRIND, str), reason=f"no valgrind to count with: {VALGRIND}"
)
# One session, a few records: the timed walks the counted one is checked against.
TINY = GenerationPlan(sessions=1, replays=0, probes=0, blind=0, calibration_blocks=2)


def referee(scored: list[text.Pair], gplan: GenerationPlan = TINY, **more) -> GenerationReferee:
    return GenerationReferee(scored, FILLER, text.VOCAB_SIZE, gplan, seed=3, **more)


# -- which walk, how much of it --------------------------------------------------------------
def test_the_walk_counted_is_a_first_showing_opened_by_a_record_asked_greedily() -> None:
    """Never a replay, never a walk opened by a sealed record (not asked); a second walk
    for the warm-up."""
    plan = dataclasses.replace(TINY, sessions=2, replays=3)
    opened = [w.scored for w in referee(TEST[:10], plan).walks[0]]  # the same seed: the same
    asked = opened[-2:]  # the first session's last two walks: the others are sealed records'
    ref = referee(TEST[:10], plan, asked=asked)
    walk, warm = textcount.counted_walks(ref)
    assert [walk.scored, warm.scored] == asked
    assert not walk.replay and walk in ref.walks[0]
    ref = referee(TEST[:1])
    walk, warm = textcount.counted_walks(ref)
    assert walk is warm  # one walk only: it serves both


def test_a_blind_walk_is_counted_where_the_grade_has_one() -> None:
    """Drawn text from its first token, which no table of public records holds
    (tests/test_tabledcount.py); the warm-up another first showing."""
    ref = referee(TEST[:5], dataclasses.replace(TINY, blind=2))
    walk, warm = textcount.counted_walks(ref)
    assert walk.blind and not walk.replay and walk in ref.walks[0]
    assert warm is not walk and not warm.replay


def timed(per_token_s: np.ndarray, walks: int = 3) -> TextMeasurement:
    """A model's timed walks, each block's per-token latency as given (16 blocks of 8)."""
    m = TextMeasurement.of(1)
    m.token_latency_s = [list(per_token_s) for _ in range(walks)]
    return m


def test_a_slow_submission_counts_a_shorter_prefix_of_the_walk() -> None:
    grows = np.linspace(0.5e-3, 1.2e-3, 16)  # the baseline: its cost grows with the context
    assert grows.sum() * 8 == pytest.approx(0.1088)  # about 0.11 s a walk, as measured
    baseline = timed(grows)
    assert textcount.steps_counted(128, 2.0, [baseline, timed(np.full(16, 40e-6))], 8) == 128
    assert textcount.steps_counted(128, 2.0, [baseline, timed(grows * 1.9)], 8) == 128
    busy = [timed(grows * 5), timed(grows * 5 * 1.9)]  # a busy machine slows both alike
    assert textcount.steps_counted(128, 2.0, busy, 8) == 128
    slower = timed(grows * 5)  # 0.54 s a walk: twice the baseline's covers its first 65 tokens
    found = textcount.steps_counted(128, 2.0, [baseline, slower], 8)
    assert found == 64 and np.cumsum(np.repeat(grows * 5, 8))[found - 1] <= 2 * 0.1088
    assert textcount.steps_counted(128, 2.0, [baseline, timed(grows * 100)], 8) == 16  # floor
    assert textcount.steps_counted(128, 2.0, [baseline, TextMeasurement.of(1)], 8) == 128


# -- derived on read, and the card -----------------------------------------------------------
def stored(team: str, before_counts: bool = False) -> dict:
    """The newest stored result of a tinytalks example (results/ keeps every grade), or the
    newest one graded before the counts existed."""
    found = [
        jsonfile.read_json(f)
        for f in sorted((ROOT / "results" / team / "tinytalks").glob("*.json"))
    ]
    return [d for d in found if not before_counts or "instructions" not in d][-1]


def section(base: tuple[int, int, int], sub: tuple[int, int], steps: int = 128) -> dict:
    """A generation count: runs A, B, C of the baseline and A, B of the submission."""
    runs = {
        side: [
            {"blocks": list(b), "instructions": c} for b, c in zip(RUNS[side], found, strict=True)
        ]
        for side, found in (("baseline", base), ("optimized", sub))
    }
    return {
        "counted": True, "reason": None, "valgrind": "valgrind-3.19.0",
        "tool": "--tool=cachegrind --cache-sim=no", "warmup_samples": 8, "samples": steps,
        "walk": 17, "runs": runs, "agreement": {"agreed": 136, "compared": 136},
        "dispatch": {"native": None, "valgrind": None}, "sandbox": {"syscalls": "seccomp: …"},
        "wall_seconds": 30.0,
    }  # fmt: skip


def counted(doc: dict, s: dict, rules: Rules) -> dict:
    doc = copy.deepcopy(doc)
    doc["instructions"] = s
    doc.pop("hotspots", None)  # its buckets sum to the stored counts, not to these
    return derive.apply_derived(doc, derive.derive(doc, rules))


# Start-up 500 million; the loop 7,000 a token; the baseline 4 million a token, the KV cache
# 250,000 (each with the loop).
START = 500_000_000
BASE = (START, START + 128 * 4_000_000, START + 128 * 7_000)
KV = (START + 9, START + 9 + 128 * 250_000)


@pytest.fixture(scope="module")
def kv_counted(rules: Rules) -> dict:
    """The stored KV cache example's result with a count added, derived."""
    return counted(stored("example-kv-cache"), section(BASE, KV), rules)


def test_a_generation_result_with_counts_validates_and_is_recomputed(
    kv_counted: dict, rules: Rules
) -> None:
    doc = kv_counted
    assert doc["baseline"]["metrics"]["instructions_per_sample"] == 3_993_000
    assert doc["optimized"]["metrics"]["instructions_per_sample"] == 243_000
    assert doc["improvements"]["instruction_ratio"] == pytest.approx(3_993 / 243)
    assert verify.check(doc, rules, "r.json") == []
    edited = copy.deepcopy(doc)
    edited["instructions"]["runs"]["baseline"][1]["instructions"] += 128 * 1_000_000
    fields = {v.field for v in verify.check(edited, rules, "r.json")}
    assert "$.improvements.instruction_ratio" in fields
    assert "$.baseline.metrics.instructions_per_sample" in fields


def test_generation_results_from_before_the_counts_still_validate(rules: Rules) -> None:
    for team in ("example-kv-cache", "example-tinytalks-baseline"):
        doc = stored(team, before_counts=True)
        assert "instructions" not in doc
        assert "instruction_ratio" not in doc["improvements"]
        problems = verify.check(doc, rules, "r.json")
        if doc["grader"]["rules_sha256"] != rules.sha256:  # graded under other rules: the
            # events and flags are theirs (the store reads such a result as stale, unchecked)
            problems = [p for p in problems if not p.message.startswith(("$.events", "$.flags"))]
        assert problems == []  # what it derives: as stored


def test_the_card_shows_instructions_per_token_beside_the_speedup_per_token(
    kv_counted: dict, rules: Rules
) -> None:
    shown = card(kv_counted)
    rows = [row[0] for row in shown["metrics"]]
    at = rows.index("instructions per token")
    assert rows[at - 1] == "latency per token (whole walk)"
    row = shown["metrics"][at]
    assert row[1:3] == ("3,993,000", "243,000")
    assert "ratio 16.432×" in row[3] and "per-token wall-time speedup" in row[3]
    notes = shown["notes"]
    assert any(
        "the first 128 tokens of walk 17 (contexts 0-127)" in n and "7,000 a token" in n
        for n in notes
    )
    absent = {"counted": False, "reason": "valgrind is not installed", "valgrind": None}
    shown = card(counted(stored("example-kv-cache"), absent, rules))
    assert "instructions per token" not in [row[0] for row in shown["metrics"]]
    assert "instructions not counted: valgrind is not installed" in shown["notes"]


def test_an_event_may_rank_a_generation_entry_by_its_instruction_ratio(rules: Rules) -> None:
    """An instructor's choice in events.yaml: the ratio per token scores, exactly."""
    data = copy.deepcopy(rules.data)
    data["events"]["instruction_sprint"] = {
        "title": "Instruction Sprint", "description": "Fewer instructions a token.",
        "protocols": ["generation"], "score": "instruction_ratio", "rules": [],
    }  # fmt: skip
    mine = Rules(rules.path, data)
    doc = copy.deepcopy(stored("example-kv-cache"))
    doc["submission"]["events"].append("instruction_sprint")
    doc = counted(doc, section(BASE, KV), mine)
    event = doc["events"]["instruction_sprint"]
    assert event["qualified"] and event["score"] == pytest.approx(3_993 / 243)
    assert event["score_ci95"] == [event["score"]] * 2


# -- without valgrind ------------------------------------------------------------------------
YAML = (
    "team: {team}\nmembers: [me]\nworkload: tinytalks\nevents: [inference_speed]\n"
    "entrypoint: model.py:build_model\n"
)


def text_submission(root: Path, team: str, source: str) -> Path:
    folder = root / team
    folder.mkdir()
    (folder / "model.py").write_text(source)
    (folder / "submission.yaml").write_text(YAML.format(team=team))
    return folder


def no_children(*args, **kwargs):
    raise AssertionError("a child was started")


def test_require_instructions_stops_a_generation_grade_before_any_code_runs(
    monkeypatch, tmp_path: Path, rules: Rules
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    folder = text_submission(tmp_path, "prefix", PREFIX)
    required = Plan(require_instructions=True)
    with pytest.raises(InstructionsMissing, match="valgrind is not installed"):
        grade(folder, rules, required, baseline_folder=folder, spawner=no_children)
    quick = dataclasses.replace(QUICK_GENERATION, require_instructions=True)
    assert textcount.valgrind_for(quick) is None  # a quick grade counts nothing
    assert isinstance(textcount.valgrind_for(GenerationPlan()), str)  # not required: goes on


def test_without_valgrind_the_count_is_absent_with_the_reason() -> None:
    ref = referee(TEST[:2])
    found, functions = textcount.instruction_counts(
        ref, (), None, "valgrind is not installed", time.time
    )
    assert functions == {}
    assert found == {"counted": False, "reason": "valgrind is not installed", "valgrind": None}
    ref = referee(TEST[:2], dataclasses.replace(TINY, require_instructions=True))
    with pytest.raises(InstructionsMissing, match="valgrind is not installed"):
        textcount.instruction_counts(ref, (), None, "valgrind is not installed", time.time)


# -- real counted children -------------------------------------------------------------------
# Two stand-ins with the same answers: one recomputes its whole prefix at every step, as the
# tinytalks baseline does; the other keeps a running sum, as a KV cache keeps its keys.
PREFIX = """
import numpy as np

RNG = np.random.default_rng(7)
EMB = RNG.standard_normal((69, 256)).astype(np.float32)
W = (RNG.standard_normal((256, 256)) / 10).astype(np.float32)
OUT = RNG.standard_normal((256, 69)).astype(np.float32)


class Prefix:
    def reset(self, batch):
        self.prefix = np.zeros((batch, 0), dtype=np.int64)

    def step(self, tokens):
        self.prefix = np.concatenate([self.prefix, tokens[:, None]], axis=1)
        h = np.tanh(EMB[self.prefix] @ W).sum(axis=1)  # the whole prefix, again
        return (h / self.prefix.shape[1]) @ OUT


def build_model():
    return Prefix()
"""
CACHED = """
import numpy as np

RNG = np.random.default_rng(7)
EMB = RNG.standard_normal((69, 256)).astype(np.float32)
W = (RNG.standard_normal((256, 256)) / 10).astype(np.float32)
OUT = RNG.standard_normal((256, 69)).astype(np.float32)


class Cached:
    def reset(self, batch):
        self.sum, self.t = np.zeros((batch, 256), dtype=np.float32), 0

    def step(self, tokens):
        self.sum += np.tanh(EMB[tokens] @ W)  # the new token only
        self.t += 1
        return (self.sum / self.t) @ OUT


def build_model():
    return Cached()
"""


def stand_in(root: Path, name: str, source: str) -> Model:
    folder = root / name
    folder.mkdir()
    (folder / "model.py").write_text(source)
    return Model(name, folder, "model.py", "build_model", ("model.py",))


def count_both(baseline: Model, submission: Model, rules: Rules, gplan=TINY) -> dict:
    """Time both models over a few walks, then count them; the section, checked."""
    ref = referee(TEST[:3], gplan, imports=rules.imports)
    measured = ref.measure(baseline, submission)
    found = textcount.StepCount(ref, VALGRIND, time.perf_counter).count(
        baseline, submission, measured
    )
    assert found["counted"], found["reason"]
    n = gplan.count_steps
    assert found["samples"] == n and found["walk"] in {w.index for w in ref.walks[0]}
    assert found["agreement"] == {"agreed": 2 * 8 + n, "compared": 2 * 8 + n}
    assert found["dispatch"]["valgrind"]["blas_kernels"] == textcount.BLAS_KERNELS
    assert not any(v.startswith(("off", "unavailable")) for v in found["sandbox"].values())
    return found


@pytest.mark.slow
@needs_valgrind
def test_a_cache_counts_far_fewer_instructions_per_token_than_its_prefix_recomputed(
    tmp_path: Path, rules: Rules
) -> None:
    """The stand-ins under cachegrind, in every layer of the sandbox, over a walk's first 32
    tokens (a full walk's 128 in the slow tests: the five processes' start-up is most of
    the cost): the one that recomputes its prefix spends several times the cached one's
    instructions a token."""
    found = count_both(
        stand_in(tmp_path, "prefix", PREFIX),
        stand_in(tmp_path, "cached", CACHED),
        rules,
        dataclasses.replace(TINY, count_steps=32),
    )
    c = counts.per_sample(found)
    assert c.ratio > 4, c
    assert 0 < c.harness < c.optimized < c.baseline


@pytest.mark.slow
@needs_valgrind
def test_a_copy_of_a_stand_in_counts_the_same(tmp_path: Path, rules: Rules) -> None:
    """Two processes of the same code, under valgrind: the ratio is 1 within 0.1 %."""
    found = count_both(
        stand_in(tmp_path, "prefix", PREFIX), stand_in(tmp_path, "copy", PREFIX), rules
    )
    assert counts.per_sample(found).ratio == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
@needs_valgrind
def test_the_kv_cache_example_and_a_copy_of_the_baseline(tmp_path: Path, rules: Rules) -> None:
    """The tinytalks baseline against submissions/example-kv-cache (a large ratio) and
    against submissions/example-tinytalks-baseline (1 within 0.1 %), counted twice: the
    same within 0.1 %."""
    files = ("model.py", "weights.npz")
    baseline = Model("baseline", ROOT / "baselines" / "tinytalks", "model.py", "build_model", files)
    example = {
        name: Model(name, ROOT / "submissions" / name, "model.py", "build_model", files)
        for name in ("example-kv-cache", "example-tinytalks-baseline")
    }
    kv = [counts.per_sample(count_both(baseline, example["example-kv-cache"], rules))]
    copy_ = counts.per_sample(count_both(baseline, example["example-tinytalks-baseline"], rules))
    kv.append(counts.per_sample(count_both(baseline, example["example-kv-cache"], rules)))
    assert kv[0].ratio > 4, kv  # 5.9 here
    assert copy_.ratio == pytest.approx(1.0, abs=1e-3), copy_
    for a, b in ((kv[0], kv[1]), (kv[0], copy_)):
        np.testing.assert_allclose(a.baseline, b.baseline, rtol=1e-3)
    np.testing.assert_allclose(kv[0].optimized, kv[1].optimized, rtol=1e-3)


# -- whole generation grades -----------------------------------------------------------------
BIGRAM = textmodels.BIGRAM.format(extra="")  # a fast stand-in model


@pytest.mark.slow
@pytest.mark.e2e
def test_a_full_generation_grade_without_valgrind_goes_on_and_says_why(
    monkeypatch, tmp_path: Path, rules: Rules
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the children get their own PATH
    folder = text_submission(tmp_path, "bigram", BIGRAM)
    doc = grade(folder, rules, Plan(), baseline_folder=folder, seed=3)
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    assert doc["instructions"]["counted"] is False
    assert "valgrind is not installed" in doc["instructions"]["reason"]
    assert doc["improvements"]["instruction_ratio"] is None
    assert verify.check(doc, rules, "r.json") == []


@pytest.mark.slow
@pytest.mark.e2e
@needs_valgrind
def test_a_full_generation_grade_counts_its_walk(tmp_path: Path, rules: Rules) -> None:
    """A full grade of the prefix stand-in against the cached one: the counts in the
    result, recomputed on read, and on the card."""
    base = text_submission(tmp_path, "prefix", PREFIX)
    doc = grade(text_submission(tmp_path, "cached", CACHED), rules, Plan(), baseline_folder=base)
    found = doc["instructions"]
    assert found["counted"], found["reason"]
    walks = doc["measurement"]["text"]["walks"]
    assert [found["walk"], False] in walks and found["samples"] == 128
    assert doc["improvements"]["instruction_ratio"] > 5
    assert verify.check(doc, rules, "r.json") == []
    assert "instructions per token" in [row[0] for row in card(doc)["metrics"]]
