"""The results folder: every grade kept, the latest of each team and workload counted.

``results/<team>/<workload>/<timestamp>-<content>.json``: a new grade is a new file (the
history stays); a team's latest file per workload is the one that counts.

A result is checked when it is stored: valid, recomputed, graded by this grader under these
rules, and, given the checkout, graded from the very files of ``submissions/<team>`` (its
content hash) and by the shard that was asked to grade that team. It is checked again when it
is read: it must sit where :func:`store` would have put it, and recompute under the rules it
was graded with; one that does not was edited by hand and is refused with its path. A result
graded by another grader version or under other rules is *stale*: shown, never ranked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__, render, result
from grader.config import Rules
from grader.errors import ConfigError, Violation
from grader.scope import SLUG, SUBMISSIONS, all_submissions

REJECTED = "_rejected"  # the workload folder of a result rejected before its workload was read
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
WORKLOAD = re.compile(r"[a-z0-9_]{1,64}")


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
        return (
            f"graded by grader {render.md(grader.get('version'), 20)}, not {__version__}: re-grade"
        )
    if doc["verdict"]["status"] == "graded" and grader.get("rules_sha256") != rules.sha256:
        return "graded under other rules (events.yaml changed since): re-grade"
    return None


def place(doc: dict, root: Path, file: str) -> Path:
    """Where a result belongs: from its team, workload, time and content, each checked."""
    sub = doc["submission"]
    team, workload = sub["team"], sub["workload"] or REJECTED
    content = sub.get("content_sha256", "")[:12] or "rejected"
    for what, value, rule in (
        ("team", team, SLUG),
        ("workload", workload, re.compile(f"{WORKLOAD.pattern}|{REJECTED}")),
        ("timestamp", doc["timestamp"], TIMESTAMP),
    ):
        if not rule.fullmatch(value):
            raise ConfigError(
                f"{file}: cannot store a result whose {what} is {value!r}",
                [Violation(rule="store_key", file=file, field=f"$.{what}", message="not valid")],
            )
    target = root / team / workload / f"{doc['timestamp'].replace(':', '-')}-{content}.json"
    if not target.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{file}: would be stored outside {root}")
    return target


def verify(path: Path, rules: Rules, root: Path) -> Entry:
    """Read a stored result: in its place, schema-valid; recomputed when current."""
    doc = result.read_json(path)
    problems = result.schema_violations(doc, str(path)) if isinstance(doc, dict) else []
    if not isinstance(doc, dict) or problems:
        raise ConfigError(f"{path}: not a valid result", problems)
    if place(doc, root, str(path)) != path:
        raise ConfigError(
            f"{path}: not where its team, workload and time put it: it was moved or edited "
            "by hand (delete it and re-grade the submission)"
        )
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


def store(
    source: Path,
    root: Path,
    rules: Rules,
    *,
    tree: Path | None = None,
    teams: set[str] | None = None,
) -> Path:
    """Check a result and file it under ``root``; return where it went.

    ``tree``: the checkout the result must have been graded from (content hash compared).
    ``teams``: the teams whose results this source may carry (its shard's).
    """
    doc = result.read_json(source)
    problems = result.check(doc, rules, str(source)) if isinstance(doc, dict) else []
    if not isinstance(doc, dict) or problems:
        raise ConfigError(f"{source}: not a valid result; not stored", problems)
    stale = stale_reason(doc, rules)
    if stale is not None:
        raise ConfigError(f"{source}: {stale}; not stored")
    target = place(doc, root, str(source))
    team = doc["submission"]["team"]
    if teams is not None and team not in teams:
        raise ConfigError(f"{source}: a result for {team!r}, which this shard did not grade")
    if tree is not None:
        folder = tree / SUBMISSIONS / team
        claimed = doc["submission"].get("content_sha256")
        if not folder.is_dir():
            raise ConfigError(f"{source}: {SUBMISSIONS}/{team} is not in the checkout")
        if claimed is not None and claimed != result.content_sha256(folder):
            raise ConfigError(
                f"{source}: graded from other files than {SUBMISSIONS}/{team} has now "
                "(the next run re-grades it)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    result.write(doc, target)
    return target


@dataclass
class Stored:
    paths: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one line each


def store_shards(plan: Path, artifacts: Path, root: Path, rules: Rules, tree: Path) -> Stored:
    """Each shard's results from ``artifacts/results-<index>/``, taken only for the teams
    the plan gave that shard; a refusal is reported and the rest go on."""
    done = Stored()
    shards = json.loads(plan.read_text(encoding="utf-8"))["shards"]
    for shard in shards:
        teams = {f.split("/", 1)[1] for f in str(shard["folders"]).split()}
        folder = artifacts / f"results-{int(shard['index'])}"
        if not folder.is_dir():
            done.refused.append(f"shard {shard['index']}: no results (its job failed?)")
            continue
        for file in sorted(folder.glob("*.json"))[: len(teams)]:
            try:
                done.paths.append(store(file, root, rules, tree=tree, teams=teams))
            except ConfigError as exc:
                done.refused.append(render.clean(exc.message, 500))
    return done


def latest(root: Path, rules: Rules) -> list[Entry]:
    """The latest result of each team and workload, verified; sorted by team, workload."""
    entries = []
    if not root.is_dir():
        return entries
    for team in sorted(p for p in root.iterdir() if p.is_dir()):
        # the newest file of each workload folder (file names sort by their time)
        newest = {
            w.name: files[-1]
            for w in sorted(team.iterdir())
            if w.is_dir()
            if (files := sorted(w.glob("*.json")))
        }
        rejected = newest.pop(REJECTED, None)
        if rejected is not None and all(rejected.name > f.name for f in newest.values()):
            newest = {REJECTED: rejected}  # the team's current files do not even validate
        entries += [verify(newest[w], rules, root) for w in sorted(newest)]
    return entries


def needs_grade(folder: Path, root: Path, rules: Rules) -> bool:
    """Whether ``submissions/<team>`` lacks a current result for exactly its files: none
    stored, or the latest one is of other files, another grader or other rules."""
    newest = sorted((root / folder.name).glob("*/*.json"), key=lambda p: p.name)
    if not newest:
        return True
    try:
        doc = json.loads(newest[-1].read_text(encoding="utf-8"))
        current = doc["submission"].get("content_sha256") == result.content_sha256(folder)
        return not current or stale_reason(doc, rules) is not None
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unreadable: grade it again


def to_regrade(repo: Path, root: Path, rules: Rules) -> list[str]:
    """The submission folders without a current result in the store. Comparing the store with
    the checkout, not one push with the last, re-grades what a skipped or failed run missed."""
    return [f for f in all_submissions(repo) if needs_grade(repo / f, root, rules)]
