"""Code quality: the linter's findings on a submission's code, and the 0-100 score from them.

The linter (ruff) runs in a subprocess on the submission's ``.py`` files, which it parses and
never imports. It runs ``--isolated`` (no configuration file of the submission's can switch
a rule off) with exactly the settings of ``events.yaml``, every file named on the command
line (so that the linter's default exclusions, such as a folder called ``build``, hide
nothing). :func:`lint` is the observation; :func:`score` is derived from it on every read.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

from grader.config import Rules

TIMEOUT_S = 120
MAX_EXAMPLES = 10
MAX_RULES = 100


def lint(folder: Path, rules: Rules) -> dict:
    """Lines of code and the linter's findings on the folder's ``.py`` files.

    A linter that is missing or fails leaves ``findings`` None and says why in ``problem``:
    the code-quality score is then not measured, never guessed.
    """
    settings = rules.code_quality
    files = sorted(p for p in folder.rglob("*.py") if p.is_file() and not p.is_symlink())
    observed: dict = {
        "linter": settings["linter"],
        "version": None,
        "files": len(files),
        "lines": sum(_lines_of_code(p) for p in files),
        "findings": None,
        "by_rule": {},
        "examples": [],
        "problem": None,
    }
    try:
        binary = _ruff()
        observed["version"] = _run([binary, "--version"], folder).strip().split()[-1][:40]
        if not files:
            observed["findings"] = 0
            return observed
        command = [
            binary, "check", "--isolated", "--no-cache", "--exit-zero",
            "--output-format", "json",
            "--select", ",".join(settings["select"]),
            "--line-length", str(settings["line_length"]),
            "--", *(p.relative_to(folder).as_posix() for p in files),
        ]  # fmt: skip
        findings = json.loads(_run(command, folder))
    except (OSError, ValueError, subprocess.SubprocessError, ImportError) as exc:
        observed["problem"] = f"the linter could not run: {str(exc)[:300]}"
        return observed
    codes = Counter((f.get("code") or "syntax-error") for f in findings)
    observed["findings"] = len(findings)
    observed["by_rule"] = dict(sorted(codes.most_common(MAX_RULES)))
    observed["examples"] = [
        {
            "file": str(f.get("filename", ""))[-200:],
            "line": int((f.get("location") or {}).get("row") or 0),
            "code": (f.get("code") or "syntax-error")[:20],
            "message": str(f.get("message", ""))[:200],
        }
        for f in findings[:MAX_EXAMPLES]
    ]
    for example in observed["examples"]:  # ruff reports absolute paths
        name = Path(example["file"])
        if name.is_absolute() and name.is_relative_to(folder.resolve()):
            example["file"] = name.relative_to(folder.resolve()).as_posix()
    return observed


def score(observed: dict | None, rules: Rules) -> dict:
    """Findings per 100 lines and the 0-100 score: ``100 * half / (half + per_100)``."""
    if not observed or observed.get("findings") is None:
        return {"per_100_lines": None, "score": None}
    half = rules.code_quality["half_score_per_100_lines"]
    per_100 = 100 * observed["findings"] / max(observed["lines"], 1)
    return {"per_100_lines": per_100, "score": 100 * half / (half + per_100)}


def _lines_of_code(path: Path) -> int:
    try:
        text = path.read_bytes()[:5_000_000].decode("utf-8", errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if line.strip())


def _ruff() -> str:
    from ruff.__main__ import find_ruff_bin

    return os.fsdecode(find_ruff_bin())


def _run(command: list[str], cwd: Path) -> str:
    env = {"PATH": os.defpath, "LANG": "C.UTF-8"}  # --isolated: no user configuration either
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise subprocess.SubprocessError(done.stderr.decode(errors="replace")[-300:])
    return done.stdout.decode(errors="replace")
