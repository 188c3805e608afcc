"""What events.yaml and submission.yaml must hold that their JSON Schemas cannot express.

``grader.config`` runs these on data its schema accepted, so that they may trust its shape.
Each check is a small function that reports its violations with their rule id and file:line;
events.yaml's are listed in one table, ``EVENTS_YAML_CHECKS``, and all of them run, in its
order (the report's order among violations of one line).

A generation workload's vocabulary and a text dataset's splits are checked against
``grader.data.text``, their one owner (the vocabulary's size and version, the splits' sha256):
that module imports NumPy and ``grader.errors`` only, and pyproject.toml's layers contract lets
this module import it, alone of the data layer (docs/DESIGN.md, Rules and scoring).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from grader import entrypoint, hintchecks
from grader.data import text
from grader.metrics import OBSERVED
from grader.yamlfile import Report, show

COMPOSITE = "composite"
GENERATION, CLASSIFICATION = "generation", "classification"
TEXT, ARRAYS = "text", "arrays"
# The kind of dataset each protocol reads (a workload's protocol, a dataset's kind: absent is
# the first of each).
DATASET_KIND = {CLASSIFICATION: ARRAYS, GENERATION: TEXT}

# The rule ids of the cross-checks, each with its message and its fix. Where the fix is empty,
# the check gives one that fits the field. {field} and {expected} are always available.
RULES: dict[str, tuple[str, str]] = {
    "team_mismatch": ("the team is not named after its folder", "write team: {folder}"),
    "unknown_workload": ("there is no workload {name!r}", "choose {expected}"),
    "unknown_event": ("there is no event {name!r}", "choose {expected}"),
    "event_protocol": (
        "event {name!r} is not open to a {kind} workload",
        "enter {expected} (`olympics rules` lists which workloads each event takes)",
    ),
    "entrypoint_outside": ("the entrypoint file {how} the submission folder", ""),
    "entrypoint_missing": ("there is no file {module!r} in the folder", ""),
    "entrypoint_syntax": ("{module} is not valid Python: {reason}", ""),
    "entrypoint_function_missing": ("{module} defines no module-level {function!r}", ""),
    "unknown_metric": ("the grader knows no {what} {name!r}", "choose {expected}"),
    "unknown_dataset": ("there is no dataset {name!r}", "add it under `datasets:`, or fix it"),
    "composite_missing": ("a composite score needs its weights", "add `composite:` weights"),
    "composite_unused": ("weights are given but the score is not composite", "remove them"),
    "composite_weights": ("the composite weights sum to {total:g}, not 1", "make them sum to 1"),
    "duplicate_id": ("the id {name!r} is used twice", "give each its own id"),
    "duplicate_alias": (
        "{name!r} names both {first!r} and {second!r}",
        "let each name belong to one technique",
    ),
    "import_conflict": ("{name!r} is both allowed and forbidden", "keep it in one list"),
    "dataset_kind": (
        "a {protocol} workload reads a dataset of kind {wanted}, and {name!r} is {kind}",
        "name a dataset of kind {wanted}, or change the workload's protocol",
    ),
    "vocabulary_mismatch": (
        "{field} differs from the grader's vocabulary (grader/data/text.py)",
        "write {expected}; a new vocabulary is a new VOCAB_VERSION in grader/data/text.py",
    ),
    "text_split_mismatch": (
        "the text split {name!r} differs from the one grader/data/text.py reads",
        "write {expected}, as grader/data/text.py's SPLITS records it",
    ),
    "phase_unsealed": (
        "the final phase needs a sealed private split for dataset {name!r}",
        "seal it (data/digits/README.md) or keep phase: public",
    ),
}


def final_phase(data: Mapping[str, Any]) -> bool:
    """events.yaml's ``phase: final``: events rank on the sealed private split."""
    return data.get("phase") == "final"


def protocol(workload: Mapping[str, Any]) -> str:
    """A workload's protocol: ``classification`` where absent."""
    return workload.get("protocol", CLASSIFICATION)


def dataset_kind(dataset: Mapping[str, Any]) -> str:
    """A dataset's kind: ``arrays`` (.npz images and labels) where absent."""
    return dataset.get("kind", ARRAYS)


# ---------------------------------------------------------------- events.yaml


def events_yaml(report: Report, data: dict) -> None:
    """Every cross-check of events.yaml, in the order of ``EVENTS_YAML_CHECKS``."""
    for check in EVENTS_YAML_CHECKS:
        check(report, data)


def _metric(
    report: Report, name: str, path: tuple, known: frozenset = OBSERVED, what: str = "metric"
) -> None:
    _check_known(report, "unknown_metric", path, name, known, what=what)


def _finite(report: Report, path: tuple, value: float) -> None:
    """A threshold is a finite number: JSON Schema has no word for NaN."""
    if not math.isfinite(value):
        detail = "a threshold must be a finite number"
        report.add("bad_value", path, expected="a finite number", found=show(value), detail=detail)


def _unique_ids(report: Report, items: list[dict], path: tuple) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item["id"] in seen:
            report.add("duplicate_id", (*path, i, "id"), found="a second use", name=item["id"])
        seen.add(item["id"])


def _events(report: Report, data: dict) -> None:
    """Each event's score, composite weights and rules name known metrics, with finite
    thresholds and distinct ids."""
    parts = frozenset(data["composite_parts"])
    for name, event in data["events"].items():
        at = ("events", name)
        _score(report, event, at, parts)
        for i, rule in enumerate(event["rules"]):
            _metric(report, rule["metric"], (*at, "rules", i, "metric"))
            _finite(report, (*at, "rules", i, "value"), rule["value"])
        _unique_ids(report, event["rules"], (*at, "rules"))


def _score(report: Report, event: dict, at: tuple, parts: frozenset) -> None:
    """A metric, or ``composite`` with weights of known parts that sum to 1."""
    if event["score"] != COMPOSITE:
        _metric(report, event["score"], (*at, "score"))
    elif "composite" not in event:
        report.add("composite_missing", (*at, "score"), expected="`composite:` weights")
    if "composite" in event:
        if event["score"] != COMPOSITE:
            report.add("composite_unused", (*at, "composite"), found=show(event["score"]))
        for part in event["composite"]:
            _metric(report, part, (*at, "composite", part), parts, "composite part")
        total = math.fsum(event["composite"].values())
        if abs(total - 1) > 1e-9:
            shown = {"expected": "a sum of 1", "found": repr(total)}
            report.add("composite_weights", (*at, "composite"), **shown, total=total)


def _flags(report: Report, data: dict) -> None:
    for i, flag in enumerate(data["flags"]):
        _metric(report, flag["metric"], ("flags", i, "metric"))
        _finite(report, ("flags", i, "value"), flag["value"])
        if "when" in flag:
            _metric(report, flag["when"]["metric"], ("flags", i, "when", "metric"))
    _unique_ids(report, data["flags"], ("flags",))


def _composite_parts(report: Report, data: dict) -> None:
    for name, part in data["composite_parts"].items():
        for at, spec in [((name,), part)] + [
            ((name, k), part[k]) for k in DATASET_KIND if k in part
        ]:
            _metric(report, spec["metric"], ("composite_parts", *at, "metric"))
            if spec.get("cap") == 1:  # log(1) = 0 divides
                detail = "a cap of 1 divides by log(1) = 0: over 1 if higher is better, else below"
                report.add(
                    "bad_value",
                    ("composite_parts", *at, "cap"),
                    expected="a cap other than 1",
                    found="1",
                    detail=detail,
                )


def _technique_names(report: Report, data: dict) -> None:
    """A name (a technique's own or an alias) belongs to one technique."""
    owner: dict[str, str] = {}
    for name, technique in data["techniques"].items():
        for i, alias in enumerate([name, *technique["aliases"]]):
            if alias in owner and owner[alias] != name:
                at = ("techniques", name, "aliases", i - 1) if i else ("techniques", name)
                found = f"also a name of {owner[alias]!r}"
                report.add(
                    "duplicate_alias", at, found=found, name=alias, first=owner[alias], second=name
                )
            owner.setdefault(alias, name)


def _workload_datasets(report: Report, data: dict) -> None:
    for name, workload in data["workloads"].items():
        at = ("workloads", name, "dataset")
        _check_known(report, "unknown_dataset", at, workload["dataset"], data["datasets"])


def _workload_kinds(report: Report, data: dict) -> None:
    """A classification workload reads arrays, a generation workload text."""
    for name, workload in data["workloads"].items():
        dataset = data["datasets"].get(workload["dataset"])
        wanted = DATASET_KIND[protocol(workload)]
        if dataset is not None and dataset_kind(dataset) != wanted:
            report.add(
                "dataset_kind",
                ("workloads", name, "dataset"),
                expected=f"a dataset of kind {wanted}",
                found=show(workload["dataset"]),
                protocol=protocol(workload),
                name=workload["dataset"],
                kind=dataset_kind(dataset),
                wanted=wanted,
            )


def _vocabulary(report: Report, data: dict) -> None:
    """A generation workload's vocabulary is the one grader/data/text.py encodes."""
    grader = {"vocab_size": text.VOCAB_SIZE, "vocab_version": text.VOCAB_VERSION}
    for name, workload in data["workloads"].items():
        for key, value in grader.items():
            if protocol(workload) == GENERATION and workload[key] != value:
                shown = {"expected": f"{key}: {value}", "found": show(workload[key])}
                report.add("vocabulary_mismatch", ("workloads", name, key), **shown)


def _text_splits(report: Report, data: dict) -> None:
    """A text dataset's splits are grader/data/text.py's: the same names, sha256 and files.
    text.SPLITS owns them; events.yaml must agree, so that neither can drift alone."""
    for name, dataset in data["datasets"].items():
        if dataset_kind(dataset) != TEXT:
            continue
        at, splits = ("datasets", name, "splits"), dataset["splits"]
        for split in sorted(set(text.SPLITS) - set(splits)):
            shown = {"expected": f"a `{split}:` split", "found": "none"}
            report.add("text_split_mismatch", at, **shown, name=split)
        for split, entry in splits.items():
            for where, expected, found in _split_differences(split, entry):
                shown = {"expected": expected, "found": show(found)}
                report.add("text_split_mismatch", (*at, *where), **shown, name=split)


def _split_differences(split: str, entry: dict) -> Iterator[tuple[tuple, str, str]]:
    """Where a text split's entry differs from text.SPLITS: (path, expected, found)."""
    known = text.SPLITS.get(split)
    if known is None:
        yield (split,), "one of " + ", ".join(text.SPLITS), split
        return
    if entry["sha256"] != known.sha256:
        yield (split, "sha256"), f"sha256: {known.sha256}", entry["sha256"]
    if not entry["file"].endswith("/" + known.file):
        yield (split, "file"), f"a file ending in /{known.file}", entry["file"]


def _final_phase_sealed(report: Report, data: dict) -> None:
    """The final phase ranks on the sealed private split: every classification workload's
    dataset has one. A generation workload's (a course's own Q&A) may be missing: its entries
    are then not ranked (store.final_phase_problem; docs/DESIGN.md, Generation)."""
    if final_phase(data):
        arrays = [w for w in data["workloads"].values() if protocol(w) == CLASSIFICATION]
        for name in sorted({w["dataset"] for w in arrays}):
            if "private" not in data["datasets"].get(name, {}).get("sealed", {}):
                report.add("phase_unsealed", ("phase",), found="final", name=name)


def _import_conflicts(report: Report, data: dict) -> None:
    forbidden = data["imports"]["forbidden"]
    for module in sorted(set(data["imports"]["allowed"]) & set(forbidden)):
        at = ("imports", "forbidden", forbidden.index(module))
        report.add("import_conflict", at, found=show(module), name=module)


EVENTS_YAML_CHECKS: tuple[Callable[[Report, dict], None], ...] = (
    _events,
    _flags,
    _composite_parts,
    _technique_names,
    _workload_datasets,
    _workload_kinds,
    _vocabulary,
    _text_splits,
    _final_phase_sealed,
    _import_conflicts,
    hintchecks.check,  # a hint's observations and message (docs/DESIGN.md, Hints)
)


# ---------------------------------------------------------------- submission.yaml


def submission_yaml(
    report: Report,
    folder: Path,
    data: dict,
    valid: dict,
    workloads: Mapping[str, Any],
    events: Mapping[str, Any],
) -> None:
    """The team is named after its folder, the workload and events exist and admit each other
    (an event's ``protocols``), the entrypoint is
    a function defined in a file of the folder. ``valid``: the keys the schema accepted."""
    folder_name = Path(os.path.abspath(folder)).name
    if "team" in valid and valid["team"] != folder_name:
        shown = {"expected": repr(folder_name), "found": show(valid["team"])}
        fix = f"write team: {folder_name}, or rename the folder to {valid['team']}"
        report.add("team_mismatch", ("team",), **shown, fix=fix)
    if "workload" in valid:
        _check_known(report, "unknown_workload", ("workload",), valid["workload"], workloads)
    entered = data.get("events") if isinstance(data.get("events"), list) else []
    kind = protocol(workloads[valid["workload"]]) if valid.get("workload") in workloads else None
    for i, event in enumerate(entered):
        if isinstance(event, str) and entered.index(event) == i:  # a repeat is reported once
            _check_known(report, "unknown_event", ("events", i), event, events)
            if kind is not None and event in events:
                _check_admitted(report, ("events", i), event, kind, events)
    if "entrypoint" in valid:
        entrypoint.check(report, folder, valid["entrypoint"])


def event_protocols(event: Mapping[str, Any]) -> list[str]:
    """The kinds of workload an event admits (``protocols``): classification where absent."""
    return list(event.get("protocols", [CLASSIFICATION]))


def _check_admitted(
    report: Report, path: tuple, name: str, kind: str, events: Mapping[str, Any]
) -> None:
    """An event entered must admit the workload's kind (a text model has no accuracy bar)."""
    if kind in event_protocols(events[name]):
        return
    fitting = sorted(e for e, spec in events.items() if kind in event_protocols(spec))
    expected = "one of " + ", ".join(fitting) if fitting else "no event takes it yet"
    report.add("event_protocol", path, expected=expected, found=show(name), name=name, kind=kind)


def _check_known(
    report: Report, rule: str, path: tuple, name: str, known: Collection[str], **details: Any
) -> None:
    """Report ``name`` unless it is in ``known``, suggesting the closest known name."""
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        expected = "one of " + ", ".join(sorted(known))
        fix = f"did you mean {close[0]!r}?" if close else None
        report.add(rule, path, expected=expected, found=show(name), fix=fix, name=name, **details)
