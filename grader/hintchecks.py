"""events.yaml's ``hints:`` against the observations the grader has (docs/DESIGN.md, Hints):
what the schema cannot say of a hint rule, each problem with its file:line and its fix.

A condition names an observation of ``grader.hintreaders.OBSERVATIONS`` that is a number; the
message is a template of observations by plain name (each is shown in its own format), all
known, and shows every observation its conditions read, so that no hint rests on a number
it does not cite; ids are distinct and thresholds finite. ``grader.crosschecks`` runs
:func:`check` among events.yaml's cross-checks, on data the schema accepted.
"""

from __future__ import annotations

import difflib
import math

from grader import hintreaders, hints
from grader.yamlfile import Report, show

LISTED = "`olympics rules` lists the observations"

# The rule ids of these checks, with their message and fix; grader.config adds them to the
# table of every config rule (``duplicate_id`` and ``bad_value`` are the cross-checks' and
# the schema's own, reported here for a hint as they are for a flag).
RULES: dict[str, tuple[str, str]] = {
    "unknown_observation": ("the grader observes no {name!r} for a hint to read", ""),
    "text_observation": (
        "{name!r} is text, and a condition compares a number",
        "compare one of the numbers, e.g. hotspot_share; show {name} in the message instead",
    ),
    "hint_template": (
        "the message is not a template of observations: {detail}",
        "write each observation as {{name}} alone (each is shown in its own format), and a "
        "literal brace as {{{{ or }}}}",
    ),
    "hint_uncited": (
        "the message does not show {name!r}, which the hint's condition reads",
        "show it in the message as {{{name}}}: a hint cites the numbers it rests on",
    ),
}


def check(report: Report, data: dict) -> None:
    """Every hint rule of events.yaml (none where the section is absent)."""
    seen: set[str] = set()
    for i, rule in enumerate(data.get("hints", [])):
        at = ("hints", i)
        if rule["id"] in seen:
            report.add("duplicate_id", (*at, "id"), found="a second use", name=rule["id"])
        seen.add(rule["id"])
        read = []
        for k, condition in enumerate(rule["when"]):
            where, name = (*at, "when", k), condition["observation"]
            if _known(report, (*where, "observation"), name):
                read.append(name)
                if not hintreaders.numeric(name):
                    report.add("text_observation", (*where, "observation"), found=show(name),
                               expected="a number", name=name)  # fmt: skip
            if not math.isfinite(value := condition["value"]):
                detail = "a threshold must be finite"
                shown = {"expected": "a finite number", "found": show(value)}
                report.add("bad_value", (*where, "value"), **shown, detail=detail)
        _message(report, (*at, "message"), rule["message"], read)


def _known(report: Report, path: tuple, name: str) -> bool:
    if name in hintreaders.OBSERVATIONS:
        return True
    close = difflib.get_close_matches(name, list(hintreaders.OBSERVATIONS), n=1)
    fix = f"did you mean {close[0]!r}? ({LISTED})" if close else f"choose one: {LISTED}"
    expected = "an observation of grader/hintreaders.py"
    report.add("unknown_observation", path, expected=expected, found=show(name), fix=fix, name=name)
    return False


def _message(report: Report, path: tuple, message: str, read: list[str]) -> None:
    """The message's template is well formed, names known observations, and shows each one
    the conditions read."""
    try:
        shown = hints.template_fields(message)
    except ValueError as exc:
        report.add("hint_template", path, expected="{name} placeholders", found=show(message),
                   detail=str(exc))  # fmt: skip
        return
    for name in dict.fromkeys(shown):
        _known(report, path, name)
    for name in dict.fromkeys(read):
        if name not in shown:
            report.add("hint_uncited", path, expected=f"{{{name}}} in the message",
                       found=show(message), name=name)  # fmt: skip
