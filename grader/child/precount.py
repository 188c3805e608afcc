"""The counted child's first program: apply the operating-system layers, then become
valgrind running the worker (docs/DESIGN.md, Instruction counts; SECURITY.md).

Valgrind implements neither Landlock nor seccomp (both answer ENOSYS under it), and
``unshare`` fails under it: a worker that confined itself under valgrind would run with
its audit hook alone. So the layers are set up here, before valgrind starts, and inherited
across ``exec`` (namespaces, rlimits, ``no_new_privs``, Landlock and seccomp all are). They
are the worker's own layers, widened by exactly what valgrind needs:

- **filesystem** (Landlock): also read the files this process has mapped (Python's
  libraries: the dynamic loader of the valgrind'ed Python opens them again, where the
  native worker had them mapped before it confined itself), the loader's cache, valgrind's
  own files and ``/proc/<pid>`` (valgrind reads its maps); execute valgrind, its tool and
  the loader; write one file, cachegrind's output, and in one private temporary folder
  (valgrind keeps the client's command line in a file it removes at once).
- **syscalls** (seccomp): also let through ``execve`` (Landlock allows executing valgrind
  only), opening for writing and unlinking (Landlock allows both only where named above).

The worker, exec'd under valgrind, is told which layers it inherited and reports them as
they were set. The parent writes one byte to the doorbell once it has set the child's
rlimits: nothing starts before.

Child-side code: imports only the standard library and the child's own modules.
"""

from __future__ import annotations

import json
import os
import sys

from grader.child import confine, guard, wire

MAKE_REG, REMOVE_FILE = 1 << 8, 1 << 5  # Landlock's rights to create and to remove a file
LOADER_CACHE = "/etc/ld.so.cache"
INHERITED = " (set before valgrind started, inherited across exec)"


def mapped_files(maps: str = "/proc/self/maps") -> list[str]:
    """Every file this process has mapped: Python, its libraries, NumPy's."""
    with open(maps) as f:
        paths = {parts[5].strip() for line in f if len(parts := line.split(maxsplit=5)) == 6}
    return sorted(p for p in paths if p.startswith("/") and os.path.isfile(p))


def grants(spec: dict, mapped: list[str]) -> dict[str, int]:
    """The Landlock rights valgrind needs beyond the worker's, by path."""
    read, read_dir = confine.FS_READ_FILE, confine.FS_READ_DIR
    run = read | confine.FS_EXECUTE
    write = confine.FS_WRITE_FILE | confine.FS_TRUNCATE
    out: dict[str, int] = {path: read for path in mapped}
    out |= {path: run for path in mapped if os.path.basename(path).startswith("ld-")}
    out[LOADER_CACHE] = read
    # The package's root, which the worker's import runs first (the native worker has it
    # loaded before it confines itself): its version string and no import; and its folder
    # listed (not read), where the import system looks for grader.child.
    package = os.path.dirname(os.path.dirname(os.path.abspath(guard.__file__)))
    out[os.path.join(package, "__init__.py")] = read
    out[package] = read_dir
    out[spec["valgrind"]] = run
    out[spec["libdir"]] = run | read_dir
    out[os.path.realpath("/proc/self")] = read | read_dir
    out[spec["tmp"]] = read | read_dir | write | MAKE_REG | REMOVE_FILE
    out[spec["out"]] = write
    return out


def layers_for_valgrind(spec: dict) -> dict[str, str]:
    """Apply the layers, widened for valgrind; each one's state, as the worker reports it."""
    mapped = mapped_files()
    readable = [*guard.read_roots(), os.getcwd(), *sorted(guard.DEVICES)]
    allow = ("execve", "unlink", "unlinkat", confine.WRITING_OPENS)
    layers = confine.confine(
        readable, spec.get("skip", []), grants=grants(spec, mapped), allow=allow
    )
    widened = {
        "filesystem": "; also read: the system libraries Python has loaded, valgrind's "
        "files, /proc/<own pid>; execute: valgrind and the loader; write: cachegrind's "
        "output file and a private temporary folder",
    }
    return {
        name: state if state.startswith(("off", "unavailable")) else
        state + widened.get(name, "") + INHERITED
        for name, state in layers.items()
    }  # fmt: skip


def run() -> None:
    """Wait for the parent's go, confine, and exec valgrind on the worker."""
    spec = json.loads(sys.argv[1])
    try:
        if os.read(int(spec["doorbell"]), 1) != b"\x01":
            os._exit(wire.CHILD_EXIT_PROTOCOL)  # the parent is gone
        # What the worker imports, loaded now: their libraries are among the mapped files.
        from grader.child import worker  # noqa: F401

        layers = layers_for_valgrind(spec)
        command = [*spec["command"], json.dumps(layers, sort_keys=True)]
        os.execv(spec["valgrind"], command)
    except (OSError, ValueError, KeyError) as exc:
        print(f"precount: could not start valgrind: {exc}", file=sys.stderr, flush=True)
        os._exit(wire.CHILD_EXIT_PROTOCOL)
