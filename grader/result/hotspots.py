"""Where the time goes, derived from the observations a result stores
(docs/DESIGN.md, Where the time goes): recomputed on every read, as every number.

The ``hotspots`` section holds, per model, the report of one profiled block (each traced
line's charged seconds, its line events and its calls out of the model's code, and the
tracer's own cost per event of either kind, measured in the child) and the counted runs'
instructions by library. Derived, into each model's ``metrics.hotspots``:

- each line's time: its charged seconds less the tracer's cost of its events, never below
  zero; its share of the sum over every line (the lines not listed one by one included, as
  ``rest``); the ten largest, by share; and the ten largest functions (the lines listed,
  summed by file and function);
- the library buckets: the counted block's instructions (``noop model model`` less
  ``noop model``) by bucket, less the worker loop's own (the baseline's ``noop model noop``
  less ``noop model``), as the instructions per sample are derived; each bucket's share.

A run's buckets must sum to its count in ``instructions``: a bucket edited apart from the
count is refused. Pure functions: numbers in, numbers out.
"""

from __future__ import annotations

from grader.result.counts import BASE, LOOP, TWICE, count_of

SHOWN_LINES = 10
METHOD = (
    "each line's time in one untimed block, traced in the model's process (its CPU time, "
    "the tracer's own cost taken off; calls into NumPy charged to the line that made them)"
)
BUCKETS_METHOD = "cachegrind's instructions by function, of the counted block, by library"


def line_seconds(found: dict, tracer: dict) -> float:
    """A line's time, the tracer's own cost of its events taken off."""
    cost = found["events"] * tracer["line_s"] + found["calls_out"] * tracer["call_s"]
    return max(found["seconds"] - cost, 0.0)


def lines(profile: dict) -> tuple[float, list[dict], list[dict]]:
    """The profiled block's total time, its ten largest lines and its ten largest functions
    (the lines listed one by one, summed by file and function), each with its share."""
    tracer = profile["tracer"]
    timed = [(line_seconds(line, tracer), line) for line in profile["lines"]]
    total = sum(t for t, _ in timed) + line_seconds(profile["rest"], tracer)
    timed.sort(key=lambda tl: (-tl[0], tl[1]["file"], tl[1]["line"], tl[1]["function"]))
    shown = [
        {
            "file": line["file"],
            "line": line["line"],
            "function": line["function"],
            "share": t / total if total > 0 else 0.0,
        }
        for t, line in timed[:SHOWN_LINES]
    ]
    by_function: dict[tuple[str, str], float] = {}
    for t, line in timed:
        key = (line["file"], line["function"])
        by_function[key] = by_function.get(key, 0.0) + t
    functions = [
        {"file": file, "function": function, "share": t / total if total > 0 else 0.0}
        for (file, function), t in sorted(by_function.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return total, shown, functions[:SHOWN_LINES]


def bucket_block(runs: list[dict], counted: list[dict], blocks: tuple, side: str) -> dict:
    """The buckets of the run of ``blocks``, checked against its count."""
    found = [r for r in runs if tuple(r["blocks"]) == blocks]
    if len(found) != 1:
        raise ValueError(f"hotspots.buckets.runs.{side} holds {len(found)} runs of {list(blocks)}")
    buckets = found[0]["buckets"]
    if sum(buckets.values()) != count_of(counted, blocks, side):
        raise ValueError(
            f"hotspots.buckets.runs.{side}: the buckets of {list(blocks)} sum to "
            f"{sum(buckets.values())}, not the run's count in instructions"
        )
    return buckets


def buckets(section: dict, instructions: dict, side: str) -> tuple[dict, int] | None:
    """``side``'s counted block by library, the loop's own taken off: shares and total."""
    if not section["counted"]:
        return None
    runs, counted = section["runs"], instructions["runs"]
    base = bucket_block(runs["baseline"], counted["baseline"], BASE, "baseline")
    loop = bucket_block(runs["baseline"], counted["baseline"], LOOP, "baseline")
    first = bucket_block(runs[side], counted[side], BASE, side)
    twice = bucket_block(runs[side], counted[side], TWICE, side)
    own = {k: max(twice[k] - first[k] - (loop[k] - base[k]), 0) for k in twice}
    total = sum(own.values())
    return {k: v / total if total > 0 else 0.0 for k, v in own.items()}, total


def derived(section: dict | None, instructions: dict | None) -> tuple[dict, dict] | None:
    """Each model's ``metrics.hotspots`` (the baseline's, the submission's); None where the
    result has no ``hotspots`` (a quick grade, or one from before them)."""
    if section is None:
        return None
    if section["buckets"]["counted"] and not (instructions or {}).get("counted"):
        raise ValueError("hotspots.buckets are counted but the instructions are not")
    return tuple(side_of(section, instructions, side) for side in ("baseline", "optimized"))


def side_of(section: dict, instructions: dict | None, side: str) -> dict:
    """One model's hot spots, in the shape the card and the hints read."""
    profile = section["profile"][side]
    found = buckets(section["buckets"], instructions or {}, side)
    total, shown, functions = lines(profile) if profile["available"] else (None, [], [])
    why = []
    if not profile["available"]:
        why.append(f"lines: {profile['reason']}")
    elif total == 0:
        why.append("lines: the block spent no measurable time in the model's own Python code")
    if found is None:
        why.append(f"library buckets: {section['buckets']['reason']}")
    return {
        "method": METHOD,
        "total": total,
        "unit": "seconds",
        "lines": shown,
        "functions": functions,
        "buckets": found[0] if found else None,
        "buckets_method": BUCKETS_METHOD if found else None,
        "buckets_total": found[1] if found else None,
        "buckets_unit": "instructions",
        "why_absent": "; ".join(why) or None,
    }
