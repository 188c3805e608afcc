"""Starting a child (``grader/sandbox/launch.py``): where its worker is imported from."""

from __future__ import annotations

import subprocess
import sys

from grader.sandbox.launch import GRADER_PARENT


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
