"""``olympics init``: a new submission folder from a workload's baseline, ready to grade.

The folder gets the baseline's model files (so it grades out of the box, as a copy of the
baseline: a speedup near 1), the workload's ``scaffold_files`` (tinytalks: ``adapter.py``,
whose ``StepAdapter`` gives a whole-sequence model ``reset`` and ``step``), a valid
``submission.yaml``, the adapter for a TinyTorch model in a comment of ``model.py``, and a
README template for the technical report.
``grader.cli.main`` parses the arguments and dispatches to ``cmd_init``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
from pathlib import Path

from rich.console import Console

from grader import render
from grader.analysis.scope import SLUG, SUBMISSIONS
from grader.config import Rules, check_submission, load_rules, project_root
from grader.crosschecks import CLASSIFICATION, GENERATION, event_protocols, protocol
from grader.errors import EXIT_OK, GraderError

LOGIN = r"^(?=.{1,39}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"

ADAPTER = """

# --- Using a model built with your TinyTorch? ----------------------------------------------
# Copy your tinytorch package into this folder (it may import os, sys, time, math, copy,
# typing and warnings, and NumPy), then let build_model return a function that takes and
# returns NumPy arrays; these two lines are the whole adapter:
#
#     net = load_my_tinytorch_model()                       # your model, weights loaded
#     return lambda x: net.forward(Tensor(x)).data          # Tensor in, float32 .data out
"""

STEP_ADAPTER = """

# --- Using a GPT built with your TinyTorch? ------------------------------------------------
# The grader calls reset(batch) and then step(tokens) (see the docstring above). If your
# model only has forward(tokens) -> logits over whole (batch, T) sequences, adapter.py in
# this folder gives it both (it imports NumPy only):
#
#     from adapter import StepAdapter
#     return StepAdapter(load_my_gpt(), context=128)        # in build_model
"""

# What init appends to the entrypoint's file, by the workload's protocol.
ADAPTERS = {CLASSIFICATION: ADAPTER, GENERATION: STEP_ADAPTER}

README = """# {team}: technical report

Workload: **{workload}**. Events: {events}.

## Approach

What you changed from the baseline, and why you expected it to help.

## Techniques

One section per technique you claim in `submission.yaml` (`techniques:`), with the evidence
the grader can see in your files (integer weights, zeros, fewer parameters, …).

## Results

Paste the score card of `olympics grade submissions/{team}` and say what moved.

## What did not work

The ideas you tried and dropped, with their numbers.
"""


def refuse(message: str) -> GraderError:
    return GraderError(message)


def cmd_init(args: argparse.Namespace, out: Console, err: Console) -> int:
    root = course_root()
    rules = load_rules(root / "events.yaml")
    folder = init(args.team, args.workload, args.events, rules, root, args.members)
    for line in ready_lines(typed(folder)):
        out.print(line, soft_wrap=True)  # the lines are broken here, between phrases
    return EXIT_OK


def ready_lines(folder: str) -> list[str]:
    """What init says once the folder is written, as rich markup: the grade command on a
    line of its own, to copy whole, and no other line wider than 80 columns (a terminal's
    usual width) for a folder as ``typed`` shows it under a course's clone. Printed with
    ``soft_wrap``: a console never breaks a line inside the command; a narrower terminal
    folds it for display only, and copying it gives it whole."""
    name = render.rich_escape(folder)
    return [
        f"[green]✓[/] {name} is ready. Grade it with:",
        "",
        f"    olympics grade {render.rich_escape(shlex.quote(folder))}",
        "",
        "Then edit model.py, list your techniques in submission.yaml",
        "and fill in README.md, your technical report.",
    ]


def typed(folder: Path) -> str:
    """``folder`` as the student types it here: relative to the current folder when it lies
    under it (``submissions/TEAM`` from the clone's root), else as found."""
    try:
        return str(folder.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(folder)


def init(
    team: str,
    workload: str,
    events: list[str],
    rules: Rules,
    root: Path,
    members: list[str] | None = None,
) -> Path:
    """Write ``root/submissions/<team>/``; refuse what would not be a valid submission."""
    members = check_entry(team, workload, events, rules, members)
    folder = root / SUBMISSIONS / team
    if folder.exists():
        raise refuse(
            f"{folder} already exists: edit it, or choose another team name "
            "(init never overwrites a submission)"
        )
    folder.mkdir(parents=True)
    try:
        write_folder(folder, root, rules.workloads[workload], team, workload, events, members)
        problems = check_submission(folder, rules)[1]
        if problems:  # a scaffold that would not validate is a bug here: say so, keep nothing
            raise GraderError("the scaffold would not validate; nothing was written", problems)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave half a submission
        raise
    return folder


def check_entry(
    team: str, workload: str, events: list[str], rules: Rules, members: list[str] | None
) -> list[str]:
    """The members, once the team, workload, events and members make a valid entry; else
    the first refusal, saying how to fix it."""
    if not SLUG.fullmatch(team):
        raise refuse(
            f"{team!r} is not a team slug: use lowercase letters, digits and inner hyphens, "
            "at most 40 characters (e.g. speed-demons)"
        )
    if workload not in rules.workloads:
        raise refuse(
            f"unknown workload {workload!r}; the workloads are: " + ", ".join(rules.workloads)
        )
    unknown = [e for e in events if e not in rules.events]
    if unknown or not events:
        what = f"unknown event(s) {', '.join(map(repr, unknown))}" if unknown else "no event"
        raise refuse(f"{what}; the events are: " + ", ".join(rules.events))
    if len(set(events)) != len(events):
        raise refuse("an event is named twice: name each event once")
    kind = protocol(rules.workloads[workload])
    closed = [e for e in events if kind not in event_protocols(rules.events[e])]
    if closed:
        fitting = [e for e, spec in rules.events.items() if kind in event_protocols(spec)]
        raise refuse(
            f"{', '.join(map(repr, closed))} not open to a {kind} workload like {workload}; "
            "its events are: " + ", ".join(fitting)
        )
    if not members:
        raise refuse(
            "name at least one member: --member <your GitHub login> (the pipeline accepts a "
            "pull request only from a member of the team)"
        )
    bad = [m for m in members if not re.fullmatch(LOGIN, m)]
    if bad:
        raise refuse(f"not a GitHub login: {', '.join(map(repr, bad))}")
    return members


def write_folder(
    folder: Path,
    root: Path,
    spec: dict,
    team: str,
    workload: str,
    events: list[str],
    members: list[str],
) -> None:
    """The baseline's model files with the adapter, the workload's scaffold files,
    submission.yaml and the README template."""
    baseline = root / spec["baseline"]
    for name in [*spec["baseline_files"], *spec.get("scaffold_files", ())]:
        shutil.copy(baseline / name, folder / name)
    module = spec["entrypoint"].split(":")[0]
    with open(folder / module, "a", encoding="utf-8") as handle:
        handle.write(ADAPTERS[protocol(spec)])
    quoted = json.dumps  # a quoted string stays a string in YAML: "2024", "yes", "null"
    (folder / "submission.yaml").write_text(
        f"# Your entry. `olympics rules` lists the events and their constraints.\n"
        f"team: {quoted(team)}\n"
        f"members: [{', '.join(map(quoted, members))}]  # GitHub logins, checked\n"
        f"workload: {quoted(workload)}\n"
        f"events: [{', '.join(map(quoted, events))}]\n"
        f"entrypoint: {quoted(spec['entrypoint'])}\n"
        f"techniques: []  # e.g. [int8-quantization, magnitude-pruning]\n"
        f"description: A copy of the {workload} baseline, not optimized yet.\n",
        encoding="utf-8",
    )
    (folder / "README.md").write_text(
        README.format(team=team, workload=workload, events=", ".join(events)),
        encoding="utf-8",
    )


def course_root() -> Path:
    """Where ``submissions/`` goes: ``$OLYMPICS_ROOT``, else the nearest folder at or above
    the current one that holds events.yaml (the student's own clone), else the grader's."""
    if os.environ.get("OLYMPICS_ROOT"):
        return project_root()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "events.yaml").is_file():
            return folder
    return project_root()
