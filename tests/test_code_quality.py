"""The code-quality score of a submission: ruff's findings per 100 statements of the code the
entrypoint reaches, by the documented formula, with the submission unable to switch a rule
off, hide a file, or raise its score by adding volume; layout, which a formatter fixes, does
not count."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import render
from grader.analysis import quality, reach
from grader.config import Rules, load_rules
from grader.publish import store
from grader.result import dependencies, jsonfile, verify

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
    assert (seen["findings"], seen["statements"], seen["files"]) == (0, 2, 1)
    assert seen["score"] == 100
    assert seen["version"] and seen["problem"] is None


def test_findings_per_100_statements_by_the_formula(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    seen = lint(tmp_path)
    assert seen["by_rule"] == {"E711": 1, "F401": 1}  # `== None`; `os` unused
    assert seen["statements"] == 6  # 2 imports, def, if, 2 returns
    per_100 = 100 * 2 / 6
    half = RULES.code_quality["half_score_per_100_statements"]
    assert seen["per_100_statements"] == pytest.approx(per_100)
    assert seen["score"] == pytest.approx(100 * half / (half + per_100))
    assert {(e["file"], e["line"], e["code"]) for e in seen["examples"]} == {
        ("model.py", 1, "F401"),
        ("model.py", 6, "E711"),
    }


def test_the_submissions_own_config_and_noqa_free_folders_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        "from build import helpers\n" + MESSY.replace("lambda x: x", "helpers.build_model()")
    )
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
    [
        "submissions/example-int8",
        "submissions/example-cnn-int8",
        "submissions/example-vit-fp16",
        "submissions/example-kv-cache",
    ],
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
    assert gamed["statements"] == plain["statements"] and gamed["score"] == plain["score"]


def test_a_flood_of_findings_stays_bounded(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("a\n" * 50_000)  # 100,000 findings, 0.1 MB of code
    seen = lint(tmp_path)
    assert seen["findings"] >= 50_000 and len(seen["examples"]) == quality.MAX_EXAMPLES
    (tmp_path / "model.py").write_text("import big\n")
    (tmp_path / "big.py").write_text("x = 1\n" * 400_000)  # 2.4 MB: more than is linted
    seen = lint(tmp_path)
    assert seen["findings"] is None and "at most" in seen["problem"]


def test_string_and_pass_padding_do_not_dilute(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MESSY)
    plain = lint(tmp_path)
    padding = '\n"""\n' + "filler\n" * 2000 + '"""\n' + "pass\n" * 500
    (tmp_path / "model.py").write_text(MESSY + padding)
    padded = lint(tmp_path)
    assert padded["statements"] == plain["statements"] == 6
    assert padded["score"] == plain["score"]


# --- volume does not raise the score -------------------------------------------------------------
# 21 real findings (unused imports and variables, `== None`, a bare except, a mutable default,
# ...), in the entrypoint and one module it imports.
REAL = """\
import json
import os
import re
import sys
from typing import Dict, List

import numpy as np

from helpers import scale


def relu(x, cache=[]):
    unused = 1
    if x is None == True:
        return None
    if type(x) == type(np.zeros(1)):
        pass
    try:
        y = np.maximum(x, 0)
    except:
        y = x
    return y


def build_model():
    l = 3
    options = dict()
    weights = dict([(k, np.zeros(k)) for k in range(l)])
    if not weights == None:
        shape = tuple([w.shape for w in weights.values()])
    square = lambda v: v * v
    print(f"model")
    return lambda x: scale(relu(x)) if weights and options is not None else square(x)
"""
EXPORTS = '__all__ = ["scale"]\n'
HELPERS = (  # what `import *` takes, and a live class last in the file
    EXPORTS + "\n\ndef scale(x):\n    return Scale()(x)\n\n\nclass Scale:\n"
    "    def __call__(self, x):\n        return x * 2\n"
)
DEAD = "\n\ndef unused_{i}(x):\n    y = x + {i}\n    return y\n"  # 5 lines, no finding
PADDING = {
    "blank-lines-comments-docstrings": (
        "model.py",
        "\n" * 5_000 + "# a comment\n" * 5_000 + '"""\n' + "documentation\n" * 10_000 + '"""\n',
    ),
    "a-module-never-imported": ("padding.py", "".join(f"v{i} = {i}\n" for i in range(20_000))),
    "dead-functions-in-the-entrypoint": (
        "model.py",
        "".join(DEAD.format(i=i) for i in range(4_000)),
    ),
    "dead-functions-in-an-imported-module": (
        "helpers.py",
        "".join(DEAD.format(i=i) for i in range(4_000)),
    ),
    "unused-globals-in-the-entrypoint": (
        "model.py",
        "".join(f"v{i} = {i}\n" for i in range(20_000)),
    ),
    "unused-globals-in-a-block": (
        "model.py",
        "if True:\n" + "".join(f"    v{i}: int = {i}\n" for i in range(20_000)),
    ),
    "a-main-block": (
        "model.py",
        'if __name__ == "__main__":\n' + "".join(f"    print({i})\n" for i in range(20_000)),
    ),
    "dead-functions-exported-in-__all__": (
        "helpers.py",
        "".join(DEAD.format(i=i) for i in range(4_000)),
    ),
    "unused-attributes-of-a-live-class": (
        "helpers.py",
        "".join(f"    unused_{i} = {i}\n" for i in range(20_000)),
    ),
    "dead-methods-of-a-live-class": (
        "helpers.py",
        "".join(f"\n    def unused_{i}(self, x):\n        return x + {i}\n" for i in range(7_000)),
    ),
}


@pytest.mark.parametrize("padding", list(PADDING))
def test_padding_does_not_raise_the_score(tmp_path: Path, padding: str) -> None:
    """Reported: 21 findings padded to 20,049 counted lines scored 97.9."""
    (tmp_path / "model.py").write_text(REAL)
    (tmp_path / "helpers.py").write_text(HELPERS)
    plain = lint(tmp_path)
    assert plain["findings"] == 21
    file, text = PADDING[padding]
    with (tmp_path / file).open("a") as f:
        f.write(text)
    if padding.endswith("__all__"):  # every dead function listed for `import *`
        names = ["scale", *(f"unused_{i}" for i in range(4_000))]
        (tmp_path / file).write_text(HELPERS.replace(EXPORTS, f"__all__ = {names!r}\n") + text)
    assert len((tmp_path / file).read_text().splitlines()) >= 20_000
    padded = lint(tmp_path)
    assert padded["findings"] == plain["findings"]
    assert padded["score"] == plain["score"] < 10


# --- layout, which a formatter fixes, does not count -------------------------------------------
CLEAN_BODY = """\
    def forward(self, x):
        hidden = x @ self.weights

        hidden = np.maximum(hidden, 0)

        return hidden
"""


def exported(layers: int, blank: str) -> str:
    """A module in the style of the course framework's export: real code, classes with
    docstrings, blank lines written as ``blank`` (the exporter writes the indentation)."""
    text = "import os\n\nimport numpy as np\n\n\n"  # os: unused, a real finding
    for i in range(layers):
        body = CLEAN_BODY.replace("\n\n", f"\n{blank}\n")
        text += (
            f'class Layer{i}:\n    """Layer {i}.\n{blank}\n    A dense layer.\n    """\n'
            f"{blank}\n    def __init__(self):\n        self.weights = np.zeros((4, 4))\n"
            f"{blank}\n{body}\n\n"
        )
    calls = "".join(f"        x = Layer{i}().forward(x)\n" for i in range(layers))
    return text + f"def build_model():\n    def run(x):\n{calls}        return x\n    return run\n"


def test_whitespace_on_blank_lines_does_not_count(tmp_path: Path) -> None:
    """Reported: the course framework's export scored 14/100, 174 of its 210 findings being
    W293, whitespace on the blank lines its exporter writes."""
    (tmp_path / "model.py").write_text(exported(35, ""))
    formatted = lint(tmp_path)
    (tmp_path / "model.py").write_text(exported(35, "    "))
    as_exported = lint(tmp_path)
    assert as_exported["by_rule"] == formatted["by_rule"] == {"F401": 1}  # no W293
    assert as_exported["score"] == formatted["score"] < 100  # the real finding still counts


def test_layout_does_not_count_and_defects_do(tmp_path: Path) -> None:
    layout = (
        "import numpy as np\n"
        "def build_model():   \n"  # trailing whitespace; one blank line where two belong
        "    x = np.zeros(3); y = x + 1;\n"  # two statements on a line, a useless semicolon
        "    if y is None: return None\n"  # a statement after the colon
        f"    return lambda v: v + x  # {'a long comment ' * 10}\n"  # line too long
        "    \n"  # whitespace on a blank line
        "\n\n\n"
        "\t# a tab"  # and no newline at the end
    )
    (tmp_path / "model.py").write_text(layout)
    assert lint(tmp_path)["by_rule"] == {}
    (tmp_path / "model.py").write_text(layout.replace("x = np.zeros(3)", "x = np.zeros(3) == None"))
    assert lint(tmp_path)["by_rule"] == {"E711": 1}


# --- the code that counts ----------------------------------------------------------------------
def test_only_modules_the_entrypoint_reaches_are_linted(tmp_path: Path) -> None:
    package = tmp_path / "net"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text(
        'from .layers import Dense\n\n__all__ = ["Dense"]\n'
    )
    (package / "core" / "layers.py").write_text(
        "from ..ops import matmul\n\n\nclass Dense:\n    def forward(self, x):\n"
        "        return matmul(x, x)\n"
    )
    (package / "ops.py").write_text("def matmul(a, b):\n    return a @ b\n")
    (package / "training.py").write_text(MESSY)  # shipped, never imported by the model
    (tmp_path / "model.py").write_text(
        "from net.core import Dense\n\n\ndef build_model():\n    return Dense()\n"
    )
    seen = lint(tmp_path)
    assert seen["files"] == 5 and seen["findings"] == 0
    reached = reach.reach(tmp_path, "model.py:build_model", quality.MAX_CODE_BYTES)
    assert reached.files == (
        "model.py",
        "net/__init__.py",
        "net/core/__init__.py",
        "net/core/layers.py",
        "net/ops.py",
    )
    # model: import, def, return; core: import, __all__; layers: import, class, def, return;
    # ops: def, return
    assert reached.statements == 11


def test_findings_in_dead_code_do_not_count_and_live_code_s_do(tmp_path: Path) -> None:
    helper = "\n\ndef helper(x):\n    unused = 1\n    return x\n"  # F841
    (tmp_path / "model.py").write_text("def build_model():\n    return abs\n" + helper)
    dead = lint(tmp_path)
    assert (dead["findings"], dead["statements"], dead["score"]) == (0, 2, 100)
    (tmp_path / "model.py").write_text("def build_model():\n    return helper\n" + helper)
    live = lint(tmp_path)
    assert (live["findings"], live["statements"]) == (1, 5)
    assert live["examples"][0]["code"] == "F841" and live["score"] < 100
    (tmp_path / "model.py").write_text(
        'def build_model():\n    return globals()["helper"]\n' + helper
    )
    assert lint(tmp_path)["findings"] == 1  # named by a string: live all the same


def test_a_method_counts_when_named_or_a_dunder_or_forward(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        "class Model:\n"
        "    def __init__(self):\n        self.scale = 2\n"
        "    def forward(self, x):\n        return self.double(x)\n"
        "    def double(self, x):\n        return x * self.scale\n"
        "    def never(self, x):\n        return x\n\n\n"
        "def build_model():\n    return Model()\n"
    )
    reached = reach.reach(tmp_path, "model.py:build_model", quality.MAX_CODE_BYTES)
    # class, __init__ (2), forward (2), double (2), build_model (2); not `never`
    assert reached.statements == 9
    assert 10 not in reached.live_lines["model.py"] and 7 in reached.live_lines["model.py"]


def test_a_missing_entrypoint_file_leaves_the_score_unmeasured(tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text(MESSY)
    seen = lint(tmp_path)
    assert seen["findings"] is None and seen["score"] is None
    assert "model.py" in seen["problem"]


# --- results from before statements were counted ------------------------------------------
def test_a_result_observed_by_lines_is_valid_but_not_recomputed(tmp_path: Path) -> None:
    doc = jsonfile.read_json(Path(__file__).resolve().parent / "data" / "result_example_int8.json")
    doc["code_quality"] = {
        "linter": "ruff",
        "version": "0.14.0",
        "files": 2,
        "lines": 64,
        "findings": 3,
        "by_rule": {"W293": 3},
        "examples": [],
        "problem": None,
        "per_100_lines": 100 * 3 / 64,
        "score": 100 * 5 / (5 + 100 * 3 / 64),
    }
    assert verify.schema_violations(doc, "old.json") == []
    problems = verify.check(doc, RULES, "old.json")
    assert [v.rule for v in problems] == ["observations_invalid"]
    assert "older grader" in problems[0].message and "regrade" in problems[0].message
    assert "3 finding(s) in 64 lines" in render.quality_lines(doc["code_quality"])[0]
    # Graded under the rules of its day, with today's dependencies (their own staleness
    # comes first, tests/test_leaderboard.py):
    doc["grader"]["dependencies_sha256"] = dependencies.fingerprint()
    stored = store.place(doc, tmp_path, "old.json")
    stored.parent.mkdir(parents=True)
    stored.write_text(jsonfile.dumps(doc))
    assert "other rules" in store.read_verified(stored, RULES, tmp_path).stale
    del doc["code_quality"]["lines"]  # neither lines nor statements
    assert verify.schema_violations(doc, "old.json")
