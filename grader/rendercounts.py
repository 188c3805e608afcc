"""The score card's instruction counts: the row beside the wall-time latency, and how they
were counted or why they were not (docs/DESIGN.md, Instruction counts). The numbers are
the result's derived ones (``grader/result/counts.py``); this module only words them.
"""

from __future__ import annotations


def instruction_row(result: dict) -> tuple[str, str, str, str] | None:
    """The metrics table's row of instructions per sample, with the instruction ratio and
    the wall-time speedup side by side; None where the grade counted none."""
    section = result.get("instructions")
    if not section or not section["counted"]:
        return None
    base = result["baseline"]["metrics"]["instructions_per_sample"]
    sub = result["optimized"]["metrics"]["instructions_per_sample"]
    imp = result["improvements"]
    ratio = imp["instruction_ratio"]
    compared = "—" if ratio is None else f"ratio {ratio:.3f}×"
    walk = "walk" in section  # a generation workload's: per token, beside a walk's speedup
    return (
        f"instructions per {'token' if walk else 'sample'}",
        f"{base:,.0f}",
        f"{sub:,.0f}",
        f"{compared} ({'per-token ' if walk else ''}wall-time speedup {imp['speedup']:.3f}×)",
    )


def instruction_notes(result: dict) -> list[str]:
    """How the instructions were counted (tool, block, the loop's own count subtracted,
    what NumPy and OpenBLAS ran under valgrind, layers not active), or why they were not."""
    section = result.get("instructions")
    if not section:
        return []
    if not section["counted"]:
        return [f"instructions not counted: {section['reason']}"]
    harness = result["optimized"]["metrics"]["harness_instructions_per_sample"]
    n = section["samples"]
    stream = (
        f"the first {n} tokens of walk {section['walk']} (contexts 0-{n - 1}), stepped by "
        f"both models, the worker loop's {harness:,.0f} a token"
        if "walk" in section
        else f"blocks of {n} digits, the worker loop's {harness:,.0f} a sample"
    )
    note = (
        f"instructions counted by {section['valgrind']} ({section['tool']}), untimed: "
        f"{stream} subtracted; blind to memory stalls and SIMD width, where wall time is not"
    )
    seen = section["dispatch"]
    under, native = seen.get("valgrind") or {}, seen.get("native") or {}
    if under:
        note += (
            f"; under valgrind NumPy ran {'/'.join(under['numpy_simd']) or 'baseline'} code "
            f"and OpenBLAS {under['blas_kernels'] or '?'} kernels"
            + (" (natively the same)" if under == native else
               f" (natively {'/'.join(native.get('numpy_simd') or []) or 'baseline'} and "
               f"{native.get('blas_kernels') or '?'})")
        )  # fmt: skip
    notes = [note]
    weak = sorted(k for k, v in section["sandbox"].items() if v.startswith(("unavailable", "off")))
    if weak:
        notes.append(
            f"counted with {', '.join(weak)} not active (the result's instructions.sandbox "
            "says why)"
        )
    return notes
