"""A table of part of the public test answers in the public phase (events.yaml,
``generation_quality``; SECURITY.md, Not covered yet): ``no_memorised_answers`` refuses a
public-over-composed perplexity ratio below 0.7 and ``public_answers_memorised`` warns below
0.8, so a table that moves the held-out answers' perplexity by less than a fifth, and the
composed questions' not at all, passes both and ranks ahead of the model it is built on."""

from __future__ import annotations

import pytest
from test_rules import metrics

from grader import rules
from grader.config import Rules

# A full grade of the KV-cache example with 0.3 added to the logit of
# each public test answer's next character (perplexity 7.027 where the cache has 8.595).
PARTIAL_TABLE = {
    "perplexity": 7.027,
    "perplexity_ci95": [6.114, 7.984],
    "perplexity_ratio": 0.818,
    "probe_perplexity_ratio": 1.0,
    "public_probe_ratio": 0.818,
    "probe_char_f1_delta": 0.0,
    "filler_perplexity_ratio": 1.0,
    "greedy_agreement": 1.0,
}


@pytest.mark.xfail(
    strict=True,
    reason="the KV-cache example with a table adding 0.3 to the logit of "
    "each public test answer's next character published perplexity 7.027 against the "
    "cache's 8.595 in full grades, the composed questions' ratio 1.000, public_probe_ratio "
    "0.818: generation_quality qualified and no flag was raised",
)
def test_a_partial_table_of_the_public_answers_is_flagged_or_refused(rule_set: Rules) -> None:
    events, flags = rules.evaluate(
        rule_set, metrics(**PARTIAL_TABLE), ["generation_quality"], "generation"
    )
    refused = events["generation_quality"]["qualified"] is False
    assert refused or "public_answers_memorised" in [f["id"] for f in flags]
