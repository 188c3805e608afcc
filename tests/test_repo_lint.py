"""The code-quality meter: ruff, on the whole repository, as CI runs it."""

import shutil
import subprocess
import sys

import pytest

from grader.config import project_root


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_is_clean(args: list[str]) -> None:
    ruff = shutil.which("ruff") or pytest.fail("ruff is not installed: pip install -e '.[test]'")
    proc = subprocess.run(
        [ruff, *args], cwd=project_root(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_python_version_is_supported() -> None:
    assert sys.version_info >= (3, 10)
