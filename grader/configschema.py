"""A config against its JSON Schema: every schema error as the violations it stands for.

One small function per JSON Schema keyword, registered in ``SCHEMA_ERRORS``, as jsonschema's
own validators are: each turns an error into violations with a rule id, the path in the file,
what was expected, what was found and the fix. ``grader.config`` holds the schemas' validators
and runs this first; ``grader.crosschecks`` then checks what a schema cannot express.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, ValidationError

from grader.yamlfile import Report, line_of, show

RULES_FIX = "see the comments in events.yaml and schemas/events.schema.json"

# The rule ids of a schema error, each with its message and its fix. Where the fix is empty,
# the caller gives one that fits the field. {field} and {expected} are always available.
RULES: dict[str, tuple[str, str]] = {
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
    "bad_value": ("{field}: {detail}", RULES_FIX),
    "bad_key": ("the name {key!r} is not allowed here", ""),
    "key_not_allowed": ("{key!r} does not belong in this kind of entry", ""),
}

# A pattern failure under these top-level keys gets a rule id of its own.
_FORMAT_RULES = {
    "team": "team_format",
    "entrypoint": "entrypoint_format",
    "members": "member_format",
    "techniques": "technique_format",
}


def check(
    report: Report, validator: Draft202012Validator, data: Any, fixes: Mapping[str, str]
) -> set[str]:
    """Report every error of ``data`` against the schema; return the top-level keys at fault.

    ``fixes`` gives the fix of each top-level key (and of a missing one), else RULES_FIX.
    """
    at_fault = set()
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        top = str(path[0]) if path else ""
        at_fault.add(top)
        _report_schema_error(report, error, path, fixes.get(top, RULES_FIX), fixes)
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
        fix = at.fixes.get(key, f"add {key}; {RULES_FIX}")
        shown = {"line": line_of(at.lines, at.path), "expected": f"a line `{key}: …`"}
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


def _not_allowed(error: ValidationError, at: At) -> Iterator[Finding]:
    """A key of the other kind of entry: a generation workload's ``classes``, say. The schemas
    use ``not`` for this alone, as ``{"not": {}}`` under an ``if``/``then`` with a
    description of what the entry has instead (events.schema.json's ``classification_only``)."""
    key = at.path[-1]
    shown = {"expected": error.schema.get("description"), "found": show(error.instance)}
    yield "key_not_allowed", at.path, {**shown, "fix": f"remove {key}", "key": key}


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
    "not": _not_allowed,
}
