"""The sandbox as a grade reports it (grader/measure/sandbox_report.py): the result's
``sandbox`` section, and ``--require-sandbox`` refusing to load submission code where a
layer is missing (SECURITY.md; docs/DESIGN.md, Trust boundaries).
"""

from __future__ import annotations

import pytest

from grader.child.confine import LAYERS
from grader.config import Rules
from grader.errors import SandboxIncomplete
from grader.measure.sandbox_report import SandboxReport


def test_require_sandbox_counts_a_layer_the_child_did_not_report(rules: Rules) -> None:
    report = SandboxReport(rules.imports, required=True)
    report.child_layers = {"network": "active", "processes": "active", "filesystem": "active"}
    with pytest.raises(SandboxIncomplete, match="syscalls: not reported by the child"):
        report.check()


def test_require_sandbox_refuses_a_layer_that_is_off(rules: Rules) -> None:
    report = SandboxReport(rules.imports, required=True)
    report.child_layers = dict.fromkeys(LAYERS, "active") | {"network": "unavailable: no userns"}
    with pytest.raises(SandboxIncomplete, match="network: unavailable: no userns"):
        report.check()
    report.child_layers["network"] = "active"
    report.check()  # every layer on


def test_without_the_switch_a_missing_layer_is_reported_not_refused() -> None:
    report = SandboxReport(None, required=False)
    report.limits_ok = False
    report.check()
    assert report.layers() == {
        "static_check": "off",
        "workdir": "private read-only copy",
        "process_group": "own session, killed as a group",
        "environment": "whitelist",
        "rlimits": "unavailable",
        "audit_hook": "off",
    }
