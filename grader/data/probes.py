"""Probe questions: TinyTalks questions the parent composes at grade time from the grade's
seed, with answers it computes, so that memorising the public test text gains nothing on
them (docs/DESIGN.md, Data).

Every TinyTalks split is public, so a submission could carry the test split's answers and
replay them. The questions below follow the data's own templates, worded exactly as the
three splits word them, and their answers are computed, never looked up:

==========  ==========================================  ===================================
kind        question                                    answer
==========  ==========================================  ===================================
plus        ``What is 6 plus 3?``                       ``6 plus 3 equals 9.``
minus       ``What is 9 minus 5?``                      ``9 minus 5 equals 4.``
times       ``What is 5 times 2?``                      ``5 times 2 equals 10.``
divided     ``What is 15 divided by 3?``                ``15 divided by 3 equals 5.``
compare     ``Which is less, 4 or 6?`` (also smaller,   ``4 is less than 6.`` (the number
            larger, bigger); ``Is 9 greater than 7?``   the word picks first); ``Yes, 9
                                                        is greater than 7.``
order       ``What comes after Monday?``, ``What day    ``Tuesday comes after Monday.``;
            comes before Sunday?``, ``What season       ``Spring comes after winter.``
            comes after winter?``
==========  ==========================================  ===================================

Numbers run from :data:`LOW` to :data:`HIGH` (1 to 12): the data's own operands run 1 to 10
(plus 1-9, minus 2-10, times 2-7, comparisons 2-10; its dividends reach 15), and 11 and 12
go a little beyond, so that a model that learned the arithmetic keeps its score where one
that learned the pairs does not, while every answer stays within three digits. A minus
never goes negative (the first operand is at least the second); a division is exact (the
divisor and the quotient are in the range, the dividend is their product, as the data's
``15 divided by 3`` is). ``Is a greater than b?`` is asked only where the answer is yes:
the data answers no such question with a no, so its wording is unknown. The week runs
Monday to Sunday and round again, the seasons spring, summer, fall, winter (the data's
names). A question that appears verbatim in any of the three splits is excluded, and so is
one whose answer does (``What comes before Sunday?``: the data asks ``What day comes before
Sunday?``), so that no probe's question or answer is public text.

:func:`compose` draws from ``np.random.default_rng([seed, PROBE_STREAM])``: each probe's
kind uniformly among the kinds not yet used up, then a question of that kind not drawn
before (each kind's questions in an order shuffled once per seed). The same seed gives the
same probes (with the same NumPy, which the result records). Changing a template, the range
or the draw changes every grade's probes and takes a new :data:`PROBE_VERSION`.

Imports NumPy and grader.data.text only.
"""

from __future__ import annotations

import itertools
from numbers import Integral
from pathlib import Path

import numpy as np

from grader.data import text

PROBE_VERSION = 1
PROBE_STREAM = 0x7A1C  # the probes' random stream, apart from the referee's and the deformations'
LOW, HIGH = 1, 12  # the numbers a probe shows (module doc)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SEASONS = ("spring", "summer", "fall", "winter")
KINDS = ("plus", "minus", "times", "divided", "compare", "order")
# The TinyTalks folder of this checkout, whose splits grader/data/text.py's checksums name.
DATA = Path(__file__).resolve().parents[2] / "data" / "tinytalks"


def _numbers() -> range:
    return range(LOW, HIGH + 1)


def _arithmetic(kind: str) -> list[text.Pair]:
    pairs = []
    for a, b in itertools.product(_numbers(), repeat=2):
        if kind == "divided":  # exact: b the divisor, a the quotient
            x, word, y, result = a * b, "divided by", b, a
        elif kind == "minus" and a < b:  # never negative
            continue
        else:
            x, word, y = a, kind, b
            result = {"plus": a + b, "minus": a - b, "times": a * b}[kind]
        pairs.append(text.Pair(f"What is {x} {word} {y}?", f"{x} {word} {y} equals {result}."))
    return pairs


def _compare() -> list[text.Pair]:
    pairs = []
    for word, pick in (("less", min), ("smaller", min), ("larger", max), ("bigger", max)):
        for a in _numbers():
            for b in _numbers():
                if a != b:
                    chosen, other = pick(a, b), a + b - pick(a, b)
                    pairs.append(
                        text.Pair(
                            f"Which is {word}, {a} or {b}?", f"{chosen} is {word} than {other}."
                        )
                    )
    for a in _numbers():
        for b in range(LOW, a):
            pairs.append(text.Pair(f"Is {a} greater than {b}?", f"Yes, {a} is greater than {b}."))
    return pairs


def _order() -> list[text.Pair]:
    pairs = []
    for names, leads in (
        (DAYS, ("What comes", "What day comes")),
        (SEASONS, ("What season comes",)),
    ):
        for i, name in enumerate(names):
            for direction, step in (("after", 1), ("before", -1)):
                other = names[(i + step) % len(names)]
                for lead in leads:
                    answer = f"{other[0].upper()}{other[1:]} comes {direction} {name}."
                    pairs.append(text.Pair(f"{lead} {direction} {name}?", answer))
    return pairs


def candidates() -> dict[str, list[text.Pair]]:
    """Every question each kind composes, in a fixed order, public ones included."""
    made = {kind: _arithmetic(kind) for kind in KINDS[:4]}
    return made | {"compare": _compare(), "order": _order()}


def public_pairs(folder: Path = DATA) -> list[text.Pair]:
    """The pairs of the three TinyTalks splits (read and checked by sha256)."""
    return [p for name in text.SPLITS for p in text.load_split(folder, name)]


def pool(folder: Path = DATA) -> dict[str, list[text.Pair]]:
    """What :func:`compose` draws from: each kind's candidates but those whose question or
    answer appears verbatim in a split of ``folder``."""
    public = public_pairs(folder)
    questions, answers = {p.question for p in public}, {p.answer for p in public}
    return {
        kind: [p for p in pairs if p.question not in questions and p.answer not in answers]
        for kind, pairs in candidates().items()
    }


def compose(seed: int, count: int, folder: Path = DATA) -> list[text.Pair]:
    """``count`` distinct probes of the grade's ``seed`` (module doc), none of whose
    questions or answers is in a split of ``folder``."""
    for name, value in (("seed", seed), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; found {value!r}")
    pools = pool(folder)
    available = sum(len(p) for p in pools.values())
    if count > available:
        raise ValueError(f"{count} probes asked for; version {PROBE_VERSION} composes {available}")
    rng = np.random.default_rng([int(seed), PROBE_STREAM])
    orders = {kind: rng.permutation(len(pools[kind])) for kind in KINDS}
    taken = dict.fromkeys(KINDS, 0)
    probes = []
    while len(probes) < count:
        live = [kind for kind in KINDS if taken[kind] < len(pools[kind])]
        kind = live[int(rng.integers(len(live)))]
        probes.append(pools[kind][orders[kind][taken[kind]]])
        taken[kind] += 1
    return probes


FILLER_STREAM = 0xF111  # the filler's random stream, apart from the probes'


def scrambled(pairs: list[text.Pair], seed: int) -> list[text.Pair]:
    """Records no one can have learnt, for the steps of a walk past its first record
    (docs/DESIGN.md, Generation): each question's words in an order drawn from the seed, and
    each paired with another record's answer, its words drawn into an order too. Words and
    characters stay TinyTalks', so a model that reads English reads them as it reads any
    text; a table of the public records, or a trie over them, finds nothing past a word."""
    rng = np.random.default_rng([seed, FILLER_STREAM])
    answers = [pairs[i].answer for i in rng.permutation(len(pairs))]
    out = []
    for pair, answer in zip(pairs, answers, strict=True):
        q, a = pair.question.split(), answer.split()
        out.append(
            text.Pair(
                " ".join(q[i] for i in rng.permutation(len(q))),
                " ".join(a[i] for i in rng.permutation(len(a))),
            )
        )
    return out
