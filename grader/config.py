"""submission.yaml and events.yaml: read, checked, and every problem reported with file:line.

All problems of a file are reported at once, in line order, each naming the file, the line, the
field, what was expected, what was found and how to fix it: a student fixes a config in one round.

YAML goes through PyYAML's SafeLoader by way of ``compose`` and the data is built from the nodes
here, because plain ``safe_load`` silently accepts what a config must not hold: a duplicate key
(the last one wins), anchors and aliases (the "billion laughs" bomb), merge keys, non-text keys.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import json
import keyword
import math
import os
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from grader.errors import ConfigError, Violation

MAX_CONFIG_BYTES = 64 * 1024
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# What the grader observes (events.yaml's header defines each). Rules and flags may name only
# these: a metric is code, not data, and naming a new one in YAML cannot make it measured.
METRICS = frozenset(
    {"accuracy", "accuracy_delta", "latency_ms", "size_bytes", "speedup", "speedup_p_value"}
    | {"compression_ratio", "efficiency"}
)
COMPOSITE = "composite"
COMPOSITE_PARTS = frozenset({"accuracy", "speed", "size", "code_quality", "innovation"})

_RULES_FIX = "see the comments in events.yaml and schemas/events.schema.json"

# Every rule id this module reports: its message and its fix. Where the fix is empty, the
# caller gives one that fits the field. {field} and {expected} are always available.
RULES: dict[str, tuple[str, str]] = {
    "file_missing": ("the file does not exist", "create it; `olympics init TEAM` writes one"),
    "file_not_regular": ("not a regular file", "name the YAML file itself"),
    "file_unreadable": ("cannot read the file: {reason}", "check the file's permissions"),
    "file_too_large": ("the file is larger than 64 KiB", "keep only the keys the config needs"),
    "file_encoding": ("the file is not UTF-8 text", "save it as UTF-8 text"),
    "file_empty": ("the file {state}", "fill it in; `olympics init TEAM` writes an example"),
    "yaml_syntax": ("not valid YAML: {detail}", "check indentation and quotes here and above"),
    "yaml_alias": ("{what} are not allowed", "write every value out in full"),
    "yaml_tag": ("the tag {tag} is not allowed", "remove the tag (the part starting with !)"),
    "yaml_value": ("cannot read the value: {reason}", "put the value in quotes"),
    "not_a_mapping": ("the top level is not a mapping", "write one `key: value` per line"),
    "duplicate_key": ("the key {key!r} appears twice, on lines {first} and {line}", ""),
    "non_string_key": ("the key {key} is not text: YAML reads it as {kind}", ""),
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
    "import_conflict": ("{name!r} is both allowed and forbidden", "keep it in one list"),
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
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}


def project_root() -> Path:
    """``$OLYMPICS_ROOT``, else this package's checkout if it holds events.yaml, else cwd."""
    if env := os.environ.get("OLYMPICS_ROOT"):
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "events.yaml").is_file() else Path.cwd()


# ---------------------------------------------------------------- violations of one file


def _dotted(path: tuple) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or None


def _line(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _show(value: Any) -> str:
    """A value as the user wrote it, for `found`: repr, clipped to 80 characters."""
    return _clip(repr(value))


@dataclass
class _Report:
    """The violations found in one file, each placed by its path in the file's line map."""

    file: str
    lines: dict[tuple, int] = dataclasses.field(default_factory=dict)
    found: list[Violation] = dataclasses.field(default_factory=list)

    def add(
        self,
        rule: str,
        path: tuple = (),
        *,
        line: int | None = None,
        file: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
        **details: Any,
    ) -> None:
        message, default_fix = RULES[rule]
        details = {k: _clip(v) if isinstance(v, str) else v for k, v in details.items()}
        names = {"field": _dotted(path), "expected": expected, "line": line, **details}
        text, field = message.format(**names), names["field"]
        line = line or _line(self.lines, path)
        fix = fix or default_fix.format(**names)
        file = file or self.file
        self.found.append(Violation(rule, text, file, line, field, expected, found, fix))

    def in_line_order(self) -> list[Violation]:
        unique = dict.fromkeys(self.found)  # `required` and `type` errors can repeat
        return sorted(unique, key=lambda v: (v.file != self.file, v.line or 0))


def _refuse(file: str, rule: str, **where: Any) -> ConfigError:
    report = _Report(file)
    report.add(rule, **where)
    return ConfigError(f"{file}: {report.found[0].message}", report.found)


def _display(path: Path) -> str:
    """The path relative to the current directory where it lies below it (for annotations)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


# ---------------------------------------------------------------- YAML with lines


class _AnchorFound(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("anchor or alias")
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that stops at the first anchor or alias, before any node can be shared."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AnchorFound(event.start_mark)
        return super().compose_node(parent, index)


def _read_text(path: Path, file: str) -> str:
    if not path.exists():
        raise _refuse(file, "file_missing", expected="a YAML file", found="no such file")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "a special file"
        raise _refuse(file, "file_not_regular", expected="a YAML file", found=kind)
    try:
        with path.open("rb") as stream:  # bounded: a huge file is never read whole
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _refuse(file, "file_unreadable", reason=exc.strerror) from None
    if len(raw) > MAX_CONFIG_BYTES:
        size = f"{path.stat().st_size} bytes"
        raise _refuse(file, "file_too_large", expected=f"<= {MAX_CONFIG_BYTES} bytes", found=size)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        found = _show(raw[exc.start : exc.start + 8])
        raise _refuse(file, "file_encoding", line=line, expected="UTF-8", found=found) from None
    if not text.strip():
        found = "only blank space" if text else "no bytes"
        raise _refuse(file, "file_empty", expected="a YAML mapping", found=found, state="is empty")
    return text.removeprefix("\ufeff")


def load_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """The file's data and a map from each path (``("events", 1)``) to its 1-based line.

    A mapping entry's line is its key's; a list item's is the item's. Raises ConfigError.
    """
    file = _display(path)
    text = _read_text(path, file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _AnchorFound as exc:
        what = "anchors (&name) and aliases (*name)"
        raise _refuse(file, "yaml_alias", line=exc.mark.line + 1, what=what) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
        line = mark.line + 1 if mark else None
        raise _refuse(file, "yaml_syntax", line=line, detail=detail) from None
    except yaml.reader.ReaderError as exc:  # a control character that YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        found = _show(chr(exc.character))
        raise _refuse(file, "yaml_syntax", line=line, found=found, detail=exc.reason) from None
    except yaml.YAMLError as exc:
        raise _refuse(file, "yaml_syntax", detail=str(exc)) from None
    except RecursionError:
        raise _refuse(file, "yaml_syntax", detail="lists or mappings nested too deeply") from None
    if node is None:
        found = "only comments"
        raise _refuse(
            file, "file_empty", expected="a YAML mapping", found=found, state="has no data"
        )
    if not isinstance(node, yaml.MappingNode):
        found = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        line = node.start_mark.line + 1
        raise _refuse(file, "not_a_mapping", line=line, expected="key: value lines", found=found)
    report = _Report(file, {(): node.start_mark.line + 1})
    data = _build(node, (), report, yaml.constructor.SafeConstructor())
    if report.found:
        raise ConfigError(f"{file}: {len(report.found)} problem(s) in the YAML", report.found)
    return data, report.lines


def _build(node: yaml.Node, path: tuple, report: _Report, ctor: Any) -> Any:
    """Plain data from a node, recording lines and refusing what a config must not hold."""
    if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
        data: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key_node.tag == _TAG + "merge":
                report.add("yaml_alias", path, line=line, what="merge keys (<<)")
            elif key_node.tag != _TAG + "str" or not isinstance(key, str):
                fix = "put the key in quotes" if key is not None else "use a plain text key"
                kind = key_node.tag.rpartition(":")[2] if key is not None else key_node.id
                key = repr(key) if key is not None else "on this line"
                report.add("non_string_key", path, line=line, fix=fix, key=key, kind=kind)
            elif (first := report.lines.get((*path, key))) is not None:
                where = {"line": line, "expected": "each key once", "found": f"a second {key!r}"}
                fix = "keep one of the two; YAML would silently drop the first"
                report.add("duplicate_key", (*path, key), **where, fix=fix, key=key, first=first)
            else:
                report.lines[(*path, key)] = line
                data[key] = _build(value_node, (*path, key), report, ctor)
        return data
    if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
        items = []
        for index, item in enumerate(node.value):
            report.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_build(item, (*path, index), report, ctor))
        return items
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
        try:
            return ctor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:  # e.g. the date 2024-13-45
            report.add("yaml_value", path, line=line, found=_show(node.value), reason=exc)
            return None
    expected = "plain text, numbers, lists and mappings"
    tag = node.tag.replace(_TAG, "!!")
    report.add("yaml_tag", path, line=line, expected=expected, found=_show(tag), tag=tag)
    return None


# ---------------------------------------------------------------- JSON Schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _check_schema(report: _Report, name: str, data: Any, fixes: dict[str, str]) -> set[str]:
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


def _report_schema_error(
    report: _Report, error: ValidationError, path: tuple, fix: str, fixes: dict[str, str]
) -> None:
    value, schema, kind = error.instance, error.schema, error.validator
    top = str(path[0]) if path else ""
    if "propertyNames" in error.absolute_schema_path:  # the value is the offending name
        wanted = schema.get("description")
        report.add(
            "bad_key", (*path, value), expected=wanted, found=_show(value), fix=fix, key=value
        )
    elif kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in (k for k in value if k not in allowed):
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = {"expected": "one of " + ", ".join(allowed), "found": _show(key)}
            fix = f"rename it to {close[0]}" if close else "remove it"
            report.add("unknown_key", (*path, key), **shown, fix=fix, key=key, hint=hint)
    elif kind == "required":
        for key in (k for k in error.validator_value if k not in value):
            fix = fixes.get(key, f"add {key}; {_RULES_FIX}")
            line = _line(report.lines, path)
            report.add(
                "missing_key",
                (*path, key),
                line=line,
                expected=f"a `{key}:` line",
                fix=fix,
                key=key,
            )
    elif kind == "type":
        if schema.get("type") == "array" and isinstance(value, str):
            fix = f"write it as a list: {path[-1]}: [{value}]"
        elif schema.get("type") == "string" and isinstance(value, (bool, int, float)):
            fix = "put the value in quotes (YAML reads it as a number or true/false)"
        elif value is None:
            fix = f"fill in a value; {fix}"
        expected = _describe(schema)
        report.add(
            "wrong_type", path, expected=expected, found=_show(value), fix=fix, kind=_kind(value)
        )
    elif kind == "pattern":
        rule = _FORMAT_RULES.get(top, "bad_format")
        expected = schema.get("description", f"text matching {schema['pattern']}")
        report.add(rule, path, expected=expected, found=_show(value), fix=fix, detail="")
    elif kind == "uniqueItems":
        dup = next(i for i, item in enumerate(value) if item in value[:i])
        rule = "duplicate_event" if path == ("events",) else "duplicate_item"
        report.add(rule, (*path, dup), expected="each once", found=_show(value), item=value[dup])
    elif kind in ("minItems", "minProperties", "minLength"):
        rule = "events_empty" if path == ("events",) else "empty_value"
        expected = f"at least {error.validator_value}"
        report.add(rule, path, expected=expected, found=_show(value), fix=fix)
    elif kind == "maxLength":
        expected = f"at most {error.validator_value} characters"
        report.add("too_long", path, expected=expected, found=f"{len(value)} characters", fix=fix)
    else:  # enum, const, minimum, maximum: the validator's own sentence says it well
        wanted = schema.get("description")
        report.add(
            "bad_value", path, expected=wanted, found=_show(value), fix=fix, detail=error.message
        )


# ---------------------------------------------------------------- events.yaml


@dataclass(frozen=True)
class Rules:
    """events.yaml as checked data, shared by every stage of a grade."""

    path: Path
    data: dict

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


def load_rules(path: Path | None = None) -> Rules:
    """events.yaml checked against its schema, then cross-checked. Raises ConfigError.

    The cross-checks run only on data the schema accepted, so that they may trust its shape.
    """
    path = path or project_root() / "events.yaml"
    data, lines = load_yaml(path)
    report = _Report(_display(path), lines)
    at_fault = _check_schema(report, "events.schema.json", data, {})
    if not at_fault:
        _cross_check_rules(report, data)
    if report.found:
        n = len(report.found)
        raise ConfigError(f"{report.file}: {n} problem(s) in the rules", report.in_line_order())
    return Rules(path=path, data=data)


def _cross_check_rules(report: _Report, data: dict) -> None:
    def metric(name: str, path: tuple, known: frozenset = METRICS, what: str = "metric") -> None:
        _check_known(report, "unknown_metric", path, name, known, what=what)

    def finite(path: tuple, value: float) -> None:  # JSON Schema has no word for NaN
        if not math.isfinite(value):
            detail = "a threshold must be a finite number"
            report.add(
                "bad_value", path, expected="a finite number", found=_show(value), detail=detail
            )

    def unique_ids(items: list[dict], path: tuple) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item["id"] in seen:
                report.add("duplicate_id", (*path, i, "id"), found="a second use", name=item["id"])
            seen.add(item["id"])

    for name, event in data["events"].items():
        at = ("events", name)
        if event["score"] != COMPOSITE:
            metric(event["score"], (*at, "score"))
        elif "composite" not in event:
            report.add("composite_missing", (*at, "score"), expected="`composite:` weights")
        if "composite" in event:
            if event["score"] != COMPOSITE:
                report.add("composite_unused", (*at, "composite"), found=_show(event["score"]))
            for part in event["composite"]:
                metric(part, (*at, "composite", part), COMPOSITE_PARTS, "composite part")
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
    for name, workload in data["workloads"].items():
        at = ("workloads", name, "dataset")
        _check_known(report, "unknown_dataset", at, workload["dataset"], data["datasets"])
    forbidden = data["imports"]["forbidden"]
    for module in sorted(set(data["imports"]["allowed"]) & set(forbidden)):
        at = ("imports", "forbidden", forbidden.index(module))
        report.add("import_conflict", at, found=_show(module), name=module)


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
    report = _Report(_display(config), lines)
    at_fault = _check_schema(report, "submission.schema.json", data, _SUBMISSION_FIXES)
    valid = {key: data[key] for key in data if key not in at_fault}

    folder_name = Path(os.path.abspath(folder)).name
    if "team" in valid and valid["team"] != folder_name:
        shown = {"expected": repr(folder_name), "found": _show(valid["team"])}
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
        file, n = _display(_locate(path)[1]), len(problems)
        raise ConfigError(f"{file}: {n} problem{'s' if n != 1 else ''} found", problems)
    return submission


def _check_known(
    report: _Report, rule: str, path: tuple, name: str, known: Collection[str], **details: Any
) -> None:
    """Report ``name`` unless it is in ``known``, suggesting the closest known name."""
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        expected = "one of " + ", ".join(sorted(known))
        fix = f"did you mean {close[0]!r}?" if close else None
        report.add(rule, path, expected=expected, found=_show(name), fix=fix, name=name, **details)


def _check_entrypoint(report: _Report, folder: Path, entrypoint: str) -> None:
    """The file lies inside the folder (no absolute path, '..' or link out), parses, defines."""
    module, _, function = entrypoint.rpartition(":")
    relative, target = PurePosixPath(module), folder / module

    def add(rule: str, expected: str, fix: str, **details: Any) -> None:
        shown = {"expected": expected, "found": _show(entrypoint), "fix": fix}
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
        shown = {"expected": "valid Python", "found": _show((exc.text or "").strip())}
        fix = f"fix it; `python -m py_compile {module}` shows the error"
        where = {"file": _display(target), "line": exc.lineno}
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
