"""``grader.sandbox.process.ModelProcess``: the real child (``handle.Child``) and the tests'
fake (``tests/fakechild.py``) both satisfy it, member for member and signature for
signature, and the referee uses nothing of a child that it does not declare."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from fakechild import FakeChild, FakeClock

from grader.measure.ablation import Ablation
from grader.measure.plan import Model, Plan
from grader.measure.referee import Referee
from grader.sandbox.handle import Child
from grader.sandbox.process import ModelProcess


def annotations(cls: type) -> dict[str, object]:
    """The class's annotated attributes, its bases' included."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        found.update(inspect.get_annotations(klass))
    return found


ATTRIBUTES = inspect.get_annotations(ModelProcess)
METHODS = {
    name: member
    for name, member in vars(ModelProcess).items()
    if inspect.isfunction(member) and not name.startswith("_")
}
MEMBERS = set(ATTRIBUTES) | set(METHODS)


def shape(function: object) -> list[tuple]:
    """What a caller depends on in a signature: each parameter's name, kind, whether it has
    a default and its annotation, and the return annotation."""
    signature = inspect.signature(function)
    parameters = [
        (p.name, p.kind, p.default is inspect.Parameter.empty, p.annotation)
        for p in signature.parameters.values()
    ]
    return [*parameters, ("return", signature.return_annotation)]


def mismatches(implementation: type) -> list[str]:
    """How ``implementation`` differs from ``ModelProcess``: nothing, if it satisfies it."""
    found = []
    declared = annotations(implementation)
    for name, kind in ATTRIBUTES.items():
        if declared.get(name) != kind:
            found.append(f"attribute {name}: {declared.get(name)!r}, not {kind!r}")
    for name, method in METHODS.items():
        mine = getattr(implementation, name, None)
        if not callable(mine):
            found.append(f"method {name}: missing")
        elif shape(mine) != shape(method):
            found.append(f"method {name}{inspect.signature(mine)}: not {inspect.signature(method)}")
    return found


@pytest.mark.parametrize("implementation", [Child, FakeChild], ids=["Child", "FakeChild"])
def test_each_child_satisfies_the_protocol(implementation: type) -> None:
    assert mismatches(implementation) == []


def test_a_method_missing_or_with_another_signature_is_found() -> None:
    """The check can fail: a child without ``close`` and with ``load`` taking its
    arguments under other names is two mismatches."""

    class Stale(FakeChild):
        close = None  # type: ignore[assignment]

        def load(self, path: str, function: str, shift: int, imports: dict | None, timeout: float) -> None:  # fmt: skip  # noqa: E501
            pass

    assert [m.split(":")[0].split("(")[0] for m in mismatches(Stale)] == [
        "method load",
        "method close",
    ]


def test_the_fake_child_is_a_model_process_at_run_time() -> None:
    assert isinstance(FakeChild("submission", FakeClock(), 1e-5, []), ModelProcess)


class OnlyTheProtocol:
    """A fake child the referee can reach through ``ModelProcess``'s members only."""

    def __init__(self, child: FakeChild) -> None:
        self._child = child

    def __getattr__(self, name: str) -> object:
        if name not in MEMBERS:
            raise AttributeError(f"the referee used {name!r}, which ModelProcess does not declare")
        return getattr(self._child, name)


def test_the_wrapper_refuses_what_the_protocol_does_not_declare() -> None:
    wrapped = OnlyTheProtocol(FakeChild("submission", FakeClock(), 1e-5, []))
    assert wrapped.name == "submission"
    with pytest.raises(AttributeError, match="'send'"):
        wrapped.send  # noqa: B018


def test_the_referee_uses_only_what_the_protocol_declares() -> None:
    """A whole measurement and an ablation, every child reachable only through the
    protocol: an attribute it does not declare raises."""
    clock = FakeClock()
    latencies = {"baseline": 20e-6, "submission": 10e-6}

    def spawn(name, folder, limits, core, page_bytes, *, files, prepare=None):
        return OnlyTheProtocol(FakeChild(name, clock, latencies[name], []))

    labels = np.arange(200) % 10
    images = np.random.default_rng(1).random((200, 16), dtype=np.float32)
    images[:, 0] = labels / 10
    plan = Plan(
        sessions=2, warmup_rounds=2, min_rounds=6, max_rounds=10, calibration_blocks=3,
        throughput_batch=4, throughput_rounds=2, block_seconds=0.001,
    )  # fmt: skip
    referee = Referee(
        images, 10, plan, seed=7, imports={"allowed": ["numpy"]},
        clock=clock.perf_counter, spawner=spawn,
    )  # fmt: skip
    models = [Model(n, Path("."), "model.py", "build_model", ("model.py",)) for n in latencies]
    m = referee.measure(*models)
    assert m.rounds > 0
    ablation = Ablation(referee)
    checks = ablation.ablate(models[1], {"weights": lambda path: None}, labels, 16)["checks"]
    assert checks["weights"]["failure"] is None
