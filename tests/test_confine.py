"""The operating-system layers on their own, with no audit hook in front of them.

Each case starts a real Python process, confines it exactly as the worker confines itself
(``confine.confine``), and then runs hostile code that a bypassed Python layer would let
through (SECURITY.md, "Threat by threat"). Layers can be skipped one at a time, so each
threat is shown to be stopped by the named layer alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.child import confine, guard
from grader.config import project_root

ROOT = project_root()
LABELS = ROOT / "data" / "digits" / "test.npz"
ALL = confine.LAYERS

PRELUDE = """\
import json, os, sys
sys.path.insert(0, {root!r})
from grader.child import confine
from grader.child import guard
layers = confine.confine([*guard.read_roots(), os.getcwd(), "/dev/null"], {skip!r})
print(json.dumps(layers), flush=True)
"""


def available() -> dict[str, str]:
    """What this kernel grants, probed once in a throwaway process."""
    proc = run_confined("", ())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[0])


def run_confined(
    code: str, skip: tuple[str, ...] = (), cwd: Path | None = None
) -> subprocess.CompletedProcess:
    script = PRELUDE.format(root=str(ROOT), skip=list(skip)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=cwd or ROOT / "submissions" / "example-baseline",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def layers() -> dict[str, str]:
    return available()


def need(layers: dict[str, str], *names: str) -> None:
    for name in names:
        if layers[name].startswith("unavailable"):
            pytest.skip(f"{name} layer unavailable on this kernel: {layers[name]}")


def only(*names: str) -> tuple[str, ...]:
    """The skip list that leaves just ``names`` on."""
    return tuple(n for n in ALL if n not in names)


def test_every_layer_reports_its_state(layers: dict[str, str]) -> None:
    assert set(layers) == set(ALL)
    for name, state in layers.items():
        assert state and len(state) < 500, name
    # Where they work (here: Linux 6.x, Landlock ABI 7, x86_64), they must say active.
    if sys.platform == "linux" and os.uname().machine == "x86_64":
        assert layers["syscalls"].startswith("seccomp")
        assert not layers["filesystem"].startswith("off")


def test_skipped_layers_say_so() -> None:
    proc = run_confined("", ALL)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0]) == dict.fromkeys(ALL, "off: not asked for")


def test_a_kernel_that_refuses_every_layer_is_reported_and_the_child_goes_on() -> None:
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from grader.child import confine\n"
        "class Refusing:  # a C library on which every call fails, as on an old kernel\n"
        "    def __getattr__(self, name):\n"
        "        return lambda *a: -1\n"
        "print(json.dumps(confine.confine([], libc=Refusing())))\n"
        "import numpy as np\n"
        "print(float(np.ones(3).sum()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    states = json.loads(first)
    for name in ("network", "filesystem"):
        assert states[name].startswith("unavailable:"), states
    if os.uname().machine == "x86_64":
        assert states["syscalls"].startswith("unavailable: prctl"), states
    assert second == "3.0"  # the grade would go on, with the fallback recorded


SIGSYS = -signal.SIGSYS


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param("os.fork()", id="fork"),
        pytest.param("import subprocess; subprocess.run(['/bin/true'])", id="subprocess"),
        pytest.param("os.posix_spawn('/bin/true', ['true'], {})", id="posix-spawn"),
        pytest.param("os.execv('/bin/true', ['true'])", id="exec"),
        pytest.param("import socket; socket.socket()", id="socket"),
        pytest.param("import socket; socket.socketpair()", id="socketpair"),
        pytest.param("os.kill(os.getppid(), 0)", id="signal-the-grader"),
        pytest.param("os.unshare(0) if hasattr(os, 'unshare') else os.fork()", id="unshare"),
        pytest.param(
            "import resource as r; r.prlimit(os.getppid(), r.RLIMIT_CPU, (1, 1))",
            id="limit-the-grader",
        ),
        pytest.param("os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)", id="renice-the-grader"),
        pytest.param("os.sched_setaffinity(0, {0})", id="move-to-the-graders-core"),
        pytest.param(
            "import fcntl; r, w = os.pipe(); fcntl.fcntl(r, fcntl.F_SETOWN, os.getppid())",
            id="sigio-at-the-grader",
        ),
        pytest.param("os.chmod('model.py', 0o4777)", id="chmod"),
        pytest.param("os.utime('model.py')", id="utime"),
        pytest.param("os.setxattr('model.py', 'user.note', b'x')", id="setxattr"),
        pytest.param("os.truncate('model.py', 0)", id="truncate"),
        pytest.param("os.unlink('model.py')", id="unlink"),
        pytest.param("os.mkdir('/tmp/olympics-escape')", id="mkdir"),
        pytest.param("open('/tmp/olympics-escape.txt', 'w')", id="open-for-writing"),
        pytest.param("os.open('model.py', os.O_RDWR)", id="open-read-write"),
        pytest.param(
            # Native code, reloaded after confine dropped it from sys.modules.
            "import ctypes; ctypes.CDLL(None).fork()",
            id="ctypes-fork",
        ),
    ],
)
def test_seccomp_alone_ends_the_child(layers: dict[str, str], attack: str) -> None:
    need(layers, "syscalls")
    proc = run_confined(attack, only("syscalls"))
    assert proc.returncode == SIGSYS, (proc.returncode, proc.stderr[-500:])


def test_threads_and_numpy_still_work_under_every_layer(layers: dict[str, str]) -> None:
    proc = run_confined(
        """\
        import resource
        resource.getrlimit(resource.RLIMIT_NOFILE)  # its own limits stay readable
        print(open("/dev/null").read() == "")
        import threading
        import numpy as np
        box = []
        t = threading.Thread(target=lambda: box.append(1))
        t.start(); t.join()
        with np.load("weights.npz", allow_pickle=False) as f:
            total = sum(f[k].size for k in f.files)
        os.kill(os.getpid(), 0)  # signalling itself stays allowed
        print(box, total, "ctypes" in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert proc.stdout.splitlines()[-1] == "[1] 109386 False"


FILE_ATTACKS = [
    pytest.param(f"open({str(LABELS)!r}, 'rb').read()", id="read-the-labels"),
    pytest.param(
        f"open({str(ROOT / 'baselines' / 'mlp_sprint' / 'weights.npz')!r}, 'rb')",
        id="read-the-baseline",
    ),
    pytest.param(
        f"open({str(ROOT / 'submissions' / 'example-int8' / 'model.py')!r})",
        id="read-another-team",
    ),
    pytest.param(  # a description file: never in the model's copy (weights hid there)
        f"open({str(ROOT / 'submissions' / 'example-int8' / 'README.md')!r})",
        id="read-a-description-file",
    ),
    pytest.param("open('/etc/passwd')", id="read-etc"),
    pytest.param("open('/proc/self/environ')", id="read-proc"),
    pytest.param("open('mine.txt', 'w')", id="write-own-folder"),
    pytest.param("open('/tmp/olympics-escape.txt', 'w')", id="write-tmp"),
    pytest.param(f"open({str(ROOT / 'leaderboard.md')!r}, 'a')", id="append-leaderboard"),
]


@pytest.mark.parametrize("attack", FILE_ATTACKS)
def test_landlock_alone_refuses_files_outside(layers: dict[str, str], attack: str) -> None:
    need(layers, "filesystem")
    proc = run_confined(
        f"""\
        try:
            {attack}
        except PermissionError as exc:
            print("refused", exc.errno)
        else:
            print("escaped")
        """,
        only("filesystem"),
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.splitlines()[-1] == "refused 13"
    assert not Path("/tmp/olympics-escape.txt").exists()


def test_landlock_allows_reading_the_copy_and_python(layers: dict[str, str]) -> None:
    need(layers, "filesystem")
    proc = run_confined(
        """\
        import numpy, email.mime.text  # a lazy standard-library import after confine
        print(len(open("model.py").read()) > 0, len(open(numpy.__file__).read()) > 0)
        """,
        only("filesystem"),
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.splitlines()[-1] == "True True"


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    yield server
    server.close()


def connect_script(port: int) -> str:
    return f"""\
    import socket
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    except OSError as exc:
        print("refused", type(exc).__name__, exc.errno)
    else:
        print("connected")
    """


@pytest.mark.parametrize(
    ("layer", "errnos"),
    [
        pytest.param("network", {101, 111}, id="namespace"),  # ENETUNREACH or ECONNREFUSED
        pytest.param("filesystem", {13}, id="landlock-tcp"),  # EACCES (Landlock ABI >= 4)
    ],
)
def test_a_connection_to_the_host_fails_with_one_layer_alone(
    layers: dict[str, str], listener: socket.socket, layer: str, errnos: set[int]
) -> None:
    need(layers, layer)
    if layer == "filesystem" and "TCP denied" not in layers["filesystem"]:
        pytest.skip("this kernel's Landlock predates TCP rules (ABI 4)")
    port = listener.getsockname()[1]
    proc = run_confined(connect_script(port), only(layer))
    assert proc.returncode == 0, proc.stderr[-500:]
    word, _, errno = proc.stdout.splitlines()[-1].split()
    assert word == "refused" and int(errno) in errnos
    with pytest.raises(TimeoutError):
        listener.accept()


def test_the_same_connection_succeeds_without_the_layers(listener: socket.socket) -> None:
    """The attack is real: unconfined, it connects."""
    port = listener.getsockname()[1]
    proc = run_confined(connect_script(port), ALL)
    assert proc.stdout.splitlines()[-1] == "connected"
    listener.accept()[0].close()


def test_without_the_layers_the_file_attacks_would_work() -> None:
    """The file attacks are real too: unconfined, the labels are readable."""
    proc = run_confined(f"print(len(open({str(LABELS)!r}, 'rb').read()))", ALL)
    assert int(proc.stdout.splitlines()[-1]) == LABELS.stat().st_size


def test_seccomp_program_is_well_formed() -> None:
    code = confine.seccomp_program(1234)
    assert len(code) % 8 == 0
    assert len(code) // 8 < 4096  # BPF_MAXINSNS
    # Every jump lands inside the program.
    n = len(code) // 8
    for i in range(n):
        op, jt, jf, _ = struct.unpack_from("=HBBI", code, 8 * i)
        if op & 0x07 == 0x05:  # BPF_JMP
            assert i + 1 + max(jt, jf) < n


def test_the_guard_read_roots_exist() -> None:
    assert all(os.path.isdir(root) for root in guard.read_roots())
