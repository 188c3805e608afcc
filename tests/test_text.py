"""TinyTalks, read and checked (grader/data/text.py): the splits' pairs and counts, their
sha256, the errors a malformed file raises, and the versioned character vocabulary."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.config import project_root
from grader.data import text
from grader.errors import DataError

FOLDER = project_root() / "data" / "tinytalks"
# Every vocabulary ever released, by version: the sha256 of its characters. Changing
# text.CHARACTERS without a new text.VOCAB_VERSION (and a line here) fails below.
RELEASED_VOCABULARIES = {
    1: "bc0ffab50d84e3cfd6c8b967ad4a156b49c4cb3fa0bda2e7de487f3a0325f28d",
}


@pytest.mark.parametrize(("split", "count"), [("train", 210), ("val", 45), ("test", 46)])
def test_each_split_reads_as_its_recorded_number_of_pairs(split: str, count: int) -> None:
    pairs = text.load_split(FOLDER, split)
    assert len(pairs) == count == text.SPLITS[split].pairs
    assert all(p.question and p.answer for p in pairs)
    assert not any(p.question.startswith("Q:") or p.answer.startswith("A:") for p in pairs)


def test_a_split_parses_into_its_questions_and_answers() -> None:
    pairs = text.load_split(FOLDER, "test")
    assert pairs[0] == text.Pair("What do bees make?", "Bees make honey.")
    assert text.record(pairs[0]) == "Q: What do bees make?\nA: Bees make honey.\n"
    assert text.prompt(pairs[0].question) + text.continuation(pairs[0].answer) == (
        text.record(pairs[0])
    )


def test_the_whole_set_is_the_three_splits_joined() -> None:
    whole = (FOLDER / "tinytalks_v1.txt").read_text()
    parts = [(FOLDER / text.SPLITS[s].file).read_text() for s in ("train", "val", "test")]
    assert whole == "\n".join(parts)
    assert len(text.read_pairs(FOLDER / "tinytalks_v1.txt")) == 301


def test_the_shipped_files_match_their_recorded_sha256() -> None:
    text.verify(FOLDER)
    for split in text.SPLITS.values():
        data = (FOLDER / split.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == split.sha256


def test_a_changed_byte_is_refused_by_its_checksum(tmp_path: Path) -> None:
    copy = tmp_path / "tinytalks"
    shutil.copytree(FOLDER, copy)
    path = copy / text.SPLITS["val"].file
    path.write_bytes(path.read_bytes().replace(b"plant", b"plans", 1))
    with pytest.raises(DataError, match=r"val\.txt: sha256 .* differs from the recorded"):
        text.load_split(copy, "val")
    with pytest.raises(DataError, match=r"val\.txt: sha256"):
        text.verify(copy)
    shutil.copy(FOLDER / text.SPLITS["val"].file, path)
    (copy / "LICENSE").unlink()
    assert len(text.load_split(copy, "val")) == 45
    with pytest.raises(DataError, match="LICENSE: cannot read the TinyTalks file"):
        text.verify(copy)


def test_an_unknown_split_is_refused() -> None:
    with pytest.raises(DataError, match="no split 'dev'"):
        text.load_split(FOLDER, "dev")


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"Q: Hi?\nA: Hello.\n\nQ: Bye?\nA: Bye.\n", None, None),
        (b"Q: Hi?\nA: Hello.\nQ: Bye?\nA: Bye.\n", 3, "expected a blank line"),
        (b"Q: Hi?\nB: Hello.\n", 2, "expected 'A: ' and text"),
        (b"A: Hello.\nQ: Hi?\n", 1, "expected 'Q: ' and text"),
        (b"Q: Hi?\nA: \n", 2, "expected 'A: ' and text"),
        (b"Q: Hi?\nA: Hello.\n\nQ: Bye?\n", 5, "expected 'A: ' and text, found '<end of file>'"),
        (b"Q: Hi?\nA: Hello.", 2, "must end with a newline"),
        (b"Q: Hi?\nA: Hello.\n\n", 3, "expected a record ending the file"),
        (b"Q: Hi?\r\nA: Hello.\r\n", 1, r"character '\\r' is not in vocabulary v1"),
        (b"Q: Hi?\nA: Caf\xc3\xa9.\n", 2, "byte 0xc3 is not ASCII"),
        (b"Q: Hi?\nA: 1 + 1 = 2\n", 2, "character '\\+' is not in vocabulary v1"),
        (b"", 1, "the file is empty"),
    ],
    ids=["valid", "no-blank", "not-answer", "swapped", "empty-answer", "cut", "no-newline",
         "trailing-blank", "crlf", "not-ascii", "outside-vocabulary", "empty"],
)  # fmt: skip
def test_a_malformed_file_raises_a_data_error_naming_file_and_line(
    tmp_path: Path, content: bytes, line: int | None, message: str | None
) -> None:
    path = tmp_path / "pairs.txt"
    path.write_bytes(content)
    if line is None:
        assert text.read_pairs(path) == [("Hi?", "Hello."), ("Bye?", "Bye.")]
        return
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:{line}: .*{message}"):
        text.read_pairs(path)


def test_encode_and_decode_round_trip_every_split() -> None:
    for name in text.SPLITS:
        raw = (FOLDER / text.SPLITS[name].file).read_text()
        ids = text.encode(raw, strict=True)
        assert ids.dtype == np.int64 and ids.shape == (len(raw),)
        assert ids.min() >= 0 and ids.max() < text.UNKNOWN_ID
        assert text.decode(ids) == raw


def test_the_vocabulary_is_the_characters_the_splits_use() -> None:
    used = set()
    for split in text.SPLITS.values():
        used |= set((FOLDER / split.file).read_text())
    assert set(text.CHARACTERS) == used
    assert "".join(sorted(used)) == text.CHARACTERS  # code-point order, newline first
    assert all(c == "\n" or (c.isprintable() and c.isascii()) for c in text.CHARACTERS)
    assert text.VOCAB_SIZE == len(text.CHARACTERS) + 1 == 69


def test_an_unknown_character_has_its_own_id_or_is_refused() -> None:
    ids = text.encode("A+Z")
    assert ids.tolist() == [text.encode("A")[0], text.UNKNOWN_ID, text.UNKNOWN_ID]
    assert text.decode(ids) == "A\ufffd\ufffd"
    with pytest.raises(ValueError, match=r"character '\+' at index 1"):
        text.encode("A+Z", strict=True)
    with pytest.raises(ValueError, match="token id 69 is outside"):
        text.decode([69])
    with pytest.raises(ValueError, match="token id -1 is outside"):
        text.decode(np.array([-1]))


def test_the_vocabulary_changes_only_with_its_version() -> None:
    digest = hashlib.sha256(text.CHARACTERS.encode()).hexdigest()
    assert text.VOCAB_VERSION in RELEASED_VOCABULARIES, (
        f"vocabulary v{text.VOCAB_VERSION} is not recorded here: add it with sha256 {digest}"
    )
    assert RELEASED_VOCABULARIES[text.VOCAB_VERSION] == digest, (
        f"the characters of vocabulary v{text.VOCAB_VERSION} changed (sha256 {digest}): "
        "a changed vocabulary changes every model's ids, so it takes a new VOCAB_VERSION"
    )
    assert max(RELEASED_VOCABULARIES) == text.VOCAB_VERSION


def test_the_module_imports_numpy_grader_errors_and_the_standard_library_only() -> None:
    import ast
    import sys

    tree = ast.parse(Path(text.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}  # fmt: skip
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = {"numpy", "grader.errors", "__future__"}
    assert {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names} <= allowed
