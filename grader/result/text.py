"""A generation grade's published numbers, derived from its observations on every read
(docs/DESIGN.md, Generation; Owners of the numbers).

What a generation result stores of each model (``metrics.text``): per scored record its
answer characters' summed negative log-likelihood, their count and how many the arg-max
predicted (first showing); per walk shown, the summed negative log-likelihood over all its
steps and each block's per-token latency; the greedy answers. The measurement stores the
scored records' questions, references and kinds (``test``: the held-out split's,
``probe``: composed for the grade). The course's sealed Q&A, walked apart
(``grader/measure/sealedwalks.py``), is in none of those: the result's ``private`` holds
each model's rounded sums over it and the intervals computed when it was graded.
Everything below is computed from those. A result without sealed records derives exactly
the numbers it did before they existed: the ``private_*`` numbers and ``perplexity_gap``
appear only with them.
"""

from __future__ import annotations

import math

import numpy as np

from grader import stats
from grader.data import textmetrics
from grader.data.text import VOCAB_SIZE
from grader.result import textspeed

KINDS = ("test", "probe")
GRID = 100  # the sealed intervals' ends are exp(k / GRID) (grader/measure/sealedwalks.py)


def _perplexity(nll: np.ndarray, chars: np.ndarray) -> float | None:
    return float(math.exp(nll.sum() / chars.sum())) if chars.sum() > 0 else None


def check_observations(metrics: dict, kinds: np.ndarray) -> None:
    """What a generation result stores twice agrees with itself, or ValueError: the digits'
    fields (``correct``, ``total``, ``latency_samples_ms``) are sums and means of the text
    observations, the greedy answers' agreement is counted from the two sets, and a greedy
    answer is stored for every scored record."""
    text = metrics["text"]
    test = kinds == "test"
    if len(text["record_nll"]) != len(kinds) or len(text["greedy"]) != len(kinds):
        raise ValueError("the text observations do not have one entry per scored record")
    counts = (
        sum(np.asarray(text["record_correct"])[test]),
        sum(np.asarray(text["record_chars"])[test]),
    )
    if (metrics["correct"], metrics["total"]) != tuple(int(c) for c in counts):
        raise ValueError("correct and total are not the held-out records' counts")
    walks = [float(np.mean(b)) for b in text["block_latency_ms"]]
    if len(walks) != len(metrics["latency_samples_ms"]) or not np.allclose(
        walks, metrics["latency_samples_ms"], rtol=1e-12, atol=0
    ):
        raise ValueError("latency_samples_ms is not each walk's mean block latency")
    again = text["greedy_again"]
    if not set(kinds) <= set(KINDS):
        raise ValueError("a scored record of a kind other than test or probe")
    for answers in [text["greedy"]] + ([] if again is None else [again]):
        if len(answers) != len(kinds) or any(a is None for a in answers):
            raise ValueError("a greedy answer is missing for a scored record")
    asked = list(zip(text["greedy"], again or [], strict=False))
    asked = [(a, b) for a, b in asked if b is not None]
    same = sum(a == b for a, b in asked)
    if text["greedy_agreement"] != {"agreed": same, "compared": len(asked)}:
        raise ValueError("greedy_agreement is not counted from greedy and greedy_again")


def _on_grid(value: float) -> bool:
    k = math.log(value) * GRID if value > 0 else math.nan
    return math.isfinite(k) and abs(k - round(k)) < 1e-6


def _interval_ok(interval: list[float], ceiling: float) -> bool:
    low, high = interval
    return (
        _on_grid(low) and _on_grid(high) and low <= high and 1 / ceiling * 0.99 <= low
        and high <= ceiling * 1.01
    )  # fmt: skip


def check_private(private: dict | None, vocab: int = VOCAB_SIZE) -> None:
    """The result's ``private`` section of a generation grade holds what the sealed walks
    keep, or ValueError: per model the arg-max's hits within the characters, the summed
    NLL in whole nats within ``total * 2 ln vocab``, both models over the same characters,
    every interval's ends on the grid (``sealedwalks.GRID``) and in order."""
    if not (private and private.get("available")):
        return
    ceiling = float(vocab) ** 2
    sides = [private["baseline"], private["optimized"]]
    if any("nll" not in s or "perplexity_ci95" not in s for s in sides) or not all(
        key in private for key in ("records", "perplexity_ratio_ci95")
    ):
        raise ValueError(
            "the private section has no sealed sums (nll, intervals): a result of a grader "
            "that walked the sealed records among the public ones; regrade"
        )
    for side in sides:
        if side["total"] != sides[0]["total"] or side["correct"] > side["total"]:
            raise ValueError("the private section's counts disagree between the two models")
        if side["nll"] > math.ceil(side["total"] * math.log(ceiling)):
            raise ValueError("a private nll above its clip (perplexity vocab ** 2)")
        if not _interval_ok(side["perplexity_ci95"], ceiling):
            raise ValueError("a private perplexity interval off the grid exp(k / 100)")
    if not _interval_ok(private["perplexity_ratio_ci95"], ceiling):
        raise ValueError("the private perplexity ratio interval is off the grid exp(k / 100)")


def private_perplexity(side: dict) -> dict:
    """One model's perplexity over the sealed answers, from its rounded sums, and the
    interval the grade computed."""
    return {
        "private_perplexity": math.exp(side["nll"] / side["total"]),
        "private_perplexity_ci95": list(side["perplexity_ci95"]),
    }


def derive_text_model(metrics: dict, measurement: dict, sealed: dict | None = None) -> dict:
    """One model's text numbers: perplexities (with the test split's interval over pairs,
    and the sealed split's where it was scored: ``sealed``, the model's side of the result's
    ``private``), answer quality per kind, the walks' perplexity, per-token latency by
    context, tokens/s."""
    text, spec = metrics["text"], measurement["text"]
    kinds = np.array([s["kind"] for s in spec["scored"]])
    check_observations(metrics, kinds)
    nll, chars = np.asarray(text["record_nll"], float), np.asarray(text["record_chars"], float)
    test = kinds == "test"
    ppl, low, high = stats.perplexity_interval(nll[test], chars[test])
    out: dict = {"perplexity": ppl, "perplexity_ci95": [low, high]}
    if sealed is not None:
        out |= private_perplexity(sealed)
    out["probe_perplexity"] = _perplexity(nll[kinds == "probe"], chars[kinds == "probe"])
    out["filler_perplexity"] = textspeed.filler_perplexity(text, spec)
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
    step, mask = spec["block_steps"], textspeed.counted(spec, blocks.shape)
    medians = textspeed.block_medians(blocks, mask)
    out["latency_by_context_ms"] = {
        str(length): float(medians[length // step]) for length in spec["context_lengths"]
    }
    out["walk_latency_ms"] = float(medians.mean())
    out["tokens_per_s"] = 1e3 / out["walk_latency_ms"]
    return out


def derive_text_improvements(
    base: dict, sub: dict, measurement: dict, estimate, ranked_private: list | None = None
) -> dict:
    """The submission against the baseline: perplexity ratios, answer-quality deltas and
    the speedup at each context length (``estimate``: the digits' speedup estimate over
    session groups of ratios, ``derive.speedup_estimate``). ``ranked_private``: where the
    final phase ranks on the sealed records, their paired ratio interval (the result's
    ``private.perplexity_ratio_ci95``), and ``perplexity_ratio`` is theirs."""
    spec = measurement["text"]

    def ratio(key: str) -> float | None:
        return None if base[key] is None or sub[key] is None else sub[key] / base[key]

    def delta(key: str) -> float | None:
        return None if base[key] is None or sub[key] is None else sub[key] - base[key]

    ratio_ci = ranked_ratio_interval(base, sub, spec, ranked_private)
    agreement = sub["text"]["greedy_agreement"]
    public, composed = ratio("perplexity"), ratio("probe_perplexity")
    out = textspeed.text_speedups(base, sub, measurement, estimate) | {
        # How much more the public held-out answers improved than the composed ones: a model
        # that learnt the public text by heart gains there only (events.yaml's flag).
        "public_probe_ratio": None if public is None or not composed else public / composed,
        "perplexity_ratio": public,
        "perplexity_ratio_ci95": ratio_ci,
        "filler_perplexity_ratio": (
            None
            if base["filler_perplexity"] is None or sub["filler_perplexity"] is None
            else textspeed.filler_ratio(base["text"], sub["text"], spec)
        ),
        "probe_perplexity_ratio": ratio("probe_perplexity"),
        "exact_match_delta": delta("exact_match"),
        "char_f1_delta": delta("char_f1"),
        "probe_char_f1_delta": delta("probe_char_f1"),
        "greedy_agreement": (
            agreement["agreed"] / agreement["compared"] if agreement["compared"] else None
        ),
    }
    if "private_perplexity" in sub:
        out |= private_improvements(base, sub, public, ranked_private is not None)
    return out


def ranked_ratio_interval(base: dict, sub: dict, spec: dict, sealed: list | None) -> list:
    """The ranked records' paired perplexity-ratio interval: the sealed ones' as the grade
    computed it where they rank (``sealed``, the final phase), else the held-out pairs'."""
    if sealed is not None:
        return list(sealed)
    test = np.array([s["kind"] == "test" for s in spec["scored"]])
    _, *ratio_ci = stats.perplexity_ratio_interval(
        np.asarray(base["text"]["record_nll"], float)[test],
        np.asarray(sub["text"]["record_nll"], float)[test],
        np.asarray(sub["text"]["record_chars"], float)[test],
    )
    return ratio_ci


def private_improvements(base: dict, sub: dict, public: float, ranked: bool) -> dict:
    """The sealed Q&A's numbers against the baseline's (``public``: the public held-out
    perplexity ratio); with ``ranked`` (the final phase), its ratio is the ranked one."""
    private = sub["private_perplexity"] / base["private_perplexity"]
    return {
        "private_perplexity": sub["private_perplexity"],
        "private_perplexity_ratio": private,
        # How much worse the submission fared against the baseline on the sealed questions
        # than on the public ones: about 1 for a model that learnt what carries over, far
        # above it for one fit to the public text.
        "perplexity_gap": private / public,
    } | ({"perplexity_ratio": private} if ranked else {})
