"""The sandbox as the grade found it: what each child reported of its layers and limits, the
result's ``sandbox`` section, and ``--require-sandbox``'s check before any submission code
is loaded (docs/DESIGN.md, Trust boundaries; SECURITY.md).
"""

from __future__ import annotations

from grader.errors import SandboxIncomplete


class SandboxReport:
    """The layers the submission's child reported, and whether every child got its rlimits."""

    def __init__(self, imports: dict | None, required: bool) -> None:
        self.imports = imports  # the import rules the child's audit hook enforces
        self.required = required  # refuse to load submission code without every layer
        self.limits_ok = True  # did every child get its rlimits?
        self.child_layers: dict[str, str] = {}  # the OS layers the submission's child reported

    def check(self) -> None:
        """Where every layer is required, stop before any submission code is loaded if a
        layer is not active here."""
        if not self.required:
            return
        from grader.child.confine import LAYERS

        reported = self.layers()
        weak = {k: v for k, v in reported.items() if v.startswith(("unavailable", "off"))}
        weak |= {k: "not reported by the child" for k in LAYERS if k not in reported}
        if weak:
            raise SandboxIncomplete(
                "the sandbox is not complete on this machine, and --require-sandbox asks for "
                "every layer: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(weak.items()))
                + ". Nothing of the submission was loaded. Grade on a machine where every "
                "layer starts (see SECURITY.md), or without --require-sandbox."
            )

    def layers(self) -> dict[str, str]:
        """Every layer of the sandbox and its state, as the result records it."""
        return {
            "static_check": "passed" if self.imports else "off",
            "workdir": "private read-only copy",
            "process_group": "own session, killed as a group",
            "environment": "whitelist",
            "rlimits": "prlimit" if self.limits_ok else "unavailable",
            **self.child_layers,
            "audit_hook": "installed" if self.imports else "off",
        }
