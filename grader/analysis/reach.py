"""The code a model can run: what the code-quality score is measured on.

The modules are those the entrypoint's file imports, and what they import in turn, among the
team's own files (a static import graph: the code is parsed, never imported, and the static
check already refuses an import by a computed name). Within them the *live* code is what an
import runs (module-level statements and blocks, not an ``if __name__ == "__main__":``
block), the entrypoint's function, and each definition, or assignment of a global or class
attribute, whose name the live code mentions (a dunder always: the interpreter calls it; and
``forward``: the grader does). :func:`reach` counts the live code's statements and marks its
lines, on which alone a finding counts. A module never imported, a function or global never
mentioned, a comment, a docstring, a blank line or a ``pass`` adds no statement, so none of
them dilutes the findings; dead code adds no finding either (it is not the model's code).
Names are matched as names, not resolved: a definition that shares its name with anything
the live code mentions (a name, an attribute, or a string that is a name, as ``getattr``
takes, except in ``__all__``) is live: a generous reading, never a strict one. Code the live
code does use counts, whatever it does: padding that runs is left to review (and costs
bytes, which the size score counts).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ALWAYS_CALLED = frozenset({"forward"})  # the grader calls m(x) or m.forward(x)


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
    """A statement of a module or class body, or of a block at that level: a definition or
    assignment (live once one of its names is mentioned) or anything else (live with its
    parent); a block's or class's own unit holds its header, its body statements are its
    children."""

    names: frozenset[str] | None  # None: runs whenever its parent does
    parent: _Unit | None
    nodes: list[ast.AST]
    spans: list[tuple[int, int]]  # first and last line of each part
    children: list[_Unit] = field(default_factory=list)
    live: bool = False
    never: bool = False  # an `if __name__ == "__main__":` block: never run by an import
    strings: bool = True  # whether a string that is a name mentions it (not in __all__)
    statements: int = 0  # counted when it turns live (a block or class counts itself)


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
    units = {file: _units(tree.body, None) for file, tree in trees.items() if tree}
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
    statements = sum(unit.statements for unit in every if unit.live and _runs_code(unit))
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
        for name in unit.names or ():
            waiting.setdefault(name, []).append(unit)
    mentioned: set[str] = {function}
    stack = [u for u in units if _runs(u, mentioned)]
    while stack:
        unit = stack.pop()
        if unit.live or unit.never or (unit.parent is not None and not unit.parent.live):
            continue
        unit.live = True
        for name in _read(unit):
            if name not in mentioned:
                mentioned.add(name)
                stack += waiting.get(name, [])
        stack += [c for c in unit.children if _runs(c, mentioned)]
    return every


def _runs(unit: _Unit, mentioned: set[str]) -> bool:
    """Whether the unit runs once its parent does: a dunder (the interpreter calls it) or
    ``forward`` (the grader does) always, another definition once its name is mentioned."""
    if unit.names is None:
        return True
    return any(
        name in mentioned or name in ALWAYS_CALLED or name[:2] == name[-2:] == "__"
        for name in unit.names
    )


def _runs_code(unit: _Unit) -> bool:
    """A block (if, for, ...) counts as a statement only if one of its own does."""
    block = unit.names is None and unit.children
    return not block or any(c.live and _runs_code(c) for c in unit.children)


def _units(body: list[ast.stmt], parent: _Unit | None) -> list[_Unit]:
    return [_unit(statement, parent) for statement in body]


def _unit(statement: ast.stmt, parent: _Unit | None) -> _Unit:
    first, last = _first_line(statement), statement.end_lineno or statement.lineno
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        return _Unit(frozenset({statement.name}), parent, [statement], [(first, last)])
    assigned = _assigned(statement)
    if assigned:  # a global or class attribute: dead unless something mentions it
        exports = assigned == {"__all__"}  # names `import *` takes: none of them is called
        return _Unit(assigned, parent, [statement], [(first, last)], strings=not exports)
    blocks = _blocks(statement)
    if blocks is None:
        return _Unit(None, parent, [statement], [(first, last)])
    names = frozenset({statement.name}) if isinstance(statement, ast.ClassDef) else None
    header = [
        node
        for name, value in ast.iter_fields(statement)
        if name not in ("body", "orelse", "finalbody", "handlers")
        for node in (value if isinstance(value, list) else [value])
        if isinstance(node, ast.AST)
    ]
    handlers = getattr(statement, "handlers", [])
    header += [h.type for h in handlers if h.type is not None]
    unit = _Unit(names, parent, header, [], statements=1, never=_main_guard(statement))
    unit.children = [child for block in blocks for child in _units(block, unit)]
    inside = {line for child in unit.children for a, b in child.spans for line in range(a, b + 1)}
    unit.spans = [(line, line) for line in range(first, last + 1) if line not in inside]
    return unit


def _blocks(statement: ast.stmt) -> list[list[ast.stmt]] | None:
    """The statement lists of a class or of a block that runs as its module does (if, for,
    while, with, try), or None: any other statement is a whole."""
    if not isinstance(statement, ast.ClassDef | ast.If | ast.For | ast.While | ast.With | ast.Try):
        return None
    handlers = [h.body for h in getattr(statement, "handlers", [])]
    return [
        statement.body,
        *handlers,
        getattr(statement, "orelse", []),
        getattr(statement, "finalbody", []),
    ]


def _assigned(statement: ast.stmt) -> frozenset[str] | None:
    """The names an assignment of plain names binds, or None."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    else:
        return None
    names = []
    for target in targets:
        elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
        if not all(isinstance(e, ast.Name) for e in elements):
            return None
        names += [e.id for e in elements]
    return frozenset(names) or None


def _main_guard(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":``: a script's part, which an import never runs."""
    test = getattr(statement, "test", None)
    return (
        isinstance(statement, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


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


def _read(unit: _Unit) -> set[str]:
    """The names the unit mentions (variables, attributes, names imported from a module,
    strings that are names);
    its statements are counted on the way, a docstring or other lone constant and ``pass``
    not being code."""
    names: set[str] = set()
    for top in unit.nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if unit.strings and node.value.isidentifier():  # getattr(x, "name") too
                    names.add(node.value)
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
