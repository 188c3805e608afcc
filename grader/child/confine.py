"""The child's operating-system layers: they hold when the Python layer does not.

The worker calls :func:`confine` after NumPy is imported and before it says hello, so
before any of the submission's code exists in the process. Each layer is applied by the
kernel and cannot be undone by the process afterwards, audit hook bypassed or not:

- **network**: new user, network and IPC namespaces (``unshare``): no interface but a
  down loopback, so no connection leaves the child, and no shared memory with others.
  No uid map is written, so the child runs as the overflow user inside (outside, the
  kernel still sees the grader's uid: the file layers below are what stop writes).
- **processes**: ``RLIMIT_NPROC`` of 1 (ignored for root, which the next two cover).
- **filesystem**: Landlock. Reading is allowed beneath the working directory (the
  private copy of the submission) and Python's and NumPy's installation; writing is
  allowed nowhere; with ABI 4 TCP is denied, and with ABI 6 signals and abstract Unix
  sockets are scoped to the child's own domain.
- **syscalls**: a seccomp filter (x86_64) that kills the process (SIGSYS) on fork, exec,
  any file opened for writing, created, removed or changed (chmod, utime, xattrs),
  sockets, IPC, signals or limits aimed at other processes, ptrace, namespaces, mounts,
  clocks, BPF, io_uring, … Threads stay possible (``clone`` with ``CLONE_THREAD``);
  ``clone3`` and ``openat2`` answer ENOSYS so that the C library falls back to ``clone``
  and ``openat``, whose arguments the filter can see.

Each layer is detected, not assumed: what the kernel refuses is reported as
``unavailable: <reason>`` and the grade goes on with the layers that remain; the parent
records every layer's state in the result. There is no library for this in the standard
library, and the worker must need nothing beyond NumPy, so the three kernel interfaces
are spoken here through ctypes, which is then dropped from ``sys.modules`` (its audit
events stay refused by the hook).

Child-side code: imports only the standard library.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct
import sys
from collections.abc import Iterable, Mapping

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_THREAD = 0x00010000

PR_SET_NO_NEW_PRIVS = 38
SYS_SECCOMP_X86_64 = 317
SECCOMP_SET_MODE_FILTER = 1
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
ENOSYS = 38

SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
# Every file-system right the kernel knows, by ABI: handled means denied unless granted.
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

# x86_64 system calls that end the child, by what they would do. Numbers from
# arch/x86/entry/syscalls/syscall_64.tbl.
KILLED_SYSCALLS = {
    # processes, programs, tracing
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "ptrace": 101,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_open": 434,
    "pidfd_getfd": 438, "pidfd_send_signal": 424, "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297, "personality": 135,
    # other processes' priority, placement and memory
    "setpriority": 141, "sched_setparam": 142, "sched_setscheduler": 144,
    "sched_setaffinity": 203, "sched_setattr": 314, "ioprio_set": 251,
    "migrate_pages": 256, "move_pages": 279,
    # the network and shared memory between teams
    "socket": 41, "socketpair": 53, "shmget": 29, "shmat": 30, "shmctl": 31,
    "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67, "msgget": 68, "msgsnd": 69,
    "msgrcv": 70, "msgctl": 71, "semtimedop": 220, "mq_open": 240, "mq_unlink": 241,
    # files: creating, removing, renaming, linking, and their metadata
    "creat": 85, "rename": 82, "renameat": 264, "renameat2": 316, "mkdir": 83,
    "mkdirat": 258, "rmdir": 84, "link": 86, "linkat": 265, "symlink": 88,
    "symlinkat": 266, "unlink": 87, "unlinkat": 263, "mknod": 133, "mknodat": 259,
    "truncate": 76, "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
    "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260, "utime": 132,
    "utimes": 235, "futimesat": 261, "utimensat": 280, "setxattr": 188,
    "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "open_by_handle_at": 304, "name_to_handle_at": 303,
    # namespaces, mounts, the machine
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "settimeofday": 164,
    "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "swapon": 167, "swapoff": 168,
    "acct": 163, "quotactl": 179, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
    # kernel interfaces a model never needs
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "add_key": 248,
    "request_key": 249, "keyctl": 250,
}  # fmt: skip
SYS_CLONE, SYS_CLONE3, SYS_OPENAT2 = 56, 435, 437
O_WRITING = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND
F_SETOWN, F_SETSIG, F_SETOWN_EX = 8, 10, 15  # would aim SIGIO (or any signal) at the grader
FIOSETOWN, SIOCSPGRP, TIOCSPGRP, TIOCSTI = 0x8901, 0x8902, 0x5410, 0x5412


def argument_rules(pid: int) -> list[tuple[int, int, str, set[int] | int]]:
    """(system call, argument, test, values): calls allowed or ended by one argument.

    ``allow_in``: allowed only for these values; ``kill_in``: ended for these values;
    ``allow_set``/``kill_set``: allowed/ended when any bit of the mask is set.
    """
    return [
        (SYS_CLONE, 0, "allow_set", CLONE_THREAD),  # threads, not processes
        (62, 0, "allow_in", {pid}),  # kill: only itself (abort() raises SIGABRT so)
        (200, 0, "allow_in", {pid}),  # tkill
        (234, 0, "allow_in", {pid}),  # tgkill
        (302, 0, "allow_in", {0, pid}),  # prlimit64: its own limits, never the grader's
        (2, 1, "kill_set", O_WRITING),  # open: read-only
        (257, 2, "kill_set", O_WRITING),  # openat: read-only
        (72, 1, "kill_in", {F_SETOWN, F_SETSIG, F_SETOWN_EX}),  # fcntl
        (16, 1, "kill_in", {FIOSETOWN, SIOCSPGRP, TIOCSPGRP, TIOCSTI}),  # ioctl
    ]


LAYERS = ("network", "processes", "filesystem", "syscalls")


class _Unavailable(Exception):
    pass


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise _Unavailable(f"{what}: {os.strerror(err)} (errno {err})")
    return result


def network(libc) -> str:
    flags = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC
    _check(libc.unshare(flags), "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWIPC)")
    return "user, network and IPC namespaces: no interface up, no shared memory, uid unmapped"


def processes(root: bool) -> str:
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    if root:
        return "RLIMIT_NPROC=1, which the kernel does not apply to root: seccomp stops fork"
    return "RLIMIT_NPROC=1"


def filesystem(libc, readable: Iterable[str], grants: Mapping[str, int] | None = None) -> str:
    """Landlock: reading beneath ``readable``; ``grants`` adds rights on single paths (the
    counted child's valgrind, its output file: grader/child/precount.py)."""
    abi = libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    _check(abi, "Landlock")
    fs_rights = FS_RIGHTS_BY_ABI[max(k for k in FS_RIGHTS_BY_ABI if k <= abi)]
    net_rights = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs_rights, net_rights, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _check(
        libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    rules = [(path, FS_READ_FILE | FS_READ_DIR) for path in readable]
    rules += [(path, rights & fs_rights) for path, rights in (grants or {}).items()]
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a root that does not exist here grants nothing
            try:
                if not os.path.isdir(path):  # a file takes no directory rights
                    rights &= FS_FILE_RIGHTS
                rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)
                _check(
                    libc.syscall(
                        SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0
                    ),
                    f"landlock_add_rule({path})",
                )
            finally:
                os.close(fd)
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    extras = (", TCP denied" if net_rights else "") + (", signals scoped" if scoped else "")
    return f"Landlock ABI {abi}: read-only beneath the copy and Python's own, no writes{extras}"


WRITING_OPENS = "open for writing"  # allowed by name: drops the two rules on open's flags


def seccomp_program(pid: int, allow: Iterable[str] = ()) -> bytes:
    """The classic-BPF filter: x86_64 only, then per system call number and argument.

    ``allow`` names system calls of ``KILLED_SYSCALLS`` (or ``WRITING_OPENS``) to let
    through: the counted child's launcher execs valgrind, which writes its output file
    (grader/child/precount.py; Landlock holds both to named files)."""
    allow = set(allow)
    ld_w, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JSET|K, RET|K
    prog: list[tuple[int, int, int, int]] = []

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> None:
        prog.append((code, jt, jf, k))

    op(ld_w, 4)  # seccomp_data.arch
    op(jeq, AUDIT_ARCH_X86_64, 1, 0)
    op(ret, RET_KILL_PROCESS)
    op(ld_w, 0)  # seccomp_data.nr
    op(jset, X32_SYSCALL_BIT, 0, 1)
    op(ret, RET_KILL_PROCESS)
    for nr in sorted(nr for name, nr in KILLED_SYSCALLS.items() if name not in allow):
        op(jeq, nr, 0, 1)
        op(ret, RET_KILL_PROCESS)
    for nr in (SYS_CLONE3, SYS_OPENAT2):  # arguments behind a pointer: the C library falls
        op(jeq, nr, 0, 1)  # back to clone and openat on ENOSYS
        op(ret, RET_ERRNO | ENOSYS)
    for nr, arg, test, values in argument_rules(pid):
        if WRITING_OPENS in allow and nr in (2, 257):
            continue
        # ld the argument's low word; each test jumps to "other"; else "default".
        tests = sorted(values) if isinstance(values, set) else [values]
        default, other = (
            (RET_KILL_PROCESS, RET_ALLOW)
            if test.startswith("allow")
            else (RET_ALLOW, RET_KILL_PROCESS)
        )
        op(jeq, nr, 0, len(tests) + 3)
        op(ld_w, 16 + 8 * arg)
        for i, value in enumerate(tests):
            op(jset if test.endswith("set") else jeq, value, len(tests) - i, 0)
        op(ret, default)
        op(ret, other)
    op(ret, RET_ALLOW)
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def syscalls(libc, allow: Iterable[str] = ()) -> str:
    if platform.machine() != "x86_64":
        raise _Unavailable(
            f"the filter's system-call numbers are x86_64's, not {platform.machine()}"
        )
    allow = sorted(set(allow))
    code = seccomp_program(os.getpid(), allow)
    filters = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(code) // 8, ctypes.addressof(filters))
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(
        libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)),
        "seccomp",
    )
    killed = len(set(KILLED_SYSCALLS) - set(allow))
    ruled = len(argument_rules(0)) - (2 if WRITING_OPENS in allow else 0)
    let_through = f"; let through: {', '.join(allow)}" if allow else ""
    return (
        f"seccomp: {killed} system calls end the child (SIGSYS), "
        f"{ruled} more by their arguments (writes, signals, limits){let_through}"
    )


def confine(
    readable: Iterable[str],
    skip: Iterable[str] = (),
    libc=None,
    *,
    grants: Mapping[str, int] | None = None,
    allow: Iterable[str] = (),
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Apply every layer not in ``skip``; return each layer's state, one line each.

    ``grants`` (Landlock rights on single paths) and ``allow`` (system calls the filter
    lets through) widen the layers for the counted child's launcher, which execs valgrind
    (grader/child/precount.py). ``inherited``: layers a process set before it exec'd this
    one, reported as they were set (they hold across exec) instead of applied again.

    Order matters: the namespaces first (the filter would refuse ``unshare``), the rlimit
    after them (a new user namespace counts its processes afresh), then Landlock, then
    the filter.
    """
    skip = set(skip)
    libc = libc or _libc()
    root = os.geteuid() == 0  # before the namespace, where it would read as the overflow uid
    steps = {
        "network": lambda: network(libc),
        "processes": lambda: processes(root),
        "filesystem": lambda: filesystem(libc, readable, grants),
        "syscalls": lambda: syscalls(libc, allow),
    }
    layers: dict[str, str] = {}
    for name, step in steps.items():
        if inherited and name in inherited:
            layers[name] = inherited[name]
            continue
        if name in skip:
            layers[name] = "off: not asked for"
            continue
        if sys.platform != "linux" and name != "processes":
            layers[name] = f"unavailable: Linux only (this is {sys.platform})"
            continue
        try:
            layers[name] = step()
        except (_Unavailable, OSError, ValueError, AttributeError) as exc:
            layers[name] = f"unavailable: {exc}"
    for module in [m for m in sys.modules if m.split(".")[0] in ("ctypes", "_ctypes")]:
        del sys.modules[module]
    return layers
