"""The one module that talks to GitHub, through PyGithub: confirm which pull request a grading
run belongs to, list what its graded commit changes, and post or update the one sticky
score-card comment on it.

Nothing here trusts the grading run's artifact. The pull request comes from the
``workflow_run`` event (GitHub's own record of the run: its head SHA, head repository and
branch), confirmed against the API's list of open pull requests; the artifact's claim is
only compared with it. What the pull request changes is read between fixed commits (the base
the confirmation reported, and the graded head), never from the pull request's current head,
which may have moved since. The comment is found by a hidden marker *and* the bot's own
login across every page of comments, so a student who pastes the marker into a comment of
their own cannot make the bot edit it, and a retried write never posts twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grader.analysis.scope import Change
from grader.errors import GitHubError

MARKER = "<!-- tinytorch-olympics:score-card -->"
DEFAULT_BOT = "github-actions[bot]"  # the login GitHub gives the workflow's GITHUB_TOKEN
MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub caps an event payload at 25 MB
MAX_BODY = 65_536  # GitHub refuses a longer comment body
MAX_COMPARE_FILES = 300  # a comparison lists at most this many files, unpaged, unflagged
ATTEMPTS = 5
MAX_WAIT_S = 120.0

T = TypeVar("T")
# GitHub's file statuses, as git's letters
STATUS_LETTER = {"added": "A", "removed": "D", "modified": "M", "renamed": "R", "changed": "T"}


@dataclass(frozen=True)
class Run:
    """The grading run, as the ``workflow_run`` event describes it (trusted: GitHub wrote it)."""

    repo: str  # the base repository, owner/name
    head_sha: str
    head_repo: str  # owner/name of the PR's repository (a fork, or the base itself)
    head_branch: str
    event: str  # the event that started the grading run; only pull_request is commented


@dataclass(frozen=True)
class Pull:
    """A pull request as one answer of the API gave it: fixed SHAs, whatever is pushed later."""

    number: int
    head_sha: str
    base_ref: str  # the branch it would merge into
    base_sha: str  # that branch's commit as GitHub last recorded it for the pull request


@dataclass(frozen=True)
class Comparison:
    """What ``base...head`` changes (from their merge base), as GitHub's compare lists it."""

    base_sha: str
    head_sha: str
    changes: list[Change]
    complete: bool  # False when GitHub listed its maximum of files: more may be left out


def run_from_event(path: Path) -> Run:
    """Read ``$GITHUB_EVENT_PATH`` of a ``workflow_run`` event."""
    try:
        if path.stat().st_size > MAX_EVENT_BYTES:
            raise GitHubError(f"{path}: larger than a GitHub event can be")
        payload = json.loads(path.read_text(encoding="utf-8"))
        run = payload["workflow_run"]
        if run.get("head_repository") is None:
            raise GitHubError(
                f"{path}: the grading run's head repository is gone (a deleted fork): "
                "there is no pull request to comment on"
            )
        return Run(
            repo=str(payload["repository"]["full_name"]),
            head_sha=str(run["head_sha"]),
            head_repo=str(run["head_repository"]["full_name"]),
            head_branch=str(run["head_branch"]),
            event=str(run["event"]),
        )
    except OSError as exc:
        raise GitHubError(f"{path}: cannot read the event: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GitHubError(f"{path}: the event is not JSON: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise GitHubError(
            f"{path}: not a workflow_run event (no {exc}); run this in a workflow triggered "
            "by `on: workflow_run`, or name the pull request with --pr"
        ) from None


def body(cards: list[str], footer: str = "") -> str:
    """The comment: the marker, the cards, a footer; capped at what GitHub accepts."""
    text = "\n---\n\n".join(cards)
    note = "\n\n*The score card is longer than a comment may be: the job summary has all of it.*\n"
    tail = f"\n{footer}\n" if footer else ""
    room = MAX_BODY - len(MARKER) - len(tail) - len(note) - 1
    if len(text) > room:
        text = text[:room] + note
    return f"{MARKER}\n{text}{tail}"


def explain(exc: Exception, doing: str) -> GitHubError:
    """A sentence that says what went wrong and what to change."""
    from github import GithubException

    if not isinstance(exc, GithubException):
        return GitHubError(f"GitHub could not be reached while {doing}: {exc}")
    message = (exc.data or {}).get("message", "") if isinstance(exc.data, dict) else ""
    detail = f"{exc.status} {message}".strip()
    if exc.status == 401:
        return GitHubError(
            f"GitHub refused the token while {doing} ({detail}): set GITHUB_TOKEN to the "
            "workflow's token (env: GITHUB_TOKEN: ${{ github.token }})"
        )
    if exc.status == 403:
        return GitHubError(
            f"the token may not do this while {doing} ({detail}): the commenting job needs "
            "`permissions: pull-requests: write`, and the repository's Settings → Actions → "
            "Workflow permissions must allow it"
        )
    if exc.status == 404:
        return GitHubError(
            f"not found while {doing} ({detail}): check the repository name, and that the "
            "token can see it"
        )
    return GitHubError(f"GitHub answered {detail} while {doing}")


def transient(exc: Exception) -> float | None:
    """Seconds to wait before trying again, or None if trying again cannot help."""
    from github import GithubException
    from requests import RequestException

    if isinstance(exc, RequestException):
        from requests import ConnectionError, Timeout

        return 0.0 if isinstance(exc, (ConnectionError, Timeout)) else None
    if not isinstance(exc, GithubException):
        return None
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else ""
    rate_limited = exc.status == 429 or (
        exc.status == 403 and ("rate limit" in message.lower() or "retry-after" in headers)
    )
    if exc.status >= 500 or rate_limited:
        try:
            if "retry-after" in headers:
                return min(float(headers["retry-after"]), MAX_WAIT_S)
            if headers.get("x-ratelimit-remaining") == "0":  # the primary limit: wait for reset
                return min(max(float(headers["x-ratelimit-reset"]) - time.time(), 0), MAX_WAIT_S)
        except (KeyError, ValueError):
            pass
        return 0.0
    return None


def pull(p: Any) -> Pull:
    """A PyGithub pull request as the fields the pipeline relies on, read once."""
    return Pull(number=p.number, head_sha=p.head.sha, base_ref=p.base.ref, base_sha=p.base.sha)


class Client:
    """PyGithub with the retries and the sticky-comment logic of the pipeline."""

    def __init__(
        self,
        token: str,
        repo: str,
        api_url: str = "https://api.github.com",
        bot_login: str = DEFAULT_BOT,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 2.0,
        attempts: int = ATTEMPTS,
        throttle: bool = True,
    ) -> None:
        try:
            from github import Auth, Github
        except ImportError:
            raise GitHubError(
                "PyGithub is not installed: pip install 'tinytorch-olympics-grader[github]'"
            ) from None
        pace: dict[str, Any] = {}
        if not throttle:  # GitHub asks for a pause between writes; a local fake does not
            pace = {"seconds_between_requests": None, "seconds_between_writes": None}
        # retry=None: this class retries whole steps, re-reading the comments first, so a
        # write that failed after it took effect is not made twice.
        self.gh = Github(
            auth=Auth.Token(token), base_url=api_url, retry=None, timeout=30, lazy=True, **pace
        )
        self.repo_name = repo
        self.bot_login = bot_login
        self.sleep = sleep
        self.backoff_s = backoff_s
        self.attempts = attempts
        self.waits: list[float] = []

    def retrying(self, doing: str, step: Callable[[], T]) -> T:
        from github import GithubException
        from requests import RequestException

        for attempt in range(1, self.attempts + 1):
            try:
                return step()
            except (GithubException, RequestException) as exc:
                wait = transient(exc)
                if wait is None or attempt == self.attempts:
                    raise explain(exc, doing) from None
                wait = max(wait, self.backoff_s * 2 ** (attempt - 1))
                self.waits.append(wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _repo(self) -> Any:
        return self.gh.get_repo(self.repo_name)

    def default_branch(self) -> str:
        return self.retrying(
            f"reading the default branch of {self.repo_name}", lambda: self._repo().default_branch
        )

    def confirm_pr(self, run: Run) -> Pull | None:
        """The open pull request whose head is the run's head SHA in the run's head
        repository, or None if there is none (the PR moved on: a newer run will comment).
        Its base comes from the same answer that showed the head."""
        owner = run.head_repo.split("/")[0]

        def find() -> list[Pull]:
            pulls = self._repo().get_pulls(state="open", head=f"{owner}:{run.head_branch}")
            return [
                pull(p)
                for p in pulls
                if p.head.sha == run.head_sha
                and p.head.repo is not None
                and p.head.repo.full_name == run.head_repo
            ]

        found = self.retrying(f"looking up the pull request of {run.head_sha[:12]}", find)
        if len(found) > 1:
            raise GitHubError(
                f"{len(found)} open pull requests have head {run.head_sha[:12]}: "
                + ", ".join(f"#{p.number}" for p in found)
            )
        return found[0] if found else None

    def get_pull(self, number: int) -> Pull:
        """Pull request ``number`` as it is now (``--pr``: no graded head is known)."""
        return self.retrying(
            f"reading pull request #{number}", lambda: pull(self._repo().get_pull(number))
        )

    def compare(self, base_sha: str, head_sha: str) -> Comparison:
        """The files ``head_sha`` changes since its merge base with ``base_sha``: the scope
        check a pull request cannot rewrite (it does not run in its workflow), of the very
        commit that was graded. GitHub lists at most 300 files and does not page them."""

        def files() -> Comparison:
            compared = self._repo().compare(base_sha, head_sha)
            listed = compared.raw_data.get("files")  # no list at all is not "no changes"
            changes = [
                Change(
                    STATUS_LETTER.get(f.status, "M"),
                    f.filename,
                    f.previous_filename if f.status == "renamed" else None,
                )
                for f in (compared.files if listed is not None else [])
            ]
            complete = listed is not None and len(listed) < MAX_COMPARE_FILES
            return Comparison(base_sha, head_sha, changes, complete)

        return self.retrying(f"comparing {base_sha[:12]}...{head_sha[:12]}", files)

    def find_comment(self, number: int) -> Any:
        """The bot's sticky comment on the PR, or None; every page is read."""
        issue = self._repo().get_issue(number)
        for comment in issue.get_comments():
            mine = comment.user is not None and comment.user.login == self.bot_login
            if mine and (comment.body or "").startswith(MARKER):
                return comment
        return None

    def upsert(self, number: int, text: str) -> tuple[str, str]:
        """Edit the sticky comment, or create it: ("updated" | "created", its URL)."""

        def step() -> tuple[str, str]:
            comment = self.find_comment(number)
            if comment is not None:
                comment.edit(text)
                return "updated", comment.html_url
            created = self._repo().get_issue(number).create_comment(text)
            return "created", created.html_url

        return self.retrying(f"posting the score card on pull request #{number}", step)
