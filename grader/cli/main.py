"""``olympics``: the command line. Text in, text out; the only module that exits.

Callable in-process with injected streams: ``main(argv, stdout, stderr)``. This module holds
the parser, each command's arguments registered with its handler (``add_command``), and the
exit handling; the handlers live by what they do: ``grading`` (grade, validate), ``info``
(rules), ``scaffold`` (init), ``datasets`` (data, seal), ``pipeline`` (the workflows'
commands) and ``history`` (history).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from grader import __version__, render
from grader.cli.datasets import cmd_data, cmd_seal
from grader.cli.grading import cmd_grade, cmd_validate
from grader.cli.history import cmd_history
from grader.cli.info import cmd_rules
from grader.cli.pipeline import (
    cmd_annotate,
    cmd_changed,
    cmd_comment,
    cmd_leaderboard,
    cmd_plan,
    cmd_store,
)
from grader.cli.scaffold import cmd_init
from grader.errors import EXIT_OK, EXIT_REJECTED, GraderError
from grader.publish.github import DEFAULT_BOT


def add_results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="+", type=Path, metavar="RESULT", help="a result JSON, or a folder of them"
    )


Handler = Callable[[argparse.Namespace, Console, Console], int]
Subparsers = Any  # argparse's _SubParsersAction, private to argparse


def add_command(
    sub: Subparsers, name: str, handler: Handler, **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand's parser, registered with the handler that runs it: the two cannot drift
    apart (``main`` runs ``args.handler``)."""
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="olympics", description="TinyTorch Olympics grader: a referee for NumPy models."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def add_grade(sub: Subparsers) -> None:
    g = add_command(
        sub,
        "grade",
        cmd_grade,
        help="grade submissions and print their score cards",
        description="Grade submissions. Exit 0: graded and every rule met; "
        "1: graded with a rule not met; 2: rejected.",
    )
    g.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a submission folder (or its submission.yaml)",
    )
    g.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="write the result JSON here (a folder, with several PATHs; '-': standard "
        "output, and the score card goes to standard error)",
    )
    g.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also write the Markdown score card (the PR comment) here",
    )
    g.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds: a rough number in seconds, for iterating",
    )
    g.add_argument("--seed", type=int, help="fix the input noise (default: fresh each run)")
    g.add_argument(
        "--private",
        action="store_true",
        help="also score the sealed private split (needs $OLYMPICS_PRIVATE_KEY; "
        "phase: final in events.yaml does this on its own)",
    )
    g.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to grade (exit 3) where a sandbox layer cannot start, before any "
        "submission code is loaded",
    )
    g.add_argument(
        "--require-instructions",
        action="store_true",
        help="fail (exit 3) where a full grade cannot count instructions under valgrind "
        "(not installed, or a counted run failed) instead of grading without the count",
    )


def add_validate(sub: Subparsers) -> None:
    v = add_command(
        sub, "validate", cmd_validate, help="validate a submission.yaml or a result JSON"
    )
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")


def add_rules(sub: Subparsers) -> None:
    r = add_command(
        sub, "rules", cmd_rules, help="print the events and workloads as the rules stand"
    )
    r.add_argument("event", nargs="?", help="show one event only")
    r.add_argument("--json", action="store_true", help="machine-readable output")


def add_init(sub: Subparsers) -> None:
    i = add_command(
        sub,
        "init",
        cmd_init,
        help="start a submission from a workload's baseline",
        description="Write submissions/TEAM/ from the workload's baseline: its model files "
        "(grades out of the box), submission.yaml, the TinyTorch adapter in a comment (for a "
        "generation workload also adapter.py), and a README template for the technical "
        "report. Never overwrites.",
    )
    i.add_argument("team", metavar="TEAM", help="the team's slug, e.g. speed-demons")
    i.add_argument("--workload", required=True, metavar="W", help="see `olympics rules`")
    i.add_argument(
        "--event", dest="events", action="extend", nargs="+", required=True, metavar="E",
        help="the events to enter (--event a b, or --event a --event b)",
    )  # fmt: skip
    i.add_argument(
        "--member", dest="members", action="extend", nargs="+", required=True, metavar="LOGIN",
        help="the team members' GitHub logins (at least yours)",
    )  # fmt: skip


def add_changed(sub: Subparsers) -> None:
    c = add_command(
        sub,
        "changed",
        cmd_changed,
        help="list the submissions a pull request touches; refuse one that touches anything else",
        description="List the submission folders changed between the merge base of BASE and "
        "HEAD, and HEAD, one per line. Exit 2 (scope_violation) if the changes reach outside "
        "one team's folder.",
    )
    c.add_argument("--base", required=True, metavar="REV", help="the branch the PR targets")
    c.add_argument("--head", required=True, metavar="REV", help="the PR's head commit")
    c.add_argument(
        "--author",
        metavar="LOGIN",
        help="the PR author's GitHub login: must be a member of the team it changes",
    )
    c.add_argument("--repo", type=Path, default=Path("."), metavar="DIR", help="the git checkout")
    c.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="on refusal, write a rejected result (scope_violation) here for the PR comment",
    )


def add_plan(sub: Subparsers) -> None:
    pl = add_command(
        sub,
        "plan",
        cmd_plan,
        help="the submissions to re-grade, dealt into shards (a GitHub job matrix)",
        description="Print JSON {count, shards: [{index, folders}]}: the submissions whose "
        "latest stored result is missing, of other files, or from another grader or rules "
        "(or, with --all, every submission), dealt round-robin into at most N shards.",
    )
    pl.add_argument("--all", action="store_true", help="every submission")
    pl.add_argument("--shards", type=int, default=4, metavar="N", help="at most N (default 4)")
    pl.add_argument("--repo", type=Path, default=Path("."), metavar="DIR")
    pl.add_argument("--results-dir", type=Path, metavar="DIR", help="default: results/")


def add_store(sub: Subparsers) -> None:
    st = add_command(
        sub,
        "store",
        cmd_store,
        help="validate result JSON and file it in the results folder",
        description="Validate each result (schema, every derived number recomputed, this "
        "grader and rules) and file it as results/<team>/<workload>/<timestamp>-<content>.json; "
        "the history stays. A refused file is reported and the others go on (exit 1).",
    )
    add_results(st)
    st.add_argument("--results-dir", type=Path, metavar="DIR", help="default: results/")
    st.add_argument(
        "--tree",
        type=Path,
        metavar="DIR",
        help="the checkout: each result must be of the files submissions/<team> has there",
    )
    st.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="the plan's JSON: RESULT is then the folder of the shards' artifacts "
        "(results-<index>/), each shard's results taken only for its own teams",
    )


def add_leaderboard(sub: Subparsers) -> None:
    lb = add_command(
        sub,
        "leaderboard",
        cmd_leaderboard,
        help="regenerate leaderboard.md from the stored results",
        description="Rank the latest stored result of each team per workload and event. "
        "--check: exit 1 if the file is not what regenerating would write.",
    )
    lb.add_argument("--results-dir", type=Path, metavar="DIR", help="default: results/")
    lb.add_argument("--out", type=Path, metavar="FILE", help="default: leaderboard.md")
    lb.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    lb.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write the grade book: a row per team, member, workload and event",
    )


def add_annotate(sub: Subparsers) -> None:
    a = add_command(
        sub,
        "annotate",
        cmd_annotate,
        help="print GitHub annotations (::error file=…,line=…::) for result JSON",
        description="Print one GitHub workflow command per problem in the results: each "
        "violation on its file and line, each event not qualified on the submission.yaml.",
    )
    add_results(a)


def add_comment(sub: Subparsers) -> None:
    m = add_command(
        sub,
        "comment",
        cmd_comment,
        help="render the PR comment from result JSON and post or update it",
        description="Render the score card from result JSON files (validated and recomputed: "
        "they are untrusted), write it to --markdown and the job summary, then post it as the "
        "one sticky comment on the pull request (token from $GITHUB_TOKEN), or its "
        "scope_violation if the graded commit reaches outside one team's folder. Exit 2 for a "
        "pull request into another branch than the default one (nothing posted), 3 if GitHub "
        "could not be reached or refused.",
    )
    add_results(m)
    m.add_argument("--markdown", type=Path, metavar="FILE", help="write the comment here first")
    m.add_argument("--dry-run", action="store_true", help="print the comment; post nothing")
    which = m.add_mutually_exclusive_group()
    which.add_argument("--pr", type=int, metavar="N", help="the pull request to comment on")
    which.add_argument(
        "--event",
        type=Path,
        metavar="FILE",
        help="a workflow_run event ($GITHUB_EVENT_PATH): the PR is found from the run's head",
    )
    m.add_argument(
        "--claim",
        type=Path,
        metavar="FILE",
        help="the grading run's own claim {pr, head_sha}: must agree with the PR found",
    )
    m.add_argument("--results-dir", type=Path, metavar="DIR",
                   help="the store of the team's earlier grades (default: results/)")  # fmt: skip
    m.add_argument("--repo", metavar="OWNER/NAME", help="default: $GITHUB_REPOSITORY")
    m.add_argument("--api-url", metavar="URL", help="default: $GITHUB_API_URL or api.github.com")
    m.add_argument(
        "--bot-login",
        default=DEFAULT_BOT,
        metavar="LOGIN",
        help=f"whose comment is the sticky one (default: {DEFAULT_BOT})",
    )


def add_seal(sub: Subparsers) -> None:
    se = add_command(
        sub,
        "seal",
        cmd_seal,
        help="seal a course's own held-out digits or Q&A as the private split of the final phase",
        description="Check a course's own held-out data, encrypt it with the key in "
        "--key-file (a new key is written there, readable by you only, if the file does not "
        "exist; never printed), write the sealed file and print the events.yaml entry and "
        "where the key goes. Digits (--images): an .npz with x: uint8 (N, 784) and y: uint8 "
        "labels; no digit of the public splits, every class present. Q&A (--text): records "
        "`Q: ...` / `A: ...` as in data/tinytalks/splits/test.txt, in the vocabulary, at least "
        "30, none a public record.",
    )
    se.add_argument(
        "name", metavar="WORKLOAD_OR_DATASET", help="e.g. mlp_sprint, digits, or tinytalks"
    )
    what = se.add_mutually_exclusive_group(required=True)
    what.add_argument("--images", type=Path, metavar="FILE", help="the digits' .npz to seal")
    what.add_argument("--text", type=Path, metavar="FILE", help="the Q&A text file to seal")
    se.add_argument(
        "--out", type=Path, required=True, metavar="FILE",
        help="the sealed file, inside the repository, e.g. data/digits/course.npz.fernet",
    )  # fmt: skip
    se.add_argument(
        "--key-file", type=Path, metavar="FILE",
        help="the key, outside the repository (default: ~/olympics-private-DATASET.key)",
    )  # fmt: skip


def add_data(sub: Subparsers) -> None:
    d = add_command(
        sub, "data", cmd_data, help="export a workload's training split (never a test split)"
    )
    d.add_argument("workload")
    d.add_argument("--out", type=Path, required=True, metavar="DIR")


def add_history(sub: Subparsers) -> None:
    h = add_command(sub, "history", cmd_history, help="a team's grades over time, from the store",
        description="Every stored grade of TEAM, per workload, oldest first: date, commit, files, "
        "speedup with its 95 % interval, accuracy (perplexity for a generation workload), size, "
        "instruction ratio. A grade of another grader version, other runtime dependencies or "
        "other rules is marked with what differs. Exit 1 if a stored file cannot be read "
        "(named, with its fix; the others are shown).")  # fmt: skip
    h.add_argument("team", metavar="TEAM", help="the team's slug, as submissions/TEAM")
    h.add_argument("--json", action="store_true", help="machine-readable output")
    h.add_argument("--results-dir", type=Path, metavar="DIR", help="default: results/")


# In the order `olympics --help` lists them.
COMMANDS = (
    add_grade,
    add_validate,
    add_rules,
    add_init,
    add_changed,
    add_plan,
    add_store,
    add_leaderboard,
    add_history,
    add_annotate,
    add_comment,
    add_seal,
    add_data,
)


def main(
    argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    out = Console(file=stdout, highlight=False, soft_wrap=False)
    err = Console(file=stderr, highlight=False, soft_wrap=True)
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage, help or version
        return EXIT_REJECTED if exc.code else EXIT_OK
    try:
        return args.handler(args, out, err)
    except GraderError as exc:
        err.print(f"[bold red]error:[/] {render.rich_escape(exc.message)}")
        for violation in exc.violations:
            err.print(f"  ✗ {render.rich_escape(str(violation))}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
