"""Fixtures the test modules share. Plain helpers live in modules beside this one
(``clirun.py``, ``golden.py``, ``markdownrows.py``, ``processes.py``, ``fakegithub.py``,
``gitrepo.py``, ``fakechild.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakechild import Fakes

from grader.config import Rules, load_rules


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The competition's rules, read from the repository's events.yaml (once per module: a
    test that edits the mappings inside cannot leak the edit past its module)."""
    return load_rules()


@pytest.fixture(scope="module")
def rule_set(rules: Rules) -> Rules:
    """``rules`` under another name, for the modules where ``rules`` is ``grader.rules``."""
    return rules


@pytest.fixture
def fake() -> Fakes:
    """A fake clock and the fake children a referee starts on it (tests/fakechild.py)."""
    return Fakes()


# The modules of end-to-end grades, listed here where they can all be read: each of their
# tests is marked e2e (the few checks that ride along, such as test_hostile.py's corpus
# listing, with them). A module of unit tests marks
# its own end-to-end grades one by one, with ``@pytest.mark.e2e``.
E2E_MODULES = ("test_grades.py", "test_hostile.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for name in E2E_MODULES:
        if not (here / name).is_file():
            raise pytest.UsageError(
                f"tests/conftest.py: E2E_MODULES names tests/{name}, which does not exist: "
                "list the module's new name there"
            )
    for item in items:
        if item.path.parent == here and item.path.name in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
