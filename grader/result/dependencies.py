"""The grader's runtime dependencies as installed: the set a grade ran with, and its fingerprint.

``requirements.txt`` locks them, with hashes, and every workflow installs from it. A result
records the sha256 of the set this process runs with (each distribution's name and version),
and a stored result graded with another set is stale, as one graded by another grader
version is: NumPy, SciPy and the rest take part in every number a grade measures or derives.

The set is what the installed grader declares, followed transitively, each marker evaluated
for this interpreter, no extra taken: bumping a test tool (pytest, zizmor) or PyGithub in the
lock re-grades nothing, bumping NumPy or anything under it re-grades every result. It is read
from the environment, not from the lock file, so it tells what ran, however it was installed.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata

PROJECT = "tinytorch-olympics-grader"
MISSING = "(not installed)"


@functools.cache
def runtime() -> dict[str, str] | None:
    """Each runtime dependency's canonical name and installed version (:data:`MISSING` if it
    is not installed), sorted by name; None where the grader itself is not installed (run
    from a bare checkout), as then nothing says what it depends on."""
    # imported here: only the commands that grade or judge results pay for it
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    walked: set[tuple[str, str]] = set()
    todo = [(PROJECT, "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in walked:
            continue
        walked.add((name, extra))
        try:  # found as an import finds it: the first on sys.path
            version, requires = headers(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            if name == PROJECT:
                return None
            found[name] = MISSING
            continue
        if name != PROJECT:
            found[name] = version
        environment = {**default_environment(), "extra": extra}
        for line in requires:
            try:
                wanted = Requirement(line)
            except InvalidRequirement:
                continue  # a malformed line of another package's metadata: pip ignores it too
            if wanted.marker is None or wanted.marker.evaluate(environment):
                todo.append((canonicalize_name(wanted.name), ""))
                todo.extend((canonicalize_name(wanted.name), e) for e in sorted(wanted.extras))
    return dict(sorted(found.items()))


def headers(dist: metadata.Distribution) -> tuple[str, list[str]]:
    """A distribution's Version and Requires-Dist, read from its metadata's header lines.

    ``Distribution.metadata`` parses the whole file as an e-mail, long description included,
    which took two thirds of the walk's time; both fields are one line each (core metadata),
    and the headers end at the first blank line."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    version, requires = MISSING, []
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        key = key.lower()
        if key == "version":
            version = value.strip()
        elif key == "requires-dist":
            requires.append(value.strip())
    return version, requires


def fingerprint() -> str | None:
    """sha256 of :func:`runtime`, one ``name==version`` line each; None where it is None."""
    resolved = runtime()
    if resolved is None:
        return None
    text = "".join(f"{name}=={version}\n" for name, version in resolved.items())
    return hashlib.sha256(text.encode()).hexdigest()
