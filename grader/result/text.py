"""A generation grade's published numbers, derived from its observations on every read
(docs/DESIGN.md, Generation; Owners of the numbers).

What a generation result stores of each model (``metrics.text``): per scored record its
answer characters' summed negative log-likelihood, their count and how many the arg-max
predicted (first showing); per walk shown, the summed negative log-likelihood over all its
steps and each block's per-token latency; the greedy answers. The measurement stores the
scored records' questions, references and kinds (``test``: the held-out split's,
``probe``: composed for the grade). Everything below is computed from those.
"""

from __future__ import annotations

import math

import numpy as np

from grader import stats
from grader.data import textmetrics

KINDS = ("test", "probe")


def _perplexity(nll: np.ndarray, chars: np.ndarray) -> float | None:
    return float(math.exp(nll.sum() / chars.sum())) if chars.sum() > 0 else None


def derive_text_model(metrics: dict, measurement: dict) -> dict:
    """One model's text numbers: perplexities (with the test split's interval over pairs),
    answer quality per kind, the walks' perplexity, per-token latency by context, tokens/s."""
    text, spec = metrics["text"], measurement["text"]
    kinds = np.array([s["kind"] for s in spec["scored"]])
    nll, chars = np.asarray(text["record_nll"], float), np.asarray(text["record_chars"], float)
    test = kinds == "test"
    ppl, low, high = stats.perplexity_interval(nll[test], chars[test])
    out: dict = {"perplexity": ppl, "perplexity_ci95": [low, high]}
    out["probe_perplexity"] = _perplexity(nll[kinds == "probe"], chars[kinds == "probe"])
    out["walk_perplexity"] = float(math.exp(math.fsum(text["walk_nll"]) / sum(text["walk_steps"])))
    references = [s["reference"] for s in spec["scored"]]
    for kind, prefix in (("test", ""), ("probe", "probe_")):
        mask = kinds == kind
        if not mask.any():
            out[f"{prefix}exact_match"] = out[f"{prefix}char_f1"] = None
            continue
        quality = textmetrics.answer_quality(
            [a for a, m in zip(text["greedy"], mask, strict=True) if m],
            [r for r, m in zip(references, mask, strict=True) if m],
        )
        out[f"{prefix}exact_match"] = quality["exact_match"]
        out[f"{prefix}char_f1"] = quality["char_f1"]
    blocks = np.asarray(text["block_latency_ms"], float)
    step = spec["block_steps"]
    out["latency_by_context_ms"] = {
        str(length): stats.median(blocks[:, length // step]) for length in spec["context_lengths"]
    }
    out["tokens_per_s"] = 1e3 / stats.median(metrics["latency_samples_ms"])
    return out


def derive_text_improvements(base: dict, sub: dict, measurement: dict, estimate) -> dict:
    """The submission against the baseline: perplexity ratios, answer-quality deltas and
    the speedup at each context length (``estimate``: the digits' speedup estimate over
    session groups of ratios, ``derive.speedup_estimate``)."""
    spec = measurement["text"]
    step = spec["block_steps"]
    b_blocks = np.asarray(base["text"]["block_latency_ms"], float)
    s_blocks = np.asarray(sub["text"]["block_latency_ms"], float)
    sessions = np.asarray(measurement["session_of_round"])
    by_context = {}
    for length in spec["context_lengths"]:
        j = length // step
        groups = [
            stats.paired_ratios(b_blocks[sessions == k, j], s_blocks[sessions == k, j])
            for k in sorted(set(sessions.tolist()))
        ]
        m = min(len(g) for g in groups)
        speedup, interval, p_faster, _ = estimate(np.stack([g[:m] for g in groups]))
        by_context[str(length)] = {"speedup": speedup, "ci95": interval, "p_value": p_faster}

    def ratio(key: str) -> float | None:
        return None if base[key] is None or sub[key] is None else sub[key] / base[key]

    def delta(key: str) -> float | None:
        return None if base[key] is None or sub[key] is None else sub[key] - base[key]

    agreement = sub["text"]["greedy_agreement"]
    public, composed = ratio("perplexity"), ratio("probe_perplexity")
    return {
        # How much more the public held-out answers improved than the composed ones: a model
        # that learnt the public text by heart gains there only (events.yaml's flag).
        "public_probe_ratio": None if public is None or not composed else public / composed,
        "perplexity_ratio": ratio("perplexity"),
        "walk_perplexity_ratio": ratio("walk_perplexity"),
        "probe_perplexity_ratio": ratio("probe_perplexity"),
        "exact_match_delta": delta("exact_match"),
        "char_f1_delta": delta("char_f1"),
        "probe_char_f1_delta": delta("probe_char_f1"),
        "greedy_agreement": (
            agreement["agreed"] / agreement["compared"] if agreement["compared"] else None
        ),
        "speedup_by_context": by_context,
    }
