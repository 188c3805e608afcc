"""What is checked before any of a submission's code runs.

Two rules, both from ``events.yaml``: the folder holds model and description files only
(no other kind, no links, devices, bytecode or oversized files: ``config_invalid``), and its
code imports nothing outside NumPy and the standard library, nothing the competition
forbids, and no module by a computed name (``import_forbidden``). The code is parsed, never
imported.

:func:`kind` is the one place that says what a file is: the model's files are what its
process gets in its private copy and what its size counts; description files are read by
the grader only.

This is the first layer only: a static check cannot see what ``exec`` or a decoded string
does at run time. The sandbox's audit hook and operating-system limits stand behind it.
"""

from __future__ import annotations

import ast
import os
import stat
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from grader.config import Rules
from grader.errors import Verdict, Violation
from grader.yamlfile import display_path

FORBIDDEN_WHY = (
    "the competition's rules forbid it "
    "(docs/DESIGN.md, Submission: the team's own framework, no escapes)"
)
MODEL, DESCRIPTION = "model", "description"
CONFIG_FILE = "submission.yaml"
BYTECODE_FOLDER = "__pycache__"


def check(folder: Path, rules: Rules) -> tuple[Verdict | None, list[Violation]]:
    """The verdict code and every violation, or (None, []) for a clean folder."""
    files = check_files(folder, rules.data["files"])
    if files:
        return Verdict.CONFIG_INVALID, files
    imports = check_imports(folder, rules.imports)
    return (Verdict.IMPORT_FORBIDDEN, imports) if imports else (None, [])


# -- files --------------------------------------------------------------------------------------
def kind(relative: str, limits: dict) -> str | None:
    """What the file at ``relative`` (a POSIX path inside the folder) is: ``"model"``,
    ``"description"`` or None (not accepted).

    Model files are copied for the model's process, the only files it can read, and make up
    its size; description files (``submission.yaml``, a README, a licence) are read by the
    grader only, so nothing the model uses can hide in them. Nothing inside ``__pycache__``
    is either: Python would run its bytecode instead of the checked source.
    """
    path = PurePosixPath(relative)
    if BYTECODE_FOLDER in path.parts:
        return None
    if relative == CONFIG_FILE:
        return DESCRIPTION
    if path.name.endswith(tuple(limits["model"])):
        return MODEL
    names = {n.upper() for n in limits["description_names"]}
    if path.name.endswith(tuple(limits["description"])) or path.name.upper() in names:
        return DESCRIPTION
    return None


def model_files(folder: Path, limits: dict) -> tuple[str, ...]:
    """The model's files, as sorted POSIX paths inside ``folder``: what its private copy
    holds and what its size counts. Only plain files, links never followed (the static
    check refused links and devices before this is asked)."""
    found = []
    for path in _walk(folder):
        relative = path.relative_to(folder).as_posix()
        if stat.S_ISREG(path.lstat().st_mode) and kind(relative, limits) == MODEL:
            found.append(relative)
    return tuple(sorted(found))


def check_files(folder: Path, limits: dict) -> list[Violation]:
    """Every file that is not a model or description file, or over a size cap."""
    problems: list[Violation] = []
    total = count = 0
    for path in sorted(_walk(folder)):
        info = path.lstat()
        count += 1
        problem = _file_problem(path, path.relative_to(folder).as_posix(), info, limits)
        if problem:
            problems.append(problem)
        elif stat.S_ISREG(info.st_mode):
            total += info.st_size
    shown = display_path(folder)
    if count > limits["max_files"]:
        problems.append(
            _file(
                shown,
                "too_many_files",
                f"holds {count} entries",
                "keep the files the model needs",
                expected=f"at most {limits['max_files']}",
                found=str(count),
            )
        )
    if total > limits["max_folder_bytes"]:
        problems.append(
            _file(
                shown,
                "folder_too_large",
                f"holds {total:,} bytes of files",
                "make the model smaller",
                expected=f"at most {limits['max_folder_bytes']:,} bytes",
                found=f"{total:,}",
            )
        )
    return problems


def _file_problem(
    path: Path, relative: str, info: os.stat_result, limits: dict
) -> Violation | None:
    shown = display_path(path)
    if stat.S_ISLNK(info.st_mode):
        return _file(
            shown, "file_symlink", "is a symbolic link", "replace the link with the file itself"
        )
    if stat.S_ISDIR(info.st_mode):
        if path.name != BYTECODE_FOLDER:
            return None
        return _file(
            shown,
            "file_type",
            "is a bytecode cache, not an accepted kind of file",
            "delete the __pycache__ folder: Python would run its bytecode instead of the"
            " checked source, and nothing of the model may sit in it",
            expected="source, weights and description files",
            found=repr(BYTECODE_FOLDER),
        )
    if not stat.S_ISREG(info.st_mode):
        return _file(
            shown, "file_special", "is not a regular file (a device, pipe or socket)", "remove it"
        )
    if info.st_nlink > 1:
        return _file(
            shown,
            "file_hardlink",
            f"has {info.st_nlink} hard links",
            "replace it with a plain copy",
        )
    if kind(relative, limits) is None:
        accepted = [*limits["model"], *limits["description"], *limits["description_names"]]
        fix = (
            f"keep only the model's files ({', '.join(limits['model'])}) and description"
            f" files ({', '.join([*limits['description'], *limits['description_names']])});"
            " remove or rename it"
        )
        if path.suffix == ".pyc":  # Python would run it instead of its checked source
            fix = "delete it: bytecode is not accepted, only source"
        return _file(
            shown,
            "file_type",
            "is not an accepted kind of file",
            fix,
            expected=", ".join(accepted),
            found=repr(path.suffix or path.name),
        )
    if info.st_size > limits["max_file_bytes"]:
        return _file(
            shown,
            "file_too_large",
            f"is {info.st_size:,} bytes, over the limit",
            "make it smaller (quantize, prune, compress)",
            expected=f"at most {limits['max_file_bytes']:,} bytes",
            found=f"{info.st_size:,}",
        )
    return None


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry below ``folder``, links not followed; a ``__pycache__`` folder is an
    entry, its contents are not (one refusal names it)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs + files:
            yield base / name
        dirs[:] = [d for d in dirs if d != BYTECODE_FOLDER]


def _file(shown: str, rule: str, what: str, fix: str, **extra: str) -> Violation:
    return Violation(rule=rule, file=shown, message=f"{shown} {what}", fix=fix, **extra)


# -- imports -------------------------------------------------------------------------------------
def check_imports(folder: Path, imports: dict) -> list[Violation]:
    """Every import, in every ``.py`` file of the folder, that the rules do not allow."""
    problems: list[Violation] = []
    local = _local_modules(folder)
    for path in sorted(folder.rglob("*.py")):
        shown = display_path(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a student's SyntaxWarning is not ours
                tree = ast.parse(path.read_bytes(), filename=shown)
        except (SyntaxError, ValueError) as exc:
            problems.append(
                Violation(
                    rule="python_syntax",
                    file=shown,
                    line=getattr(exc, "lineno", None),
                    message=f"{shown} is not valid Python: {getattr(exc, 'msg', exc)}",
                    fix="fix the syntax; the file must parse before anything runs",
                )
            )
            continue
        for line, name, how in _imports(tree):
            why = _refusal(name, how, local, imports)
            if why:
                problems.append(
                    Violation(
                        rule="import_forbidden",
                        file=shown,
                        line=line,
                        field=name or how,
                        message=f"{how} {name!r}: {why}" if name else f"{how}: {why}",
                        expected="numpy, the standard library or the team's own modules",
                        found=repr(name) if name else how,
                        fix="remove it; write the model with NumPy (and your own framework)",
                    )
                )
    return problems


def _local_modules(folder: Path) -> set[str]:
    """Top-level names the team's own files provide: ``x.py`` and packages ``x/``."""
    names = {p.stem for p in folder.glob("*.py")}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return names


def _imports(tree: ast.AST) -> Iterator[tuple[int, str | None, str]]:
    """(line, top-level module or None, how) for every import the code can make."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0], "import"
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.lineno, node.module.split(".")[0], "import"
        elif isinstance(node, ast.Call) and _is_dunder_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value.split(".")[0], "__import__ of"
            else:
                yield node.lineno, None, "__import__ with a computed name"
        elif _is_dunder_import(node) and id(node) not in called:
            yield node.lineno, None, "a reference to __import__"


def _is_dunder_import(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "__import__") or (
        isinstance(node, ast.Attribute) and node.attr == "__import__"
    )


def _refusal(name: str | None, how: str, local: set[str], imports: dict) -> str | None:
    """Why this import is refused, or None."""
    if name is None:
        return "modules may only be imported by name, so that they can be checked"
    if name in imports["forbidden"]:
        return FORBIDDEN_WHY
    if name in local or name in imports["allowed"]:
        return None
    if imports["allowed_stdlib"] and name in sys.stdlib_module_names:
        return None
    return "outside NumPy and the standard library"
