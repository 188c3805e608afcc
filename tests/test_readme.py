"""The README's two commands stay true: CI runs the same test command, and the grade
command names the bundled example."""

import re

from grader.config import project_root

ROOT = project_root()
INSTALL = (
    "python -m pip install --require-hashes -r requirements.txt && "
    "python -m pip install --no-deps --no-build-isolation -e ."
)
TEST_COMMAND = f"{INSTALL} && python -m pytest"
GRADE_COMMAND = f"{INSTALL} && olympics grade submissions/example-baseline"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert GRADE_COMMAND in head
    assert TEST_COMMAND in head


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines()]
    assert TEST_COMMAND in lines, "the test command in .ci/run differs from the README's"


def test_the_example_the_readme_grades_exists() -> None:
    folder = re.search(r"olympics grade (\S+)", GRADE_COMMAND).group(1)
    assert (ROOT / folder / "submission.yaml").is_file()
