"""Every published number of a result, derived from its observations: recomputed when the
result is built and again each time it is read, so that a hand-edited number is caught
rather than trusted (docs/DESIGN.md, Owners of the numbers).

Only the *observations* are stored as given (per-round latencies, correct/total, file
sizes, resident memory: :mod:`grader.result.build`); every derived number (latency
summaries, speedup and its interval and p-values, compression ratio, accuracy delta, event
scores, rule checks, flags) is computed by :func:`derive`, and :mod:`grader.result.verify`
holds a stored file to it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from grader import rules, stats
from grader.analysis import quality, techniques
from grader.config import Rules
from grader.metrics import accuracy_of
from grader.result import counts, hotspots, text

# A generation model's own numbers that rules may name (beside the improvements).
TEXT_METRICS = (
    "perplexity", "probe_perplexity", "filler_perplexity", "exact_match", "char_f1",
    "probe_exact_match", "probe_char_f1", "tokens_per_s",
)  # fmt: skip
TEXT_IMPROVEMENTS = (
    "perplexity_ratio", "filler_perplexity_ratio", "probe_perplexity_ratio", "exact_match_delta",
    "char_f1_delta", "probe_char_f1_delta", "greedy_agreement", "public_probe_ratio",
)  # fmt: skip
# Where the sealed Q&A was scored (None elsewhere): the submission's perplexity on it, its
# ratio to the baseline's, and that ratio over the public one.
PRIVATE_TEXT_METRICS = ("private_perplexity", "private_perplexity_ratio", "perplexity_gap")


# -- derived numbers ----------------------------------------------------------------------------
def derive_model(
    metrics: dict, measurement: dict | None = None, sealed: dict | None = None
) -> dict:
    """Numbers of one model that follow from its observations (and, for a generation
    workload, from what its measurement showed and its sums over the sealed Q&A, ``sealed``:
    ``text.derive_text_model``)."""
    samples = metrics["latency_samples_ms"]
    low, high = stats.wilson_interval(metrics["correct"], metrics["total"])
    tput = metrics["throughput_samples_sps"]
    derived = {
        "accuracy": accuracy_of(metrics),
        "accuracy_ci95": [low, high],
        "latency_ms": stats.summarize(samples),
        "throughput_sps": stats.median(tput) if tput else None,
        "size_bytes": model_size(metrics["files"]),
    }
    if is_generation(measurement):
        derived |= text.derive_text_model(metrics, measurement, sealed)
    return derived


def is_generation(measurement: dict | None) -> bool:
    """Whether a result's measurement is a generation workload's (docs/DESIGN.md, Generation)."""
    return (measurement or {}).get("protocol") == "generation"


def model_size(files: dict[str, int]) -> int:
    """A model's size: every byte it can read, its files' contents and their paths (a model
    can list its copy, so its file names are bytes it can read: some 50 kB within the
    folder's caps, which a model could have spelt its weights in)."""
    return sum(files.values()) + sum(len(name.encode()) for name in files)


def session_ratios(
    baseline: list[float], submission: list[float], session_of_round: list[int]
) -> np.ndarray:
    """ABBA ratios grouped by session, as a (sessions, pairs) array for the grouped bootstrap.

    Sessions are cut to the shortest one's pair count (normally all have the same).
    """
    if not (len(baseline) == len(submission) == len(session_of_round)):
        raise ValueError("latency samples and session_of_round differ in length")
    sessions = np.asarray(session_of_round)
    groups = []
    for k in sorted(set(session_of_round)):
        mask = sessions == k
        groups.append(stats.abba_ratios(np.asarray(baseline)[mask], np.asarray(submission)[mask]))
    m = min(len(g) for g in groups)
    return np.stack([g[:m] for g in groups])


def speedup_estimate(groups: np.ndarray) -> tuple[float, list[float], float, float]:
    """Speedup, 95 % interval and one-sided p-values (faster, slower) from session groups.

    The speedup is the median of all ABBA ratios (docs/DESIGN.md, Statistics). The p-values
    come from a two-stage bootstrap (sessions, then rounds): robust to one odd session,
    since the pooled median hardly moves. The interval is the bootstrap's percentile
    interval, widened where need be to Student's t interval of the session medians: with a
    few sessions the bootstrap alone sees too little of their spread, and fresh processes of
    the same model differ by about ±1 % here. One session (``--quick``) can only speak for
    itself: the bootstrap alone.
    """
    speedup = stats.median(groups.ravel())
    replicates = stats.grouped_bootstrap(groups)
    lo, hi = stats.percentile_interval(replicates)
    if len(groups) > 1:
        t_lo, t_hi = stats.session_interval(np.median(groups, axis=1))
        lo, hi = min(lo, t_lo), max(hi, t_hi)
    return (
        speedup,
        [lo, hi],
        stats.bootstrap_p_value(replicates, 1.0, "greater"),
        stats.bootstrap_p_value(replicates, 1.0, "less"),
    )


# Rounds of digits new to the processes that can bound a speedup: a full grade has about 24.
# A quick grade's 3-6 cannot: with 3, the bound is about their largest ratio, which an
# honest model's median exceeds one time in eight (2 % a time with 12 or more).
MIN_NEW_DIGIT_ROUNDS = 12


def new_digit_bound(
    baseline: list[float], submission: list[float], round_roles: list[str] | None
) -> list[float] | None:
    """The 95 % interval of the median speedup over the rounds of digits new to the
    submission's processes (the reserve rounds, placed at random among the repeats; see
    grader/measure/schedule.py), or None where the result does not say which rounds those were.

    What a submission gains by answering a digit faster once it has met it (a cache of
    answers, in whatever share of the repeated rounds) shows in the repeated rounds only:
    the published speedup is held to this interval's upper end, so a cache buys nothing
    beyond the interval's own width, whether or not the caching check can tell it apart."""
    if round_roles is None:
        return None
    if len(round_roles) != len(baseline):
        raise ValueError("round_roles and the latency samples differ in length")
    fresh = [i for i, role in enumerate(round_roles) if role == "fresh"]
    if len(fresh) < MIN_NEW_DIGIT_ROUNDS:
        return None
    ratios = stats.paired_ratios([baseline[i] for i in fresh], [submission[i] for i in fresh])
    return list(stats.bootstrap_ci(ratios, "median"))


def published_speedup(
    baseline: list[float],
    submission: list[float],
    session_of_round: list[int],
    round_roles: list[str] | None,
) -> tuple[float, list[float], float, float, dict]:
    """The speedup as published: :func:`speedup_estimate` over every round, held to the
    upper end of :func:`new_digit_bound` where the result records the rounds' roles; with
    the interval, the p-values and what holding it took (the two extra improvements)."""
    speedup, interval, p_faster, p_slower = speedup_estimate(
        session_ratios(baseline, submission, session_of_round)
    )
    bound = new_digit_bound(baseline, submission, round_roles)
    if bound is None:
        return speedup, interval, p_faster, p_slower, {}
    held = {"speedup_measured": speedup, "speedup_new_digits_ci95": bound}
    if speedup > bound[1]:
        # Held: the interval keeps its lower end (below the held value where it was) and
        # ends at it. Taking the new digits' own lower end as well widened an honest
        # model's interval that was held by a hair (1.239 held at 1.213: [0.631, 1.213]).
        speedup, interval = bound[1], [min(interval[0], bound[1]), bound[1]]
    return speedup, interval, p_faster, p_slower, held


class RankedAccuracy(NamedTuple):
    """The accuracy the events rank on, and the private split's where the result has it."""

    accuracy: float
    ci95: list[float]
    baseline: float  # the baseline's, on the same split
    split: str  # "public", or "private" in the final phase
    private: float | None  # the submission's accuracy on the private split
    gap: float | None  # |public - private|


def ranked_accuracy(result: dict, rule_set: Rules, base: dict, sub: dict) -> RankedAccuracy:
    """The public split's accuracy; in the final phase, the private split's where the result
    scored it (the final ranking: accuracy, its delta and the scores on it)."""
    accuracy, accuracy_ci, base_accuracy = sub["accuracy"], sub["accuracy_ci95"], base["accuracy"]
    private = result.get("private") or {}
    private_accuracy = gap = None
    if private.get("available"):
        mine, theirs = private["optimized"], private["baseline"]
        private_accuracy = accuracy_of(mine)
        gap = abs(accuracy - private_accuracy)  # either way: fit to one split, or told apart
    split = "public"
    if rule_set.is_final and private_accuracy is not None:
        split = "private"
        accuracy, base_accuracy = private_accuracy, accuracy_of(theirs)
        accuracy_ci = list(stats.wilson_interval(mine["correct"], mine["total"]))
    return RankedAccuracy(accuracy, accuracy_ci, base_accuracy, split, private_accuracy, gap)


def improvements_of(
    result: dict, rule_set: Rules, base: dict, sub: dict
) -> tuple[dict, RankedAccuracy]:
    """The submission against the baseline (the result's ``improvements``), and the accuracy
    the events rank on."""
    measurement = result["measurement"]
    speedup, interval, p_faster, p_slower, held = published_speedup(
        base["latency_samples_ms"],
        sub["latency_samples_ms"],
        measurement["session_of_round"],
        measurement.get("round_roles"),
    )
    compression = base["size_bytes"] / sub["size_bytes"] if sub["size_bytes"] > 0 else math.inf
    ranked = ranked_accuracy(result, rule_set, base, sub)
    delta = ranked.accuracy - ranked.baseline
    penalty = 1 + max(0.0, -delta)
    improvements = {
        "speedup": speedup,
        "speedup_ci95": interval,
        "speedup_p_value": p_faster,
        "speedup_p_value_slower": p_slower,
        "compression_ratio": compression,
        "accuracy_delta": delta,
        "accuracy_penalty": penalty,
        "efficiency": speedup * compression / penalty,
        "accuracy_split": ranked.split,
        "private_accuracy": ranked.private,
        "accuracy_gap": ranked.gap,
        **held,
    }
    if is_generation(measurement):  # the speedup is the whole walk's (text.walk_speedup)
        # the sealed Q&A's perplexity ranks too, with the interval its grade computed
        sealed = (result.get("private") or {}).get("perplexity_ratio_ci95")
        ranked_ci = sealed if ranked.split == "private" else None
        improvements |= text.derive_text_improvements(
            base, sub, measurement, speedup_estimate, ranked_ci
        )
        improvements["efficiency"] = improvements["speedup"] * compression / penalty
    return improvements, ranked


def sealed_sums(result: dict) -> dict:
    """Each model's sums over a generation grade's sealed Q&A (its side of ``private``, its
    form checked: ``text.check_private``), or None for each."""
    private = result.get("private") or {}
    sealed = {"baseline": None, "optimized": None}
    if is_generation(result["measurement"]):
        text.check_private(private)
        if private.get("available"):
            sealed = {side: private[side] for side in sealed}
    return sealed


def derive(result: dict, rule_set: Rules) -> dict:
    """Every derived part of a graded result, recomputed from its observations."""
    measurement = result["measurement"]
    sealed = sealed_sums(result)
    base_derived = derive_model(result["baseline"]["metrics"], measurement, sealed["baseline"])
    sub_derived = derive_model(result["optimized"]["metrics"], measurement, sealed["optimized"])
    base = {**result["baseline"]["metrics"], **base_derived}
    sub = {**result["optimized"]["metrics"], **sub_derived}
    improvements, ranked = improvements_of(result, rule_set, base, sub)
    if (counted := counts.derived(result.get("instructions"))) is not None:
        base_derived |= counted[0]
        sub_derived |= counted[1]
        improvements |= counted[2]
    if (spots := hotspots.derived(result.get("hotspots"), result.get("instructions"))) is not None:
        base_derived["hotspots"], sub_derived["hotspots"] = spots
    workload = rule_set.workloads.get(result["submission"]["workload"], {})
    found = techniques.compare(
        result.get("artifacts"),
        result["submission"].get("techniques_claimed", []),
        rule_set,
        workload.get("baseline_parameters", 1),
        result.get("ablation"),
    )
    code_quality = quality.score(result.get("code_quality"), rule_set)
    error_ratio = (1 - ranked.accuracy) / (1 - ranked.baseline) if ranked.baseline < 1 else None
    flat = {
        "accuracy": ranked.accuracy,
        "accuracy_ci95": ranked.ci95,
        "error_ratio": error_ratio,
        "latency_ms": sub["latency_ms"]["median"],
        "size_bytes": sub["size_bytes"],
        **improvements,
        "code_quality": code_quality["score"],
        "innovation": found["innovation"],
        "techniques_unconfirmed": None if found["detected"] is None else len(found["unconfirmed"]),
        "instructions_over_speedup": counts.over_speedup(improvements),
    }
    if is_generation(measurement):
        flat["latency_ms"] = sub["walk_latency_ms"]  # per token, over a walk
        flat |= {key: sub[key] for key in TEXT_METRICS}
        flat |= {key: improvements[key] for key in TEXT_IMPROVEMENTS}
        flat["perplexity_ci95"] = sub["perplexity_ci95"]
        flat |= {key: improvements.get(key) for key in PRIVATE_TEXT_METRICS}
        if ranked.split == "private":  # the final phase ranks the sealed Q&A's perplexity
            flat["perplexity"] = sub["private_perplexity"]
            flat["perplexity_ci95"] = sub["private_perplexity_ci95"]
    protocol = "generation" if is_generation(measurement) else "classification"
    quick = bool(measurement.get("quick"))
    events, flags = rules.evaluate(rule_set, flat, result["submission"]["events"], protocol, quick)
    return {
        "baseline": {"metrics": base_derived},
        "optimized": {"metrics": sub_derived},
        "improvements": improvements,
        "techniques": found,
        "code_quality": code_quality,
        "events": events,
        "flags": flags,
    }


# Where :func:`derive`'s numbers sit among the stored observations (merged into the mapping
# there) rather than replacing a whole section of the result.
MERGED = (("baseline", "metrics"), ("optimized", "metrics"), ("code_quality",))


def stored_part(result: dict, derived: dict) -> dict:
    """What ``result`` stores where :func:`derive` puts its numbers, in the same shape: the
    two can be compared key by key, and a difference names the stored field's own path."""
    part: dict = {k: result.get(k) for k in derived if k not in {m[0] for m in MERGED}}
    for path in MERGED:
        section, new = result, derived
        for key in path:
            section, new = (section or {}).get(key), new[key]
        part.setdefault(path[0], {})
        target = part[path[0]] if len(path) == 1 else part[path[0]].setdefault(path[1], {})
        target.update({k: (section or {}).get(k) for k in new})
    return part


def apply_derived(result: dict, derived: dict) -> dict:
    """``result`` with :func:`derive`'s numbers written where they are stored."""
    for path in MERGED:
        if path[0] not in result:
            continue  # a result without code quality keeps none
        section, new = result, derived
        for key in path:
            section, new = section[key], new[key]
        section.update(new)
    for key, value in derived.items():
        if key not in {m[0] for m in MERGED}:
            result[key] = value
    return result


def qualified_everywhere(result: dict) -> bool:
    return all(e["qualified"] is not False for e in result.get("events", {}).values())
