"""The pipeline's commands: what the GitHub workflows run (``changed``, ``annotate``,
``comment``, ``plan``, ``store``, ``leaderboard``). ``grader.cli.main`` parses the arguments and
dispatches here; these handlers print and return an exit code, like the students' commands.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.console import Console

from grader import escape, render
from grader.analysis import scope
from grader.config import load_rules, project_root
from grader.errors import EXIT_OK, EXIT_REJECTED, EXIT_RULES, GitHubError, GraderError, Verdict
from grader.publish import comment, github
from grader.result import build, jsonfile, verify


def cmd_changed(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = scope.check(args.repo, args.base, args.head, args.author)
    if not checked.violations:
        for folder in checked.to_grade:
            out.print(folder, soft_wrap=True)
        if not checked.to_grade:
            err.print("no submission to grade: the pull request only removes files")
        return EXIT_OK
    err.print(
        f"[bold red]scope_violation:[/] the pull request changes what it may not "
        f"({len(checked.violations)} problem(s)); a pull request changes one team's "
        "submissions/<team>/ folder only"
    )
    for violation in checked.violations:  # one line each: nothing can start a workflow command
        err.print(f"  ✗ {render.rich_escape(escape.clean(violation, 2000))}", soft_wrap=True)
    if args.json:
        team = checked.teams[0] if len(checked.teams) == 1 else ""
        doc = build.rejected(team, checked.violations, Verdict.SCOPE_VIOLATION)
        jsonfile.write(doc, args.json)
        err.print(f"result written to {args.json}")
    return EXIT_REJECTED


MAX_RESULT_FILES = 10


def result_files(paths: list[Path], err: Console, cap: int | None = MAX_RESULT_FILES) -> list[Path]:
    """The JSON files named, a folder standing for the ``*.json`` in it (hidden ones aside:
    the store's verification cache is not a result); at most ``cap``."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(f for f in path.glob("*.json") if not f.name.startswith("."))
        else:
            files.append(path)
    if cap is not None and len(files) > cap:
        err.print(f"{len(files)} result files: reading the first {cap}")
        files = files[:cap]
    return files


def cmd_plan(args: argparse.Namespace, out: Console, err: Console) -> int:
    from grader.publish import store

    if args.all:
        folders = scope.all_submissions(args.repo)
    else:
        root = args.results_dir or args.repo / "results"
        folders = store.to_regrade(args.repo, root, load_rules())
    dealt = scope.shards(folders, args.shards)
    out.file.write(json.dumps({"count": len(folders), "shards": dealt}) + "\n")
    return EXIT_OK


def cmd_store(args: argparse.Namespace, out: Console, err: Console) -> int:
    from grader.publish import store

    rules = load_rules()
    root = args.results_dir or project_root() / "results"
    if args.plan:
        (artifacts,) = args.results
        done = store.store_shards(args.plan, artifacts, root, rules, args.tree or Path("."))
    else:
        done = store.store_files(result_files(args.results, err, cap=None), root, rules,
                                 tree=args.tree)  # fmt: skip
    for path in done.paths:
        out.print(f"stored {path}", soft_wrap=True)
    for line in done.refused:
        err.print(f"[red]refused:[/] {render.rich_escape(line)}", soft_wrap=True)
    return EXIT_RULES if done.refused else EXIT_OK


def cmd_leaderboard(args: argparse.Namespace, out: Console, err: Console) -> int:
    from grader.publish import historychart, leaderboard, store

    rules = load_rules()
    root = project_root()
    target = args.out or root / "leaderboard.md"
    results = args.results_dir or root / "results"
    with store.gc_paused(freeze=True):  # one pause for reading and rendering (gc_paused)
        entries = store.latest(results, rules)
        files = {target: leaderboard.build(entries, rules, root, target.parent).encode()}
    files |= {target.parent / name: svg for name, svg in leaderboard.charts(entries).items()}
    progress, unreadable = historychart.charts(results, rules, target.parent)  # 2+ grades
    files |= {target.parent / name: svg for name, svg in progress.items()}
    for line in unreadable:  # an older grade: the leaderboard ranks the latest, unharmed
        err.print(f"[yellow]history:[/] {render.rich_escape(line)}", soft_wrap=True)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(leaderboard.write_grade_book(entries, rules), encoding="utf-8")
        out.print(f"grade book written to {args.csv}", soft_wrap=True)
    changed = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
    # a chart of a workload that has no current entry any more is stale too: it goes
    orphans = sorted(set(target.parent.glob("leaderboard-*.svg")) - set(files))
    changed += orphans
    if args.check:
        if changed:
            names = ", ".join(str(p) for p in changed)
            out.print(f"stale: {names}: regenerate with `olympics leaderboard`", soft_wrap=True)
            return EXIT_RULES
        out.print(f"{target} is up to date", soft_wrap=True)
        return EXIT_OK
    target.parent.mkdir(parents=True, exist_ok=True)
    for path in changed:
        if path in orphans:
            path.unlink()
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(files[path])
        os.replace(tmp, path)
    out.print(
        f"{target} regenerated" if changed else f"{target} unchanged",
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_annotate(args: argparse.Namespace, out: Console, err: Console) -> int:
    rules = load_rules()
    for file in result_files(args.results, err):
        doc = jsonfile.read_json(file)
        problems = verify.check(doc, rules, str(file))
        if problems:
            raise GraderError(f"{file}: not a valid result; no annotations", problems)
        team = doc["submission"]["team"]
        config = f"{scope.SUBMISSIONS}/{team}/submission.yaml" if team else None
        for line in render.annotations(doc, config):
            out.file.write(line + "\n")
    return EXIT_OK


def cmd_comment(args: argparse.Namespace, out: Console, err: Console) -> int:
    files = result_files(args.results, err)
    run = github.run_from_event(args.event) if args.event else None
    results = args.results_dir or project_root() / "results"  # the default branch's store
    text = comment.compose(files, load_rules(), run.head_sha if run else None, results)
    for written in comment.save(text, args.markdown):
        err.print(f"comment written to {written}")
    if args.dry_run:
        out.file.write(text)  # exactly the text that would be posted, not re-wrapped
        return EXIT_OK
    if run is not None and run.event != "pull_request":
        err.print(f"the grading run came from a {run.event!r} event, not a pull request")
        return EXIT_OK
    if run is None and args.pr is None:
        raise GraderError("name the pull request: --pr N, or --event $GITHUB_EVENT_PATH")
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise GitHubError(
            "GITHUB_TOKEN is not set: the comment is written above but not posted "
            "(in a workflow: env: GITHUB_TOKEN: ${{ github.token }})"
        )
    repo = run.repo if run else (args.repo or os.environ.get("GITHUB_REPOSITORY"))
    if not repo:
        raise GraderError("name the repository: --repo OWNER/NAME (or set GITHUB_REPOSITORY)")
    api = args.api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    client = github.Client(token, repo, api, args.bot_login)
    if run is not None:
        pull = client.confirm_pr(run)
        if pull is None:
            err.print(
                f"no open pull request has head {run.head_sha[:12]} in {run.head_repo}: it was "
                "closed or has moved on (its newer run will comment); nothing posted"
            )
            return EXIT_OK
        if args.claim:
            comment.check_claim(comment.read_claim(args.claim), pull.number, run.head_sha)
        graded = run.head_sha  # GitHub's record of the commit that was graded, not the PR's head
    else:
        pull = client.get_pull(args.pr)
        graded = pull.head_sha  # no run names the graded commit: the head as it is now
    comment.check_base(pull, client.default_branch())
    # Between fixed commits: a push after the confirmation above changes nothing here.
    compared = client.compare(pull.base_sha, graded)
    refusal = comment.scope_card(compared, run.head_sha if run else None)
    if refusal is not None:
        err.print(f"pull request #{pull.number} at {graded[:12]} changes files outside one "
                  "team's folder: posting its scope_violation instead of the grading run's "
                  "card")  # fmt: skip
        text = refusal
        comment.save(text, args.markdown)
    how, url = client.upsert(pull.number, text)
    err.print(f"{how} the score card on pull request #{pull.number}: {url}")
    return EXIT_OK
