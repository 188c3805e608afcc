"""A generation entry's Memory Challenge (events.yaml, ``memory_challenge``): its score is
the compression ratio, and the quality it must keep has to be one no table of public text
meets. The held-out answers' perplexity alone is not: the test split is public, so a model
far smaller than the baseline and far worse can add a table of those answers until its
perplexity there is the baseline's. The filler, drawn from the baseline at grade time, is
text no table holds (docs/DESIGN.md, Generation): the event binds its perplexity too."""

from __future__ import annotations

from test_rules import metrics

from grader import rules
from grader.config import Rules

# A full grade of a character bigram of the public train split (its
# perplexity on the held-out answers 1.47 times the baseline's) with a table that adds
# 0.5 to the logit of each public test answer's next character.
TABLED_BIGRAM = {
    "perplexity": 8.408,
    "perplexity_ratio": 0.978,
    "probe_perplexity_ratio": 3.98,
    "public_probe_ratio": 0.246,
    "filler_perplexity_ratio": 2.20,
    "size_bytes": 37_693,
    "compression_ratio": 11.44,
}


def test_a_bigram_with_a_table_of_the_public_answers_does_not_qualify(rule_set: Rules) -> None:
    found = rules.evaluate_event(
        rule_set.events["memory_challenge"], metrics(**TABLED_BIGRAM), [], None, "generation"
    )
    assert found["qualified"] is False, found
    assert [r["id"] for r in found["rules"] if not r["passed"]] == ["filler_kept"]


def test_an_honest_smaller_model_still_qualifies(rule_set: Rules) -> None:
    """A model that keeps the baseline's quality on the held-out answers and on the drawn
    filler (a quantized copy, say) qualifies."""
    kept = {**TABLED_BIGRAM, "perplexity_ratio": 1.01, "filler_perplexity_ratio": 1.02,
            "public_probe_ratio": 1.0, "compression_ratio": 3.9}  # fmt: skip
    found = rules.evaluate_event(
        rule_set.events["memory_challenge"], metrics(**kept), [], None, "generation"
    )
    assert found["qualified"] is True, found
