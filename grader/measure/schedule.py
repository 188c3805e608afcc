"""Which digits each timed round of a session shows, and which of them its processes meet
for the first time.

Every session starts two new processes, which have met no held-out digit (the warm-up and
the probes use decoys). A session's timed stream is built from three parts:

* the *main* digits, each shown once, in the first rounds: in the first session every
  digit but the reserve (the *first pass*: the answers every later one is compared with);
  in later ones a small random part of the pool;
* *repeats*: every later round, a random draw of the digits of the pool shown so far, with
  fresh noise;
* the *reserve*: a few rounds of digits kept back, each met for the first time at a
  random round anywhere after the main digits, up to the session's last.

A model that keeps its answers and looks repeated digits up is fast on repeats and slow on
the reserve; an honest one is as fast on both. As the reserve rounds sit at random places
among all the rounds after the main digits, the two kinds are exchangeable there for an
honest model, whatever its speed does over time (a model that tunes itself over its first
thousand calls, say), and a model that counts its calls learns nothing of where they are:
every round it answers from a cache is compared. The rank test in
``caching.compare`` draws the places again as they were drawn. A model that instead
guesses at digits it has not met and keeps the guess is caught by the agreement of those
first answers with the first pass's (``first_sight_agreement``). Every presentation,
the first pass's included, carries fresh noise, and the answer that accuracy counts is
drawn at random among all of a digit's presentations (``answers.ScoredDraw``): no pass
can be told for the scored one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FRESH, REPEAT, OTHER = "fresh", "repeat", "other"  # a round's role in the caching check
MAIN_DIGITS = 100  # at least this many main digits in a later session (a block, if more)


@dataclass(frozen=True)
class Round:
    idx: np.ndarray  # the images shown, in order
    new: np.ndarray  # per sample: met for the first time by this session's processes
    first_pass: np.ndarray  # per sample: a first sighting in session 0 (the reference)
    role: str  # FRESH (a reserve round), REPEAT (all repeats), OTHER (main digits)


@dataclass
class Schedule:
    """One session's timed stream; ``next_round`` gives its rounds in order."""

    rng: np.random.Generator
    n: int
    main: np.ndarray
    pool: np.ndarray  # the digits that may be shown again
    reserve: np.ndarray
    reserve_at: frozenset[int]
    least: int  # rounds the session runs before it may stop (every main digit shown)
    cap: int  # rounds it runs at most; the reserve is placed anywhere in between
    first_session: bool  # the first session: its first sightings are the first pass
    first_rounds: int  # rounds that show main digits (the last may end with repeats)
    rounds: int = 0
    _shown_main: int = 0
    _shown_reserve: int = 0
    _seen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def _see(self, idx: np.ndarray) -> None:
        """Digits of the pool shown for the first time join those that may be repeated."""
        shown = idx[np.isin(idx, self.pool)]
        if len(shown):
            self._seen = np.concatenate([self._seen, shown])

    def unshown_reserve(self) -> list[Round]:
        """The reserve rounds not yet shown, as rounds of their own: the first session,
        stopped early, must still show every digit once (its first answer is the reference).
        Shown after the stop, they are not among the rounds the caching check compares."""
        left = []
        while self._shown_reserve < len(self.reserve):
            idx = self.reserve[self._shown_reserve : self._shown_reserve + self.n]
            self._shown_reserve += self.n
            new = np.ones(len(idx), dtype=bool)
            left.append(Round(idx, new, new & self.first_session, OTHER))
        return left

    def next_round(self) -> Round:
        r, n = self.rounds, self.n
        self.rounds += 1
        if r in self.reserve_at and self._shown_reserve < len(self.reserve):
            idx = self.reserve[self._shown_reserve : self._shown_reserve + n]
            self._shown_reserve += n
            self._see(idx)
            new = np.ones(n, dtype=bool)
            return Round(idx, new, new & self.first_session, FRESH)
        take = min(n, len(self.main) - self._shown_main)
        first = self.main[self._shown_main : self._shown_main + take]
        self._shown_main += take
        self._see(first)
        # Repeats: a random draw from every digit of the pool shown so far, so that what a
        # round holds varies as much as a reserve round's does (a model whose speed depends
        # on the digit is then as fast on both, on average).
        seen = self._seen
        again = self.rng.choice(seen, n - take, replace=len(seen) < n - take)
        idx = np.concatenate([first, again])
        new = np.arange(n) < take
        role = REPEAT if not take else OTHER
        return Round(idx, new, new & self.first_session, role)


def max_block(pool: int, reserve_rounds: int) -> int:
    """The largest block for which the pool holds the reserve and two blocks of digits to
    repeat: a larger block would leave no digit new to a session's processes after its
    first rounds (it did for models fast enough for blocks of 1,000, which the check then
    skipped), or repeat one fixed set of digits round after round."""
    return max(1, pool // (reserve_rounds + 2))


@dataclass(frozen=True)
class Rounds:
    """How many rounds a session runs and keeps back: the plan's numbers that this module
    reads (``Plan.reserve_rounds``, ``window_rounds``, ``min_rounds``, ``max_rounds``)."""

    reserve_rounds: int
    window_rounds: int
    min_rounds: int
    max_rounds: int

    @classmethod
    def of(cls, plan: object) -> Rounds:
        """The numbers of a plan (any object with these attributes: this module sits below
        ``plan.py`` in the layers and cannot name it)."""
        return cls(*(int(getattr(plan, name)) for name in cls.__dataclass_fields__))


def session(
    rng: np.random.Generator,
    k: int,
    total: int,
    pool: np.ndarray,
    n: int,
    rounds: Rounds,
    target: int | None = None,
) -> Schedule:
    """Session ``k``'s stream over ``total`` images, of which the ``pool`` may be repeated
    (all of them, or only the private ones in the final phase), in blocks of ``n``, with
    ``rounds`` the plan's numbers of rounds.

    The session runs at least ``least`` rounds and at most ``cap``: ``target`` (the first
    session's count) for the later ones. The reserve rounds are placed at random anywhere
    after the main digits up to ``cap``, so that no round is known to be safe to answer
    from a cache (a model can count its calls: were the reserve confined to a window that
    ended early, counting would tell it where the rest of the session goes unchecked, and a
    cache there gains 4.7-8x)."""
    # How many reserve rounds: drawn, from half to all of ``reserve_rounds`` (as many as
    # fit), so that a model that has met some cannot tell whether more will come.
    reserve_rounds, window_rounds = rounds.reserve_rounds, rounds.window_rounds
    min_rounds, max_rounds = rounds.min_rounds, rounds.max_rounds
    fit = min(reserve_rounds, max(0, (len(pool) - 1) // n))
    f = int(rng.integers(max(1, fit // 2), fit + 1)) if fit else 0
    if k == 0:
        order = rng.permutation(total)
        reserve = rng.permutation(pool)[: f * n]
        main = order[~np.isin(order, reserve)]
    else:
        order = rng.permutation(pool)
        reserve = order[: f * n]
        size = min(len(pool) - f * n, max(2 * n, MAIN_DIGITS))
        main = order[f * n : f * n + size]
    first_rounds = -(-len(main) // n)
    least = max(min_rounds, first_rounds + window_rounds)
    least += least % 2  # rounds come in A B / B A pairs
    cap = target if target is not None else max(max_rounds, least)
    cap = max(cap, first_rounds + f)
    least = min(least, cap)
    chosen = rng.choice(np.arange(first_rounds, cap), f, replace=False) if f else []
    return Schedule(
        rng, n, main, np.asarray(pool), reserve, frozenset(int(r) for r in chosen), least, cap,
        first_session=k == 0, first_rounds=first_rounds,
    )  # fmt: skip
