"""The caching check: does the submission answer digits faster once it has seen them?
(docs/DESIGN.md, Caching check)

Every later presentation of a digit carries fresh noise, but the noise cannot hide the
digit from a model that looks it up (rounding to the 8-bit grid undoes it); a cache of
answers would then make repeated digits cheaper than new ones. Each session keeps a few
rounds of digits back and shows them, new to its processes, at random places among all its
rounds after the main digits (grader/measure/schedule.py): there the submission's per-round
speedup is compared with the repeats', each round's taken relative to its session's median,
by a test that draws the positions again as they were drawn (``stats.randomised_gain``). An
honest model is as fast on both; a cache is not. What was compared, or why nothing could
be, goes in the result (``CacheCheck.as_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader import stats
from grader.errors import Rejected, Verdict
from grader.measure import schedule
from grader.measure.answers import p_text

MIN_FRESH_ROUNDS = 3  # rounds of new digits needed for caching to be judged
# Caching is judged once, at the end of the grade: each look is a test at CACHE_P_VALUE,
# each way, so judging after every session once 12 reserve rounds were in multiplied the
# honest model's chance of a rejection (3 of 679 honest full grades of the example beside
# a grade loop, load 1.4-11.5, two of them on an early look, one 3.00x on 12 new rounds;
# the final looks fell under p = 0.001 twice, at gains of 1.21x and less, neither over the
# 1.5x bound). The published speedup's hold needs no early verdict.
CACHE_P_VALUE = 1e-3  # repeated rounds faster than new ones at this significance: a cache

Window = tuple[np.ndarray, np.ndarray]  # one session's per-round speedups, and which are new


@dataclass(frozen=True)
class CacheCheck:
    """The caching check's finding: what was compared (rounds of new digits and of repeated
    ones), and either the gain of repeats over new digits with its p-value, or why it was
    not judged. ``p_value_reverse`` (new digits faster than repeats) decides a verdict and
    is not recorded."""

    judged: bool
    fresh_rounds: int | None = None
    repeated_rounds: int | None = None
    reason: str | None = None
    gain: float | None = None
    p_value: float | None = None
    p_value_reverse: float | None = None

    def as_dict(self) -> dict:
        """As the result records it (``measurement.cache_check``)."""
        fields = {
            "judged": self.judged,
            "fresh_rounds": self.fresh_rounds,
            "repeated_rounds": self.repeated_rounds,
            "reason": self.reason,
            "gain": self.gain,
            "p_value": self.p_value,
        }
        return {key: value for key, value in fields.items() if value is not None}


NOT_RUN = CacheCheck(judged=False, reason="no timed rounds")


def session_windows(ratios: np.ndarray, roles: np.ndarray, sessions: np.ndarray) -> list[Window]:
    """Per session with both kinds of rounds: its compared rounds' speedups, and which of
    them showed new digits (the reserve)."""
    windows = []
    for k in np.unique(sessions):
        mine = (sessions == k) & (roles != schedule.OTHER)
        if (roles[mine] == schedule.FRESH).any() and (roles[mine] == schedule.REPEAT).any():
            windows.append((ratios[mine], roles[mine] == schedule.FRESH))
    return windows


def compare(
    round_roles: list[str],
    round_sessions: list[int],
    baseline_latencies: list[float],
    submission_latencies: list[float],
    seed: int,
) -> CacheCheck:
    """The repeats' speedup against the new digits', over every session's rounds."""
    roles = np.asarray(round_roles)
    base = np.asarray(baseline_latencies)
    sub = np.asarray(submission_latencies)
    if len(roles) != len(base):
        return NOT_RUN  # a session was cut short: its rounds are not in the latencies
    windows = session_windows(base / sub, roles, np.asarray(round_sessions))
    fresh = sum(int(m.sum()) for _, m in windows)
    repeat = sum(int((~m).sum()) for _, m in windows)
    if fresh < MIN_FRESH_ROUNDS or repeat < 2:
        return CacheCheck(
            judged=False,
            fresh_rounds=fresh,
            repeated_rounds=repeat,
            reason=(
                f"{fresh} rounds of new digits and {repeat} of repeated ones: too few to "
                f"judge (at least {MIN_FRESH_ROUNDS} and 2)"
            ),
        )
    gain, p, p_reverse = stats.randomised_gain(windows, seed=seed)
    return CacheCheck(True, fresh, repeat, gain=gain, p_value=p, p_value_reverse=p_reverse)


def reject_a_cache(check: CacheCheck, max_repeat_gain: float) -> None:
    """Reject a submission whose speed depends on whether it has met a digit.

    Rejected only where significant: the test is exact whatever the machine's load does
    (the reserve's places are drawn uniformly), where a bound on the gain alone rejected
    honest grades on a busy machine (1.79x and 1.94x, seen). What a cache that escapes it
    could gain is held by the speedup's cap at the new digits' interval
    (result.new_digit_bound), which also covers a cache on part of the repeats, ranked to
    stay under the test (p about 0.01: docs/DESIGN.md, Caching check)."""
    if not check.judged:
        return
    gain, p, p_reverse = check.gain, check.p_value, check.p_value_reverse
    fresh, repeat = check.fresh_rounds, check.repeated_rounds
    bound = 1 + max_repeat_gain
    if gain < 1 / bound and p_reverse < CACHE_P_VALUE:
        # An honest model is as fast on both; one that knows a new digit when it meets
        # one could slow its repeats where they are compared, to hide a cache.
        raise Rejected(
            Verdict.BAD_OUTPUT,
            f"the model answered digits new to it {1 / gain:.2f}x as fast, relative to "
            f"the baseline, as digits it had seen before ({p_text(p_reverse)} over "
            f"{fresh} new and {repeat} repeated rounds): its speed depends on whether "
            "it has met a digit. Answer every call the same way.",
        )
    if gain <= bound or p >= CACHE_P_VALUE:
        return
    raise Rejected(
        Verdict.BAD_OUTPUT,
        f"the model answered digits it had seen before {gain:.2f}x as fast, relative to "
        f"the baseline, as digits new to it ({p_text(p)} over {fresh} new and "
        f"{repeat} repeated rounds): answers are being kept and looked up. Compute "
        "every answer: a cache of previous inputs is not an optimisation the Olympics "
        "measure.",
    )
