"""The walks' filler is drawn from the baseline (grader/data/sampler.py), so a model that is
cheap past a walk's first record pays for it in quality where it is timed.

The attack it closes (measured with scrambled public words as filler: a speedup of 33.9x,
qualified, its filler perplexity 1.02 the baseline's): the baseline's network for the first
record of each walk, whose answer the grade scores, and past the newline that ends that
answer a character bigram of the public records, a table lookup a step. Graded for real
here, quick, against the real baseline."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import gradetext
from grader.config import project_root
from grader.data import sampler, text, textmetrics
from grader.grade import grade
from grader.measure.plan import QUICK, QUICK_GENERATION

BASELINE = project_root() / "baselines" / "tinytalks"
DATA = project_root() / "data" / "tinytalks"

CHEAP = """
import numpy as np

import model as network

with np.load("bigram.npz", allow_pickle=False) as f:
    LOGP = f["logp"]


class CheapFiller:
    # The baseline for each sequence's first record; a bigram once its answer has ended.
    def __init__(self):
        self.net = network.build_model()

    def reset(self, batch):
        self.net.reset(batch)
        self.newlines = np.zeros(batch, dtype=int)

    def step(self, tokens):
        self.newlines += tokens == 0
        if (self.newlines >= 2).all():
            return LOGP[tokens]
        return self.net.step(tokens)


def build_model():
    return CheapFiller()
"""
YAML = """team: cheap-filler
members: [me]
workload: tinytalks
events: [generation_quality, inference_speed]
entrypoint: attack.py:build_model
techniques: []
description: The baseline on the scored record, a bigram past it.
"""


def public_ids() -> np.ndarray:
    pairs = text.load_split(DATA, "train") + text.load_split(DATA, "val")
    return text.encode("".join(text.record(p) for p in pairs))


def bigram(ids: np.ndarray, vocab: int = text.VOCAB_SIZE) -> np.ndarray:
    """Log-probabilities of the next character given this one, add-one smoothed."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return np.log(counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)


def perplexity(logp_of: np.ndarray, walks: np.ndarray) -> float:
    """A bigram's perplexity over ``walks`` (n, length + 1), every position after the first."""
    return float(np.exp(-logp_of[walks[:, :-1], walks[:, 1:]].mean()))


def test_a_bigram_is_far_from_the_baseline_on_its_drawn_text() -> None:
    """The measured reason: on text drawn from the baseline, the baseline's perplexity is its
    entropy, and a bigram's is much more (on scrambled public words it was less)."""
    s = sampler.Sampler.load(BASELINE / "weights.npz")
    walks = np.stack(s.extend([text.encode("Q")] * 24, 127, np.random.default_rng(4)))
    s.reset(len(walks))
    logp = np.stack([textmetrics.log_softmax(s.step(walks[:, t])) for t in range(127)], axis=1)
    own = float(np.exp(-np.take_along_axis(logp, walks[:, 1:, None], axis=2).mean()))
    cheap = perplexity(bigram(public_ids()), walks)
    assert own < 6 and cheap > 1.5 * own, (own, cheap)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_model_cheap_past_the_first_record_does_not_qualify(tmp_path: Path, rules) -> None:
    folder = tmp_path / "cheap-filler"
    folder.mkdir()
    for name in ("model.py", "weights.npz"):
        shutil.copy(BASELINE / name, folder / name)
    np.savez(folder / "bigram.npz", logp=bigram(public_ids()))
    (folder / "attack.py").write_text(CHEAP)
    (folder / "submission.yaml").write_text(YAML)
    doc = grade(folder, rules, QUICK, quick=True, seed=5)
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    imp = doc["improvements"]
    # Where its answers are scored it is the baseline; where it is timed it is not.
    assert imp["perplexity_ratio"] == pytest.approx(1.0, abs=1e-4)
    assert imp["filler_perplexity_ratio"] > 1.3, imp["filler_perplexity_ratio"]
    failed = {r["id"] for r in doc["events"]["inference_speed"]["rules"] if not r["passed"]}
    assert "filler_kept" in failed and not doc["events"]["inference_speed"]["qualified"]


BLIND_CHEAP = """
import numpy as np

import model as network

with np.load("bigram.npz", allow_pickle=False) as f:
    LOGP = f["logp"]
Q = 35  # "Q": every record's first character; a blind walk opens with a lowercase letter


class CheapWhereOnlyBlindWalksCount:
    def __init__(self):
        self.net = network.build_model()

    def reset(self, batch):
        self.net.reset(batch)
        self.t, self.blind = 0, None

    def step(self, tokens):
        if self.blind is None:
            self.blind = bool((tokens != Q).all())
        self.t += 1
        scores = self.net.step(tokens)
        return LOGP[tokens] if self.blind and self.t <= 16 else scores


def build_model():
    return CheapWhereOnlyBlindWalksCount()
"""


@pytest.mark.slow
@pytest.mark.e2e
def test_cheap_where_only_blind_walks_count_pays_in_the_same_proportion(
    tmp_path: Path, rules
) -> None:
    """The first blocks of a walk are counted in the blind walks only (their first records
    hold the others'), so each carries a block's share of the speed on few characters: a
    model cheap there (a bigram for a blind walk's first 16 steps, two blocks of 16) pays
    a block's share of the filler's quality too, not its share of the characters."""
    assert text.encode("Q")[0] == 35
    folder = tmp_path / "blind-cheap"
    folder.mkdir()
    for name in ("model.py", "weights.npz"):
        shutil.copy(BASELINE / name, folder / name)
    np.savez(folder / "bigram.npz", logp=bigram(public_ids()))
    (folder / "attack.py").write_text(BLIND_CHEAP)
    (folder / "submission.yaml").write_text(YAML.replace("cheap-filler", "blind-cheap"))
    plan = dataclasses.replace(QUICK_GENERATION, blind=6, held_out=6, probes=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gradetext, "QUICK_GENERATION", plan)
        doc = grade(folder, rules, QUICK, quick=True, seed=7)
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    weighted = doc["improvements"]["filler_perplexity_ratio"]
    pooled = [
        math.exp(math.fsum(t["filler_nll"]) / sum(t["filler_steps"]))
        for t in (doc[side]["metrics"]["text"] for side in ("baseline", "optimized"))
    ]
    # Two blocks of 16 at a ratio of about 2.3: exp(2 / 16 * ln 2.3) = 1.11 by block.
    assert weighted > 1.07 and weighted > pooled[1] / pooled[0], (weighted, pooled)
    failed = {r["id"] for r in doc["events"]["inference_speed"]["rules"] if not r["passed"]}
    assert "filler_kept" in failed
