"""submission.yaml and events.yaml: read, checked, and every problem reported with file:line.

All problems of a file are reported at once, in line order, each naming the file, the line, the
field, what was expected, what was found and how to fix it: a student fixes a config in one round.

This module owns what the two files must hold: their schemas, the cross-checks, ``Rules`` and
``Submission``. Reading a file as YAML, with the line of every value, is ``grader.yamlfile``'s.
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import json
import keyword
import math
import os
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, ValidationError

from grader.errors import ConfigError, Violation
from grader.metrics import OBSERVED
from grader.yamlfile import RULES as YAML_RULES
from grader.yamlfile import Report, display_path, line_of, load_yaml, show

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

COMPOSITE = "composite"

_RULES_FIX = "see the comments in events.yaml and schemas/events.schema.json"

# Every rule id a config's violations carry: the YAML layer's and, after them, this module's
# own, each with its message and its fix. Where the fix is empty, the caller gives one that
# fits the field. {field} and {expected} are always available.
RULES: dict[str, tuple[str, str]] = YAML_RULES | {
    "unknown_key": ("unknown key {key!r}{hint}", ""),
    "missing_key": ("the required key {key!r} is missing", ""),
    "wrong_type": ("{field} is {kind}, not {expected}", ""),
    "bad_format": ("{field} has the wrong form", ""),
    "team_format": ("the team name is not a slug", ""),
    "member_format": ("{field} is not a GitHub login", ""),
    "technique_format": ("{field} is not a lowercase slug", ""),
    "entrypoint_format": ("the entrypoint is not file.py:function{detail}", ""),
    "duplicate_event": ("the event {item!r} is listed twice", "list each event once"),
    "duplicate_item": ("{item!r} is listed twice", "list each item once"),
    "events_empty": ("no event is entered", ""),
    "empty_value": ("{field} is empty", ""),
    "too_long": ("{field} is too long", ""),
    "bad_value": ("{field}: {detail}", _RULES_FIX),
    "bad_key": ("the name {key!r} is not allowed here", ""),
    "team_mismatch": ("the team is not named after its folder", "write team: {folder}"),
    "unknown_workload": ("there is no workload {name!r}", "choose {expected}"),
    "unknown_event": ("there is no event {name!r}", "choose {expected}"),
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
    "phase_unsealed": (
        "the final phase needs a sealed private split for dataset {name!r}",
        "seal it (data/digits/README.md) or keep phase: public",
    ),
}

_SUBMISSION_FIXES = {
    "team": "use the submission folder's name, e.g. team: speed-demons",
    "members": "list GitHub logins, e.g. members: [octocat, hubot]",
    "workload": "name one workload, e.g. workload: mlp_sprint (`olympics rules` lists them)",
    "events": "list one or more events, each once, e.g. events: [latency_sprint, all_around]",
    "entrypoint": "write file.py:function, e.g. entrypoint: model.py:build_model",
    "techniques": "list lowercase slugs, e.g. techniques: [int8-quantization, pruning]",
    "description": "keep it to one line of at most 500 characters; put the report in README.md",
}
# A pattern failure under these top-level keys gets a rule id of its own.
_FORMAT_RULES = {
    "team": "team_format",
    "entrypoint": "entrypoint_format",
    "members": "member_format",
    "techniques": "technique_format",
}


def project_root() -> Path:
    """``$OLYMPICS_ROOT``, else this package's checkout if it holds events.yaml, else cwd."""
    if env := os.environ.get("OLYMPICS_ROOT"):
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "events.yaml").is_file() else Path.cwd()


# ---------------------------------------------------------------- JSON Schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _check_schema(report: Report, name: str, data: Any, fixes: dict[str, str]) -> set[str]:
    """Report every error against the schema ``name``; return the top-level keys at fault."""
    at_fault = set()
    for error in _validator(name).iter_errors(data):
        path = tuple(error.absolute_path)
        top = str(path[0]) if path else ""
        at_fault.add(top)
        _report_schema_error(report, error, path, fixes.get(top, _RULES_FIX), fixes)
    return at_fault


def _describe(schema: dict) -> str:
    names = {"string": "a string", "array": "a list", "object": "a mapping", "number": "a number"}
    names |= {"integer": "a whole number", "boolean": "true or false"}
    types = schema.get("type", [])
    text = " or ".join(names.get(t, t) for t in ([types] if isinstance(types, str) else types))
    item_type = schema.get("items", {}).get("type")
    return f"{text} of {item_type}s" if types == "array" and isinstance(item_type, str) else text


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    kinds = {int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), type(value).__name__)


# A schema error as the violations it stands for: each a rule id, the path it is at and
# Report.add's keywords. One small function per JSON Schema keyword, as jsonschema's own
# validators are; a keyword without one gets the validator's own sentence (_bad_value).
Finding = tuple[str, tuple, dict[str, Any]]


class At(NamedTuple):
    """Where a schema error is: its path in the file, the fix for its part of the file, the
    fixes of the required keys, and the file's line map."""

    path: tuple
    fix: str
    fixes: Mapping[str, str]
    lines: dict


def _report_schema_error(
    report: Report, error: ValidationError, path: tuple, fix: str, fixes: Mapping[str, str]
) -> None:
    if "propertyNames" in error.absolute_schema_path:  # the value is the offending name
        explain = _bad_key
    else:
        explain = SCHEMA_ERRORS.get(str(error.validator), _bad_value)
    for rule, where, details in explain(error, At(path, fix, fixes, report.lines)):
        report.add(rule, where, **details)


def _bad_key(error: ValidationError, at: At) -> Iterator[Finding]:
    key, wanted = error.instance, error.schema.get("description")
    yield (
        "bad_key",
        (*at.path, key),
        {"expected": wanted, "found": show(key), "fix": at.fix, "key": key},
    )


def _unknown_keys(error: ValidationError, at: At) -> Iterator[Finding]:
    allowed = sorted(error.schema.get("properties", {}))
    for key in (k for k in error.instance if k not in allowed):
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = {"expected": "one of " + ", ".join(allowed), "found": show(key)}
        fix = f"rename it to {close[0]}" if close else "remove it"
        yield "unknown_key", (*at.path, key), {**shown, "fix": fix, "key": key, "hint": hint}


def _missing_keys(error: ValidationError, at: At) -> Iterator[Finding]:
    for key in (k for k in error.validator_value if k not in error.instance):
        fix = at.fixes.get(key, f"add {key}; {_RULES_FIX}")
        shown = {"line": line_of(at.lines, at.path), "expected": f"a `{key}:` line"}
        yield "missing_key", (*at.path, key), {**shown, "fix": fix, "key": key}


def _wrong_type(error: ValidationError, at: At) -> Iterator[Finding]:
    value, schema, fix = error.instance, error.schema, at.fix
    if schema.get("type") == "array" and isinstance(value, str):
        fix = f"write it as a list: {at.path[-1]}: [{value}]"
    elif schema.get("type") == "string" and isinstance(value, (bool, int, float)):
        fix = "put the value in quotes (YAML reads it as a number or true/false)"
    elif value is None:
        fix = f"fill in a value; {fix}"
    shown = {"expected": _describe(schema), "found": show(value)}
    yield "wrong_type", at.path, {**shown, "fix": fix, "kind": _kind(value)}


def _bad_format(error: ValidationError, at: At) -> Iterator[Finding]:
    rule = _FORMAT_RULES.get(str(at.path[0]) if at.path else "", "bad_format")
    expected = error.schema.get("description", f"text matching {error.schema['pattern']}")
    shown = {"expected": expected, "found": show(error.instance)}
    yield rule, at.path, {**shown, "fix": at.fix, "detail": ""}


def _duplicate(error: ValidationError, at: At) -> Iterator[Finding]:
    value = error.instance
    dup = next(i for i, item in enumerate(value) if item in value[:i])
    rule = "duplicate_event" if at.path == ("events",) else "duplicate_item"
    yield rule, (*at.path, dup), {"expected": "each once", "found": show(value), "item": value[dup]}


def _empty(error: ValidationError, at: At) -> Iterator[Finding]:
    rule = "events_empty" if at.path == ("events",) else "empty_value"
    shown = {"expected": f"at least {error.validator_value}", "found": show(error.instance)}
    yield rule, at.path, {**shown, "fix": at.fix}


def _too_long(error: ValidationError, at: At) -> Iterator[Finding]:
    expected = f"at most {error.validator_value} characters"
    shown = {"expected": expected, "found": f"{len(error.instance)} characters"}
    yield "too_long", at.path, {**shown, "fix": at.fix}


def _bad_value(error: ValidationError, at: At) -> Iterator[Finding]:
    """enum, const, minimum, maximum: the validator's own sentence says it well."""
    shown = {"expected": error.schema.get("description"), "found": show(error.instance)}
    yield "bad_value", at.path, {**shown, "fix": at.fix, "detail": error.message}


SCHEMA_ERRORS: dict[str, Callable[[ValidationError, At], Iterator[Finding]]] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_keys,
    "type": _wrong_type,
    "pattern": _bad_format,
    "uniqueItems": _duplicate,
    "minItems": _empty,
    "minProperties": _empty,
    "minLength": _empty,
    "maxLength": _too_long,
}


# ---------------------------------------------------------------- events.yaml


def final_phase(data: Mapping[str, Any]) -> bool:
    """events.yaml's ``phase: final``: events rank on the sealed private split."""
    return data.get("phase") == "final"


@dataclass(frozen=True)
class Rules:
    """events.yaml as checked data, shared by every stage of a grade."""

    path: Path
    data: dict

    @property
    def is_final(self) -> bool:
        return final_phase(self.data)

    @property
    def events(self) -> dict[str, dict]:
        return self.data["events"]

    @property
    def flags(self) -> list[dict]:
        return self.data["flags"]

    @property
    def workloads(self) -> dict[str, dict]:
        return self.data["workloads"]

    @property
    def datasets(self) -> dict[str, dict]:
        return self.data["datasets"]

    @property
    def imports(self) -> dict[str, Any]:
        return self.data["imports"]

    @property
    def composite_parts(self) -> dict[str, dict]:
        return self.data["composite_parts"]

    @property
    def code_quality(self) -> dict[str, Any]:
        return self.data["code_quality"]

    @property
    def techniques(self) -> dict[str, dict]:
        return self.data["techniques"]

    @property
    def detection(self) -> dict[str, Any]:
        return self.data["detection"]

    @functools.cached_property
    def technique_names(self) -> dict[str, str]:
        """Every name a technique may be claimed by (its own and its aliases) -> its own."""
        names = {}
        for name, technique in self.techniques.items():
            names[name] = name
            for alias in technique["aliases"]:
                names.setdefault(alias, name)
        return names

    @functools.cached_property
    def sha256(self) -> str:
        """The rules' fingerprint: their data as canonical JSON (comments and layout aside)."""
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_rules(path: Path | None = None) -> Rules:
    """events.yaml checked against its schema, then cross-checked. Raises ConfigError.

    The cross-checks run only on data the schema accepted, so that they may trust its shape.
    """
    path = path or project_root() / "events.yaml"
    data, lines = load_yaml(path)
    report = Report(display_path(path), lines, rules=RULES)
    at_fault = _check_schema(report, "events.schema.json", data, {})
    if not at_fault:
        _cross_check_rules(report, data)
    if report.found:
        n = len(report.found)
        raise ConfigError(f"{report.file}: {n} problem(s) in the rules", report.in_line_order())
    return Rules(path=path, data=data)


def _cross_check_rules(report: Report, data: dict) -> None:
    def metric(name: str, path: tuple, known: frozenset = OBSERVED, what: str = "metric") -> None:
        _check_known(report, "unknown_metric", path, name, known, what=what)

    def finite(path: tuple, value: float) -> None:  # JSON Schema has no word for NaN
        if not math.isfinite(value):
            detail = "a threshold must be a finite number"
            report.add(
                "bad_value", path, expected="a finite number", found=show(value), detail=detail
            )

    def unique_ids(items: list[dict], path: tuple) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item["id"] in seen:
                report.add("duplicate_id", (*path, i, "id"), found="a second use", name=item["id"])
            seen.add(item["id"])

    parts = frozenset(data["composite_parts"])
    for name, event in data["events"].items():
        at = ("events", name)
        if event["score"] != COMPOSITE:
            metric(event["score"], (*at, "score"))
        elif "composite" not in event:
            report.add("composite_missing", (*at, "score"), expected="`composite:` weights")
        if "composite" in event:
            if event["score"] != COMPOSITE:
                report.add("composite_unused", (*at, "composite"), found=show(event["score"]))
            for part in event["composite"]:
                metric(part, (*at, "composite", part), parts, "composite part")
            total = math.fsum(event["composite"].values())
            if abs(total - 1) > 1e-9:
                shown = {"expected": "a sum of 1", "found": repr(total)}
                report.add("composite_weights", (*at, "composite"), **shown, total=total)
        for i, rule in enumerate(event["rules"]):
            metric(rule["metric"], (*at, "rules", i, "metric"))
            finite((*at, "rules", i, "value"), rule["value"])
        unique_ids(event["rules"], (*at, "rules"))
    for i, flag in enumerate(data["flags"]):
        metric(flag["metric"], ("flags", i, "metric"))
        finite(("flags", i, "value"), flag["value"])
        if "when" in flag:
            metric(flag["when"]["metric"], ("flags", i, "when", "metric"))
    unique_ids(data["flags"], ("flags",))
    for name, part in data["composite_parts"].items():
        metric(part["metric"], ("composite_parts", name, "metric"))
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
    for name, workload in data["workloads"].items():
        at = ("workloads", name, "dataset")
        _check_known(report, "unknown_dataset", at, workload["dataset"], data["datasets"])
    if final_phase(data):
        for name in sorted({w["dataset"] for w in data["workloads"].values()}):
            if "private" not in data["datasets"].get(name, {}).get("sealed", {}):
                report.add("phase_unsealed", ("phase",), found="final", name=name)
    forbidden = data["imports"]["forbidden"]
    for module in sorted(set(data["imports"]["allowed"]) & set(forbidden)):
        at = ("imports", "forbidden", forbidden.index(module))
        report.add("import_conflict", at, found=show(module), name=module)


# ---------------------------------------------------------------- submission.yaml


@dataclass(frozen=True)
class Submission:
    """A checked submission.yaml: every field valid, the entrypoint defined in its file."""

    folder: Path
    config_file: Path
    team: str
    members: tuple[str, ...]
    workload: str
    events: tuple[str, ...]
    entrypoint_file: str  # relative posix path inside the folder
    entrypoint_function: str
    techniques: tuple[str, ...]
    description: str


def _locate(path: Path) -> tuple[Path, Path]:
    """The submission folder and its config file, from either of the two."""
    if path.is_dir() or path.suffix not in (".yaml", ".yml"):
        return path, path / "submission.yaml"
    return path.parent, path


def check_submission(path: Path, rules: Rules) -> tuple[Submission | None, list[Violation]]:
    """The submission and no violations, or None and every violation in line order.

    ``path`` is a submission folder or its submission.yaml.
    """
    folder, config = _locate(path)
    try:
        data, lines = load_yaml(config)
    except ConfigError as exc:
        return None, exc.violations
    report = Report(display_path(config), lines, rules=RULES)
    at_fault = _check_schema(report, "submission.schema.json", data, _SUBMISSION_FIXES)
    valid = {key: data[key] for key in data if key not in at_fault}

    folder_name = Path(os.path.abspath(folder)).name
    if "team" in valid and valid["team"] != folder_name:
        shown = {"expected": repr(folder_name), "found": show(valid["team"])}
        fix = f"write team: {folder_name}, or rename the folder to {valid['team']}"
        report.add("team_mismatch", ("team",), **shown, fix=fix)
    if "workload" in valid:
        _check_known(report, "unknown_workload", ("workload",), valid["workload"], rules.workloads)
    events = data.get("events") if isinstance(data.get("events"), list) else []
    for i, event in enumerate(events):
        if isinstance(event, str) and events.index(event) == i:  # a repeat is reported once
            _check_known(report, "unknown_event", ("events", i), event, rules.events)
    if "entrypoint" in valid:
        _check_entrypoint(report, folder, valid["entrypoint"])
    if report.found:
        return None, report.in_line_order()
    module, _, function = data["entrypoint"].rpartition(":")
    return Submission(
        folder=folder,
        config_file=config,
        team=data["team"],
        members=tuple(data.get("members", ())),
        workload=data["workload"],
        events=tuple(data["events"]),
        entrypoint_file=PurePosixPath(module).as_posix(),
        entrypoint_function=function,
        techniques=tuple(data.get("techniques", ())),
        description=data.get("description", ""),
    ), []


def load_submission(path: Path, rules: Rules) -> Submission:
    """The checked submission; raises ConfigError carrying every violation."""
    submission, problems = check_submission(path, rules)
    if submission is None:
        file, n = display_path(_locate(path)[1]), len(problems)
        raise ConfigError(f"{file}: {n} problem{'s' if n != 1 else ''} found", problems)
    return submission


def _check_known(
    report: Report, rule: str, path: tuple, name: str, known: Collection[str], **details: Any
) -> None:
    """Report ``name`` unless it is in ``known``, suggesting the closest known name."""
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        expected = "one of " + ", ".join(sorted(known))
        fix = f"did you mean {close[0]!r}?" if close else None
        report.add(rule, path, expected=expected, found=show(name), fix=fix, name=name, **details)


def _check_entrypoint(report: Report, folder: Path, entrypoint: str) -> None:
    """The file lies inside the folder (no absolute path, '..' or link out), parses, defines."""
    module, _, function = entrypoint.rpartition(":")
    relative, target = PurePosixPath(module), folder / module

    def add(rule: str, expected: str, fix: str, **details: Any) -> None:
        shown = {"expected": expected, "found": show(entrypoint), "fix": fix}
        report.add(rule, ("entrypoint",), **shown, module=module, function=function, **details)

    named = function.isidentifier() and not keyword.iskeyword(function)
    if not named:
        detail = f": {function!r} is not a Python function name"
        fix = "name a function after the colon, e.g. model.py:build_model"
        add("entrypoint_format", "file.py:function", fix, detail=detail)
    if relative.is_absolute() or ".." in relative.parts:
        fix = "name a file inside the folder, relative to it"
        add("entrypoint_outside", "a relative path without '..'", fix, how="lies outside")
        return
    try:
        if not target.resolve().is_relative_to(folder.resolve()):
            fix = "replace the link with the file itself"
            add("entrypoint_outside", "a file inside the folder", fix, how="links out of")
            return
        source = target.read_bytes() if target.is_file() else None
    except OSError:  # a name too long, a link loop, no permission: all mean "not there"
        source = None
    if source is None:
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))
        fix = "fix the name or add the file; .py files here: " + (", ".join(present[:10]) or "none")
        add("entrypoint_missing", "an existing .py file", fix)
        return
    try:
        with warnings.catch_warnings():  # a student's SyntaxWarning is not the grader's error
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(target))
    except SyntaxError as exc:
        shown = {"expected": "valid Python", "found": show((exc.text or "").strip())}
        fix = f"fix it; `python -m py_compile {module}` shows the error"
        where = {"file": display_path(target), "line": exc.lineno}
        report.add("entrypoint_syntax", **where, **shown, fix=fix, module=module, reason=exc.msg)
        return
    except ValueError as exc:  # null bytes, before Python 3.12
        add("entrypoint_syntax", "valid Python", "save it as UTF-8 text", reason=exc)
        return
    if named and not _defines(tree.body, function):
        fix = f"define `def {function}():` at the top level of {module}"
        add("entrypoint_function_missing", f"def {function}(): at module level", fix)


def _defines(body: list[ast.stmt], name: str) -> bool:
    """Whether a module-level statement binds ``name``: def, class, assignment or import."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name == name:
            return True
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.partition(".")[0]) == name for alias in stmt.names
        ):
            return True
    return False
