"""submission.yaml and events.yaml: read, checked, and every problem reported with file:line.

All problems of a file are reported at once, in line order, each naming the file, the line, the
field, what was expected, what was found and how to fix it: a student fixes a config in one round.

YAML goes through PyYAML's SafeLoader by way of ``compose`` and the data is built from the nodes
here, because plain ``safe_load`` accepts silently what a config must not hold: a duplicate key
(the last one wins), anchors and aliases (the "billion laughs" bomb), merge keys, non-string keys.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import keyword
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from grader.errors import ConfigError, Violation

MAX_CONFIG_BYTES = 64 * 1024
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# What the grader observes (events.yaml's header defines each); rules and flags may name only
# these, because a metric is code, not data: naming a new one in YAML cannot make it measured.
METRICS = frozenset(
    {"accuracy", "accuracy_delta", "latency_ms", "size_bytes", "speedup", "speedup_p_value"}
    | {"compression_ratio", "efficiency"}
)
COMPOSITE = "composite"
COMPOSITE_PARTS = frozenset({"accuracy", "speed", "size", "code_quality", "innovation"})

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_YAML_FIX = "check the indentation and quoting on or just before this line; quote text holding ': '"

_SUBMISSION_FIXES = {
    "team": "use the submission folder's name, e.g. team: speed-demons",
    "members": "list GitHub logins, e.g. members: [octocat, hubot]",
    "workload": "name one workload, e.g. workload: mlp_sprint (`olympics rules` lists them)",
    "events": "list one or more events, each once, e.g. events: [latency_sprint, all_around]",
    "entrypoint": "write file.py:function, e.g. entrypoint: model.py:build_model",
    "techniques": "list lowercase slugs, e.g. techniques: [int8-quantization, magnitude-pruning]",
    "description": "keep it to one line of at most 500 characters; put the full report in README.md",
}
_RULES_FIX = "see the comments in events.yaml and schemas/events.schema.json"
# A pattern failure under these top-level fields gets its own rule id.
_FORMAT_RULES = {
    "team": "team_format",
    "entrypoint": "entrypoint_format",
    "members": "member_format",
    "techniques": "technique_format",
}


def project_root() -> Path:
    """``$OLYMPICS_ROOT``, else the checkout holding this package if it has events.yaml, else cwd."""
    if env := os.environ.get("OLYMPICS_ROOT"):
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "events.yaml").is_file() else Path.cwd()


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


def _display(path: Path) -> str:
    """The path relative to the current directory where it lies below it (for annotations)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(file: str, rule: str, message: str, fix: str, **where: Any) -> ConfigError:
    return ConfigError(f"{file}: {message}", [Violation(rule, message, file, fix=fix, **where)])


def _read_text(path: Path, file: str) -> str:
    if not path.exists():
        raise _refuse(
            file,
            "file_missing",
            "the file does not exist",
            expected="a YAML file",
            found="no such file",
            fix="create it (`olympics init` writes one)",
        )
    if not path.is_file():
        raise _refuse(
            file,
            "file_not_regular",
            "not a regular file",
            expected="a YAML file",
            found="a directory" if path.is_dir() else "a special file",
            fix="point at the YAML file itself",
        )
    try:
        with path.open("rb") as stream:  # bounded: never read a huge file whole
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _refuse(
            file,
            "file_unreadable",
            f"cannot read the file: {exc.strerror}",
            fix="check the file's permissions",
        ) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _refuse(
            file,
            "file_too_large",
            "the file is too large",
            expected=f"at most {MAX_CONFIG_BYTES} bytes",
            found=f"{path.stat().st_size} bytes",
            fix="keep the config short",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(
            file,
            "file_encoding",
            "the file is not UTF-8 text",
            line=raw[: exc.start].count(b"\n") + 1,
            expected="UTF-8 text",
            found=_show(raw[exc.start : exc.start + 8]),
            fix="save the file as UTF-8 text",
        ) from None
    if not text.strip():
        raise _refuse(
            file,
            "file_empty",
            "the file is empty",
            expected="a YAML mapping",
            found="no text",
            fix="fill it in (`olympics init` writes an example)",
        )
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
        raise _refuse(
            file,
            "yaml_alias",
            "anchors (&name) and aliases (*name) are not allowed",
            line=exc.mark.line + 1,
            fix="write every value out in full",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise _refuse(
            file,
            "yaml_syntax",
            f"not valid YAML: {detail}",
            _YAML_FIX,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow
        raise _refuse(
            file,
            "yaml_syntax",
            f"not valid YAML: {exc.reason}",
            "remove the control characters; a config is plain text",
            line=text.count("\n", 0, exc.position) + 1,
            found=_show(chr(exc.character)),
        ) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise _refuse(file, "yaml_syntax", f"not valid YAML: {exc}", _YAML_FIX) from None
    if node is None:
        raise _refuse(
            file,
            "file_empty",
            "the file holds only comments",
            expected="a YAML mapping",
            found="no data",
            fix="fill it in",
        )
    if not isinstance(node, yaml.MappingNode):
        raise _refuse(
            file,
            "not_a_mapping",
            "the top level is not a mapping of keys to values",
            line=node.start_mark.line + 1,
            expected="key: value lines",
            found="a list" if isinstance(node, yaml.SequenceNode) else "a single value",
            fix="write one `key: value` per line, starting at the first column",
        )
    lines: dict[tuple, int] = {(): node.start_mark.line + 1}
    problems: list[Violation] = []
    data = _build(node, (), lines, problems, file, yaml.constructor.SafeConstructor())
    if problems:
        raise ConfigError(f"{file}: {len(problems)} problem(s) in the YAML", problems)
    return data, lines


def _build(node: yaml.Node, path: tuple, lines: dict, problems: list, file: str, ctor) -> Any:
    """Plain data from a node, recording lines and refusing what a config must not hold."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
        data: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key_node.tag == _TAG + "merge":
                problems.append(
                    Violation(
                        "yaml_alias",
                        "merge keys (<<) are not allowed",
                        file,
                        key_line,
                        fix="write every key out in full",
                    )
                )
            elif key_node.tag != _TAG + "str" or not isinstance(key, str):
                kind = key_node.tag.rpartition(":")[2] if key is not None else "a list or mapping"
                problems.append(
                    Violation(
                        "non_string_key",
                        f"the key {key!r} is not text",
                        file,
                        key_line,
                        _field(path),
                        "a text key",
                        f"{key!r}, which YAML reads as {kind}",
                        "put the key in quotes" if key is not None else "use a plain text key",
                    )
                )
            elif (first := lines.get((*path, key))) is not None:
                problems.append(
                    Violation(
                        "duplicate_key",
                        f"the key {key!r} appears twice, on lines {first} and {key_line}",
                        file,
                        key_line,
                        _field((*path, key)),
                        "each key once",
                        f"a second {key!r}",
                        "keep one of the two (YAML would silently drop one)",
                    )
                )
            else:
                lines[(*path, key)] = key_line
                data[key] = _build(value_node, (*path, key), lines, problems, file, ctor)
        return data
    if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_build(item, (*path, index), lines, problems, file, ctor))
        return items
    if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
        try:
            return ctor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:  # e.g. the date 2024-13-45
            problems.append(
                Violation(
                    "yaml_value",
                    f"cannot read the value: {exc}",
                    file,
                    line,
                    _field(path),
                    found=_show(node.value),
                    fix="put the value in quotes",
                )
            )
            return None
    problems.append(
        Violation(
            "yaml_tag",
            f"the tag {node.tag!r} is not allowed",
            file,
            line,
            _field(path),
            "plain strings, numbers, lists and mappings",
            _show(node.tag),
            "remove the tag (the part starting with !)",
        )
    )
    return None


def _field(path: tuple) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or None


def _line(lines: dict[tuple, int], path: tuple) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


# ---------------------------------------------------------------- JSON Schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _schema_violations(
    name: str, data: Any, lines: dict[tuple, int], file: str, fixes: dict[str, str]
) -> list[Violation]:
    found: list[Violation] = []
    for error in _validator(name).iter_errors(data):
        found.extend(_from_schema_error(error, lines, file, fixes))
    return found


def _describe(schema: dict) -> str:
    names = {
        "string": "a string",
        "array": "a list",
        "object": "a mapping",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
    }
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


def _from_schema_error(
    error: ValidationError, lines: dict[tuple, int], file: str, fixes: dict[str, str]
) -> Iterator[Violation]:
    path, value, schema, keyword_ = (
        tuple(error.absolute_path),
        error.instance,
        error.schema,
        error.validator,
    )
    field, line, top = _field(path), _line(lines, path), str(path[0]) if path else ""
    fix = fixes.get(top, _RULES_FIX)
    if "propertyNames" in error.absolute_schema_path:  # value is the offending key itself
        yield Violation(
            "bad_key",
            f"the name {value!r} is not allowed",
            file,
            _line(lines, (*path, value)),
            field,
            schema.get("description"),
            _show(value),
            fix,
        )
    elif keyword_ == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in value:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield Violation(
                "unknown_key",
                f"unknown key {key!r}{hint}",
                file,
                _line(lines, (*path, key)),
                _field((*path, key)),
                "one of " + ", ".join(allowed),
                _show(key),
                f"rename it to {close[0]!r}" if close else "remove it",
            )
    elif keyword_ == "required":
        for key in error.validator_value:
            if key not in value:
                yield Violation(
                    "missing_key",
                    f"the required key {key!r} is missing",
                    file,
                    line,
                    _field((*path, key)),
                    f"a line `{key}: ...`",
                    "no such key",
                    fixes.get(key, f"add {key}; {_RULES_FIX}"),
                )
    elif keyword_ == "type":
        expected = _describe(schema)
        if schema.get("type") == "array" and isinstance(value, str):
            fix = f"write it as a list: {path[-1]}: [{value}]"
        elif schema.get("type") == "string" and isinstance(value, (bool, int, float)):
            fix = "put the value in quotes (YAML reads it as a number or true/false)"
        elif value is None:
            fix = f"fill in a value; {fix}"
        yield Violation(
            "wrong_type",
            f"{field or 'the file'} is {_kind(value)}, not {expected}",
            file,
            line,
            field,
            expected,
            _show(value),
            fix,
        )
    elif keyword_ == "pattern":
        yield Violation(
            _FORMAT_RULES.get(top, "bad_format"),
            f"{field} has the wrong form",
            file,
            line,
            field,
            schema.get("description", "text matching " + schema["pattern"]),
            _show(value),
            fix,
        )
    elif keyword_ == "uniqueItems":
        dup = next(i for i, item in enumerate(value) if item in value[:i])
        yield Violation(
            "duplicate_event" if path == ("events",) else "duplicate_item",
            f"{value[dup]!r} is listed more than once",
            file,
            _line(lines, (*path, dup)),
            _field((*path, dup)),
            "each item once",
            _show(value),
            "remove the repeated item",
        )
    elif keyword_ in ("minItems", "minProperties", "minLength"):
        rule = "events_empty" if path == ("events",) else "empty_value"
        yield Violation(
            rule,
            f"{field} is empty",
            file,
            line,
            field,
            f"at least {error.validator_value}",
            _show(value),
            fix,
        )
    elif keyword_ == "maxLength":
        yield Violation(
            "too_long",
            f"{field} is too long",
            file,
            line,
            field,
            f"at most {error.validator_value} characters",
            f"{len(value)} characters: {_show(value)}",
            fix,
        )
    else:  # enum, const, minimum, maximum: the validator's own sentence says it well
        yield Violation(
            "bad_value",
            f"{field or 'the file'}: {error.message}",
            file,
            line,
            field,
            schema.get("description"),
            _show(value),
            fix,
        )


def _in_line_order(violations: list[Violation], file: str) -> list[Violation]:
    unique = dict.fromkeys(violations)  # required/type errors can repeat; keep the first
    return sorted(unique, key=lambda v: (v.file != file, v.line or 0))


# ---------------------------------------------------------------- events.yaml


@dataclass(frozen=True)
class Rules:
    """events.yaml as checked data. Frozen: one load is shared by every stage of a grade."""

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

    The cross-checks run only on data the schema accepted, so they may trust its shape.
    """
    path = path or project_root() / "events.yaml"
    file = _display(path)
    data, lines = load_yaml(path)
    problems = _schema_violations("events.schema.json", data, lines, file, {})
    if not problems:
        problems = list(_cross_check_rules(data, lines, file))
    if problems:
        n = len(problems)
        raise ConfigError(f"{file}: {n} problem(s) in the rules", _in_line_order(problems, file))
    return Rules(path=path, data=data)


def _cross_check_rules(data: dict, lines: dict[tuple, int], file: str) -> Iterator[Violation]:
    def violation(rule: str, message: str, path: tuple, expected: str, found: Any) -> Violation:
        return Violation(
            rule,
            message,
            file,
            _line(lines, path),
            _field(path),
            expected,
            _show(found),
            _RULES_FIX,
        )

    def metric(name: str, path: tuple) -> Iterator[Violation]:
        if name not in METRICS:
            close = difflib.get_close_matches(name, sorted(METRICS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield violation(
                "unknown_metric",
                f"unknown metric {name!r}{hint}",
                path,
                "one of " + ", ".join(sorted(METRICS)),
                name,
            )

    def unique_ids(items: list[dict], path: tuple) -> Iterator[Violation]:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item["id"] in seen:
                yield violation(
                    "duplicate_id",
                    f"the id {item['id']!r} is used twice",
                    (*path, i, "id"),
                    "unique ids",
                    item["id"],
                )
            seen.add(item["id"])

    for name, event in data["events"].items():
        at = ("events", name)
        if event["score"] != COMPOSITE:
            yield from metric(event["score"], (*at, "score"))
        elif "composite" not in event:
            yield violation(
                "composite_missing",
                "a composite score needs its weights",
                (*at, "score"),
                "a `composite:` mapping of weights",
                None,
            )
        if "composite" in event:
            weights = event["composite"]
            if event["score"] != COMPOSITE:
                yield violation(
                    "composite_unused",
                    "weights given but score is not composite",
                    (*at, "composite"),
                    "score: composite",
                    event["score"],
                )
            for part in weights:
                if part not in COMPOSITE_PARTS:
                    yield violation(
                        "unknown_metric",
                        f"unknown composite part {part!r}",
                        (*at, "composite", part),
                        "one of " + ", ".join(sorted(COMPOSITE_PARTS)),
                        part,
                    )
            total = math.fsum(weights.values())
            if abs(total - 1) > 1e-9:
                yield violation(
                    "composite_weights",
                    f"the weights sum to {total:g}, not 1",
                    (*at, "composite"),
                    "weights summing to 1",
                    total,
                )
        for i, rule in enumerate(event["rules"]):
            yield from metric(rule["metric"], (*at, "rules", i, "metric"))
        yield from unique_ids(event["rules"], (*at, "rules"))
    for i, flag in enumerate(data["flags"]):
        yield from metric(flag["metric"], ("flags", i, "metric"))
        if "when" in flag:
            yield from metric(flag["when"]["metric"], ("flags", i, "when", "metric"))
    yield from unique_ids(data["flags"], ("flags",))
    for name, workload in data["workloads"].items():
        if workload["dataset"] not in data["datasets"]:
            yield violation(
                "unknown_dataset",
                f"unknown dataset {workload['dataset']!r}",
                ("workloads", name, "dataset"),
                "one of " + ", ".join(sorted(data["datasets"])),
                workload["dataset"],
            )
    imports = data["imports"]
    for module in sorted(set(imports["allowed"]) & set(imports["forbidden"])):
        yield violation(
            "import_conflict",
            f"{module!r} is both allowed and forbidden",
            ("imports", "forbidden", imports["forbidden"].index(module)),
            "disjoint lists",
            module,
        )


# ---------------------------------------------------------------- submission.yaml


@dataclass(frozen=True)
class Submission:
    """A checked submission.yaml: every field valid, the entrypoint found in its file."""

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
    """The submission and no violations, or None and every violation, in line order."""
    folder, config = _locate(path)
    file = _display(config)
    try:
        data, lines = load_yaml(config)
    except ConfigError as exc:
        return None, exc.violations
    problems = _schema_violations("submission.schema.json", data, lines, file, _SUBMISSION_FIXES)
    invalid = {v.field.split(".")[0].split("[")[0] for v in problems if v.field}

    def valid(key: str) -> bool:
        return key in data and key not in invalid

    def at(key: Any, *more: Any) -> int | None:
        return _line(lines, (key, *more))

    folder_name = Path(os.path.abspath(folder)).name
    if valid("team") and data["team"] != folder_name:
        problems.append(
            Violation(
                "team_mismatch",
                "the team is not the submission folder's name",
                file,
                at("team"),
                "team",
                repr(folder_name),
                _show(data["team"]),
                f"write team: {folder_name}, or rename the folder to {data['team']}",
            )
        )
    if valid("workload") and data["workload"] not in rules.workloads:
        problems.append(
            _unknown(
                "unknown_workload",
                "workload",
                data["workload"],
                rules.workloads,
                file,
                at("workload"),
                "workload",
            )
        )
    if isinstance(data.get("events"), list):
        reported = set()
        for i, event in enumerate(data["events"]):
            if isinstance(event, str) and event not in rules.events and event not in reported:
                reported.add(event)
                problems.append(
                    _unknown(
                        "unknown_event",
                        "event",
                        event,
                        rules.events,
                        file,
                        at("events", i),
                        f"events[{i}]",
                    )
                )
    if valid("entrypoint"):
        problems.extend(_check_entrypoint(folder, data["entrypoint"], file, at("entrypoint")))
    problems = _in_line_order(problems, file)
    if problems:
        return None, problems
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


def _unknown(
    rule: str, what: str, name: str, known: dict, file: str, line: int | None, field: str
) -> Violation:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    fix = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(sorted(known))}"
    return Violation(
        rule,
        f"there is no {what} {name!r}",
        file,
        line,
        field,
        "one of " + ", ".join(sorted(known)),
        _show(name),
        fix,
    )


def _check_entrypoint(
    folder: Path, entrypoint: str, file: str, line: int | None
) -> Iterator[Violation]:
    module, _, function = entrypoint.rpartition(":")

    def violation(rule: str, message: str, expected: str, fix: str) -> Violation:
        return Violation(rule, message, file, line, "entrypoint", expected, _show(entrypoint), fix)

    if not function.isidentifier() or keyword.iskeyword(function):
        yield violation(
            "entrypoint_format",
            f"{function!r} is not a Python function name",
            "file.py:function, e.g. model.py:build_model",
            "name the function after the colon, e.g. model.py:build_model",
        )
    relative = PurePosixPath(module)
    if "\\" in module:
        yield violation(
            "entrypoint_format",
            "the file's path uses backslashes",
            "a relative path with forward slashes",
            "write it with / between folders",
        )
        return
    if relative.is_absolute() or ".." in relative.parts or module.startswith("~"):
        yield violation(
            "entrypoint_outside",
            "the entrypoint file is outside the folder",
            "a path relative to the submission folder, without '..'",
            "move the file into the folder and name it relative to it",
        )
        return
    target = folder / relative
    if not target.resolve().is_relative_to(folder.resolve()):
        yield violation(
            "entrypoint_outside",
            "the entrypoint file leads outside the folder",
            "a file inside the submission folder (not a link out of it)",
            "replace the link with the file itself",
        )
        return
    if not target.is_file():
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))
        yield violation(
            "entrypoint_missing",
            f"there is no file {module!r} in the folder",
            "an existing .py file",
            "the .py files present are "
            + (", ".join(present[:10]) or "none")
            + "; fix the name or add the file",
        )
        return
    try:
        with warnings.catch_warnings():  # a student's SyntaxWarning is not the grader's error
            warnings.simplefilter("ignore")
            tree = ast.parse(target.read_bytes(), filename=str(target))
    except SyntaxError as exc:
        yield Violation(
            "entrypoint_syntax",
            f"{module} is not valid Python: {exc.msg}",
            _display(target),
            exc.lineno,
            "entrypoint",
            "valid Python",
            _show((exc.text or "").strip()),
            f"fix the line; `python -m py_compile {module}` shows the error",
        )
        return
    except (ValueError, OSError) as exc:  # null bytes (before 3.12), unreadable
        yield violation(
            "entrypoint_syntax",
            f"{module} cannot be parsed: {exc}",
            "a readable Python file",
            "save the file as plain UTF-8 Python",
        )
        return
    if function.isidentifier() and not _defines(tree.body, function):
        yield violation(
            "entrypoint_function_missing",
            f"{module} defines no module-level {function!r}",
            f"`def {function}():` at the top level of {module}",
            f"define {function} at module level (not inside a class or function)",
        )


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
