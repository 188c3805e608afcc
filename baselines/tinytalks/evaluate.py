"""Measure the tinytalks baseline (or any model with ``forward``, ``reset`` and ``step``).

    python baselines/tinytalks/evaluate.py                 # the committed weights, test split
    python baselines/tinytalks/evaluate.py --split val --show 5

Prints, for the split's pairs:

- perplexity on the answers, teacher-forced: the model reads ``Q: <question>\\nA:`` and then
  the true answer; every character after ``A:`` through the newline that ends the answer
  (the leading space included) is scored; exp of the mean negative log-likelihood over all
  those characters of the split (one ``forward`` over the padded batch);
- next-character accuracy on the same characters (the arg-max is the true one);
- greedy answers: the prompt fed one token per ``step``, then the highest-scoring character
  each step until a newline or ``ANSWER_CAP`` characters; exact match (the answer, stripped
  of surrounding spaces, equals the reference) and character F1 (the F1 of the multiset of
  characters shared by answer and reference), each averaged over pairs.

This is the baseline's own record (README.md in this folder); a grade measures it itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.config import project_root
from grader.data import text

HERE = Path(__file__).resolve().parent
ANSWER_CAP = 64  # characters generated at most after "A:"; the longest answer has 60
NEWLINE = int(text.encode("\n")[0])


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
    prompts = [len(text.prompt(p.question)) for p in pairs]
    records = [text.encode(text.record(p), strict=True) for p in pairs]
    ids = np.zeros((len(records), max(len(r) for r in records) - 1), dtype=np.int64)
    for row, r in enumerate(records):
        ids[row, : len(r) - 1] = r[:-1]
    logits = np.asarray(model.forward(ids), dtype=np.float64)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    nll, chars, correct = [], [], []
    for row, (r, start) in enumerate(zip(records, prompts, strict=True)):
        at = np.arange(start - 1, len(r) - 1)  # the positions that predict the answer
        nll.append(-logp[row, at, r[at + 1]].sum())
        chars.append(len(at))
        correct.append(int((logp[row, at].argmax(axis=-1) == r[at + 1]).sum()))
    return Scores(np.array(nll), np.array(chars), np.array(correct))


def greedy_answers(model, questions: list[str], cap: int = ANSWER_CAP) -> list[str]:
    """Each question's greedy answer, all sequences stepped together: a sequence still in its
    prompt is fed the prompt's next character, the others their own last choice."""
    prompts = [text.encode(text.prompt(q), strict=True) for q in questions]
    answers: list[list[int]] = [[] for _ in questions]
    done = [False] * len(questions)
    model.reset(len(questions))
    logits = None
    for t in range(max(len(p) for p in prompts) + cap + 1):
        tokens = np.zeros(len(questions), dtype=np.int64)
        for b, p in enumerate(prompts):
            if t < len(p):
                tokens[b] = p[t]
                continue
            tokens[b] = choice = int(np.argmax(logits[b]))
            if not done[b]:
                done[b] = choice == NEWLINE or len(answers[b]) == cap
                answers[b] += [] if done[b] else [choice]
        if all(done):
            break
        out = model.step(tokens)
        logits = np.asarray(getattr(out, "data", out))
    return [text.decode(a).strip() for a in answers]


def char_f1(answer: str, reference: str) -> float:
    """F1 of the characters two strings share, counted as multisets."""
    common = sum((Counter(answer) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(answer), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def answer_quality(answers: list[str], pairs: list[text.Pair]) -> dict[str, float]:
    """Exact match and character F1, averaged over pairs."""
    refs = [p.answer for p in pairs]
    return {
        "exact_match": float(np.mean([a == r for a, r in zip(answers, refs, strict=True)])),
        "char_f1": float(np.mean([char_f1(a, r) for a, r in zip(answers, refs, strict=True)])),
    }


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
    report |= answer_quality(answers, pairs)
    report["seconds"] = round(time.perf_counter() - started, 2)
    for pair, answer in list(zip(pairs, answers, strict=True))[: args.show]:
        print(f"Q: {pair.question}\n   reference: {pair.answer}\n   greedy:    {answer}")
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
