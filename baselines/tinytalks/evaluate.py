"""Measure the tinytalks baseline (or any model with ``forward``, ``reset`` and ``step``).

    python baselines/tinytalks/evaluate.py                 # the committed weights, test split
    python baselines/tinytalks/evaluate.py --split val --show 5

Prints, for the split's pairs, with the definitions of grader/data/textmetrics.py (their one
owner; docs/DESIGN.md, Data):

- perplexity on the answers, teacher-forced: the model reads ``Q: <question>\\nA:`` and then
  the true answer; every character after ``A:`` through the newline that ends the answer
  (the leading space included) is scored; exp of the mean negative log-likelihood over all
  those characters of the split (one ``forward`` over the padded batch);
- next-character accuracy on the same characters (the arg-max is the true one);
- greedy answers (``textmetrics.Greedy``): the prompt fed one token per ``step``, then the
  highest-scoring character each step until a newline or ``ANSWER_CAP`` characters; exact
  match and character F1, each averaged over pairs.

This is the baseline's own record (README.md in this folder); a grade measures it itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.config import project_root
from grader.data import text, textmetrics
from grader.data.textmetrics import ANSWER_CAP

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scores:
    """Teacher-forced answer scores, per pair."""

    nll: np.ndarray  # summed negative log-likelihood (nats) of each pair's answer characters
    chars: np.ndarray  # answer characters scored per pair
    correct: np.ndarray  # of those, how many the arg-max predicted

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.nll.sum() / self.chars.sum()))

    @property
    def accuracy(self) -> float:
        return float(self.correct.sum() / self.chars.sum())

    def summary(self) -> dict[str, float]:
        return {"perplexity": round(self.perplexity, 4), "next_char_accuracy": self.accuracy}


def answer_scores(model, pairs: list[text.Pair]) -> Scores:
    """One ``forward`` over every pair at once, padded at the end (causal: no earlier position
    sees the padding); the scores of the characters after each prompt."""
    spans = [textmetrics.record_span(p) for p in pairs]
    ids = np.zeros((len(spans), max(len(r) for r, _, _ in spans) - 1), dtype=np.int64)
    for row, (r, _, _) in enumerate(spans):
        ids[row, : len(r) - 1] = r[:-1]
    logp = textmetrics.log_softmax(model.forward(ids))
    rows = [textmetrics.answer_nll(logp[row], *span) for row, span in enumerate(spans)]
    nll, chars, correct = (np.array(column) for column in zip(*rows, strict=True))
    return Scores(nll, chars, correct)


def greedy_answers(model, questions: list[str], cap: int = ANSWER_CAP) -> list[str]:
    """Each question's greedy answer, all sequences stepped together (textmetrics.Greedy)."""
    decoder = textmetrics.Greedy.for_questions(questions, cap)
    model.reset(len(questions))
    scores = None
    while True:
        tokens = decoder.next_tokens(scores)
        if decoder.done:
            return decoder.answers()
        out = model.step(tokens)
        scores = np.asarray(getattr(out, "data", out))


def load_model(folder: Path = HERE):
    """``build_model()`` of the folder's model.py, run in the folder as a grade runs it."""
    spec = importlib.util.spec_from_file_location("tinytalks_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return module.build_model()
    finally:
        os.chdir(cwd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=sorted(text.SPLITS))
    parser.add_argument("--show", type=int, default=0, help="print this many answers")
    args = parser.parse_args(argv)
    pairs = text.load_split(project_root() / "data" / "tinytalks", args.split)
    model = load_model()
    started = time.perf_counter()
    report: dict[str, float | str] = {"split": args.split, **answer_scores(model, pairs).summary()}
    answers = greedy_answers(model, [p.question for p in pairs])
    report |= textmetrics.answer_quality(answers, [p.answer for p in pairs])
    report["seconds"] = round(time.perf_counter() - started, 2)
    for pair, answer in list(zip(pairs, answers, strict=True))[: args.show]:
        print(f"Q: {pair.question}\n   reference: {pair.answer}\n   greedy:    {answer}")
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
