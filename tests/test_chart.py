"""The Pareto chart's axes (the speedup over each grade's own baseline, not a latency), its
labels, and the score card's footer lines as GitHub's Markdown renders them."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from golden import DATA, golden_result
from markdown_it import MarkdownIt

from grader import render
from grader.config import load_rules
from grader.publish import chart, comment, verified
from grader.publish.chart import Point
from grader.publish.store import Entry
from grader.result import derive, jsonfile

RULES = load_rules()
INT8 = json.loads((DATA / "result_example_int8.json").read_text())
KV_CACHE = sorted((RULES.path.parent / "results" / "example-kv-cache" / "tinytalks").glob("*.json"))


def entry(team: str, slower: float = 1.0, correct: int | None = None) -> Entry:
    doc = copy.deepcopy(INT8)
    doc["submission"]["team"] = team
    metrics = doc["optimized"]["metrics"]
    metrics["latency_samples_ms"] = [t * slower for t in metrics["latency_samples_ms"]]
    if correct is not None:
        metrics["correct"] = correct
    return Entry(Path(f"{team}.json"), derive.apply_derived(doc, derive.derive(doc, RULES)), None)


@pytest.fixture(scope="module")
def three() -> list[Entry]:
    """Fast and accurate, slow and accurate (dominated: off the front), slower still."""
    return [entry("quick"), entry("slow", slower=1.5), entry("slower", slower=2.0, correct=900)]


def test_each_point_is_the_entry_s_speedup_with_its_interval(three: list[Entry]) -> None:
    found = {p.team: p for p in chart.points(three)}
    for e in three:
        imp = e.doc["improvements"]
        p = found[e.team]
        assert (p.speedup, p.low, p.high) == (imp["speedup"], *imp["speedup_ci95"])
        assert p.accuracy == e.doc["optimized"]["metrics"]["accuracy"]
    assert found["quick"].speedup > found["slow"].speedup > found["slower"].speedup


def test_the_baseline_s_interval_is_its_median_over_the_median_s_interval() -> None:
    metrics = {"latency_ms": {"median": 10.0, "median_ci95": [8.0, 12.5]}}
    assert chart.baseline_interval(metrics) == (0.8, 1.25)  # 10/12.5, 10/8


def test_the_front_is_the_entries_no_other_beats_on_speedup_and_accuracy() -> None:
    a = Point("a", 3.0, 2.9, 3.1, 0.90, 1)
    b = Point("b", 2.0, 1.9, 2.1, 0.95, 1)
    c = Point("c", 1.5, 1.4, 1.6, 0.93, 1)  # slower than b and less accurate
    d = Point("d", 1.0, 0.9, 1.1, 0.97, 1)
    assert chart.front([c, d, a, b]) == [a, b, d]


def test_every_point_is_labelled_and_every_interval_drawn(
    three: list[Entry], monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.axes import Axes

    labels, lines, bars = [], [], []
    annotate, plot, errorbar = Axes.annotate, Axes.plot, Axes.errorbar

    def record_label(self: Axes, text: str, *args: object, **kwargs: object) -> object:
        labels.append(text)
        return annotate(self, text, *args, **kwargs)

    def record_line(self: Axes, *args: object, **kwargs: object) -> object:
        lines.append(args)
        return plot(self, *args, **kwargs)

    def record_bar(self: Axes, x: list, y: list, *args: object, **kwargs: object) -> object:
        bars.append((list(x), kwargs.get("xerr")))
        return errorbar(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "annotate", record_label)
    monkeypatch.setattr(Axes, "plot", record_line)
    monkeypatch.setattr(Axes, "errorbar", record_bar)
    assert chart.pareto_svg("mlp_sprint", three).startswith(b"<?xml")
    assert sorted(labels) == ["quick", "slow", "slower"]  # "slow" is off the front
    points = chart.points(three)
    xs, ys = lines[0]  # the entries' intervals, drawn first: a segment each, NaN between
    assert [x for x in xs if not math.isnan(x)] == [v for p in points for v in (p.low, p.high)]
    assert [y for y in ys if not math.isnan(y)] == [p.accuracy for p in points for _ in "lh"]
    ((at, baseline),) = bars
    low, high = chart.baseline_interval(three[0].doc["baseline"]["metrics"])
    assert at == [1.0]
    assert baseline == [[pytest.approx(1 - low)], [pytest.approx(high - 1)]]


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (0.85, 7.5, {"0.9×", "1×", "2×", "3×", "4×", "5×", "6×", "7×"}),  # within a decade
        (0.85, 9.7, {"1×", "2×", "3×", "5×"}),  # past one, 1× the only power of ten in sight
        (0.5, 40.0, {"1×", "10×"}),  # two powers of ten: enough
    ],
)
def test_the_speedup_axis_labels_more_than_1x(low: float, high: float, shown: set) -> None:
    """A KV cache's interval reaches 8-9× from a baseline at 0.9×: just past a decade, where
    1× was once the only label on the axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.plot([low, high], [1.0, 2.0], "o", label="entries")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    chart._label(ax, "tinytalks", text=True)
    ax.figure.canvas.draw()
    texts = ax.get_xticklabels(which="both")
    labels = {t.get_text() for t in texts if low <= t.get_position()[0] <= high}
    assert labels - {""} == shown


def test_the_leaderboard_s_slim_entries_keep_what_the_chart_draws() -> None:
    """store.latest gives the chart slim entries (verified.slim): a generation workload's
    must still draw its perplexity against its speedup."""
    doc = jsonfile.read_json(KV_CACHE[-1])
    slim = Entry(KV_CACHE[-1], verified.slim(doc), None)
    assert chart.generation([slim])
    (point,) = chart.points([slim])
    assert point.accuracy == -doc["optimized"]["metrics"]["perplexity"]
    assert point.speedup == doc["improvements"]["speedup"]
    assert (point.low, point.high) == tuple(doc["improvements"]["speedup_ci95"])
    assert chart.pareto_svg("tinytalks", [slim]).startswith(b"<?xml")


# -- the footer lines ---------------------------------------------------------------------------
def paragraphs(markdown: str) -> list[str]:
    """The HTML paragraphs CommonMark (GitHub's Markdown is a superset) makes of ``markdown``."""
    html = MarkdownIt("commonmark").render(markdown)
    return [p.split("</p>")[0] for p in html.split("<p>")[1:]]


def test_each_footer_line_of_the_card_is_a_paragraph_of_its_own() -> None:
    result = golden_result()
    notes = render.card(result)["notes"]
    assert len(notes) >= 3  # rounds, answer checks, sandbox
    subs = [p for p in paragraphs(render.markdown(result)) if "<sub>" in p]
    assert len(subs) == len(notes)
    assert all(p.startswith("<sub>") and p.count("<sub>") == 1 for p in subs)


def test_the_comment_s_footers_stay_apart_too() -> None:
    files = [DATA / "result_example_baseline.json", DATA / "result_example_int8.json"]
    text = comment.compose(files, RULES, head_sha="3f2a9c1e5b7d" + "0" * 28)
    subs = [p for p in paragraphs(text) if "<sub>" in p]
    assert all(p.count("<sub>") == 1 for p in subs)
    notes = sum(len(render.card(json.loads(f.read_text()))["notes"]) for f in files)
    assert len(subs) == notes + 1  # each card's, and the comment's own footer


def test_past_the_labelled_limit_only_the_front_is_named(
    three: list[Entry], monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.axes import Axes

    labels = []
    annotate = Axes.annotate

    def record_label(self: Axes, text: str, *args: object, **kwargs: object) -> object:
        labels.append(text)
        return annotate(self, text, *args, **kwargs)

    monkeypatch.setattr(Axes, "annotate", record_label)
    monkeypatch.setattr(chart, "MAX_LABELLED", 2)  # three entries: one more than named
    chart.pareto_svg("mlp_sprint", three)
    assert sorted(labels) == sorted(p.team for p in chart.front(chart.points(three)))
    assert "slow" not in labels
