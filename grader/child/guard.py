"""The child's audit hook (PEP 578): the Python-level layer of the sandbox.

Installed by the worker after NumPy is imported and before any of the submission's code
is, it ends the child at the first event a submission has no business causing:
starting or signalling processes, sockets, ctypes, unpickling, importing a forbidden or
unknown module at run time (``exec`` of an import the static check could not see),
writing any file, and reading outside the submission folder and the Python installation (the labels,
the baselines, other teams' folders, ``/proc/self/fd``: re-opening the worker's pipe).

A hook cannot be removed once added, and it does not raise into the submission's code:
it reports the violation to the parent and exits, so no ``try``/``except`` swallows it.
PEP 578 is explicit that hooks are not a security boundary on their own (native code
can bypass them); the operating-system limits stand behind this layer.

Child-side code: imports only the standard library.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable, Iterable
from typing import ClassVar

# Events that end the child whatever their arguments.
REFUSED = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "signal.pthread_kill", "subprocess.Popen", "pty.spawn",
    "pickle.find_class", "os.chroot", "os.setuid", "os.setgid", "sys.remote_exec",
    # A link or a rename could bring an outside file in; a chdir could move "inside" out.
    "os.symlink", "os.link", "os.rename", "os.chdir", "os.fchdir",
    # Files are only read: no metadata changes, removals or new folders anywhere.
    "os.chmod", "os.chown", "os.chflags", "os.utime", "os.truncate", "os.setxattr",
    "os.removexattr", "os.remove", "os.rmdir", "os.mkdir", "os.mkfifo", "os.mknod",
    # The ways to reach the hook's own objects, or the worker's, from the submission.
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
    # A thread of the submission's would run on between the timed blocks, off the clock
    # (an event from Python 3.13 on; the grader also counts the child's threads).
    "_thread.start_new_thread",
})  # fmt: skip
# resource: limits of other processes (the grader's); fcntl: F_SETOWN aims SIGIO at one.
REFUSED_PREFIXES = (
    "socket.", "ctypes.", "resource.", "fcntl.", "_winapi.", "winreg.", "webbrowser.",
)  # fmt: skip
# Modules whose import is itself the escape: _posixsubprocess forks and execs without an
# audit event of its own (subprocess raises one in Python, above it).
ESCAPE_MODULES = frozenset({"_posixsubprocess"})
# What the standard library itself imports that sys.stdlib_module_names does not list: the
# Jython probe of copy and pickle (``from org.python.core import PyStringMap`` in a try; no
# such module exists for CPython, so the attempt ends in the ImportError it expects) and
# sysconfig's build-time data module. Refusing them refused ``import copy``.
STDLIB_PROBES = ("org", "_sysconfigdata_")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
DEVICES = frozenset({"/dev/null", "/dev/urandom", "/dev/random", "/dev/zero"})
# Modules whose attributes a submission may not change: the clocks, the worker's own, and
# the thread starters' (see disarm_threads).
SEALED = ("time", "_thread", "threading")
# What starts a thread. Before Python 3.13 starting one raises no audit event, and
# ``sys.modules["_thread"]`` hands the module over without an import to refuse.
THREAD_STARTERS = (
    ("_thread", "start_new_thread"), ("_thread", "start_new"),
    ("_thread", "start_joinable_thread"),
    ("threading", "_start_new_thread"), ("threading", "_start_joinable_thread"),
)  # fmt: skip


class Guard:
    """The policy, checked per event. ``report`` must not return."""

    def __init__(
        self, folder: str, imports: dict, report: Callable[[str], None], read_roots: Iterable[str]
    ) -> None:
        self.folder = _dir(folder)
        self.read_roots = tuple(_dir(r) for r in read_roots)
        # At run time the standard library's own modules import what they need (zipfile
        # imports threading for np.load): what they could do is judged by the events
        # above. A forbidden module outside the standard library (a framework) is refused.
        self.forbidden = frozenset(imports["forbidden"]) - sys.stdlib_module_names
        self.allowed = frozenset(imports["allowed"])
        self.stdlib = sys.stdlib_module_names if imports["allowed_stdlib"] else frozenset()
        self.local = {n[:-3] for n in os.listdir(folder) if n.endswith(".py")} | {
            n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n))
        }
        self.report = report
        self.busy = False

    def __call__(self, event: str, args: tuple) -> None:
        if self.busy:  # the report itself must not be judged
            return
        why = self.judge(event, args)
        if why:
            self.busy = True
            self.report(why)

    def judge(self, event: str, args: tuple) -> str | None:
        if event in REFUSED or event.startswith(REFUSED_PREFIXES):
            return f"{event} is not allowed in a submission"
        if event == "object.__setattr__" and isinstance(args[0], _sealed):
            # object.__setattr__(module, "__class__", ...): unsealing, around __setattr__
            return f"changing the module {args[0].__name__!r} is not allowed"
        if event == "object.__setattr__" and _graders(args[0]):
            return f"changing the grader's {getattr(args[0], '__qualname__', '?')} is not allowed"
        if event == "import":
            return self.judge_import(args[0])
        if event == "open":
            return self.judge_open(*args[:3])
        return None

    def judge_import(self, name: str) -> str | None:
        top = name.split(".")[0]
        if top in self.forbidden or top in ESCAPE_MODULES:
            return f"importing {name!r} is forbidden"
        if top in self.allowed or top in self.stdlib or top in self.local:
            return None
        if self.stdlib and (top == STDLIB_PROBES[0] or top.startswith(STDLIB_PROBES[1])):
            return None
        return f"importing {name!r} is outside NumPy and the standard library"

    def judge_open(self, path: object, mode: object, flags: object) -> str | None:
        if isinstance(path, int):
            return f"opening file descriptor {path} is not allowed"
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return None
        full = os.path.abspath(path)  # the real working directory: chdir is refused
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and mode is None and flags & WRITE_FLAGS
        )
        if writing:
            if full == "/dev/null":
                return None
            return f"writing {path!r} is not allowed: a submission writes no files"
        if full in DEVICES or _under(full, self.folder):
            return None
        if full.startswith(("/proc/", "/sys/", "/dev/")) or not _under(full, *self.read_roots):
            return f"reading {path!r} is not allowed: only the submission folder and Python's own"
        return None


def read_roots() -> list[str]:
    """Where Python, NumPy and the worker's own code live: the child may read from there
    (imports, and tracebacks quoting source). The worker's own code is ``grader/child/``
    alone: the parent's modules, the data and the baselines are outside it."""
    import numpy

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.add(os.path.dirname(os.path.dirname(numpy.__file__)))
    roots.add(os.path.dirname(os.__file__))
    roots.add(os.path.dirname(os.path.abspath(__file__)))
    return sorted(roots)


_WHY = "the grader's clock and its worker are not the submission's to change"
_sealed: tuple[type, ...] = ()  # the class of the sealed modules, once seal() made it


def seal(report: Callable[[str], None]) -> None:
    """Seal the clocks' module and every module of the grader's loaded in the child:
    setting or deleting one of their attributes ends the child.

    Patching ``time.perf_counter`` in the child would change nothing (the clock that
    counts is the parent's), nor would patching the worker's loop (bound before any
    submission code ran); but the attempt is a submission tampering with the measurement,
    and it gets a verdict rather than silence. The class and its metaclass refuse changes
    too; ``object.__setattr__(module, "__class__", …)`` is an audit event the guard
    refuses. Writing a module's ``__dict__`` or calling ``ModuleType.__setattr__``
    goes around all this: what holds then is that the clock is in another process.
    """
    global _sealed

    class Seal(type):
        def __setattr__(cls, name: str, value: object) -> None:
            report(f"changing the grader's seal on modules ({name}) is not allowed")

        def __delattr__(cls, name: str) -> None:
            report(f"changing the grader's seal on modules ({name}) is not allowed")

    class Sealed(types.ModuleType, metaclass=Seal):
        # copy.copy of an object holding a module asks copyreg for the class's slot
        # names, which it would cache on the class: declared here, nothing is set.
        __slotnames__: ClassVar[list[str]] = []

        def __setattr__(self, name: str, value: object) -> None:
            report(f"changing {self.__name__}.{name} is not allowed: {_WHY}")

        def __delattr__(self, name: str) -> None:
            report(f"deleting {self.__name__}.{name} is not allowed: {_WHY}")

    _sealed = (Sealed,)
    for name, module in list(sys.modules.items()):
        ours = name in SEALED or name == "grader" or name.startswith("grader.")
        if ours and type(module) is types.ModuleType:
            module.__class__ = Sealed


def disarm_threads(report: Callable[[str], None]) -> None:
    """Replace every function that starts a thread with one that ends the child.

    A thread that ended before the grader first counted the child's threads in /proc
    (say, one that looked for a second core, found none and returned) was never seen;
    this refuses it when it starts, whatever it does next. The count stays: a copy of
    the module made afresh (``_imp.create_builtin``) would start threads unseen here."""

    def start_thread(*args: object, **kwargs: object) -> None:
        report(
            "starting a thread is not allowed in a submission: it would run on between "
            "the timed blocks, off the clock"
        )

    for module_name, name in THREAD_STARTERS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, name):
            setattr(module, name, start_thread)


def install(folder: str, imports: dict, report: Callable[[str], None]) -> Guard:
    import threading  # noqa: F401  (loaded now, so that its starters are replaced too)

    guard = Guard(folder, imports, report, read_roots())
    sys.addaudithook(guard)
    disarm_threads(report)
    seal(report)
    return guard


def _dir(path: str) -> str:
    return os.path.normpath(os.path.realpath(path))


def _under(path: str, *roots: str) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _graders(obj: object) -> bool:
    """A class or function of the grader's own (the worker, this hook)."""
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (module == "grader" or module.startswith("grader."))
