"""A session's children: started in turn, the sandbox checked, each model loaded at a
random heap offset (docs/DESIGN.md, Measurement; SECURITY.md).

The children come from the spawner passed in (``grader.sandbox.launch.spawn`` in a grade;
fake children in the tests), and the load's time from the clock passed in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.child import wire
from grader.measure.measurement import Footprint
from grader.measure.plan import GenerationPlan, Model, Plan
from grader.measure.sandbox_report import SandboxReport
from grader.sandbox.process import ModelProcess

Clock = Callable[[], float]
Spawner = Callable[..., ModelProcess]  # grader.sandbox.launch.spawn's signature


class Launcher:
    """Starts and loads the children of one grade, and keeps what their sandbox reported."""

    def __init__(
        self,
        plan: Plan | GenerationPlan,
        imports: dict | None,
        rng: np.random.Generator,
        page_bytes: int,
        clock: Clock,
        spawner: Spawner,
    ) -> None:
        self.plan = plan
        self.imports = imports  # the import rules the child's audit hook enforces
        self.rng = rng
        self.page_bytes = page_bytes
        self.clock, self.spawner = clock, spawner
        self.sandbox = SandboxReport(imports, plan.require_sandbox)

    def start(
        self, k: int, models: tuple[Model, Model], core: int | None, children: list[ModelProcess]
    ) -> None:
        """Start session ``k``'s two children into ``children`` (baseline first, there)."""
        # Sessions alternate which child starts first: measured here, the child
        # started first ran the transformer about 0.5 % slower than the other,
        # whichever model it held. Alternating turns that into spread between
        # sessions, which the interval carries, instead of a bias.
        for model in models if k % 2 == 0 else models[::-1]:
            children.append(
                self.spawner(
                    model.name,
                    model.folder,
                    self.plan.limits,
                    core,
                    self.page_bytes,
                    files=model.files,
                )
            )
            self.sandbox.limits_ok &= children[-1].info.get("limits") == "prlimit"
        if k % 2:
            children.reverse()  # in place: the timer's live children are this list
        self.sandbox.child_layers = children[1].info.get("layers", {})
        self.sandbox.check()

    def load(
        self,
        children: list[ModelProcess],
        results: list[Footprint],
        models: tuple[Model, Model],
        protocol: str = wire.CLASSIFICATION,
    ) -> None:
        """Each child builds its model, called by ``protocol``; the slowest load of each
        model is kept."""
        for child, res, model in zip(children, results, models, strict=True):
            t0 = self.clock()
            child.load(
                model.entrypoint_file, model.function, self.layout_shift(),
                self.imports, self.plan.load_timeout_s, protocol,
            )  # fmt: skip
            child.check_threads()  # one started by build_model, before any block
            res.load_seconds = max(res.load_seconds, self.clock() - t0)

    def layout_shift(self) -> int:
        """Bytes a child allocates and keeps before it builds its model: a different
        amount in every child, so that where the model's arrays land in memory (and so
        how they align with cache lines and pages) is random from session to session.

        Measured here: the transformer's baseline, graded against a copy whose model.py
        differed only by a comment, came out 1.0125, 1.0076 and 1.0096, every interval
        excluding 1; the same copy against itself, 1.001, 0.9985, 1.0002. The addresses a
        process's allocations get are set by what it allocated before, down to the
        length of its source files, and a fixed layout is a fixed bias (Mytkowicz et al.,
        "Producing wrong data without doing anything obviously wrong!", ASPLOS 2009).
        Randomised per child, it becomes spread between sessions, which the interval
        carries."""
        return int(self.rng.integers(0, 4096)) * 16
