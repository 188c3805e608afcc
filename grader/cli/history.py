"""``olympics history TEAM``: a team's grades over time from the results store, as tables or
as JSON (docs/DESIGN.md, Progress over time). ``grader.cli.main`` parses the arguments and
dispatches here.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.text import Text

from grader import render, renderhistory
from grader.config import load_rules, project_root
from grader.errors import EXIT_OK, EXIT_RULES
from grader.publish import history


def cmd_history(args: argparse.Namespace, out: Console, err: Console) -> int:
    rules = load_rules()
    root = args.results_dir or project_root() / "results"
    found = history.team_history(root, args.team, rules)
    if args.json:
        out.file.write(json.dumps(found.as_json(rules), indent=2, sort_keys=True) + "\n")
    else:
        for shown in renderhistory.terminal_tables(found.team, found.workloads()):
            out.print(shown, soft_wrap=isinstance(shown, Text))
        if not found.grades:
            out.print(f"no readable grade of {found.team} is stored", soft_wrap=True)
    for line in found.problems:
        err.print(f"[red]unreadable:[/] {render.rich_escape(line)}", soft_wrap=True)
    return EXIT_RULES if found.problems else EXIT_OK
