"""The referee's commands: ``olympics grade`` (score cards, result JSON, the Markdown card)
and ``olympics validate`` (a submission.yaml or a result JSON, checked without grading).
``grader.cli.main`` parses the arguments and dispatches here; these handlers print and return
an exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from grader import render
from grader.config import Rules, load_rules
from grader.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    GraderError,
    SandboxIncomplete,
    Violation,
)
from grader.grade import check_before_running, exit_code, grade
from grader.measure.plan import QUICK, Plan
from grader.result import jsonfile, legacy, verify


def cmd_grade(args: argparse.Namespace, out: Console, err: Console) -> int:
    rules = load_rules()
    plan: Plan = QUICK if args.quick else Plan()
    if args.require_sandbox:
        plan = dataclasses.replace(plan, require_sandbox=True)
    if args.require_instructions:
        plan = dataclasses.replace(plan, require_instructions=True)
    to_stdout = str(args.json) == "-"
    json_stream = out.file
    if to_stdout:
        out = err  # standard output carries the JSON alone
    into_folder = bool(args.json) and not to_stdout and (len(args.paths) > 1 or args.json.is_dir())
    if into_folder:
        args.json.mkdir(parents=True, exist_ok=True)
    codes = []
    cards = []
    for path in args.paths:
        try:
            doc = graded(path, args, rules, plan, err)
            render.terminal(doc, out, rules.hints)
            card = render.markdown(doc, rules.hints)
            if args.json:
                target = (
                    args.json / f"{doc['submission']['team'] or path.name}.json"
                    if into_folder
                    else args.json
                )
                jsonfile.write(doc, target, json_stream)
                if not to_stdout:
                    err.print(f"result written to {target}")
        except SandboxIncomplete:
            raise  # the same for every path: stop before any submission code loads
        except Exception as exc:  # one path's failure never stops the rest
            message = exc.message if isinstance(exc, GraderError) else repr(exc)[:500]
            err.print(f"[bold red]error:[/] could not grade {render.rich_escape(str(path))}: "
                      f"{render.rich_escape(message)}")  # fmt: skip
            codes.append(EXIT_FAILED)  # the grader's failure, never a verdict on the code
            continue
        cards.append(card)
        codes.append(exit_code(doc))
    if args.markdown:
        args.markdown.write_text("\n".join(cards))
    return max(codes, default=EXIT_FAILED)


def graded(path: Path, args: argparse.Namespace, rules: Rules, plan: Plan, err: Console) -> dict:
    """One grade, with a progress bar on a terminal."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(f"grading {path}", total=1)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{path}: {phase}", completed=done, total=total)

        return grade(
            path,
            rules,
            plan,
            quick=args.quick,
            progress=progress,
            seed=args.seed,
            private=args.private,
        )


def cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    rules = load_rules()
    worst = EXIT_OK
    for file in args.files:
        try:
            problems = validate_file(file, rules)
        except GraderError as exc:  # unreadable: report it and go on with the next file
            problems = [Violation(rule="unreadable", file=str(file), message=exc.message)]
        name = render.rich_escape(str(file))
        if problems:
            worst = EXIT_REJECTED
            out.print(f"[red]✗[/] {name}: {len(problems)} problem(s)", soft_wrap=True)
            for p in problems:
                out.print(f"  ✗ {render.rich_escape(str(p))}", soft_wrap=True)
        else:
            out.print(f"[green]✓[/] {name} is valid", soft_wrap=True)
    return worst


def validate_file(file: Path, rules: Rules) -> list[Violation]:
    if file.suffix in (".yaml", ".yml") or file.is_dir():
        return check_before_running(file, rules)[2]
    doc = jsonfile.read_json(file)
    if legacy.is_legacy(doc):
        return legacy.check(doc, rules, str(file))
    return verify.check(doc, rules, str(file))
