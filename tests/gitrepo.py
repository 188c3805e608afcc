"""A git repository shaped like a course's fork, for the pipeline's tests: events.yaml, the
schemas, the .gitignore, a README and two teams on ``main``, then a ``pr`` branch to change.
A helper, not a test module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from grader.config import project_root

ROOT = project_root()
EXAMPLE = ROOT / "submissions" / "example-baseline"


class Repo:
    """A git repository shaped like a course's fork: events.yaml, a README, two teams."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "grader@example.invalid")
        self.git("config", "user.name", "grader tests")
        shutil.copy(ROOT / "events.yaml", path / "events.yaml")
        shutil.copytree(ROOT / "schemas", path / "schemas")
        shutil.copy(ROOT / ".gitignore", path / ".gitignore")
        (path / "README.md").write_text("# the course\n")
        self.team("alpha", ["alice"])
        self.team("example-baseline", ["octocat"])
        self.base = self.commit("the course's main branch")
        self.git("checkout", "-q", "-b", "pr")

    def git(self, *args: str) -> str:
        quiet = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            check=True,
            env=quiet,  # no signing or hooks from the machine's own git config
        )
        return done.stdout.strip()

    def team(self, slug: str, members: list[str], folder: str | None = None) -> Path:
        target = self.path / "submissions" / (folder or slug)
        target.mkdir(parents=True, exist_ok=True)
        for file in EXAMPLE.iterdir():  # model.py and weights.npz: a submission that grades
            if file.name != "submission.yaml" and file.is_file():
                shutil.copy(file, target / file.name)
        config = (EXAMPLE / "submission.yaml").read_text()
        config = config.replace("team: example-baseline", f"team: {slug}")
        config = config.replace("members: [octocat]", f"members: [{', '.join(members)}]")
        (target / "submission.yaml").write_text(config)
        return target

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")
