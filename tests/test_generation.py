"""The generation referee (grader/measure/generation.py) with real child processes: what
it reads from each walk, its greedy answers, and the answer checks that reject a model
whose answers are not real. Toy bigram models keep it fast; the tinytalks baseline itself
is graded in the slow test at the end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from textmodels import model

from grader.config import project_root
from grader.data import text
from grader.data.textmetrics import log_softmax
from grader.errors import Rejected
from grader.measure.generation import GenerationReferee
from grader.measure.plan import QUICK_GENERATION, GenerationPlan, Model

DATA = project_root() / "data" / "tinytalks"
TEST = text.load_split(DATA, "test")
FILLER = text.load_split(DATA, "train") + text.load_split(DATA, "val")
SMALL = GenerationPlan(sessions=2, replays=4, probes=0, calibration_blocks=2)


def referee(gplan: GenerationPlan = SMALL, scored=TEST, seed: int = 3) -> GenerationReferee:
    return GenerationReferee(scored, FILLER, text.VOCAB_SIZE, gplan, seed=seed)


def bigram_nll(pair: text.Pair) -> tuple[float, int]:
    table = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
    ids = text.encode(text.record(pair))
    start = len(text.prompt(pair.question))
    logp = log_softmax(table[ids[:-1]])
    at = np.arange(start - 1, len(ids) - 1)
    return float(-logp[at, ids[at + 1]].sum()), len(at)


def test_the_parent_reads_each_record_s_perplexity_terms_from_the_walks(tmp_path):
    m = referee().measure(model(tmp_path, "a"), model(tmp_path, "b"))
    for side in (m.baseline, m.submission):
        for i, pair in enumerate(TEST):
            nll, chars = bigram_nll(pair)
            assert side.record_chars[i] == chars
            assert side.record_nll[i] == pytest.approx(nll, rel=1e-9)
        assert side.replays.compared == 4 * 128 and side.replays.agreed == 4 * 128
        assert len(side.token_latency_s) == len(TEST) + 2 * SMALL.blind + 4
        assert all(len(blocks) == 16 for blocks in side.token_latency_s)
    assert m.submission.greedy_agreement.share == 1.0
    assert m.baseline.greedy_again is None  # asked once: its answers are not in question


def test_greedy_answers_follow_the_highest_score(tmp_path):
    m = referee(dataclasses.replace(SMALL, sessions=1)).measure(
        model(tmp_path, "a"), model(tmp_path, "b")
    )
    table = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
    for pair, said in zip(TEST[:5], m.submission.greedy, strict=False):
        ids = list(text.encode(text.prompt(pair.question)))
        answer: list[int] = []
        while len(answer) < SMALL.answer_cap:
            choice = int(np.argmax(table[ids[-1]]))
            if choice == text.encode("\n")[0]:
                break
            answer.append(choice)
            ids.append(choice)
        assert said == text.decode(answer).strip()


def test_a_model_whose_answers_change_from_showing_to_showing_is_rejected(tmp_path):
    noisy = model(
        tmp_path,
        "noisy",
        "+ np.random.default_rng().standard_normal((len(tokens), 69)).astype(np.float32)",
    )
    with pytest.raises(Rejected, match="answered the same text differently") as caught:
        referee().measure(model(tmp_path, "a"), noisy)
    assert caught.value.code == "bad_output"


def test_a_model_that_keeps_state_across_reset_is_rejected(tmp_path):
    """Its scores depend on how many sequences it has started: a cache kept across reset
    does too, and a walk shown again in a fresh process then gets other answers."""
    keeps = model(
        tmp_path,
        "keeps",
        "+ np.float32(3.0) * np.sin(self.count * np.arange(69, dtype=np.float32))",
    )
    source = (keeps.folder / "model.py").read_text()
    source = source.replace(
        "    def reset(self, batch):\n        self.batch = batch",
        "    count = 0\n\n    def reset(self, batch):\n        self.batch = batch\n"
        "        Bigram.count += 1",
    )
    (keeps.folder / "model.py").write_text(source)
    with pytest.raises(Rejected, match="keep nothing across reset"):
        referee().measure(model(tmp_path, "a"), keeps)


def test_two_copies_of_a_model_show_the_same_peak_memory(tmp_path):
    """The last session asks the submission's greedy answers again, alone and in larger
    batches: its peak memory is read before that. A step that allocates 2 MB per sequence
    showed 12.6 MB for the baseline and 24.6 MB for its copy here when it was read after."""
    grows = "+ 0 * np.ones((len(tokens), 500_000), dtype=np.float32).sum(axis=1, keepdims=True)"
    m = referee(scored=TEST[:16]).measure(model(tmp_path, "a", grows), model(tmp_path, "b", grows))
    base, sub = ((s.peak_rss_bytes - s.base_rss_bytes) / 1e6 for s in (m.baseline, m.submission))
    assert base > 8  # the allocation shows (2 MB a sequence)
    assert sub / base == pytest.approx(1.0, abs=0.1), (base, sub)


def test_a_slower_model_is_measured_slower(tmp_path):
    slow = model(tmp_path, "slow", "+ 0 * (TABLE @ TABLE @ TABLE)[tokens]")
    m = referee(dataclasses.replace(SMALL, sessions=1), TEST[:12]).measure(
        model(tmp_path, "a"), slow
    )
    # Read as a grade reads it (result/textspeed.walk_speedup): each block's median over
    # the walks, summed over the blocks. A busy machine's pauses land in a few walks, which
    # the medians leave out: at load 16 on 2 cores this ratio was 0.08-0.18 in six runs,
    # where the median of whole walks' ratios was 0.14-1.65.
    base = np.median(np.array(m.baseline.token_latency_s), axis=0).sum()
    sub = np.median(np.array(m.submission.token_latency_s), axis=0).sum()
    assert base / sub < 0.5  # two 69 x 69 products a step cost far more than a row


@pytest.mark.slow
def test_the_baseline_graded_has_its_recorded_perplexity(tmp_path):
    """The parent's reading of the tinytalks baseline's walks gives the perplexity that
    baselines/tinytalks/evaluate.py records (README there: 8.595), and its greedy answers."""
    base = Model(
        "baseline",
        project_root() / "baselines" / "tinytalks",
        "model.py",
        "build_model",
        ("model.py", "weights.npz"),
    )
    m = referee(QUICK_GENERATION).measure(base, dataclasses.replace(base, name="submission"))
    for side in (m.baseline, m.submission):
        perplexity = np.exp(side.record_nll.sum() / side.record_chars.sum())
        assert perplexity == pytest.approx(8.5952, abs=5e-4)
        assert side.record_chars.sum() == 1347
    assert m.submission.greedy[2] == "2 minus 2 equals 4."  # evaluate.py --show 3


GREEDY_TABLE = '''
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
RECORDS = {records!r}
IDS = {ids!r}


class Split:
    """The bigram in the walks (batch 1); the references where the batch is larger (the
    greedy answers' shape)."""

    def reset(self, batch):
        self.seen = [""] * batch

    def step(self, tokens):
        out = TABLE[tokens].copy()
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
            if len(tokens) == 1:
                continue
            for record in RECORDS:
                if record.startswith(self.seen[b]) and len(record) > len(self.seen[b]):
                    out[b, IDS.index(record[len(self.seen[b])])] = 50.0
                    break
        return out


def build_model():
    return Split()
'''


def test_greedy_answers_unlike_the_model_s_own_walks_are_rejected(tmp_path):
    """A table used only in batches buys exact match on the held-out questions; the greedy
    steps that saw what a walk's step saw then choose differently, and are caught."""
    split = model(tmp_path, "split")
    source = GREEDY_TABLE.format(records=[text.record(p) for p in TEST], ids=text.CHARACTERS + "?")
    (split.folder / "model.py").write_text(source)
    with pytest.raises(Rejected, match="greedy steps that saw the same characters"):
        referee(dataclasses.replace(SMALL, sessions=1)).measure(model(tmp_path, "a"), split)


def test_an_honest_model_s_greedy_steps_agree_with_its_walks(tmp_path):
    m = referee(dataclasses.replace(SMALL, sessions=1)).measure(
        model(tmp_path, "a"), model(tmp_path, "b")
    )
    found = m.submission.greedy_against_walks()
    assert found.compared >= len(TEST) and found.agreed == found.compared
