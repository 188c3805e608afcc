"""Valgrind's cachegrind, as the counted child runs under it: finding valgrind, its command
line, and reading the count it writes (docs/DESIGN.md, Instruction counts).

The count is the child's instructions from start to exit, in cachegrind's output file
(``summary:``, one number per event; ``--cache-sim=no`` counts instructions, ``Ir``, alone).
The file is written by valgrind inside the child's process, so it is untrusted input like
everything else the child hands back: read size-capped and parsed strictly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import CountFileError

TOOL = "cachegrind"
TOOL_OPTIONS = ("--tool=cachegrind", "--cache-sim=no")
# The tool's binary for this machine, under valgrind's library folder.
TOOL_BINARY = "cachegrind-amd64-linux"
MAX_COUNT_FILE_BYTES = 64 * 1024**2
NO_HOME = "/nonexistent"


@dataclass(frozen=True)
class Valgrind:
    """The valgrind this machine has: the program to exec (the ELF, not a shell wrapper),
    the folder of its tools, and its version (``valgrind-3.19.0``)."""

    program: str
    libdir: str
    version: str
    # The OpenBLAS kernels a counted child is held to (OPENBLAS_CORETYPE), where not its
    # own choice: a generation grade's (grader/measure/textcount.py, BLAS_KERNELS).
    blas_kernels: str | None = None

    def command(self, out_file: Path) -> list[str]:
        """Valgrind's arguments before the program it runs. Quiet (its log is the child's,
        and its banner would carry the pid); no gdbserver (it would make FIFOs); functions
        named by their symbols, as the libraries' tables have them (``libraries``)."""
        return [
            self.program,
            *TOOL_OPTIONS,
            "--vgdb=no",
            "--demangle=no",
            "-q",
            f"--cachegrind-out-file={out_file}",
        ]

    def environment(self, tmp: Path) -> dict[str, str]:
        """What valgrind reads from the environment: its tools' folder, where it keeps the
        client's command line (``TMPDIR``), and a ``HOME`` that holds no ``.valgrindrc``.
        With ``HOME`` set, Python's start-up (``site``) does not ask the C library for the
        user's home directory either, which asks nscd over a socket: the seccomp filter,
        already on when valgrind starts, ends a process that opens one."""
        held = {"OPENBLAS_CORETYPE": self.blas_kernels} if self.blas_kernels else {}
        return {"VALGRIND_LIB": self.libdir, "TMPDIR": str(tmp), "HOME": NO_HOME, **held}


def find(path: str | None = None) -> Valgrind | str:
    """The valgrind on ``path`` (the grader's ``PATH`` by default), or why there is none
    fit to count with."""
    if os.uname().machine != "x86_64":
        return f"instruction counts need x86_64 (this is {os.uname().machine})"
    found = shutil.which("valgrind", path=path if path is not None else os.environ.get("PATH"))
    if found is None:
        return "valgrind is not installed (no valgrind on PATH; apt-get install valgrind)"
    program = os.path.realpath(found)
    with open(program, "rb") as f:
        script = f.read(2) == b"#!"
    if script:  # Debian's wrapper: `exec $0.bin "$@"`, after setting a library path
        program = os.path.realpath(found + ".bin")
        if not os.path.isfile(program):
            return f"{found} is a script and {found}.bin does not exist: cannot exec valgrind"
    libdir = tool_folder(program)
    if libdir is None:
        return f"valgrind's {TOOL_BINARY} is not found beside {program}"
    try:
        done = subprocess.run(
            [program, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin", "VALGRIND_LIB": libdir},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"valgrind at {program} does not run: {exc}"
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith("valgrind-"):
        return f"valgrind at {program} does not say its version: {done.stderr.strip()[:200]!r}"
    return Valgrind(program, libdir, version[:40])


def tool_folder(program: str) -> str | None:
    """Where valgrind keeps its tools: ``$VALGRIND_LIB``, or beside its prefix."""
    prefix = Path(program).parent.parent
    candidates = [os.environ.get("VALGRIND_LIB", "")]
    candidates += [str(prefix / "libexec" / "valgrind"), str(prefix / "lib" / "valgrind")]
    for folder in filter(None, candidates):
        if os.path.isfile(os.path.join(folder, TOOL_BINARY)):
            return os.path.realpath(folder)
    return None


@dataclass(frozen=True)
class CountFile:
    """What a cachegrind output file says: its events and their totals, the command it
    counted, and each function's total (by file and function), for the hot spots."""

    events: tuple[str, ...]
    totals: dict[str, int]
    command: str
    functions: dict[tuple[str, str], int]

    @property
    def instructions(self) -> int:
        return self.totals["Ir"]


def parse(text: str, name: str = "cachegrind output") -> CountFile:
    """Parse cachegrind's output format (``desc:``/``cmd:``/``events:`` header, ``fl=``
    and ``fn=`` lines, ``<line> <count>…`` lines, and ``summary:``); the summary must equal
    the sum of the lines, which a truncated or edited file breaks."""
    events: tuple[str, ...] = ()
    command = ""
    summary: list[int] | None = None
    functions: dict[tuple[str, str], int] = {}
    where = ("?", "?")
    sums: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            if line.startswith("events:"):
                events = tuple(line[len("events:") :].split())
                sums = [0] * len(events)
            elif line.startswith("cmd:"):
                command = line[len("cmd:") :].strip()
            elif line.startswith("fl="):
                where = (line[3:], "?")
            elif line.startswith("fn="):
                where = (where[0], line[3:])
            elif line.startswith("summary:"):
                summary = [int(v) for v in line[len("summary:") :].split()]
            elif line[:1].isdigit():
                counts = [int(v) for v in line.split()[1:]]
                for i, c in enumerate(counts):
                    sums[i] += c
                functions[where] = functions.get(where, 0) + (counts[0] if counts else 0)
            elif line and not line.startswith(("desc:", "#")):
                raise ValueError(f"unexpected {line[:60]!r}")
        except (ValueError, IndexError) as exc:
            why = f"{name}, line {number}: not cachegrind's format ({exc})"
            raise CountFileError(why) from None
    if not events or summary is None or len(summary) != len(events):
        raise CountFileError(f"{name}: no events line or no summary of them (a truncated file?)")
    if summary != sums:
        raise CountFileError(f"{name}: its summary {summary} is not the sum of its lines {sums}")
    if "Ir" not in events:
        raise CountFileError(f"{name}: counts {', '.join(events)}, not instructions (Ir)")
    return CountFile(events, dict(zip(events, summary, strict=True)), command, functions)


def read(path: Path) -> CountFile:
    """The output file at ``path``, size-capped."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_COUNT_FILE_BYTES + 1)
    except OSError as exc:
        raise CountFileError(f"cannot read cachegrind's output {path}: {exc}") from None
    if not data:
        raise CountFileError(f"cachegrind wrote nothing to {path} (the child ended early?)")
    if len(data) > MAX_COUNT_FILE_BYTES:
        raise CountFileError(f"cachegrind's output {path} is over {MAX_COUNT_FILE_BYTES} bytes")
    return parse(data.decode("utf-8", "replace"), str(path))
