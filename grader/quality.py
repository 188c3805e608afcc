"""Code quality: the linter's findings on a submission's code, and the 0-100 score from them.

The linter (ruff) runs in a subprocess on the submission's ``.py`` files, which it parses and
never imports. It runs ``--isolated`` (no configuration file of the submission's can switch
a rule off) with exactly the settings of ``events.yaml``, every file named on the command
line (so that the linter's default exclusions, such as a folder called ``build``, hide
nothing). :func:`lint` is the observation; :func:`score` is derived from it on every read.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import tempfile
import threading
import tokenize
from collections import Counter
from pathlib import Path
from typing import IO

from grader.config import Rules

TIMEOUT_S = 120
MAX_EXAMPLES = 10
MAX_RULES = 100
MAX_CODE_BYTES = 2_000_000  # of .py source linted: ruff needs about 0.6 GB a MB at worst
MAX_OUTPUT_BYTES = 1_000_000  # of the statistics (one record per rule: far below)
EXAMPLE_BYTES = 16_384  # of the concise output read for the examples
RULE_CODE = re.compile(r"[A-Z]+[0-9]+")
CONCISE = re.compile(r"^(.+?):(\d+):\d+: (\S+) (.*)$")


def lint(folder: Path, rules: Rules) -> dict:
    """Lines of code and the linter's findings on the folder's ``.py`` files.

    The counts come from ruff's ``--statistics`` (one record per rule, however many
    findings), the examples from the first lines of its concise output: what the grader
    holds in memory is bounded whatever the code. ``# noqa`` comments are ignored: a
    submission does not switch the meter off. A linter that is missing or fails, or more
    code than is linted, leaves ``findings`` None and says why in ``problem``: the score is
    then not measured, never guessed.
    """
    settings = rules.code_quality
    files = sorted(p for p in folder.rglob("*.py") if p.is_file() and not p.is_symlink())
    size = sum(p.stat().st_size for p in files)
    observed: dict = {
        "linter": settings["linter"],
        "version": None,
        "files": len(files),
        "lines": sum(_lines_of_code(p) for p in files) if size <= MAX_CODE_BYTES else 0,
        "findings": None,
        "by_rule": {},
        "examples": [],
        "problem": None,
    }
    if size > MAX_CODE_BYTES:
        observed["problem"] = f"{size:,} bytes of code; at most {MAX_CODE_BYTES:,} are linted"
        return observed
    try:
        binary = _ruff()
        observed["version"] = _version(binary)
        if not files:
            observed["findings"] = 0
            return observed
        command = [
            binary, "check", "--isolated", "--no-cache", "--exit-zero", "--ignore-noqa",
            "--select", ",".join(settings["select"]),
            "--line-length", str(settings["line_length"]),
        ]  # fmt: skip
        names = ["--", *(p.relative_to(folder).as_posix() for p in files)]
        stats = _run([*command, "--statistics", "--output-format", "json", *names], folder)
        counts = json.loads(stats) if stats.strip() else []  # nothing found: no output
        first = _run([*command, "--output-format", "concise", *names], folder, EXAMPLE_BYTES)
    except (OSError, ValueError, subprocess.SubprocessError, ImportError) as exc:
        observed["problem"] = f"the linter could not run: {str(exc)[:300]}"
        return observed
    by_rule = Counter()
    for record in counts:
        by_rule[str(record.get("code") or "syntax-error")[:20]] += int(record["count"])
    observed["findings"] = sum(by_rule.values())
    observed["by_rule"] = dict(sorted(by_rule.most_common(MAX_RULES)))
    observed["examples"] = _examples(first)
    return observed


def _examples(text: str) -> list[dict]:
    """``file:line:col: CODE message`` lines of ruff's concise output, the first few."""
    examples = []
    for line in text.splitlines():
        match = CONCISE.match(line)
        if match and len(examples) < MAX_EXAMPLES:
            file, row, code, message = match.groups()
            if not RULE_CODE.fullmatch(code):  # a syntax error: no rule code
                code, message = "syntax-error", f"{code} {message}"
            message = message.removeprefix("[*] ")
            examples.append(
                {"file": file[-200:], "line": int(row), "code": code[:20], "message": message[:200]}
            )
    return examples


def score(observed: dict | None, rules: Rules) -> dict:
    """Findings per 100 lines and the 0-100 score: ``100 * half / (half + per_100)``."""
    if not observed or observed.get("findings") is None:
        return {"per_100_lines": None, "score": None}
    half = rules.code_quality["half_score_per_100_lines"]
    per_100 = 100 * observed["findings"] / max(observed["lines"], 1)
    return {"per_100_lines": per_100, "score": 100 * half / (half + per_100)}


def _lines_of_code(path: Path) -> int:
    """Lines that hold code: a name, a number or an operator other than a bare ``pass``
    (blank lines, comments, string literals standing alone and ``pass`` padding do not
    dilute the findings). A file Python cannot tokenize counts its non-blank lines."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return 0
    lines: dict[int, list[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NAME, tokenize.NUMBER, tokenize.OP):
                lines.setdefault(tok.start[0], []).append(tok.string)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return sum(1 for line in text.splitlines() if line.strip())
    return sum(1 for toks in lines.values() if toks != ["pass"])


@functools.cache  # one linter for the whole process: asked once, not at every grade
def _version(binary: str) -> str:
    return _run([binary, "--version"], Path.cwd()).strip().split()[-1][:40]


def _ruff() -> str:
    from ruff.__main__ import find_ruff_bin

    return os.fsdecode(find_ruff_bin())


def _run(command: list[str], cwd: Path, limit: int = MAX_OUTPUT_BYTES) -> str:
    """The command's output, at most ``limit`` bytes of it: past that, the command is
    stopped (the examples need only the first lines) or, with no limit asked, refused.
    Nothing beyond ``limit`` is stored anywhere."""
    env = {"PATH": os.defpath, "LANG": "C.UTF-8"}  # --isolated: no user configuration either
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        timer = threading.Timer(TIMEOUT_S, proc.kill)
        timer.start()
        try:
            text = _read_at_most(proc.stdout, limit + 1)
            cut = len(text) > limit
            if cut:
                proc.kill()  # the rest is not wanted
            code = proc.wait()
        finally:
            timer.cancel()
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0 and not cut:
            errors.seek(0)
            detail = errors.read(300).decode(errors="replace")
            raise subprocess.SubprocessError(detail or f"exit {code} (killed after {TIMEOUT_S} s?)")
    if cut and limit == MAX_OUTPUT_BYTES:
        raise ValueError(f"the linter wrote more than {limit:,} bytes")
    return text[:limit].decode(errors="replace")


def _read_at_most(stream: IO[bytes], size: int) -> bytes:
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(min(65536, size - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
