"""The child's side: build the submission's model, then answer blocks of samples.

Runs in its own process, started by the sandbox with two pipe descriptors and a page of
shared memory (``handoff``). It only computes: the parent holds the labels and owns the
clock. It imports nothing of the grader but the wire protocol, the hand-over page, the
operating-system layers (``confine``), applied before it says hello, its own audit
hook (``guard``), installed before the submission's code is imported, and its capped
output (``output``). A counted child (under cachegrind, ``precount``) reports its kernels
(``dispatch``) and waits for each sample on a doorbell, never a spin.

A block's samples come one at a time (or one batch at a time) through the shared page,
and the parent writes the next only once the current one is answered: the model cannot
hold sample i+1 while answering sample i, whatever it does (frames, the garbage
collector, the pipe, the page itself all hold nothing ahead). A generation model
(``wire.GENERATION``) is served the same way: after ``reset(batch)``, each hand-over is one
step of its ``batch`` sequences, one token each, and it answers the next token's scores.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from grader.child import confine, dispatch, guard, handoff, profile, wire
from grader.child.output import OUTPUT_LIMIT_BYTES, CappedOutput


class ModelError(Exception):
    """The model's failure, as the verdict the child reports in its "error" message."""

    def __init__(self, code: wire.Verdict, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def describe(exc: BaseException) -> str:
    """One line naming the exception and the submission's innermost frame."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "grader" not in f.filename]
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    text = f"{type(exc).__name__}: {exc}"
    return (text[:300] + "…" if len(text) > 300 else text) + where


def build(message: dict) -> object:
    """Import the entrypoint module from the working directory and call its function: the
    model."""
    folder = os.getcwd()
    sys.path.insert(0, folder)
    module_name = message["entrypoint_file"][: -len(".py")].replace("/", ".")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, message["function"])
        return factory()
    except BaseException as exc:
        why = f"build_model failed: {describe(exc)}"
        raise failure(exc, "while building the model", why) from None


def classifier(model: object) -> Callable:
    """A classification model's callable: the model itself, or its ``forward``."""
    if callable(model):
        return model
    if callable(getattr(model, "forward", None)):
        return model.forward
    raise ModelError(
        wire.Verdict.BAD_OUTPUT,
        f"build_model returned {type(model).__name__!s}, which is neither callable nor has "
        "a forward method",
    )


@dataclass
class Served:
    """The model the child serves, as its protocol calls it."""

    protocol: str
    call: Callable  # classification: the model's callable; generation: its step, on int64 ids
    reset: Callable | None = None  # generation: the model's reset(batch)
    sequences: int = 0  # generation: the batch of its last reset (0: none yet)
    layout: bytearray = field(default_factory=bytearray)  # the heap's shift, kept alive


def generator(model: object) -> Served:
    """A generation model's ``reset`` and ``step``, checked at load. The tokens come
    through the page as float32 (exact below 2**24) and reach ``step`` as a fresh int64
    array each step: the model may keep it, and the page's next step cannot change it."""
    try:
        reset, step = getattr(model, "reset", None), getattr(model, "step", None)
        missing = [name for name, f in (("reset", reset), ("step", step)) if not callable(f)]
    except BaseException as exc:
        raise failure(exc, "while loading the model", f"the model raised {describe(exc)}") from None
    if missing:
        raise ModelError(
            wire.Verdict.BAD_OUTPUT,
            f"build_model returned {type(model).__name__!s}, which has no callable "
            f"{' or '.join(missing)}: a generation model has reset(batch) and step(tokens)",
        )

    def call(x, _step=step, _int64=np.int64):
        return _step(x.astype(_int64))

    return Served(wire.GENERATION, call, reset)


def run_block(
    page: handoff.Page, call, n: int, batch: int, in_shape: tuple, classes: int, first: int
) -> None:
    """Answer ``n`` samples handed over through ``page``, ``batch`` at a time.

    Releases ``first + 1``, ``first + 2``, … come from the parent; each is answered in the
    answer slot and acknowledged before the parent writes the next (see ``handoff``). This
    loop is the harness's own per-sample cost, calibrated with a no-op model and subtracted
    by the parent; keep it lean.
    """
    words = page.words
    x, answer = page.slots(batch, in_shape, classes)
    expected = (batch, classes)
    ndarray = np.ndarray
    float32 = np.dtype(np.float32)
    released, answered = handoff.RELEASED, handoff.ANSWERED
    parent = os.getppid()
    for seq in range(first + 1, first + n // batch + 1):
        if words[released] != seq:
            spins = 0
            while words[released] != seq:
                spins += 1
                if spins > handoff.FAST_SPINS:
                    os.sched_yield()
                    if spins % handoff.CHECK_EVERY == 0 and os.getppid() != parent:
                        os._exit(wire.CHILD_EXIT_PROTOCOL)  # the grader is gone: do not spin on
        y = returned = call(x)
        if type(y) is not ndarray:
            y = np.asarray(getattr(y, "data", y))
        if y.shape != expected or (y.dtype is not float32 and y.dtype.kind not in "biuf"):
            raise bad_scores(returned, y, x.shape, expected)
        answer[...] = y
        # Dropped before the answer is acknowledged: whatever the returned objects do as
        # they go (a __del__, a weakref callback) runs on the clock, even after the last.
        y = returned = None
        words[answered] = seq


def run_counted_block(
    doorbell: int,
    page: handoff.Page,
    call,
    n: int,
    batch: int,
    in_shape: tuple,
    classes: int,
    first: int,
) -> None:
    """``run_block`` for the counted child (grader/child/precount.py): each release is
    awaited by a blocking read of the byte the parent writes to ``doorbell`` after it,
    never by a spin, whose length depends on timing and would be counted with the rest."""
    words = page.words
    x, answer = page.slots(batch, in_shape, classes)
    expected = (batch, classes)
    ndarray = np.ndarray
    float32 = np.dtype(np.float32)
    released, answered = handoff.RELEASED, handoff.ANSWERED
    read = os.read
    for seq in range(first + 1, first + n // batch + 1):
        if read(doorbell, 1) != b"\x01" or words[released] != seq:
            raise wire.WireError(f"the doorbell rang out of step with release {seq}")
        y = returned = call(x)
        if type(y) is not ndarray:
            y = np.asarray(getattr(y, "data", y))
        if y.shape != expected or (y.dtype is not float32 and y.dtype.kind not in "biuf"):
            raise bad_scores(returned, y, x.shape, expected)
        answer[...] = y
        y = returned = None
        words[answered] = seq


def bad_scores(returned: object, y: np.ndarray, shape: tuple, expected: tuple) -> ModelError:
    """The verdict for scores of the wrong shape or type."""
    what = "" if type(returned) is np.ndarray else f"a {type(returned).__name__} holding "
    return ModelError(
        wire.Verdict.BAD_OUTPUT,
        f"the model returned {what}{y.dtype} scores of shape {y.shape} for an input of "
        f"shape {shape}; expected numbers of shape {expected}",
    )


def limit_verdict(exc: BaseException) -> ModelError | None:
    """An exception that an operating-system layer caused, as that layer's verdict.

    EFBIG comes from writing past RLIMIT_FSIZE on the log (an output limit). EACCES and
    EPERM can only come from the sandbox here: the working directory is a read-only copy,
    Landlock refuses files outside it, and nothing else the child may touch needs rights.
    """
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return ModelError(wire.Verdict.BAD_OUTPUT, f"wrote more to its output than allowed ({exc})")
    if isinstance(exc, PermissionError):
        return ModelError(wire.Verdict.SANDBOX_VIOLATION, f"the sandbox refused: {describe(exc)}")
    return None


def failure(exc: BaseException, doing: str, crashed: str) -> ModelError:
    """The verdict for what the model's code raised: out of memory, stopped by a sandbox
    layer (:func:`limit_verdict`), or else a crash described by ``crashed``."""
    if isinstance(exc, MemoryError):
        return ModelError(wire.Verdict.MEMORY_LIMIT, f"ran out of memory {doing}")
    if isinstance(exc, FileNotFoundError):  # often a file of its folder that is not its model's
        crashed += (
            "; the model's copy of its folder holds its code and weights only, never its"
            " description files (submission.yaml, README, licence, notes)"
        )
    return limit_verdict(exc) or ModelError(wire.Verdict.CRASHED, crashed)


def reporter(fd_out: int, code: wire.Verdict) -> Callable[[str], None]:
    """Report a verdict to the parent and end the child at once: no ``except`` in the
    submission's code can swallow it."""

    def report(why: str) -> None:
        with contextlib.suppress(OSError, wire.WireError):
            wire.send(fd_out, {"op": "error", "code": code, "message": why})
        os._exit(wire.CHILD_EXIT_REPORTED)

    return report


def load(fd_out: int, message: dict) -> Served:
    """Install the audit hook, shift the heap, build the model and check it against its
    protocol."""
    protocol = message.get("protocol", wire.CLASSIFICATION)
    if protocol not in wire.PROTOCOLS:
        raise wire.WireError(f"unknown model protocol {protocol!r}")
    if "imports" in message:
        guard.install(
            os.getcwd(),
            message["imports"],
            reporter(fd_out, wire.Verdict.SANDBOX_VIOLATION),
        )
    # Shift the heap by a random amount before the model allocates anything: see
    # Launcher.layout_shift. Kept alive for the child's life, by what it serves.
    layout = bytearray(int(message.get("layout_shift", 0)))
    model = build(message)
    if protocol == wire.GENERATION:
        served = generator(model)
    else:
        served = Served(wire.CLASSIFICATION, classifier(model))
    served.layout = layout
    return served


def reset(served: Served | None, message: dict) -> None:
    """Start ``batch`` new sequences in a generation model."""
    if served is None or served.reset is None:
        raise wire.WireError("reset for a model that is not a loaded generation model")
    batch = int(message["batch"])
    if batch < 1:
        raise wire.WireError(f"reset for a batch of {batch}")
    try:
        served.reset(batch)
    except BaseException as exc:
        why = f"reset({batch}) failed: {describe(exc)}"
        raise failure(exc, "while resetting the model", why) from None
    served.sequences = batch


def noop(batch: int, classes: int, steps: bool) -> Callable:
    """The harness's own model: zeros. For a block of steps (one token a sample) it also
    converts the tokens as a generation model's ``call`` does (about 0.4 us a step here),
    so that the calibrated cost subtracted includes that conversion."""
    zeros = np.zeros((batch, classes), dtype=np.float32)
    if steps:

        def tokens_in(x, _zeros=zeros, _int64=np.int64):
            x.astype(_int64)
            return _zeros

        return tokens_in

    def target(x, _zeros=zeros):
        return _zeros

    return target


def block(page: handoff.Page, served: Served | None, message: dict, _run_block) -> None:
    """Answer one block through ``_run_block``: with the model, or with zeros for a no-op
    block (the harness's own cost, which needs no model loaded)."""
    n, batch = int(message["n"]), int(message["batch"])
    in_shape, classes = tuple(message["input_shape"]), int(message["classes"])
    if message.get("noop"):
        target = noop(batch, classes, steps=in_shape == ())
    elif served is None:
        raise wire.WireError("block before load")
    elif served.protocol == wire.GENERATION and (batch, in_shape) != (served.sequences, ()):
        raise wire.WireError(
            f"a generation block of {batch} x {in_shape} after reset({served.sequences})"
        )
    else:
        target = profile.traced(served.call, message)  # an untimed block may be profiled
    try:
        page.words[handoff.READY] = int(message["block"])
        _run_block(page, target, n, batch, in_shape, classes, int(message["first"]))
    except (ModelError, wire.WireError):
        raise
    except BaseException as exc:
        why = f"the model raised {describe(exc)}"
        raise failure(exc, "during inference", why) from None


def serve(
    fd_in: int,
    fd_out: int,
    fd_page: int,
    skip: list[str],
    _run_block=run_block,
    _handlers=(load, reset, block),
    inherited: dict[str, str] | None = None,
) -> int:
    """Say hello, then answer the parent's requests until "exit".

    The timed loop and the requests' handlers are bound when serve is defined: replacing
    the module's functions, even through its ``__dict__`` (which the seal does not see),
    does not change what is called. ``inherited``: the layers the counted child set before
    valgrind started (grader/child/precount.py), reported as they were set, with what
    NumPy and its BLAS dispatch to under valgrind."""
    hello = {"op": "hello", "pid": os.getpid(), "numpy": np.__version__}
    if inherited is not None:
        hello["dispatch"] = dispatch.features()  # before confine drops ctypes
    # The OS layers go on before hello: before the parent sends any submission code.
    readable = [*guard.read_roots(), os.getcwd(), *sorted(guard.DEVICES)]
    hello["layers"] = confine.confine(readable, skip, inherited=inherited)
    wire.send(fd_out, hello)
    load_, reset_, block_ = _handlers
    served = None
    page = handoff.Page(fd_page)
    while True:
        message = wire.receive(fd_in)
        op = message["op"]
        if op == "exit":
            return wire.CHILD_EXIT_OK
        if op == "load":
            served = load_(fd_out, message)
            wire.send(fd_out, {"op": "loaded"})
        elif op == "reset":
            reset_(served, message)
            wire.send(fd_out, {"op": "ready"})
        elif op == "block":
            block_(page, served, message, _run_block)
            wire.send(fd_out, {"op": "done", "n": int(message["n"]), **profile.report()})
        else:
            raise wire.WireError(f"unknown op {op!r}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fd_in, fd_out = int(argv[0]), int(argv[1])
    output = CappedOutput(1, OUTPUT_LIMIT_BYTES)
    output.exceeded = reporter(fd_out, wire.Verdict.BAD_OUTPUT)
    sys.stdout = sys.stderr = output
    fd_page = int(argv[2])
    skip = [name for name in argv[3].split(",") if name] if len(argv) > 3 else []
    # The counted child's (grader/child/precount.py): its doorbell, and the layers it set
    # before valgrind started.
    counted = len(argv) > 5 and argv[4] != ""
    try:
        if counted:
            inherited = {str(k): str(v) for k, v in json.loads(argv[5]).items()}
            loop = functools.partial(run_counted_block, int(argv[4]))
            return serve(fd_in, fd_out, fd_page, skip, loop, inherited=inherited)
        return serve(fd_in, fd_out, fd_page, skip)
    except ModelError as exc:
        with contextlib.suppress(OSError):
            wire.send(fd_out, {"op": "error", "code": exc.code, "message": exc.message})
        return wire.CHILD_EXIT_REPORTED
    except (wire.WireError, OSError) as exc:
        print(f"worker: protocol error: {exc}", file=sys.stderr)
        return wire.CHILD_EXIT_PROTOCOL


def run() -> None:
    """Serve, flush what the model printed, and leave at once: a submission's atexit
    handlers and lingering threads must not run or hold the exit."""
    code = main()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
