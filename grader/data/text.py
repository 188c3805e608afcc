"""TinyTalks, the language track's data: its splits read as (question, answer) pairs, each
file checked against its recorded sha256, and the character vocabulary (docs/DESIGN.md, Data).

A split is ASCII text with Unix newlines: records of two lines, ``Q: <question>`` then
``A: <answer>``, separated by one blank line, the last answer ending the file with its newline.
A file whose bytes differ from the recorded sha256, or that breaks that format, raises
:class:`grader.errors.DataError` naming the file and, for the format, the line.

The vocabulary is fixed once and versioned: :data:`CHARACTERS` are the characters the three
splits use (newline and 67 printable ASCII characters, in code-point order; id = index), and
one more id, :data:`UNKNOWN_ID`, stands for any other character. :func:`encode` maps a
character outside the vocabulary to it (``strict=True`` refuses it instead), and
:func:`decode` shows it as U+FFFD, so an answer with an unknown character never matches a
reference. Changing :data:`CHARACTERS` changes every model's ids: it takes a new
:data:`VOCAB_VERSION` (tests/test_text.py fails otherwise).

Imports NumPy and grader.errors only, so that any layer may read the text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from grader.errors import DataError

VOCAB_VERSION = 1
CHARACTERS = "\n !',-.0123456789:?ABCDEFGHIJKLMNOPQRSTVWYabcdefghijklmnopqrstuvwxyz"
UNKNOWN_ID = len(CHARACTERS)  # 68: any character outside CHARACTERS
VOCAB_SIZE = len(CHARACTERS) + 1  # 69 ids: the characters, then the unknown one
UNKNOWN_TEXT = "\ufffd"  # how decode shows UNKNOWN_ID
_IDS = {c: i for i, c in enumerate(CHARACTERS)}

QUESTION, ANSWER = "Q: ", "A: "


class Split(NamedTuple):
    file: str  # relative to the dataset's folder
    sha256: str
    pairs: int


# TinyTalks v1.0.0 as shipped (data/tinytalks/SOURCE.md): train for students, val for
# choosing a recipe, test held out.
SPLITS = {
    "train": Split("splits/train.txt",
                   "734520b4597276ba75949402962ecb94c5e463ed8af1460eac86fbba2a1922be", 210),
    "val": Split("splits/val.txt",
                 "938da1b38d15c1f253bd3a6deb4f546df73d6a5e456d1f6220db280118819c1d", 45),
    "test": Split("splits/test.txt",
                  "4a44d204594c7f0a31202758de75af7fc8a1d17565423004ce8dd9d28bea99cb", 46),
}  # fmt: skip
# The other files of the folder: the licence travels with the text, and the whole set is
# train, val and test joined by blank lines.
OTHER_FILES = {
    "LICENSE": "252703accee07ecee20f500ad5267c80b77ec80d888214189ba27786917f0d9e",
    "tinytalks_v1.txt": "62e5b5e2095c4cd4b4a70ae9644b943f157c513f4099e2d029489ab945348a21",
}


class Pair(NamedTuple):
    question: str
    answer: str


def prompt(question: str) -> str:
    """What a model is shown before it answers: ``Q: <question>\\nA:``."""
    return f"{QUESTION}{question}\n{ANSWER.rstrip()}"


def continuation(answer: str) -> str:
    """What follows the prompt: a space, the answer, and the newline that ends it."""
    return f" {answer}\n"


def record(pair: Pair) -> str:
    """A pair as one training text, ``Q: <question>\\nA: <answer>\\n``."""
    return prompt(pair.question) + continuation(pair.answer)


def encode(text: str, strict: bool = False) -> np.ndarray:
    """Token ids (int64) of ``text``; a character outside the vocabulary becomes
    :data:`UNKNOWN_ID`, or with ``strict`` raises ValueError naming it and its index."""
    ids = [_IDS.get(c, UNKNOWN_ID) for c in text]
    if strict and UNKNOWN_ID in ids:
        at = ids.index(UNKNOWN_ID)
        raise ValueError(
            f"character {text[at]!r} at index {at} is not in vocabulary v{VOCAB_VERSION}"
        )
    return np.array(ids, dtype=np.int64)


def decode(ids: np.ndarray | list[int]) -> str:
    """The text of token ids; :data:`UNKNOWN_ID` shows as U+FFFD, any other id out of range
    raises ValueError."""
    out = []
    for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
        if not 0 <= i < VOCAB_SIZE:
            raise ValueError(f"token id {i} is outside the vocabulary (0..{VOCAB_SIZE - 1})")
        out.append(CHARACTERS[i] if i < UNKNOWN_ID else UNKNOWN_TEXT)
    return "".join(out)


def checked_bytes(path: Path, sha256: str) -> bytes:
    """The file's bytes, or DataError when it is missing or differs from ``sha256``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the TinyTalks file: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DataError(
            f"{path}: sha256 {digest} differs from the recorded {sha256}; "
            "restore the file from the repository"
        )
    return data


def verify(folder: Path) -> None:
    """Check every file of the dataset's folder against its recorded sha256."""
    for split in SPLITS.values():
        checked_bytes(folder / split.file, split.sha256)
    for name, sha256 in OTHER_FILES.items():
        checked_bytes(folder / name, sha256)


def load_split(folder: Path, name: str) -> list[Pair]:
    """The pairs of split ``name`` (train, val or test) of the folder, checked by sha256,
    by format and by their recorded count."""
    if name not in SPLITS:
        raise DataError(f"TinyTalks has no split {name!r}; the splits are {sorted(SPLITS)}")
    split = SPLITS[name]
    path = folder / split.file
    pairs = parse(path, checked_bytes(path, split.sha256))
    if len(pairs) != split.pairs:
        raise DataError(f"{path}: {len(pairs)} pairs, {split.pairs} recorded")
    return pairs


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of any file in the split format (no checksum: a course's own text)."""
    try:
        return parse(path, path.read_bytes())
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None


def parse(path: Path, data: bytes) -> list[Pair]:
    """Records of ``data`` (the bytes of ``path``, named in errors with the line)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: byte {data[exc.start]:#04x} is not ASCII") from None
    if not text:
        raise DataError(f"{path}:1: the file is empty")
    if not text.endswith("\n"):
        raise DataError(f"{path}:{text.count(chr(10)) + 1}: the file must end with a newline")
    lines = text[:-1].split("\n")
    pairs = []
    for start in range(0, len(lines), 3):
        q, a = [*lines[start : start + 2], "<end of file>"][:2]
        pairs.append(Pair(field(path, start + 1, q, QUESTION), field(path, start + 2, a, ANSWER)))
        if start + 2 < len(lines) and lines[start + 2] != "":
            raise DataError(f"{path}:{start + 3}: expected a blank line between records")
    if lines[-1] == "":  # a blank line after the last record
        raise DataError(f"{path}:{len(lines)}: expected a record ending the file")
    return pairs


def field(path: Path, number: int, line: str, prefix: str) -> str:
    """The text of a ``Q: ``/``A: `` line, checked: prefix, not empty, in the vocabulary."""
    if not line.startswith(prefix) or not line[len(prefix) :].strip():
        raise DataError(f"{path}:{number}: expected {prefix!r} and text, found {line[:40]!r}")
    for c in line:
        if c not in _IDS:
            raise DataError(
                f"{path}:{number}: character {c!r} is not in vocabulary v{VOCAB_VERSION}"
            )
    return line[len(prefix) :]
