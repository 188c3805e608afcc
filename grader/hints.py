"""Hints: the next optimization, suggested from the observations already in a result
(docs/DESIGN.md, Hints).

Two halves, as for the rules. The *observations* a hint may read are code, in one table
(``grader/hintreaders.py``). The *rules* are data, events.yaml's ``hints:``: each a list of
conditions on observations, a priority and a message that shows its observations by name,
``{float64_share}``, each in its own format, so that a hint always cites the numbers it
rests on (``grader/hintchecks.py`` refuses a rule whose message omits one its conditions
read, or that names an observation the table does not have). This module applies them.

A hint changes no score: it is computed from a verified result when a card is drawn, never
stored, and nothing that scores reads it.
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grader.hintreaders import OBSERVATIONS, Value, observe

# The comparisons of events.yaml (the schema's "op"), as grader/rules.py applies them.
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Hint:
    """A rule that fired: its id and priority (1 first), its text, and each observation it
    cites as shown there."""

    id: str
    priority: int
    text: str
    cited: dict[str, str]


def template_fields(message: str) -> list[str]:
    """The observations a message shows, in order. ValueError where it is not a template of
    plain names: a format spec, a conversion, an index or an attribute (each observation
    has its own format), or a stray brace."""
    fields = []
    for _, field, spec, conversion in string.Formatter().parse(message):
        if field is None:
            continue
        if spec or conversion or not NAME.match(field):
            raise ValueError(f"{{{field}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}} is not a plain name")  # fmt: skip
        fields.append(field)
    return fields


def fire(rule: Mapping, seen: Mapping[str, Value], protocol: str) -> Hint | None:
    """The hint of ``rule``, or None where it stays silent: another protocol's rule, a
    condition not met or on an absent number, or an observation its message shows absent."""
    if rule.get("protocol", protocol) != protocol:
        return None
    for condition in rule["when"]:
        value = seen.get(condition["observation"])
        if isinstance(value, str) or value is None:
            return None
        if not OPS[condition["op"]](value, condition["value"]):
            return None
    cited = {}
    for name in template_fields(rule["message"]):
        value = seen.get(name)
        if value is None:
            return None
        cited[name] = OBSERVATIONS[name].show(value)
    pieces = string.Formatter().parse(rule["message"])
    text = "".join(literal + (cited[field] if field else "") for literal, field, _, _ in pieces)
    return Hint(rule["id"], rule["priority"], text, cited)


def evaluate(result: Mapping, rules: Sequence[Mapping]) -> list[Hint]:
    """The hints ``rules`` (events.yaml's ``hints:``) give a result, by priority (1 first;
    among equals, in events.yaml's order); none for a result that was not graded."""
    if (result.get("verdict") or {}).get("status") != "graded":
        return []
    protocol = (result.get("measurement") or {}).get("protocol", "classification")
    seen = observe(result)
    fired = [hint for rule in rules if (hint := fire(rule, seen, protocol)) is not None]
    return sorted(fired, key=lambda hint: hint.priority)
