"""The child's working directory: a private, read-only copy of the model's files.

The child runs in a copy that holds the model's files (``static.kind``) and nothing else,
in a fresh temporary directory removed with its log when the child is closed: whatever the
child does to its working directory, the real folder is untouched, and every byte the model
can read is in its size (SECURITY.md, "private copy").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath


def private_copy(folder: Path, target: Path, files: Iterable[str]) -> None:
    """Copy ``files`` (POSIX paths inside ``folder``) to ``target``, read-only.

    The copy holds the listed files and the folders on their way, nothing else: it is all
    the model can read of its folder, so a file left out (a README, ``submission.yaml``)
    cannot carry anything the model uses. Each step of a path must be a plain folder and
    the last a plain file, looked at without following links: a link or a device where
    the static check saw none is an error, never followed.
    """
    target.mkdir()
    made = [target]
    for relative in sorted(set(files)):
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise OSError(f"{relative!r} is not a path inside the folder")
        source, dest = folder, target
        for part in parts[:-1]:
            source, dest = source / part, dest / part
            if not stat.S_ISDIR(os.lstat(source).st_mode):
                raise OSError(f"{relative}: {part} is not a plain folder")
            if not dest.exists():
                dest.mkdir()
                made.append(dest)
        source, dest = source / parts[-1], dest / parts[-1]
        if not stat.S_ISREG(os.lstat(source).st_mode):
            raise OSError(f"{relative} is not a plain file")
        shutil.copyfile(source, dest, follow_symlinks=False)
        dest.chmod(0o444)
    for made_folder in reversed(made):
        made_folder.chmod(0o555)


def remove_tree(path: Path) -> None:
    """Remove a tree that holds read-only folders (the private copy)."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)
