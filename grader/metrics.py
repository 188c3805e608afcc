"""The metrics: every number the grader observes or scores by, in one table.

Each has a unit, a format for the terminal, the comment and the leaderboard, which way is
better, and whether it must be positive: a metric that measures something that exists
(a latency, a size, a ratio of two of them) never qualifies when it is zero or negative,
NaN or infinite (docs/DESIGN.md, Rules and scoring). Rules and flags may name only
observed metrics: a metric is code, not data, and naming a new one in events.yaml cannot
make it measured. events.yaml's header says how each is computed. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1:
        return f"{ms * 1000:.2f} µs"
    return f"{ms:.3f} ms" if ms < 100 else f"{ms:.1f} ms"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # "" for a share, a difference or a count
    format: Callable[[float], str]  # a value that is not None
    better: Literal["higher", "lower"]
    positive: bool = False  # zero or negative never qualifies
    observed: bool = True  # False: a score computed from observed ones (rules cannot name it)


G4, F3, F1, TIMES = "{:.4g}".format, "{:.3f}".format, "{:.1f}".format, "{:.3f}×".format
TABLE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "", F3, "higher", positive=True),
        Metric("accuracy_delta", "", G4, "higher"),
        Metric("error_ratio", "", G4, "lower"),
        Metric("latency_ms", "ms", fmt_ms, "lower", positive=True),
        Metric("size_bytes", "bytes", lambda v: fmt_bytes(int(v)), "lower", positive=True),
        Metric("speedup", "×", TIMES, "higher", positive=True),
        Metric("speedup_p_value", "", G4, "lower"),
        Metric("compression_ratio", "×", TIMES, "higher", positive=True),
        Metric("efficiency", "×", TIMES, "higher", positive=True),
        # Under cachegrind (docs/DESIGN.md, Instruction counts): absent where not counted.
        Metric("instruction_ratio", "×", TIMES, "higher", positive=True),
        # instruction_ratio / speedup: far above 1, the counted model did less work than the
        # timed one (a flag reads it; never stored, so results without it stay valid).
        Metric("instructions_over_speedup", "", G4, "lower", positive=True),
        Metric("code_quality", "points of 100", F1, "higher"),
        Metric("innovation", "points of 100", F1, "higher"),
        Metric("techniques_unconfirmed", "techniques", G4, "lower"),
        Metric("private_accuracy", "", G4, "higher"),
        Metric("accuracy_gap", "", G4, "lower"),
        # A generation workload's (docs/DESIGN.md, Generation).
        Metric("perplexity", "", F3, "lower", positive=True),
        Metric("perplexity_ratio", "", F3, "lower", positive=True),
        Metric("probe_perplexity", "", F3, "lower", positive=True),
        Metric("probe_perplexity_ratio", "", F3, "lower", positive=True),
        Metric("filler_perplexity", "", F3, "lower", positive=True),
        Metric("filler_perplexity_ratio", "", F3, "lower", positive=True),
        Metric("exact_match", "", F3, "higher"),
        Metric("exact_match_delta", "", G4, "higher"),
        Metric("char_f1", "", F3, "higher"),
        Metric("char_f1_delta", "", G4, "higher"),
        Metric("probe_exact_match", "", F3, "higher"),
        Metric("probe_char_f1", "", F3, "higher"),
        Metric("probe_char_f1_delta", "", G4, "higher"),
        Metric("greedy_agreement", "", F3, "higher"),
        Metric("public_probe_ratio", "", F3, "higher", positive=True),
        # Where the course's sealed Q&A was scored (docs/DESIGN.md, Generation).
        Metric("private_perplexity", "", F3, "lower", positive=True),
        Metric("private_perplexity_ratio", "", F3, "lower", positive=True),
        Metric("perplexity_gap", "", F3, "lower", positive=True),
        Metric("tokens_per_s", "tokens/s", F1, "higher", positive=True),
        Metric("composite", "points of 100", F1, "higher", observed=False),
    )
}
FORMATS = {name: m.format for name, m in TABLE.items()}
OBSERVED = frozenset(name for name, m in TABLE.items() if m.observed)
POSITIVE = frozenset(name for name, m in TABLE.items() if m.positive)
# Formatted as digits, ".", "-" and "×" only (or "—", "inf", "nan"): Markdown escapes the minus.
PLAIN = frozenset(name for name, m in TABLE.items() if m.format in (F3, F1, TIMES))


def accuracy_of(counts: Mapping[str, int]) -> float:
    """correct / total: a model's accuracy on one split, public or private."""
    return counts["correct"] / counts["total"]


def fmt_value(metric: str, value: float | None) -> str:
    """``value`` as ``metric`` is shown; a name outside the table gets 4 significant digits."""
    if value is None:
        return "—"
    return FORMATS.get(metric, G4)(value)
