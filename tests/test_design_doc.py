"""The repository is its own design document: code and docs cite docs/DESIGN.md, README.md
and SECURITY.md, never a file outside the repository, and state the design rather than the
review history that led to it (docs/DESIGN.md, Code map).

Two checks over the tracked text of the grader, its tests, benchmarks, workflows, schemas,
rules and documents: no citation of a document outside the repository (a product
specification's sections, a path to another checkout) or of the issue tracker and its
reviews; and every ``DESIGN.md, <Section>`` citation names a heading the document has.
And the two maps of the code, the design's code map and the README's tree, name every module
of ``grader/`` in its folder, so that a newcomer finds each from either.

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


# -- the code map and the README's tree name every module ---------------------------------------
def modules_by_place() -> dict[str, set[str]]:
    """Each folder of grader/ ("cli/", ...) and "flat", with the modules there (no roots)."""
    places: dict[str, set[str]] = {}
    for path in (ROOT / "grader").rglob("*.py"):
        if path.stem in ("__init__", "__main__"):
            continue
        rel = path.relative_to(ROOT / "grader")
        place = "flat" if len(rel.parts) == 1 else f"{rel.parts[0]}/"
        places.setdefault(place, set()).add(path.name)
    return places


def code_map_rows() -> dict[str, str]:
    """The rows of docs/DESIGN.md's code map: the folder (or "flat"), and the row's text."""
    text = DESIGN.read_text()
    section = text[text.index("Code map") :]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[1] and not set(cells[1]) <= {"-"}:
            rows[cells[1].strip("`")] = line
    return rows


def test_the_code_map_names_every_module_in_its_folder() -> None:
    rows = code_map_rows()
    flat_rows = " ".join(line for place, line in rows.items() if not place.endswith("/"))
    missing = []
    for place, names in sorted(modules_by_place().items()):
        row = flat_rows if place == "flat" else rows.get(place, "")
        missing += [f"{place} {name}" for name in sorted(names) if f"`{name}`" not in row]
    assert not missing, f"docs/DESIGN.md, Code map: name these in their folder's row: {missing}"


def test_the_readme_tree_names_every_module_in_its_folder() -> None:
    text = (ROOT / "README.md").read_text()
    tree = text[text.index("\ngrader/ ") : text.index("\nschemas/ ")]
    blocks: dict[str, str] = {"flat": ""}
    place = "flat"
    for line in tree.splitlines()[1:]:
        head = re.match(r"  ([a-z]+/) ", line)
        if head:
            place = head.group(1)
        elif not line.startswith("   "):  # a flat module's line, back at the tree's indent
            place = "flat"
        blocks[place] = blocks.get(place, "") + " " + line
    missing = []
    for place, names in sorted(modules_by_place().items()):
        words = set(re.findall(r"[a-z_]+(?:\.py)?", blocks.get(place, "")))
        missing += [
            f"{place} {name}" for name in sorted(names) if {name, name[:-3]}.isdisjoint(words)
        ]
    assert not missing, f"README.md, Layout: name these in their folder's lines: {missing}"
