"""Code quality: the linter's findings on a submission's code, and the 0-100 score from them.

The linter (ruff) runs in a subprocess on the modules the entrypoint reaches
(:mod:`grader.analysis.reach`), which it parses and never imports. It runs ``--isolated`` (no
configuration file of the submission's can switch a rule off) with exactly the settings of
``events.yaml``, every file named on the command line (so that the linter's default
exclusions, such as a folder called ``build``, hide nothing). The rules are those of defects,
risky idioms and complexity; layout (whitespace, blank lines, line length, statements per
line), which ``ruff format`` rewrites, is left out in ``events.yaml``. Findings in live code
are counted per 100 statements of live code, which comments, docstrings, dead definitions
and modules never imported do not grow: :func:`lint` is the observation; :func:`score` is
derived from it on every read.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from grader.analysis import reach
from grader.config import Rules

TIMEOUT_S = 120
MAX_EXAMPLES = 10
MAX_RULES = 100
MAX_CODE_BYTES = 2_000_000  # of .py source linted: ruff needs about 0.6 GB a MB at worst
MAX_RECORD_BYTES = 4 * MAX_CODE_BYTES  # one finding as JSON, with its fix's text
RULE_CODE = re.compile(r"[A-Z]+[0-9]+")


def lint(folder: Path, rules: Rules, entrypoint: str = "model.py:build_model") -> dict:
    """The live statements and the linter's findings of the modules ``entrypoint``
    (``file.py:function``) reaches.

    ruff's findings are read one at a time and only counted by rule, the first few kept as
    examples: what the grader holds in memory is bounded whatever the code. A finding
    counts on a line of live code (dead code is not the model's); a file that does not
    parse counts all its findings. ``# noqa`` comments are ignored: a submission does not
    switch the meter off. A linter that is missing or fails, an entrypoint file that is not
    there, or more code than is linted, leaves ``findings`` None and says why in
    ``problem``: the score is then not measured, never guessed.
    """
    settings = rules.code_quality
    reached = reach.reach(folder, entrypoint, MAX_CODE_BYTES)
    observed: dict = {
        "linter": settings["linter"],
        "version": None,
        "files": len(reached.files),
        "statements": reached.statements,
        "findings": None,
        "by_rule": {},
        "examples": [],
        "problem": None,
    }
    if reached.bytes > MAX_CODE_BYTES:
        observed["problem"] = (
            f"more than {MAX_CODE_BYTES:,} bytes of code reached from the entrypoint; "
            f"at most {MAX_CODE_BYTES:,} are linted"
        )
        return observed
    if not reached.files:
        file = entrypoint.rpartition(":")[0]
        observed["problem"] = f"the entrypoint's file {file[:200]!r} is not in the folder"
        return observed
    try:
        binary = _ruff()
        observed["version"] = _version(binary)
        command = [
            binary, "check", "--isolated", "--no-cache", "--exit-zero", "--ignore-noqa",
            "--select", ",".join(settings["select"]),
            *(["--ignore", ",".join(settings["ignore"])] if settings.get("ignore") else []),
            "--line-length", str(settings["line_length"]),
        ]  # fmt: skip
        names = ["--", *reached.files]
        found = _findings(
            [*command, "--output-format", "json-lines", *names], folder, reached.files
        )
        by_rule, examples = _live(found, reached.live_lines)
    except (OSError, ValueError, subprocess.SubprocessError, ImportError) as exc:
        observed["problem"] = f"the linter could not run: {str(exc)[:300]}"
        return observed
    observed["findings"] = sum(by_rule.values())
    observed["by_rule"] = dict(sorted(by_rule.most_common(MAX_RULES)))
    observed["examples"] = examples
    return observed


def _live(
    found: Iterator[tuple[str, int, str, str]], live_lines: dict[str, frozenset[int] | None]
) -> tuple[Counter, list[dict]]:
    """The findings on live lines, counted by rule, and the first few as examples."""
    by_rule: Counter = Counter()
    examples: list[dict] = []
    for file, row, code, message in found:
        lines = live_lines.get(file)  # None: the file does not parse (or is not known)
        if lines is not None and row not in lines:
            continue  # dead code, a comment or a blank line: not the model's code
        by_rule[code] += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append({"file": file[-200:], "line": row, "code": code, "message": message})
    return by_rule, examples


def score(observed: dict | None, rules: Rules) -> dict:
    """Findings per 100 statements and the 0-100 score: ``100 * half / (half + per_100)``.

    A result observed before the meter counted statements (it has ``lines``: every
    file's, layout rules included) cannot be recomputed by it (ValueError: regrade)."""
    if not observed or observed.get("findings") is None:
        return {"per_100_statements": None, "score": None}
    if "statements" not in observed:
        raise ValueError(
            "code_quality was observed by an older grader (findings per line, layout rules "
            "included): regrade the submission"
        )
    half = rules.code_quality["half_score_per_100_statements"]
    per_100 = 100 * observed["findings"] / max(observed["statements"], 1)
    return {"per_100_statements": per_100, "score": 100 * half / (half + per_100)}


@functools.cache  # one linter for the whole process: asked once, not at every grade
def _version(binary: str) -> str:
    text = b"".join(_output([binary, "--version"], Path.cwd(), 1000)).decode(errors="replace")
    return text.strip().split()[-1][:40]


def _ruff() -> str:
    from ruff.__main__ import find_ruff_bin

    return os.fsdecode(find_ruff_bin())


def _findings(
    command: list[str], folder: Path, files: tuple[str, ...]
) -> Iterator[tuple[str, int, str, str]]:
    """Each finding of ruff's ``json-lines`` output as (file, line, rule, message), the file
    as named in ``files``, read as it comes: one record is held at a time, however many
    findings there are."""
    named = {os.path.abspath(folder / f): f for f in files}
    named |= {os.path.realpath(folder / f): f for f in files}
    for line in _output(command, folder, MAX_RECORD_BYTES):
        record = json.loads(line)
        file = str(record.get("filename") or "")
        code = str(record.get("code") or "")
        message = str(record.get("message") or "")
        if not RULE_CODE.fullmatch(code):  # a syntax error: no rule code
            code, message = "syntax-error", f"SyntaxError: {message}"
        row = int((record.get("location") or {}).get("row") or 0)
        yield named.get(file, file), row, code[:20], message[:200]


def _output(command: list[str], cwd: Path, limit: int) -> Iterator[bytes]:
    """The command's output, line by line, each at most ``limit`` bytes (a longer one is
    refused, never cut); killed after ``TIMEOUT_S``."""
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
            pending = b""
            while chunk := proc.stdout.read1(1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                yield from lines
                if len(pending) > limit:
                    raise ValueError(f"the linter wrote a line of more than {limit:,} bytes")
            if pending:
                yield pending
            code = proc.wait()
        finally:
            timer.cancel()
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            errors.seek(0)
            detail = errors.read(300).decode(errors="replace")
            raise subprocess.SubprocessError(detail or f"exit {code} (killed after {TIMEOUT_S} s?)")
