"""The parent's handle on a profiled child: a worker whose blocks, while ``profiling``, ask
it to trace the model's own lines (``grader/child/profile.py``), and whose "done" message
then carries what it found (docs/DESIGN.md, Where the time goes).

It is a ``handle.Child`` made from one just started (``of``), sharing its process, pipes
and page: the same hand-over, the same checks of every reply. The report is untrusted
input like everything else the child sends; ``grader/measure/hotspots.py`` checks it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from grader.sandbox.handle import Child


@dataclass
class ProfiledChild(Child):
    """A worker whose blocks are traced while ``profiling``; ``report``: what the last
    block's "done" carried under "profile" (None if nothing)."""

    profiling: bool = False
    report: object = None

    @classmethod
    def of(cls, child: Child) -> ProfiledChild:
        """The handle to use in place of ``child`` (whose process it takes over)."""
        return cls(**{f.name: getattr(child, f.name) for f in dataclasses.fields(child)})

    def send(self, message: dict, timeout: float = 30.0) -> None:
        if self.profiling and message.get("op") == "block":
            message = {**message, "profile": True}
        super().send(message, timeout)

    def receive(self, timeout: float) -> dict:
        message = super().receive(timeout)
        if message.get("op") == "done":
            self.report = message.get("profile")
        return message
