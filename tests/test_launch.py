"""Starting a child (``grader/sandbox/launch.py``): where its worker is imported from."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.sandbox.launch import GRADER_PARENT, KERNEL_CHOICES, child_environment


def test_the_child_imports_the_grader_from_the_folder_it_is_given() -> None:
    """The bootstrap puts GRADER_PARENT on the child's path: with no site-packages (``-S``,
    so no editable install either), the grader's child package must import from there."""
    assert (GRADER_PARENT / "grader" / "__init__.py").is_file()
    script = (
        f"import sys; sys.path.append({str(GRADER_PARENT)!r}); "
        "import grader.child.wire; print(grader.child.wire.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(GRADER_PARENT / "grader" / "child" / "wire.py")


@pytest.mark.parametrize(
    ("var", "value", "passed"),
    [
        ("NPY_DISABLE_CPU_FEATURES", "AVX512F,AVX512_SKX,AVX2", True),
        ("OPENBLAS_CORETYPE", "Prescott", True),
        ("NPY_DISABLE_CPU_FEATURES", "AVX2; rm -rf /", False),
        ("OPENBLAS_CORETYPE", "Haswell\nGITHUB_TOKEN=x", False),
        ("OPENBLAS_CORETYPE", "", False),
        ("GITHUB_TOKEN", "ghp_fake", False),
    ],
)
def test_the_parent_s_choice_of_kernels_reaches_the_child_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, passed: bool
) -> None:
    """Both children get the parent's NumPy and OpenBLAS kernel choice (a grade run as on
    another CPU), where it is names only; nothing else of the parent's environment."""
    monkeypatch.setenv(var, value)
    env = child_environment()
    assert (env.get(var) == value) is passed
    assert set(env) - set(KERNEL_CHOICES) == {
        "PATH", "LANG", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS",
    }  # fmt: skip
