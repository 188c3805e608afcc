"""What a pull request may change: one team's folder, ``submissions/<team>/``, and nothing else.

The changes come from git (``git diff --raw -z -M base...head``: what the PR adds on top of
the point where it left the base branch, as GitHub shows it). Each rule broken is a
:class:`Violation` naming the offending path; the CLI turns any into ``scope_violation``
(SECURITY.md, threat 7).

The team is known from the folder. Whose the folder is comes from ``members`` in its
``submission.yaml``: on the base branch for a folder that already exists (a PR cannot add its
author to another team), on the head for a new one (a PR cannot open a folder in someone
else's name). Without ``author`` that check is skipped (a student's local run).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.errors import GitError, GraderError, Violation

SUBMISSIONS = "submissions"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
MAX_YAML_BYTES = 64 * 1024
# git's modes for what a submission must not hold: a symlink and a submodule (a "gitlink").
SYMLINK, GITLINK = "120000", "160000"
STATUS = {"A": "adds", "M": "changes", "D": "deletes", "T": "changes the type of", "R": "renames"}


@dataclass(frozen=True)
class Change:
    status: str  # git's letter: A, M, D, T, R (C never appears: copies are not detected)
    path: str  # the path after the change (the new name of a rename)
    old_path: str | None = None  # the old name of a rename
    mode: str = ""  # the file's mode after the change ("000000" when deleted)

    def describe(self) -> str:
        if self.old_path is not None:
            return f"renames {self.old_path} to {self.path}"
        return f"{STATUS.get(self.status, 'changes')} {self.path}"


@dataclass
class Scope:
    """The teams a PR touches, the folders left to grade, and what it may not do."""

    teams: list[str] = field(default_factory=list)
    to_grade: list[str] = field(default_factory=list)  # posix folders, e.g. submissions/x
    violations: list[Violation] = field(default_factory=list)


def git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError:
        raise GitError("git is not installed: install git to check a pull request") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took over 120 s in {repo}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            f"git {' '.join(args[:2])} failed in {repo}: "
            + shown(detail[-1] if detail else "no output")
        )
    return done.stdout


def changes(repo: Path, base: str, head: str) -> list[Change]:
    """The files the PR changes, from the merge base of ``base`` and ``head`` to ``head``."""
    for rev in (base, head):
        if rev.startswith("-"):  # never let a revision be read as an option
            raise GraderError(f"{rev!r} is not a git revision")
        git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    raw = git(repo, "diff", "--raw", "-z", "-M", f"{base}...{head}")
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    found: list[Change] = []
    i = 0
    while i < len(fields) - 1:  # ':meta' then one path, or two for a rename
        meta = fields[i].lstrip(":").split()
        status = meta[4][0]
        if status in "RC":
            found.append(Change(status, fields[i + 2], fields[i + 1], meta[1]))
            i += 3
        else:
            found.append(Change(status, fields[i + 1], None, meta[1]))
            i += 2
    return found


def blob(repo: Path, rev: str, path: str) -> str | None:
    """A file's text at a revision, or None when the tree has no such file.

    Whether it exists comes from the tree, which even a blobless partial clone holds; a file
    that exists but cannot be read (a blob the clone lacks, a config too big to be one) is an
    error, never taken for "not there": that would make another team's folder look new.
    """
    listed = git(repo, "ls-tree", "-z", "--end-of-options", rev, "--", path)
    if not listed.strip(b"\0"):
        return None
    data = git(repo, "cat-file", "blob", f"{rev}:{path}")
    if len(data) > MAX_YAML_BYTES:
        raise GraderError(f"{path} at {rev[:12]} is larger than a config file may be (64 KiB)")
    return data.decode("utf-8", "replace")


def config_field(text: str | None, key: str) -> object:
    """One top-level value of a submission.yaml, or None if it cannot be read (the grade
    reports why, with its line)."""
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return None
    return data.get(key) if isinstance(data, dict) else None


def shown(path: object) -> str:
    """A path or value as given, with anything unprintable (a newline that could start a
    workflow command in a log) made visible."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def refusal(rule: str, path: str, message: str, fix: str) -> Violation:
    """One scope rule broken at ``path`` (shown escaped: it is the pull request's text)."""
    return Violation(rule=rule, file=shown(path), message=message, fix=fix)


def check_paths(touched: list[Change]) -> tuple[dict[str, list[Change]], list[Violation]]:
    """The rules that need only the paths: the teams touched and what is out of scope.
    Shared by the git check and the comment's check through GitHub's API."""
    violations: list[Violation] = []

    def refuse(*why: str) -> None:
        violations.append(refusal(*why))

    by_team: dict[str, list[Change]] = {}
    for change in touched:
        for path in filter(None, (change.old_path, change.path)):
            parts = path.split("/")
            if len(parts) < 3 or parts[0] != SUBMISSIONS:
                refuse(
                    "outside_submissions",
                    path,
                    f"the pull request {shown(change.describe())}, outside submissions/<team>/",
                    "a pull request may change only its own team's folder: "
                    "revert this file and open a separate pull request for anything else",
                )
            elif not SLUG.fullmatch(parts[1]):
                refuse(
                    "folder_name",
                    path,
                    f"{parts[1]!r} is not a team slug",
                    "name the folder with lowercase letters, digits and inner hyphens",
                )
            else:
                teams = by_team.setdefault(parts[1], [])
                if change not in teams:
                    teams.append(change)
        if change.mode in (SYMLINK, GITLINK):
            kind = "a symlink" if change.mode == SYMLINK else "a submodule"
            refuse(
                "not_a_file",
                change.path,
                f"the pull request adds {kind}",
                "commit the file itself: a submission holds only regular files",
            )
    if len(by_team) > 1:
        for team in sorted(by_team):
            refuse(
                "two_teams",
                f"{SUBMISSIONS}/{team}/",
                f"the pull request touches {len(by_team)} teams' folders: "
                + ", ".join(sorted(by_team)),
                "open one pull request per team",
            )
    return by_team, violations


def check(repo: Path, base: str, head: str, author: str | None = None) -> Scope:
    scope = Scope()
    by_team, scope.violations = check_paths(changes(repo, base, head))
    scope.teams = sorted(by_team)

    def refuse(*why: str) -> None:
        scope.violations.append(refusal(*why))

    for team in scope.teams:
        folder = f"{SUBMISSIONS}/{team}"
        config = f"{folder}/submission.yaml"
        base_text, head_text = blob(repo, base, config), blob(repo, head, config)
        if author is not None:
            check_member(scope, author, config, base_text, head_text)
        if head_text is None:
            if any(c.status != "D" for c in by_team[team]):
                refuse(
                    "no_config",
                    config,
                    "the folder has no submission.yaml after the pull request",
                    "add submission.yaml: copy submissions/example-baseline/submission.yaml",
                )
            continue  # the team withdrew its folder: nothing to grade
        declared = config_field(head_text, "team")
        if isinstance(declared, str) and declared != team:
            refuse(
                "team_mismatch",
                config,
                f"the team is {declared!r} but the folder is {team!r}",
                f"write team: {team}, or move the files to submissions/{shown(declared)}/",
            )
        scope.to_grade.append(folder)
    return scope


def check_member(
    scope: Scope, author: str, config: str, base_text: str | None, head_text: str | None
) -> None:
    """The author must be a member: as the base branch has it for an existing folder, as the
    PR writes it for a new one."""
    existing = base_text is not None
    owners = config_field(base_text if existing else head_text, "members")
    members = owners if isinstance(owners, list) else []
    logins = {m.lower() for m in members if isinstance(m, str)}
    if author.lower() in logins:
        return
    if existing:
        message = f"{author} changes another team's folder: not in its members on the base branch"
        fix = "a member of the team opens the pull request (an instructor edits members on main)"
    else:
        message = f"{author} opens a team folder without being one of its members"
        fix = f"add {author} to members in submission.yaml"
    scope.violations.append(refusal("not_a_member", config, message, fix))


def all_submissions(repo: Path) -> list[str]:
    """Every submission folder in the checkout, as submissions/<slug>."""
    base = repo / SUBMISSIONS
    found = sorted(p.parent.name for p in base.glob("*/submission.yaml")) if base.is_dir() else []
    return [f"{SUBMISSIONS}/{team}" for team in found if SLUG.fullmatch(team)]


MAX_SHARDS = 64  # a GitHub job matrix takes at most 256 jobs


def shards(folders: list[str], count: int) -> list[dict]:
    """Folders dealt round-robin into at most ``count`` shards for a job matrix."""
    count = max(1, min(count, len(folders), MAX_SHARDS))
    dealt = [folders[i::count] for i in range(count)]
    return [{"index": i + 1, "folders": " ".join(d)} for i, d in enumerate(dealt) if d]
