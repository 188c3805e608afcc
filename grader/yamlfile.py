"""A config file read as YAML: plain data and the line of every value, or every problem found.

This module owns the layer below submission.yaml and events.yaml: reading the file (its size,
encoding and emptiness checked), parsing it, and the violations of one file with their file:line
(``Report``). It knows nothing of what a config holds; ``grader.config`` does.

YAML goes through PyYAML's SafeLoader by way of ``compose`` and the data is built from the nodes
here, because plain ``safe_load`` silently accepts what a config must not hold: a duplicate key
(the last one wins), anchors and aliases (the "billion laughs" bomb), merge keys, non-text keys.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.errors import ConfigError, Violation

MAX_CONFIG_BYTES = 64 * 1024

# Every rule id this module reports: its message and its fix. Where the fix is empty, the
# caller gives one that fits the field. {field} and {expected} are always available.
EXAMPLE = "submissions/example-baseline/submission.yaml"

# grader.config extends this table with the rules of a config's content.
RULES: dict[str, tuple[str, str]] = {
    "file_missing": ("the file does not exist", f"create it: copy {EXAMPLE} and edit it"),
    "file_not_regular": ("not a regular file", "name the YAML file itself"),
    "file_unreadable": ("cannot read the file: {reason}", "check the file's permissions"),
    "file_too_large": ("the file is larger than 64 KiB", "keep only the keys the config needs"),
    "file_encoding": ("the file is not UTF-8 text", "save it as UTF-8 text"),
    "file_empty": ("the file {state}", f"fill it in: {EXAMPLE} is an example"),
    "yaml_syntax": ("not valid YAML: {detail}", "check indentation and quotes here and above"),
    "yaml_alias": ("{what} are not allowed", "write every value out in full"),
    "yaml_tag": ("the tag {tag} is not allowed", "remove the tag (the part starting with !)"),
    "yaml_value": ("cannot read the value: {reason}", "put the value in quotes"),
    "not_a_mapping": ("the top level is not a mapping", "write one `key: value` per line"),
    "duplicate_key": ("the key {key!r} appears twice, on lines {first} and {line}", ""),
    "non_string_key": ("the key {key} is not text: YAML reads it as {kind}", ""),
}
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}


# ---------------------------------------------------------------- violations of one file


def _dotted(path: tuple) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or None


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def show(value: Any) -> str:
    """A value as the user wrote it, for `found`: repr, clipped to 80 characters."""
    return _clip(repr(value))


@dataclass
class Report:
    """The violations found in one file, each placed by its path in the file's line map.

    ``rules`` gives each rule id its message and fix: this module's RULES unless a caller that
    reports rules of its own passes a table holding them too.
    """

    file: str
    lines: dict[tuple, int] = dataclasses.field(default_factory=dict)
    found: list[Violation] = dataclasses.field(default_factory=list)
    rules: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=lambda: RULES)

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
        message, default_fix = self.rules[rule]
        details = {k: _clip(v) if isinstance(v, str) else v for k, v in details.items()}
        names = {"field": _dotted(path), "expected": expected, "line": line, **details}
        text, field = message.format(**names), names["field"]
        line = line or line_of(self.lines, path)
        fix = fix or default_fix.format(**names)
        file = file or self.file
        self.found.append(Violation(rule, text, file, line, field, expected, found, fix))

    def in_line_order(self) -> list[Violation]:
        unique = dict.fromkeys(self.found)  # `required` and `type` errors can repeat
        return sorted(unique, key=lambda v: (v.file != self.file, v.line or 0))


def _refuse(file: str, rule: str, **where: Any) -> ConfigError:
    report = Report(file)
    report.add(rule, **where)
    return ConfigError(f"{file}: {report.found[0].message}", report.found)


def display_path(path: Path) -> str:
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
        found = show(raw[exc.start : exc.start + 8])
        raise _refuse(file, "file_encoding", line=line, expected="UTF-8", found=found) from None
    if not text.strip():
        found = "only blank space" if text else "no bytes"
        raise _refuse(file, "file_empty", expected="a YAML mapping", found=found, state="is empty")
    return text.removeprefix("\ufeff")


def load_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """The file's data and a map from each path (``("events", 1)``) to its 1-based line.

    A mapping entry's line is its key's; a list item's is the item's. Raises ConfigError.
    """
    file = display_path(path)
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
        found = show(chr(exc.character))
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
    report = Report(file, {(): node.start_mark.line + 1})
    data = _build(node, (), report, yaml.constructor.SafeConstructor())
    if report.found:
        raise ConfigError(f"{file}: {len(report.found)} problem(s) in the YAML", report.found)
    return data, report.lines


def _build(node: yaml.Node, path: tuple, report: Report, ctor: Any) -> Any:
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
            report.add("yaml_value", path, line=line, found=show(node.value), reason=exc)
            return None
    expected = "plain text, numbers, lists and mappings"
    tag = node.tag.replace(_TAG, "!!")
    report.add("yaml_tag", path, line=line, expected=expected, found=show(tag), tag=tag)
