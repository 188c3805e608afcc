"""Statistics of a grade: pure functions over latency samples and paired ratios.

Nothing here reads a clock, a file or a global random state, so every number in a result JSON
can be recomputed from the stored samples (``olympics validate`` does exactly that). Inputs are
array-likes of floats; outputs are plain Python numbers, ready for ``json.dump``.

The speedup of a submission is the median of the order-balanced (ABBA) ratios of interleaved
rounds, with a two-stage (sessions, then rounds) percentile-bootstrap 95 % interval and
one-sided bootstrap p-values (docs/DESIGN.md, Statistics). The language track's perplexity
is a ratio of sums over pairs, with a bootstrap interval over the pairs (docs/DESIGN.md, Data).

Size: over 400 lines because every statistic of a grade lives here, each a short pure
function tested alone; one module keeps the contract "stats imports no other grader module"
one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special  # scipy.stats costs 1.8 s to import here; special, 0.4 s

__all__ = [
    "abba_ratios",
    "bootstrap_ci",
    "bootstrap_p_value",
    "coefficient_of_variation",
    "grouped_bootstrap",
    "intervals_overlap",
    "median",
    "paired_ratios",
    "percentile_interval",
    "perplexity_interval",
    "randomised_gain",
    "ratio_bootstrap",
    "relative_halfwidth",
    "session_interval",
    "summarize",
    "tukey_fences",
    "tukey_outliers",
    "wilson_interval",
]

Statistic = Literal["median", "mean"]
ArrayLike = npt.ArrayLike

#: Tukey's fences sit this many interquartile ranges beyond the quartiles.
TUKEY_K = 1.5

# Resampled values held at once by bootstrap_ci: 1e6 float64 (8 MB) plus their int64 indices
# (8 MB) and np.median's working copy (8 MB) keep a chunk near 25 MB whatever the sample size.
_BOOTSTRAP_CHUNK_ELEMENTS = 1_000_000

_STATISTICS: dict[str, Callable[..., np.ndarray]] = {"median": np.median, "mean": np.mean}


def _sample(values: ArrayLike, name: str = "values", *, positive: bool = False) -> np.ndarray:
    """Return ``values`` as a non-empty 1-D float64 array of finite (and, if asked, > 0) numbers.

    The first offending value is named with its index, so that an error in a measurement can be
    traced back to its round.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; found shape {array.shape!r}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = ~np.isfinite(array)
    requirement = "finite"
    if positive:
        bad |= array <= 0
        requirement = "finite and > 0"
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be {requirement}; found {float(array[index])!r} at index {index}"
        )
    return array


def _check_statistic(statistic: str) -> None:
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {sorted(_STATISTICS)}; found {statistic!r}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1; found {confidence!r}")


def paired_ratios(baseline: ArrayLike, submission: ArrayLike) -> np.ndarray:
    """Per-round speedups ``baseline[r] / submission[r]`` (> 1 means the submission is faster).

    Both samples come from the same rounds, interleaved A B A B, so pairing them cancels the
    machine's drift between rounds. Every latency must be finite and > 0
    (docs/DESIGN.md, Rules and scoring).
    """
    b = _sample(baseline, "baseline", positive=True)
    s = _sample(submission, "submission", positive=True)
    if b.shape != s.shape:
        raise ValueError(
            f"baseline and submission must be paired round by round; "
            f"found {b.size} baseline and {s.size} submission latencies"
        )
    return b / s


def abba_ratios(baseline: ArrayLike, submission: ArrayLike) -> np.ndarray:
    """Order-balanced ratios: the geometric mean of the ratios of rounds 2k (A B) and 2k+1 (B A).

    The model that runs first in a round is measured a little slower (its caches were just
    used by the other child); an ABBA pair cancels that order effect (the crossover design
    of Fleiss 1986). A trailing unpaired round is dropped.
    """
    ratios = paired_ratios(baseline, submission)
    pairs = ratios.size // 2
    if pairs == 0:
        raise ValueError("ABBA ratios need at least two rounds")
    return np.sqrt(ratios[0 : 2 * pairs : 2] * ratios[1 : 2 * pairs : 2])


def grouped_bootstrap(groups: ArrayLike, resamples: int = 10_000, seed: int = 0) -> np.ndarray:
    """Medians of a two-stage bootstrap (Davison & Hinkley 1997, §3.8): resample the groups
    with replacement, then the values within each chosen group; return each replicate's
    median of the pooled values.

    ``groups`` is a (K, m) array: K independent sessions (fresh processes) of m values each.
    The first stage carries the session-to-session variation (where a process's memory
    landed, what else ran) into the interval, which resampling rounds alone would hide.
    """
    data = np.asarray(groups, dtype=np.float64)
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"groups must be a non-empty (K, m) array; found shape {data.shape}")
    _sample(data.ravel(), "groups", positive=True)
    k, m = data.shape
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // (k * m))
    out = np.empty(int(resamples), dtype=np.float64)
    for start in range(0, int(resamples), rows_per_chunk):
        rows = min(rows_per_chunk, int(resamples) - start)
        chosen = rng.integers(0, k, size=(rows, k)) if k > 1 else np.zeros((rows, 1), int)
        within = rng.integers(0, m, size=(rows, k, m))
        pooled = data[chosen[:, :, None], within].reshape(rows, k * m)
        out[start : start + rows] = np.median(pooled, axis=1)
    return out


def percentile_interval(replicates: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (Efron & Tibshirani 1993, §13.3)."""
    _check_confidence(confidence)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(np.asarray(replicates), [100.0 * tail, 100.0 * (1.0 - tail)])
    return float(lo), float(hi)


def bootstrap_p_value(
    replicates: ArrayLike, null: float = 1.0, alternative: Literal["greater", "less"] = "greater"
) -> float:
    """One-sided bootstrap p-value: the share of replicates on the null's side of ``null``,
    ``(1 + #{r <= null}) / (R + 1)`` for "greater" (Davison & Hinkley 1997, §4.4).

    Consistent with :func:`percentile_interval`: a 95 % interval entirely above ``null``
    implies p < 0.025 for "greater".
    """
    reps = np.asarray(replicates, dtype=np.float64)
    beyond = np.count_nonzero(reps <= null if alternative == "greater" else reps >= null)
    return float((1 + beyond) / (reps.size + 1))


def session_interval(session_medians: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the geometric mean of per-session ratios (df = K - 1).

    Computed on the logs, so the interval of a ratio is symmetric in its logarithm. Each
    session is a fresh pair of processes; their spread is the variation a grade cannot
    see from inside one session (memory placement, neighbours on the machine).
    """
    logs = np.log(_sample(session_medians, "session medians", positive=True))
    _check_confidence(confidence)
    if logs.size < 2:
        raise ValueError("a session interval needs at least two sessions")
    t = float(special.stdtrit(logs.size - 1, 0.5 + confidence / 2.0))  # Student's t quantile
    half = t * float(np.std(logs, ddof=1)) / math.sqrt(logs.size)
    center = float(np.mean(logs))
    return math.exp(center - half), math.exp(center + half)


def median(values: ArrayLike) -> float:
    """Sample median (the mean of the two middle values for an even count)."""
    return float(np.median(_sample(values)))


def bootstrap_ci(
    values: ArrayLike,
    statistic: Statistic = "median",
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median or mean (Efron & Tibshirani 1993, ch. 13).

    Draws ``resamples`` samples with replacement from ``np.random.default_rng(seed)``, so the
    interval is the same for the same data and seed; the interval's ends are the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (linear interpolation) of the
    resampled statistic. Resamples are drawn in chunks of about 10**6 values, so memory stays
    near 25 MB for any sample size. A single value gives ``(v, v)``.
    """
    data = _sample(values)
    _check_statistic(statistic)
    _check_confidence(confidence)
    _check_resamples(resamples)
    n = data.size
    if n == 1:
        return float(data[0]), float(data[0])

    reduce = _STATISTICS[statistic]
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    estimates = np.empty(int(resamples), dtype=np.float64)
    for start in range(0, int(resamples), rows_per_chunk):
        rows = min(rows_per_chunk, int(resamples) - start)
        indices = rng.integers(0, n, size=(rows, n))
        estimates[start : start + rows] = reduce(data[indices], axis=1)

    tail = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(estimates, [100.0 * tail, 100.0 * (1.0 - tail)])
    return float(lo), float(hi)


def _check_resamples(resamples: int) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, Integral) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer; found {resamples!r}")


def ratio_bootstrap(
    numerators: ArrayLike,
    denominators: ArrayLike,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(estimate, low, high): the ratio of sums ``sum(num) / sum(den)`` over paired items and
    its percentile-bootstrap interval (Efron & Tibshirani 1993, ch. 13): ``resamples`` draws
    of the items' indices with replacement from ``np.random.default_rng(seed)``, each pair
    kept together, the interval's ends the ``(1 -+ confidence) / 2`` quantiles of the
    resampled ratios. Numerators must be finite, denominators finite and > 0 (a count);
    a single pair gives a zero-width interval.
    """
    num = _sample(numerators, "numerators")
    den = _sample(denominators, "denominators", positive=True)
    if num.shape != den.shape:
        raise ValueError(
            f"numerators and denominators must be paired; found {num.size} numerators and "
            f"{den.size} denominators"
        )
    _check_confidence(confidence)
    _check_resamples(resamples)
    estimate = float(num.sum() / den.sum())
    n = num.size
    if n == 1:
        return estimate, estimate, estimate
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    ratios = np.empty(int(resamples), dtype=np.float64)
    for start in range(0, int(resamples), rows_per_chunk):
        rows = min(rows_per_chunk, int(resamples) - start)
        indices = rng.integers(0, n, size=(rows, n))
        ratios[start : start + rows] = num[indices].sum(axis=1) / den[indices].sum(axis=1)
    low, high = percentile_interval(ratios, confidence)
    return estimate, low, high


def perplexity_interval(
    nll_per_pair: ArrayLike,
    chars_per_pair: ArrayLike,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(perplexity, low, high): ``exp(sum(nll) / sum(chars))`` over the pairs (the mean
    negative log-likelihood per character, pooled), and the exp of the pairs' bootstrap
    interval of that mean (:func:`ratio_bootstrap`; exp is monotone, so the percentiles carry
    over). Each pair's NLL (nats) must be finite and >= 0; its character count > 0.
    """
    nll = _sample(nll_per_pair, "nll_per_pair")
    if (nll < 0).any():
        index = int(np.flatnonzero(nll < 0)[0])
        raise ValueError(f"nll_per_pair must be >= 0; found {float(nll[index])!r} at index {index}")
    estimate, low, high = ratio_bootstrap(
        nll, _sample(chars_per_pair, "chars_per_pair", positive=True), resamples, seed, confidence
    )
    return math.exp(estimate), math.exp(low), math.exp(high)


def perplexity_ratio_interval(
    base_nll: ArrayLike,
    sub_nll: ArrayLike,
    chars_per_pair: ArrayLike,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(ratio, low, high): one model's perplexity over another's on the same pairs,
    ``exp(sum(sub - base) / sum(chars))``, and the exp of the paired bootstrap interval of
    that difference per character (:func:`ratio_bootstrap`, each pair's two NLLs kept
    together, so what both models find hard cancels)."""
    base, sub = _sample(base_nll, "base_nll"), _sample(sub_nll, "sub_nll")
    if base.shape != sub.shape:
        raise ValueError(
            f"base_nll and sub_nll must be paired; found {base.size} and {sub.size} pairs"
        )
    estimate, low, high = ratio_bootstrap(sub - base, chars_per_pair, resamples, seed, confidence)
    return math.exp(estimate), math.exp(low), math.exp(high)


def tukey_fences(values: ArrayLike) -> tuple[float, float]:
    """Tukey-style fences at 1.5 IQR: ``(Q1 - 1.5 IQR, Q3 + 1.5 IQR)`` (Tukey 1977).

    Quartiles by ``np.percentile`` with linear interpolation (Hyndman & Fan type 7).
    """
    data = _sample(values)
    q1, q3 = np.percentile(data, [25.0, 75.0])
    iqr = q3 - q1
    return float(q1 - TUKEY_K * iqr), float(q3 + TUKEY_K * iqr)


def tukey_outliers(values: ArrayLike) -> np.ndarray:
    """Mask of the values strictly outside Tukey-style fences at 1.5 IQR (Tukey 1977).

    A value exactly on a fence is not an outlier.
    """
    data = _sample(values)
    lo, hi = tukey_fences(data)
    return (data < lo) | (data > hi)


def coefficient_of_variation(values: ArrayLike) -> float:
    """Coefficient of variation: sample standard deviation (ddof=1) over the mean.

    0.0 for a single value; the mean must be > 0, as for any latency or ratio.
    """
    data = _sample(values)
    mean = float(np.mean(data))
    if mean <= 0.0:
        raise ValueError(f"the coefficient of variation needs a mean > 0; found {mean!r}")
    if data.size == 1:
        return 0.0
    return float(np.std(data, ddof=1)) / mean


def relative_halfwidth(
    values: ArrayLike,
    statistic: Statistic = "median",
    seed: int = 0,
    resamples: int = 2_000,
) -> float:
    """Half the width of the percentile-bootstrap 95 % interval over the statistic itself.

    The harness stops adding rounds once this falls below its target (adaptive stopping, as
    pyperf stops at a target precision); fewer resamples than a reported interval suffice.
    """
    _check_statistic(statistic)
    data = _sample(values)
    center = float(_STATISTICS[statistic](data))
    if center == 0.0:
        raise ValueError(f"the relative half-width needs a non-zero {statistic}; found 0.0")
    lo, hi = bootstrap_ci(data, statistic, 0.95, resamples=resamples, seed=seed)
    return (hi - lo) / 2.0 / abs(center)


def summarize(values: ArrayLike, *, seed: int = 0, resamples: int = 10_000) -> dict:
    """Descriptive statistics of a latency sample, as plain JSON-ready numbers.

    std is the sample standard deviation (ddof=1; 0 for one value); percentiles by
    ``np.percentile`` with linear interpolation; ``median_ci95`` is the percentile-bootstrap 95 %
    interval of the median; ``outliers`` counts the values outside Tukey-style fences at 1.5 IQR.
    Every latency must be finite and > 0.
    """
    data = _sample(values, "latencies", positive=True)
    p5, p50, p90, p95, p99 = (float(p) for p in np.percentile(data, [5, 50, 90, 95, 99]))
    std = float(np.std(data, ddof=1)) if data.size > 1 else 0.0
    mean = float(np.mean(data))
    lo, hi = bootstrap_ci(data, "median", 0.95, resamples=resamples, seed=seed)
    return {
        "n": int(data.size),
        "mean": mean,
        "median": float(np.median(data)),
        "std": std,
        "min": float(data.min()),
        "max": float(data.max()),
        "p5": p5,
        "p50": p50,
        "p90": p90,
        "p95": p95,
        "p99": p99,
        "cv": std / mean,
        "median_ci95": [lo, hi],
        "outliers": int(np.count_nonzero(tukey_outliers(data))),
    }


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``z`` the two-sided normal
    quantile of ``confidence`` (1.96 for 95 %). Unlike the Wald interval it stays inside [0, 1]
    and is not degenerate at 0 or n successes.
    """
    for name, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"{name} must be an integer; found {value!r}")
    if n <= 0:
        raise ValueError(f"n must be > 0; found {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n!r}; found {successes!r}")
    _check_confidence(confidence)
    z = float(special.ndtri(0.5 + confidence / 2.0))  # the normal quantile
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    # Rounding can push an end a few ulps past the bounds it has in exact arithmetic.
    return max(0.0, center - half), min(1.0, center + half)


def intervals_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two closed intervals ``(lo, hi)`` share a point; entries that do are tied."""
    (a_lo, a_hi), (b_lo, b_hi) = a, b
    for name, (lo, hi) in (("a", (a_lo, a_hi)), ("b", (b_lo, b_hi))):
        if not lo <= hi:  # also refuses NaN ends
            raise ValueError(f"interval {name} must have lo <= hi; found ({lo!r}, {hi!r})")
    return a_lo <= b_hi and b_lo <= a_hi


def randomised_gain(
    windows: Sequence[tuple[ArrayLike, ArrayLike]], draws: int = 20_000, seed: int = 0
) -> tuple[float, float, float]:
    """(gain, p, p_reverse): how much higher the values of the unmarked rounds are than the
    marked ones (the ratio of their medians), and a randomisation test of it, each way:
    ``p`` for unmarked higher, ``p_reverse`` for marked higher.

    Each window is (values, marked): the rounds of one session's window in order, and which
    of them were marked (the reserve, placed at random positions drawn uniformly). Each
    window's values are taken relative to its median, so that sessions of different
    speeds pool, and ranked together. The p-value is the share of other draws of the
    marks, made the same way in every window, whose ranks sum to no more than the marked
    rounds' do: exact for the design whatever the values do over time (an honest model's
    drift or tuning moves marked and unmarked rounds alike), where a rank test that pools
    the windows as if every round could have been marked is not."""
    rng = np.random.default_rng(seed)
    parts, marks = [], []
    for values, marked in windows:
        v = _sample(values, positive=True)
        m = np.asarray(marked, dtype=bool)
        if len(m) != len(v):
            raise ValueError("values and marked must have the same length")
        parts.append(v / np.median(v))
        marks.append(m)
    pooled, mark = np.concatenate(parts), np.concatenate(marks)
    if mark.all() or not mark.any():
        raise ValueError("need marked and unmarked rounds")
    gain = float(np.median(pooled[~mark]) / np.median(pooled[mark]))
    from scipy.stats import rankdata  # here, not at the top: see the import of special

    ranks = rankdata(pooled)
    observed = ranks[mark].sum()
    drawn = np.zeros(draws)
    start = 0
    for m in marks:
        window = ranks[start : start + len(m)]
        order = np.argsort(rng.random((draws, len(m))), axis=1)[:, : m.sum()]
        drawn += window[order].sum(axis=1)
        start += len(m)
    p = (1 + int(np.sum(drawn <= observed + 1e-9))) / (draws + 1)
    p_reverse = (1 + int(np.sum(drawn >= observed - 1e-9))) / (draws + 1)
    return gain, float(p), float(p_reverse)
