"""What a generation grade shows: its *walks*, the texts a model is stepped through one
token at a time, and which session shows each (docs/DESIGN.md, Generation).

A walk is ``length + 1`` characters of TinyTalks text. Its first record,
``Q: <question>\\nA: <answer>\\n``, is a *scored* record (a held-out test pair, or a
question the parent composed for this grade); the rest is *filler*: text drawn at grade time
from the baseline's own distribution (``sampler.Sampler``: no table holds it, and a model's
perplexity on it measures how far its predictions are from the baseline's), or, in the
sealed walks, records of public words in an order drawn for the grade
(``probes.scrambled``). The model is fed the first ``length`` characters and every one of
its ``length`` answers predicts the character that follows (teacher forcing). The first
record starts at position 0, as every record does in
training, so its answer's perplexity is the one ``baselines/tinytalks/evaluate.py`` records.

Three properties make a walk's answers real (docs/DESIGN.md, Generation):

- **no record twice in a process**: within a session (one pair of fresh processes) every
  record appears at most once, in one walk, so that an answer kept across ``reset`` is
  never the answer to a later question;
- **every scored record first**: each scored record opens exactly one walk on its first
  showing (its *first* walk), in the session drawn for it;
- **replays**: later sessions show again, verbatim and in fresh processes that have
  never seen them, walks that earlier sessions showed; their answers must agree with the
  first showing's.

A few walks in each session are *blind*: all filler, opened by no scored record, so that
no step of theirs is text a model can have tabled (the held-out pairs are public, and the
composed questions come from a published grammar). They are timed like the others; the
published speedup is held to what they support (docs/DESIGN.md, Generation: blind walks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from grader.data import text


@dataclass(frozen=True)
class Walk:
    """One walk: its tokens (``length + 1`` ids: the model is fed all but the last), the
    scored record that opens it, and the span of that record's answer characters."""

    index: int  # its place in the grade's list of first walks
    tokens: np.ndarray
    scored: int  # index of the scored record that opens it; BLIND for a blind walk
    span: tuple[int, int]  # [start, end): the first record's answer characters, newline included
    records: tuple[int, ...] = ()  # the pool's records it shows (the scored one first)
    replay: bool = False  # a showing after the first, in a later session's fresh processes

    @property
    def blind(self) -> bool:
        """Opened by filler: no scored record, nothing a table of public text holds."""
        return self.scored == BLIND


BLIND = -1  # Walk.scored of a blind walk: drawn text from its first letter, no record
Extend = Callable[[list[np.ndarray]], list[np.ndarray]]  # openings -> walks' tokens (``filled``)


def answer_span(pair: text.Pair) -> tuple[int, int]:
    """Where a record's scored characters lie in it: everything after ``A:`` through the
    newline that ends the answer, the leading space included."""
    start = len(text.prompt(pair.question))
    return start, len(text.record(pair))


def plan(
    scored: list[text.Pair],
    filler: list[text.Pair] | None,
    sessions: int,
    replays: int,
    length: int,
    rng: np.random.Generator,
    blind: int = 0,
) -> list[list[Walk]]:
    """The walks of each session, in the order it shows them.

    The scored records are dealt out to the sessions in a random order, each opening one
    walk there, and each session shows ``blind`` walks of filler only; every session after
    the first also shows again ``replays`` walks drawn from the earlier sessions' (blind
    ones among them). Each walk's filler is drawn, without replacement within the session,
    from the filler records the session shows nowhere else: never a scored one, whose
    answer it would show. With ``filler`` None, each walk holds its opening only (its
    scored record, nothing for a blind one), for :func:`filled` to continue."""
    if sessions < 1 or not scored:
        raise ValueError("a generation grade needs a session and a scored record")
    pool = list(scored) + list(filler or ())
    order = rng.permutation(len(scored))
    deals = np.array_split(order, sessions)
    first: list[Walk] = []
    out: list[list[Walk]] = []
    for k, deal in enumerate(deals):
        earlier = list(first)
        shown: list[Walk] = []
        taken = {int(i) for i in deal}
        for j in rng.permutation(len(earlier)) if k else ():
            if len(shown) == replays:
                break
            if taken.isdisjoint(earlier[j].records):  # two earlier walks may share a record
                shown.append(_again(earlier[j]))
                taken |= set(earlier[j].records)
        free = [len(scored) + int(i) for i in rng.permutation(len(filler or ()))]
        free = [i for i in free if i not in taken]
        for i in [int(i) for i in deal] + [BLIND] * blind:
            walk, free = _walk(len(first), i, scored, pool, free, length, filler is not None)
            first.append(walk)
            shown.append(walk)
        out.append([shown[i] for i in rng.permutation(len(shown))])
    return out


def _again(walk: Walk) -> Walk:
    return Walk(walk.index, walk.tokens, walk.scored, walk.span, walk.records, replay=True)


def _walk(
    index: int,
    i: int,
    scored: list[text.Pair],
    pool: list[text.Pair],
    free: list[int],
    length: int,
    fill: bool = True,
) -> tuple[Walk, list[int]]:
    """The walk opened by scored record ``i`` (by filler where ``i`` is BLIND), filled from
    ``free`` (what is left of it is returned)."""
    if i == BLIND:
        body, records, span = "", [], (0, 0)
    else:
        body, records, span = text.record(scored[i]), [i], answer_span(scored[i])
    while fill and len(body) < length + 1:
        if not free:
            raise ValueError("too few records to fill the walks without showing one twice")
        body += text.record(pool[free[0]])
        records.append(free[0])
        free = free[1:]
    tokens = text.encode(body[: length + 1])
    return Walk(index, tokens, i, span, tuple(records)), free


def filled(sessions: list[list[Walk]], extend: Extend) -> list[list[Walk]]:
    """The walks of :func:`plan` (planned without filler) continued by ``extend`` in one
    call: each first showing's opening (its scored record; nothing for a blind walk) to the
    walk's full length; a replay shows its first showing's tokens."""
    firsts = [w for session in sessions for w in session if not w.replay]
    tokens = {w.index: t for w, t in zip(firsts, extend([w.tokens for w in firsts]), strict=True)}
    return [[replace(w, tokens=tokens[w.index]) for w in session] for session in sessions]
