"""A team's grades over time, from the results store (docs/DESIGN.md, Progress over time).

The store keeps every grade (``results/<team>/<workload>/<timestamp>-<content>.json``); the
leaderboard reads the latest of each workload, this module all of them. Each stored file is
read as the leaderboard reads it (:func:`grader.publish.store.read_verified`: in its place,
schema-valid, its numbers recomputed when it is current), and becomes one :class:`Grade`: the
date, the commit graded, the files' hash, the speedup with its interval, the accuracy (the
perplexity of a generation workload), the size and the instruction ratio where counted.

A grade made by another grader version, with other runtime dependencies or under other rules
(``grader.version``, ``grader.dependencies_sha256`` and ``grader.rules_sha256``, which every
result records) measured against another yardstick: it is shown with what differs
(:func:`basis_difference`), never silently beside the current ones. A file that cannot be
read is named with its fix and the others are shown (:attr:`History.problems`).

Verifying a current result costs about 0.1 s (its bootstraps): the rows of files verified
before, under the same grader, dependencies and rules, come from a cache beside the results
(:data:`CACHE`, never committed, as :mod:`grader.publish.verified`'s).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.analysis.scope import SLUG
from grader.config import Rules
from grader.errors import ConfigError, GraderError
from grader.publish import store, verified
from grader.result import dependencies

CACHE = ".history.json"
SCHEMA_VERSION = 1  # of `olympics history --json`
ROW_KEYS = (
    "file", "workload", "timestamp", "commit", "content_sha256", "status", "verdict_code",
    "speedup", "speedup_ci95", "accuracy", "perplexity", "size_bytes", "instruction_ratio",
    "grader_version", "rules_sha256", "not_comparable",
)  # fmt: skip
KEYS = frozenset(ROW_KEYS)


@dataclass
class History:
    """One team's stored grades, oldest first, and the files that could not be read."""

    team: str
    grades: list[dict] = field(default_factory=list)  # rows: ROW_KEYS
    problems: list[str] = field(default_factory=list)  # one line each, the file named

    def workloads(self) -> dict[str, list[dict]]:
        """The grades by workload (a rejection before its workload was read under
        ``_rejected``), each workload's oldest first."""
        by: dict[str, list[dict]] = {}
        for row in self.grades:
            by.setdefault(row["workload"], []).append(row)
        return by

    def as_json(self, rules: Rules) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "team": self.team,
            "grader": {"version": __version__, "rules_sha256": rules.sha256},
            "workloads": self.workloads(),
            "problems": self.problems,
        }


def basis_difference(doc: dict, rules: Rules) -> str | None:
    """What a stored grade was measured with that differs from this grader's yardstick (its
    version, runtime dependencies, and for a graded result its rules), in words; None if
    nothing does: only such grades are comparable with a grade made now."""
    grader = doc.get("grader", {})
    differs = []
    if grader.get("version") != __version__:
        differs.append(f"grader {str(grader.get('version'))[:20]} (now {__version__})")
    ran_with, runs_with = grader.get("dependencies_sha256"), dependencies.fingerprint()
    if ran_with is None:
        differs.append("runtime dependencies not recorded")
    elif runs_with is None:
        differs.append("runtime dependencies unknown here (the grader is not installed)")
    elif ran_with != runs_with:
        differs.append(f"other runtime dependencies ({str(ran_with)[:8]}, now {runs_with[:8]})")
    ruled = grader.get("rules_sha256")
    if doc["verdict"]["status"] == "graded" and ruled != rules.sha256:
        differs.append(f"other rules (events.yaml {str(ruled)[:8]}, now {rules.sha256[:8]})")
    return "; ".join(differs) or None


def grade_row(doc: dict, path: str, rules: Rules) -> dict:
    """One stored result as a row of the history (numbers as the result holds them)."""
    sub, grader = doc["submission"], doc.get("grader", {})
    row = dict.fromkeys(ROW_KEYS)
    row |= {
        "file": path,
        "workload": sub["workload"] or store.REJECTED,
        "timestamp": doc["timestamp"],
        "commit": grader.get("commit"),
        "content_sha256": sub.get("content_sha256"),
        "status": doc["verdict"]["status"],
        "verdict_code": doc["verdict"].get("code"),
        "grader_version": grader.get("version"),
        "rules_sha256": grader.get("rules_sha256"),
        "not_comparable": basis_difference(doc, rules),
    }
    if row["status"] != "graded":
        return row
    imp, metrics = doc["improvements"], doc["optimized"]["metrics"]
    text = (doc.get("measurement") or {}).get("protocol") == "generation"
    row |= {
        "speedup": imp.get("speedup"),
        "speedup_ci95": imp.get("speedup_ci95"),
        "accuracy": None if text else metrics.get("accuracy"),
        "perplexity": metrics.get("perplexity") if text else None,
        "size_bytes": metrics.get("size_bytes"),
        "instruction_ratio": imp.get("instruction_ratio"),
    }
    return row


def unknown_team(team: str, root: Path) -> GraderError:
    """The error for a team without stored grades: the teams that have some, the closest
    first."""
    teams = sorted(e.name for e in os.scandir(root) if e.is_dir()) if root.is_dir() else []
    if not SLUG.fullmatch(team):
        why = f"{team[:60]!r} is not a team name (lowercase letters, digits and hyphens)"
    else:
        why = f"no grades stored for team {team!r} in {root}"
    close = difflib.get_close_matches(team, teams, n=3)
    if close:
        hint = "did you mean " + ", ".join(close) + "?"
    elif teams:
        hint = f"the teams with stored grades: {', '.join(teams[:10])}" + (
            f" and {len(teams) - 10} more" if len(teams) > 10 else ""
        )
    else:
        hint = "the store is empty: a grade gets there with `olympics store RESULT`"
    return GraderError(f"{why}: {hint}")


class Reader:
    """Reads teams' histories from one store, sharing one cache of verified rows."""

    def __init__(self, root: Path, rules: Rules, *, cache: bool = True) -> None:
        self.root, self.rules, self.cache = root, rules, cache
        known, self.stamps = verified.load_cache(root, rules, CACHE) if cache else ({}, {})
        # a row of another shape (another version of this module) is read afresh
        self.known = {k: v for k, v in known.items() if isinstance(v, dict) and v.keys() == KEYS}
        self.seen: dict[str, dict] = {}
        self.seen_stamps: dict[str, list] = {}
        self.read_teams: list[str] = []
        self.racy = time.time_ns() - 2_000_000_000  # as store.latest: files changed since

    def team(self, team: str) -> History:
        """Every stored grade of ``team``; an unknown team is an error, an unreadable file
        a problem named in the history."""
        folder = self.root / team
        if not SLUG.fullmatch(team) or not folder.is_dir():
            raise unknown_team(team, self.root)
        history = History(team)
        self.read_teams.append(f"{folder}/")
        for workload in sorted(e.path for e in os.scandir(folder) if e.is_dir()):
            for name in sorted(os.listdir(workload)):
                if name.endswith(".json") and not name.startswith("."):
                    self.read(f"{workload}/{name}", history)
        history.grades.sort(key=lambda r: (r["timestamp"], r["workload"], r["file"]))
        return history

    def read(self, path: str, history: History) -> None:
        try:
            info = os.stat(path)
            stamp = self.stamps.get(path)
            row = None
            if isinstance(stamp, list) and stamp[:2] == [info.st_size, info.st_mtime_ns]:
                row = self.known.get(str(stamp[-1]))
            if row is not None and row.get("file") == path:
                digest = stamp[-1]
            else:
                with open(path, "rb") as f:
                    data = f.read()
                digest = hashlib.sha256(data).hexdigest()
                row = self.known.get(digest)
                if row is None or row.get("file") != path:
                    entry = store.read_verified(Path(path), self.rules, self.root, data)
                    row = grade_row(entry.doc, path, self.rules)
        except (GraderError, OSError) as exc:
            history.problems.append(problem(path, exc))
            return
        except (KeyError, TypeError, ValueError) as exc:  # a schema older than its readers
            history.problems.append(problem(path, ConfigError(f"{path}: unreadable: {exc!r}")))
            return
        self.seen[digest] = row
        if info.st_mtime_ns < self.racy:  # an edit in the same clock tick keeps the time
            self.seen_stamps[path] = [info.st_size, info.st_mtime_ns, digest]
        history.grades.append(row)

    def save(self) -> None:
        """Keep what was verified this time (and what the cache held of other teams)."""
        if not self.cache or not self.seen:
            return
        # the teams read now are as read now (a deleted file goes); the others as they were
        read = tuple(self.read_teams)
        files = {p: s for p, s in self.stamps.items() if not p.startswith(read)}
        files |= self.seen_stamps
        live = {s[-1] for s in files.values() if isinstance(s, list)} | set(self.seen)
        entries = {k: v for k, v in (self.known | self.seen).items() if k in live}
        verified.save_cache(self.root, self.rules, entries, files, CACHE)


def problem(path: str, exc: Exception) -> str:
    """A file the history cannot show: what is wrong, and what to do."""
    message = exc.message if isinstance(exc, GraderError) else f"{path}: {exc}"
    if isinstance(exc, GraderError) and exc.violations:
        message += " (" + "; ".join(str(v) for v in exc.violations[:3]) + ")"
    if path not in message:
        message = f"{path}: {message}"
    return (
        f"{message}. Fix: if it was changed by mistake, restore it (git checkout -- {path}); "
        "otherwise delete it and re-grade the submission. The other grades are shown."
    )


def team_history(root: Path, team: str, rules: Rules, *, cache: bool = True) -> History:
    """One team's history (``olympics history``, the PR comment's section)."""
    reader = Reader(root, rules, cache=cache)
    history = reader.team(team)
    reader.save()
    return history


def graded_more_than_once(root: Path) -> list[str]:
    """The teams with more than one stored file: those that may have a history to chart
    (counted from the folders alone, nothing read)."""
    teams = []
    if not root.is_dir():
        return teams
    for team in sorted((e for e in os.scandir(root) if e.is_dir()), key=lambda e: e.name):
        files = 0
        for workload in os.scandir(team.path):
            if workload.is_dir():
                files += sum(1 for f in os.scandir(workload.path) if f.name.endswith(".json"))
        if files > 1 and SLUG.fullmatch(team.name):
            teams.append(team.name)
    return teams


def all_histories(root: Path, rules: Rules) -> tuple[list[History], list[str]]:
    """The history of each team with more than one stored file, and the problems met."""
    reader = Reader(root, rules)
    found, problems = [], []
    for team in graded_more_than_once(root):
        history = reader.team(team)
        found.append(history)
        problems += history.problems
    reader.save()
    return found, problems
