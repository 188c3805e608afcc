"""A fake GitHub REST API on 127.0.0.1: the endpoints PyGithub calls to find a pull request,
compare two commits, and list, create and edit its issue comments, with real HTTP, real
pagination (``Link`` headers), GitHub's cap of 300 files on a comparison, injectable failures
and pushes that land between two requests. A helper for the tests, not a test module.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_fake_token_for_tests"
BOT = "github-actions[bot]"  # the login of a workflow's GITHUB_TOKEN
BASE_SHA = "b" * 40  # the default branch's commit the pull requests start from
MAX_COMPARE_FILES = 300  # GitHub's compare lists at most this many files, and never pages them


@dataclass
class Fault:
    """Answer ``status`` to the next ``times`` requests matching method and path; with
    ``after=True`` the request takes effect first (a gateway that fails after the write)."""

    method: str
    path: str  # a regular expression matched against the path
    status: int
    message: str = "Server Error"
    times: int = 1
    after: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hook:
    """Run ``action`` once each of the next ``times`` requests matching method and path has
    its answer (before it is sent): what someone else does on GitHub between two of the
    client's requests."""

    method: str
    path: str  # a regular expression matched against the path
    action: Callable[[], None]
    times: int = 1


class FakeGitHub:
    def __init__(self, repo: str = "course/olympics") -> None:
        self.repo = repo
        self.default_branch = "main"
        self.pulls: list[dict[str, Any]] = []
        # what ``<base>...<sha>`` lists for a commit made on top of a base commit: its files
        # as GitHub shapes them (the fake's whole git history)
        self.commits: dict[str, list[dict[str, str]]] = {}
        self.hooks: list[Hook] = []
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.per_page_cap = 100
        self._next_id = 1000
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # -- the test's side -------------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_pull(
        self,
        number: int,
        head_sha: str,
        head_ref: str,
        head_repo: str,
        files: list[dict[str, str]] | None = None,
        *,
        base_ref: str = "main",
        base_sha: str = BASE_SHA,
    ) -> None:
        """``files`` as GitHub lists them: filename, status, previous_filename for renames;
        what the head commit changes since ``base_sha``."""
        files = files or [{"filename": "submissions/bravo/model.py", "status": "added"}]
        self.commits[head_sha] = files
        self.pulls.append(
            {
                "number": number,
                "sha": head_sha,
                "ref": head_ref,
                "repo": head_repo,
                "open": True,
                "files": files,
                "base_ref": base_ref,
                "base_sha": base_sha,
            }
        )
        self.comments.setdefault(number, [])

    def push(self, number: int, head_sha: str, files: list[dict[str, str]]) -> None:
        """A new head for the pull request (a commit, or a force-push): ``files`` is what it
        changes since the pull request's base; the old head stays a commit GitHub knows."""
        with self._lock:
            self.commits[head_sha] = files
            (pull,) = [p for p in self.pulls if p["number"] == number]
            pull["sha"], pull["files"] = head_sha, files

    def add_comment(self, number: int, login: str, text: str) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            comment = {"id": self._next_id, "login": login, "body": text}
            self.comments.setdefault(number, []).append(comment)
            return comment

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m in ("POST", "PATCH")]

    # -- JSON as GitHub shapes it ----------------------------------------------------------------
    def _repo_json(self, full_name: str) -> dict[str, Any]:
        owner, name = full_name.split("/")
        return {
            "id": abs(hash(full_name)) % 10**6,
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner, "type": "User"},
            "url": f"{self.url}/repos/{full_name}",
            "html_url": f"https://github.com/{full_name}",
            "default_branch": self.default_branch,
        }

    def _pull_json(self, p: dict[str, Any]) -> dict[str, Any]:
        owner = p["repo"].split("/")[0]
        return {
            "number": p["number"],
            "state": "open" if p["open"] else "closed",
            "url": f"{self.url}/repos/{self.repo}/pulls/{p['number']}",
            "html_url": f"https://github.com/{self.repo}/pull/{p['number']}",
            "head": {
                "sha": p["sha"],
                "ref": p["ref"],
                "label": f"{owner}:{p['ref']}",
                "repo": self._repo_json(p["repo"]),
            },
            "base": {
                "sha": p["base_sha"],
                "ref": p["base_ref"],
                "label": f"{self.repo.split('/')[0]}:{p['base_ref']}",
                "repo": self._repo_json(self.repo),
            },
        }

    def _commit_json(self, sha: str) -> dict[str, Any]:
        return {
            "sha": sha,
            "url": f"{self.url}/repos/{self.repo}/commits/{sha}",
            "html_url": f"https://github.com/{self.repo}/commit/{sha}",
            "commit": {"message": f"commit {sha[:7]}"},
            "parents": [],
        }

    def _compare_json(self, base: str, head: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """GitHub's comparison of ``base...head`` (from their merge base): the files only on
        the first page, at most 300 of them, with no sign that more were left out."""
        files = self.commits[head]
        data = {
            "url": f"{self.url}/repos/{self.repo}/compare/{base}...{head}",
            "html_url": f"https://github.com/{self.repo}/compare/{base}...{head}",
            "status": "ahead" if files else "identical",
            "ahead_by": 1 if files else 0,
            "behind_by": 0,
            "total_commits": 1 if files else 0,
            "base_commit": self._commit_json(base),
            "merge_base_commit": self._commit_json(base),
            "commits": [self._commit_json(head)] if files else [],
        }
        if query.get("page", ["1"])[0] == "1":
            data["files"] = [
                {"sha": "0" * 40, "additions": 1, "deletions": 0, "changes": 1} | f
                for f in files[:MAX_COMPARE_FILES]
            ]
        return data

    def _comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        bot = c["login"].endswith("[bot]")
        return {
            "id": c["id"],
            "body": c["body"],
            "user": {"login": c["login"], "type": "Bot" if bot else "User"},
            "url": f"{self.url}/repos/{self.repo}/issues/comments/{c['id']}",
            "html_url": f"https://github.com/{self.repo}/pull/0#issuecomment-{c['id']}",
            "created_at": "2026-11-23T10:00:00Z",
            "updated_at": "2026-11-23T10:00:00Z",
        }

    # -- the server's side -----------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                fake.requests.append((method, parts.path))
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}") if length else {}
                if self.headers.get("Authorization") not in (f"token {TOKEN}", f"Bearer {TOKEN}"):
                    return self._send(401, {"message": "Bad credentials"})
                fault = fake._fault(method, parts.path)
                if fault is not None and not fault.after:
                    return self._send(fault.status, {"message": fault.message}, fault.headers)
                status, data, headers = fake._route(
                    method, parts.path, parse_qs(parts.query), payload
                )
                fake._after(method, parts.path)  # before the client can make its next request
                if fault is not None:
                    return self._send(fault.status, {"message": fault.message}, fault.headers)
                self._send(status, data, headers)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

        return Handler

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def _after(self, method: str, path: str) -> None:
        with self._lock:
            due = [h for h in self.hooks if h.times > 0 and h.method == method
                   and re.search(h.path, path)]  # fmt: skip
            for hook in due:
                hook.times -= 1
        for hook in due:
            hook.action()

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], payload: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        repo = re.escape(self.repo)
        if method == "GET" and path == "/user":  # what a workflow's GITHUB_TOKEN gets
            return 403, {"message": "Resource not accessible by integration"}, {}
        if method == "GET" and path == f"/repos/{self.repo}":
            return 200, self._repo_json(self.repo), {}
        if method == "GET" and path == f"/repos/{self.repo}/pulls":
            state = query.get("state", ["open"])[0]
            head = query.get("head", [None])[0]
            found = [
                self._pull_json(p)
                for p in self.pulls
                if (state == "all" or p["open"] == (state == "open"))
                and (head is None or head == f"{p['repo'].split('/')[0]}:{p['ref']}")
            ]
            return 200, found, {}
        sha = "[0-9a-f]{40}"
        if m := re.fullmatch(rf"/repos/{repo}/compare/({sha})\.\.\.({sha})", path):
            known_bases = {BASE_SHA} | {p["base_sha"] for p in self.pulls}
            if method != "GET" or m[1] not in known_bases or m[2] not in self.commits:
                return 404, {"message": "Not Found"}, {}
            return 200, self._compare_json(m[1], m[2], query), {}
        if m := re.fullmatch(rf"/repos/{repo}/(pulls|issues)/(\d+)(/files)?", path):
            pulls = [p for p in self.pulls if p["number"] == int(m[2])]
            if method != "GET" or not pulls:
                return 404, {"message": "Not Found"}, {}
            if m[3]:
                return self._page(path, pulls[0]["files"], query, lambda f: f)
            data = self._pull_json(pulls[0])
            data["url"] = f"{self.url}/repos/{self.repo}/{m[1]}/{m[2]}"
            return 200, data, {}
        if m := re.fullmatch(rf"/repos/{repo}/issues/(\d+)/comments", path):
            number = int(m[1])
            if number not in self.comments:
                return 404, {"message": "Not Found"}, {}
            if method == "POST":
                return 201, self._comment_json(self.add_comment(number, BOT, payload["body"])), {}
            return self._page(path, self.comments[number], query, self._comment_json)
        if m := re.fullmatch(rf"/repos/{repo}/issues/comments/(\d+)", path):
            for comments in self.comments.values():
                for c in comments:
                    if c["id"] == int(m[1]) and method == "PATCH":
                        if c["login"] != BOT:
                            return 403, {"message": "Must have admin rights to Repository."}, {}
                        c["body"] = payload["body"]
                        return 200, self._comment_json(c), {}
            return 404, {"message": "Not Found"}, {}
        return 404, {"message": f"Not Found: the fake has no {method} {path}"}, {}

    def _page(
        self, path: str, items: list, query: dict[str, list[str]], shape: Any
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), self.per_page_cap)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page < last:
            links.append(f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{self.url}{path}?per_page={per_page}&page={last}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, [shape(c) for c in chunk], headers
