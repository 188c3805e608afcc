"""``grader.sandbox.verdicts``: what a dead or misbehaving child means, from how it died
and what it printed last. See docs/DESIGN.md, Verdicts and exit codes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from grader.sandbox import verdicts


@pytest.mark.parametrize(
    ("code", "killed", "output", "verdict", "words"),
    [
        (-signal.SIGKILL, True, "", "timeout", "killed (SIGKILL) after exceeding its time"),
        (-signal.SIGXCPU, False, "", "timeout", "exceeded its CPU-time limit (SIGXCPU)"),
        (-signal.SIGXFSZ, False, "", "bad_output", "wrote more output than allowed"),
        (-signal.SIGSYS, False, "", "sandbox_violation", "seccomp ended it (SIGSYS)"),
        (-signal.SIGKILL, False, "", "crashed", "died with signal SIGKILL"),
        (-signal.SIGSEGV, False, "boom", "crashed", "SIGSEGV; its last output: 'boom'"),
        (1, False, "MemoryError", "memory_limit", "ran out of memory"),
        (1, False, "Traceback", "crashed", "exited with code 1 without answering"),
        (None, False, "", "crashed", "exited with code None without answering"),
    ],
    ids=[
        "killed-after-deadline",
        "cpu-limit",
        "file-size-limit",
        "seccomp",
        "killed-by-another",
        "segfault-with-output",
        "memory-error",
        "exit-code",
        "would-not-exit",
    ],
)
def test_a_dead_childs_verdict(tmp_path: Path, code, killed, output, verdict, words) -> None:
    log = tmp_path / "submission.log"
    log.write_text(output)
    found, message = verdicts.death("submission", code, killed, log)
    assert found == verdict
    assert message.startswith("submission ") and words in message


def test_the_tail_is_the_end_of_a_long_log_and_none_without_one(tmp_path: Path) -> None:
    log = tmp_path / "submission.log"
    log.write_text("x" * 10_000 + "the end")
    assert verdicts.stderr_tail(log).endswith("the end'")
    assert len(verdicts.stderr_tail(log)) < 700
    assert verdicts.stderr_tail(tmp_path / "absent.log") == ""


@pytest.mark.parametrize(
    ("code", "verdict"),
    [("memory_limit", "memory_limit"), ("sandbox_violation", "sandbox_violation"),
     ("scope_violation", "crashed"), (None, "crashed")],
)  # fmt: skip
def test_a_reported_failure_keeps_only_a_code_a_child_may_report(code, verdict) -> None:
    failure = verdicts.reported("submission", {"op": "error", "code": code, "message": "m" * 5000})
    assert (failure.code, failure.who, len(failure.message)) == (verdict, "submission", 2000)
