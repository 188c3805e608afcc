"""Fixtures the test modules share. Plain helpers live in modules beside this one
(``clirun.py``, ``golden.py``, ``processes.py``, ``fakegithub.py``, ``gitrepo.py``)."""

from __future__ import annotations

import pytest

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
