"""The score card's rows and notes for a generation workload (docs/DESIGN.md, Generation):
perplexity with its interval (on the public held-out answers, and on the course's sealed
Q&A where it was scored), the greedy answers' quality on the held-out and the composed
questions, the speedup per token over a whole walk and at each context length, tokens per
second. ``render.card`` draws them as it draws a digit grade's.
"""

from __future__ import annotations

from grader.metrics import fmt_bytes, fmt_ms


def is_generation(result: dict) -> bool:
    return (result.get("measurement") or {}).get("protocol") == "generation"


def _f(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _ci(pair: list[float] | None, spec: str = ".3f") -> str:
    return "" if not pair else f" [{pair[0]:{spec}}, {pair[1]:{spec}}]"


def _speedup(found: dict) -> str:
    return f"speedup {found['speedup']:.3f}×{_ci(found['ci95'])}, p={found['p_value']:.3g}"


def text_metric_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """A row per number: the baseline's, the submission's and how they compare; the answers'
    quality first, then ``speed_rows``."""
    b, s = result["baseline"]["metrics"], result["optimized"]["metrics"]
    imp = result["improvements"]
    rows = [
        (
            "perplexity (held-out answers)",
            _f(b["perplexity"]) + _ci(b["perplexity_ci95"]),
            _f(s["perplexity"]) + _ci(s["perplexity_ci95"]),
            f"ratio {_f(imp['perplexity_ratio'])}",
        ),
        (
            "next-character accuracy",
            f"{b['accuracy']:.3f} ({b['correct']}/{b['total']})",
            f"{s['accuracy']:.3f} ({s['correct']}/{s['total']})",
            f"{imp['accuracy_delta']:+.3f}",
        ),
        (
            "greedy answers: exact, char F1",
            f"{_f(b['exact_match'])}, {_f(b['char_f1'])}",
            f"{_f(s['exact_match'])}, {_f(s['char_f1'])}",
            f"F1 {_f(imp['char_f1_delta'], '+.3f')}",
        ),
        (
            "composed questions: exact, char F1",
            f"{_f(b['probe_exact_match'])}, {_f(b['probe_char_f1'])}",
            f"{_f(s['probe_exact_match'])}, {_f(s['probe_char_f1'])}",
            f"F1 {_f(imp['probe_char_f1_delta'], '+.3f')}",
        ),
    ]
    if "private_perplexity" in s:
        rows.insert(
            1,
            (
                "perplexity (sealed private answers)",
                _f(b["private_perplexity"]) + _ci(b["private_perplexity_ci95"]),
                _f(s["private_perplexity"]) + _ci(s["private_perplexity_ci95"]),
                f"ratio {_f(imp['private_perplexity_ratio'])}, gap {_f(imp['perplexity_gap'])}",
            ),
        )
    return rows + speed_rows(result)


def speed_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The walks' rows: the filler's perplexity, the latency per token over a walk and at
    each context length, tokens per second, size and memory."""
    b, s = result["baseline"]["metrics"], result["optimized"]["metrics"]
    imp = result["improvements"]
    rows = [
        (
            "perplexity past the first record (filler)",
            _f(b["filler_perplexity"]),
            _f(s["filler_perplexity"]),
            f"ratio {_f(imp['filler_perplexity_ratio'])}",
        ),
        (
            "latency per token (whole walk)",
            fmt_ms(b["walk_latency_ms"]),
            fmt_ms(s["walk_latency_ms"]),
            _speedup(
                {
                    "speedup": imp["speedup"],
                    "ci95": imp["speedup_ci95"],
                    "p_value": imp["speedup_p_value"],
                }
            ),
        ),
        ("tokens per second", f"{b['tokens_per_s']:.0f}", f"{s['tokens_per_s']:.0f}", ""),
    ]
    for length in map(str, result["measurement"]["text"]["context_lengths"]):
        found = imp["speedup_by_context"][length]  # stored by name: sorted as text
        rows.append(
            (
                f"latency per token after {length}",
                fmt_ms(b["latency_by_context_ms"][length]),
                fmt_ms(s["latency_by_context_ms"][length]),
                _speedup(found),
            )
        )
    return rows + footprint_rows(b, s, imp)


def footprint_rows(b: dict, s: dict, imp: dict) -> list[tuple[str, str, str, str]]:
    """Size on disk, peak memory and parameters: the rows every kind of workload shows."""
    return [
        (
            "size on disk",
            fmt_bytes(b["size_bytes"]),
            fmt_bytes(s["size_bytes"]),
            f"compression {imp['compression_ratio']:.3f}×",
        ),
        (
            "peak memory (model)",
            fmt_bytes(b["peak_memory_bytes"]),
            fmt_bytes(s["peak_memory_bytes"]),
            "",
        ),
        ("parameters", _count(b["parameters"]), _count(s["parameters"]), ""),
    ]


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def text_notes(result: dict) -> list[str]:
    """How a generation grade measured, and what its answer checks found."""
    m, s = result["measurement"], result["optimized"]["metrics"]
    spec, text = m["text"], s["text"]
    replays, greedy = text["replays"], text["greedy_agreement"]
    kinds = [x["kind"] for x in spec["scored"]]
    private = result.get("private") or {}
    records = private.get("records") if private.get("available") else None
    sealed = f", {records} of the course's sealed Q&A" if records else ""
    notes = [
        f"{m['rounds']} walks of {spec['walk_length']} tokens in {m['sessions']} session(s), "
        f"every step timed in interleaved blocks of {spec['block_steps']}, harness cost "
        f"{fmt_ms(s['harness_overhead_ms_per_sample'])}/token subtracted; "
        f"{kinds.count('test')} held-out questions{sealed} and {kinds.count('probe')} "
        f"composed for this grade; {m['wall_seconds']:.1f} s" + (" (quick)" if m["quick"] else "")
    ]
    if "openings" in spec:  # graded since the speed is taken from text no table holds
        notes.append(
            "speed taken from the blocks past each walk's first record (public text a model "
            "may have tabled): the filler there is drawn from the baseline at grade time, "
            "and its perplexity is bounded"
        )
    checks = []
    if replays["compared"]:
        checks.append(
            f"walks shown again {replays['agreed'] / replays['compared']:.2%} of "
            f"{replays['compared']:,} steps"
        )
    if greedy["compared"]:
        checks.append(
            f"greedy answers asked again {greedy['agreed']}/{greedy['compared']} the same"
        )
    walks = text["greedy_walks"]
    if walks["compared"]:
        checks.append(f"greedy steps against its walks {walks['agreed']}/{walks['compared']}")
    if checks:
        notes.append("answers matching the first showing's: " + ", ".join(checks))
    if not greedy["compared"]:
        notes.append(
            "greedy answers asked once (one session): greedy_agreement is measured by a full "
            "grade only, which asks them again in a fresh process"
        )
    return split_notes(result) + notes + blind_notes(result)


def blind_notes(result: dict) -> list[str]:
    """Where the speedup was held to the blind walks' support, by how much."""
    imp = result["improvements"]
    if "speedup_blind_ci95" not in imp:
        return []
    held = [
        f"after {length} {found['measured']:.2f}× → {found['speedup']:.2f}×"
        for length, found in imp["speedup_by_context"].items()
        if found["measured"] > found["speedup"]
    ]
    if imp["speedup_measured"] > imp["speedup"]:
        held.insert(0, f"whole walk {imp['speedup_measured']:.3f}× → {imp['speedup']:.3f}×")
    blind = result["measurement"]["text"]["blind"]
    lo, hi = imp["speedup_blind_ci95"]
    line = (
        f"{len(blind)} blind walks (all text drawn from the baseline, which no table holds) "
        f"support a whole walk's speedup of [{lo:.3f}, {hi:.3f}]"
    )
    if not held:
        return [line + ": no speedup was held to them"]
    return [
        line + "; held to their upper ends: " + ", ".join(held) + ". A speedup is published "
        "as far as text the model cannot have tabled supports it"
    ]


def split_notes(result: dict) -> list[str]:
    """Which split the perplexity and the scores are on, where the sealed Q&A is concerned."""
    private = result.get("private")
    if result["improvements"].get("accuracy_split") == "private":
        return [
            "final phase: perplexity, accuracy and the scores use the course's sealed Q&A "
            "(its questions are published nowhere, and never asked greedily here)"
        ]
    if private and not private["available"]:
        return [f"private split not scored here: {private['reason']}"]
    return []
