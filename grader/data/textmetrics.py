"""The language track's quality numbers, computed by the parent from the scores a model
returns: teacher-forced answer likelihood, greedy decoding, exact match and character F1
(docs/DESIGN.md, Data).

A model sees a TinyTalks record ``Q: <question>\\nA: <answer>\\n`` one character id at a time
and returns, after each, float scores over the 69 ids of vocabulary v1 (grader/data/text.py).
Everything here is the parent's arithmetic over those scores, so the numbers a grade reports
do not depend on any code of the submission:

- **Answer likelihood.** The scored characters of a record are everything after the prompt
  ``Q: <question>\\nA:``: the leading space, the answer and the newline that ends it
  (:func:`record_span`). Each is predicted by the scores returned after the character
  before it; :func:`answer_nll` sums their negative log-likelihood (nats, from
  :func:`log_softmax`), counts them and counts those the arg-max predicted. A split's
  perplexity is exp(sum of the pairs' NLL / sum of their counts), pooled over characters.
- **Greedy answers.** :class:`Greedy` decodes B sequences stepped together: the prompt fed
  one id per step, then the arg-max of each step's scores (ties: the lowest id, as
  ``np.argmax``) until the newline or :data:`ANSWER_CAP` characters.
- **Answer quality.** :func:`exact_match`: the answer, stripped of surrounding spaces,
  equals the reference. :func:`char_f1`: the F1 of the characters answer and reference
  share, counted as multisets (both empty: 1.0; one empty: 0.0). :func:`answer_quality`
  averages both over pairs.

baselines/tinytalks/evaluate.py uses these definitions for the baseline's own record.
Scores a decoder or the likelihood cannot use (the wrong shape, NaN or infinite) are the
model's ``bad_output`` (docs/DESIGN.md, Verdicts and exit codes): they raise
:class:`grader.errors.ChildFailure` with that code and no child's name, for the caller to
name; wrong arguments of the parent's own raise ValueError.

Imports NumPy, grader.data.text and grader.errors only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from grader.data import text
from grader.errors import ChildFailure, Verdict

ANSWER_CAP = 64  # characters generated at most after "A:"; the longest answer has 60
NEWLINE = int(text.encode("\n")[0])  # ends an answer


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Log-probabilities (float64) of scores over the last axis, shifted by each row's
    maximum before the exponential so that no score overflows. Scores must be finite."""
    z = np.asarray(scores, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"scores need a non-empty last axis; found shape {z.shape}")
    if not np.isfinite(z).all():
        bad = int((~np.isfinite(z)).sum())
        raise ChildFailure(Verdict.BAD_OUTPUT, f"{bad} of {z.size} scores are NaN or infinite")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def record_span(pair: text.Pair) -> tuple[np.ndarray, int, int]:
    """A record's ids (``text.record``, strict) and the span ``[start, end)`` of its scored
    characters: after the prompt, through the answer's newline (the leading space included)."""
    tokens = text.encode(text.record(pair), strict=True)
    return tokens, len(text.prompt(pair.question)), len(tokens)


def answer_nll(
    logp_rows: np.ndarray, tokens: np.ndarray, start: int, end: int
) -> tuple[float, int, int]:
    """(summed negative log-likelihood, count, arg-max-correct count) of ``tokens[start:end]``.

    ``logp_rows`` (T, vocab) are one sequence's log-probabilities: row t the scores returned
    after feeding ``tokens[t]``, so character i is predicted by row i - 1; rows past
    ``end - 2`` (padding) are not read.
    """
    logp = np.asarray(logp_rows)
    ids = np.asarray(tokens)
    if logp.ndim != 2 or logp.shape[1] != text.VOCAB_SIZE:
        raise ValueError(f"logp_rows must be (T, {text.VOCAB_SIZE}); found shape {logp.shape}")
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"tokens must be one-dimensional ids; found {ids.dtype} {ids.shape}")
    if not 1 <= start < end <= len(ids):
        raise ValueError(f"the span [{start}, {end}) must lie in [1, {len(ids)}] and not be empty")
    if len(logp) < end - 1:
        raise ValueError(f"{len(logp)} rows of scores; the span [{start}, {end}) needs {end - 1}")
    at = np.arange(start - 1, end - 1)  # the rows that predict the scored characters
    target = ids[at + 1]
    if target.min() < 0 or target.max() >= text.VOCAB_SIZE:
        raise ValueError(f"token ids must be in 0..{text.VOCAB_SIZE - 1}")
    nll = -logp[at, target].sum()
    correct = int((logp[at].argmax(axis=-1) == target).sum())
    return float(nll), len(at), correct


def _stripped(answer: str) -> str:
    return answer.strip(" ")


def exact_match(answer: str, reference: str) -> bool:
    """Whether the answer, stripped of surrounding spaces, equals the reference."""
    return _stripped(answer) == reference


def char_f1(answer: str, reference: str) -> float:
    """F1 of the characters the answer (stripped of surrounding spaces) and the reference
    share, counted as multisets: 2PR / (P + R) with P = shared / len(answer) and
    R = shared / len(reference). Both empty: 1.0 (they match); one empty: 0.0."""
    answer = _stripped(answer)
    if not answer and not reference:
        return 1.0
    common = sum((Counter(answer) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(answer), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def answer_quality(answers: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Exact match and character F1, each averaged over the pairs (answer, reference)."""
    if len(answers) != len(references) or not answers:
        raise ValueError(
            f"answers and references must pair up and not be empty; found {len(answers)} "
            f"answers and {len(references)} references"
        )
    pairs = list(zip(answers, references, strict=True))
    return {
        "exact_match": float(np.mean([exact_match(a, r) for a, r in pairs])),
        "char_f1": float(np.mean([char_f1(a, r) for a, r in pairs])),
    }


class Greedy:
    """The parent's greedy decoder for B sequences stepped together, one id per sequence
    per step::

        decoder = Greedy.for_questions(questions)
        model.reset(len(questions)); scores = None
        while True:
            tokens = decoder.next_tokens(scores)
            if decoder.done:
                break
            scores = model.step(tokens)
        decoder.answers()

    A sequence still in its prompt is fed the prompt's next id. One past its prompt is fed
    the arg-max of the scores it just returned (ties: the lowest id), which joins its answer
    unless it is the newline, which ends it; an answer of ``cap`` characters ends at the
    next choice. A finished sequence is fed the newline and its scores are not read. Every
    sequence is done within :attr:`max_steps` model steps.
    """

    def __init__(self, prompts: Sequence[np.ndarray], cap: int = ANSWER_CAP) -> None:
        self.prompts = [np.asarray(p, dtype=np.int64).reshape(-1) for p in prompts]
        if not self.prompts or min(len(p) for p in self.prompts) == 0:
            raise ValueError("the decoder needs at least one prompt, none of them empty")
        if cap < 0:
            raise ValueError(f"the answer cap must be >= 0; found {cap!r}")
        self.cap = int(cap)
        self.answer_ids: list[list[int]] = [[] for _ in self.prompts]
        self.finished = np.zeros(len(self.prompts), dtype=bool)
        self.t = 0  # ids fed so far to every sequence

    @classmethod
    def for_questions(cls, questions: Sequence[str], cap: int = ANSWER_CAP) -> Greedy:
        """A decoder of the prompts ``Q: <question>\\nA:`` (strict ids)."""
        return cls([text.encode(text.prompt(q), strict=True) for q in questions], cap)

    @property
    def done(self) -> bool:
        return bool(self.finished.all())

    @property
    def max_steps(self) -> int:
        """Model steps at most: the longest prompt, then ``cap`` answer characters."""
        return max(len(p) for p in self.prompts) + self.cap

    def next_tokens(self, scores: np.ndarray | None) -> np.ndarray:
        """The ids (int64, (B,)) to feed next, given the scores (B, vocab) the last step
        returned (None before the first step)."""
        rows = self._read(scores)
        tokens = np.full(len(self.prompts), NEWLINE, dtype=np.int64)
        for b, p in enumerate(self.prompts):
            if self.finished[b]:
                continue
            if self.t < len(p):
                tokens[b] = p[self.t]
                continue
            choice = int(np.argmax(rows[b]))
            if choice == NEWLINE or len(self.answer_ids[b]) == self.cap:
                self.finished[b] = True
            else:
                self.answer_ids[b].append(choice)
                tokens[b] = choice
        self.t += 1
        return tokens

    def _read(self, scores: np.ndarray | None) -> np.ndarray | None:
        """The scores, checked where they are read: the sequences past their prompt."""
        reading = ~self.finished & np.array([self.t >= len(p) for p in self.prompts])
        if scores is None:
            if reading.any():
                raise ValueError(f"step {self.t}: the decoder needs the scores of the last step")
            return None
        wanted = (len(self.prompts), text.VOCAB_SIZE)
        try:
            rows = np.asarray(scores)
        except (TypeError, ValueError) as exc:  # ragged or not numbers at all
            raise ChildFailure(Verdict.BAD_OUTPUT, f"step scores are not an array: {exc}") from None
        if rows.shape != wanted or rows.dtype.kind not in "fiu":
            found = f"{rows.dtype} {rows.shape}"
            raise ChildFailure(
                Verdict.BAD_OUTPUT, f"step scores must be {wanted} numbers; found {found}"
            )
        bad = reading & ~np.isfinite(rows).all(axis=1)
        if bad.any():
            raise ChildFailure(
                Verdict.BAD_OUTPUT,
                f"step {self.t}: NaN or infinite scores for sequence {int(np.argmax(bad))}",
            )
        return rows

    def answers(self) -> list[str]:
        """Each sequence's answer so far, decoded and stripped of surrounding whitespace."""
        return [text.decode(a).strip() for a in self.answer_ids]
