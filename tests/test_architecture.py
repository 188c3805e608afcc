"""The architecture as a checked contract: import-linter reads every import of ``grader/``,
lazy ones inside functions included, against the contracts of ``pyproject.toml``
(``[tool.importlinter]``; README, Development). Offline: nothing is fetched or run but
import-linter on the source files. A contract that no longer holds fails here with
import-linter's own report (the chain of imports, with line numbers); each contract is shown
to fail on a copy of the package with one import added."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli comes with pytest there
    import tomli as tomllib

from grader.config import project_root

ROOT = project_root()
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}
# import-linter's report: one line per contract, "<name> KEPT" or "<name> BROKEN"
STATUS = re.compile(r"^(?P<name>.+) (?P<status>KEPT|BROKEN)\b", re.MULTILINE)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` in ``cwd``: the contracts of its ``pyproject.toml`` on its ``grader/``."""
    if sys.version_info < (3, 11):
        pytest.skip("import-linter needs Python >= 3.11 (the lock installs it there)")
    try:
        importlib.metadata.version("import-linter")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("import-linter is not installed: .ci/run installs the lock")
        pytest.skip("import-linter is not installed (the README's commands install the lock)")
    command = "from importlinter.cli import lint_imports_command as c; c(prog_name='lint-imports')"
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache", "--no-logo"],  # a cache would be left in cwd
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def statuses(report: str) -> dict[str, str]:
    """Each contract's id and KEPT or BROKEN, from import-linter's report."""
    by_name = {contract["name"]: id_ for id_, contract in CONTRACTS.items()}
    return {by_name[m["name"]]: m["status"] for m in STATUS.finditer(report)}


def test_the_contracts_are_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stderr, done.stderr  # a deprecation, say
    assert statuses(done.stdout) == dict.fromkeys(CONTRACTS, "KEPT"), done.stdout


# -- each contract can fail ---------------------------------------------------------------------
LAZY = "\n\ndef _added_for_the_test() -> None:\n    {}\n"
BREAKS = {
    # a child-side module reaching the parent, lazily (inside a function) as a loophole would
    "child-imports-referee": (
        "child/wire.py",
        LAZY.format("from grader.measure import referee"),
        "child",
    ),
    "child-imports-yaml": ("child/guard.py", "\nimport yaml\n", "child-packages"),
    "root-imports-cli": ("__init__.py", "\nfrom grader.cli import main\n", "root"),
    "folder-root-imports-its-module": (
        "child/__init__.py",
        "\nfrom grader.child import wire\n",
        "root",
    ),
    "lower-layer-imports-higher": (
        "result/derive.py",
        LAZY.format("from grader.publish import store"),
        "layers",
    ),
    "siblings-import-each-other": ("grade.py", "\nfrom grader.publish import chart\n", "layers"),
    "module-without-a-layer": ("inputs.py", '"""A module no layer names."""\n', "layers"),
    "folder-module-without-a-layer": (
        "measure/unnamed.py",
        '"""A module no layer names."""\n',
        "layers-measure",
    ),
    "lower-module-in-a-folder-imports-higher": (
        "publish/store.py",
        LAZY.format("from grader.publish import leaderboard"),
        "layers-publish",
    ),
    "stats-imports-errors": ("stats.py", "\nfrom grader import errors\n", "stats"),
    # the cross-checks' one upward import stays safe only while text imports no grader module
    "text-imports-config": ("data/text.py", LAZY.format("from grader import config"), "text"),
    "pygithub-outside-github": ("publish/comment.py", "\nimport github\n", "pygithub"),
}


@pytest.mark.parametrize(("module", "added", "contract"), BREAKS.values(), ids=BREAKS)
def test_a_contract_fails_when_an_import_breaks_it(
    tmp_path: Path, module: str, added: str, contract: str
) -> None:
    shutil.copytree(ROOT / "grader", tmp_path / "grader", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / "grader" / module
    with path.open("a", encoding="utf-8") as file:
        file.write(added)
    done = lint_imports(tmp_path)  # the copy comes first on sys.path there
    assert done.returncode == 1, done.stdout + done.stderr
    assert not done.stderr, done.stderr
    assert statuses(done.stdout)[contract] == "BROKEN", done.stdout
    dotted = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    shown = "grader" if dotted == "__init__" else f"grader.{dotted}"
    assert shown in done.stdout.split("Broken contracts", 1)[1], done.stdout


# -- the contracts agree with each other and with pyproject.toml ---------------------------------
def test_the_child_contract_forbids_every_other_top_level_module() -> None:
    """The child's forbidden list names every top-level module and folder of grader/ but the
    child's own: one added later is not forgotten."""
    package = ROOT / "grader"
    tops = {f"grader.{p.stem}" for p in package.glob("*.py") if p.name != "__init__.py"}
    tops |= {f"grader.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert set(CONTRACTS["child"]["forbidden_modules"]) == tops - {"grader.child"}, (
        "pyproject.toml: the child contract's forbidden_modules are not every other module"
    )
    assert CONTRACTS["child"]["source_modules"] == CONTRACTS["child-packages"]["source_modules"]


def test_every_folder_has_its_own_layers_and_an_import_free_root() -> None:
    folders = {p.parent.name for p in (ROOT / "grader").glob("*/__init__.py")}
    layered = {c["containers"][0] for c in CONTRACTS.values() if c["id"].startswith("layers-")}
    assert layered == {f"grader.{f}" for f in folders}, "pyproject.toml: a folder has no layers"
    roots = set(CONTRACTS["root"]["source_modules"])
    assert roots == {"grader"} | {f"grader.{f}" for f in folders}


def test_the_child_packages_contract_names_every_declared_third_party_package() -> None:
    """Every top-level module installed by a runtime dependency or the github extra, NumPy's
    aside, is forbidden to the child: a dependency added later is not forgotten."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = pyproject["dependencies"] + pyproject["optional-dependencies"]["github"]
    names = {canonicalize_name(Requirement(r).name) for r in declared} - {"numpy"}
    installs: dict[str, set[str]] = {}
    for top, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            installs.setdefault(canonicalize_name(distribution), set()).add(top)
    assert names <= installs.keys(), f"not installed: {sorted(names - installs.keys())}"
    wanted = {top for n in names for top in installs[n] if not top.startswith("_")}
    missing = wanted - set(CONTRACTS["child-packages"]["forbidden_modules"])
    assert not missing, (
        f"pyproject.toml: add {sorted(missing)} to child-packages' forbidden_modules"
    )


# -- sizes ---------------------------------------------------------------------------------------
MAX_LINES = {"module": 400, "class": 250, "function": 60}
# A module may go past these where its docstring says why, on a line starting "Size:".
WAIVER = "Size:"


def oversized(source: str) -> list[str]:
    """What in ``source`` is over the house limits, unless its module docstring waives it."""
    tree = ast.parse(source)
    if WAIVER in (ast.get_docstring(tree) or ""):
        return []
    found = []
    if len(source.splitlines()) > MAX_LINES["module"]:
        found.append(f"the module: {len(source.splitlines())} lines")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES[kind]:
                found.append(f"{kind} {node.name} (line {node.lineno}): {lines} lines")
    return found


def test_no_module_class_or_function_is_over_its_size() -> None:
    over = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "grader").rglob("*.py"))
        if (found := oversized(path.read_text(encoding="utf-8")))
    }
    assert not over, (
        f"over the limits {MAX_LINES} (split it along a seam, or say why in the module's "
        f"docstring on a line starting {WAIVER!r}): {over}"
    )


def test_the_size_check_finds_a_long_function_and_honours_a_waiver() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    long = f"def f():\n{body}"
    assert oversized(long) == ["function f (line 1): 62 lines"]
    assert oversized('"""A module.\n\nSize: one table, read top to bottom."""\n' + long) == []
    assert oversized("x = 1\n" * 401) == ["the module: 401 lines"]
