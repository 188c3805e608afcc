"""The code-quality score of a submission: ruff's findings per 100 lines, by the documented
formula, with the submission unable to switch a rule off or hide a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import quality
from grader.config import Rules, load_rules

RULES = load_rules()
MESSY = """\
import os
import sys


def build_model():
    if sys.argv == None:
        return None
    return lambda x: x
"""


def lint(folder: Path, rules: Rules = RULES) -> dict:
    observed = quality.lint(folder, rules)
    return {**observed, **quality.score(observed, rules)}


def test_clean_code_scores_100(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("def build_model():\n    return abs\n")
    seen = lint(tmp_path)
    assert (seen["findings"], seen["lines"], seen["files"]) == (0, 2, 1)
    assert seen["score"] == 100
    assert seen["version"] and seen["problem"] is None


def test_findings_per_100_lines_by_the_formula(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    seen = lint(tmp_path)
    assert seen["by_rule"] == {"E711": 1, "F401": 1}  # `== None`; `os` unused
    assert seen["lines"] == 6  # non-blank lines
    per_100 = 100 * 2 / 6
    half = RULES.code_quality["half_score_per_100_lines"]
    assert seen["per_100_lines"] == pytest.approx(per_100)
    assert seen["score"] == pytest.approx(100 * half / (half + per_100))
    assert {(e["file"], e["line"], e["code"]) for e in seen["examples"]} == {
        ("model.py", 1, "F401"),
        ("model.py", 6, "E711"),
    }


def test_the_submissions_own_config_and_noqa_free_folders_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    (tmp_path / "ruff.toml").write_text('[lint]\nignore = ["ALL"]\nexclude = ["*"]\n')
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nexclude = ['*.py']\n")
    hidden = tmp_path / "build"  # one of ruff's default exclusions
    hidden.mkdir()
    (hidden / "helpers.py").write_text(MESSY)
    seen = lint(tmp_path)
    assert seen["files"] == 2
    assert seen["findings"] == 4


def test_a_syntax_error_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("def build_model(:\n    return 1\n")
    seen = lint(tmp_path)
    assert seen["findings"] >= 1 and seen["score"] < 100


def test_a_missing_linter_leaves_the_score_unmeasured(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    monkeypatch.setattr(quality, "_ruff", lambda: str(tmp_path / "no-such-ruff"))
    seen = lint(tmp_path)
    assert seen["findings"] is None and seen["score"] is None
    assert seen["problem"].startswith("the linter could not run")


def test_the_settings_are_data(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    only_pyflakes = Rules(
        RULES.path, {**RULES.data, "code_quality": {**RULES.code_quality, "select": ["F"]}}
    )
    assert lint(tmp_path, only_pyflakes)["by_rule"] == {"F401": 1}


@pytest.mark.parametrize(
    "folder",
    ["submissions/example-int8", "submissions/example-cnn-int8", "submissions/example-vit-fp16"],
)
def test_the_shipped_models_are_clean(folder: str) -> None:
    seen = lint(Path(__file__).resolve().parent.parent / folder)
    assert seen["findings"] == 0, seen["examples"]


def test_noqa_comments_and_comment_padding_do_not_raise_the_score(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    plain = lint(tmp_path)
    (tmp_path / "model.py").write_text(
        "# ruff: noqa\n" + MESSY.replace("== None:", "== None:  # noqa: E711") + "#\n" * 2000
    )
    gamed = lint(tmp_path)
    assert gamed["findings"] == plain["findings"] == 2
    assert gamed["lines"] == plain["lines"] and gamed["score"] == plain["score"]


def test_a_flood_of_findings_stays_bounded(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("a\n" * 50_000)  # 100,000 findings, 0.1 MB of code
    seen = lint(tmp_path)
    assert seen["findings"] >= 50_000 and len(seen["examples"]) == quality.MAX_EXAMPLES
    (tmp_path / "big.py").write_text("x = 1\n" * 400_000)  # 2.4 MB: more than is linted
    seen = lint(tmp_path)
    assert seen["findings"] is None and "at most" in seen["problem"]


def test_string_and_pass_padding_do_not_dilute(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    plain = lint(tmp_path)
    padding = '\n"""\n' + "filler\n" * 2000 + '"""\n' + "pass\n" * 500
    (tmp_path / "model.py").write_text(MESSY + padding)
    padded = lint(tmp_path)
    assert padded["lines"] == plain["lines"] == 6
    assert padded["score"] == plain["score"]
