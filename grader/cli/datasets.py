"""The datasets' commands: ``olympics data`` (a workload's training split, never a test split;
for a text workload, its train and val text with the licence) and ``olympics seal`` (a
course's own held-out digits, or its own Q&A for a text dataset, as the sealed private split
of the final phase; docs/DESIGN.md, Data). ``grader.cli.main`` parses the arguments and
dispatches here.

``grader.data`` is imported inside the handlers: the private split's cryptography loads only
for the command that seals.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from grader.config import Rules, load_rules, project_root
from grader.crosschecks import ARRAYS, TEXT, dataset_kind
from grader.errors import EXIT_OK, GraderError


def cmd_data(args: argparse.Namespace, out: Console, err: Console) -> int:
    from grader.data.workloads import GenerationWorkload, export_text, export_training, get_workload

    rules = load_rules()
    workload = get_workload(rules, args.workload)
    if isinstance(workload, GenerationWorkload):  # train and val text, never test
        names = ", ".join(p.name for p in export_text(rules, workload, args.out))
        out.print(f"training text of {args.workload} written to {args.out}: {names}")
        return EXIT_OK
    target = export_training(rules, workload, args.out)
    out.print(f"training split of {args.workload} written to {target}")
    return EXIT_OK


def cmd_seal(args: argparse.Namespace, out: Console, err: Console) -> int:
    from grader.data import private

    rules = load_rules()
    root = project_root()
    kind = ARRAYS if args.images is not None else TEXT
    dataset = sealed_dataset(rules, args.name, kind)
    key_file = args.key_file or Path(f"~/olympics-private-{dataset}.key")
    if kind == TEXT:
        from grader.data import sealedtext
        from grader.measure.plan import QUICK_GENERATION, GenerationPlan

        walk = GenerationPlan().length + 1
        made = sealedtext.seal_course_text(
            rules, dataset, args.text, args.out, key_file, root, walk
        )
        scored = GenerationPlan().private_records, QUICK_GENERATION.private_records
        print_sealed_text(made, args.out, scored, out)
    else:
        made = private.seal_course_split(rules, dataset, args.images, args.out, key_file, root)
        print_sealed(made, args.out, out)
    print_key(made, out)
    print_next_steps(made, dataset, args.out, root, private.KEY_ENV, out)
    return EXIT_OK


def sealed_dataset(rules: Rules, name: str, kind: str) -> str:
    """The dataset a workload's name or a dataset's own name stands for: one a workload
    uses, of the kind the option names (``--images``: arrays; ``--text``: text)."""
    dataset = rules.workloads.get(name, {}).get("dataset", name)
    if dataset not in rules.datasets or not any(
        w["dataset"] == dataset for w in rules.workloads.values()
    ):
        names = sorted(set(rules.workloads) | set(rules.datasets))
        raise GraderError(f"unknown workload or dataset {name!r}; valid: {', '.join(names)}")
    found = dataset_kind(rules.datasets[dataset])
    if found != kind:
        option = {ARRAYS: "--images FILE (an .npz of digits)", TEXT: "--text FILE (Q&A)"}
        sealable = sorted(n for n, d in rules.datasets.items() if dataset_kind(d) == kind)
        raise GraderError(
            f"dataset {dataset!r} is {found}, and {option[kind].split()[0]} seals datasets of "
            f"kind {kind} ({', '.join(sealable)}): seal {dataset!r} with {option[found]}"
        )
    return dataset


def print_sealed(made: dict[str, Any], out_file: Path, out: Console) -> None:
    """What was sealed, and how even its classes are."""
    per_class = ", ".join(map(str, made["per_class"]))
    out.print(
        f"sealed {made['count']} digits ({per_class} a class) into {out_file}", soft_wrap=True
    )
    fewest, most = min(made["per_class"]), max(made["per_class"])
    if most > 2 * fewest:
        out.print(
            f"note: the classes are uneven ({fewest} to {most} digits): a class with few "
            "digits weighs little in the accuracy",
            soft_wrap=True,
        )


def print_sealed_text(
    made: dict[str, Any], out_file: Path, scored: tuple[int, int], out: Console
) -> None:
    """What was sealed of a course's Q&A, and how much of it a grade scores."""
    count = made["count"]
    full, quick = (min(count, n) for n in scored)
    out.print(
        f"sealed {count} Q&A records into {out_file}; a full grade scores {full} of them "
        f"(a quick one {quick}), the same ones in every grade (drawn from the sealed file's "
        "sha256), never asked greedily and never written into a result",
        soft_wrap=True,
    )


def print_key(made: dict[str, Any], out: Console) -> None:
    out.print(
        f"key: {made['key_file']} ("
        + ("a new key, readable by you only" if made["new_key"] else "the key already there")
        + "; never commit it, never paste it anywhere but the secret below)",
        soft_wrap=True,
    )


def print_next_steps(
    made: dict[str, Any], dataset: str, out_file: Path, root: Path, key_env: str, out: Console
) -> None:
    """The events.yaml entry, where the key goes, and what to commit."""
    target = made["out"].resolve()
    file = target.relative_to(root.resolve()) if target.is_relative_to(root.resolve()) else None
    out.print("\nNext:")
    if file is None:
        file = f"data/{dataset}/{out_file.name}"
        out.print(
            f"0. move {out_file} into the repository as {file} (events.yaml names it by its "
            "path there)",
            soft_wrap=True,
        )
    entry = f"{{file: {file}, sha256: {made['sha256']}, kind: course}}"
    out.print(
        f"1. in events.yaml, under datasets.{dataset}, set the sealed private split (in "
        "place of any there):\n"
        f"     sealed:\n       private: {entry}",
        soft_wrap=True,
        markup=False,
    )
    environment = leaderboard_environment(root)
    out.print(
        f"2. store the key as the secret {key_env} of the GitHub Environment "
        f"{environment!r} (named by .github/workflows/leaderboard.yml): Settings → "
        f"Environments → {environment} → Add secret; or\n"
        f"     gh secret set {key_env} --env {environment} < {made['key_file']}",
        soft_wrap=True,
        markup=False,
    )
    out.print(
        "3. commit the sealed file and events.yaml (never the key); with phase: final the "
        "leaderboard then ranks on the course's own sealed split",
        soft_wrap=True,
    )


def leaderboard_environment(root: Path) -> str:
    """The GitHub Environment whose secrets the leaderboard workflow's grading job reads."""
    try:
        text = (root / ".github" / "workflows" / "leaderboard.yml").read_text()
    except OSError:
        return "olympics-final"
    found = re.search(r"^\s*environment:\s*([\w.-]+)\s*$", text, re.MULTILINE)
    return found.group(1) if found else "olympics-final"
