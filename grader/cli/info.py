"""``olympics rules``: the events, workloads and techniques as the rules stand, as tables or
as JSON. ``grader.cli.main`` parses the arguments and dispatches here.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from grader import hintreaders
from grader.config import load_rules
from grader.crosschecks import DATASET_KIND, GENERATION, event_protocols, protocol
from grader.errors import EXIT_OK, GraderError
from grader.metrics import TABLE


def cmd_rules(args: argparse.Namespace, out: Console, err: Console) -> int:
    rules = load_rules()
    events = rules.events
    if args.event:
        if args.event not in events:
            raise GraderError(
                f"unknown event {args.event!r}; valid events: " + ", ".join(sorted(events))
            )
        events = {args.event: events[args.event]}
    if args.json:
        keys = ("phase", "flags", "workloads", "composite_parts", "code_quality", "techniques")
        hinted = {"hints": rules.hints, "hint_observations": hint_observations()}
        out.print_json(json.dumps({"events": events} | {k: rules.data[k] for k in keys} | hinted))
        return EXIT_OK
    table = Table(title="Events", show_lines=True)
    for col in ("event", "ranks by", "constraints"):
        table.add_column(col)
    for name, ev in events.items():
        constraints = "\n".join(
            f"{r['metric']} {r['op']} {r['value']}"
            + (f" ({r['protocol']})" if "protocol" in r else "")
            for r in ev["rules"]
        )
        if ev["score"] == "composite":
            parts = [
                f"{k} {w:.0%}: {composite_formula(rules.composite_parts[k])}"
                for k, w in ev["composite"].items()
            ]
            constraints = "\n".join([*parts, constraints] if constraints else parts)
        lower = ev["score"] in TABLE and TABLE[ev["score"]].better == "lower"
        # every event says which workloads it takes (no `protocols`: classification only),
        # so a text model's team sees that latency_sprint is not for it
        constraints = f"open to: {', '.join(event_protocols(ev))}\n{constraints}"
        table.add_row(
            f"{name}\n{ev['title']}",
            ev["score"] + ("\n(lower is better)" if lower else ""),
            constraints or "—",
        )
    out.print(table)
    out.print(f"phase: {rules.data['phase']} (ranked on the {PHASE_SPLIT[rules.data['phase']]})")
    if not args.event:
        print_workloads(rules.workloads, out)
        tech = Table(title="Techniques (claim any name; innovation counts those found)")
        for col in ("technique", "also called", "found in the weight files by", "points"):
            tech.add_column(col)
        for name, spec in rules.techniques.items():
            found = DETECTED_BY[spec["detect"]]
            tech.add_row(name, ", ".join(spec["aliases"]), found, str(spec.get("points", "—")))
        out.print(tech)
        print_hints(rules.hints, out)
    return EXIT_OK


def print_workloads(workloads: dict[str, dict], out: Console) -> None:
    """The classification workloads' table, then the generation workloads' where any."""
    wl = Table(title="Workloads")
    for col in ("workload", "input", "classes", "baseline"):
        wl.add_column(col)
    generation = {n: w for n, w in workloads.items() if protocol(w) == GENERATION}
    for name, w in workloads.items():
        if name not in generation:
            wl.add_row(name, "×".join(map(str, w["input_shape"])), str(w["classes"]), w["baseline"])
    out.print(wl)
    if not generation:
        return
    gen = Table(title="Generation workloads (one token per sequence a step; protocol: generation)")
    for col in ("workload", "vocabulary", "context", "test perplexity", "baseline"):
        gen.add_column(col)
    for name, w in generation.items():
        vocabulary = f"{w['vocab_size']} ids (v{w['vocab_version']})"
        perplexity = f"{w['baseline_perplexity']:g}"
        gen.add_row(name, vocabulary, f"{w['context']} tokens", perplexity, w["baseline"])
    out.print(gen)


def print_hints(rules: list[dict], out: Console) -> None:
    """The hint rules (docs/DESIGN.md, Hints), then the observations a rule may read."""
    table = Table(title="Hints (on the card, 1 first, at most 3; they change no score)")
    for col in ("hint", "priority", "when", "says"):
        table.add_column(col)
    for rule in rules:
        when = "\n".join(f"{c['observation']} {c['op']} {c['value']:g}" for c in rule["when"])
        protocol = f"\n({rule['protocol']})" if "protocol" in rule else ""
        table.add_row(rule["id"] + protocol, str(rule["priority"]), when, rule["message"])
    out.print(table)
    names = Table(title="Observations a hint may read (grader/hintreaders.py)")
    for col in ("observation", "shown as", "what it is"):
        names.add_column(col)
    for name, kind, means in hintreaders.vocabulary():
        names.add_row(name, kind, means)
    out.print(names)


def hint_observations() -> dict[str, dict[str, str]]:
    return {name: {"kind": kind, "means": means} for name, kind, means in hintreaders.vocabulary()}


PHASE_SPLIT = {"public": "public test split", "final": "sealed private test split"}
DETECTED_BY = {
    "quantization": "integer arrays, or floats on a grid of few levels, or scales + zero points",
    "pruning": "exact zeros beyond those rounding makes",
    "smaller_model": "fewer parameters than the baseline",
    "float16": "float16 arrays",
    "none": "not visible there: not checked",
}


def composite_formula(part: dict) -> str:
    """The part's formula, and its override for each protocol that has one."""
    overrides = [f"; {kind}: {one_formula(part[kind])}" for kind in DATASET_KIND if kind in part]
    return one_formula(part) + "".join(overrides)


def one_formula(part: dict) -> str:
    metric = part["metric"]
    if part["formula"] == "percent":
        return f"100 × {metric}"
    if part["formula"] == "log_ratio":
        return f"50 + 50·log({metric})/log({part['cap']:g}), in 0–100"
    return f"{metric} (0–100)"
