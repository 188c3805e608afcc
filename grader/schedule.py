"""Which digits each timed round of a session shows, and which of them its processes meet
for the first time.

Every session starts two new processes, which have met no held-out digit (the warm-up and
the probes use decoys). A session's timed stream is built from three parts:

* the *main* digits, each shown once, in the first rounds: in the first session every
  digit but the reserve, clean (the accuracy comes from these answers); in later ones a
  small random part of the pool, with noise;
* *repeats*: the main digits of the pool shown again, with fresh noise, round after round;
* the *reserve*: a few rounds of digits kept back, each met for the first time at a
  random round among the repeats (the *window*).

A model that keeps its answers and looks repeated digits up is fast on repeats and slow on
the reserve; an honest one is as fast on both. As the reserve rounds sit at random places
in the window, the two kinds are exchangeable there for an honest model, whatever its
speed does over time (a model that tunes itself over its first thousand calls, say): the
rank test in ``Referee.check_caching`` compares them within the window only. A model that
instead guesses at digits it has not met and keeps the guess is caught by the agreement of
those first answers with the clean ones (``first_sight_agreement``).
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
    clean: np.ndarray  # per sample: shown without noise (first sightings of session 0)
    role: str  # FRESH (a reserve round), REPEAT (a repeat round in the window), OTHER


@dataclass
class Schedule:
    """One session's timed stream; ``next_round`` gives its rounds in order."""

    rng: np.random.Generator
    n: int
    main: np.ndarray
    repeat_set: np.ndarray
    reserve: np.ndarray
    reserve_at: frozenset[int]
    window: range
    clean_first: bool  # the first session: first sightings are clean
    rounds: int = 0
    _stream: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _position: int = 0
    _shown_main: int = 0
    _shown_reserve: int = 0

    @property
    def least(self) -> int:
        """Rounds the session must run for every part of the stream to have been shown."""
        return self.window.stop

    def next_round(self) -> Round:
        r, n = self.rounds, self.n
        self.rounds += 1
        if r in self.reserve_at:
            idx = self.reserve[self._shown_reserve : self._shown_reserve + n]
            self._shown_reserve += n
            new = np.ones(n, dtype=bool)
            return Round(idx, new, new & self.clean_first, FRESH)
        while len(self._stream) - self._position < n:
            self._stream = np.concatenate(
                [self._stream[self._position :], self.rng.permutation(self.repeat_set)]
            )
            self._position = 0
        main_left = len(self.main) - self._shown_main
        take = min(n, main_left)
        idx = np.concatenate(
            [self.main[self._shown_main : self._shown_main + take], self._stream[: n - take]]
        )
        if take:
            self._shown_main += take
        if n - take:
            self._stream = self._stream[n - take :]
        new = np.arange(n) < take
        role = REPEAT if not take and r in self.window else OTHER
        return Round(idx, new, new & self.clean_first, role)


def max_block(pool: int, reserve_rounds: int) -> int:
    """The largest block for which the pool holds the reserve and a block of repeats: a
    larger block would leave no digit new to a session's processes after its first rounds
    (it did for models fast enough for blocks of 1,000, which the check then skipped)."""
    return max(1, pool // (reserve_rounds + 1))


def session(
    rng: np.random.Generator,
    k: int,
    total: int,
    pool: np.ndarray,
    n: int,
    reserve_rounds: int,
    window_rounds: int,
    min_rounds: int,
    cap: int | None = None,
) -> Schedule:
    """Session ``k``'s stream over ``total`` images, of which the ``pool`` may be repeated
    (all of them, or only the private ones in the final phase), in blocks of ``n``.
    ``cap`` bounds the rounds the session will run (the first session's count)."""
    f = min(reserve_rounds, max(0, (len(pool) - 1) // n))  # reserve rounds that fit
    if k == 0:
        order = rng.permutation(total)
        reserve = rng.permutation(pool)[: f * n]
        main = order[~np.isin(order, reserve)]
        repeat_set = main[np.isin(main, pool)]
    else:
        order = rng.permutation(pool)
        reserve = order[: f * n]
        size = min(len(pool) - f * n, max(2 * n, MAIN_DIGITS))
        main = repeat_set = order[f * n : f * n + size]
    first_rounds = -(-len(main) // n)
    least = max(min_rounds, first_rounds + window_rounds)
    least += least % 2  # rounds come in A B / B A pairs
    if cap is not None:
        least = max(min(least, cap), first_rounds + f)
    window = range(first_rounds, least)
    reserve_at = (
        frozenset(int(r) for r in rng.choice(window, f, replace=False)) if f else frozenset()
    )
    return Schedule(rng, n, main, repeat_set, reserve, reserve_at, window, clean_first=k == 0)
