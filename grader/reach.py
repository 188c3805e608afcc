"""The code a model can run: what the code-quality score is measured on.

The modules are those the entrypoint's file imports, and what they import in turn, among the
team's own files (a static import graph: the code is parsed, never imported, and the static
check already refuses an import by a computed name). Within them the *live* code is every
module-level statement, the entrypoint's function, and each definition whose name the live
code mentions (a method also by being a dunder or ``forward``, which the grader calls).
:func:`reach` counts the live code's statements and marks its lines, on which alone a
finding counts. A module never imported, a function never mentioned, a comment, a docstring,
a blank line or a ``pass`` adds no statement, so none of them dilutes the findings; dead code
adds no finding either (it is not the model's code). Names are matched as names, not
resolved: a definition that shares its name with anything the live code mentions is live (a
generous reading, never a strict one). Code the live code does call counts, whatever it does:
padding that runs is left to review (and costs bytes, which the size score counts).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ALWAYS_CALLED = frozenset({"forward"})  # the grader calls m(x) or m.forward(x)
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Reach:
    """The modules the entrypoint reaches (relative paths), their live statements and the
    lines of each module that live code spans (None: the file does not parse, all count)."""

    files: tuple[str, ...]
    statements: int
    bytes: int
    live_lines: dict[str, frozenset[int] | None]


@dataclass(eq=False)
class _Unit:
    """A module-level statement, a definition, or a class's own statements."""

    name: str | None  # None: runs whenever its parent does (a module-level statement)
    parent: _Unit | None
    nodes: list[ast.AST]
    spans: list[tuple[int, int]]  # first and last line of each part
    children: list[_Unit] = field(default_factory=list)
    live: bool = False
    statements: int = 0  # counted when it turns live (a class counts itself: its nodes
    # hold only its header and own body)


def reach(folder: Path, entrypoint: str, max_bytes: int) -> Reach:
    """The modules reachable from ``entrypoint`` (``file.py:function``), the statements of
    their live code and its lines. Reading stops past ``max_bytes`` of source, counting
    nothing (the caller refuses that). A file that does not parse is reached, adds no
    statement or import, and all its lines count."""
    file, _, function = entrypoint.rpartition(":")
    trees: dict[str, ast.Module | None] = {}
    todo = [_module_name(PurePosixPath(file))]
    size = 0
    while todo:
        name = todo.pop()
        path = _resolve(folder, name)
        if path is None:
            continue
        rel = path.relative_to(folder).as_posix()
        if rel in trees:
            continue
        size += path.stat().st_size
        if size > max_bytes:
            return Reach((*trees, rel), 0, size, {})  # too much to lint: nothing is counted
        trees[rel] = tree = _parse(path)
        parents = name.split(".")
        todo += [".".join(parents[:i]) for i in range(1, len(parents))]  # packages run first
        if tree is not None:
            todo += _imported(tree, name, path.name == "__init__.py")
    units = {file: [_unit(s, None) for s in tree.body] for file, tree in trees.items() if tree}
    every = _mark_live([u for top in units.values() for u in top], function)
    live_lines: dict[str, frozenset[int] | None] = {f: None for f, t in trees.items() if not t}
    for file, top in units.items():
        live_lines[file] = frozenset(
            line
            for unit in _flatten(top)
            if unit.live
            for first, last in unit.spans
            for line in range(first, last + 1)
        )
    statements = sum(unit.statements for unit in every if unit.live)
    return Reach(tuple(sorted(trees)), statements, size, dict(sorted(live_lines.items())))


def _module_name(path: PurePosixPath) -> str:
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(folder: Path, name: str) -> Path | None:
    """The team's file that ``import name`` loads (the folder is first on sys.path), or None."""
    if "" in name.split("."):
        return None
    base = folder.joinpath(*name.split("."))
    for path in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if path.is_file() and path.resolve().is_relative_to(folder.resolve()):
            return path
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a student's SyntaxWarning is not ours
            return ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None


def _imported(tree: ast.Module, module: str, package: bool) -> list[str]:
    """Every module name an import in the tree may load, wherever the import stands."""
    here = module if package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".") if here else []
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([base] if base else [])])
            names.append(base)  # `from x import y`: y may be a module of package x
            names += [f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*"]
    return names


def _mark_live(units: list[_Unit], function: str) -> list[_Unit]:
    """Every unit, the live ones marked: a fixed point over the names live code mentions."""
    waiting: dict[str, list[_Unit]] = {}
    every = _flatten(units)
    for unit in every:
        if unit.name is not None:
            waiting.setdefault(unit.name, []).append(unit)
    mentioned: set[str] = {function}
    stack = [u for u in units if u.name is None or u.name == function]
    while stack:
        unit = stack.pop()
        if unit.live or (unit.parent is not None and not unit.parent.live):
            continue
        unit.live = True
        for name in _read(unit):
            if name not in mentioned:
                mentioned.add(name)
                stack += waiting.get(name, [])
        stack += [c for c in unit.children if c.name is None or _called(c.name, mentioned)]
    return every


def _unit(statement: ast.stmt, parent: _Unit | None) -> _Unit:
    first = _first_line(statement)
    if isinstance(statement, ast.ClassDef):
        own = [s for s in statement.body if not isinstance(s, DEFINITIONS)]
        header = [*statement.bases, *statement.keywords, *statement.decorator_list]
        spans = [(first, max(statement.lineno, _first_line(statement.body[0]) - 1))]
        spans += [(s.lineno, s.end_lineno or s.lineno) for s in own]
        unit = _Unit(statement.name, parent, [*header, *own], spans, statements=1)
        unit.children = [_unit(s, unit) for s in statement.body if isinstance(s, DEFINITIONS)]
        return unit
    span = [(first, statement.end_lineno or statement.lineno)]
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        return _Unit(statement.name, parent, [statement], span)
    return _Unit(None, parent, [statement], span)


def _first_line(statement: ast.stmt) -> int:
    """Its first line, decorators included."""
    return min([d.lineno for d in getattr(statement, "decorator_list", [])] + [statement.lineno])


def _flatten(units: list[_Unit]) -> list[_Unit]:
    out, stack = [], list(units)
    while stack:
        unit = stack.pop()
        out.append(unit)
        stack += unit.children
    return out


def _called(name: str, mentioned: set[str]) -> bool:
    return name in mentioned or name in ALWAYS_CALLED or (name[:2] == name[-2:] == "__")


def _read(unit: _Unit) -> set[str]:
    """The names the unit mentions (variables, attributes, names imported from a module);
    its statements are counted on the way, a docstring or other lone constant and ``pass``
    not being code."""
    names: set[str] = set()
    for top in unit.nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.stmt):
                if isinstance(node, ast.ImportFrom):
                    names.update(alias.name for alias in node.names)
                if not _filler(node):
                    unit.statements += 1
    return names


def _filler(node: ast.stmt) -> bool:
    return isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    )
