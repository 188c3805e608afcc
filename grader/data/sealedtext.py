"""A course's own Q&A sealed as a text dataset's private split (docs/DESIGN.md, Data;
Generation).

TinyTalks is public and the questions a grade composes are computable, so a model can buy
its perplexity on both with a table and a rule book. What no program knows is a course's
own held-out questions: ``olympics seal tinytalks --text FILE`` checks a file of them in
the splits' own format (:mod:`grader.data.text`), and seals it with the key and the Fernet
code of :mod:`grader.data.private`. The grader opens it in memory only (:func:`load`) and
scores its records in the walks of a grade that wants the private split (kind
``private``), never asking them greedily and never writing their text into a result.

A course file is checked whole, every problem named by the file, the record (and its line)
and the fix: the format, the vocabulary, at least :data:`MIN_RECORDS` records, each fitting
in a walk, none twice, none a public record (train, val or test) and none a question the
grade composes with its answer (a rule book computes those).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.config import Rules
from grader.data import private, probes, text
from grader.data.workloads import dataset_folder
from grader.errors import ConfigError, DataError, Violation

# Records a sealed Q&A split holds at least: an interval over fewer pairs is too wide to
# rank on (the public test split has 46).
MIN_RECORDS = 30
SUBSET_STREAM = 0x5EA1  # the draw of the records a grade scores, apart from the other streams


def serialise(pairs: list[text.Pair]) -> bytes:
    """Pairs in the splits' format: records, a blank line between them (what is sealed, so
    that :func:`grader.data.text.parse` reads it back whatever the course's file looked like)."""
    return "\n".join(text.record(p) for p in pairs).encode("ascii")


def load(rules: Rules, dataset: str, key: bytes, root: Path | None = None) -> list[text.Pair]:
    """The pairs of the sealed Q&A split, decrypted in memory and parsed (never written)."""
    path, plaintext = private.open_sealed(rules, dataset, key, root)
    try:
        return text.parse(path, plaintext)
    except DataError:  # its message would quote the sealed text, into a public log
        raise DataError(
            f"{path}: opens, but holds no Q&A records in the splits' format (sealed from "
            f"another file?); seal the course's Q&A again with `olympics seal {dataset} --text`"
        ) from None


def drawn(pairs: list[text.Pair], count: int, sha256: str) -> list[text.Pair]:
    """The ``count`` records a grade scores (all of them where there are no more): drawn by
    a stream seeded from the sealed file's sha256, so that every grade scores the same ones
    and every entry is ranked on the same questions (docs/DESIGN.md, Generation)."""
    rng = np.random.default_rng([int(sha256[:16], 16), SUBSET_STREAM])
    order = rng.permutation(len(pairs))[:count]
    return [pairs[i] for i in sorted(order)]


def read_records(path: Path) -> tuple[list[list[tuple[int, str]]], list[str]]:
    """The file's records as lists of (line number, line), and the problems of its layout
    (as :func:`grader.data.text.parse` reads it: two lines a record, one blank line between
    records, a newline ending the file). Never raises on the content: every problem is named."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the course's Q&A file ({exc.strerror}); name a file in the "
            "format of data/tinytalks/splits/test.txt"
        ) from None
    content = data.decode("utf-8", errors="replace")  # a byte that is not text shows as U+FFFD
    problems = []
    if "\r" in content:
        problems.append(f"{path}: Windows line endings (\\r\\n): save it with Unix newlines")
        content = content.replace("\r", "")
    if not content.strip():
        return [], [f"{path}: the file is empty: write records `Q: ...` / `A: ...`"]
    if not content.endswith("\n"):
        problems.append(f"{path}: the last line has no newline: end the file with one")
        content += "\n"
    records: list[list[tuple[int, str]]] = []
    blank_run = 0
    for number, line in enumerate(content[:-1].split("\n"), start=1):
        if line.strip() == "":
            blank_run += 1
            if line and blank_run == 1:
                problems.append(f"{path}:{number}: a blank line with spaces: leave it empty")
            if blank_run == 2 or (blank_run == 1 and not records):
                problems.append(
                    f"{path}:{number}: one blank line between records, none before the first"
                    " or after the last: remove it"
                )
            continue
        if blank_run or not records:
            records.append([])
        blank_run = 0
        records[-1].append((number, line))
    if blank_run:
        problems.append(f"{path}: blank lines after the last record: remove them")
    return records, problems


def record_problems(path: Path, k: int, lines: list[tuple[int, str]]) -> list[str]:
    """The problems of record ``k`` (1-based): two lines, ``Q: `` then ``A: ``, each with
    text, every character in the vocabulary."""
    problems = []
    if len(lines) != 2:
        problems.append(
            f"{path}:{lines[0][0]}: record {k} has {len(lines)} line(s), not 2: a record is a "
            "`Q: ` line, then an `A: ` line, then one blank line"
        )
    else:
        for (number, line), prefix in zip(lines, (text.QUESTION, text.ANSWER), strict=True):
            if not line.startswith(prefix) or not line[len(prefix) :].strip():
                problems.append(
                    f"{path}:{number}: record {k}: expected {prefix!r} and text, found "
                    f"{line[:40]!r}: start the line with {prefix!r}"
                )
    for number, line in lines:
        bad = sorted({c for c in line if c not in text.CHARACTERS})
        if bad:
            problems.append(
                f"{path}:{number}: record {k}: {', '.join(map(repr, bad))} not in vocabulary "
                f"v{text.VOCAB_VERSION} (plain ASCII letters but U, X and Z in capitals, "
                "digits, space and !',-.:?): write the text with those characters"
            )
    return problems


def check_pairs(
    path: Path,
    pairs: list[text.Pair],
    lines: list[int],
    public: dict[str, list[text.Pair]],
    walk_chars: int,
) -> list[str]:
    """What keeps parsed pairs out of a sealed split: too few, one too long for a walk, one
    twice, a public record, a record the grade composes."""
    problems = []
    if len(pairs) < MIN_RECORDS:
        problems.append(
            f"{path}: {len(pairs)} record(s); a sealed Q&A split needs at least {MIN_RECORDS}, "
            "so that its perplexity interval is narrow enough to rank on: add more"
        )
    seen_public = {p: (name, i) for name, split in public.items() for i, p in enumerate(split, 1)}
    composed = {p: kind for kind, made in probes.candidates().items() for p in made}
    first: dict[text.Pair, int] = {}
    for k, (pair, line) in enumerate(zip(pairs, lines, strict=True), start=1):
        where = f"{path}:{line}: record {k}"
        if len(text.record(pair)) > walk_chars:
            problems.append(
                f"{where} is {len(text.record(pair))} characters with its two newlines; a "
                f"walk shows {walk_chars}: shorten its question or answer"
            )
        if pair in first:
            problems.append(
                f"{where} repeats record {first[pair]}: a walk never shows a record twice; drop one"
            )
        first.setdefault(pair, k)
        if pair in seen_public:
            name, i = seen_public[pair]
            problems.append(
                f"{where} is record {i} of the public {name} split: a private split must be "
                "Q&A nobody outside the course has; drop it or write your own"
            )
        if pair in composed:
            problems.append(
                f"{where} is a question the grade composes ({composed[pair]}), whose answer a "
                "program computes: drop it, or ask your own"
            )
    return problems


def read_course_text(
    path: Path, public: dict[str, list[text.Pair]], walk_chars: int
) -> list[text.Pair]:
    """The pairs of a course's Q&A file, or a ConfigError listing every problem."""
    records, problems = read_records(path)
    for k, lines in enumerate(records, start=1):
        problems += record_problems(path, k, lines)
    pairs: list[text.Pair] = []
    if not problems:
        try:
            pairs = text.parse(path, path.read_bytes())
        except DataError as exc:  # the layout checks above should have named it
            problems.append(exc.message)
    if not problems:
        starts = [lines[0][0] for lines in records]
        problems = check_pairs(path, pairs, starts, public, walk_chars)
    if problems:
        raise ConfigError(
            f"{path}: {len(problems)} problem(s); nothing was sealed",
            [Violation(rule="private_split", message=p) for p in problems],
        )
    return pairs


def seal_course_text(
    rules: Rules, dataset: str, source: Path, out: Path, key_file: Path, root: Path,
    walk_chars: int,
) -> dict:  # fmt: skip
    """Check a course's own Q&A file, seal its records into ``out`` with the key of
    ``key_file`` (made there if absent), and say what was written. The plaintext is read
    from the course's file only; nothing but the sealed bytes (and a new key) is written."""
    folder = dataset_folder(rules, dataset, root)
    public = {name: text.load_split(folder, name) for name in text.SPLITS}
    pairs = read_course_text(source, public, walk_chars)
    plaintext = serialise(pairs)
    # Nothing of the plaintext is printed, its sha256 neither: it would confirm a guess.
    return private.seal_file(plaintext, out, key_file, root) | {
        "dataset": dataset,
        "count": len(pairs),
    }
