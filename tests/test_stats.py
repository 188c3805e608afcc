"""grader.stats against numbers worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

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


# --- ABBA ratios ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "submission", "expected"),
    [
        # per-round ratios 2/1 = 2, 1/2 = 0.5, 4/1 = 4, 4/1 = 4; pairs (rounds 0+1, 2+3):
        # sqrt(2 * 0.5) = sqrt(1) = 1 and sqrt(4 * 4) = sqrt(16) = 4
        pytest.param([2.0, 1.0, 4.0, 4.0], [1.0, 2.0, 1.0, 1.0], [1.0, 4.0], id="two-pairs"),
        # the same four rounds and a fifth (9/1 = 9) that has no partner: it is dropped
        pytest.param(
            [2.0, 1.0, 4.0, 4.0, 9.0], [1.0, 2.0, 1.0, 1.0, 1.0], [1.0, 4.0], id="odd-round-dropped"
        ),
        # ratios 3/1 = 3 and 1/3: the order effect cancels, sqrt(3 * 1/3) = 1
        pytest.param([3.0, 1.0], [1.0, 3.0], [1.0], id="order-effect-cancels"),
        # ratios 1/2 = 0.5 and 2/8 = 0.25: sqrt(0.125) = 0.353553
        pytest.param([1.0, 2.0], [2.0, 8.0], [math.sqrt(0.125)], id="one-pair-slower"),
    ],
)
def test_abba_ratios_by_hand(baseline, submission, expected) -> None:
    assert stats.abba_ratios(baseline, submission).tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("baseline", "submission", "message"),
    [
        pytest.param([1.0], [1.0], "at least two rounds", id="one-round"),
        pytest.param([], [], "must not be empty", id="no-rounds"),
        pytest.param([1.0, 2.0], [1.0], "paired round by round", id="unequal-lengths"),
        pytest.param([1.0, 0.0], [1.0, 1.0], "finite and > 0; found 0.0", id="zero"),
        pytest.param([1.0, 1.0], [1.0, -2.0], "found -2.0 at index 1", id="negative"),
        pytest.param([1.0, math.nan], [1.0, 1.0], "found nan at index 1", id="nan"),
        pytest.param([1.0, 1.0], [math.inf, 1.0], "found inf at index 0", id="inf"),
    ],
)
def test_abba_ratios_refuses_bad_input(baseline, submission, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.abba_ratios(baseline, submission)


# --- grouped_bootstrap, percentile_interval, bootstrap_p_value ------------------------------


def test_grouped_bootstrap_is_deterministic_for_a_seed() -> None:
    groups = np.random.default_rng(11).lognormal(0.0, 0.1, size=(4, 30))
    first = stats.grouped_bootstrap(groups, resamples=500, seed=7)
    assert first.shape == (500,)
    np.testing.assert_array_equal(stats.grouped_bootstrap(groups, resamples=500, seed=7), first)
    assert not np.array_equal(stats.grouped_bootstrap(groups, resamples=500, seed=8), first)


@pytest.mark.parametrize("shape", [(1, 5), (3, 5), (6, 1)], ids=["K1-m5", "K3-m5", "K6-m1"])
def test_grouped_bootstrap_of_a_constant_is_that_constant(shape) -> None:
    # Every pooled resample is 0.7 repeated, whose median is 0.7.
    replicates = stats.grouped_bootstrap(np.full(shape, 0.7), resamples=200)
    assert replicates.tolist() == [0.7] * 200


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        pytest.param([1.0, 2.0, 3.0], r"\(K, m\) array", id="one-dimensional"),
        pytest.param(np.ones((2, 2, 2)), r"\(K, m\) array", id="three-dimensional"),
        pytest.param(np.ones((0, 3)), r"\(K, m\) array", id="no-groups"),
        pytest.param(np.ones((3, 0)), r"\(K, m\) array", id="empty-groups"),
        pytest.param([[1.0, 0.0], [1.0, 1.0]], "finite and > 0; found 0.0", id="zero"),
        pytest.param([[1.0, 1.0], [-1.0, 1.0]], "finite and > 0; found -1.0", id="negative"),
        pytest.param([[1.0, math.nan], [1.0, 1.0]], "found nan at index 1", id="nan"),
    ],
)
def test_grouped_bootstrap_refuses_bad_groups(groups, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.grouped_bootstrap(groups, resamples=10)


def test_grouped_bootstrap_of_one_group_is_an_ordinary_bootstrap() -> None:
    # With K = 1 the first stage always picks the one group, so each replicate is the median of
    # m values drawn with replacement: bootstrap_ci's distribution. Different seeds, so only
    # the distributions agree; the interval is about 0.055 wide, the ends agree within 0.015.
    values = np.random.default_rng(9).lognormal(0.0, 0.1, size=60)
    grouped = stats.percentile_interval(stats.grouped_bootstrap(values[None, :], 4_000, seed=1))
    ordinary = stats.bootstrap_ci(values, resamples=4_000, seed=2)
    assert grouped == pytest.approx(ordinary, abs=0.015)


def test_grouped_bootstrap_carries_the_between_group_spread() -> None:
    # Three sessions centred at 0.98, 1.00 and 1.02 with noise of 0.001 within each. Pooled
    # rounds alone hide the sessions: about 20 of 60 resampled values fall in each, so the
    # median stays in the middle session, within about 0.002 of 1.00. Resampling the sessions
    # picks two or three of the low one with probability 3 * (1/3)² * (2/3) + (1/3)³ = 7/27,
    # likewise of the high one, so the 2.5 % and 97.5 % ends sit near 0.98 and 1.02.
    rng = np.random.default_rng(10)
    groups = np.array([centre + rng.normal(0.0, 0.001, size=20) for centre in (0.98, 1.0, 1.02)])
    lo, hi = stats.percentile_interval(stats.grouped_bootstrap(groups, resamples=4_000))
    pooled_lo, pooled_hi = stats.bootstrap_ci(groups.ravel(), resamples=4_000)
    assert hi - lo > pooled_hi - pooled_lo
    assert lo < 0.99 and hi > 1.01
    assert 0.99 <= pooled_lo <= pooled_hi <= 1.01


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        # 0..100 (101 values): the q-th percentile sits at position q/100 * 100 = q, value q;
        # 95 % -> the 2.5th and 97.5th percentiles, 2.5 and 97.5.
        pytest.param(0.95, (2.5, 97.5), id="95"),
        # 90 % -> the 5th and 95th percentiles.
        pytest.param(0.90, (5.0, 95.0), id="90"),
    ],
)
def test_percentile_interval_of_zero_to_hundred(confidence, expected) -> None:
    lo, hi = stats.percentile_interval(np.arange(101.0), confidence)
    assert (lo, hi) == pytest.approx(expected)
    assert (type(lo), type(hi)) == (float, float)


@pytest.mark.parametrize("confidence", [0.0, 1.0], ids=["confidence-0", "confidence-1"])
def test_percentile_interval_refuses_bad_confidence(confidence) -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.percentile_interval([1.0, 2.0], confidence)


@pytest.mark.parametrize(
    ("replicates", "alternative", "expected"),
    [
        # R = 4, null 1.0. "greater" counts r <= 1.0: 0.9 and 1.0, so (1 + 2) / (4 + 1) = 0.6.
        pytest.param([0.9, 1.0, 1.1, 1.2], "greater", 0.6, id="greater-by-hand"),
        # "less" counts r >= 1.0: 1.0, 1.1 and 1.2 (a replicate on the null counts on both
        # sides), so (1 + 3) / (4 + 1) = 0.8.
        pytest.param([0.9, 1.0, 1.1, 1.2], "less", 0.8, id="less-by-hand"),
        # "less" with no replicate on the null: 1.1 and 1.2, (1 + 2) / 5 = 0.6.
        pytest.param([0.9, 0.95, 1.1, 1.2], "less", 0.6, id="less-no-tie"),
        # All 9 replicates above 1: none <= 1, so 1 / (9 + 1) = 0.1, the smallest p for R = 9;
        # for "less" all 9 count, (1 + 9) / 10 = 1.
        pytest.param(1.0 + np.arange(1, 10) / 100, "greater", 0.1, id="all-above-greater"),
        pytest.param(1.0 + np.arange(1, 10) / 100, "less", 1.0, id="all-above-less"),
    ],
)
def test_bootstrap_p_value_by_hand(replicates, alternative, expected) -> None:
    p = stats.bootstrap_p_value(replicates, 1.0, alternative)
    assert p == pytest.approx(expected)
    assert type(p) is float


def test_bootstrap_p_value_floor_is_one_over_r_plus_one() -> None:
    # R = 1,000 replicates all above the null: p = (1 + 0) / 1,001.
    replicates = np.linspace(1.5, 2.5, 1_000)
    assert stats.bootstrap_p_value(replicates) == pytest.approx(1 / 1_001)
    # Default null 1.0 and alternative "greater"; a null above every replicate flips it.
    assert stats.bootstrap_p_value(replicates, null=3.0) == 1.0
    assert stats.bootstrap_p_value(replicates, null=3.0, alternative="less") == pytest.approx(
        1 / 1_001
    )


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


# --- ratio_bootstrap and perplexity_interval -----------------------------------------------


def test_ratio_bootstrap_of_two_pairs() -> None:
    # num [1, 3], den [1, 1]: the ratio of sums is 4/2 = 2. A resample of two pairs is (1, 1)
    # with probability 1/4 (ratio 1), mixed 1/2 (ratio 2), (3, 3) 1/4 (ratio 3): about 2,500
    # of 10,000 resampled ratios are 1 and 2,500 are 3, so the 2.5 % and 97.5 % quantiles
    # are 1 and 3.
    assert stats.ratio_bootstrap([1.0, 3.0], [1.0, 1.0]) == (2.0, 1.0, 3.0)


def test_ratio_bootstrap_is_a_ratio_of_sums_and_resamples_pairs_together() -> None:
    # (1 + 9) / (1 + 3) = 2.5, where the mean of the ratios would be (1 + 3) / 2 = 2.
    assert stats.ratio_bootstrap([1.0, 9.0], [1.0, 3.0], resamples=100)[0] == 2.5
    # Every pair has ratio 1: any resample of whole pairs has ratio 1 (numerators and
    # denominators resampled apart would not).
    assert stats.ratio_bootstrap([1.0, 3.0, 5.0], [1.0, 3.0, 5.0]) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("n", [1, 2, 46], ids=["one-pair", "two-pairs", "a-split"])
def test_ratio_bootstrap_of_equal_pairs_is_zero_wide(n: int) -> None:
    assert stats.ratio_bootstrap([2.5] * n, [10.0] * n) == (0.25, 0.25, 0.25)


def test_ratio_bootstrap_is_the_same_for_the_same_seed() -> None:
    rng = np.random.default_rng(5)
    num, den = rng.gamma(30.0, 2.0, 46), rng.integers(14, 50, 46)
    first = stats.ratio_bootstrap(num, den, seed=3)
    assert stats.ratio_bootstrap(num, den, seed=3) == first
    assert stats.ratio_bootstrap(num, den, seed=4)[1:] != first[1:]
    assert first[1] < first[0] < first[2]


@pytest.mark.parametrize(
    ("num", "den", "kwargs", "message"),
    [
        pytest.param([1.0, 2.0], [1.0], {}, "paired; found 2 numerators and 1", id="unpaired"),
        pytest.param([], [], {}, "numerators must not be empty", id="empty"),
        pytest.param([1.0, math.nan], [1.0, 1.0], {}, "finite; found nan at index 1", id="nan"),
        pytest.param([1.0], [0.0], {}, r"denominators must be finite and > 0", id="zero-count"),
        pytest.param([1.0], [1.0], {"resamples": 0}, "a positive integer", id="resamples"),
        pytest.param([1.0], [1.0], {"confidence": 1.0}, "strictly between 0", id="confidence"),
    ],
)
def test_ratio_bootstrap_refuses_bad_input(num, den, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.ratio_bootstrap(num, den, **kwargs)


def test_perplexity_interval_is_the_exp_of_the_ratio_interval() -> None:
    # 10 characters of ln 2 nats each, in every pair: perplexity 2, zero-wide.
    ppl = stats.perplexity_interval([10 * math.log(2.0)] * 5, [10] * 5)
    assert ppl == pytest.approx((2.0, 2.0, 2.0), rel=1e-12)
    nll, chars = [3.0, 40.0, 12.0, 0.0], [5, 20, 10, 4]
    est, lo, hi = stats.ratio_bootstrap(nll, chars, seed=1)
    assert est == 55.0 / 39.0
    expected = (math.exp(est), math.exp(lo), math.exp(hi))
    assert stats.perplexity_interval(nll, chars, seed=1) == expected


def test_perplexity_interval_refuses_a_negative_likelihood_and_an_empty_pair() -> None:
    with pytest.raises(ValueError, match=r"nll_per_pair must be >= 0; found -0\.5 at index 1"):
        stats.perplexity_interval([1.0, -0.5], [3, 3])
    with pytest.raises(ValueError, match=r"chars_per_pair must be finite and > 0; found 0\.0"):
        stats.perplexity_interval([1.0, 0.0], [3, 0])
    with pytest.raises(ValueError, match="nll_per_pair must be finite; found inf"):
        stats.perplexity_interval([math.inf], [3])


def test_the_perplexity_interval_covers_the_true_value_about_95_percent_of_the_time() -> None:
    """400 simulated splits like the test split: 46 pairs of 14-49 scored characters, each
    pair's mean NLL per character drawn around ln 8.6 (the baseline's perplexity) with a
    log-normal spread of 0.45 (the baseline's pairs spread 0.48, their characters' own noise
    included), each character's NLL exponential about its pair's mean. The true perplexity
    is 8.6; the percentile interval covers it in 92.5 % of the splits (a little under 95 %,
    as percentile intervals of a skewed statistic at n = 46 are)."""
    rng = np.random.default_rng(2026)
    truth, sigma = math.log(8.6), 0.45
    covered = 0
    for trial in range(400):
        chars = rng.integers(14, 50, 46)
        rate = truth * rng.lognormal(-(sigma**2) / 2, sigma, 46)  # mean ln 8.6
        nll = rng.gamma(chars, rate)  # the sum of `chars` exponential NLLs of mean `rate`
        _, lo, hi = stats.perplexity_interval(nll, chars, resamples=2_000, seed=trial)
        covered += lo <= 8.6 <= hi
    assert 0.90 <= covered / 400 <= 0.99, covered


# --- warnings -------------------------------------------------------------------------------


def test_edge_cases_raise_no_warning() -> None:
    # filterwarnings = error already turns a warning into a failure; "always" also catches one
    # that an earlier test would have hidden behind the once-per-location registry.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats.abba_ratios([1.0] * 3, [1.0] * 3)  # an odd round dropped
        for groups in ([[1.0]], [[2.0] * 4] * 3):  # one value; a constant
            replicates = stats.grouped_bootstrap(groups, resamples=50)
            stats.percentile_interval(replicates)
            stats.bootstrap_p_value(replicates, alternative="greater")
            stats.bootstrap_p_value(replicates, alternative="less")
        stats.summarize([1.0])
        stats.summarize([2.0] * 8)
        stats.ratio_bootstrap([1.0], [2.0])  # one pair
        stats.perplexity_interval([0.0] * 3, [4] * 3)  # every character certain: perplexity 1
        stats.bootstrap_ci([2.0, 2.0], statistic="mean")
        stats.relative_halfwidth([1.0, 1.0])
        stats.wilson_interval(0, 1)
    assert [str(w.message) for w in caught] == []


def test_session_interval_by_hand() -> None:
    # logs -0.1, +0.1: mean 0, sd 0.141421; t(0.975, df=1) = 12.7062;
    # half = 12.7062 * 0.141421 / sqrt(2) = 1.27062 -> (e^-1.27062, e^1.27062)
    lo, hi = stats.session_interval([math.exp(-0.1), math.exp(0.1)])
    assert lo == pytest.approx(0.28067, rel=1e-4)
    assert hi == pytest.approx(3.56288, rel=1e-4)


def test_session_interval_of_agreeing_sessions_is_a_point() -> None:
    assert stats.session_interval([1.25, 1.25, 1.25]) == pytest.approx((1.25, 1.25))


@pytest.mark.parametrize(
    "medians", [[1.0], [1.0, 0.0], [1.0, float("nan")]], ids=["one-session", "zero", "nan"]
)
def test_session_interval_refuses_bad_input(medians) -> None:
    with pytest.raises(ValueError):
        stats.session_interval(medians)


def test_randomised_gain_of_marked_rounds_slower_than_the_rest() -> None:
    """Two windows of 20 rounds, the 3 marked ones at a third of the others' value (a
    cache's new digits): gain 3, and no other draw of 3 positions per window does as well
    save the one observed, so p is about 1 / C(20, 3)^2 at most."""
    windows = []
    for start in (0, 7):
        values = np.ones(20)
        marked = np.zeros(20, dtype=bool)
        marked[start : start + 3] = True
        values[marked] = 1 / 3
        windows.append((values, marked))
    gain, p, p_reverse = stats.randomised_gain(windows, draws=5000, seed=1)
    assert gain == pytest.approx(3.0)
    assert p == pytest.approx(1 / 5001)
    assert p_reverse == pytest.approx(1.0)
    # The other way round: the marked rounds the fast ones.
    flipped = [(1 / values, marked) for values, marked in windows]
    gain, p, p_reverse = stats.randomised_gain(flipped, draws=5000, seed=1)
    assert gain == pytest.approx(1 / 3) and p_reverse == pytest.approx(1 / 5001) and p > 0.99


def test_randomised_gain_is_not_fooled_by_a_trend_the_marks_share() -> None:
    """Values that fall over time (a model tuning itself), marks drawn at random: the gain
    may be above 1, but the p-value knows the draw could have landed anywhere."""
    rng = np.random.default_rng(3)
    small = []
    for _ in range(200):
        values = np.where(np.arange(24) < 8, 1 / 3, 1.0)
        marked = np.zeros(24, dtype=bool)
        marked[rng.choice(24, 6, replace=False)] = True
        small.append(stats.randomised_gain([(values, marked)], draws=2000, seed=2)[1] < 0.01)
    assert np.mean(small) <= 0.03


def test_randomised_gain_refuses_windows_without_both_kinds() -> None:
    with pytest.raises(ValueError, match="same length"):
        stats.randomised_gain([(np.ones(4), np.ones(3, dtype=bool))])
    with pytest.raises(ValueError, match="marked and unmarked"):
        stats.randomised_gain([(np.ones(4), np.zeros(4, dtype=bool))])
