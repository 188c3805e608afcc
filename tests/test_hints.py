"""Hints (docs/DESIGN.md, Hints): each rule of events.yaml's ``hints:`` fires on a result that
should get it, citing its numbers, and stays silent on one that should not; a bad rule is
refused at load with its line and fix; hints change no score; the card shows at most three.

The results are the golden ones of ``tests/data`` (a copy of the MLP baseline, the int8
example) changed where a case needs it, a small generation result built here, and hot spots
in the shape the hot-spot pass stores (``optimized.metrics.hotspots``).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from clirun import runner
from golden import golden_result
from rich.console import Console

from grader import hintreaders, hints, render, renderhints
from grader.config import load_rules, project_root
from grader.errors import ConfigError
from grader.result import derive

RULES = load_rules()
EVENTS_YAML = project_root() / "events.yaml"
run = runner(flat_out=True)

# In the shape grader/result/hotspots.py derives: the lines' shares are of the profiled
# block's time, the buckets' of the counted block's instructions.
SPOTS = {
    "method": "each line's time in one untimed block",
    "total": 0.012,
    "unit": "seconds",
    "lines": [
        {"file": "model.py", "line": 31, "function": "forward", "share": 0.94},
        {"file": "model.py", "line": 33, "function": "forward", "share": 0.03},
    ],
    "functions": [{"file": "model.py", "function": "forward", "share": 0.97}],
    "buckets": {"blas": 0.2, "numpy": 0.1, "interpreter": 0.62, "other": 0.08},
    "buckets_method": "cachegrind's instructions by function, of the counted block",
    "buckets_total": 12_000_000,
    "buckets_unit": "instructions",
    "why_absent": None,
}
NO_VALGRIND = "library buckets: the instructions were not counted (valgrind is not installed)"
NO_PROFILE = "lines: crashed: the profiled child died"


def baseline() -> dict:
    return golden_result()


def int8() -> dict:
    return golden_result("result_example_int8.json")


def text_result(growth: bool = True, **improvements: float) -> dict:
    """A generation result holding what the hints read of one (a stored one is far larger)."""
    latencies = {"16": 2.0, "64": 4.4, "120": 8.7} if growth else {"16": 0.32, "64": 0.37,
                                                                    "120": 0.33}  # fmt: skip
    speedups = {"16": 1.0, "120": 1.0} if growth else {"16": 5.1, "120": 20.9}
    return {
        "verdict": {"status": "graded"},
        "measurement": {"protocol": "generation", "throughput_batch": 0},
        "baseline": {"metrics": {"perplexity": 8.595, "parameters": 112_645}},
        "optimized": {
            "metrics": {
                "perplexity": 8.595 * improvements.get("perplexity_ratio", 1.0),
                "parameters": 112_645,
                "latency_by_context_ms": latencies,
                "throughput_sps": None,
            }
        },
        "improvements": {
            "speedup_by_context": {k: {"speedup": v} for k, v in speedups.items()},
            "perplexity_ratio": 1.0,
            **improvements,
        },
    }


def with_spots(doc: dict, **change: object) -> dict:
    doc["optimized"]["metrics"]["hotspots"] = copy.deepcopy(SPOTS) | change
    return doc


def with_buckets(**shares: float) -> dict:
    return with_spots(baseline(), buckets=SPOTS["buckets"] | shares)


def as_float64(doc: dict) -> dict:
    for array in doc["artifacts"]["arrays"]:
        if array["name"] == "weights.npz:w1":
            array["dtype"] = "float64"
    return doc


def set_path(doc: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[key]
    target[last] = value
    return doc


def idle(doc: dict) -> dict:
    doc["techniques"]["detected"][0]["used"] = False
    return doc


# Each rule of events.yaml: a result it fires on, with what its text must show, and results
# it must stay silent on.
Make = Callable[[], dict]
CASES: dict[str, tuple[Make, list[str], list[Make]]] = {
    "hot_line": (
        lambda: with_spots(baseline()),
        ["model.py:31 (forward)", "94 %", "of the pass's time"],
        [baseline, lambda: with_spots(baseline(), lines=[], why_absent=NO_PROFILE),
         lambda: with_spots(baseline(), lines=[]),
         lambda: with_spots(baseline(), lines=[SPOTS["lines"][1]])],
    ),
    "interpreter_bound": (
        lambda: with_buckets(),
        ["62 %", "BLAS 20 %", "10 %", "of the counted block's instructions"],
        [baseline, lambda: with_spots(baseline(), buckets=None, why_absent=NO_VALGRIND),
         lambda: with_buckets(interpreter=0.3, blas=0.6)],
    ),
    "blas_bound": (
        lambda: with_buckets(blas=0.8, interpreter=0.1),
        ["80 %", "of the counted block's instructions"],
        [baseline, lambda: with_buckets()],
    ),
    "elementwise_bound": (
        lambda: with_buckets(numpy=0.55, interpreter=0.2),
        ["55 %", "of the counted block's instructions"],
        [baseline, lambda: with_buckets()],
    ),
    "float64_weights": (
        lambda: as_float64(baseline()),
        ["92 %", "100,352 values"],
        [baseline, int8],
    ),
    "float32_weights": (
        baseline,
        ["100 %", "109,386 values", "weights.npz:w1 (float32, 100,352 values)", "4× smaller"],
        [int8, lambda: as_float64(baseline())],
    ),
    "more_parameters": (
        lambda: set_path(baseline(), "optimized.metrics.parameters", 218_772),
        ["2×", "218,772", "109,386"],
        [baseline, int8],
    ),
    "idle_evidence": (
        lambda: idle(int8()),
        ["quantization", "(1 technique(s))"],
        [baseline, int8],
    ),
    "unclaimed_technique": (
        lambda: set_path(int8(), "techniques.unclaimed", ["quantization"]),
        ["quantization", "(1 technique(s))"],
        [baseline, int8],
    ),
    "per_call_overhead": (
        baseline,
        ["6.16×", "batches of 32", "476,053 a second", "12.94 µs"],
        [lambda: set_path(baseline(), "optimized.metrics.throughput_sps", 90_000.0),
         lambda: set_path(baseline(), "optimized.metrics.throughput_sps", 193_000.0),  # 2.5×
         lambda: set_path(baseline(), "measurement.throughput_batch", 0),
         text_result],
    ),
    "memory_bound": (
        lambda: set_path(set_path(baseline(), "improvements.instruction_ratio", 2.4),
                         "improvements.speedup", 1.1),
        ["2.40× fewer instructions", "1.10× faster", "2.18× apart"],
        [baseline,  # no instructions counted
         lambda: set_path(baseline(), "improvements.instruction_ratio", 1.2),
         lambda: set_path(baseline(), "improvements.instruction_ratio", None),
         lambda: set_path(set_path(baseline(), "improvements.instruction_ratio", 2.4),
                          "improvements.speedup", 2.0)],
    ),
    "weights_expanded": (
        int8,
        ["3.90× smaller", "1.12×", "2.5 MB against 2.2 MB"],
        [baseline, lambda: set_path(int8(), "optimized.metrics.peak_memory_bytes", 1_000_000),
         lambda: set_path(int8(), "improvements.compression_ratio", 1.2)],
    ),
    "no_kv_cache": (
        text_result,
        ["4.35×", "from 16 to 120 tokens", "2.000 ms to 8.700 ms", "from 1× to 1×"],
        [lambda: text_result(growth=False), baseline],
    ),
    "perplexity_cost": (
        lambda: text_result(perplexity_ratio=1.04),
        ["1.04×", "8.939 against 8.595"],
        [text_result, baseline],
    ),
    "other_predictions": (
        lambda: text_result(filler_perplexity_ratio=1.98, perplexity_ratio=0.94),
        ["1.98×", "0.94×", "generation_quality"],
        [text_result, lambda: text_result(filler_perplexity_ratio=1.035),
         lambda: text_result(filler_perplexity_ratio=None), baseline],
    ),
    "perplexity_gap": (
        lambda: text_result(perplexity_gap=1.5),
        ["1.50×"],
        [text_result, lambda: text_result(perplexity_gap=None),
         lambda: text_result(perplexity_gap=1.05)],
    ),
}  # fmt: skip


def fired(doc: dict) -> dict[str, hints.Hint]:
    return {h.id: h for h in hints.evaluate(doc, RULES.hints)}


def test_every_hint_rule_has_its_case() -> None:
    assert {rule["id"] for rule in RULES.hints} == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_hint_fires_where_its_numbers_say_so_and_shows_them(rule: str) -> None:
    make, shown, _ = CASES[rule]
    hint = fired(make())[rule]
    for text in shown:
        assert text in hint.text, (text, hint.text)
    assert "{" not in hint.text and "None" not in hint.text
    # every number its conditions read is in the text, as the hint cites it
    spec = next(r for r in RULES.hints if r["id"] == rule)
    for condition in spec["when"]:
        assert hint.cited[condition["observation"]] in hint.text


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_hint_stays_silent_where_its_numbers_do_not_say_so(rule: str) -> None:
    for make in CASES[rule][2]:
        assert rule not in fired(make())


def test_a_rejected_result_gets_no_hint() -> None:
    doc = with_spots(baseline())
    doc["verdict"] = {"status": "rejected", "code": "crashed", "message": "it crashed"}
    assert hints.evaluate(doc, RULES.hints) == []


def test_hints_are_ordered_by_priority_then_by_events_yaml() -> None:
    doc = with_spots(as_float64(baseline()), buckets=SPOTS["buckets"])
    order = [h.id for h in hints.evaluate(doc, RULES.hints)]
    priority = {r["id"]: (r["priority"], i) for i, r in enumerate(RULES.hints)}
    assert order == sorted(order, key=priority.__getitem__)
    assert order[:2] == ["hot_line", "float64_weights"]


def test_a_rule_of_the_other_protocol_stays_silent() -> None:
    rule = {"id": "x", "priority": 1, "protocol": "generation",
            "when": [{"observation": "float32_share", "op": ">=", "value": 0.5}],
            "message": "{float32_share}"}  # fmt: skip
    assert hints.evaluate(baseline(), [rule]) == []
    assert [
        h.text for h in hints.evaluate(baseline(), [rule | {"protocol": "classification"}])
    ] == ["100 %"]


def test_a_message_showing_an_absent_observation_stays_silent() -> None:
    rule = {"id": "x", "priority": 1, "message": "{float32_share} and {hotspot}",
            "when": [{"observation": "float32_share", "op": ">=", "value": 0.5}]}  # fmt: skip
    assert hints.evaluate(baseline(), [rule]) == []
    assert len(hints.evaluate(with_spots(baseline()), [rule])) == 1


def test_a_big_endian_array_is_read_by_its_dtype() -> None:
    doc = as_float64(baseline())
    next(a for a in doc["artifacts"]["arrays"] if a["dtype"] == "float64")["dtype"] = ">f8"
    assert "92 %" in fired(doc)["float64_weights"].text


@pytest.mark.parametrize(
    "spots",
    [
        pytest.param("broken", id="not-a-mapping"),
        pytest.param({"lines": [{"file": "model.py", "share": "most"}]}, id="share-not-a-number"),
        pytest.param({"lines": ["model.py:31"]}, id="line-not-a-mapping"),
        pytest.param(SPOTS | {"buckets": "none"}, id="buckets-not-a-mapping"),
        pytest.param(SPOTS | {"lines": 5, "buckets": "none"}, id="lines-not-a-list"),
    ],
)
def test_odd_hot_spots_keep_a_hint_silent_not_the_card(spots: object) -> None:
    doc = baseline()
    doc["optimized"]["metrics"]["hotspots"] = spots
    ids = set(fired(doc))
    assert not ids & {"interpreter_bound", "blas_bound", "elementwise_bound"}
    assert renderhints.HEADING in markdown(doc)  # the other hints still show


def test_each_half_of_the_hot_spots_is_read_without_the_other() -> None:
    """The lines come from a profiled child, the buckets from the counted runs: without
    valgrind the lines are still there (and the hottest one is named), and without the
    lines the buckets are."""
    without_buckets = fired(with_spots(baseline(), buckets=None, why_absent=NO_VALGRIND))
    assert "model.py:31 (forward)" in without_buckets["hot_line"].text
    without_lines = fired(with_spots(baseline(), lines=[], why_absent=NO_PROFILE))
    assert "62 %" in without_lines["interpreter_bound"].text
    assert "hot_line" not in without_lines


def test_a_hot_line_without_its_function_is_shown_with_what_it_has() -> None:
    doc = with_spots(baseline(), lines=[{"file": "model.py", "line": 31, "share": 0.9}])
    assert "model.py:31 (?)" in fired(doc)["hot_line"].text


def test_the_examples_get_the_hints_their_numbers_call_for() -> None:
    """The stored grades of the two TinyTalks examples: the baseline's copy recomputes its
    prefix at every step, the KV cache does not."""
    latest = {}
    for team in ("example-tinytalks-baseline", "example-kv-cache"):
        newest = max((project_root() / "results" / team / "tinytalks").glob("*.json"))
        latest[team] = fired(json.loads(newest.read_text()))
    assert "no_kv_cache" in latest["example-tinytalks-baseline"]
    assert "no_kv_cache" not in latest["example-kv-cache"]


# -- hints change no score -------------------------------------------------------------------------
def test_hints_change_no_score_and_not_the_rules_fingerprint(tmp_path: Path) -> None:
    text = EVENTS_YAML.read_text()
    start, end = text.index("\nhints:\n"), text.index("\n# What a submission's code may import")
    path = tmp_path / "events.yaml"
    path.write_text(text[:start] + text[end:])
    without = load_rules(path)

    assert without.hints == [] and RULES.hints
    assert without.sha256 == RULES.sha256
    doc = with_spots(baseline())
    assert derive.derive(doc, without) == derive.derive(doc, RULES)
    assert "hint" not in json.dumps(derive.derive(doc, RULES))


# -- events.yaml: a bad rule is refused at load ----------------------------------------------------
FLOAT64 = '    when: [{observation: float64_share, op: ">=", value: 0.2}]'
BROKEN = [
    pytest.param(FLOAT64, FLOAT64.replace("float64_share", "float64_shares"),
                 "unknown_observation", "did you mean 'float64_share'?", id="unknown-condition"),
    pytest.param("({float64_values} values): float32 halves",
                 "({float64_valeus} values): float32 halves", "unknown_observation",
                 "did you mean 'float64_values'?", id="unknown-in-message"),
    pytest.param("hold {float64_share} of the weights", "hold most of the weights",
                 "hint_uncited", "{float64_share}", id="uncited"),
    pytest.param("hold {float64_share} of", "hold {float64_share:.0%} of", "hint_template",
                 "{name}", id="format-spec"),
    pytest.param("hold {float64_share} of", "hold {float64_share of", "hint_template",
                 "{name}", id="stray-brace"),
    pytest.param(FLOAT64, FLOAT64.replace("float64_share", "largest_array"),
                 "text_observation", "compare one of the numbers", id="text-condition"),
    pytest.param(FLOAT64, FLOAT64.replace("0.2}", ".nan}"), "bad_value", "", id="nan"),
    pytest.param("  - id: float64_weights", "  - id: hot_line", "duplicate_id", "", id="dup-id"),
    pytest.param("    priority: 1\n    when: [{observation: float64",
                 "    priority: 0\n    when: [{observation: float64", "bad_value", "",
                 id="priority-zero"),
    pytest.param(FLOAT64, FLOAT64.replace("observation:", "metric:"), "unknown_key",
                 "", id="metric-not-observation"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "rule", "fix"), BROKEN)
def test_a_bad_hint_rule_is_refused_with_its_line_and_fix(
    tmp_path: Path, old: str, new: str, rule: str, fix: str
) -> None:
    text = EVENTS_YAML.read_text()
    at = text.index("  - id: float64_weights")
    assert old in text[at:]
    broken = text[:at] + text[at:].replace(old, new, 1)
    path = tmp_path / "events.yaml"
    path.write_text(broken)
    line = broken[: broken.index(new, at)].count("\n") + 1  # where the change starts

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    found = [(v.rule, v.line) for v in raised.value.violations]
    assert (rule, line) in found, found
    (problem,) = [v for v in raised.value.violations if v.rule == rule]
    assert problem.fix and fix in problem.fix
    assert problem.file == path.as_posix()


def test_events_yaml_without_hints_loads() -> None:
    assert RULES.hints  # the shipped one has them; the test above loads one without


# -- the card --------------------------------------------------------------------------------------
def markdown(doc: dict) -> str:
    return render.markdown(doc, RULES.hints)


def terminal(doc: dict) -> str:
    buffer = io.StringIO()
    render.terminal(doc, Console(file=buffer, width=400), RULES.hints)
    return buffer.getvalue()


def test_the_card_shows_at_most_three_hints_and_names_the_rest() -> None:
    doc = with_spots(as_float64(baseline()), buckets=SPOTS["buckets"])
    every = hints.evaluate(doc, RULES.hints)
    assert len(every) > renderhints.MAX_SHOWN
    text = markdown(doc)
    assert text.count("- 💡 ") == renderhints.MAX_SHOWN
    assert f"{len(every) - 3} more: " in text and every[-1].id.replace("_", "\\_") in text
    assert text.index("model.py:31") < text.index("92 %")  # priority 1 first
    term = terminal(doc)
    assert term.count("→ ") == renderhints.MAX_SHOWN and renderhints.HEADING in term


def test_no_hint_section_where_none_fires_or_no_rules_are_given() -> None:
    doc = baseline()
    for array in doc["artifacts"]["arrays"]:
        array["dtype"] = "int8"
    doc["optimized"]["metrics"]["throughput_sps"] = 10_000.0
    assert hints.evaluate(doc, RULES.hints) == []
    assert renderhints.HEADING not in markdown(doc)
    assert renderhints.HEADING not in render.markdown(baseline())  # no rules given
    assert renderhints.HEADING in markdown(baseline())


def test_a_hint_shows_student_chosen_names_inert() -> None:
    doc = with_spots(baseline())
    doc["optimized"]["metrics"]["hotspots"]["lines"][0]["function"] = (
        "f\n@octocat <img src=x> [a](http://evil)"
    )
    text = markdown(doc)
    hint = next(ln for ln in text.splitlines() if ln.startswith("- 💡") and "model.py:31" in ln)
    assert "<img" not in hint and "](" not in hint and "http://" not in hint
    assert "@octocat" not in hint  # a mention is broken
    assert "\x1b" not in terminal(doc)


# -- olympics rules --------------------------------------------------------------------------------
def test_olympics_rules_lists_the_hints_and_the_observations() -> None:
    code, out, _ = run("rules")
    assert code == 0
    for rule in RULES.hints:
        assert rule["id"] in out
    assert "largest_array_int8_factor" in out and "hotspot_share" in out
    code, out, _ = runner()("rules", "--json")
    data = json.loads(out)
    assert data["hints"] == RULES.hints
    assert set(data["hint_observations"]) == set(hintreaders.OBSERVATIONS)
