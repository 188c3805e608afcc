"""Speed from text no table holds (grader/result/textspeed.py): the blocks of each walk past
its first record, and the blind walks (grader/measure/walks.py), all filler, to whose
support the speedup is held besides.

The attack they close: a model that, at load, steps every public record and every question
the grade may compose, keeps the scores, and serves them while a walk's text is still one
of those; past them it works as it always does, so every answer check passes. Graded for
real here with a stand-in that does its work (a fixed amount of arithmetic a step) except
where the text so far is the beginning of a public record or a composable question."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from grader import gradetext, render
from grader.config import project_root
from grader.data import probes, text
from grader.grade import grade
from grader.measure import walks
from grader.measure.plan import QUICK, QUICK_GENERATION
from grader.result import derive, textspeed, verify

DATA = project_root() / "data" / "tinytalks"
# Two sessions with six blind walks each: enough showings to hold a speedup to
# (textspeed.MIN_BLIND_SHOWINGS), small enough for a few seconds a grade; and more walks a
# scored record opens (20) than blind ones with their replays, as in a full grade (66 to
# 12), since a block's latency is the median over the walks (result/textspeed.walk_speedup).
PLAN = dataclasses.replace(QUICK_GENERATION, sessions=2, blind=6, replays=2, held_out=16, probes=4)

STEPPER = """
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
WORK = np.random.default_rng(6).standard_normal((96, 96))
KNOWN = set()
for _text in {texts!r}:
    for _end in range(1, len(_text) + 1):
        KNOWN.add(_text[:_end])
CHARS = {chars!r}


class Stepper:
    def reset(self, batch):
        self.seen = [""] * batch

    def step(self, tokens):
        ids = np.asarray(tokens).reshape(-1)
        self.seen = [s + CHARS[min(int(t), len(CHARS) - 1)] for s, t in zip(self.seen, ids)]
        if not ({tabled} and all(s in KNOWN for s in self.seen)):
            v = WORK[0]
            for _ in range(12):
                v = np.tanh(WORK @ v)
        return TABLE[ids].reshape(np.shape(tokens) + (69,))


def build_model():
    return Stepper()
"""
YAML = """team: {name}
members: [me]
workload: tinytalks
events: [generation_quality, inference_speed]
entrypoint: model.py:build_model
techniques: []
description: A bigram table that works a fixed amount a step.
"""


def known_texts() -> list[str]:
    """Every public record and every question the grade may compose, as a walk opens."""
    pairs = probes.public_pairs() + [p for made in probes.candidates().values() for p in made]
    return [text.record(p) for p in pairs]


def stepper(tmp: Path, name: str, tabled: bool) -> Path:
    folder = tmp / name
    folder.mkdir()
    source = STEPPER.format(texts=known_texts(), chars=text.CHARACTERS + "?", tabled=tabled)
    (folder / "model.py").write_text(source)
    (folder / "submission.yaml").write_text(YAML.format(name=name))
    return folder


@pytest.fixture(scope="module")
def grades(tmp_path_factory, rules) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("blind")
    base = stepper(tmp, "base", tabled=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gradetext, "QUICK_GENERATION", PLAN)
        return {
            name: grade(
                stepper(tmp, name, tabled=name == "table"),
                rules,
                QUICK,
                quick=True,
                baseline_folder=base,
                seed=21,
            )
            for name in ("honest", "table")
        }


def test_each_session_shows_blind_walks_of_filler_only() -> None:
    scored = text.load_split(DATA, "test")
    filler = text.load_split(DATA, "train") + text.load_split(DATA, "val")
    plan = walks.plan(scored, filler, 3, 4, 128, np.random.default_rng(0), blind=5)
    for session in plan:
        first = [w for w in session if w.blind and not w.replay]
        assert len(first) == 5
        for w in first:
            assert all(r >= len(scored) for r in w.records)  # no scored record in it
            shown = "".join(text.record(filler[r - len(scored)]) for r in w.records)
            assert text.decode(w.tokens) == shown[:129]
        shown = [r for w in session for r in w.records]
        assert len(shown) == len(set(shown))  # still no record twice in a process
    replayed = [w for session in plan for w in session if w.replay and w.blind]
    assert replayed  # replays are drawn among them too (seed 0)


def rederived(doc: dict, rules, blocks: dict[str, np.ndarray] | None = None) -> dict:
    """``doc`` (edited in place: pass a copy) with each side named in ``blocks`` given those
    per-token block latencies (walks by blocks) and each walk's mean beside them, as a
    grade stores them, derived again."""
    for side, rows in (blocks or {}).items():
        metrics = doc[side]["metrics"]
        metrics["text"]["block_latency_ms"] = np.asarray(rows).tolist()
        metrics["latency_samples_ms"] = [float(np.mean(row)) for row in rows]
    return derive.apply_derived(doc, derive.derive(doc, rules))


def even_baseline(doc: dict, rng: np.random.Generator) -> np.ndarray:
    """The baseline's blocks made even: each block's median cost over the walks, within 2 %
    on every walk. A grade's own, taken beside other work, spread so far between walks that
    the cases below built on them were no longer the ones described."""
    real = np.asarray(doc["baseline"]["metrics"]["text"]["block_latency_ms"])
    return np.median(real, axis=0) * rng.uniform(0.98, 1.02, real.shape)


def every_block(doc: dict, rules) -> dict:
    """``doc`` derived from every block of every walk, as a result graded before the speed
    was taken past the walks' first records (it has no ``openings``)."""
    old = json.loads(json.dumps(doc))
    del old["measurement"]["text"]["openings"]
    return rederived(old, rules)


def test_the_table_is_fast_only_where_the_text_is_public(grades) -> None:
    """The attack works as described: it is fast on the walks' first records only."""
    doc = grades["table"]
    assert doc["verdict"]["status"] == "graded"
    spec = doc["measurement"]["text"]
    mask = textspeed.counted(spec, (len(spec["walks"]), spec["walk_length"] // 8))
    table = np.asarray(doc["optimized"]["metrics"]["text"]["block_latency_ms"])
    base = np.asarray(doc["baseline"]["metrics"]["text"]["block_latency_ms"])
    assert (~mask).sum() > 50 and mask.sum() > 50
    assert np.median(base[~mask] / table[~mask]) > 3  # the tabled steps are free
    assert np.median(base[mask] / table[mask]) < 1.2  # where no table helps, the baseline


def tabled_evenly(doc: dict, rules) -> dict:
    """``doc`` with even blocks: the baseline's each block's median cost within 2 % on every
    walk, the table's the baseline's within 3 % where the speed is taken (past the first
    records) and a fifth of it where the text is still a public record's (the real table
    was over 3x faster there: test_the_table_is_fast_only_where_the_text_is_public).
    From the grade's own blocks, a busy machine moves the medians: taken from every block,
    the real table's speedup was 1.36x idle, 1.29x beside other work, 1.10x at load 11 and
    1.01-1.23x at load 17 on 2 cores, where the test wants 1.15; here it is 1.42x."""
    old = json.loads(json.dumps(doc))
    rng = np.random.default_rng(0)
    base = even_baseline(old, rng)
    mask = textspeed.counted(old["measurement"]["text"], base.shape)
    table = base * np.where(mask, rng.uniform(0.97, 1.03, base.shape), 0.2)
    return rederived(old, rules, {"baseline": base, "optimized": table})


def test_the_table_buys_no_speed_where_the_speed_is_taken(grades, rules) -> None:
    """Graded, the table is the baseline where the speed is taken; taken from every block,
    the same blocks would have bought it a speedup, 5.6x after 16 tokens (even blocks:
    tabled_evenly). The first bound is the attack's own, on real timings: 0.94x at load 12
    on 2 cores, 0.95x, 0.95x and 1.28x in three grades at load 17, where a quick grade's
    interval spans 0 to 9.9."""
    imp = grades["table"]["improvements"]
    assert imp["speedup_measured"] < 1.15 and imp["speedup"] < 1.15
    assert imp["speedup_by_context"]["16"]["measured"] < 1.3
    even = tabled_evenly(grades["table"], rules)
    held = even["improvements"]
    assert held["speedup_measured"] < 1.05
    unheld = every_block(even, rules)["improvements"]
    assert unheld["speedup_measured"] > max(1.15, held["speedup"] + 0.1)
    assert unheld["speedup_by_context"]["16"]["measured"] > 3


def fast_off_the_blind_walks(doc: dict, rules) -> dict:
    """``doc`` as a result without ``openings`` whose submission was twice as fast as the
    baseline on every walk but the blind ones, where it was the baseline within 3 %: the
    second guard's case, made exact, as a busy machine widens the blind walks' interval of
    a real grade past what a stand-in gains."""
    old = json.loads(json.dumps(doc))
    spec = old["measurement"]["text"]
    del spec["openings"]
    rng = np.random.default_rng(0)
    # On the grade's own baseline blocks, a block's median over the submission's walks fell
    # on a blind one in a CI run (1.21x measured): even_baseline.
    base = even_baseline(old, rng)
    blind = textspeed.blind_showings(spec)[:, None]
    sub = base * np.where(blind, rng.uniform(0.97, 1.03, base.shape), 0.5)
    return rederived(old, rules, {"baseline": base, "optimized": sub})


def test_without_openings_the_speedup_is_held_to_the_blind_walks(grades, rules) -> None:
    """The second guard, and a result graded before the first: every block counted, a
    speedup is held to the blind walks' support."""
    imp = fast_off_the_blind_walks(grades["table"], rules)["improvements"]
    assert imp["speedup_measured"] > 1.3 and imp["speedup_blind_ci95"][1] < 1.05
    assert imp["speedup"] == imp["speedup_blind_ci95"][1]
    assert imp["speedup_ci95"][1] == imp["speedup"]
    assert imp["speedup_ci95"][0] < imp["speedup"]  # never a point: at most the blind walks'
    for found in imp["speedup_by_context"].values():
        assert found["measured"] > 1.3
        assert found["speedup"] == found["blind_ci95"][1] < 1.05
        assert found["ci95"][1] <= found["blind_ci95"][1]


def test_an_honest_model_is_held_at_most_by_the_interval_s_width(grades) -> None:
    """Holding lowers a speedup to no less than the blind walks' interval's low end, and
    never raises one. The stand-in against itself is about 1, within what two sessions
    beside other work give: the interval left out 1 once in a CI run, at 1.055 (it asked
    for 1 inside or within 0.05, a 95 % interval's miss rate and then some)."""
    imp = grades["honest"]["improvements"]
    lo, hi = imp["speedup_blind_ci95"]
    assert lo <= hi
    assert min(imp["speedup_measured"], lo) <= imp["speedup"] <= imp["speedup_measured"]
    assert 2 / 3 < imp["speedup"] < 1.5


def test_the_held_numbers_are_derived_on_read_and_shown(grades, rules) -> None:
    doc = fast_off_the_blind_walks(grades["table"], rules)
    assert verify.check(json.loads(json.dumps(doc)), rules, "result.json") == []
    edited = json.loads(json.dumps(doc))
    edited["improvements"]["speedup"] = edited["improvements"]["speedup_measured"]
    assert verify.check(edited, rules, "result.json")  # the unheld value is refused
    notes = render.card(doc)["notes"]
    assert any("blind walks" in n and "held to their upper ends" in n for n in notes)
    honest = grades["honest"]["improvements"]
    held = [honest["speedup_measured"] > honest["speedup"]] + [
        v["measured"] > v["speedup"] for v in honest["speedup_by_context"].values()
    ]
    said = any("no speedup was held" in n for n in render.card(grades["honest"])["notes"])
    assert said != any(held)  # the card says so exactly when nothing was held
    assert verify.check(json.loads(json.dumps(grades["table"])), rules, "result.json") == []


def test_without_enough_blind_walks_nothing_is_held(grades) -> None:
    spec = dict(grades["table"]["measurement"]["text"])
    assert textspeed.blind_rows(spec) is not None
    spec["blind"] = spec["blind"][: textspeed.MIN_BLIND_SHOWINGS // 4]
    assert textspeed.blind_rows(spec) is None
    assert textspeed.blind_rows({**spec, "blind": None}) is None  # graded before they existed


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda spec: spec.update(openings=spec["openings"][:1]), "1 entries for"),
        (lambda spec: spec["openings"].__setitem__(spec["blind"][0], 40), "a blind walk"),
    ],
)
def test_openings_that_do_not_fit_the_walks_are_refused_by_name(grades, rules, edit, words):
    doc = json.loads(json.dumps(grades["table"]))
    edit(doc["measurement"]["text"])
    found = verify.check(doc, rules, "result.json")
    assert [v.rule for v in found] == ["observations_invalid"]
    assert "measurement.text.openings" in found[0].message and words in found[0].message


@pytest.fixture(scope="module")
def quick_table(tmp_path_factory, rules) -> dict:
    """The table graded as a student's ``--quick`` check: one session, two blind walks.
    Without them, a quick grade's first blocks, below every
    record's length, took every showing, tabled ones included, and the whole walk's speedup
    is the ratio of sums over the blocks: the KV cache with a prefix table, quick, measured
    15.37x where its own cost gave 9.78x, and this stand-in 1.39x."""
    tmp = tmp_path_factory.mktemp("quick")
    base = stepper(tmp, "base", tabled=False)
    return grade(stepper(tmp, "table", tabled=True), rules, QUICK, quick=True,
                 baseline_folder=base, seed=21)  # fmt: skip


def with_free_steps_off_the_counted_blocks(doc: dict, rules) -> dict:
    """``doc`` with the submission's blocks that are not counted made nearly free (a
    hundredth of their time): the table's steps taken to their limit."""
    old = json.loads(json.dumps(doc))
    blocks = np.asarray(old["optimized"]["metrics"]["text"]["block_latency_ms"])
    mask = textspeed.counted(old["measurement"]["text"], blocks.shape)
    return rederived(old, rules, {"optimized": np.where(mask, blocks, blocks / 100)})


def test_a_quick_card_s_whole_walk_speedup_is_not_bought_by_the_table(quick_table, rules):
    """Whatever the tabled steps cost, the quick card's speedups do not move: the two blind
    walks are counted at every block, so no block's median falls back to the tabled
    showings. (Checked on the grade's own timings, not against a fixed bound: a quick
    grade's one session, beside other work, measured this stand-in anywhere from 0.3x to
    1.8x.)"""
    assert quick_table["verdict"]["status"] == "graded"
    spec = quick_table["measurement"]["text"]
    assert len(spec["blind"]) == 2
    shape = np.shape(quick_table["optimized"]["metrics"]["text"]["block_latency_ms"])
    mask = textspeed.counted(spec, shape)
    assert (~mask).sum() > 10 and mask.any(axis=0).all()  # tabled showings; every block counted
    imp = quick_table["improvements"]
    free = with_free_steps_off_the_counted_blocks(quick_table, rules)["improvements"]
    assert free["speedup"] == pytest.approx(imp["speedup"], rel=1e-9)
    for length, found in imp["speedup_by_context"].items():
        assert free["speedup_by_context"][length]["speedup"] == pytest.approx(
            found["speedup"], rel=1e-9
        )
    unheld = every_block(with_free_steps_off_the_counted_blocks(quick_table, rules), rules)
    # What counting them would buy: 1.55-2.4 times the held speedup in four grades at load 16.
    assert unheld["improvements"]["speedup"] > 1.2 * imp["speedup"]
