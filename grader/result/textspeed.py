"""A generation grade's speed, derived from its block latencies on every read
(docs/DESIGN.md, Generation: speed; blind walks; speed from text no table holds).

Per showing of a walk, each block's per-token latency is stored for both models
(``metrics.text.block_latency_ms``, showings by blocks). Every number here is taken from
the blocks *counted* (:func:`counted`): those wholly past their walk's first record, whose
text (a public held-out pair, or a question from the published grammar) a model may have
stepped at load and tabled; the rest of a walk is filler drawn at grade time from the
baseline (``grader/data/sampler.py``), which no table holds and whose quality
``inference_speed`` bounds. A block at which no showing is counted (the first blocks of a
quick grade, which shows no blind walk) takes every showing's, and so does a result graded
before ``measurement.text.openings`` existed, which derives what it did then. The whole
walk's speedup and each context length's are then held to what the blind walks alone
support (:func:`held`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from grader import stats


def counted(spec: dict, shape: tuple[int, ...]) -> np.ndarray:
    """Which blocks (``shape``: showings by blocks) are wholly past their walk's first
    record (``spec``: the measurement's ``text``); all of them where it has no
    ``openings``."""
    openings = spec.get("openings")
    if openings is None:
        return np.ones(shape, dtype=bool)
    walks = {index for index, _ in spec["walks"]}
    if len(openings) != len(walks) or walks != set(range(len(walks))):
        raise ValueError(
            f"measurement.text.openings has {len(openings)} entries for {len(walks)} walks"
        )
    if any(openings[i] for i in spec.get("blind") or ()):
        raise ValueError("measurement.text.openings gives a blind walk a first record")
    first = np.array([openings[index] for index, _ in spec["walks"]], dtype=float)
    return np.arange(shape[1])[None, :] * spec["block_steps"] >= first[:, None]


def filler_perplexity(text: dict, spec: dict, rows: np.ndarray | None = None) -> float:
    """The filler's perplexity (``text``: a model's observations). Where the result has each
    block's summed NLL and ``openings``: the characters of the blocks :func:`counted`, each
    block weighted as the speed weighs it (one block, one share of a walk's time), so a
    model cheap at the few blocks some walks alone are counted at (the blind walks' first
    contexts) pays there in the same proportion as it gains; a block counted at no
    showing has no filler. ``rows``: the showings taken (all where None), or the cells
    taken (a showings by blocks mask). Before: every character past each walk's first
    record."""
    blocks = text.get("block_nll")
    if blocks is None or spec.get("openings") is None:
        return float(math.exp(math.fsum(text["filler_nll"]) / sum(text["filler_steps"])))
    nll = np.asarray(blocks, dtype=float)
    if nll.shape != np.shape(text["block_latency_ms"]):
        raise ValueError("block_nll does not have a value for each block of each walk shown")
    mask = counted(spec, nll.shape)
    if rows is not None:
        mask = mask & (rows if rows.ndim == 2 else rows[:, None])
    per_char = [
        nll[mask[:, j], j].sum() / (mask[:, j].sum() * spec["block_steps"])
        for j in range(nll.shape[1])
        if mask[:, j].any()
    ]
    if not per_char:
        raise ValueError("no block of any walk is past its first record")
    return float(math.exp(float(np.mean(per_char))))


def blind_showings(spec: dict) -> np.ndarray:
    """Which showings (``spec["walks"]``) were of blind walks (``spec``: the measurement's
    ``text``; none where it has no ``blind``)."""
    blind = set(spec.get("blind") or ())
    return np.array([index in blind for index, _ in spec["walks"]], dtype=bool)


def filler_ratio(base: dict, sub: dict, spec: dict) -> float:
    """The submission's filler perplexity over the baseline's (``base``, ``sub``: each
    model's observations): where the result has blind walks, the worse of the pooled ratio
    (every counted block, each weighted as the speed weighs it) and the ratio over the
    walks a record opens, at the blocks where they are at least half of the showings
    counted (docs/DESIGN.md, Generation: the filler).

    A model can tell the two kinds apart at its first step (a blind walk opens with a
    letter, a record with "Q"), and a walk's first blocks are counted in the blind walks
    alone, so an approximation used on the record walks only was charged about half of its
    cost in the pooled ratio (1.086 where used, 1.04 published); at the blocks where the
    record walks carry the median time it is charged in full. Where they are fewer (a
    walk's first counted blocks, where one to three records have ended), one record
    walk's 8-character block weighed a twelfth of their ratio, and a 4-bit copy of the
    baseline (1.038 on either kind) published 1.057. An approximation on the blind walks
    alone is fast only where they carry the median (the first blocks), which the pooled
    ratio charges in the same proportion; their own ratio, over 12 walks, was too noisy to
    bound by (a model at 1.040 over 1.05 about one grade in nine)."""
    pooled = filler_perplexity(sub, spec) / filler_perplexity(base, spec)
    if sub.get("block_nll") is None or spec.get("openings") is None:
        return pooled
    rows = blind_showings(spec)
    if rows.all() or not rows.any():
        return pooled
    mask = counted(spec, np.shape(sub["block_nll"]))
    records = mask & ~rows[:, None]
    if (most := records & (2 * records.sum(axis=0) >= mask.sum(axis=0))).any():
        records = most
    return max(
        pooled, filler_perplexity(sub, spec, records) / filler_perplexity(base, spec, records)
    )


def block_medians(blocks: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each block's median over the showings ``mask`` counts there, or over all of them
    where it counts none (``blocks`` and ``mask``: ``(..., showings, blocks)``)."""
    with warnings.catch_warnings():  # an all-NaN block: taken from every showing below
        warnings.simplefilter("ignore", RuntimeWarning)
        some = np.nanmedian(np.where(mask, blocks, np.nan), axis=-2)
    return np.where(np.isnan(some), np.median(blocks, axis=-2), some)


def walk_speedup(
    base: np.ndarray,
    sub: np.ndarray,
    sessions: np.ndarray,
    mask: np.ndarray | None = None,
    resamples: int = 2_000,
    seed: int = 0,
) -> tuple[float, list[float], float, float]:
    """The speedup over a whole walk: the baseline's walk time over the submission's, each
    the sum over the walk's blocks of that block's median over the walks (blocks, walks:
    ``(W, J)`` per-token latencies). A block's median keeps what a block costs at its
    context and drops the blocks another process interrupted: a mean over each walk's
    blocks charged an interrupted block of a fast model (8 steps, about 1 ms) far more than
    one of the baseline's (10-40 ms), which measured a KV cache 9.9x where the medians gave
    16.8x on a busy machine. The interval is a two-stage bootstrap (sessions, then walks
    within them), widened to Student's t over the sessions' own estimates where there are
    several, as for the digits; the p-values are the bootstrap's (faster, slower). A block's
    median is over the showings ``mask`` counts there (:func:`block_medians`)."""
    mask = np.ones(base.shape, dtype=bool) if mask is None else mask

    def ratio(b: np.ndarray, s: np.ndarray, m: np.ndarray) -> np.ndarray:
        return block_medians(b, m).sum(axis=-1) / block_medians(s, m).sum(axis=-1)

    estimate = float(ratio(base, sub, mask))
    groups = [np.flatnonzero(sessions == k) for k in np.unique(sessions)]
    m = min(len(g) for g in groups)
    rng = np.random.default_rng(seed)
    replicates = np.empty(resamples)
    for start in range(0, resamples, 250):
        rows = min(250, resamples - start)
        chosen = rng.integers(0, len(groups), size=(rows, len(groups)))
        picks = rng.integers(0, m, size=(rows, len(groups), m))
        table = np.stack([g[:m] for g in groups])  # (K, m) walk indices
        idx = table[chosen[:, :, None], picks].reshape(rows, -1)
        replicates[start : start + rows] = ratio(base[idx], sub[idx], mask[idx])
    low, high = stats.percentile_interval(replicates)
    if len(groups) > 1:
        t_low, t_high = stats.session_interval(
            [float(ratio(base[g], sub[g], mask[g])) for g in groups]
        )
        low, high = min(low, t_low), max(high, t_high)
    return (
        estimate,
        [float(low), float(high)],
        stats.bootstrap_p_value(replicates, 1.0, "greater"),
        stats.bootstrap_p_value(replicates, 1.0, "less"),
    )


# Showings of blind walks that can hold a speedup: a full grade has 12 first showings and
# the replays drawn among them. With fewer, the interval's upper end is about their
# largest ratio, which an honest model's estimate over every walk exceeds too often.
MIN_BLIND_SHOWINGS = 10


def blind_rows(spec: dict) -> np.ndarray | None:
    """Which showings were of blind walks (``spec``: the measurement's ``text``), or None
    where there are too few to hold a speedup to (a quick grade; a result graded before
    blind walks existed)."""
    rows = blind_showings(spec)
    return rows if rows.sum() >= MIN_BLIND_SHOWINGS else None


def blind_bounds(b_blocks: np.ndarray, s_blocks: np.ndarray, rows: np.ndarray, step: int,
                 lengths: list[int]) -> tuple[list[float], dict[str, list[float]]]:  # fmt: skip
    """The 95 % intervals, over the blind walks alone, of the whole walk's speedup and of
    each context's: text no table holds, so a model that answers public text from a table
    is as fast there as its honest part (docs/DESIGN.md, Generation: blind walks)."""
    b, s = b_blocks[rows], s_blocks[rows]
    _, walk, _, _ = walk_speedup(b, s, np.zeros(len(b), dtype=int))
    by_context = {
        str(length): [
            float(x)
            for x in stats.bootstrap_ci(
                stats.paired_ratios(b[:, length // step], s[:, length // step]), "median"
            )
        ]
        for length in lengths
    }
    return walk, by_context


def held(found: dict, bound: list[float]) -> dict:
    """A speedup (``speedup``, ``ci95``) held to ``bound``'s upper end, as the digits' is
    held to new digits' (derive.published_speedup), and its interval too: neither claims
    more than the blind walks support (an interval wholly above it becomes the blind
    walks' own). The value before and the bound stay beside it."""
    top = bound[1]
    low = found["ci95"][0]
    if low >= top:  # wholly above what the blind walks support: theirs is the interval left
        low = bound[0]
    return {
        **found,
        "speedup": min(found["speedup"], top),
        "ci95": [low, min(found["ci95"][1], top)],
        "measured": found["speedup"],
        "blind_ci95": bound,
    }


def context_speedup(
    b_blocks: np.ndarray,
    s_blocks: np.ndarray,
    sessions: np.ndarray,
    j: int,
    estimate,
    mask: np.ndarray | None = None,
) -> dict:
    """The speedup of block ``j`` (one context length), paired walk by walk over the
    showings ``mask`` counts there (every showing where a session has none), estimated
    over the sessions as the digits' speedup is."""
    keys = sorted(set(sessions.tolist()))
    rows = np.ones(len(sessions), dtype=bool) if mask is None else mask[:, j]
    if any(not rows[sessions == k].any() for k in keys):
        rows = np.ones(len(sessions), dtype=bool)
    groups = [
        stats.paired_ratios(
            b_blocks[(sessions == k) & rows, j], s_blocks[(sessions == k) & rows, j]
        )
        for k in keys
    ]
    m = min(len(g) for g in groups)
    speedup, interval, p_faster, _ = estimate(np.stack([g[:m] for g in groups]))
    return {"speedup": speedup, "ci95": interval, "p_value": p_faster}


def text_speedups(base: dict, sub: dict, measurement: dict, estimate) -> dict:
    """The whole walk's speedup with its interval and p-values, and each context length's
    (``estimate``: the digits' speedup estimate over session groups of ratios), held to
    the blind walks' support where the grade has enough of them."""
    spec = measurement["text"]
    step = spec["block_steps"]
    b_blocks = np.asarray(base["text"]["block_latency_ms"], float)
    s_blocks = np.asarray(sub["text"]["block_latency_ms"], float)
    sessions = np.asarray(measurement["session_of_round"])
    mask = counted(spec, b_blocks.shape)
    by_context = {
        str(length): context_speedup(b_blocks, s_blocks, sessions, length // step, estimate, mask)
        for length in spec["context_lengths"]
    }
    speedup, interval, p_faster, p_slower = walk_speedup(b_blocks, s_blocks, sessions, mask)
    out = {
        "speedup": speedup,
        "speedup_ci95": interval,
        "speedup_p_value": p_faster,
        "speedup_p_value_slower": p_slower,
        "speedup_by_context": by_context,
    }
    if (rows := blind_rows(spec)) is None:
        return out
    bound, bounds = blind_bounds(b_blocks, s_blocks, rows, step, spec["context_lengths"])
    whole = held({"speedup": speedup, "ci95": interval}, bound)
    return out | {
        "speedup": whole["speedup"],
        "speedup_ci95": whole["ci95"],
        "speedup_by_context": {k: held(v, bounds[k]) for k, v in by_context.items()},
        "speedup_measured": speedup,
        "speedup_blind_ci95": bound,
    }
