"""Scoring: the events of events.yaml applied to a submission's observed metrics.

Each rule and each flag is a small check yielding a record with the rule's id, the
metric, the expected bound and the actual value, so that the terminal, the PR comment
and the leaderboard show the same thing. Nothing here measures or imports the harness.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

from grader.config import Rules
from grader.metrics import POSITIVE

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def measurement_problem(metric: str, value: object) -> str | None:
    """Why ``value`` cannot be compared at all, or None if it can."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{metric} was not measured"
    if not math.isfinite(value):
        return f"{metric} is {value!r}, not a finite number"
    if metric in POSITIVE and value <= 0:
        return f"{metric} is {value!r}; it must be positive"
    return None


def check_rule(rule: Mapping, metrics: Mapping) -> dict:
    """One constraint: passed only if the value is a valid measurement and meets the bound."""
    metric, op, bound = rule["metric"], rule["op"], rule["value"]
    actual = metrics.get(metric)
    problem = measurement_problem(metric, actual)
    passed = problem is None and OPS[op](actual, bound)
    record = {
        "id": rule["id"],
        "metric": metric,
        "op": op,
        "expected": bound,
        "actual": actual if problem is None else None,
        "passed": bool(passed),
    }
    if problem:
        record["message"] = problem
    elif not passed:
        record["message"] = f"{metric} {actual!r} does not satisfy {op} {bound!r}"
    return record


def raise_flags(flags: list[Mapping], metrics: Mapping) -> list[dict]:
    """The flags whose condition (and ``when`` precondition, if any) holds."""
    raised = []
    for flag in flags:
        value = metrics.get(flag["metric"])
        if measurement_problem(flag["metric"], value) is not None:
            continue
        when = flag.get("when")
        if when is not None:
            pre = metrics.get(when["metric"])
            if measurement_problem(when["metric"], pre) or not OPS[when["op"]](pre, when["value"]):
                continue
        if OPS[flag["op"]](value, flag["value"]):
            raised.append(
                {
                    "id": flag["id"],
                    "severity": flag["severity"],
                    "metric": flag["metric"],
                    "op": flag["op"],
                    "threshold": flag["value"],
                    "value": value,
                    "message": flag["message"],
                }
            )
    return raised


def score_interval(score_metric: str, metrics: Mapping) -> list[float] | None:
    """The 95 % interval of an event's score, from the intervals of its ingredients."""
    if score_metric in ("speedup", "accuracy", "composite", "perplexity"):  # with its interval
        return metrics.get(f"{score_metric}_ci95")
    if score_metric in ("compression_ratio", "instruction_ratio"):  # exact: no interval
        c = metrics.get(score_metric)
        return [c, c] if c is not None else None
    if score_metric == "efficiency":
        ci, c = metrics.get("speedup_ci95"), metrics.get("compression_ratio")
        penalty = metrics.get("accuracy_penalty")
        if ci is None or c is None or penalty is None:
            return None
        return [ci[0] * c / penalty, ci[1] * c / penalty]
    return None


def normalise(part: Mapping, value: float) -> float:
    """One part of a composite score on 0-100, by its formula (events.yaml ``composite_parts``)."""
    if part["formula"] == "percent":
        points = 100 * value
    elif part["formula"] == "log_ratio":
        points = 50 + 50 * math.log(value) / math.log(part["cap"]) if value > 0 else 0.0
    else:  # points
        points = value
    return float(min(100.0, max(0.0, points)))


def part_for(part: Mapping, protocol: str) -> Mapping:
    """A composite part as it applies to a workload of ``protocol``: its override for that
    protocol where events.yaml gives one (``generation:`` under the part), else itself."""
    return part.get(protocol, part)


def composite(
    event: Mapping, parts: Mapping, metrics: Mapping, protocol: str = "classification"
) -> dict:
    """The score of a composite event: each part normalised to 0-100, then weighted.

    The interval puts each part's interval ends (``<metric>_ci95`` where one is measured)
    through the same monotone formulas (a decreasing one, a ``log_ratio`` with a cap under
    1, swaps the ends); a part without one is exact.
    """
    shown: dict[str, dict] = {}
    problems = []
    for name, weight in event["composite"].items():
        spec = part_for(parts[name], protocol)
        value = metrics.get(spec["metric"])
        problem = measurement_problem(spec["metric"], value)
        if problem:
            problems.append(problem)
            continue
        ends = metrics.get(f"{spec['metric']}_ci95") or [value, value]
        shown[name] = {
            "metric": spec["metric"],
            "value": value,
            "weight": weight,
            "points": normalise(spec, value),
            "points_ci95": sorted([normalise(spec, ends[0]), normalise(spec, ends[1])]),
        }
    if problems:
        return {"score": None, "score_ci95": None, "parts": shown, "reason": "; ".join(problems)}
    return {
        "score": math.fsum(p["weight"] * p["points"] for p in shown.values()),
        "score_ci95": [
            math.fsum(p["weight"] * p["points_ci95"][i] for p in shown.values()) for i in (0, 1)
        ],
        "parts": shown,
        "reason": None,
    }


# What a quick grade does not measure (one session: no walk is shown again in a fresh
# process, no greedy answer asked twice): a rule on it is left to a full grade.
FULL_GRADE_ONLY = frozenset({"greedy_agreement"})


def evaluate_event(
    event: Mapping,
    metrics: Mapping,
    disqualified_by: list[str],
    parts: Mapping | None = None,
    protocol: str = "classification",
    quick: bool = False,
) -> dict:
    """One event's score and checks, for an entry of a workload of ``protocol``: the event's
    rules that bind it (``binding``) are checked. In a ``quick`` grade, an event whose only
    unmet rules are on what a full grade alone measures (``FULL_GRADE_ONLY``) is not judged
    (``qualified`` None), where a full grade would judge it."""
    if event["score"] == "composite":
        mixed = composite(event, parts or {}, metrics, protocol)
        metrics = {**metrics, "composite": mixed["score"], "composite_ci95": mixed["score_ci95"]}
    checks = [check_rule(rule, metrics) for rule in binding(event.get("rules", []), protocol)]
    score = metrics.get(event["score"])
    problem = measurement_problem(event["score"], score)
    qualified = problem is None and all(c["passed"] for c in checks) and not disqualified_by
    result = {
        "title": event["title"],
        "scored": problem is None,
        "score": score if problem is None else None,
        "score_metric": event["score"],
        "score_ci95": score_interval(event["score"], metrics) if problem is None else None,
        "rules": checks,
        "qualified": qualified,
    }
    if event["score"] == "composite":
        result["parts"] = mixed["parts"]
        if mixed["reason"] and disqualified_by:
            return {**result, "reason": "disqualified by flag " + ", ".join(disqualified_by)}
        if mixed["reason"]:  # a part the grader could not measure: no rule of the team's failed
            return {**result, "qualified": None, "reason": "not scored: " + mixed["reason"]}
    unmet = [c for c in checks if not c["passed"]]
    if (
        quick
        and problem is None
        and not disqualified_by
        and unmet
        and all(c["metric"] in FULL_GRADE_ONLY and c["actual"] is None for c in unmet)
    ):
        names = ", ".join(sorted({c["metric"] for c in unmet}))
        return {
            **result,
            "qualified": None,
            "reason": f"not judged: a full grade measures {names}, a quick one does not",
        }
    if problem:
        result["reason"] = problem
    elif disqualified_by:
        result["reason"] = "disqualified by flag " + ", ".join(disqualified_by)
    elif not qualified:
        result["reason"] = "; ".join(c["message"] for c in checks if not c["passed"])
    return result


def binding(items: list[Mapping], protocol: str) -> list[Mapping]:
    """The rules (or flags) that bind an entry of a workload of ``protocol``: those of its
    kind, and those that name none."""
    return [item for item in items if item.get("protocol", protocol) == protocol]


def evaluate(
    rules: Rules,
    metrics: Mapping,
    events: list[str],
    protocol: str = "classification",
    quick: bool = False,
) -> tuple[dict, list[dict]]:
    """Score every entered event and raise every flag; all checks run, none short-circuits.
    ``protocol``: the kind of the entry's workload, which picks the rules and flags that bind
    it."""
    flags = raise_flags(binding(rules.flags, protocol), metrics)
    disqualifying = [f["id"] for f in flags if f["severity"] == "disqualify"]
    scored = {
        name: evaluate_event(
            rules.events[name], metrics, disqualifying, rules.composite_parts, protocol, quick
        )
        for name in events
    }
    return scored, flags
