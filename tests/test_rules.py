"""The events of events.yaml at their boundaries (docs/DESIGN.md, Rules and scoring), with
the real rules file.

Thresholds are met at equality (``>=``), latency and size limits are strict (``<``), and a
measurement that is NaN, infinite, zero, negative, missing or not a number never qualifies.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from grader import rules
from grader.config import Rules
from grader.result import derive, jsonfile, verify

DATA = Path(__file__).resolve().parent / "data"
SCORED_EVENTS = ["latency_sprint", "memory_challenge", "accuracy_contest", "extreme_push"]
ALL_EVENTS = [*SCORED_EVENTS, "all_around"]


@pytest.fixture(scope="module")
def golden_baseline() -> dict:
    return jsonfile.read_json(DATA / "result_example_baseline.json")


def metrics(**overrides: object) -> dict:
    """A plausible, qualifying, flag-free set of submission metrics, with overrides."""
    base = {
        "accuracy": 0.943,
        "accuracy_ci95": [0.927, 0.956],
        "latency_ms": 0.5,
        "size_bytes": 400_000,
        "speedup": 1.5,
        "speedup_ci95": [1.4, 1.6],
        "speedup_p_value": 0.001,
        "speedup_p_value_slower": 0.999,
        "compression_ratio": 2.0,
        "accuracy_delta": 0.0,
        "error_ratio": 1.0,
        "accuracy_penalty": 1.0,
        "efficiency": 3.0,
        "code_quality": 90.0,
        "innovation": 40.0,
        "techniques_unconfirmed": 0,
    }
    base.update(overrides)
    return base


def rule_of(rule_set: Rules, event: str, metric: str) -> dict:
    (rule,) = [r for r in rule_set.events[event]["rules"] if r["metric"] == metric]
    return rule


# --- rule boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "metric", "value", "qualifies"),
    [
        pytest.param("latency_sprint", "accuracy", 0.85, True, id="sprint-acc-0.85-met"),
        pytest.param("latency_sprint", "accuracy", 0.849, False, id="sprint-acc-0.849-not"),
        pytest.param("memory_challenge", "accuracy", 0.85, True, id="memory-acc-0.85-met"),
        pytest.param("memory_challenge", "accuracy", 0.849, False, id="memory-acc-0.849-not"),
        pytest.param("extreme_push", "accuracy", 0.80, True, id="extreme-acc-0.80-met"),
        pytest.param("extreme_push", "accuracy", 0.7999, False, id="extreme-acc-0.7999-not"),
        pytest.param("accuracy_contest", "latency_ms", 100, False, id="contest-100ms-strict"),
        pytest.param("accuracy_contest", "latency_ms", 99.999, True, id="contest-99.999ms-ok"),
        pytest.param("accuracy_contest", "size_bytes", 10_000_000, False, id="contest-10MB-strict"),
        pytest.param("accuracy_contest", "size_bytes", 9_999_999, True, id="contest-9999999B-ok"),
    ],
)
def test_rule_boundary(
    rule_set: Rules, event: str, metric: str, value: float, qualifies: bool
) -> None:
    m = metrics(**{metric: value})
    check = rules.check_rule(rule_of(rule_set, event, metric), m)
    assert check["passed"] is qualifies
    assert check["actual"] == value
    assert ("message" in check) is not qualifies
    scored = rules.evaluate_event(rule_set.events[event], m, [])
    assert scored["qualified"] is qualifies
    if not qualifies:
        assert metric in scored["reason"]


INVALID = [
    pytest.param(math.nan, "not a finite number", id="nan"),
    pytest.param(math.inf, "not a finite number", id="inf"),
    pytest.param(-math.inf, "not a finite number", id="minus-inf"),
    pytest.param(0, "must be positive", id="zero"),
    pytest.param(0.0, "must be positive", id="zero-float"),
    pytest.param(-1.0, "must be positive", id="negative"),
    pytest.param(None, "not measured", id="none"),
    pytest.param(True, "not measured", id="bool-true"),
    pytest.param(False, "not measured", id="bool-false"),
    pytest.param("0.9", "not measured", id="string"),
]


@pytest.mark.parametrize(
    ("event", "metric"),
    [
        pytest.param("latency_sprint", "accuracy", id="sprint-accuracy"),
        pytest.param("memory_challenge", "accuracy", id="memory-accuracy"),
        pytest.param("extreme_push", "accuracy", id="extreme-accuracy"),
        pytest.param("accuracy_contest", "latency_ms", id="contest-latency"),
        pytest.param("accuracy_contest", "size_bytes", id="contest-size"),
    ],
)
@pytest.mark.parametrize(("value", "message"), INVALID)
def test_invalid_measurement_never_qualifies(
    rule_set: Rules, event: str, metric: str, value: object, message: str
) -> None:
    m = metrics(**{metric: value})
    check = rules.check_rule(rule_of(rule_set, event, metric), m)
    assert check["passed"] is False
    assert check["actual"] is None
    assert metric in check["message"]
    assert message in check["message"]
    assert rules.evaluate_event(rule_set.events[event], m, [])["qualified"] is False


def test_missing_metric_never_qualifies(rule_set: Rules) -> None:
    m = metrics()
    del m["accuracy"]
    check = rules.check_rule(rule_of(rule_set, "latency_sprint", "accuracy"), m)
    assert check["passed"] is False
    assert check["message"] == "accuracy was not measured"


@pytest.mark.parametrize(
    ("event", "score_metric"),
    [
        pytest.param("latency_sprint", "speedup", id="sprint-speedup"),
        pytest.param("memory_challenge", "compression_ratio", id="memory-compression"),
        pytest.param("accuracy_contest", "accuracy", id="contest-accuracy"),
        pytest.param("extreme_push", "efficiency", id="extreme-efficiency"),
    ],
)
@pytest.mark.parametrize(("value", "message"), INVALID)
def test_invalid_score_is_not_scored(
    rule_set: Rules, event: str, score_metric: str, value: object, message: str
) -> None:
    scored = rules.evaluate_event(rule_set.events[event], metrics(**{score_metric: value}), [])
    assert scored["scored"] is False
    assert scored["qualified"] is False
    assert scored["score"] is None
    assert scored["score_ci95"] is None
    assert message in scored["reason"]


# --- flags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "raised"),
    [
        pytest.param({"speedup": 20}, set(), id="speedup-20-none"),
        pytest.param({"speedup": 20.01}, {"speedup_suspicious"}, id="speedup-20.01-warn"),
        pytest.param({"speedup": 50}, {"speedup_suspicious"}, id="speedup-50-warn"),
        pytest.param(
            {"speedup": 50.01},
            {"speedup_suspicious", "speedup_impossible"},
            id="speedup-50.01-disqualify",
        ),
        pytest.param({"compression_ratio": 16}, set(), id="compression-16-none"),
        pytest.param(
            {"compression_ratio": 16.01}, {"compression_suspicious"}, id="compression-16.01-warn"
        ),
        pytest.param(
            {"compression_ratio": 32}, {"compression_suspicious"}, id="compression-32-warn"
        ),
        pytest.param(
            {"compression_ratio": 32.01},
            {"compression_suspicious", "compression_impossible"},
            id="compression-32.01-disqualify",
        ),
        # accuracy_jump: under half the baseline's errors. A table of the public digits with ten
        # deliberate mistakes (0.99 against 0.943: +0.047, ratio 0.175) is flagged.
        pytest.param({"error_ratio": 0.5}, set(), id="half-the-errors-none"),
        pytest.param({"error_ratio": 0.4999}, {"accuracy_jump"}, id="under-half-warn"),
        pytest.param({"error_ratio": 0.01 / 0.057}, {"accuracy_jump"}, id="table-0.99-warn"),
        pytest.param({"error_ratio": 2.0}, set(), id="more-errors-none"),
        pytest.param({"error_ratio": None}, set(), id="baseline-perfect-skipped"),
        pytest.param(
            {"speedup": 1.2, "speedup_p_value": 0.05},
            {"speedup_not_significant"},
            id="faster-p-0.05-not-significant",
        ),
        pytest.param(
            {"speedup": 1.2, "speedup_p_value": 0.5},
            {"speedup_not_significant"},
            id="faster-p-0.5-not-significant",
        ),
        pytest.param(
            {"speedup": 1.2, "speedup_p_value": 0.0499}, set(), id="faster-p-0.0499-significant"
        ),
        pytest.param({"speedup": 1.0, "speedup_p_value": 0.5}, set(), id="speedup-1-no-claim"),
        pytest.param({"speedup": 0.8, "speedup_p_value": 0.99}, set(), id="slower-no-claim"),
        pytest.param({"speedup": 1.2, "speedup_p_value": math.nan}, set(), id="p-nan-skipped"),
        pytest.param({"speedup": None, "speedup_p_value": 0.5}, set(), id="speedup-none-skipped"),
        pytest.param({"speedup": math.nan}, set(), id="speedup-nan-no-flag"),
    ],
)
def test_flags(rule_set: Rules, overrides: dict, raised: set[str]) -> None:
    flags = rules.raise_flags(rules.binding(rule_set.flags, "classification"), metrics(**overrides))
    assert {f["id"] for f in flags} == raised
    for flag in flags:
        assert flag["message"]
        assert flag["severity"] in ("warn", "disqualify")
        assert flag["value"] == metrics(**overrides)[flag["metric"]]


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        pytest.param({"speedup": 50.01}, "speedup_impossible", id="speedup-50.01"),
        pytest.param({"compression_ratio": 32.01}, "compression_impossible", id="compr-32.01"),
    ],
)
def test_disqualifying_flag_fails_every_event(rule_set: Rules, overrides: dict, flag: str) -> None:
    events, flags = rules.evaluate(rule_set, metrics(**overrides), ALL_EVENTS)
    assert flag in {f["id"] for f in flags if f["severity"] == "disqualify"}
    for name in ALL_EVENTS:
        assert events[name]["qualified"] is False, name
        assert flag in events[name]["reason"], name
        assert all(c["passed"] for c in events[name]["rules"]), name  # only the flag fails


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"speedup": 20.01}, id="speedup-warn"),
        pytest.param({"compression_ratio": 16.01}, id="compression-warn"),
        pytest.param({"error_ratio": 0.4}, id="accuracy-jump-warn"),
    ],
)
def test_warning_flag_does_not_disqualify(rule_set: Rules, overrides: dict) -> None:
    events, flags = rules.evaluate(rule_set, metrics(**overrides), SCORED_EVENTS)
    assert flags and all(f["severity"] == "warn" for f in flags)
    assert all(events[name]["qualified"] is True for name in SCORED_EVENTS)


def test_evaluate_runs_every_check(rule_set: Rules) -> None:
    # Several failures at once: all of them are reported, none short-circuits the others.
    m = metrics(accuracy=0.5, latency_ms=150.0, size_bytes=20_000_000, speedup=60.0)
    events, flags = rules.evaluate(rule_set, m, SCORED_EVENTS)
    contest = events["accuracy_contest"]
    assert [c["passed"] for c in contest["rules"]] == [False, False]
    assert events["latency_sprint"]["rules"][0]["passed"] is False
    assert {"speedup_suspicious", "speedup_impossible"} <= {f["id"] for f in flags}


# --- all_around --------------------------------------------------------------------------------


def by_hand(accuracy: float, speedup: float, compression: float, quality: float, innovation: float):
    """The All-Around weights and events.yaml's formulas, written out again."""

    def clip(x: float) -> float:
        return min(100.0, max(0.0, x))

    parts = {
        "accuracy": clip(100 * accuracy),
        "speed": clip(50 + 50 * math.log(speedup) / math.log(8)),
        "size": clip(50 + 50 * math.log(compression) / math.log(16)),
        "code_quality": clip(quality),
        "innovation": clip(innovation),
    }
    weights = {"accuracy": 0.4, "speed": 0.2, "size": 0.2, "code_quality": 0.1, "innovation": 0.1}
    return sum(weights[k] * parts[k] for k in parts), parts


@pytest.mark.parametrize(
    ("speedup", "compression", "ci"),
    [
        pytest.param(1.5, 2.0, [1.4, 1.6], id="typical"),
        pytest.param(1.0, 1.0, [0.9, 1.1], id="baseline-is-50"),
        pytest.param(100.0, 64.0, [90.0, 110.0], id="capped-at-100"),
        pytest.param(0.01, 0.5, [0.009, 0.011], id="floored-at-0"),
    ],
)
def test_all_around_is_the_weighted_parts_by_hand(
    rule_set: Rules, speedup: float, compression: float, ci: list[float]
) -> None:
    m = metrics(speedup=speedup, speedup_ci95=ci, compression_ratio=compression)
    scored = rules.evaluate_event(rule_set.events["all_around"], m, [], rule_set.composite_parts)
    score, parts = by_hand(0.943, speedup, compression, 90.0, 40.0)
    assert scored["qualified"] is True and scored["scored"] is True
    assert scored["score"] == pytest.approx(score, rel=1e-12)
    assert {k: p["points"] for k, p in scored["parts"].items()} == pytest.approx(parts)
    assert all(0 <= p["points"] <= 100 for p in scored["parts"].values())
    low, _ = by_hand(0.927, ci[0], compression, 90.0, 40.0)
    high, _ = by_hand(0.956, ci[1], compression, 90.0, 40.0)
    assert scored["score_ci95"] == pytest.approx([low, high], rel=1e-12)
    assert low <= scored["score"] <= high


@pytest.mark.parametrize("missing", ["code_quality", "innovation", "speedup"])
def test_all_around_without_a_part_is_not_scored(rule_set: Rules, missing: str) -> None:
    m = metrics(**{missing: None})
    scored = rules.evaluate_event(rule_set.events["all_around"], m, [], rule_set.composite_parts)
    assert (scored["scored"], scored["qualified"], scored["score"]) == (False, None, None)
    assert scored["score_ci95"] is None
    assert scored["reason"] == f"not scored: {missing} was not measured"


def test_a_disqualified_all_around_stays_disqualified_without_a_part(rule_set: Rules) -> None:
    m = metrics(speedup=60.0, code_quality=None)
    events, _ = rules.evaluate(rule_set, m, ["all_around"])
    assert events["all_around"]["qualified"] is False
    assert events["all_around"]["reason"] == "disqualified by flag speedup_impossible"


def test_all_around_in_a_result_is_recomputed_on_read(
    rule_set: Rules, golden_baseline: dict
) -> None:
    doc = copy.deepcopy(golden_baseline)
    event = doc["events"]["all_around"]
    assert event["qualified"] is True
    assert verify.check(doc, rule_set, "x.json") == []
    tampered = copy.deepcopy(doc)
    tampered["events"]["all_around"]["score"] += 1
    assert {v.field for v in verify.check(tampered, rule_set, "x.json")} == {
        "$.events.all_around.score"
    }
    fewer = copy.deepcopy(doc)  # an observation changed: the score no longer follows from it
    fewer["code_quality"]["findings"] += 3
    fields = {v.field for v in verify.check(fewer, rule_set, "x.json")}
    assert {"$.code_quality.score", "$.events.all_around.score"} <= fields


# --- Extreme Push's efficiency, by hand ---------------------------------------------------------


@pytest.mark.parametrize(
    ("correct", "penalty"),
    [
        # accuracy 0.893 - 0.943 = -0.05: penalty 1 + 0.05
        pytest.param(893, 1.05, id="accuracy-down-0.05"),
        # accuracy 0.950 - 0.943 = +0.007: no penalty for being better
        pytest.param(950, 1.0, id="accuracy-up"),
        pytest.param(943, 1.0, id="accuracy-equal"),
    ],
)
def test_extreme_push_efficiency_by_hand(
    rule_set: Rules, golden_baseline: dict, correct: int, penalty: float
) -> None:
    doc = copy.deepcopy(golden_baseline)
    base = doc["baseline"]["metrics"]
    sub = doc["optimized"]["metrics"]
    # Every round 2.5x faster, so every ABBA ratio and their median are 2.5.
    sub["latency_samples_ms"] = [t / 2.5 for t in base["latency_samples_ms"]]
    sub["files"] = {"model.py": 1_000, "weights.npz": 101_000}
    sub["correct"] = correct
    derived = derive.derive(doc, rule_set)
    imp = derived["improvements"]
    # Size: the files' bytes and their paths' ("model.py" 8, "weights.npz" 11).
    size = lambda files: sum(files.values()) + sum(len(name) for name in files)  # noqa: E731
    compression = size(base["files"]) / (102_000 + 8 + 11)
    delta = correct / 1000 - base["correct"] / 1000
    assert imp["speedup"] == pytest.approx(2.5, rel=1e-12)
    assert imp["compression_ratio"] == pytest.approx(compression, rel=1e-12)
    assert imp["accuracy_delta"] == pytest.approx(delta, abs=1e-12)
    assert imp["accuracy_penalty"] == pytest.approx(penalty, rel=1e-12)
    expected = 2.5 * compression / penalty
    assert imp["efficiency"] == pytest.approx(expected, rel=1e-9)
    extreme = derived["events"]["extreme_push"]
    assert extreme["score"] == pytest.approx(expected, rel=1e-9)
    assert extreme["score_metric"] == "efficiency"
    assert extreme["qualified"] is True


@pytest.mark.parametrize(
    ("ratio", "ci", "points"),
    [
        pytest.param(1.0, [0.98, 1.02], 50.0, id="the-baseline-is-50"),
        pytest.param(0.5, [0.45, 0.55], 100.0, id="half-is-100"),
        pytest.param(2.0, [1.9, 2.1], 0.0, id="twice-is-0"),
        pytest.param(0.8, [0.75, 0.85], 50 + 50 * math.log(0.8) / math.log(0.5), id="between"),
    ],
)
def test_a_text_entrys_all_around_ranks_its_perplexity_not_its_accuracy(
    rule_set: Rules, ratio: float, ci: list[float], points: float
) -> None:
    """The accuracy part of a generation entry is its perplexity against the baseline's,
    lower scoring higher; its interval comes out in order although the formula falls."""
    m = metrics(
        accuracy=0.99, perplexity_ratio=ratio, perplexity_ratio_ci95=ci, public_probe_ratio=1.0
    )
    event = rule_set.events["all_around"]
    scored = rules.evaluate_event(event, m, [], rule_set.composite_parts, "generation")
    part = scored["parts"]["accuracy"]
    assert (part["metric"], part["points"]) == ("perplexity_ratio", pytest.approx(points))
    low, high = part["points_ci95"]
    assert low <= part["points"] <= high and low < high
    digits = rules.evaluate_event(event, m, [], rule_set.composite_parts, "classification")
    assert digits["parts"]["accuracy"]["points"] == pytest.approx(99.0)


@pytest.mark.parametrize(
    ("protocol", "qualified"), [("generation", False), ("classification", True)]
)
def test_all_around_refuses_a_table_of_the_public_answers_in_a_text_entry_only(
    rule_set: Rules, protocol: str, qualified: bool
) -> None:
    m = metrics(perplexity_ratio=0.12, perplexity_ratio_ci95=[0.1, 0.14], public_probe_ratio=0.12)
    events, _ = rules.evaluate(rule_set, m, ["all_around"], protocol)
    assert events["all_around"]["qualified"] is qualified
    ids = [c["id"] for c in events["all_around"]["rules"]]
    assert ids == (["no_memorised_answers"] if protocol == "generation" else [])


def test_a_quick_grade_leaves_a_rule_on_what_only_a_full_grade_measures_unjudged(
    rule_set: Rules,
) -> None:
    """inference_speed's greedy_agreement is measured by a full grade alone: a quick grade
    of an untouched copy of the baseline is not judged there (it exited 1, not qualified),
    a full grade without it is not qualified, and a quick grade that misses another rule
    is not qualified either."""
    event = rule_set.events["inference_speed"]
    kept = metrics(perplexity_ratio=1.0, filler_perplexity_ratio=1.0, greedy_agreement=None)
    quick = rules.evaluate_event(event, kept, [], None, "generation", quick=True)
    assert quick["qualified"] is None and quick["scored"] is True
    assert (
        quick["reason"]
        == "not judged: a full grade measures greedy_agreement, a quick one does not"
    )
    assert derive.qualified_everywhere({"events": {"inference_speed": quick}})
    full = rules.evaluate_event(event, kept, [], None, "generation")
    assert full["qualified"] is False and "greedy_agreement was not measured" in full["reason"]
    worse = {**kept, "filler_perplexity_ratio": 1.2}
    missed = rules.evaluate_event(event, worse, [], None, "generation", quick=True)
    assert missed["qualified"] is False
    flagged = rules.evaluate_event(event, kept, ["some_flag"], None, "generation", quick=True)
    assert flagged["qualified"] is False
