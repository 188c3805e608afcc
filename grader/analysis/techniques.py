"""Technique detection: what the weight files show, compared with what the team claims.

Two halves, like the rest of a result. :func:`grader.analysis.weights.inspect` is the
*observation*: every array of the weight files described as data (dtype, shape, exact
zeros, distinct values, grid levels). :func:`compare` is *derived*: it applies the
thresholds and the vocabulary of ``events.yaml`` to those observations, so that a stored
result's detected techniques are recomputed on read like every other derived number.

What the files show (docs/DESIGN.md, Techniques and code quality): quantization by integer
arrays, by float arrays holding few evenly spaced values (TinyTorch keeps quantized weights
as float32), or by scale and zero-point arrays side by side; pruning by the fraction of
exact zeros (beyond those that rounding to a grid makes); a smaller model (distillation,
architecture search) by the parameter count against the baseline's; float16 storage by
dtype. What the files cannot show (fused kernels, caches) is "not checkable".

Arrays in the files are no proof that the model computes with them. The ablation is the
third part: the harness runs the submission once more, untimed, per kind of evidence found
(:func:`evidence_arrays`), from a private copy in which those arrays' values are shuffled
(:func:`grader.analysis.weights.ablate`); the result keeps how many of its answers stayed
the same (``ablation``), and :func:`compare` counts a technique only where its evidence
changed them (:func:`used`).
"""

from __future__ import annotations

from grader.analysis import weights
from grader.config import Rules

# Integer dtypes that hold quantized values. Wider integers are indices (sparse storage),
# not evidence of quantization.
QUANTIZED_INTS = frozenset({"int8", "uint8", "int16", "uint16"})
# The ablation (see ``weights.ablate``): held-out digits a second, untimed child answers with one
# technique's evidence arrays shuffled, and the most of its answers that may stay the same
# for the evidence to count as used. Measured here (quick grades, a few seeds): example-int8
# kept 9-27 of 200, example-cnn-int8 15-25, example-vit-fp16 18-22 (chance is about 10 %:
# a shuffled model answers near one class); arrays the model never reads keep 200 of 200
# (the harness rejects a model whose answers to the same digit differ more than 1 % of the
# time, so an honest one keeps at least about 99 %).
ABLATION_SAMPLES = 200
MAX_ABLATED_AGREEMENT = 0.9
# What a detector finds: sentences, one per array or count; and the arrays they name.
Evidence = tuple[list[str], list[str]]


# -- derivation ------------------------------------------------------------------------------------
def detect(artifacts: dict, rules: Rules, baseline_parameters: int) -> dict[str, list[str]]:
    """Each detected kind of evidence (``quantization``, ``pruning``, ``smaller_model``,
    ``float16``) with its evidence, one sentence per array or count."""
    return {k: said for k, (said, _) in _found(artifacts, rules, baseline_parameters).items()}


def evidence_arrays(
    artifacts: dict, rules: Rules, baseline_parameters: int
) -> dict[str, list[str]]:
    """Each detected kind of evidence with the arrays it rests on: what an ablation replaces
    (the quantized or float16 arrays that make the share, the pruned arrays, and for a
    smaller model every array of the weight files)."""
    return {k: names for k, (_, names) in _found(artifacts, rules, baseline_parameters).items()}


def _found(artifacts: dict, rules: Rules, baseline_parameters: int) -> dict[str, Evidence]:
    """Each kind of evidence the weight files show, each detector applied to the large
    arrays (those of at least ``min_values`` values) against the limits of ``events.yaml``."""
    limits = rules.detection
    large = [a for a in artifacts["arrays"] if weights.value_count(a) >= limits["min_values"]]
    total = sum(weights.value_count(a) for a in large)
    found = {
        "quantization": _quantization(artifacts["arrays"], large, total, limits),
        "pruning": _pruning(large, total, limits),
        "smaller_model": _smaller_model(artifacts, baseline_parameters, limits),
        "float16": _float16(large, total, limits),
    }
    return {kind: evidence for kind, evidence in found.items() if evidence is not None}


def _enough(arrays: list[dict], total: int, limits: dict) -> bool:
    """Whether ``arrays`` hold the ``min_share`` of the large arrays' values: unused arrays
    added for points do not count."""
    return (
        bool(total) and sum(weights.value_count(a) for a in arrays) / total >= limits["min_share"]
    )


def _quantization(
    arrays: list[dict], large: list[dict], total: int, limits: dict
) -> Evidence | None:
    """Integer arrays and float arrays on a grid, named with the scale and zero-point arrays
    beside them (never evidence on their own)."""
    ints = [a for a in large if a["dtype"] in QUANTIZED_INTS]
    grids = [a for a in large if a not in ints and _grid(a, limits["max_levels"])]
    if not _enough(ints + grids, total, limits):
        return None
    quantized = [
        f"{a['name']} holds {a['dtype']} ({weights.value_count(a):,} values)" for a in ints
    ]
    quantized += [
        f"{a['name']} holds {a['distinct'] or 'many'} distinct {a['dtype']} values on "
        + (
            f"an evenly spaced grid of {a['levels']} levels"
            if a["levels"] is not None
            else f"a grid per channel of at most {a['channel_levels']} levels"
        )
        + f" ({weights.value_count(a):,} values)"
        for a in grids
    ]
    keys = {a["name"]: a["name"].rpartition(":")[2].lower() for a in arrays}
    scales = sorted(n for n, k in keys.items() if "scale" in k)
    zero_points = sorted(n for n, k in keys.items() if "zero_point" in k or k.endswith("_zp"))
    if scales:  # beside quantized arrays, not on their own
        quantized.append(
            f"scale arrays ({', '.join(n[:80] for n in scales[:3])})"
            + (
                f" and zero-point arrays ({', '.join(n[:80] for n in zero_points[:3])})"
                if zero_points
                else ""
            )
        )
    return quantized, [a["name"] for a in ints + grids]


def _pruning(large: list[dict], total: int, limits: dict) -> Evidence | None:
    """Zeros beyond the rounding's, over the large arrays, with the arrays that hold them."""
    pruned = sum(_pruned(a) for a in large)
    if not (total and pruned / total >= limits["min_zero_fraction"]):
        return None
    sparse = [a for a in large if _pruned(a) / weights.value_count(a) >= 0.05]
    return (
        [
            f"{pruned / total:.1%} of the values of the large arrays are zeros beyond what"
            f" rounding to a grid gives ({pruned:,.0f} of {total:,})"
        ]
        + [f"{a['name']}: {a['zeros'] / weights.value_count(a):.1%} zeros" for a in sparse],
        [a["name"] for a in sparse],
    )


def _smaller_model(artifacts: dict, baseline_parameters: int, limits: dict) -> Evidence | None:
    """The parameter count against the baseline's; every array of the weight files."""
    count = weights.parameters(artifacts)
    if not (count and count / baseline_parameters <= limits["max_parameter_ratio"]):
        return None
    return (
        [
            f"{count:,} values in the weight files against the baseline's"
            f" {baseline_parameters:,} ({count / baseline_parameters:.0%})"
        ],
        [a["name"] for a in artifacts["arrays"]],
    )


def _float16(large: list[dict], total: int, limits: dict) -> Evidence | None:
    """Arrays stored as float16, where they make the share."""
    halves = [a for a in large if a["dtype"] == "float16"]
    if not _enough(halves, total, limits):
        return None
    said = [f"{a['name']} holds float16 ({weights.value_count(a):,} values)" for a in halves]
    return said, [a["name"] for a in halves]


def _grid(array: dict, max_levels: int) -> bool:
    """On an evenly spaced grid of at most ``max_levels`` levels, as a whole or per channel."""
    levels = array["levels"] if array["levels"] is not None else array.get("channel_levels")
    return levels is not None and levels <= max_levels


def _pruned(array: dict) -> float:
    """Zeros beyond the rounding's: the zero level's count less the mean of its neighbours'."""
    return max(0.0, array["zeros"] - array["adjacent"] / 2)


def used(check: dict | None, arrays: list[str]) -> tuple[bool | None, str]:
    """Whether an ablation (``check``, of exactly ``arrays``) shows the model's answers
    depending on those arrays, and a sentence saying so. None: not checked.

    Used when the model failed with the arrays shuffled (it read them), or when at most
    :data:`MAX_ABLATED_AGREEMENT` of its answers stayed what they were."""
    if check is None or sorted(check["arrays"]) != sorted(arrays[: weights.MAX_ARRAYS]):
        return None, "ablation: not run on these arrays, so their use is not checked: not counted"
    if check["failure"] is not None:
        return True, (
            f"ablation: with these arrays' values shuffled the model failed"
            f" ({check['failure'][:200]}): it reads them"
        )
    agreed, compared = check["agreed"], check["compared"]
    if not compared:
        return None, "ablation: no answers to compare: not counted"
    share = agreed / compared
    if share <= MAX_ABLATED_AGREEMENT:
        return True, (
            f"ablation: with these arrays' values shuffled, {agreed} of {compared} answers"
            f" ({share:.0%}) stayed the same: the model uses them"
        )
    return False, (
        f"ablation: with these arrays' values shuffled, {agreed} of {compared} answers"
        f" ({share:.0%}) stayed the same: the answers do not depend on them, not counted"
    )


def compare(
    artifacts: dict | None,
    claimed: list[str],
    rules: Rules,
    baseline_parameters: int,
    ablation: dict | None = None,
) -> dict:
    """The techniques section of a result: detected (with evidence) against claimed.

    A detected technique counts (confirmed, unclaimed, innovation points) only where its
    ablation shows the model's answers depend on its evidence; ``ablation`` is the result's
    observations of those runs (``None``: not run, so nothing counts)."""
    names = rules.technique_names
    canonical = [names.get(c) for c in claimed]
    out: dict = {
        "claimed": list(claimed),
        "detected": None,
        "confirmed": [],
        "unconfirmed": [],
        "unclaimed": [],
        "uncheckable": sorted({c for c in canonical if c and _detect(rules, c) == "none"}),
        "unknown": [c for c, n in zip(claimed, canonical, strict=True) if n is None],
        "innovation": None,
    }
    if artifacts is None:
        return out
    evidence = _found(artifacts, rules, baseline_parameters)
    checks = (ablation or {}).get("checks", {})
    detected = []
    for name, spec in rules.techniques.items():
        if spec["detect"] not in evidence:
            continue
        said, arrays = evidence[spec["detect"]]
        is_used, sentence = used(checks.get(spec["detect"]), arrays)
        detected.append(
            {
                "technique": name,
                "evidence": [e[:600] for e in said[:20]],
                "used": is_used,
                "ablation": sentence[:600],
            }
        )
    found = {d["technique"] for d in detected if d["used"]}
    wanted = {c for c in canonical if c and _detect(rules, c) != "none"}
    out["detected"] = detected
    out["confirmed"] = sorted(wanted & found)
    out["unconfirmed"] = sorted(wanted - found)
    out["unclaimed"] = sorted(found - wanted)
    points = sum(rules.techniques[t].get("points", 0) for t in found)
    out["innovation"] = float(min(100, points))
    return out


def _detect(rules: Rules, technique: str) -> str:
    return rules.techniques[technique]["detect"]
