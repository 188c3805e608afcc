"""The results folder: every grade kept, the latest of each team and workload counted.

``results/<team>/<workload>/<timestamp>-<content>.json``: a new grade is a new file (the
history stays); a team's latest file per workload is the one that counts.

A result is checked when it is stored: valid, recomputed, graded by this grader under these
rules, and, given the checkout, graded from the very files of ``submissions/<team>`` (its
content hash) and by the shard that was asked to grade that team. It is checked again when it
is read: it must sit where :func:`store` would have put it, and recompute under the rules it
was graded with; one that does not was edited by hand and is refused with its path. A result
graded by another grader version, with other runtime dependencies (``requirements.txt``:
:mod:`grader.result.dependencies`) or under other rules is *stale*: shown, never ranked.
Bytes verified before, under the same grader, dependencies and rules, are not recomputed
again (the verification cache: :mod:`grader.publish.verified`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__, escape
from grader.analysis.scope import SLUG, SUBMISSIONS, all_submissions
from grader.config import Rules
from grader.errors import ConfigError, GraderError, Violation
from grader.publish import verified
from grader.result import build, dependencies, jsonfile, verify

REJECTED = "_rejected"  # the workload folder of a result rejected before its workload was read
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
WORKLOAD = re.compile(r"[a-z0-9_]{1,64}")
STORED_WORKLOAD = re.compile(f"{WORKLOAD.pattern}|{REJECTED}")


@dataclass(frozen=True)
class Entry:
    path: Path
    doc: dict
    stale: str | None  # why the entry cannot be ranked with the others, or None

    # Read tens of thousands of times while ranking: computed once (the doc is not changed).
    @functools.cached_property
    def team(self) -> str:
        return self.doc["submission"]["team"]

    @functools.cached_property
    def workload(self) -> str:
        return self.doc["submission"]["workload"]

    @functools.cached_property
    def graded(self) -> bool:
        return self.doc["verdict"]["status"] == "graded"

    @functools.cached_property
    def current(self) -> bool:
        """By this grader, with its dependencies, under these rules: an entry that is ranked."""
        return self.graded and self.stale is None


def stale_reason(doc: dict, rules: Rules) -> str | None:
    grader = doc.get("grader", {})
    if grader.get("version") != __version__:
        return (
            f"graded by grader {escape.md(grader.get('version'), 20)}, not {__version__}: re-grade"
        )
    # Every verdict, as for the version: a rejection can come from a dependency too (a NumPy
    # that changed what a model computes). A result from before the fingerprint was recorded
    # has none, and is stale: nothing says what it ran with; so is every result where the
    # grader is not installed (run from a bare checkout), as nothing says what it runs with.
    ran_with, runs_with = grader.get("dependencies_sha256"), dependencies.fingerprint()
    if runs_with is None:
        return "this grader is not installed, so its dependencies are unknown: install it (README)"
    if ran_with is None:
        return "graded before results recorded their runtime dependencies: re-grade"
    if ran_with != runs_with:
        return (
            f"graded with other runtime dependencies ({escape.md(ran_with, 13)}, not "
            f"{runs_with[:12]}…: requirements.txt changed since): re-grade"
        )
    if doc["verdict"]["status"] != "graded":
        return None
    if grader.get("rules_sha256") != rules.sha256:
        return "graded under other rules (events.yaml changed since): re-grade"
    if rules.is_final:
        return final_phase_problem(doc, rules)
    return None


def final_phase_problem(doc: dict, rules: Rules) -> str | None:
    """Why a graded result cannot rank in the final phase: it was not ranked on the sealed
    private split (for a generation workload, its perplexity on the course's sealed Q&A
    too); None if it was."""
    improvements = doc["improvements"]
    ranked = improvements.get("accuracy_split") == "private"
    text = (doc.get("measurement") or {}).get("protocol") == "generation"
    if text and ranked and improvements.get("private_perplexity") is not None:
        return None
    if not text and ranked:
        return None
    why = (
        "graded without the private split, and the final phase ranks on it: re-grade "
        "where $OLYMPICS_PRIVATE_KEY is set (the leaderboard workflow)"
    )
    if not text:
        return why
    dataset = rules.workloads.get(doc["submission"]["workload"], {}).get("dataset")
    if dataset in rules.datasets and "private" not in rules.datasets[dataset].get("sealed", {}):
        return (
            f"graded without a sealed Q&A split, and the final phase ranks perplexity on one: "
            f"{escape.md(dataset, 40)} has none in events.yaml (a course seals its own with "
            f"`olympics seal {escape.md(dataset, 40)} --text FILE`)"
        )
    return why.replace("the private split", "the sealed Q&A split")


def place(doc: dict, root: Path, file: str, *, resolve: bool = True) -> Path:
    """Where a result belongs: from its team, workload, time and content, each checked."""
    target = Path(place_name(doc, root, file))
    # the patterns leave no way out of root; this makes sure of it where it matters
    if resolve and not target.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{file}: would be stored outside {root}")
    return target


def place_name(doc: dict, root: Path | str, file: str) -> str:
    """:func:`place` as a string, without resolving: what a stored file's path must be."""
    sub = doc["submission"]
    team, workload = sub["team"], sub["workload"] or REJECTED
    content = sub.get("content_sha256", "")[:12] or "rejected"
    for what, value, rule in (
        ("team", team, SLUG),
        ("workload", workload, STORED_WORKLOAD),
        ("timestamp", doc["timestamp"], TIMESTAMP),
    ):
        if not rule.fullmatch(value):
            raise ConfigError(
                f"{file}: cannot store a result whose {what} is {value!r}",
                [Violation(rule="store_key", file=file, field=f"$.{what}", message="not valid")],
            )
    return f"{root}/{team}/{workload}/{doc['timestamp'].replace(':', '-')}-{content}.json"


def read_verified(path: Path, rules: Rules, root: Path, data: bytes | None = None) -> Entry:
    """Read a stored result: in its place, schema-valid; recomputed when current."""
    doc = jsonfile.read_json(path) if data is None else jsonfile.parse_json(data, path)
    problems = verify.schema_violations(doc, str(path)) if isinstance(doc, dict) else []
    if not isinstance(doc, dict) or problems:
        raise ConfigError(f"{path}: not a valid result", problems)
    check_place(doc, root, path)
    stale = stale_reason(doc, rules)
    if stale is None:
        problems = verify.check(doc, rules, str(path))
        if problems:
            raise ConfigError(
                f"{path}: its numbers do not recompute: it was edited by hand "
                "(delete it and re-grade the submission)",
                problems,
            )
    return Entry(path, doc, stale)


def check_place(doc: dict, root: Path, path: Path | str) -> None:
    if place_name(doc, root, str(path)) != str(path):
        raise ConfigError(
            f"{path}: not where its team, workload and time put it: it was moved or edited "
            "by hand (delete it and re-grade the submission)"
        )


def store(
    source: Path,
    root: Path,
    rules: Rules,
    *,
    tree: Path | None = None,
    teams: set[str] | None = None,
    quick: bool = False,
) -> Path:
    """Check a result and file it under ``root``; return where it went.

    ``tree``: the checkout the result must have been graded from (content hash compared; a
    graded result without one is refused).
    ``teams``: the teams whose results this source may carry (its shard's).
    ``quick``: take a ``--quick`` grade too (tests of the store, whose fixtures are quick
    grades); ``olympics store`` and the pipeline never do.
    """
    doc = jsonfile.read_json(source)
    problems = verify.check(doc, rules, str(source))  # a non-object is a problem too
    if problems:
        raise ConfigError(f"{source}: not a valid result; not stored", problems)
    stale = stale_reason(doc, rules)
    if stale is not None:
        raise ConfigError(f"{source}: {stale}; not stored")
    if (doc.get("measurement") or {}).get("quick") and not quick:
        # A quick grade is a student's rough check (one session; for a generation workload
        # no greedy agreement): stored, it became the team's latest and replaced its full grade.
        raise ConfigError(
            f"{source}: a --quick grade; not stored (the leaderboard ranks full grades: "
            "grade again without --quick)"
        )
    target = place(doc, root, str(source))
    team = doc["submission"]["team"]
    if teams is not None and team not in teams:
        raise ConfigError(f"{source}: a result for {team!r}, which this shard did not grade")
    if tree is not None:
        folder = tree / SUBMISSIONS / team
        claimed = doc["submission"].get("content_sha256")
        if not folder.is_dir():
            raise ConfigError(f"{source}: {SUBMISSIONS}/{team} is not in the checkout")
        if claimed is None and doc["verdict"]["status"] == "graded":
            # the schema allows it (a rejection has no files to hash), a grade never lacks it
            raise ConfigError(
                f"{source}: a graded result without submission.content_sha256, so nothing "
                f"ties it to the files {SUBMISSIONS}/{team} has; not stored (re-grade it with "
                "`olympics grade`, which records the hash of the files it graded)"
            )
        if claimed is not None and claimed != build.content_sha256(folder):
            raise ConfigError(
                f"{source}: graded from other files than {SUBMISSIONS}/{team} has now "
                "(the next run re-grades it)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    jsonfile.write(doc, target)
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
        files = sorted(folder.glob("*.json"))[: len(teams)]
        store_files(files, root, rules, tree=tree, teams=teams, into=done)
    return done


def store_files(
    files: list[Path],
    root: Path,
    rules: Rules,
    *,
    tree: Path | None = None,
    teams: set[str] | None = None,
    into: Stored | None = None,
) -> Stored:
    """:func:`store` each file; a refusal is reported and the rest go on."""
    done = into if into is not None else Stored()
    for file in files:
        try:
            done.paths.append(store(file, root, rules, tree=tree, teams=teams))
        except GraderError as exc:
            done.refused.append(escape.clean(exc.message, 500))
    return done


@contextlib.contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector: reading and ranking 10,000 results makes hundreds
    of thousands of small containers without a cycle among them, and the collector's passes
    over them cost about 40 % of a warm regeneration.

    ``freeze`` (a command about to end): move what was made to the permanent generation
    before the collector resumes, so that its first pass does not walk all of it again
    (about 0.08 s at 10,000 results). Frozen objects are still freed when unreferenced;
    only a cycle among them would stay, and there is none."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def latest(root: Path, rules: Rules, *, cache: bool = True) -> list[Entry]:
    """The latest result of each team and workload, verified (or verified before: the
    cache); sorted by team, workload."""
    with gc_paused():
        return _latest(root, rules, cache=cache)


def _latest(root: Path, rules: Rules, *, cache: bool) -> list[Entry]:
    entries: list[Entry] = []
    if not root.is_dir():
        return entries
    known, stamps = verified.load_cache(root, rules) if cache else ({}, {})
    seen: dict[str, dict] = {}
    seen_stamps: dict[str, list] = {}
    racy = time.time_ns() - 2_000_000_000  # files changed since then are hashed next time too
    for team in sorted(e.path for e in os.scandir(root) if e.is_dir()):
        # the newest file of each workload folder (file names sort by their time)
        newest = {}
        for workload in os.scandir(team):
            if workload.is_dir():
                names = [f.name for f in os.scandir(workload.path) if f.name.endswith(".json")]
                if names:
                    newest[workload.name] = (workload.path, max(names))
        rejected = newest.pop(REJECTED, None)
        if rejected is not None and all(rejected[1] > name for _, name in newest.values()):
            newest = {REJECTED: rejected}  # the team's current files do not even validate
        for workload in sorted(newest):
            folder, name = newest[workload]
            path = f"{folder}/{name}"
            # A file of the same size and modification time as when it was last hashed is
            # taken to hold the same bytes (as git's index does); any edit changes its time.
            info = os.stat(path)
            stamp = stamps.get(path)
            data = None
            if (
                isinstance(stamp, list)
                and stamp[:2] == [info.st_size, info.st_mtime_ns]
                and isinstance(stamp[-1], str)
                and stamp[-1] in known
            ):
                digest = stamp[-1]
            else:
                with open(path, "rb") as f:
                    data = f.read()
                digest = hashlib.sha256(data).hexdigest()
            if info.st_mtime_ns < racy:  # an edit in the same clock tick would keep the time
                seen_stamps[path] = [info.st_size, info.st_mtime_ns, digest]
            if digest in known:
                doc = known[digest]
                check_place(doc, root, path)
                entries.append(Entry(Path(path), doc, stale_reason(doc, rules)))
            else:
                entry = read_verified(Path(path), rules, root, data)  # read above: not cached
                entries.append(Entry(path, verified.slim(entry.doc), entry.stale))
            seen[digest] = entries[-1].doc
    if cache and (seen.keys() != known.keys() or seen_stamps != stamps):
        verified.save_cache(root, rules, seen, seen_stamps)
    return entries


def needs_grade(folder: Path, root: Path, rules: Rules) -> bool:
    """Whether ``submissions/<team>`` lacks a current result for exactly its files: none
    stored, or the latest one is of other files, another grader, other dependencies or other
    rules."""
    newest = sorted((root / folder.name).glob("*/*.json"), key=lambda p: p.name)
    if not newest:
        return True
    try:
        doc = json.loads(newest[-1].read_text(encoding="utf-8"))
        current = doc["submission"].get("content_sha256") == build.content_sha256(folder)
        return not current or stale_reason(doc, rules) is not None
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unreadable: grade it again


def to_regrade(repo: Path, root: Path, rules: Rules) -> list[str]:
    """The submission folders without a current result in the store. Comparing the store with
    the checkout, not one push with the last, re-grades what a skipped or failed run missed."""
    return [f for f in all_submissions(repo) if needs_grade(repo / f, root, rules)]
