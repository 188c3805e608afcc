"""The one error hierarchy and the violation record every check yields.

Every exception that leaves the module raising it is defined here (or, for the child's
sake, in ``grader/child/wire.py`` and re-exported). The few defined elsewhere never leave
their module or folder: the pipe's signals (``sandbox/channel.py``, turned into a verdict by
``sandbox/handle.py``), a malformed profile report (``measure/hotspots.py``), the YAML
loader's stop at an anchor (``yamlfile.py``), and the child's own (``child/worker.py``,
``child/confine.py``), which cannot import this module (docs/DESIGN.md, Trust boundaries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

from grader import escape

# Defined beside the wire protocol, the one module the child may import; the grader's
# modules take them from here.
from grader.child.wire import CHILD_EXIT_OK as CHILD_EXIT_OK
from grader.child.wire import CHILD_EXIT_PROTOCOL as CHILD_EXIT_PROTOCOL
from grader.child.wire import CHILD_EXIT_REPORTED as CHILD_EXIT_REPORTED
from grader.child.wire import Verdict as Verdict
from grader.child.wire import WireError as WireError

# The command line's exit codes (docs/DESIGN.md, Verdicts and exit codes); a GraderError
# carries its own (2, or 3).
# EXIT_FAILED: the grader itself could not finish a grade (never a verdict on the code).
EXIT_OK, EXIT_RULES, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2, 3


Target = Literal["text", "terminal", "markdown", "annotation"]  # where a violation is shown


@dataclass(frozen=True)
class Violation:
    """One broken rule, with enough context to fix it without reading code.

    ``where`` is ``file:line`` for a config file or a JSON path for a result.
    """

    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    expected: str | None = None
    found: str | None = None
    fix: str | None = None

    @property
    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or self.field or ""

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Violation:
        """A violation as a result stores it (:meth:`as_dict`)."""
        return cls(**{f.name: stored.get(f.name) for f in fields(cls)})

    def render(self, target: Target, *, title: str = "", config: str | None = None) -> str:
        """This violation as ``target`` shows it, the student's text escaped for it:

        - ``text``: one plain line (``str()``), for the terminal's error lines and logs;
        - ``terminal``: the score card's lines, ``✗ where message`` and its fix;
        - ``markdown``: the score card's list item in a pull request's comment;
        - ``annotation``: a GitHub ``::error`` command titled ``title``, on the violation's
          file and line, else on ``config`` (the submission.yaml).
        """
        where = self.where
        if target == "text":
            parts = [f"{where}: " if where else "", self.message]
            if self.field and where != self.field:
                parts.append(f" [field {self.field}]")
            if self.expected is not None:
                parts.append(f"; expected {self.expected}")
            if self.found is not None:
                parts.append(f", found {self.found}")
            if self.fix:
                parts.append(f". Fix: {self.fix}")
            return "".join(parts)
        if target == "terminal":
            lines = [escape.clean(f"✗ {where} {self.message}", 1000)]
            if self.fix:
                lines.append(escape.clean(f"    fix: {self.fix}", 1000))
            return "\n".join(lines)
        if target == "markdown":
            fix = f" — fix: {escape.md(self.fix, 300)}" if self.fix else ""
            return f"- ✗ {escape.code(where, 200)} {escape.md(self.message, 500)}{fix}"
        if target == "annotation":
            props = [f"title={escape.command_property(title)}"]
            file = self.file or config
            if file:
                props.insert(0, f"file={escape.command_property(file)}")
            if self.line and self.file:
                props.insert(1, f"line={int(self.line)}")
            text = str(self.message) + (f" Fix: {self.fix}" if self.fix else "")
            return f"::error {','.join(props)}::{escape.command_data(text)}"
        raise ValueError(f"unknown target {target!r}: one of {', '.join(get_args(Target))}")

    def __str__(self) -> str:
        return self.render("text")


class GraderError(Exception):
    """Base of every error the grader reports to a user; only the CLI turns it into an exit."""

    exit_code = EXIT_REJECTED

    def __init__(self, message: str, violations: list[Violation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations = list(violations or [])


class ConfigError(GraderError):
    """A submission.yaml, events.yaml or result JSON that cannot be used as given."""


class DataError(GraderError):
    """A dataset whose bytes do not match the recorded sha256, or that is missing: the
    grader cannot grade (exit 3), whatever the submission."""

    exit_code = EXIT_FAILED


class Rejected(GraderError):
    """The submission failed in a way that earns a verdict (timeout, crashed, bad_output…)."""

    def __init__(self, code: Verdict, message: str) -> None:
        super().__init__(message)
        self.code = code


class SandboxIncomplete(GraderError):
    """This machine cannot give the submission every sandbox layer, and they were required:
    not a verdict on the submission (exit 3), and none of its code was loaded."""

    exit_code = EXIT_FAILED


class InstructionsMissing(GraderError):
    """The instructions could not be counted (no valgrind, or a counted child failed), and
    they were required (``--require-instructions``): the grader's failure (exit 3)."""

    exit_code = EXIT_FAILED


class CountFileError(GraderError):
    """A cachegrind output file that cannot be read as one (``sandbox/cachegrind.py``): the
    counted run fails, and the count is missing, never guessed."""


class GitError(GraderError):
    """git could not answer: not a verdict on the pull request (exit 3, not 2)."""

    exit_code = EXIT_FAILED


class GitHubError(GraderError):
    """GitHub could not be reached or refused: nothing was posted (the card is on disk)."""

    exit_code = EXIT_FAILED


class ChildFailure(Exception):
    """A child broke a limit or the protocol; ``code`` is a verdict code. The referee turns
    the submission's into ``Rejected`` and the baseline's into a ``GraderError``."""

    def __init__(self, code: Verdict, message: str, who: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.who = who  # the child's name: "baseline" or "submission"
