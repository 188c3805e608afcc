"""What a hint may read of a result (docs/DESIGN.md, Hints): the observations, one small reader
each in one table (:data:`OBSERVATIONS`), each with a name, a kind that fixes how its value is
shown (:data:`FORMATS`) and what it is.

A reader takes a graded result (its stored observations and its derived numbers) and returns
a number, a piece of text, or None where the result does not hold it (a quick grade counts
no instructions; a text workload has no batches; hot spots may be absent). ``grader/hints.py``
applies events.yaml's hint rules to them; ``grader/hintchecks.py`` holds those rules to this
table when events.yaml is loaded. Standard library, NumPy's dtype names and
``grader.metrics``'s formats only, so that the config's checks below the renderers can read it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from grader.metrics import fmt_bytes, fmt_ms

TEXT = "text"  # an observation's kind that no condition can compare
MAX_TEXT = 200  # characters of a text observation shown in a hint


def _share(v: float) -> str:
    return f"{100 * v:.0f} %" if v >= 0.01 or v == 0 else f"{100 * v:.1g} %"


def _times(v: float) -> str:
    """A ratio: whole where it is whole (int8 is 4× smaller), else three figures or so."""
    if v == round(v) and abs(v) < 1000:
        return f"{v:.0f}×"
    return f"{v:.2f}×" if abs(v) < 10 else f"{v:.1f}×" if abs(v) < 100 else f"{v:,.0f}×"


# How each kind of observation is shown: a hint's text names every value in this form.
FORMATS: dict[str, Callable[[float], str]] = {
    "share": _share,
    "ratio": _times,
    "count": lambda v: f"{round(v):,}",
    "bytes": lambda v: fmt_bytes(round(v)),
    "ms": fmt_ms,
    "number": "{:.4g}".format,
}

Value = float | str | None


@dataclass(frozen=True)
class Observation:
    """A number (or text) a hint may read: its name, kind (a key of FORMATS, or ``text``),
    what it is, and its reader."""

    name: str
    kind: str
    means: str
    read: Callable[[Mapping], Value]

    def show(self, value: float | str) -> str:
        if self.kind == TEXT:
            text = str(value)
            return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
        return FORMATS[self.kind](float(value))


# -- the readers --------------------------------------------------------------------------------
def _metrics(result: Mapping, side: str = "optimized") -> Mapping:
    return (result.get(side) or {}).get("metrics") or {}


def _number(value: object) -> float | None:
    """A finite number, else None (absent, text, true/false, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _ratio(top: object, bottom: object) -> float | None:
    a, b = _number(top), _number(bottom)
    return None if a is None or b is None or b <= 0 else a / b


def _arrays(result: Mapping) -> list[dict]:
    return list((result.get("artifacts") or {}).get("arrays") or [])


def _values(array: Mapping) -> int:
    return math.prod(array["shape"])


def _dtype(array: Mapping) -> np.dtype | None:
    """An array's dtype from the name the result records (">f8" is float64), or None."""
    try:
        return np.dtype(array["dtype"]).newbyteorder("=")
    except TypeError:  # a name NumPy does not know: the result records names only
        return None


def _dtype_values(result: Mapping, dtype: str) -> int | None:
    arrays = _arrays(result)
    return sum(_values(a) for a in arrays if _dtype(a) == np.dtype(dtype)) if arrays else None


def _dtype_share(result: Mapping, dtype: str) -> float | None:
    arrays = _arrays(result)
    return _ratio(_dtype_values(result, dtype), sum(_values(a) for a in arrays) if arrays else None)


def _largest(result: Mapping) -> dict | None:
    arrays = _arrays(result)
    return max(arrays, key=lambda a: (_values(a), a["name"])) if arrays else None


def _largest_text(result: Mapping) -> str | None:
    a = _largest(result)
    return None if a is None else f"{a['name']} ({a['dtype']}, {_values(a):,} values)"


def _int8_factor(result: Mapping) -> float | None:
    """How many times smaller the largest array would be in int8: 4 for float32."""
    a = _largest(result)
    dtype = _dtype(a) if a is not None else None
    return float(dtype.itemsize) if dtype is not None and dtype.itemsize > 1 else None


def _batch_gain(result: Mapping) -> float | None:
    """Per-sample speed in batched blocks over one at a time: throughput x latency."""
    m = _metrics(result)
    latency = _number((m.get("latency_ms") or {}).get("median"))
    batch = _number((result.get("measurement") or {}).get("throughput_batch")) or 0
    if batch <= 1 or latency is None:
        return None
    return _ratio(m.get("throughput_sps"), 1000 / latency if latency > 0 else None)


def _detected(result: Mapping, used: bool) -> list[str] | None:
    found = (result.get("techniques") or {}).get("detected")
    return None if found is None else [d["technique"] for d in found if bool(d["used"]) is used]


def _count(names: list[str] | None) -> int | None:
    return None if names is None else len(names)


def _names(names: list[str] | None) -> str | None:
    return ", ".join(names) if names else None


def _hotspots(result: Mapping) -> Mapping | None:
    """The submission's hot spots where the result has them, None where not. Its two halves
    are measured apart and each may be absent alone (``why_absent`` says which): the lines
    (none listed, a profiled child that failed) and the library buckets (null, no valgrind),
    so each reader asks for its own half. Read leniently: a card is drawn from them, and an
    odd field keeps a hint silent rather than the card from being drawn."""
    spots = _metrics(result).get("hotspots")
    return spots if isinstance(spots, Mapping) else None


def _top_line(spots: Mapping) -> Mapping | None:
    found = spots.get("lines")
    lines = [ln for ln in found if isinstance(ln, Mapping)] if isinstance(found, list) else []
    lines = [ln for ln in lines if _number(ln.get("share")) is not None]
    return max(lines, key=lambda line: line["share"]) if lines else None


def _hot(result: Mapping) -> Mapping | None:
    """The hottest line of the submission's hot spots."""
    spots = _hotspots(result)
    return None if spots is None else _top_line(spots)


def _hot_text(result: Mapping) -> str | None:
    line = _hot(result)
    if line is None:
        return None
    return f"{line.get('file', '?')}:{line.get('line', '?')} ({line.get('function', '?')})"


def _hot_unit(result: Mapping) -> str | None:
    """What the lines' shares are of (time), where a line has one."""
    unit = (_hotspots(result) or {}).get("unit") if _hot(result) is not None else None
    return {"seconds": "time"}.get(unit, unit) if isinstance(unit, str) else None


def _bucket(result: Mapping, name: str) -> float | None:
    buckets = (_hotspots(result) or {}).get("buckets")
    return _number(buckets.get(name)) if isinstance(buckets, Mapping) else None


def _by_context(result: Mapping, side: str = "optimized") -> dict[int, float]:
    """A generation model's per-token latency at each context length shown (16, 64, 120)."""
    found = _metrics(result, side).get("latency_by_context_ms") or {}
    return {int(k): v for k, v in found.items() if _number(v) is not None}


def _context(result: Mapping, longest: bool) -> int | None:
    lengths = sorted(_by_context(result))
    return (lengths[-1] if longest else lengths[0]) if len(lengths) > 1 else None


def _latency_at(result: Mapping, longest: bool) -> float | None:
    length = _context(result, longest)
    return None if length is None else _by_context(result)[length]


def _speedup_at(result: Mapping, longest: bool) -> float | None:
    length = _context(result, longest)
    found = (result.get("improvements") or {}).get("speedup_by_context") or {}
    entry = found.get(str(length), found.get(length)) if length is not None else None
    return _number((entry or {}).get("speedup"))


def _improvement(name: str) -> Callable[[Mapping], Value]:
    return lambda r: _number((r.get("improvements") or {}).get(name))


def _metric(name: str, side: str = "optimized") -> Callable[[Mapping], Value]:
    return lambda r: _number(_metrics(r, side).get(name))


_S, _B = "optimized", "baseline"
OBSERVATIONS: dict[str, Observation] = {
    o.name: o
    for o in (
        # The weight files as the grader read them (the submission's).
        Observation("weight_values", "count", "values in the weight files",
                    lambda r: _number(sum(_values(a) for a in _arrays(r))) if _arrays(r) else None),
        Observation("float64_share", "share", "share of the weight values held as float64",
                    lambda r: _dtype_share(r, "float64")),
        Observation("float64_values", "count", "weight values held as float64",
                    lambda r: _dtype_values(r, "float64")),
        Observation("float32_share", "share", "share of the weight values held as float32",
                    lambda r: _dtype_share(r, "float32")),
        Observation("float32_values", "count", "weight values held as float32",
                    lambda r: _dtype_values(r, "float32")),
        Observation("largest_array", TEXT, "the largest weight array: name, dtype, values",
                    _largest_text),
        Observation("largest_array_int8_factor", "ratio",
                    "how many times smaller the largest array would be as int8 (4 for float32)",
                    _int8_factor),
        Observation("parameters", "count", "the submission's parameters", _metric("parameters")),
        Observation("baseline_parameters", "count", "the baseline's parameters",
                    _metric("parameters", _B)),
        Observation("parameter_ratio", "ratio", "parameters over the baseline's",
                    lambda r: _ratio(_metrics(r, _S).get("parameters"),
                                     _metrics(r, _B).get("parameters"))),
        # Speed: wall time, batches, instruction counts.
        Observation("speedup", "ratio", "the wall-time speedup", _improvement("speedup")),
        Observation("instruction_ratio", "ratio",
                    "the baseline's instructions per sample over the submission's",
                    _improvement("instruction_ratio")),
        Observation("instruction_over_wall", "ratio",
                    "the instruction ratio over the wall-time speedup (above 1: fewer "
                    "instructions bought less time than they should: memory stalls)",
                    lambda r: _ratio(_improvement("instruction_ratio")(r),
                                     _improvement("speedup")(r))),
        Observation("latency", "ms", "the submission's median latency, one sample",
                    lambda r: _number((_metrics(r).get("latency_ms") or {}).get("median"))),
        Observation("throughput", "count", "the submission's samples a second in batches",
                    _metric("throughput_sps")),
        Observation("batch_size", "count", "the samples of a batched block",
                    lambda r: _number((r.get("measurement") or {}).get("throughput_batch"))
                    or None),
        Observation("batch_gain", "ratio",
                    "per-sample speed in batches over one sample at a time", _batch_gain),
        # Memory and size.
        Observation("peak_memory", "bytes", "the submission's peak memory",
                    _metric("peak_memory_bytes")),
        Observation("baseline_peak_memory", "bytes", "the baseline's peak memory",
                    _metric("peak_memory_bytes", _B)),
        Observation("memory_ratio", "ratio", "peak memory over the baseline's",
                    lambda r: _ratio(_metrics(r, _S).get("peak_memory_bytes"),
                                     _metrics(r, _B).get("peak_memory_bytes"))),
        Observation("compression_ratio", "ratio", "the baseline's size over the submission's",
                    _improvement("compression_ratio")),
        # The techniques found in the weight files, used or not.
        Observation("techniques_used", "count", "techniques found and used (innovation)",
                    lambda r: _count(_detected(r, True))),
        Observation("unused_count", "count", "techniques found whose arrays the model ignores",
                    lambda r: _count(_detected(r, False))),
        Observation("unused_techniques", TEXT, "the names of those techniques",
                    lambda r: _names(_detected(r, False))),
        Observation("unclaimed_count", "count", "techniques found, used and not claimed",
                    lambda r: None if _detected(r, True) is None
                    else len(r["techniques"]["unclaimed"])),
        Observation("unclaimed_techniques", TEXT, "the names of those techniques",
                    lambda r: _names((r.get("techniques") or {}).get("unclaimed"))),
        Observation("innovation", "number", "innovation points (0-100)",
                    lambda r: _number((r.get("techniques") or {}).get("innovation"))),
        # Hot spots of the submission's untimed pass (absent where not measured).
        Observation("hotspot", TEXT, "the hottest line: file:line (function)", _hot_text),
        Observation("hotspot_share", "share", "the hottest line's share of the untimed pass",
                    lambda r: _number((_hot(r) or {}).get("share"))),
        Observation("hotspot_unit", TEXT, "what the lines' shares are of (time)", _hot_unit),
        Observation("interpreter_share", "share",
                    "the Python interpreter's share of the counted block's instructions",
                    lambda r: _bucket(r, "interpreter")),
        Observation("blas_share", "share",
                    "BLAS's share (matrix products) of the counted block's instructions",
                    lambda r: _bucket(r, "blas")),
        Observation("numpy_share", "share",
                    "NumPy's elementwise kernels' share of the counted block's instructions",
                    lambda r: _bucket(r, "numpy")),
        # A generation workload's.
        Observation("short_context", "count", "the shortest context length timed (tokens)",
                    lambda r: _context(r, False)),
        Observation("long_context", "count", "the longest context length timed (tokens)",
                    lambda r: _context(r, True)),
        Observation("latency_short", "ms", "the per-token latency at short_context",
                    lambda r: _latency_at(r, False)),
        Observation("latency_long", "ms", "the per-token latency at long_context",
                    lambda r: _latency_at(r, True)),
        Observation("context_growth", "ratio", "latency_long over latency_short",
                    lambda r: _ratio(_latency_at(r, True), _latency_at(r, False))),
        Observation("speedup_short", "ratio", "the speedup at the shortest context",
                    lambda r: _speedup_at(r, False)),
        Observation("speedup_long", "ratio", "the speedup at the longest context",
                    lambda r: _speedup_at(r, True)),
        Observation("perplexity", "number", "the answers' perplexity", _metric("perplexity")),
        Observation("baseline_perplexity", "number", "the baseline's answers' perplexity",
                    _metric("perplexity", _B)),
        Observation("perplexity_ratio", "ratio", "perplexity over the baseline's",
                    _improvement("perplexity_ratio")),
        Observation("filler_perplexity_ratio", "ratio",
                    "the perplexity on the text drawn from the baseline over the baseline's",
                    _improvement("filler_perplexity_ratio")),
        Observation("perplexity_gap", "ratio",
                    "the sealed Q&A's perplexity ratio over the public one",
                    _improvement("perplexity_gap")),
    )
}  # fmt: skip


def observe(result: Mapping) -> dict[str, Value]:
    """Every observation of a graded result, None where it does not hold one."""
    return {name: o.read(result) for name, o in OBSERVATIONS.items()}


def numeric(name: str) -> bool:
    """Whether a condition can compare the observation ``name`` (it is not text)."""
    return OBSERVATIONS[name].kind != TEXT


def vocabulary() -> Iterator[tuple[str, str, str]]:
    """(name, kind, meaning) of every observation, for ``olympics rules``."""
    for o in OBSERVATIONS.values():
        yield o.name, o.kind, o.means
