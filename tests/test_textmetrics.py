"""grader.data.textmetrics against hand-computed numbers, and its greedy decoder against an
independent transcription of the decoding rule, on fake models and on the tinytalks baseline."""

from __future__ import annotations

import hashlib
import importlib.util
import math

import numpy as np
import pytest

from grader.config import project_root
from grader.data import text, textmetrics
from grader.errors import ChildFailure

V = text.VOCAB_SIZE
NEWLINE = textmetrics.NEWLINE
BASELINE = project_root() / "baselines" / "tinytalks"


def ids(s: str) -> np.ndarray:
    return text.encode(s, strict=True)


# --- log_softmax ------------------------------------------------------------------------------


def test_log_softmax_of_known_scores() -> None:
    # softmax([0, ln 3]) = [1/4, 3/4]
    out = textmetrics.log_softmax(np.array([0.0, math.log(3.0)], dtype=np.float32))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [math.log(0.25), math.log(0.75)], rtol=1e-7)


def test_log_softmax_is_stable_and_works_on_the_last_axis() -> None:
    scores = np.array([[[1000.0, 1000.0], [-1000.0, 0.0]]])  # exp(1000) overflows unshifted
    out = textmetrics.log_softmax(scores)
    np.testing.assert_allclose(out[0, 0], [-math.log(2.0)] * 2)
    assert out[0, 1, 1] == 0.0 and out[0, 1, 0] == -1000.0
    rows = textmetrics.log_softmax(np.random.default_rng(0).normal(0, 30, (4, 5, V)))
    np.testing.assert_allclose(np.exp(rows).sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_log_softmax_refuses_scores_that_are_not_finite(bad: float) -> None:
    scores = np.zeros((2, V))
    scores[1, 3] = bad
    with pytest.raises(ChildFailure, match="1 of 138 scores are NaN or infinite") as info:
        textmetrics.log_softmax(scores)
    assert info.value.code == "bad_output"


def test_log_softmax_refuses_an_empty_last_axis() -> None:
    with pytest.raises(ValueError, match="non-empty last axis"):
        textmetrics.log_softmax(np.zeros((3, 0)))


# --- record_span and answer_nll ---------------------------------------------------------------


def test_a_records_span_is_what_follows_the_prompt_through_the_newline() -> None:
    tokens, start, end = textmetrics.record_span(text.Pair("Hi?", "Hello."))
    assert text.decode(tokens) == "Q: Hi?\nA: Hello.\n"
    assert text.decode(tokens[:start]) == "Q: Hi?\nA:"
    assert text.decode(tokens[start:end]) == " Hello.\n"


def test_the_test_split_scores_its_answers_and_two_characters_more_each() -> None:
    pairs = text.load_split(project_root() / "data" / "tinytalks", "test")
    spans = [textmetrics.record_span(p) for p in pairs]
    assert sum(end - start for _, start, end in spans) == 1_347  # the baseline's README
    with pytest.raises(ValueError, match="not in vocabulary"):
        textmetrics.record_span(text.Pair("Zut?", "Non."))  # Z is not in vocabulary v1


def one_hot_rows(tokens: np.ndarray, p: float, rows: int) -> np.ndarray:
    """Log-probabilities: row t puts ``p`` on tokens[t + 1] and the rest evenly."""
    logp = np.full((rows, V), math.log((1 - p) / (V - 1)))
    for t in range(min(rows, len(tokens) - 1)):
        logp[t, tokens[t + 1]] = math.log(p)
    return logp


def test_answer_nll_reads_character_i_from_row_i_minus_1() -> None:
    tokens, start, end = textmetrics.record_span(text.Pair("a", "b"))
    assert (start, end) == (7, 10)  # "Q: a\nA:" is 7 characters, " b\n" 3
    logp = one_hot_rows(tokens, 0.5, len(tokens) - 1)
    nll, count, correct = textmetrics.answer_nll(logp, tokens, start, end)
    assert count == 3 and correct == 3  # 0.5 is the arg-max: the rest share 0.5 over 68 ids
    assert nll == pytest.approx(3 * math.log(2.0), rel=1e-12)
    shifted = np.roll(logp, 1, axis=0)  # row i now predicts character i: wrong by one
    nll, _, correct = textmetrics.answer_nll(shifted, tokens, start, end)
    assert correct == 0 and nll > 3 * math.log(2.0)


def test_answer_nll_counts_the_argmax_hits_and_ignores_the_padding_rows() -> None:
    tokens = ids("Q: x\nA: yz\n")
    start, end = 7, len(tokens)
    logp = np.full((len(tokens) + 5, V), math.log(1 / V))  # uniform: every id ties
    for t in range(start - 1, end - 1):
        logp[t, tokens[t + 1]] = math.log(0.9) if t % 2 else math.log(1e-3)
    logp[end - 1 :] = np.nan  # padding after the record: never read
    nll, count, correct = textmetrics.answer_nll(logp, tokens, start, end)
    rows = range(start - 1, end - 1)
    assert count == 4 and correct == sum(1 for t in rows if t % 2)
    expected = -sum(math.log(0.9) if t % 2 else math.log(1e-3) for t in rows)
    assert nll == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("rows", "start", "end", "message"),
    [
        pytest.param(9, 0, 5, r"span \[0, 5\) must lie", id="start-0"),
        pytest.param(9, 5, 5, r"span \[5, 5\) must lie", id="empty"),
        pytest.param(9, 5, 11, r"span \[5, 11\) must lie", id="past-the-end"),
        pytest.param(7, 5, 10, r"7 rows of scores; the span \[5, 10\) needs 9", id="few-rows"),
    ],
)
def test_answer_nll_refuses_a_span_it_cannot_score(rows, start, end, message) -> None:
    tokens = ids("Q: a\nA: b\n")
    with pytest.raises(ValueError, match=message):
        textmetrics.answer_nll(np.zeros((rows, V)), tokens, start, end)


def test_answer_nll_refuses_scores_of_another_vocabulary_and_tokens_that_are_not_ids() -> None:
    tokens = ids("Q: a\nA: b\n")
    with pytest.raises(ValueError, match=r"must be \(T, 69\)"):
        textmetrics.answer_nll(np.zeros((9, 70)), tokens, 8, 10)
    with pytest.raises(ValueError, match="one-dimensional ids"):
        textmetrics.answer_nll(np.zeros((9, V)), tokens.astype(float), 8, 10)


# --- exact match and character F1 -------------------------------------------------------------


def test_exact_match_strips_surrounding_spaces_only() -> None:
    assert textmetrics.exact_match("  Yes. ", "Yes.")
    assert not textmetrics.exact_match("Yes", "Yes.")
    assert not textmetrics.exact_match("yes.", "Yes.")
    assert not textmetrics.exact_match("Yes.\n", "Yes.")  # a newline is not a space


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        pytest.param("abc", "abc", 1.0, id="equal"),
        pytest.param("abcd", "ab", 2 * 0.5 * 1.0 / 1.5, id="answer-longer"),  # P 2/4, R 2/2
        pytest.param("aab", "abb", 2 / 3, id="multisets"),  # shared {a, b}: P = R = 2/3
        pytest.param(" ab ", "ab", 1.0, id="stripped"),
        pytest.param("xyz", "abc", 0.0, id="nothing-shared"),
        pytest.param("", "abc", 0.0, id="answer-empty"),
        pytest.param("abc", "", 0.0, id="reference-empty"),
        pytest.param("", "", 1.0, id="both-empty"),
        pytest.param("   ", "", 1.0, id="spaces-and-empty"),
    ],
)
def test_char_f1(answer: str, reference: str, expected: float) -> None:
    assert textmetrics.char_f1(answer, reference) == pytest.approx(expected, rel=1e-12)


def test_answer_quality_averages_over_pairs() -> None:
    quality = textmetrics.answer_quality(["Yes.", "No!", "abcd"], ["Yes.", "No.", "ab"])
    assert quality["exact_match"] == pytest.approx(1 / 3)
    # F1s: 1; "No!" vs "No.": 2 of 3 shared, 2/3; 2/3 (above)
    assert quality["char_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


@pytest.mark.parametrize(
    ("answers", "references"), [([], []), (["a"], ["a", "b"])], ids=["empty", "unpaired"]
)
def test_answer_quality_refuses_pairs_that_do_not_pair(answers, references) -> None:
    with pytest.raises(ValueError, match="must pair up and not be empty"):
        textmetrics.answer_quality(answers, references)


# --- the greedy decoder -----------------------------------------------------------------------


def reference_greedy(model, questions: list[str], cap: int = textmetrics.ANSWER_CAP) -> list[str]:
    """The decoding rule written independently as one loop over the steps (the loop
    baselines/tinytalks/evaluate.py ran on its own): prompts fed one id per step, then each
    sequence's arg-max, its answer ending at the newline or at ``cap`` characters."""
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
        logits = np.asarray(model.step(tokens))
    return [text.decode(a).strip() for a in answers]


def drive(model, decoder: textmetrics.Greedy) -> list[str]:
    model.reset(len(decoder.prompts))
    scores, steps = None, 0
    while True:
        tokens = decoder.next_tokens(scores)
        if decoder.done:
            assert steps <= decoder.max_steps
            return decoder.answers()
        scores = model.step(tokens)
        steps += 1


class Hashed:
    """Scores that depend on each sequence's whole prefix (a hash of it): small integers, so
    that ties are common, and the newline best with probability ``stop`` at each step (its
    ties it wins: its id is the lowest), so that answers end at all lengths and at the cap."""

    def __init__(self, seed: int, stop: float) -> None:
        self.seed, self.stop = seed, stop

    def reset(self, batch: int) -> None:
        self.fed = [[] for _ in range(batch)]

    def step(self, tokens: np.ndarray) -> np.ndarray:
        out = np.zeros((len(tokens), V), dtype=np.float32)
        for b, token in enumerate(tokens.tolist()):
            self.fed[b].append(token)
            key = hashlib.sha256(repr((self.seed, self.fed[b])).encode()).digest()
            rng = np.random.default_rng(list(key[:8]))
            out[b] = rng.integers(0, 4, V)
            out[b, NEWLINE] = 3 if rng.random() < self.stop else 0
        return out


QUESTIONS = ["Hi?", "What is 9 minus 5?", "Why is the sky blue on a clear day?", "Ok?"]


CASES = [(seed, stop, cap) for seed, stop in enumerate((0.02, 0.05, 0.2)) for cap in (3, 20, 64)]


@pytest.mark.parametrize(("seed", "stop", "cap"), CASES)
def test_greedy_decodes_as_the_rule_does_on_prefix_dependent_scores(seed, stop, cap) -> None:
    expected = reference_greedy(Hashed(seed, stop), QUESTIONS, cap)
    decoder = textmetrics.Greedy.for_questions(QUESTIONS, cap)
    assert drive(Hashed(seed, stop), decoder) == expected


def test_the_prefix_dependent_scores_give_answers_of_every_length() -> None:
    lengths = {
        len(a)
        for seed, stop, cap in CASES
        for a in reference_greedy(Hashed(seed, stop), QUESTIONS, cap)
    }
    assert {0, 3, 64} <= lengths and len(lengths) > 10


class Scripted:
    """Answers every prompt with ``reply`` then a newline, and records what it was fed."""

    def __init__(self, reply: str) -> None:
        self.ids = ids(reply + "\n")

    def reset(self, batch: int) -> None:
        self.fed = np.zeros((batch, 0), dtype=np.int64)
        self.after = np.full(batch, -1)  # steps since each sequence's prompt ended

    def step(self, tokens: np.ndarray) -> np.ndarray:
        self.fed = np.concatenate([self.fed, tokens[:, None]], axis=1)
        ends = np.array([text.decode(row).endswith("A:") for row in self.fed])
        self.after = np.where(ends, 0, np.where(self.after >= 0, self.after + 1, -1))
        logits = np.zeros((len(tokens), V), dtype=np.float32)
        logits[np.arange(len(tokens)), self.ids[np.clip(self.after, 0, len(self.ids) - 1)]] = 1
        return logits


def test_greedy_feeds_each_prompt_then_its_answer_then_newlines() -> None:
    questions = ["Hi?", "What is the longest question of this batch?"]
    model = Scripted(" Hello.")
    assert drive(model, textmetrics.Greedy.for_questions(questions)) == ["Hello.", "Hello."]
    short = text.decode(model.fed[0])
    assert short.startswith(text.prompt("Hi?") + " Hello.")
    assert set(short[len(text.prompt("Hi?") + " Hello.") :]) == {"\n"}  # finished: newlines
    assert text.decode(model.fed[1]) == text.prompt(questions[1]) + " Hello."


def test_greedy_stops_an_answer_at_the_cap() -> None:
    decoder = textmetrics.Greedy.for_questions(["Hi?"], cap=10)
    assert drive(Scripted(" " + "a" * 80), decoder) == ["a" * 9]  # the space, then 9 a's
    assert decoder.answer_ids == [ids(" " + "a" * 9).tolist()]
    assert decoder.max_steps == len(text.prompt("Hi?")) + 10


def test_greedy_breaks_ties_by_the_lowest_id_and_reads_only_unfinished_rows() -> None:
    decoder = textmetrics.Greedy([ids("A:"), ids("A:x")], cap=5)
    assert decoder.next_tokens(None).tolist() == ids("AA").tolist()
    assert decoder.next_tokens(np.zeros((2, V))).tolist() == ids("::").tolist()
    scores = np.zeros((2, V))
    scores[0, [NEWLINE, 20, 30]] = 5.0  # a three-way tie: the newline has the lowest id
    assert decoder.next_tokens(scores).tolist() == [NEWLINE, int(ids("x")[0])]
    assert decoder.finished.tolist() == [True, False]
    scores = np.full((2, V), np.nan)  # the finished row's scores are not read
    scores[1] = 0.0
    scores[1, 7] = scores[1, 9] = 1.0
    assert decoder.next_tokens(scores).tolist() == [NEWLINE, 7]
    assert decoder.answers() == ["", text.decode([7])]


def test_greedy_refuses_scores_it_cannot_read() -> None:
    decoder = textmetrics.Greedy([ids("A:"), ids("A:")])
    decoder.next_tokens(None)
    with pytest.raises(ChildFailure, match=r"must be \(2, 69\) numbers; found float64 \(2, 68\)"):
        decoder.next_tokens(np.zeros((2, V - 1)))
    with pytest.raises(ChildFailure, match=r"must be \(2, 69\) numbers; found <U1 \(2, 69\)"):
        decoder.next_tokens(np.full((2, V), "a"))
    with pytest.raises(ChildFailure, match="not an array"):
        decoder.next_tokens([[0.0] * V, [0.0]])
    decoder.next_tokens(np.zeros((2, V)))
    with pytest.raises(ValueError, match="step 2: the decoder needs the scores"):
        decoder.next_tokens(None)
    scores = np.zeros((2, V))
    scores[1, 0] = np.inf
    with pytest.raises(ChildFailure, match="step 2: NaN or infinite scores for sequence 1") as e:
        decoder.next_tokens(scores)
    assert e.value.code == "bad_output"


@pytest.mark.parametrize(
    ("prompts", "cap", "message"),
    [([], 5, "at least one prompt"), ([ids("A:"), ids("")], 5, "none of them empty"),
     ([ids("A:")], -1, "cap must be >= 0")],
    ids=["no-prompts", "an-empty-prompt", "negative-cap"],
)  # fmt: skip
def test_greedy_refuses_what_it_cannot_decode(prompts, cap, message) -> None:
    with pytest.raises(ValueError, match=message):
        textmetrics.Greedy(prompts, cap)


@pytest.mark.slow  # the baseline's steps recompute their prefix: about 2 s a run, two runs
def test_greedy_gives_the_baselines_answers_on_the_first_ten_test_questions() -> None:
    spec = importlib.util.spec_from_file_location("tinytalks_evaluate", BASELINE / "evaluate.py")
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)
    model = evaluate.load_model(BASELINE)
    pairs = text.load_split(project_root() / "data" / "tinytalks", "test")[:10]
    questions = [p.question for p in pairs]
    expected = reference_greedy(model, questions)
    assert drive(model, textmetrics.Greedy.for_questions(questions)) == expected
    assert "2 minus 2 equals 4." in expected  # the baseline's README quotes this answer
