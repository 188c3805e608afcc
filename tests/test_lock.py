"""The lock, ``requirements.txt``: in step with ``pyproject.toml`` for CPython 3.10-3.13 on
Linux x86_64, every pin hashed and a wheel, made by the one command the README gives, and
installed with its hashes required by ``.ci/run`` and by every workflow job; under CI, it is
what this environment runs. Offline: the files are read, nothing is resolved or fetched."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

import pytest
import yaml
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli comes with pytest there
    import tomli as tomllib

from grader.config import project_root
from grader.result import dependencies

ROOT = project_root()
LOCK = ROOT / "requirements.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
COMMAND = (
    "uv pip compile pyproject.toml --all-extras --group build --universal --python-version 3.10 "
    "--generate-hashes --only-binary :all: --emit-build-options --no-managed-python "
    "-o requirements.txt"
)
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]


def pins(text: str) -> list[Pin]:
    """The lock's entries: ``name==version [; marker]`` with its ``--hash`` options."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "--")):
            continue
        requirement, *hashes = re.split(r"\s+--hash=", line)
        wanted = Requirement(requirement)
        (spec,) = wanted.specifier  # exactly one, and it must be ==
        assert spec.operator == "==", line
        found.append(
            Pin(canonicalize_name(wanted.name), spec.version, wanted.marker, tuple(hashes))
        )
    return found


PINS = pins(LOCK.read_text(encoding="utf-8"))


def linux(python: str) -> dict[str, str]:
    """The marker environment of CPython ``python`` on Linux x86_64, as GitHub's runners are."""
    return {
        **default_environment(),
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "extra": "",
    }


def pinned(environment: dict[str, str]) -> dict[str, str]:
    """What installing the lock gives in ``environment``: one version per name."""
    chosen: dict[str, str] = {}
    for pin in PINS:
        if pin.marker is None or pin.marker.evaluate(environment):
            assert pin.name not in chosen, f"requirements.txt pins {pin.name} twice here"
            chosen[pin.name] = pin.version
    return chosen


def declared() -> list[tuple[str, Requirement]]:
    """Every requirement pyproject.toml declares, with where: runtime, extras, build group."""
    project = PYPROJECT["project"]
    found = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, listed in project["optional-dependencies"].items():
        found += [(f"optional-dependencies.{extra}", Requirement(r)) for r in listed]
    for group, listed in PYPROJECT["dependency-groups"].items():
        found += [(f"dependency-groups.{group}", Requirement(r)) for r in listed]
    return found


@pytest.mark.parametrize("python", PYTHONS)
def test_the_lock_satisfies_every_declared_requirement(python: str) -> None:
    environment = linux(python)
    chosen = pinned(environment)
    for where, wanted in declared():
        if wanted.marker is not None and not wanted.marker.evaluate(environment):
            continue
        name = canonicalize_name(wanted.name)
        assert name in chosen, (
            f"pyproject.toml {where}: {wanted} is not in requirements.txt for Python {python}: "
            "regenerate the lock (README, Development)"
        )
        assert wanted.specifier.contains(Version(chosen[name]), prereleases=True), (
            f"pyproject.toml {where}: {wanted}, but requirements.txt pins {name}=={chosen[name]} "
            f"for Python {python}: regenerate the lock (README, Development)"
        )


def test_every_pin_is_hashed_and_only_wheels_are_taken() -> None:
    assert len(PINS) > 20
    for pin in PINS:
        assert pin.hashes, f"requirements.txt: {pin.name} has no --hash"
        assert all(SHA256.fullmatch(h) for h in pin.hashes), pin.name
    options = [line for line in LOCK.read_text().splitlines() if line.startswith("--")]
    assert options == ["--only-binary :all:"]  # installing the lock builds nothing


def test_the_lock_is_made_by_the_readme_s_command() -> None:
    head = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert head[0] == "# This file was autogenerated by uv via the following command:"
    assert head[1] == f"#    {COMMAND}"
    assert COMMAND in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_build_group_is_the_build_system_s_requires() -> None:
    assert PYPROJECT["dependency-groups"]["build"] == PYPROJECT["build-system"]["requires"]


# -- installed with the hashes required ---------------------------------------------------------
def pip_installs(script: str) -> list[list[str]]:
    """The arguments of each ``pip install`` in a shell script, in order."""
    found = []
    for command in re.split(r"&&|\n|;", script.replace("\\\n", " ")):
        words = shlex.split(command, comments=True)
        for i in range(len(words) - 1):
            if words[i : i + 2] == ["pip", "install"]:
                found.append(words[i + 2 :])
    return found


def assert_locked(script: str, where: str, checkout: str = ".") -> None:
    """The lock with its hashes, then the grader alone, built by the locked setuptools; the
    only other install allowed is pip's own upgrade (the venv's pip, as the README's)."""
    installs = [a for a in pip_installs(script) if a != ["--quiet", "--upgrade", "pip"]]
    lock = (
        "requirements.txt" if checkout == "." else f"{checkout.removeprefix('./')}/requirements.txt"
    )
    assert installs == [
        ["--require-hashes", "-r", lock],
        ["--no-deps", "--no-build-isolation", "-e", checkout],
    ], f"{where} installs {installs}"


def install_steps() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in job["steps"]:
                if step.get("name", "").startswith("Install"):
                    found.append((f"{path.name} {job_name}: {step['name']}", step))
    return found


def test_ci_installs_the_lock_with_hashes_required() -> None:
    assert_locked((ROOT / ".ci" / "run").read_text(), ".ci/run")


@pytest.mark.parametrize(
    ("where", "step"), install_steps(), ids=[where for where, _ in install_steps()]
)
def test_every_workflow_job_installs_the_lock_with_hashes_required(where: str, step: dict) -> None:
    if step["run"].strip() == "bash .ci/run":
        return  # tests.yml: the test above
    checkout = "./grader" if where.startswith("grade.yml") else "."  # the base branch's grader
    assert_locked(step["run"], where, checkout)


def test_every_job_has_an_install_step() -> None:
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            names = [s.get("name", "") for s in job["steps"]]
            assert any(n.startswith("Install") for n in names), f"{path.name} {job_name}"


def test_the_checker_would_catch_an_open_install() -> None:
    with pytest.raises(AssertionError):
        assert_locked("python -m pip install -e '.[github]'", "x")
    with pytest.raises(AssertionError):
        assert_locked(
            "python -m pip install -r requirements.txt && python -m pip install --no-deps -e .", "x"
        )


# -- what this environment runs -----------------------------------------------------------------
def test_this_environment_runs_the_locked_versions() -> None:
    resolved = dependencies.runtime()
    assert resolved is not None, "the grader is not installed: see the README's commands"
    chosen = pinned(default_environment() | {"extra": ""})
    differ = {n: (v, chosen.get(n)) for n, v in resolved.items() if chosen.get(n) != v}
    if differ and not os.environ.get("CI"):
        pytest.skip(f"installed without the lock (README's commands install it): {differ}")
    assert not differ, f"installed, locked: {differ}"
