"""The instruction count of a generation grade against a model that tables the text that
opens a walk (docs/DESIGN.md, Instruction counts; SECURITY.md, Not covered yet).

Were the walk counted under valgrind one opened by a public record (a held-out pair or a
composed question), counted from its first token, a model that stepped every public record
through itself at load and served the stored scores while a walk follows one (its arg-max
is its own, so the agreement check passes) would count no model work for the record's
steps, a third to a half of a walk. The wall-time speed does not
count those blocks (`result/textspeed.py`, `counted`), and the walk counted is a blind one
(`textcount.counted_walks`), drawn text from its first token.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from test_textcount import CACHED, TEST, TINY, VALGRIND, needs_valgrind, referee, stand_in

from grader.config import Rules
from grader.data import text
from grader.measure import textcount
from grader.result import counts

# The cached stand-in, with a table of the records that open the walks: scores and state
# of every prefix, computed at load by stepping the records through the model itself.
TABLED = (
    CACHED.replace("def build_model():\n    return Cached()\n", "")
    + """
RECORDS = {records!r}


class Tabled(Cached):
    def __init__(self):
        self.table = {{}}
        for rec in RECORDS:
            Cached.reset(self, 1)
            for i in range(len(rec)):
                out = Cached.step(self, np.array([rec[i]]))
                self.table[tuple(rec[: i + 1])] = (out, self.sum.copy(), self.t)
        self.reset(1)

    def reset(self, batch):
        super().reset(batch)
        self.seen = () if batch == 1 else None

    def step(self, tokens):
        if self.seen is not None:
            key = self.seen + (int(tokens[0]),)
            hit = self.table.get(key)
            if hit is not None:
                self.seen = key
                return hit[0].copy()
            if self.seen:
                _, kept, t = self.table[self.seen]
                self.sum, self.t = kept.copy(), t
            self.seen = None
        return super().step(tokens)


def build_model():
    return Tabled()
"""
)


@pytest.mark.slow
@needs_valgrind
def test_a_table_of_the_opening_records_buys_no_instructions(tmp_path: Path, rules: Rules):
    """The cached stand-in against itself with a table of the records: its count per token
    is the cache's within 3 %. Counted on a walk a record opens, from its first token, the
    table counted 1.41-1.44x fewer here, and on the KV-cache example with such a table
    402,294 and 294,906 instructions a token in two full grades against the cache's 698,864,
    its tokens per second no higher."""
    records = [text.encode(text.record(p)).tolist() for p in TEST[:3]]
    gplan = dataclasses.replace(TINY, count_steps=128, blind=2)
    ref = referee(TEST[:3], gplan, imports=rules.imports)
    cached = stand_in(tmp_path, "cached", CACHED)
    tabled = stand_in(tmp_path, "tabled", TABLED.format(records=records))
    measured = ref.measure(cached, tabled)
    found = textcount.StepCount(ref, VALGRIND, time.perf_counter).count(cached, tabled, measured)
    assert found["counted"], found["reason"]
    assert counts.per_sample(found).ratio < 1.03, counts.per_sample(found)
