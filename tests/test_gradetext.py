"""A generation workload graded end to end (grader/gradetext.py): the result it writes, its
numbers recomputed on read, a tampered one refused, and the card. A bigram model stands in
for the tinytalks baseline (``baseline_folder``) so that a whole grade takes seconds."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from textmodels import model

from grader import render
from grader.data import text
from grader.data.textmetrics import log_softmax
from grader.grade import grade
from grader.measure.plan import QUICK, QUICK_GENERATION
from grader.result import verify

DATA = Path(__file__).resolve().parents[1] / "data" / "tinytalks"
YAML = """team: bigram
members: [me]
workload: tinytalks
events: [{events}]
entrypoint: model.py:build_model
techniques: []
description: A bigram table.
"""


def submission(
    tmp_path: Path,
    extra: str = "",
    events: str = "generation_quality, inference_speed, memory_challenge",
) -> Path:
    folder = model(tmp_path, "bigram", extra).folder
    (folder / "submission.yaml").write_text(YAML.format(events=events))
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, rules) -> dict:
    tmp = tmp_path_factory.mktemp("gradetext")
    base = model(tmp, "base").folder
    return grade(submission(tmp), rules, QUICK, quick=True, baseline_folder=base, seed=11)


def test_a_generation_grade_writes_a_result_that_verifies(graded, rules):
    assert graded["verdict"]["status"] == "graded", graded["verdict"]
    assert graded["measurement"]["protocol"] == "generation"
    assert verify.check(graded, rules, "result.json") == []


def test_its_perplexity_is_the_bigram_s_own_on_the_held_out_answers(graded):
    table = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
    nll = chars = 0.0
    shown = graded["measurement"]["text"]["scored"]
    pairs = [text.Pair(s["question"], s["reference"]) for s in shown if s["kind"] == "test"]
    assert set(pairs) <= set(text.load_split(DATA, "test"))
    for pair in pairs:
        ids = text.encode(text.record(pair))
        start = len(text.prompt(pair.question))
        logp = log_softmax(table[ids[:-1]])
        at = np.arange(start - 1, len(ids) - 1)
        nll += -logp[at, ids[at + 1]].sum()
        chars += len(at)
    metrics = graded["optimized"]["metrics"]
    assert metrics["perplexity"] == pytest.approx(math.exp(nll / chars), rel=1e-9)
    low, high = metrics["perplexity_ci95"]
    assert low < metrics["perplexity"] < high
    assert graded["improvements"]["perplexity_ratio"] == pytest.approx(1.0)
    kinds = [s["kind"] for s in graded["measurement"]["text"]["scored"]]
    quick = QUICK_GENERATION  # a quick grade's
    assert kinds.count("test") == quick.held_out and kinds.count("probe") == quick.probes


def test_the_composed_questions_are_the_grade_s_own(graded):
    """Another seed composes other questions: none is the public text."""
    public = {
        p.question for split in ("train", "val", "test") for p in text.load_split(DATA, split)
    }
    probes = [s for s in graded["measurement"]["text"]["scored"] if s["kind"] == "probe"]
    assert probes and not {p["question"] for p in probes} & public


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("optimized", "metrics", "text", "record_nll", 0), 0.0),
        (("optimized", "metrics", "text", "greedy", 0), "Bees make honey."),
        (("optimized", "metrics", "perplexity"), 1.5),
        (("improvements", "speedup_by_context", "64", "speedup"), 3.0),
    ],
)
def test_an_edited_generation_result_is_refused(graded, rules, path, value):
    edited = copy.deepcopy(graded)
    target = edited
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = verify.check(edited, rules, "result.json")
    assert problems and all(p.rule == "derived_mismatch" for p in problems)


def test_the_card_shows_perplexity_speed_by_context_and_the_answer_checks(graded):
    card = render.card(graded)
    labels = [row[0] for row in card["metrics"]]
    assert labels[0] == "perplexity (held-out answers)"
    assert [x for x in labels if x.startswith("latency per token after")] == [
        "latency per token after 16",
        "latency per token after 64",
        "latency per token after 120",
    ]
    assert any("walks of 128 tokens" in note for note in card["notes"])
    assert any("measured by a full grade only" in note for note in card["notes"])  # quick
    markdown = render.markdown(graded)
    assert "perplexity" in markdown and "tokens per second" in markdown


def test_the_language_events_score_it_and_their_rules_bind(graded):
    events = graded["events"]
    quality = events["generation_quality"]
    assert quality["score_metric"] == "perplexity"
    assert quality["score"] == graded["optimized"]["metrics"]["perplexity"]
    assert quality["score_ci95"] == graded["optimized"]["metrics"]["perplexity_ci95"]
    speed = events["inference_speed"]
    assert [r["id"] for r in speed["rules"]] == [
        "perplexity_kept",
        "filler_kept",
        "answers_agree",
    ]
    # A quick grade has one session: the greedy answers are asked once, so their agreement is
    # not measured, and the event is left to a full grade: neither qualified nor refused.
    assert speed["qualified"] is None
    assert (
        speed["reason"]
        == "not judged: a full grade measures greedy_agreement, a quick one does not"
    )
    memory = events["memory_challenge"]
    assert [r["id"] for r in memory["rules"]] == ["perplexity_kept", "filler_kept"]  # no accuracy


def test_a_digit_event_is_refused_to_a_text_workload(tmp_path, rules):
    from grader.config import check_submission

    folder = submission(tmp_path, events="latency_sprint")
    _, violations = check_submission(folder, rules)
    assert [v.rule for v in violations] == ["event_protocol"]
    assert "inference_speed" in violations[0].expected


def test_the_chart_plots_perplexity_against_the_speedup_per_token(graded):
    from grader.publish import chart
    from grader.publish.store import Entry

    entry = Entry(Path("bigram.json"), graded, None)
    (point,) = chart.points([entry])
    metrics = graded["optimized"]["metrics"]
    assert point.accuracy == -metrics["perplexity"]  # higher is better: minus the perplexity
    assert point.speedup == graded["improvements"]["speedup"]  # per token, over walks
    assert chart.pareto_svg("tinytalks", [entry]).startswith(b"<?xml")


def test_the_pull_request_comment_shows_the_generation_card(graded, rules, tmp_path):
    """The comment reads the result file as the workflow does: validated, then drawn."""
    import json

    from grader.publish import comment

    file = tmp_path / "result.json"
    file.write_text(json.dumps(graded))
    body = comment.compose([file], rules)
    assert "perplexity (held-out answers)" in body and "latency per token after 120" in body
    assert "Inference Speed Championship" in body


MEMORISER = '''
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
RECORDS = {records!r}
IDS = {ids!r}


class Memoriser:
    """The bigram, except on the public held-out records, which it knows by heart."""

    def reset(self, batch):
        self.seen = [""] * batch

    def step(self, tokens):
        out = TABLE[tokens].copy()
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
            for record in RECORDS:
                if record.startswith(self.seen[b]) and len(record) > len(self.seen[b]):
                    out[b, IDS.index(record[len(self.seen[b])])] = 50.0
                    break
        return out


def build_model():
    return Memoriser()
'''


def test_a_table_of_the_public_answers_is_not_ranked_for_quality(tmp_path, rules):
    """Perplexity near 1 on the held-out answers, the bigram's on the composed questions: the
    quality event's rule refuses it and the flag says why."""
    records = [text.record(p) for p in text.load_split(DATA, "test")]
    folder = model(tmp_path, "memo").folder
    source = MEMORISER.format(records=records, ids=text.CHARACTERS + "?")
    (folder / "model.py").write_text(source)
    yaml = YAML.format(events="generation_quality").replace("team: bigram", "team: memo")
    (folder / "submission.yaml").write_text(yaml)
    base = model(tmp_path, "base").folder
    doc = grade(folder, rules, QUICK, quick=True, baseline_folder=base, seed=11)
    imp = doc["improvements"]
    assert imp["perplexity_ratio"] < 0.2 and 0.9 < imp["probe_perplexity_ratio"] < 1.1
    quality_event = doc["events"]["generation_quality"]
    assert not quality_event["qualified"]
    assert [r["id"] for r in quality_event["rules"] if not r["passed"]] == ["no_memorised_answers"]
    assert "public_answers_memorised" in [f["id"] for f in doc["flags"]]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("optimized", "metrics", "correct"), 999),
        (("optimized", "metrics", "latency_samples_ms", 0), 1e-6),
        (("optimized", "metrics", "text", "greedy_agreement"), {"agreed": 3, "compared": 3}),
    ],
)
def test_observations_stored_twice_must_agree(graded, rules, path, value):
    """The digits' fields of a generation result are sums and means of its text
    observations: an edit of one alone, with the numbers derived from it, is refused."""
    edited = copy.deepcopy(graded)
    target = edited
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = verify.check(edited, rules, "result.json")
    assert [p.rule for p in problems] == ["observations_invalid"], problems


# The bigram's table stored as float16 (what float16 storage shows in a weight file), read
# by the model, or beside it unread (a decoy: the model uses its own float32 copy).
FLOAT16 = """
import numpy as np

STORED = np.load("table16.npy").astype(np.float32)
TABLE = {table}


class Bigram:
    def reset(self, batch):
        self.batch = batch

    def step(self, tokens):
        return TABLE[tokens]


def build_model():
    return Bigram()
"""


@pytest.mark.parametrize(("read", "counted"), [(True, True), (False, False)], ids=["used", "decoy"])
def test_a_text_model_s_float16_weights_count_only_where_its_answers_use_them(
    tmp_path, rules, read, counted
):
    """The ablation of a generation grade: float16 storage is detected in the weight file,
    and counts (innovation, the claim confirmed) only where shuffling it changes the
    arg-max of the model's walks; a decoy beside a float32 copy is not counted and its
    claim is flagged."""
    table = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
    folder = submission(tmp_path, events="generation_quality")
    np.save(folder / "table16.npy", table.astype(np.float16))
    source = FLOAT16.format(table="STORED" if read else (
        "np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)"))  # fmt: skip
    (folder / "model.py").write_text(source)
    yaml = (folder / "submission.yaml").read_text().replace("techniques: []", "techniques: [fp16]")
    (folder / "submission.yaml").write_text(yaml)
    base = model(tmp_path, "base").folder
    doc = grade(folder, rules, QUICK, quick=True, baseline_folder=base, seed=11)
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    assert verify.check(doc, rules, "result.json") == []
    check = doc["ablation"]["checks"]["float16"]
    assert check["arrays"] == ["table16.npy"] and check["failure"] is None
    assert check["compared"] == doc["ablation"]["samples"] > 0
    share = check["agreed"] / check["compared"]
    assert (share < 0.5) if read else (share == 1.0)
    # Its one array is float16 and a twentieth of the baseline's parameters: float16
    # storage (20 points) and a smaller model (30), each ablated on its own.
    found = doc["techniques"]
    assert {d["technique"]: d["used"] for d in found["detected"]} == {
        "float16": counted,
        "smaller-model": counted,
    }
    assert found["innovation"] == (50.0 if counted else 0.0)
    assert found["confirmed"] == (["float16"] if counted else [])
    flagged = "technique_not_found" in {f["id"] for f in doc["flags"]}
    assert flagged is not counted


def test_a_generation_grade_measures_its_children_s_cpu_wait(graded):
    """The walks' children read from /proc: a share, not null, and the card's note follows
    it (docs/DESIGN.md, Measurement: CPU wait)."""
    share = graded["measurement"]["cpu_wait_share"]
    assert isinstance(share, float) and 0.0 <= share <= 1.0
    busy = copy.deepcopy(graded)
    busy["measurement"]["cpu_wait_share"] = 0.3
    notes = render.card(busy)["notes"]
    assert sum("waited for a CPU 30% of the time" in note for note in notes) == 1
    assert "waited for a CPU 30%" in render.markdown(busy)
    busy["measurement"]["cpu_wait_share"] = 0.05
    assert not any("machine was busy" in note for note in render.card(busy)["notes"])
