"""submission.yaml's ``entrypoint``, checked without running it: ``file.py:function``, the
file inside the team's folder (no absolute path, '..' or link out), valid Python, defining
the function at its top level (docs/DESIGN.md, Submission)."""

from __future__ import annotations

import ast
import keyword
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

from grader.yamlfile import Report, display_path, show


def check(report: Report, folder: Path, entrypoint: str) -> None:
    """The file lies inside the folder (no absolute path, '..' or link out), parses, defines."""
    module, _, function = entrypoint.rpartition(":")
    relative, target = PurePosixPath(module), folder / module

    def add(rule: str, expected: str, fix: str, **details: Any) -> None:
        shown = {"expected": expected, "found": show(entrypoint), "fix": fix}
        report.add(rule, ("entrypoint",), **shown, module=module, function=function, **details)

    named = function.isidentifier() and not keyword.iskeyword(function)
    if not named:
        detail = f": {function!r} is not a Python function name"
        fix = "name a function after the colon, e.g. model.py:build_model"
        add("entrypoint_format", "file.py:function", fix, detail=detail)
    if relative.is_absolute() or ".." in relative.parts:
        fix = "name a file inside the folder, relative to it"
        add("entrypoint_outside", "a relative path without '..'", fix, how="lies outside")
        return
    try:
        if not target.resolve().is_relative_to(folder.resolve()):
            fix = "replace the link with the file itself"
            add("entrypoint_outside", "a file inside the folder", fix, how="links out of")
            return
        source = target.read_bytes() if target.is_file() else None
    except OSError:  # a name too long, a link loop, no permission: all mean "not there"
        source = None
    if source is None:
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))
        fix = "fix the name or add the file; .py files here: " + (", ".join(present[:10]) or "none")
        add("entrypoint_missing", "an existing .py file", fix)
        return
    try:
        with warnings.catch_warnings():  # a student's SyntaxWarning is not the grader's error
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(target))
    except SyntaxError as exc:
        shown = {"expected": "valid Python", "found": show((exc.text or "").strip())}
        fix = f"fix it; `python -m py_compile {module}` shows the error"
        where = {"file": display_path(target), "line": exc.lineno}
        report.add("entrypoint_syntax", **where, **shown, fix=fix, module=module, reason=exc.msg)
        return
    except ValueError as exc:  # null bytes, before Python 3.12
        add("entrypoint_syntax", "valid Python", "save it as UTF-8 text", reason=exc)
        return
    if named and not _defines(tree.body, function):
        fix = f"define `def {function}():` at the top level of {module}"
        add("entrypoint_function_missing", f"def {function}(): at module level", fix)


def _defines(body: list[ast.stmt], name: str) -> bool:
    """Whether a module-level statement binds ``name``: def, class, assignment or import."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name == name:
            return True
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.partition(".")[0]) == name for alias in stmt.names
        ):
            return True
    return False
