"""grader.data.probes: the composed questions follow the data's wording, their answers are
computed right, none is public text, and a seed gives the same probes every time."""

from __future__ import annotations

import hashlib
import itertools
import re

import pytest

from grader.config import project_root
from grader.data import probes, text
from grader.errors import DataError

FOLDER = project_root() / "data" / "tinytalks"
# The probes of every released version, by version: the sha256 of seed 0's first 200.
# Changing a template, the range or the draw without a new PROBE_VERSION (and a line here)
# fails below.
RELEASED = {1: "b687f19f016c945530a431aeccb2b04dd73cfee6e3ceacfa4c237dbe1c8dc134"}

ARITHMETIC = re.compile(r"What is (\d+) (plus|minus|times|divided by) (\d+)\?")
COMPARE = re.compile(r"Which is (less|smaller|larger|bigger), (\d+) or (\d+)\?")
GREATER = re.compile(r"Is (\d+) greater than (\d+)\?")
ORDER = re.compile(r"What (?:day |season )?comes (after|before) (\w+)\?")


@pytest.fixture(scope="module")
def public() -> list[text.Pair]:
    return probes.public_pairs(FOLDER)


def expected_answer(question: str) -> str:
    """The answer worked out from the question alone, independently of the module."""
    if m := ARITHMETIC.fullmatch(question):
        a, op, b = int(m[1]), m[2], int(m[3])
        result = {"plus": a + b, "minus": a - b, "times": a * b, "divided by": a // b}[op]
        assert result >= 0 and (op != "divided by" or a % b == 0), question
        return f"{a} {op} {b} equals {result}."
    if m := COMPARE.fullmatch(question):
        word, a, b = m[1], int(m[2]), int(m[3])
        chosen = min(a, b) if word in ("less", "smaller") else max(a, b)
        return f"{chosen} is {word} than {a + b - chosen}."
    if m := GREATER.fullmatch(question):
        assert int(m[1]) > int(m[2]), question
        return f"Yes, {m[1]} is greater than {m[2]}."
    if m := ORDER.fullmatch(question):
        cycle = probes.DAYS if m[2] in probes.DAYS else probes.SEASONS
        at = cycle.index(m[2]) + (1 if m[1] == "after" else -1)
        other = cycle[at % len(cycle)]
        return f"{other[0].upper()}{other[1:]} comes {m[1]} {m[2]}."
    raise AssertionError(f"no template composes {question!r}")


def test_the_templates_give_the_datas_own_answer_to_every_data_question_they_compose(
    public,
) -> None:
    composed = {p.question: p.answer for pairs in probes.candidates().values() for p in pairs}
    matched = [p for p in public if p.question in composed]
    assert len(matched) == 50  # of the 301 pairs; the test split holds 7 of them
    assert [composed[p.question] for p in matched] == [p.answer for p in matched]
    assert all(expected_answer(p.question) == p.answer for p in matched)


def test_every_probe_has_the_answer_its_question_asks_for() -> None:
    every = [p for pairs in probes.pool(FOLDER).values() for p in pairs]
    assert len(every) == 1_084
    assert [p.answer for p in every] == [expected_answer(p.question) for p in every]


def test_the_numbers_stay_in_the_stated_range() -> None:
    for kind, pairs in probes.candidates().items():
        for pair in pairs:
            numbers = [int(n) for n in re.findall(r"\d+", pair.question)]
            if kind == "divided":
                numbers = numbers[1:]  # the dividend is the divisor times the quotient
            assert all(probes.LOW <= n <= probes.HIGH for n in numbers), pair


def test_every_probe_is_in_the_vocabulary_and_reads_as_a_record() -> None:
    for pair in itertools.chain.from_iterable(probes.candidates().values()):
        ids = text.encode(text.record(pair), strict=True)  # raises on a character outside
        assert text.decode(ids) == f"Q: {pair.question}\nA: {pair.answer}\n"


def test_no_probe_question_or_answer_is_public_text(public) -> None:
    questions, answers = {p.question for p in public}, {p.answer for p in public}
    available = sum(len(p) for p in probes.pool(FOLDER).values())
    for seed in (0, 1, 12345):
        drawn = probes.compose(seed, available, FOLDER)
        assert len(set(drawn)) == available
        assert not {p.question for p in drawn} & questions
        assert not {p.answer for p in drawn} & answers
    candidates = [p for pairs in probes.candidates().values() for p in pairs]
    assert sum(p.question in questions for p in candidates) == 50  # there were some to drop
    assert sum(p.answer in answers and p.question not in questions for p in candidates) == 6


def test_the_same_seed_gives_the_same_probes_and_another_seed_others() -> None:
    first = probes.compose(7, 40, FOLDER)
    assert probes.compose(7, 40, FOLDER) == first
    assert len(set(first)) == 40
    sets = [frozenset(probes.compose(seed, 40, FOLDER)) for seed in range(10)]
    assert len(set(sets)) == 10
    assert probes.compose(7, 10, FOLDER) == first[:10]  # a longer draw extends a shorter one


def test_every_kind_is_drawn() -> None:
    kinds = {kind: {p.question for p in pairs} for kind, pairs in probes.candidates().items()}
    drawn = probes.compose(3, 60, FOLDER)
    counts = {kind: sum(p.question in kinds[kind] for p in drawn) for kind in probes.KINDS}
    assert all(n >= 4 for n in counts.values()), counts  # 10 each on average


def test_the_probes_change_only_with_their_version() -> None:
    digest = hashlib.sha256(repr(probes.compose(0, 200, FOLDER)).encode()).hexdigest()
    assert probes.PROBE_VERSION in RELEASED, (
        f"probes v{probes.PROBE_VERSION} are not recorded here: add them with sha256 {digest}"
    )
    assert RELEASED[probes.PROBE_VERSION] == digest, (
        f"the probes of v{probes.PROBE_VERSION} changed (sha256 {digest}): changed probes "
        "change every grade's questions, so they take a new PROBE_VERSION"
    )
    assert max(RELEASED) == probes.PROBE_VERSION


@pytest.mark.parametrize(
    ("seed", "count", "message"),
    [
        pytest.param(-1, 5, "seed must be an integer >= 0; found -1", id="negative-seed"),
        pytest.param(True, 5, "seed must be an integer >= 0; found True", id="bool-seed"),
        pytest.param(0, 2.0, "count must be an integer >= 0; found 2.0", id="float-count"),
        pytest.param(0, 1_085, "1085 probes asked for; version 1 composes 1084", id="too-many"),
    ],
)
def test_compose_refuses_what_it_cannot_give(seed, count, message) -> None:
    with pytest.raises(ValueError, match=message):
        probes.compose(seed, count, FOLDER)


def test_compose_of_nothing_and_of_a_folder_without_the_data(tmp_path) -> None:
    assert probes.compose(0, 0, FOLDER) == []
    with pytest.raises(DataError, match="cannot read the TinyTalks file"):
        probes.compose(0, 5, tmp_path)


def test_the_default_folder_is_the_checkouts_data() -> None:
    assert FOLDER.resolve() == probes.DATA


def test_the_filler_is_the_public_words_in_an_order_no_table_holds():
    from grader.config import project_root
    from grader.data import text

    public = text.load_split(project_root() / "data" / "tinytalks", "train")
    filler = probes.scrambled(public, 3)
    assert len(filler) == len(public)
    records = {text.record(p) for p in public}
    assert sum(text.record(p) in records for p in filler) <= 2  # a one-word pair may survive
    words = sorted(w for p in public for w in (p.question + " " + p.answer).split())
    assert sorted(w for p in filler for w in (p.question + " " + p.answer).split()) == words
    assert probes.scrambled(public, 3) == filler and probes.scrambled(public, 4) != filler
    for p in filler:
        text.encode(text.record(p), strict=True)
