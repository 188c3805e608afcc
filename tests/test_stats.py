"""grader.stats against numbers worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
import warnings

import numpy as np
import pytest

from grader import stats

# --- paired_ratios and median ---------------------------------------------------------------


def test_paired_ratios_divides_baseline_by_submission() -> None:
    # 2/1 = 2 (twice as fast), 3/3 = 1 (tie), 4/8 = 0.5 (twice as slow)
    ratios = stats.paired_ratios([2.0, 3.0, 4.0], [1.0, 3.0, 8.0])
    assert ratios.tolist() == [2.0, 1.0, 0.5]


@pytest.mark.parametrize(
    ("baseline", "submission", "message"),
    [
        pytest.param([1.0, 2.0], [1.0], "paired round by round", id="unequal-lengths"),
        pytest.param([], [], "must not be empty", id="empty"),
        pytest.param([1.0, math.nan], [1.0, 1.0], "found nan at index 1", id="nan-baseline"),
        pytest.param([1.0, 1.0], [math.inf, 1.0], "found inf at index 0", id="inf-submission"),
        pytest.param([1.0, 0.0], [1.0, 1.0], "finite and > 0; found 0.0", id="zero"),
        pytest.param([1.0, 1.0], [1.0, -2.0], "found -2.0 at index 1", id="negative"),
        pytest.param([[1.0]], [[1.0]], "one-dimensional", id="two-dimensional"),
        pytest.param(["fast"], [1.0], "sequence of numbers", id="not-a-number"),
    ],
)
def test_paired_ratios_refuses_bad_input(baseline, submission, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.paired_ratios(baseline, submission)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([3.0, 1.0, 2.0], 2.0, id="odd-count"),
        pytest.param([4.0, 1.0, 3.0, 2.0], 2.5, id="even-count-mean-of-middle-two"),  # (2+3)/2
        pytest.param([7.0], 7.0, id="single"),
    ],
)
def test_median(values, expected) -> None:
    assert stats.median(values) == expected


@pytest.mark.parametrize("values", [[], [1.0, math.nan]], ids=["empty", "nan"])
def test_median_refuses_bad_input(values) -> None:
    with pytest.raises(ValueError):
        stats.median(values)


# --- bootstrap_ci ---------------------------------------------------------------------------


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    values = np.random.default_rng(1).lognormal(0.0, 0.3, size=200)
    first = stats.bootstrap_ci(values, seed=7, resamples=2_000)
    assert stats.bootstrap_ci(values, seed=7, resamples=2_000) == first
    assert stats.bootstrap_ci(values, seed=8, resamples=2_000) != first


@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_bootstrap_of_a_constant_sample_is_a_point(statistic) -> None:
    lo, hi = stats.bootstrap_ci([0.25] * 50, statistic=statistic, resamples=500)
    assert lo == pytest.approx(0.25) and hi == pytest.approx(0.25)


def test_bootstrap_of_a_single_value_is_that_value() -> None:
    assert stats.bootstrap_ci([3.5]) == (3.5, 3.5)


def test_bootstrap_95_interval_contains_the_true_median_of_a_normal_sample() -> None:
    # N(10, 1): true median 10; the median's standard error is about
    # sqrt(pi/2)/sqrt(400) = 0.063, so the interval is roughly 10 ± 0.12.
    values = np.random.default_rng(2024).normal(10.0, 1.0, size=400)
    lo, hi = stats.bootstrap_ci(values)
    assert lo < 10.0 < hi
    assert 0.15 < hi - lo < 0.35


def test_bootstrap_chunks_fill_every_resample(monkeypatch) -> None:
    # 20 values and a 50-element budget give chunks of 50 // 20 = 2 resamples: 2 + 2 + 1 for 5.
    monkeypatch.setattr(stats, "_BOOTSTRAP_CHUNK_ELEMENTS", 50)
    values = np.arange(1.0, 21.0)
    rng = np.random.default_rng(3)
    indices = np.concatenate([rng.integers(0, 20, size=(rows, 20)) for rows in (2, 2, 1)])
    means = values[indices].mean(axis=1)
    expected = tuple(np.percentile(means, [5.0, 95.0]))  # 90 %: the 5th and 95th percentiles
    got = stats.bootstrap_ci(values, statistic="mean", confidence=0.90, resamples=5, seed=3)
    assert got == pytest.approx(expected)


def test_bootstrap_memory_stays_bounded_for_1000_values() -> None:
    values = np.random.default_rng(4).lognormal(size=1_000)
    tracemalloc.start()
    try:
        stats.bootstrap_ci(values, resamples=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unchunked, the 10,000 × 1,000 indices and values alone would take 160 MB.
    assert peak < 100 * 2**20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"statistic": "mode"}, "statistic must be one of", id="unknown-statistic"),
        pytest.param({"confidence": 1.0}, "confidence", id="confidence-1"),
        pytest.param({"confidence": 0.0}, "confidence", id="confidence-0"),
        pytest.param({"resamples": 0}, "resamples", id="no-resamples"),
    ],
)
def test_bootstrap_refuses_bad_parameters(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.bootstrap_ci([1.0, 2.0, 3.0], **kwargs)


# --- Wilcoxon p-values ----------------------------------------------------------------------


def exact_signed_rank_p_values(log_ratios: list[float]) -> tuple[float, float]:
    """(P(T+ >= t), P(T+ <= t)) by enumerating all 2**n sign patterns (no ties, no zeros)."""
    ranks = np.argsort(np.argsort(np.abs(log_ratios))) + 1
    observed = int(ranks[np.asarray(log_ratios) > 0].sum())
    sums = [
        sum(r for r, positive in zip(ranks, signs, strict=True) if positive)
        for signs in itertools.product([False, True], repeat=len(log_ratios))
    ]
    total = len(sums)
    return (
        sum(s >= observed for s in sums) / total,
        sum(s <= observed for s in sums) / total,
    )


def test_wilcoxon_exact_p_value_for_six_pairs_by_hand() -> None:
    # log ratios 0.5 -0.1 0.3 0.2 -0.4 0.6 have |d| ranks 5 1 3 2 4 6, so T+ = 5+3+2+6 = 16.
    # Under H0 each of the 2**6 = 64 sign patterns is equally likely, and T+ is symmetric about
    # 21/2, so P(T+ >= 16) = P(T+ <= 5): the subsets of {1..6} summing to at most 5 are
    # {}, {1}, {2}, {3}, {1,2}, {4}, {1,3}, {5}, {1,4}, {2,3} = 10, hence p = 10/64 = 0.15625.
    # P(T+ <= 16) = 1 - P(T+ <= 4) = 1 - 7/64 = 57/64 = 0.890625.
    ratios = np.exp([0.5, -0.1, 0.3, 0.2, -0.4, 0.6])
    assert stats.p_value_faster(ratios) == pytest.approx(10 / 64)
    assert stats.p_value_slower(ratios) == pytest.approx(57 / 64)


@pytest.mark.parametrize(
    "log_ratios",
    [
        pytest.param([0.31, -0.02, 0.17, 0.05, -0.11, 0.23, 0.4, 0.08], id="mostly-faster-8"),
        pytest.param([-0.3, 0.01, -0.2, -0.05, 0.12, -0.07, -0.5], id="mostly-slower-7"),
        pytest.param([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0], id="alternating-10"),
    ],
)
def test_wilcoxon_matches_enumeration_of_sign_patterns(log_ratios) -> None:
    faster, slower = exact_signed_rank_p_values(log_ratios)
    ratios = np.exp(log_ratios)
    assert stats.p_value_faster(ratios) == pytest.approx(faster)
    assert stats.p_value_slower(ratios) == pytest.approx(slower)


def test_ratios_of_exactly_one_are_dropped_as_wilcoxon_did() -> None:
    # Wilcoxon's zero treatment: a tie between baseline and submission carries no sign.
    ratios = np.exp([0.5, -0.1, 0.3, 0.2, -0.4, 0.6])
    assert stats.p_value_faster([1.0, *ratios, 1.0]) == pytest.approx(10 / 64)


def test_clearly_faster_submission() -> None:
    # Ten distinct ratios all above 1: only the all-positive pattern reaches T+ = 55,
    # so p_faster = 1/2**10 and p_slower = 1 (every pattern has T+ <= 55).
    ratios = 2.0 + np.arange(10) / 100
    assert stats.p_value_faster(ratios) == pytest.approx(2.0**-10)
    assert stats.p_value_slower(ratios) == pytest.approx(1.0)


def test_clearly_slower_submission() -> None:
    ratios = 0.5 - np.arange(10) / 100
    assert stats.p_value_slower(ratios) == pytest.approx(2.0**-10)
    assert stats.p_value_faster(ratios) == pytest.approx(1.0)


def test_faster_submission_with_noisy_rounds() -> None:
    # 200 interleaved rounds with 5 % noise and a true speedup of 1.5: the normal approximation.
    rng = np.random.default_rng(5)
    baseline = 30e-6 * rng.lognormal(0.0, 0.05, size=200)
    submission = 20e-6 * rng.lognormal(0.0, 0.05, size=200)
    ratios = stats.paired_ratios(baseline, submission)
    assert stats.p_value_faster(ratios) < 1e-10
    assert stats.p_value_slower(ratios) > 0.999
    assert stats.median(ratios) == pytest.approx(1.5, rel=0.02)


@pytest.mark.parametrize(
    "ratios",
    [
        pytest.param([1.0] * 20, id="identical-samples"),
        pytest.param([1.7], id="single-ratio"),
    ],
)
def test_no_evidence_gives_p_value_one(ratios) -> None:
    assert stats.p_value_faster(ratios) == 1.0
    assert stats.p_value_slower(ratios) == 1.0


def test_identical_models_are_not_significant() -> None:
    ratios = np.random.default_rng(6).lognormal(0.0, 0.01, size=400)
    assert stats.p_value_faster(ratios) > 0.05
    assert stats.p_value_slower(ratios) > 0.05


@pytest.mark.parametrize(
    "ratios",
    [
        pytest.param([], id="empty"),
        pytest.param([1.2, math.nan], id="nan"),
        pytest.param([1.2, 0.0], id="zero"),
        pytest.param([1.2, -1.0], id="negative"),
    ],
)
def test_p_values_refuse_bad_ratios(ratios) -> None:
    with pytest.raises(ValueError):
        stats.p_value_faster(ratios)
    with pytest.raises(ValueError):
        stats.p_value_slower(ratios)


# --- Tukey, summary, CV, relative half-width ------------------------------------------------


def test_tukey_fences_of_a_small_list() -> None:
    # 1..9 and 100 (n = 10): Q1 at position 0.25*9 = 2.25 -> 3 + 0.25 = 3.25,
    # Q3 at 0.75*9 = 6.75 -> 7 + 0.75 = 7.75; IQR = 4.5, 1.5 IQR = 6.75,
    # fences 3.25 - 6.75 = -3.5 and 7.75 + 6.75 = 14.5: only 100 is outside.
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    assert stats.tukey_fences(values) == (-3.5, 14.5)
    assert stats.tukey_outliers(values).tolist() == [False] * 9 + [True]


@pytest.mark.parametrize(
    ("largest", "outlier"),
    [
        pytest.param(13.0, False, id="on-the-fence-is-inside"),
        pytest.param(13.5, True, id="beyond-the-fence"),
    ],
)
def test_tukey_fence_is_closed(largest, outlier) -> None:
    # 1..8 and x >= 8 (n = 9): Q1 = value at position 2 = 3, Q3 = value at position 6 = 7,
    # IQR = 4, upper fence 7 + 6 = 13 whatever x is.
    mask = stats.tukey_outliers([1, 2, 3, 4, 5, 6, 7, 8, largest])
    assert mask.dtype == np.bool_
    assert mask.tolist() == [False] * 8 + [outlier]


def test_summarize_one_to_ten() -> None:
    # np.percentile (linear) of 1..10 sits at position q/100 * 9 of the sorted values:
    # p5 -> 0.45 -> 1.45, p50 -> 4.5 -> 5.5, p90 -> 8.1 -> 9.1, p95 -> 8.55 -> 9.55,
    # p99 -> 8.91 -> 9.91. Sum of squared deviations from 5.5 = 82.5, so std = sqrt(82.5/9)
    # = 3.02765 and cv = 3.02765/5.5 = 0.550482. Fences -3.5 and 14.5 (as above): no outlier.
    summary = stats.summarize(range(1, 11), resamples=1_000)
    ci = summary.pop("median_ci95")
    assert summary == pytest.approx(
        {
            "n": 10,
            "mean": 5.5,
            "median": 5.5,
            "std": 3.02765,
            "min": 1.0,
            "max": 10.0,
            "p5": 1.45,
            "p50": 5.5,
            "p90": 9.1,
            "p95": 9.55,
            "p99": 9.91,
            "cv": 0.550482,
            "outliers": 0,
        },
        rel=1e-5,
    )
    assert ci[0] < 5.5 < ci[1]


def test_summarize_is_json_ready() -> None:
    summary = stats.summarize(np.array([3e-5, 3.1e-5, 2.9e-5, 9e-5]), resamples=200)
    counts = {"n", "outliers"}
    # Exact types: json.dump refuses np.int64, and golden files want plain numbers.
    assert {k: type(v) for k, v in summary.items()} == {
        k: int if k in counts else list if k == "median_ci95" else float for k in summary
    }
    assert [type(v) for v in summary["median_ci95"]] == [float, float]
    assert json.loads(json.dumps(summary)) == summary


def test_summarize_single_value() -> None:
    summary = stats.summarize([4e-5])
    assert summary["std"] == 0.0 and summary["cv"] == 0.0
    assert summary["median_ci95"] == [4e-5, 4e-5]
    assert summary["outliers"] == 0


@pytest.mark.parametrize(
    "values", [[], [1.0, math.nan], [1.0, 0.0], [-1.0]], ids=["empty", "nan", "zero", "negative"]
)
def test_summarize_refuses_bad_latencies(values) -> None:
    with pytest.raises(ValueError, match="latencies"):
        stats.summarize(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25)/3 = 5/3, std 1.290994 -> 0.516398
        pytest.param([1.0, 2.0, 3.0, 4.0], 0.516398, id="one-to-four"),
        pytest.param([2.0, 2.0, 2.0], 0.0, id="constant"),
        pytest.param([5.0], 0.0, id="single"),
    ],
)
def test_coefficient_of_variation(values, expected) -> None:
    assert stats.coefficient_of_variation(values) == pytest.approx(expected, rel=1e-5, abs=1e-12)


def test_coefficient_of_variation_needs_a_positive_mean() -> None:
    with pytest.raises(ValueError, match="mean > 0"):
        stats.coefficient_of_variation([-1.0, -2.0])


def test_relative_halfwidth_is_the_interval_over_the_statistic() -> None:
    values = np.random.default_rng(7).lognormal(0.0, 0.1, size=100)
    lo, hi = stats.bootstrap_ci(values, resamples=2_000, seed=0)
    expected = (hi - lo) / 2 / np.median(values)
    assert stats.relative_halfwidth(values) == pytest.approx(expected)


def test_relative_halfwidth_shrinks_with_more_rounds() -> None:
    values = np.random.default_rng(8).lognormal(0.0, 0.1, size=400)
    assert stats.relative_halfwidth(values) < stats.relative_halfwidth(values[:25])
    assert stats.relative_halfwidth([1.0] * 10, statistic="mean") == 0.0


def test_relative_halfwidth_needs_a_nonzero_statistic() -> None:
    with pytest.raises(ValueError, match="non-zero median"):
        stats.relative_halfwidth([0.0, 0.0, 1.0])


# --- Wilson interval and ties ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # z = 1.959964, z² = 3.841459, z²/n = 0.0384146; p = 0.85:
        # centre = (0.85 + 0.0192073) / 1.0384146 = 0.837051,
        # half = 1.959964/1.0384146 * sqrt(0.85*0.15/100 + 3.841459/40000)
        #      = 1.887455 * sqrt(0.001371036) = 0.069888 -> (0.7672, 0.9069)
        pytest.param(85, 100, (0.7672, 0.9069), id="85-of-100"),
        # p = 0.5: centre 0.5, half = 1.887455 * sqrt(0.0025 + 0.0000960) = 0.096169
        pytest.param(50, 100, (0.4038, 0.5962), id="50-of-100"),
        # p = 0, z²/n = 0.384146: centre = 0.192073/1.384146 = 0.138766 and
        # half = 1.959964/1.384146 * sqrt(0.384146/40) = 0.138766 -> (0, 0.2775)
        pytest.param(0, 10, (0.0, 0.2775), id="0-of-10"),
        pytest.param(10, 10, (0.7225, 1.0), id="10-of-10"),
    ],
)
def test_wilson_interval(successes, n, expected) -> None:
    lo, hi = stats.wilson_interval(successes, n)
    assert (round(lo, 4), round(hi, 4)) == expected
    assert 0.0 <= lo <= hi <= 1.0


@pytest.mark.parametrize(
    ("successes", "n", "message"),
    [
        pytest.param(0, 0, "n must be > 0", id="n-zero"),
        pytest.param(11, 10, "between 0 and n", id="more-successes-than-trials"),
        pytest.param(-1, 10, "between 0 and n", id="negative-successes"),
        pytest.param(8.5, 10, "must be an integer", id="fractional-successes"),
    ],
)
def test_wilson_interval_refuses_bad_counts(successes, n, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.wilson_interval(successes, n)


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        pytest.param((1.0, 2.0), (3.0, 4.0), False, id="disjoint"),
        pytest.param((3.0, 4.0), (1.0, 2.0), False, id="disjoint-reversed"),
        pytest.param((1.0, 2.0), (2.0, 3.0), True, id="touching-ends-are-closed"),
        pytest.param((1.0, 4.0), (2.0, 3.0), True, id="nested"),
        pytest.param((1.0, 3.0), (2.0, 4.0), True, id="crossing"),
        pytest.param((2.0, 2.0), (2.0, 2.0), True, id="same-point"),
    ],
)
def test_intervals_overlap(a, b, overlap) -> None:
    assert stats.intervals_overlap(a, b) is overlap
    assert stats.intervals_overlap(b, a) is overlap


@pytest.mark.parametrize("a", [(2.0, 1.0), (math.nan, 1.0)], ids=["lo-above-hi", "nan-end"])
def test_intervals_overlap_refuses_bad_intervals(a) -> None:
    with pytest.raises(ValueError, match="lo <= hi"):
        stats.intervals_overlap(a, (0.0, 1.0))


# --- warnings -------------------------------------------------------------------------------


def test_edge_cases_raise_no_warning() -> None:
    # filterwarnings = error already turns a warning into a failure; "always" also catches one
    # that an earlier test would have hidden behind the once-per-location registry.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for ratios in (
            [1.0] * 5,  # all log ratios zero: scipy would divide 0 by 0
            [1.0, 1.0, 1.2],  # one non-zero ratio left
            [1.0, 1.1, 1.1, 0.9, 1.1],  # zeros and ties at a small n
            [1.1] * 30 + [0.9] * 30,  # ties at a large n
        ):
            stats.p_value_faster(ratios)
            stats.p_value_slower(ratios)
        stats.summarize([1.0])
        stats.summarize([2.0] * 8)
        stats.bootstrap_ci([2.0, 2.0], statistic="mean")
        stats.relative_halfwidth([1.0, 1.0])
        stats.wilson_interval(0, 1)
    assert [str(w.message) for w in caught] == []
