"""The sticky PR comment against a fake GitHub API on 127.0.0.1: real HTTP through PyGithub.

The client's own tests use a recording ``sleep`` and no write pacing; the CLI tests go through
``olympics comment`` exactly as the workflow calls it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from clirun import runner
from fakegithub import BASE_SHA, BOT, TOKEN, FakeGitHub, Fault, Hook
from golden import DATA, check_golden

from grader import __version__
from grader.config import load_rules
from grader.publish import comment, github

RESULTS = [DATA / "result_example_baseline.json", DATA / "result_example_int8.json"]
SHA = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a"
FORK = "student/olympics"


@pytest.fixture
def api() -> FakeGitHub:
    with FakeGitHub() as fake:
        fake.add_pull(7, SHA, "faster-mlp", FORK)
        yield fake


def client(api: FakeGitHub, token: str = TOKEN) -> tuple[github.Client, list[float]]:
    slept: list[float] = []
    made = github.Client(token, api.repo, api.url, sleep=slept.append, throttle=False)
    return made, slept


run = runner(flat_err=True)


def event_file(tmp_path: Path, head_sha: str = SHA, head_repo: str = FORK) -> Path:
    """A workflow_run event as GitHub writes it: a fork's PR carries no PR number."""
    path = tmp_path / "event.json"
    path.write_text(
        json.dumps(
            {
                "action": "completed",
                "repository": {"full_name": "course/olympics"},
                "workflow_run": {
                    "event": "pull_request",
                    "conclusion": "success",
                    "head_sha": head_sha,
                    "head_branch": "faster-mlp",
                    "head_repository": {"full_name": head_repo},
                    "pull_requests": [],
                },
            }
        )
    )
    return path


# -- the sticky comment ---------------------------------------------------------------------------
def test_the_first_grade_creates_the_comment_and_the_next_push_edits_it(api: FakeGitHub) -> None:
    c, _ = client(api)
    assert c.upsert(7, github.MARKER + "\nfirst")[0] == "created"
    how, _ = c.upsert(7, github.MARKER + "\nsecond")
    assert how == "updated"
    assert [x["body"] for x in api.comments[7]] == [github.MARKER + "\nsecond"]
    assert [m for m, _ in api.writes()] == ["POST", "PATCH"]


def test_the_comment_is_found_on_a_later_page(api: FakeGitHub) -> None:
    api.per_page_cap = 30  # the fake pages as GitHub does when asked for more
    for i in range(70):
        api.add_comment(7, "someone", f"comment {i}")
    mine = api.add_comment(7, BOT, github.MARKER + "\nold card")
    for i in range(20):
        api.add_comment(7, "someone", f"later {i}")
    c, _ = client(api)
    assert c.upsert(7, github.MARKER + "\nnew card")[0] == "updated"
    assert mine["body"] == github.MARKER + "\nnew card"
    pages = [p for m, p in api.requests if m == "GET" and p.endswith("/comments")]
    assert len(pages) >= 3
    assert len(api.comments[7]) == 91


def test_a_student_comment_carrying_the_marker_is_not_taken_for_the_bot_s(api: FakeGitHub) -> None:
    forged = api.add_comment(7, "mallory", github.MARKER + "\nI won")
    c, _ = client(api)
    assert c.upsert(7, github.MARKER + "\nthe real card")[0] == "created"
    assert forged["body"] == github.MARKER + "\nI won"
    assert sum(x["login"] == BOT for x in api.comments[7]) == 1


def test_a_502_then_success_posts_once(api: FakeGitHub) -> None:
    api.faults.append(Fault("POST", r"/issues/7/comments$", 502, "Bad Gateway"))
    c, slept = client(api)
    assert c.upsert(7, github.MARKER + "\ncard")[0] == "created"
    assert len(api.comments[7]) == 1
    assert slept == [2.0]  # backed off once


def test_a_502_after_the_write_took_effect_does_not_duplicate(api: FakeGitHub) -> None:
    api.faults.append(Fault("POST", r"/issues/7/comments$", 502, "Bad Gateway", after=True))
    c, _ = client(api)
    how, _ = c.upsert(7, github.MARKER + "\ncard")
    assert how == "updated"  # the retry found the comment the failed POST had made
    assert len(api.comments[7]) == 1


def test_a_secondary_rate_limit_waits_as_told(api: FakeGitHub) -> None:
    api.faults.append(
        Fault(
            "GET",
            r"/issues/7/comments$",
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes.",
            headers={"Retry-After": "7"},
        )
    )
    c, slept = client(api)
    assert c.upsert(7, github.MARKER + "\ncard")[0] == "created"
    assert slept == [7.0]


def test_persistent_5xx_gives_up_with_a_clear_error(api: FakeGitHub) -> None:
    api.faults.append(Fault("GET", r"/issues/7/comments$", 503, "Service Unavailable", times=99))
    c, slept = client(api)
    with pytest.raises(github.GitHubError, match="GitHub answered 503 Service Unavailable"):
        c.upsert(7, github.MARKER + "\ncard")
    assert slept == [2.0, 4.0, 8.0, 16.0]
    assert api.writes() == []


def test_a_token_without_write_permission_is_explained(api: FakeGitHub) -> None:
    api.faults.append(
        Fault("POST", r"/comments$", 403, "Resource not accessible by integration", times=9)
    )
    c, slept = client(api)
    with pytest.raises(github.GitHubError) as caught:
        c.upsert(7, github.MARKER + "\ncard")
    assert "403 Resource not accessible by integration" in caught.value.message
    assert "permissions: pull-requests: write" in caught.value.message
    assert slept == []  # a permission error is not retried
    assert caught.value.exit_code == 3


def test_a_bad_token_is_explained(api: FakeGitHub) -> None:
    c, _ = client(api, token="ghs_wrong")
    with pytest.raises(github.GitHubError, match=r"GitHub refused the token .*401 Bad credentials"):
        c.upsert(7, github.MARKER + "\ncard")


# -- which pull request ---------------------------------------------------------------------------
def test_the_pr_is_found_from_the_run_s_head_in_a_fork(api: FakeGitHub, tmp_path: Path) -> None:
    api.add_pull(8, "0" * 40, "faster-mlp", "someone-else/olympics")  # same branch name
    c, _ = client(api)
    found = c.confirm_pr(github.run_from_event(event_file(tmp_path)))
    assert found == github.Pull(7, SHA, "main", BASE_SHA)  # the base from the same answer


def test_a_pr_that_moved_on_is_not_found(api: FakeGitHub, tmp_path: Path) -> None:
    c, _ = client(api)
    assert c.confirm_pr(github.run_from_event(event_file(tmp_path, head_sha="1" * 40))) is None


def test_a_same_sha_from_another_repository_is_not_the_pr(api: FakeGitHub, tmp_path: Path) -> None:
    c, _ = client(api)
    run = github.run_from_event(event_file(tmp_path, head_repo="mallory/olympics"))
    assert c.confirm_pr(run) is None


def test_an_event_that_is_not_a_workflow_run_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "push.json"
    path.write_text(json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "a/b"}}))
    with pytest.raises(github.GitHubError, match="not a workflow_run event"):
        github.run_from_event(path)


# -- olympics comment, as the workflow runs it ----------------------------------------------------
@pytest.fixture
def env(api: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return summary


@pytest.mark.slow
def test_comment_posts_then_updates_through_the_cli(
    api: FakeGitHub, env: Path, tmp_path: Path
) -> None:
    event = event_file(tmp_path)
    card = tmp_path / "out" / "comment.md"
    argv = ["comment", *map(str, RESULTS), "--event", str(event), "--markdown", str(card)]
    code, _, err = run(*argv)
    assert code == 0, err
    assert "created the score card on pull request #7" in err
    code, _, err = run(*argv)
    assert code == 0 and "updated the score card on pull request #7" in err
    assert len(api.comments[7]) == 1
    posted = api.comments[7][0]["body"]
    assert posted == card.read_text()
    assert posted.startswith(github.MARKER)
    assert "example\\-int8" in posted and "example\\-baseline" in posted
    assert env.read_text().count(github.MARKER) == 2  # the job summary got it each time


def test_a_forged_claim_is_refused_and_nothing_is_posted(
    api: FakeGitHub, env: Path, tmp_path: Path
) -> None:
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"pr": 1, "head_sha": SHA}))
    code, _, err = run(
        "comment", str(RESULTS[0]), "--event", str(event_file(tmp_path)), "--claim", str(claim)
    )
    assert code == 3
    assert "the artifact claims pull request #1" in err and "may be forged" in err
    assert api.writes() == []
    assert github.MARKER in env.read_text()  # the card is kept all the same


def test_a_matching_claim_is_accepted(api: FakeGitHub, env: Path, tmp_path: Path) -> None:
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"pr": 7, "head_sha": SHA}))
    code, _, err = run(
        "comment", str(RESULTS[0]), "--event", str(event_file(tmp_path)), "--claim", str(claim)
    )
    assert code == 0, err
    assert len(api.comments[7]) == 1


def test_a_token_that_may_not_comment_exits_3_with_the_card_kept(
    api: FakeGitHub, env: Path, tmp_path: Path
) -> None:
    api.faults.append(Fault("POST", r"/comments$", 403, "Resource not accessible by integration"))
    card = tmp_path / "comment.md"
    code, _, err = run("comment", str(RESULTS[0]), "--pr", "7", "--repo", api.repo,
                       "--markdown", str(card))  # fmt: skip
    assert code == 3
    assert "the token may not do this" in err and "pull-requests: write" in err
    assert "Traceback" not in err
    assert card.read_text().startswith(github.MARKER)


def test_without_a_token_nothing_is_posted_but_the_card_is_written(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = run("comment", str(RESULTS[0]), "--pr", "7", "--repo", "course/olympics")
    assert code == 3 and "GITHUB_TOKEN is not set" in err
    assert github.MARKER in env.read_text()


def test_dry_run_prints_exactly_the_comment(tmp_path: Path) -> None:
    card = tmp_path / "comment.md"
    code, out, _ = run("comment", *map(str, RESULTS), "--dry-run", "--markdown", str(card))
    assert code == 0
    assert out == card.read_text()


def test_a_run_from_a_push_is_not_commented(api: FakeGitHub, env: Path, tmp_path: Path) -> None:
    event = event_file(tmp_path)
    payload = json.loads(event.read_text())
    payload["workflow_run"]["event"] = "push"
    event.write_text(json.dumps(payload))
    code, _, err = run("comment", str(RESULTS[0]), "--event", str(event))
    assert code == 0 and "not a pull request" in err
    assert api.requests == []


# -- the artifact is untrusted --------------------------------------------------------------------
def test_a_tampered_result_is_not_rendered_as_a_grade(tmp_path: Path) -> None:
    doc = json.loads(RESULTS[1].read_text())
    doc["improvements"]["speedup"] = 50.0
    forged = tmp_path / "result.json"
    forged.write_text(json.dumps(doc))
    text = comment.compose([forged], load_rules())
    assert "result not verified" in text
    assert "50" not in text.split("failed validation")[0]
    assert "speedup" in text


def test_an_oversized_result_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "result.json"
    big.write_text('{"pad": "' + "x" * 9_000_000 + '"}')
    text = comment.compose([big], load_rules())
    assert "result not verified" in text and "byte limit" in text


def test_the_comment_is_capped_at_github_s_limit() -> None:
    text = github.body(["x" * 100_000], "footer")
    assert len(text) <= github.MAX_BODY
    assert text.startswith(github.MARKER) and text.rstrip().endswith("footer")


def test_the_comment_matches_its_golden_file() -> None:
    text = comment.compose(RESULTS, load_rules(), head_sha=SHA)
    text = re.sub(re.escape(__version__.replace("-", "\\-")), "VERSION", text)
    check_golden("comment_two_results.md", text)


def test_a_pr_that_rewrites_the_workflow_gets_its_scope_violation_not_its_grade(
    env: Path, tmp_path: Path
) -> None:
    """A pull_request run uses the PR's own workflow file: a PR that edits grade.yml could
    upload any artifact. GitHub's list of the PR's files (which the PR cannot rewrite) decides."""
    files = [
        {"filename": ".github/workflows/grade.yml", "status": "modified"},
        {"filename": "submissions/bravo/model.py", "status": "added"},
    ]
    with FakeGitHub() as fake:
        fake.add_pull(7, SHA, "faster-mlp", FORK, files=files)
        os.environ["GITHUB_API_URL"] = fake.url
        claim = tmp_path / "claim.json"
        claim.write_text(json.dumps({"pr": 7, "head_sha": SHA}))
        code, _, err = run("comment", str(RESULTS[1]), "--event", str(event_file(tmp_path)),
                           "--claim", str(claim))  # fmt: skip
        assert code == 0, err
        body = fake.comments[7][0]["body"]
    assert "**Rejected** (`scope_violation`)" in body
    assert "`.github/workflows/grade.yml`" in body
    assert "Latency Sprint" not in body and "speedup" not in body


def test_the_graded_commit_s_files_are_compared_renames_included(api: FakeGitHub) -> None:
    api.commits[SHA] = [
        {"filename": f"submissions/bravo/f{i}.py", "status": "added"} for i in range(70)
    ] + [{"filename": "README.md", "status": "renamed", "previous_filename": "submissions/x/a"}]
    c, _ = client(api)
    compared = c.compare(BASE_SHA, SHA)
    assert compared.complete and len(compared.changes) == 71
    assert (compared.changes[-1].status, compared.changes[-1].path,
            compared.changes[-1].old_path) == ("R", "README.md", "submissions/x/a")  # fmt: skip
    assert ("GET", f"/repos/{api.repo}/compare/{BASE_SHA}...{SHA}") in api.requests


def test_a_comparison_at_github_s_300_file_cap_is_incomplete(api: FakeGitHub) -> None:
    """GitHub lists at most 300 files of a comparison and says nothing of the rest."""
    many = [{"filename": f"submissions/bravo/f{i}.npy", "status": "added"} for i in range(299)]
    api.commits[SHA] = many
    c, _ = client(api)
    assert c.compare(BASE_SHA, SHA).complete
    api.commits[SHA] = [*many, {"filename": ".github/workflows/grade.yml", "status": "modified"}]
    api.commits[SHA] += [{"filename": "submissions/bravo/z.npy", "status": "added"}]
    compared = c.compare(BASE_SHA, SHA)
    assert not compared.complete and len(compared.changes) == 300


def test_a_deleted_fork_is_explained(tmp_path: Path) -> None:
    event = event_file(tmp_path)
    payload = json.loads(event.read_text())
    payload["workflow_run"]["head_repository"] = None
    event.write_text(json.dumps(payload))
    with pytest.raises(github.GitHubError, match="head repository is gone"):
        github.run_from_event(event)


FORGED = [  # a graded head that rewrote the workflow, so its artifact may say anything
    {"filename": ".github/workflows/grade.yml", "status": "modified"},
    {"filename": "submissions/bravo/model.py", "status": "added"},
]
REVERTED = [{"filename": "submissions/bravo/model.py", "status": "added"}]
REVERT_SHA = "c" * 40


def test_a_revert_pushed_after_the_pr_was_confirmed_does_not_hide_the_graded_diff(
    env: Path, tmp_path: Path
) -> None:
    """The PR's head is the graded SHA when the comment step confirms it; a revert of
    grade.yml lands before the step asks what the PR changes. The graded commit's own diff
    decides, not whatever the head is by then."""
    with FakeGitHub() as fake:
        fake.add_pull(7, SHA, "faster-mlp", FORK, files=FORGED)
        fake.hooks.append(
            Hook("GET", rf"/repos/{fake.repo}/pulls$", lambda: fake.push(7, REVERT_SHA, REVERTED))
        )
        os.environ["GITHUB_API_URL"] = fake.url
        claim = tmp_path / "claim.json"
        claim.write_text(json.dumps({"pr": 7, "head_sha": SHA}))
        code, _, err = run("comment", str(RESULTS[1]), "--event", str(event_file(tmp_path)),
                           "--claim", str(claim))  # fmt: skip
        assert code == 0, err
        assert fake.pulls[0]["sha"] == REVERT_SHA  # the push did land in between
        body = fake.comments[7][0]["body"]
    assert "**Rejected** (`scope_violation`)" in body
    assert "`.github/workflows/grade.yml`" in body
    assert "Latency Sprint" not in body and "speedup" not in body
    assert f"graded at `{SHA[:12]}`" in body  # the card says which commit it judged


def test_a_card_posted_after_the_head_moved_says_which_commit_was_graded(
    api: FakeGitHub, env: Path, tmp_path: Path
) -> None:
    api.hooks.append(
        Hook("GET", rf"/repos/{api.repo}/pulls$", lambda: api.push(7, REVERT_SHA, REVERTED))
    )
    code, _, err = run("comment", str(RESULTS[1]), "--event", str(event_file(tmp_path)))
    assert code == 0, err
    body = api.comments[7][0]["body"]
    assert "Latency Sprint" in body and f"graded at `{SHA[:12]}`" in body
    assert ("GET", f"/repos/{api.repo}/compare/{BASE_SHA}...{SHA}") in api.requests


def test_a_pr_into_another_branch_is_refused_and_nothing_posted(env: Path, tmp_path: Path) -> None:
    """grade.yml grades pull requests into main only: a run of one into another branch came
    from a workflow somebody rewrote, and its card is not the competition's to post."""
    with FakeGitHub() as fake:
        fake.add_pull(7, SHA, "faster-mlp", FORK, base_ref="old-term")
        os.environ["GITHUB_API_URL"] = fake.url
        code, _, err = run("comment", str(RESULTS[1]), "--event", str(event_file(tmp_path)))
        assert fake.writes() == []
    assert code == 2
    assert "pull request #7 is into 'old-term', not the default branch 'main'" in err
    assert "nothing posted" in err and "Traceback" not in err


def test_a_pr_at_github_s_file_cap_gets_a_scope_violation(
    api: FakeGitHub, env: Path, tmp_path: Path
) -> None:
    """300 files inside one folder look in scope, but GitHub lists no more than 300: a 301st
    file outside it would not be seen."""
    api.commits[SHA] = [
        {"filename": f"submissions/bravo/w{i}.npy", "status": "added"} for i in range(300)
    ]
    code, _, err = run("comment", str(RESULTS[1]), "--event", str(event_file(tmp_path)))
    assert code == 0, err
    body = api.comments[7][0]["body"]
    assert "**Rejected** (`scope_violation`)" in body and "300 files or more" in body
    assert "Latency Sprint" not in body


def test_pr_n_judges_the_pr_s_own_base_and_head(api: FakeGitHub, env: Path) -> None:
    api.commits[SHA] = FORGED
    code, _, err = run("comment", str(RESULTS[1]), "--pr", "7", "--repo", api.repo)
    assert code == 0, err
    assert "**Rejected** (`scope_violation`)" in api.comments[7][0]["body"]
    assert ("GET", f"/repos/{api.repo}/compare/{BASE_SHA}...{SHA}") in api.requests
