"""The results folder: every grade kept, the latest of each team and workload counted.

``results/<team>/<workload>/<timestamp>-<content>.json``: a new grade is a new file (the
history stays); a team's latest file per workload is the one that counts. A result is
validated when it is stored and again when it is read: one that no longer recomputes under
the rules it was graded with has been edited, and is refused with its path. One graded by
another grader version or under other rules is *stale*: shown, marked, never ranked with the
others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader import __version__, result
from grader.config import Rules
from grader.errors import ConfigError, Violation
from grader.scope import SLUG

REJECTED = "_rejected"  # the workload folder of a result rejected before its workload was read


@dataclass(frozen=True)
class Entry:
    path: Path
    doc: dict
    stale: str | None  # why the entry cannot be ranked with the others, or None

    @property
    def team(self) -> str:
        return self.doc["submission"]["team"]

    @property
    def workload(self) -> str:
        return self.doc["submission"]["workload"]

    @property
    def graded(self) -> bool:
        return self.doc["verdict"]["status"] == "graded"


def stale_reason(doc: dict, rules: Rules) -> str | None:
    grader = doc.get("grader", {})
    if grader.get("version") != __version__:
        return f"graded by grader {grader.get('version')}, not {__version__}: re-grade"
    if doc["verdict"]["status"] == "graded" and grader.get("rules_sha256") != rules.sha256:
        return "graded under other rules (events.yaml changed since): re-grade"
    return None


def verify(path: Path, rules: Rules) -> Entry:
    """Read a stored result: schema-valid always; recomputed when current; else refused."""
    doc = result.read_json(path)
    problems = result.schema_violations(doc, str(path)) if isinstance(doc, dict) else []
    if not isinstance(doc, dict) or problems:
        raise ConfigError(f"{path}: not a valid result", problems)
    stale = stale_reason(doc, rules)
    if stale is None:
        problems = result.check(doc, rules, str(path))
        if problems:
            raise ConfigError(
                f"{path}: its numbers do not recompute: it was edited by hand "
                "(delete it and re-grade the submission)",
                problems,
            )
    return Entry(path, doc, stale)


def key_of(doc: dict, file: str) -> tuple[str, str]:
    team, workload = doc["submission"]["team"], doc["submission"]["workload"] or REJECTED
    for what, value in (("team", team), ("workload", workload)):
        if not (SLUG.fullmatch(value) or value == REJECTED or re.fullmatch(r"[a-z0-9_]+", value)):
            raise ConfigError(
                f"{file}: cannot store a result whose {what} is {value!r}",
                [
                    Violation(
                        rule="store_key",
                        file=file,
                        field=f"$.submission.{what}",
                        message=f"the {what} is not a slug",
                    )
                ],
            )
    return team, workload


def store(source: Path, root: Path, rules: Rules) -> Path:
    """Validate a result and file it under ``root``; return where it went."""
    doc = result.read_json(source)
    problems = result.check(doc, rules, str(source)) if isinstance(doc, dict) else []
    if not isinstance(doc, dict) or problems:
        raise ConfigError(f"{source}: not a valid result; not stored", problems)
    team, workload = key_of(doc, str(source))
    stamp = doc["timestamp"].replace(":", "-")
    content = doc["submission"].get("content_sha256", "")[:12] or "rejected"
    target = root / team / workload / f"{stamp}-{content}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    result.write(doc, target)
    return target


def latest(root: Path, rules: Rules) -> list[Entry]:
    """The latest result of each team and workload, verified; sorted by team, workload."""
    entries = []
    if not root.is_dir():
        return entries
    for team in sorted(p for p in root.iterdir() if p.is_dir()):
        for workload in sorted(p for p in team.iterdir() if p.is_dir()):
            files = sorted(workload.glob("*.json"))
            if files:
                entries.append(verify(files[-1], rules))  # names sort by their timestamp
    return entries
