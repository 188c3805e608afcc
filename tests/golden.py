"""The golden files under ``tests/data/``, compared byte for byte with what the code renders
now. After a deliberate change of a card, a comment or the leaderboard, the one way to update
them is to rerun the test that compares them with ``UPDATE_GOLDEN=1`` (for example
``UPDATE_GOLDEN=1 python -m pytest tests/test_render.py -p no:cacheprovider``), then review
the diff of ``tests/data/`` before committing it."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from grader.result import jsonfile

DATA = Path(__file__).resolve().parent / "data"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
_RESULTS: dict[str, dict] = {}


def check_golden(name: str, text: str) -> None:
    """``text`` is ``tests/data/<name>`` exactly (written there first under ``UPDATE_GOLDEN=1``)."""
    path = DATA / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        f"tests/data/{name} differs; if the change is deliberate: UPDATE_GOLDEN=1 python -m "
        "pytest on the test that compares it, then review the diff"
    )


def golden_result(name: str = "result_example_baseline.json") -> dict:
    """A fresh deep copy of a golden result under ``tests/data/`` (read once per session)."""
    if name not in _RESULTS:
        _RESULTS[name] = jsonfile.read_json(DATA / name)
    return copy.deepcopy(_RESULTS[name])
