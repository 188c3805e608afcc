"""The competition's earlier capstone_benchmark format validates, and is recomputed."""

import copy
import json

import pytest

from grader.config import project_root
from grader.result import legacy

GOLDEN = project_root() / "tests" / "data" / "legacy_capstone.json"


@pytest.fixture
def doc() -> dict:
    return json.loads(GOLDEN.read_text())


def test_a_capstone_output_validates(doc, rules) -> None:
    assert legacy.is_legacy(doc)
    assert legacy.check(doc, rules, "x.json") == []


def test_improvements_follow_the_capstone_formula(doc) -> None:
    b, o = doc["baseline"]["metrics"], doc["optimized"]["metrics"]
    got = legacy.improvements(b, o)
    # 0.02962350845336914 / 0.016460418701171875 = 1.79968...; 0.38822 / 0.09708 = 3.99882...
    assert got["speedup"] == pytest.approx(1.7996813, rel=1e-6)
    assert got["compression_ratio"] == pytest.approx(3.9988212, rel=1e-6)
    assert got["accuracy_delta"] == pytest.approx(-0.01)


def test_medians_are_compared_when_both_reports_have_them(doc) -> None:
    b, o = doc["baseline"]["metrics"], doc["optimized"]["metrics"]
    b["latency_ms_median"], o["latency_ms_median"] = 0.03, 0.01
    assert legacy.improvements(b, o)["speedup"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    "key, factor",
    [("speedup", 1.5), ("compression_ratio", 0.5), ("accuracy_delta", -3.0)],
    ids=["speedup", "compression", "accuracy-delta"],
)
def test_a_hand_edited_improvement_is_caught(doc, rules, key, factor) -> None:
    edited = copy.deepcopy(doc)
    edited["improvements"][key] *= factor
    problems = legacy.check(edited, rules, "x.json")
    assert [p.field for p in problems] == [f"$.improvements.{key}"]
    assert problems[0].rule == "derived_mismatch"


def test_an_unrealistic_speedup_is_refused(doc, rules) -> None:
    doc["optimized"]["metrics"]["latency_ms_mean"] /= 60
    doc["improvements"] = legacy.improvements(
        doc["baseline"]["metrics"], doc["optimized"]["metrics"]
    )
    problems = legacy.check(doc, rules, "x.json")
    assert [p.rule for p in problems] == ["speedup_impossible"]


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda d: d.pop("system_info"), "$"),
        (lambda d: d["baseline"]["metrics"].update(accuracy=1.5), "$.baseline.metrics.accuracy"),
        (lambda d: d["optimized"]["metrics"].update(latency_ms_mean=0), "$.optimized.metrics"),
        (lambda d: d.pop("improvements"), "$"),
    ],
    ids=["no-system-info", "accuracy-above-1", "zero-latency", "optimized-without-improvements"],
)
def test_malformed_capstone_files_are_schema_errors(doc, rules, mutate, path) -> None:
    mutate(doc)
    problems = legacy.check(doc, rules, "x.json")
    assert problems and all(p.rule == "schema" for p in problems)
    assert any(p.field.startswith(path) for p in problems)
