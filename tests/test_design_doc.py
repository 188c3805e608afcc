"""The repository is its own design document: code and docs cite docs/DESIGN.md, README.md
and SECURITY.md, never a file outside the repository, and state the design rather than the
review history that led to it (docs/DESIGN.md, Code map).

Two checks over the tracked text of the grader, its tests, benchmarks, workflows, schemas,
rules and documents: no citation of a document outside the repository (a product
specification's sections, a path to another checkout) or of the issue tracker and its
reviews; and every ``DESIGN.md, <Section>`` citation names a heading the document has.

The model files of ``baselines/`` and ``submissions/`` are not read: their bytes are what
a grade measures (sizes, content hashes), so their text is the graded artefact's, and a
team's folder is the team's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.config import project_root

ROOT = project_root()
DESIGN = ROOT / "docs" / "DESIGN.md"
SCANNED = ("grader", "tests", "benchmarks", ".github", "schemas", "docs", "baselines")
TOP_LEVEL = ("README.md", "SECURITY.md", "events.yaml", "pyproject.toml")
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".json", ".toml", ".txt", ".cfg", ".ini", ".sh"}
SKIPPED = ("tests/data/", "baselines/*/model.py")
# Known and left as they are (none today): text a student sees, where rewording it would be a
# change of behaviour of its own.
KNOWN: set[tuple[str, str]] = set()

# Built from parts, so that this file does not match itself.
OUTSIDE = {
    "a section of an outside specification": re.compile(r"\bSP" + r"EC\b"),
    "a path to another checkout": re.compile(r"\.\./shared\b|/work/"),
    "the issue tracker": re.compile(r"\b[Ii]ssue(?:\s+\d+|'s\b|:)"),
    "review history": re.compile(r"\bred team\b|\breviewer's\b|\bthe (?:\w+ )?reviewer\b"),
}
# "docs/DESIGN.md, Measurement" (or "DESIGN.md, Answer checks"): the section's heading,
# up to a bracket, a semicolon, a colon, a comma, a full stop or the end of the line.
CITATION = re.compile(r"DESIGN\.md,\s+\"?([A-Z][\w' /-]*?)\"?\s*(?=[);:,.`]|$)", re.MULTILINE)


def tracked_text() -> list[Path]:
    files = [ROOT / name for name in TOP_LEVEL]
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if not path.is_file() or path.suffix not in SUFFIXES or "__pycache__" in rel:
                continue
            if any(Path(rel).match(pattern) or rel.startswith(pattern) for pattern in SKIPPED):
                continue
            files.append(path)
    return [f for f in files if f.is_file() and f != Path(__file__).resolve()]


def known(path: Path, line: str) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == file and line.startswith(start) for file, start in KNOWN)


def headings() -> set[str]:
    """Every heading of docs/DESIGN.md, as written and without its number ("5. Measurement"
    is cited as "Measurement")."""
    found = set()
    for line in DESIGN.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            found.add(title)
            found.add(re.sub(r"^\d+(\.\d+)*\.?\s+", "", title))
    return found


def test_the_design_document_exists_and_the_readme_links_it() -> None:
    assert DESIGN.is_file()
    assert "(docs/DESIGN.md)" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("what", sorted(OUTSIDE))
def test_nothing_cites_outside_the_repository(what: str) -> None:
    pattern = OUTSIDE[what]
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in tracked_text()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line) and not known(path, line)
    ]
    assert not hits, f"{what} cited; cite docs/DESIGN.md, README.md or SECURITY.md:\n" + "\n".join(
        hits
    )


def test_every_design_citation_names_a_heading() -> None:
    known = headings()
    cited = 0
    wrong = []
    for path in tracked_text():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for at in (m.start() for m in re.finditer(r"DESIGN\.md,", line)):
                cited += 1
                match = CITATION.match(line, at)
                section = match.group(1).strip() if match else line[at:].strip()
                if section not in known:  # also a citation cut by the end of its line
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {section!r}")
    assert cited, "no code cites docs/DESIGN.md"
    assert not wrong, "no such heading in docs/DESIGN.md:\n" + "\n".join(wrong)


def test_a_citation_is_read_up_to_its_punctuation() -> None:
    text = 'see docs/DESIGN.md, Answer checks; and (docs/DESIGN.md, "Trust boundaries").'
    assert [m.group(1) for m in CITATION.finditer(text)] == ["Answer checks", "Trust boundaries"]
