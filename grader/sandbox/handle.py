"""The parent's handle on one worker child: the messages it is sent and the replies it may
give, the hand-over of a block's samples through the shared page, its pauses, and its end.

``Child`` owns the wire's message format on the parent's side (``grader/child/wire.py``
draws the exchange): the referee asks it to ``load`` a model, to ``reset`` a generation
model's sequences and to ``time_block`` samples (or steps), and never writes a message
itself. Everything the child sends back is untrusted input,
checked here (docs/DESIGN.md, Trust boundaries): a reply of the wrong shape, a counter of
the page out of step, a second thread or a thread that will not stop ends the child with
its verdict. The pipe transport is ``channel``'s, the /proc probes and group signals are
``probes``', what a dead child means is ``verdicts``'; ``launch.spawn`` starts the child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.child import handoff, wire
from grader.errors import ChildFailure, Verdict
from grader.sandbox import probes, verdicts, workdir
from grader.sandbox.channel import Broken, Channel, Hangup, Interrupted


@dataclass
class Child:
    """The parent's handle on one worker process (``process.ModelProcess``: what the
    referee uses of it)."""

    name: str
    proc: subprocess.Popen
    channel: Channel
    log_path: Path
    page: handoff.Page  # the hand-over page, shared with the child
    core: int | None = None
    killed: bool = False
    info: dict = field(default_factory=dict)
    released: int = 0  # the last sample (or batch) handed over
    blocks: int = 0
    protocol: str = wire.CLASSIFICATION  # the loaded model's (wire.PROTOCOLS)
    sequences: int = 0  # a generation model's batch since its last reset (0: none yet)

    def failure(self, code: Verdict, message: str) -> ChildFailure:
        return ChildFailure(code, message, self.name)

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- messages ------------------------------------------------------------------------------
    def send(self, message: dict, timeout: float = 30.0) -> None:
        try:
            self.channel.send(message, timeout)
        except Interrupted:
            # The child answered mid-message: only an error message or EOF can explain that.
            self.receive(timeout=5.0)
            raise self.failure(
                Verdict.BAD_OUTPUT, f"{self.name} answered before reading its whole input"
            ) from None
        except Broken as exc:
            self.kill()
            raise self.failure(exc.code, exc.message) from None

    def receive(self, timeout: float) -> dict:
        """The child's next message; its ``error`` message, or its death, raises its
        verdict."""
        try:
            message = self.channel.receive(timeout)
        except Hangup:  # it closed its pipe: how it died is its verdict
            death = verdicts.death(self.name, self.wait(5.0), self.killed, self.log_path)
            raise self.failure(*death) from None
        except Broken as exc:
            self.kill()
            raise self.failure(exc.code, exc.message) from None
        if message["op"] == "error":
            self.wait(5.0)
            raise verdicts.reported(self.name, message)
        return message

    def hello(self, timeout: float = 60.0) -> None:
        """Wait for the worker's first message and keep what it says of itself (its NumPy,
        the operating-system layers it applied), cut to size."""
        hello = self.receive(timeout)
        self.info["numpy"] = hello.get("numpy")
        layers = hello.get("layers") if isinstance(hello.get("layers"), dict) else {}
        self.info["layers"] = {str(k)[:64]: str(v)[:500] for k, v in list(layers.items())[:16]}
        if isinstance(found := hello.get("dispatch"), dict):  # a counted child's
            self.info["dispatch"] = dispatch_of(found)

    def load(
        self,
        entrypoint_file: str,
        function: str,
        layout_shift: int,
        imports: dict | None,
        timeout: float,
        protocol: str = wire.CLASSIFICATION,
    ) -> None:
        """Have the child build its model (``imports``: the rules its audit hook enforces,
        none if empty; ``protocol``: how the model is called, ``wire.PROTOCOLS``), and wait
        up to ``timeout`` for it to say it has."""
        self.request_load(entrypoint_file, function, layout_shift, imports, protocol)
        self.await_loaded(timeout, protocol)

    def request_load(self, *how: object) -> None:
        """Send "load" (``how``: ``load``'s arguments but the timeout) without waiting:
        the counted children build their models at once."""
        self.send(wire.load_message(*how))

    def await_loaded(self, timeout: float, protocol: str = wire.CLASSIFICATION) -> None:
        """Wait up to ``timeout`` for "loaded", the answer to ``request_load``."""
        # "loaded" says the model is built, and nothing else: the submission's code runs in
        # that process and can write to the pipe, so what comes back is checked like any
        # untrusted input. (Its parameters are counted from its weight files, by the grader.)
        if self.receive(timeout) != {"op": "loaded"}:
            self.kill()
            raise self.failure(Verdict.BAD_OUTPUT, f"{self.name} sent a malformed 'loaded' message")
        self.protocol, self.sequences = protocol, 0

    def reset(self, batch: int, timeout: float) -> None:
        """Have a generation model start ``batch`` new sequences, and wait up to ``timeout``
        for it to say it is ready; any other reply is ``bad_output``, as for "loaded"."""
        if self.protocol != wire.GENERATION or batch < 1:
            raise ValueError(f"reset({batch}) of a {self.protocol} model")
        self.send(wire.reset_message(batch))
        if self.receive(timeout) != {"op": "ready"}:
            self.kill()
            raise self.failure(Verdict.BAD_OUTPUT, f"{self.name} sent a malformed 'ready' message")
        self.sequences = batch

    def time_block(
        self,
        inputs: np.ndarray,
        batch: int,
        noop: bool,
        input_shape: Sequence[int],
        classes: int,
        timeout: float,
    ) -> tuple[float, np.ndarray]:
        """Hand ``inputs`` over ``batch`` at a time through the page (``noop``: to a model
        that answers zeros, the harness's own cost); return the seconds from the first
        release to the last answer, on the parent's clock, and the scores.

        A generation model (loaded so, then ``reset(batch)``) takes one step of its
        ``batch`` sequences per hand-over: ``inputs`` holds token ids of shape
        ``(steps, batch)``, ``input_shape`` is ``()`` (which also marks a no-op block of
        steps before any model is loaded), and the scores come back of shape
        ``(steps, batch, classes)``, every one of them checked to be finite."""
        if self.protocol != wire.GENERATION and tuple(input_shape) != ():
            message = wire.block_message(len(inputs), batch, noop, input_shape, classes)
            return self._hand_over(message, inputs, batch, classes, timeout)
        flat = step_tokens(inputs, batch, input_shape, classes, self.sequences, noop)
        message = wire.block_message(len(flat), batch, noop, (), classes)
        elapsed, scores = self._hand_over(message, flat, batch, classes, timeout)
        # Checked here, not by the referee as a digit's scores are: every number of a
        # generation grade is the parent's reading of these scores, step by step.
        if not noop and (bad := int((~np.isfinite(scores).all(axis=1)).sum())):
            self.kill()
            raise self.failure(
                Verdict.BAD_OUTPUT,
                f"{self.name} returned NaN or infinite scores for {bad} of {len(flat)} tokens",
            )
        return elapsed, scores.reshape(-1, batch, classes)

    # -- the hand-over ---------------------------------------------------------------------------
    def _hand_over(
        self, message: dict, inputs: np.ndarray, batch: int, classes: int, timeout: float
    ) -> tuple[float, np.ndarray]:
        """The child's answer for each release is copied out before the next sample is
        written over the current one (``handoff``); the page is the child's to write, so
        every counter read back from it is checked like any other input from the child.
        """
        deadline = time.monotonic() + timeout
        self.blocks += 1
        first = self.released
        steps = len(inputs) // batch
        self.send({**message, "block": self.blocks, "first": first}, timeout=timeout)
        words = self.page.words
        x, answer = self.page.slots(batch, inputs.shape[1:], classes)
        x_bytes, answer_bytes = memoryview(x).cast("B"), memoryview(answer).cast("B")
        scores = np.empty((steps * batch, classes), dtype=np.float32)
        chunk, size = x_bytes.nbytes, answer_bytes.nbytes
        sources = memoryview(np.ascontiguousarray(inputs, dtype=np.float32)).cast("B")
        targets = memoryview(scores).cast("B")
        pieces = [
            (sources[k * chunk : (k + 1) * chunk], targets[k * size : (k + 1) * size])
            for k in range(steps)
        ]
        await_counter(self, handoff.READY, self.blocks, self.blocks - 1, deadline)  # untimed
        yields = not own_core(self.pid)
        released, answered = handoff.RELEASED, handoff.ANSWERED
        seq = first
        start = time.perf_counter()
        for source, target in pieces:
            x_bytes[:] = source
            seq += 1
            words[released] = seq
            if words[answered] != seq:
                await_counter(self, answered, seq, seq - 1, deadline, yields)
            target[:] = answer_bytes
        elapsed = time.perf_counter() - start
        self.released = seq
        reply = self.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if reply.get("op") != "done" or reply.get("n") != len(inputs):
            self.kill()
            raise self.failure(Verdict.BAD_OUTPUT, f"{self.name} sent {reply!r}, not 'done'")
        return elapsed, scores

    # -- the process -----------------------------------------------------------------------------
    def peak_rss_bytes(self) -> int | None:
        """VmHWM of the live child (``probes``)."""
        return probes.peak_rss_bytes(self.pid)

    def schedstat(self) -> tuple[int, int] | None:
        """Its nanoseconds on a CPU and waiting for one while runnable so far (``probes``)."""
        found = probes.schedstat(self.pid)
        return None if found is None else (found[0], found[1])

    def running_threads(self) -> int:
        return probes.running_threads(self.pid)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait(5.0)

    def pause(self) -> None:
        """SIGSTOP the child's group, and wait until every thread of it has stopped: it
        cannot run while another child is timed. A thread inside a long system call runs on,
        on the core the other child is about to be timed on, until it leaves the kernel
        (``probes.stop_group``): the other child's clock does not start until every thread
        reads as stopped, and one still running after ``probes.STOP_TIMEOUT_S`` ends the
        child with ``sandbox_violation``."""
        if running := probes.stop_group(self.pid, probes.STOP_TIMEOUT_S):
            self.kill()
            raise self.failure(
                Verdict.SANDBOX_VIOLATION,
                f"{self.name} kept running for {probes.STOP_TIMEOUT_S:g} s after the grader "
                f"stopped it ({running} thread(s) still inside the kernel): a model must do "
                "nothing between the grader's calls",
            )

    def resume(self) -> None:
        probes.signal_group(self.pid, signal.SIGCONT)

    def check_threads(self) -> None:
        """End the child if it runs more than one thread."""
        if (threads := probes.thread_count(self.pid)) > 1:
            # The worker runs in one thread (BLAS libraries are held to one as well): a
            # second one is the submission's, and would work on between the timed blocks,
            # off the clock. (Python 3.13 adds an audit event for it; /proc sees it now.)
            self.kill()
            raise self.failure(
                Verdict.SANDBOX_VIOLATION,
                f"{self.name} started a thread ({threads} threads running): a submission "
                "runs in the grader's one thread, where the clock sees all of its work",
            )

    def kill(self) -> None:
        """SIGKILL the child's whole process group: its own children die with it."""
        self.killed = True
        probes.signal_group(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ChildFailure, OSError):
                self.send({"op": "exit"}, timeout=1.0)
            self.wait(2.0)
        self.kill()
        self.channel.close()
        self.page.close()
        # The log is only read for a verdict's message, always before close.
        workdir.remove_tree(self.log_path.parent)


def dispatch_of(found: dict) -> dict:
    """What a counted child says NumPy and its BLAS dispatch to, cut to size."""
    simd = found.get("numpy_simd") if isinstance(found.get("numpy_simd"), list) else []
    kernels = found.get("blas_kernels")
    return {
        "numpy_simd": [str(t)[:32] for t in simd[:32]],
        "blas_kernels": None if kernels is None else str(kernels)[:64],
    }


def own_core(pid: int) -> bool:
    """Whether this process is pinned to one core that child ``pid`` may not run on: then
    its spinning takes no time from the child, and it need not yield its core."""
    try:
        mine = os.sched_getaffinity(0)
        return len(mine) == 1 and not mine & os.sched_getaffinity(pid)
    except OSError:  # the child is gone: its verdict comes from the wait
        return False


def await_counter(
    child: Child,
    index: int,
    value: int,
    before: int,
    deadline: float,
    yields: bool = True,
    pause: float = 0.0,
) -> None:
    """Spin until the child's counter ``index`` of the page reaches ``value``; it may only
    hold ``before`` meanwhile. Past the deadline: ``timeout``; an error or EOF from the
    child meanwhile: its verdict.

    After ``FAST_SPINS`` reads the wait yields its core, unless ``yields`` is false (the
    parent has a core of its own): on a busy machine a yield handed the core to another
    process for its whole time slice, a few milliseconds, and each step of a model slower
    than the fast spins was charged that much while the no-op blocks, answered within
    them, were not (the baseline against itself stepping twice measured 1.5x at load 2.6).
    With ``pause``, it sleeps that long instead (a counted child, far slower under
    valgrind: ``counted.PATIENT``).
    """
    words = child.page.words
    spins = 0
    while (seen := words[index]) != value:
        spins += 1
        if spins <= handoff.FAST_SPINS:
            continue
        if pause:
            time.sleep(pause)
        elif yields:
            os.sched_yield()
        if spins % handoff.CHECK_EVERY:
            continue
        if seen != before:
            child.kill()
            raise child.failure(
                Verdict.BAD_OUTPUT, f"{child.name} wrote {seen} to the hand-over page's counter"
            )
        if time.monotonic() > deadline:
            child.kill()
            raise child.failure(Verdict.TIMEOUT, f"{child.name} did not answer in time")
        if child.channel.readable():
            if words[index] == value:
                # It answered since the counter was read, and what it sent is its
                # reply to the block, for the caller. Rejecting it here ("spoke in
                # the middle of a block") rejected 1 honest grade in 6.
                return
            child.receive(timeout=5.0)  # an error message, or EOF: the verdict
            child.kill()
            raise child.failure(Verdict.BAD_OUTPUT, f"{child.name} spoke in the middle of a block")


def step_tokens(
    tokens: np.ndarray,
    batch: int,
    input_shape: Sequence[int],
    classes: int,
    sequences: int,
    noop: bool,
) -> np.ndarray:
    """A generation block's tokens, ``(steps, batch)`` ids, as the float32 input slots carry
    them (exact below 2**24; the worker hands ``step`` a fresh int64 copy). What the
    referee asks for is checked: a wrong request is the grader's error, never the child's
    verdict."""
    if tokens.ndim != 2 or tokens.shape[1] != batch or tuple(input_shape) != ():
        raise ValueError(f"a generation block takes tokens (steps, {batch}) of shape ()")
    if not noop and batch != sequences:
        raise ValueError(f"a block of {batch} sequences after reset({sequences})")
    if tokens.dtype.kind not in "iu" or (
        tokens.size and not 0 <= tokens.min() <= tokens.max() < min(classes, 1 << 24)
    ):
        raise ValueError(f"a generation block takes int token ids in 0..{classes - 1}")
    return tokens.reshape(-1).astype(np.float32)
