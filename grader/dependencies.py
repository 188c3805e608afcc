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
    # imported here: only the commands that grade or judge results pay for it (~40 ms)
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    installed: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():  # one pass over sys.path; the first found wins,
        name = dist.metadata["Name"]  # as it does for an import
        if name:
            installed.setdefault(canonicalize_name(name), dist)
    if PROJECT not in installed:
        return None
    found: dict[str, str] = {}
    walked: set[tuple[str, str]] = set()
    todo = [(PROJECT, "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in walked:
            continue
        walked.add((name, extra))
        dist = installed.get(name)
        if dist is None:
            found[name] = MISSING
            continue
        if name != PROJECT:
            found[name] = dist.version
        environment = {**default_environment(), "extra": extra}
        for line in dist.requires or []:
            try:
                wanted = Requirement(line)
            except InvalidRequirement:
                continue  # a malformed line of another package's metadata: pip ignores it too
            if wanted.marker is None or wanted.marker.evaluate(environment):
                todo.append((canonicalize_name(wanted.name), ""))
                todo.extend((canonicalize_name(wanted.name), e) for e in sorted(wanted.extras))
    return dict(sorted(found.items()))


def fingerprint() -> str | None:
    """sha256 of :func:`runtime`, one ``name==version`` line each; None where it is None."""
    resolved = runtime()
    if resolved is None:
        return None
    text = "".join(f"{name}=={version}\n" for name, version in resolved.items())
    return hashlib.sha256(text.encode()).hexdigest()
