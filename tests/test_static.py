"""The checks made before any of a submission's code runs: files are data, imports stay
within NumPy and the standard library (events.yaml), nothing is imported by a computed name."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from grader.analysis import static
from grader.grade import exit_code, grade
from grader.measure.plan import QUICK

SUBMISSION_YAML = (
    "team: {team}\nworkload: mlp_sprint\nevents: [latency_sprint]\n"
    "entrypoint: model.py:build_model\n"
)
MODEL = "import numpy as np\n\n\ndef build_model():\n    return lambda x: np.zeros((len(x), 10))\n"

# What TinyTorch's own exported framework imports (docs/DESIGN.md, Submission): it must pass
# unchanged.
TINYTORCH_HEADER = """\
import copy
import math
import os
import sys
import time
import warnings
from typing import Any, List, Optional

import numpy as np
"""


def team(tmp_path: Path, files: dict[str, str | bytes], name: str = "team") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "submission.yaml").write_text(SUBMISSION_YAML.format(team=name))
    (folder / "model.py").write_text(MODEL)
    for rel, content in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content))
    return folder


REFUSED = [
    pytest.param("import torch\n", "torch", 1, id="framework-torch"),
    pytest.param("import numpy as np\nimport jax.numpy as jnp\n", "jax", 2, id="framework-jax"),
    pytest.param("from tensorflow import keras\n", "tensorflow", 1, id="from-tensorflow"),
    pytest.param("import subprocess\n", "subprocess", 1, id="escape-subprocess"),
    pytest.param("from socket import socket\n", "socket", 1, id="escape-socket"),
    pytest.param("import ctypes.util\n", "ctypes", 1, id="escape-ctypes-submodule"),
    pytest.param("import multiprocessing as mp\n", "multiprocessing", 1, id="escape-mp"),
    pytest.param("import importlib\n", "importlib", 1, id="importlib"),
    pytest.param("def f():\n    import pickle\n", "pickle", 2, id="nested-in-function"),
    pytest.param("try:\n    import cffi\nexcept ImportError:\n    pass\n", "cffi", 2, id="in-try"),
    pytest.param("import pandas\n", "pandas", 1, id="outside-numpy-and-stdlib"),
    pytest.param("import scipy.linalg\n", "scipy", 1, id="scipy"),
    pytest.param("m = __import__('torch')\n", "torch", 1, id="dunder-import-constant"),
    pytest.param("name = 'o' + 's'\nm = __import__(name)\n", "__import__", 2, id="computed"),
    pytest.param("imp = __import__\n", "a reference", 1, id="dunder-import-alias"),
    pytest.param(
        "import builtins\nm = builtins.__import__('socket')\n", "socket", 2, id="builtins-import"
    ),
]


@pytest.mark.parametrize("source, name, line", REFUSED)
def test_forbidden_imports_are_refused_with_file_and_line(
    tmp_path, rules, source, name, line
) -> None:
    folder = team(tmp_path, {"helpers.py": source})
    code, problems = static.check(folder, rules)
    assert code == "import_forbidden"
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.file.endswith("helpers.py") and problem.line == line
    assert name in problem.message
    assert problem.fix


ALLOWED = [
    pytest.param(TINYTORCH_HEADER, id="tinytorch-framework-imports"),
    pytest.param("import numpy.linalg\nfrom numpy.lib import stride_tricks\n", id="numpy-parts"),
    pytest.param("from __future__ import annotations\nimport dataclasses\n", id="stdlib"),
    pytest.param("from . import layers\nfrom .layers import Dense\n", id="relative"),
    pytest.param("import layers\nfrom mypkg.sub import thing\n", id="own-modules"),
    pytest.param("m = __import__('math')\n", id="dunder-import-of-stdlib"),
]


@pytest.mark.parametrize("source", ALLOWED)
def test_allowed_imports_pass(tmp_path, rules, source) -> None:
    folder = team(
        tmp_path,
        {"helpers.py": source, "layers.py": "X = 1\n", "mypkg/__init__.py": "", "mypkg/sub.py": ""},
    )
    assert static.check(folder, rules) == (None, [])


def test_every_problem_of_every_file_is_reported(tmp_path, rules) -> None:
    folder = team(tmp_path, {"a.py": "import torch\nimport socket\n", "pkg/b.py": "import jax\n"})
    _, problems = static.check(folder, rules)
    assert sorted((Path(p.file).name, p.line) for p in problems) == [
        ("a.py", 1),
        ("a.py", 2),
        ("b.py", 1),
    ]


def test_a_file_that_does_not_parse_is_reported_not_raised(tmp_path, rules) -> None:
    folder = team(tmp_path, {"broken.py": "def f(:\n"})
    code, problems = static.check(folder, rules)
    assert code == "import_forbidden"
    assert [p.rule for p in problems] == ["python_syntax"]
    assert problems[0].line == 1


FILES = [
    pytest.param({"weights.pkl": b"\x80\x04"}, "file_type", id="pickle-file"),
    pytest.param({"run.sh": "echo hi\n"}, "file_type", id="shell-script"),
    pytest.param({"ext.so": b"\x7fELF"}, "file_type", id="native-library"),
    pytest.param({"__pycache__/model.cpython-311.pyc": b"\x00"}, "file_type", id="bytecode"),
]


@pytest.mark.parametrize("files, rule", FILES)
def test_files_that_are_not_data_or_code_are_refused(tmp_path, rules, files, rule) -> None:
    folder = team(tmp_path, files)
    code, problems = static.check(folder, rules)
    assert code == "config_invalid"
    assert rule in [p.rule for p in problems]


def test_a_symlink_is_refused_even_to_an_allowed_kind(tmp_path, rules) -> None:
    folder = team(tmp_path, {})
    (folder / "labels.npz").symlink_to(Path(__file__).parents[1] / "data" / "digits" / "test.npz")
    code, problems = static.check(folder, rules)
    assert (code, [p.rule for p in problems]) == ("config_invalid", ["file_symlink"])


def test_a_hard_link_is_refused(tmp_path, rules) -> None:
    outside = tmp_path / "outside.npy"
    outside.write_bytes(b"\x93NUMPY")
    folder = team(tmp_path, {})
    os.link(outside, folder / "weights.npy")
    _, problems = static.check(folder, rules)
    assert [p.rule for p in problems] == ["file_hardlink"]


def test_a_fifo_is_refused(tmp_path, rules) -> None:
    folder = team(tmp_path, {})
    os.mkfifo(folder / "pipe.npy")
    _, problems = static.check(folder, rules)
    assert [p.rule for p in problems] == ["file_special"]


def test_size_caps(tmp_path, rules) -> None:
    limits = {**rules.data["files"], "max_file_bytes": 1000, "max_folder_bytes": 1500}
    folder = team(tmp_path, {"a.npy": b"x" * 1001, "b.npy": b"x" * 900, "c.npy": b"x" * 900})
    problems = static.check_files(folder, limits)
    assert sorted(p.rule for p in problems) == ["file_too_large", "folder_too_large"]


def test_too_many_files(tmp_path, rules) -> None:
    limits = {**rules.data["files"], "max_files": 3}
    folder = team(tmp_path, {f"m{i}.py": "" for i in range(3)})
    assert [p.rule for p in static.check_files(folder, limits)] == ["too_many_files"]


def test_grade_refuses_before_any_code_runs(tmp_path, rules) -> None:
    """The verdict comes from the static check: the model, which would leave a marker
    file if it were ever imported, never runs."""
    folder = team(tmp_path, {})
    marker = tmp_path / "ran.txt"
    (folder / "model.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nimport torch\n\n"
        "def build_model():\n    return None\n"
    )
    doc = grade(folder, rules, QUICK)
    assert doc["verdict"]["code"] == "import_forbidden"
    assert exit_code(doc) == 2
    assert doc["verdict"]["violations"][0]["line"] == 2
    assert not marker.exists()


def test_the_bundled_examples_pass(rules) -> None:
    root = Path(__file__).parents[1] / "submissions"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        assert static.check(folder, rules) == (None, []), folder.name


def test_bytecode_is_refused_with_a_fix_that_names_pycache(tmp_path, rules) -> None:
    """Python would run a shipped .pyc instead of its (checked) source."""
    folder = team(tmp_path, {"__pycache__/model.cpython-311.pyc": b"\x00"})
    (problem,) = static.check_files(folder, rules.data["files"])
    assert "__pycache__" in problem.fix


MIT_LICENSE = """\
MIT License

Copyright (c) 2026 The course staff

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, subject to the following conditions:
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""


@pytest.mark.parametrize(
    "name",
    ["LICENSE", "license", "LICENCE", "COPYING", "NOTICE", "requirements.txt", "docs/notes.md"],
)
def test_a_licence_and_notes_are_accepted_as_description(tmp_path, rules, name) -> None:
    """The course framework's export, unchanged: its MIT LICENSE was refused as a file type."""
    folder = team(tmp_path, {name: MIT_LICENSE})
    assert static.check(folder, rules) == (None, [])
    assert static.kind(name, rules.data["files"]) == static.DESCRIPTION
    assert static.model_files(folder, rules.data["files"]) == ("model.py",)


@pytest.mark.parametrize(
    "relative, kind",
    [
        ("model.py", "model"),
        ("lib/layers.py", "model"),
        ("weights.npz", "model"),
        ("w.npy", "model"),
        ("submission.yaml", "description"),
        ("README.md", "description"),
        ("notes.txt", "description"),
        ("extra.yaml", "description"),
        ("Copying", "description"),
        ("LICENSE.md", "description"),
        ("LICENSE-MIT", None),
        ("weights.pkl", None),
        ("__pycache__/w1.npz", None),
        ("lib/__pycache__/layers.py", None),
        ("model.pyc", None),
    ],
)
def test_one_function_says_what_each_file_is(rules, relative, kind) -> None:
    assert static.kind(relative, rules.data["files"]) == kind


def test_weights_under_pycache_are_refused_before_any_code_runs(tmp_path, rules) -> None:
    """The baseline's own w1 moved to __pycache__/w1.npz was read by the model, left out of
    its size and graded at a compression of 10.2x."""
    folder = team(tmp_path, {"__pycache__/w1.npz": b"PK\x05\x06" + b"\0" * 18})
    code, problems = static.check(folder, rules)
    assert code == "config_invalid"
    (problem,) = problems
    assert problem.file.endswith("__pycache__") and "__pycache__" in problem.fix


def test_the_model_files_are_code_and_weights_only(tmp_path, rules) -> None:
    folder = team(
        tmp_path,
        {
            "weights.npz": b"PK",
            "lib/__init__.py": "",
            "lib/layers.py": "",
            "README.md": "# report\n",
            "docs/plan.md": "notes\n",
            "LICENSE": MIT_LICENSE,
        },
    )
    assert static.check(folder, rules) == (None, [])
    assert static.model_files(folder, rules.data["files"]) == (
        "lib/__init__.py",
        "lib/layers.py",
        "model.py",
        "weights.npz",
    )
