"""A course's own Q&A sealed as the tinytalks private split, and the final phase that ranks
on it (docs/DESIGN.md, Data; Generation).

The course's records are written here: short questions and answers nobody published, in
the vocabulary. They are sealed with a key of the test's own into a course's checkout
under a temporary folder, and graded there as the leaderboard workflow grades: the key in
the environment, phase: final. Bigram tables stand in for the tinytalks baseline, as in
tests/test_gradetext.py, so that each grade takes seconds.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from clirun import runner
from textmodels import model

from grader import render
from grader.config import load_rules, project_root
from grader.data import private, sealedtext, text
from grader.data.textmetrics import log_softmax
from grader.errors import ConfigError
from grader.grade import grade
from grader.measure.plan import QUICK, QUICK_GENERATION, GenerationPlan
from grader.publish import leaderboard, store
from grader.result import derive, verify

ROOT = project_root()
RULES = load_rules()
PUBLIC = {name: text.load_split(ROOT / "data" / "tinytalks", name) for name in text.SPLITS}
TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)  # textmodels'

run = runner()
run_flat = runner(flat_err=True)

COURSE = [
    ("What colour is a ripe lemon?", "A ripe lemon is yellow."),
    ("How many strings does a violin have?", "A violin has four strings."),
    ("What do cows drink?", "Cows drink water."),
    ("Where do penguins live?", "Most penguins live in the cold south."),
    ("What is the opposite of tall?", "The opposite of tall is short."),
    ("What do you use to cut paper?", "You cut paper with scissors."),
    ("What sound does a duck make?", "A duck says quack."),
    ("How many wheels does a bicycle have?", "A bicycle has two wheels."),
    ("What grows on an apple tree?", "Apples grow on an apple tree."),
    ("What do bakers make?", "Bakers make bread and cakes."),
    ("Which animal has a long trunk?", "The elephant has a long trunk."),
    ("What do you wear on your feet?", "You wear shoes on your feet."),
    ("What colour is fresh snow?", "Fresh snow is white."),
    ("What does a thermometer measure?", "A thermometer measures temperature."),
    ("Where does rain come from?", "Rain falls from the clouds."),
    ("What do squirrels bury?", "Squirrels bury nuts."),
    ("What is a baby cat called?", "A baby cat is called a kitten."),
    ("How many months have thirty days?", "Four months have thirty days."),
    ("What do you call a group of fish?", "A group of fish is a school."),
    ("Which planet do we live on?", "We live on the planet Earth."),
    ("What does a pilot fly?", "A pilot flies a plane."),
    ("What is ice made of?", "Ice is frozen water."),
    ("What tool do you use to dig?", "You dig with a shovel."),
    ("What do bees visit?", "Bees visit flowers."),
    ("What colour is a clear sky?", "A clear sky is blue."),
    ("Which bird runs fast but cannot fly?", "The ostrich runs fast but cannot fly."),
    ("What do you read in a library?", "You read books in a library."),
    ("What keeps you dry in the rain?", "An umbrella keeps you dry."),
    ("What do firefighters put out?", "Firefighters put out fires."),
    ("How do fish breathe?", "Fish breathe with gills."),
    ("What do you brush every morning?", "I brush my teeth every morning."),
    ("What is a young dog called?", "A young dog is called a puppy."),
    ("Where do you buy fresh fruit?", "You buy fresh fruit at a market."),
    ("What shape is a wheel?", "A wheel is round."),
]
PAIRS = [text.Pair(q, a) for q, a in COURSE]


def course_file(path: Path, pairs: list[text.Pair] = PAIRS) -> Path:
    path.write_text("\n".join(text.record(p) for p in pairs))
    return path


def checkout(tmp: Path, phase: str = "final") -> Path:
    """A course's checkout: the grader's data, baselines, workflows and events.yaml."""
    root = tmp / "course"
    root.mkdir()
    shutil.copytree(ROOT / "baselines", root / "baselines")
    shutil.copytree(ROOT / "data", root / "data", ignore=shutil.ignore_patterns("*.fernet"))
    shutil.copytree(ROOT / ".github", root / ".github")
    events = (ROOT / "events.yaml").read_text().replace("\nphase: public\n", f"\nphase: {phase}\n")
    (root / "events.yaml").write_text(events)
    return root


def record_entry(root: Path, entry: str) -> None:
    """``entry`` (``{file: ..., sha256: ..., kind: ...}``) as tinytalks' sealed private split."""
    events = (root / "events.yaml").read_text()
    test = RULES.datasets["tinytalks"]["splits"]["test"]
    line = f"      test: {{file: {test['file']}, sha256: {test['sha256']}}}\n"
    assert line in events
    events = events.replace(line, line + f"    sealed:\n      private: {entry}\n")
    (root / "events.yaml").write_text(events)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    """The course's records sealed by ``olympics seal`` into a checkout in the final phase:
    its root, its rules, the key file and what the command printed."""
    tmp = tmp_path_factory.mktemp("sealedtext")
    root = checkout(tmp)
    source = course_file(tmp / "ours.txt")
    key_file = tmp / "keys" / "olympics.key"
    out = root / "data" / "tinytalks" / "course.txt.fernet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OLYMPICS_ROOT", str(root))
        code, stdout, stderr = run("seal", "tinytalks", "--text", str(source), "--out", str(out),
                                   "--key-file", str(key_file))  # fmt: skip
    assert code == 0, stdout + stderr
    entry = "{" + stdout.split("private: {")[1].split("}")[0] + "}"
    record_entry(root, entry)
    return {"root": root, "rules": load_rules(root / "events.yaml"), "key_file": key_file,
            "stdout": stdout, "entry": entry}  # fmt: skip


def test_sealing_prints_the_entry_and_where_the_key_goes_never_the_key(course) -> None:
    stdout, key_file, rules = course["stdout"], course["key_file"], course["rules"]
    key = key_file.read_bytes().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key.decode() not in stdout
    assert "sealed 34 Q&A records" in stdout and "a full grade scores 34 of them" in stdout
    assert f"a quick one {QUICK_GENERATION.private_records}" in stdout
    assert "file: data/tinytalks/course.txt.fernet" in course["entry"]
    assert "kind: course" in course["entry"]
    assert "secret OLYMPICS_PRIVATE_KEY of the GitHub Environment 'olympics-final'" in stdout
    assert not any(p.question in stdout or p.answer in stdout for p in PAIRS)
    # What was sealed opens with the key, and is the course's records, in their order.
    assert sealedtext.load(rules, "tinytalks", key, course["root"]) == PAIRS
    assert private.kind(rules, "tinytalks") == "course"
    assert private.unavailable(rules, "tinytalks", key) is None


def seal(name: str, option: str, source: Path, tmp: Path) -> tuple[int, str, str]:
    """``olympics seal`` of ``source`` into ``tmp`` (s.fernet, with the key k.key there)."""
    out, key = str(tmp / "s.fernet"), str(tmp / "k.key")
    return run_flat("seal", name, option, str(source), "--out", out, "--key-file", key)


def lines_of(pairs: list[text.Pair]) -> list[str]:
    return "\n".join(text.record(p) for p in pairs).split("\n")


BAD = {
    "vocabulary": (
        lambda pairs: [
            *pairs[:4],
            text.Pair("Do zebras have stripes?", "Zebras have stripes."),
            *pairs[5:],
        ],
        [":14: record 5: 'Z' not in vocabulary v1", "write the text with those characters"],
    ),
    "too_few": (lambda pairs: pairs[:29], ["29 record(s)", "at least 30", "add more"]),
    "public_record": (
        lambda pairs: [*pairs, PUBLIC["test"][7]],
        ["record 35", "is record 8 of the public test split", "drop it or write your own"],
    ),
    "repeated": (lambda pairs: [*pairs, pairs[2]], ["record 35 repeats record 3", "drop one"]),
    "composed": (
        lambda pairs: [text.Pair("What is 11 plus 12?", "11 plus 12 equals 23."), *pairs],
        ["record 1 is a question the grade composes (plus)", "a program computes"],
    ),
    "too_long": (
        lambda pairs: [*pairs, text.Pair("Why?", "Because " + "it is so, " * 14 + "truly.")],
        ["record 35 is", "a walk shows 129", "shorten its question or answer"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_course_file_is_refused_by_record_with_the_fix(tmp_path: Path, case: str) -> None:
    change, words = BAD[case]
    source = course_file(tmp_path / "ours.txt", change(PAIRS))
    code, stdout, stderr = seal("tinytalks", "--text", source, tmp_path)
    assert code == 2, stdout + stderr
    assert "nothing was sealed" in stderr and str(source) in stderr
    for word in words:
        assert word in stderr, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "s.fernet").exists()  # nothing written
    assert not (tmp_path / "k.key").exists()  # no key made


def test_every_layout_problem_is_named_at_once_by_line(tmp_path: Path) -> None:
    lines = lines_of(PAIRS)
    lines[4] = "Answer: Cows drink water."  # record 2's answer (line 5)
    lines[6] = ""  # record 3's question: three blank lines, then an answer alone (line 9)
    lines.insert(7, "")
    lines[-2] += " Caf\u00e9."  # the last answer, with a character outside the vocabulary
    source = tmp_path / "ours.txt"
    source.write_bytes("\r\n".join(lines).rstrip("\r\n").encode())  # no newline at the end
    code, _, stderr = seal("tinytalks", "--text", source, tmp_path)
    assert code == 2
    for word in [
        "6 problem(s); nothing was sealed",
        f"{source}: Windows line endings",
        f"{source}: the last line has no newline",
        f"{source}:5: record 2: expected 'A: ' and text, found 'Answer: Cows drink water.'",
        f"{source}:7: one blank line between records",
        f"{source}:9: record 3 has 1 line(s), not 2",
        f"{source}:102: record 34: '\u00e9' not in vocabulary v1",
    ]:
        assert word in stderr, stderr
    assert not (tmp_path / "s.fernet").exists()


@pytest.mark.parametrize(
    ("name", "option", "words"),
    [
        ("tinytalks", "--images", ["dataset 'tinytalks' is text", "with --text FILE (Q&A)"]),
        ("mlp_sprint", "--text", ["dataset 'digits' is arrays", "with --images FILE"]),
    ],
)
def test_the_option_must_fit_the_dataset(tmp_path: Path, name: str, option: str, words) -> None:
    source = course_file(tmp_path / "ours.txt")
    code, stdout, stderr = seal(name, option, source, tmp_path)
    assert code == 2, stdout + stderr
    for word in words:
        assert word in stderr, stderr
    assert not (tmp_path / "s.fernet").exists() and not (tmp_path / "k.key").exists()


def test_the_repository_ships_no_sealed_q_and_a_and_says_so() -> None:
    assert private.sealed_entry(RULES, "tinytalks") is None
    why = private.unavailable(RULES, "tinytalks", private.new_key())
    assert "the repository ships none (there is no course text to seal)" in why
    assert "olympics seal tinytalks --text FILE" in why


def test_a_text_dataset_s_sealed_split_is_the_course_s_own(tmp_path: Path) -> None:
    root = checkout(tmp_path, "public")
    record_entry(root, "{file: data/tinytalks/x.fernet, sha256: " + "a" * 64 + ", kind: bundled}")
    with pytest.raises(ConfigError) as raised:
        load_rules(root / "events.yaml")
    assert any("kind" in str(v) for v in raised.value.violations), raised.value.violations


# -- grades ----------------------------------------------------------------------------------
YAML = """team: {team}
members: [me]
workload: tinytalks
events: [generation_quality, inference_speed]
entrypoint: model.py:build_model
techniques: []
description: A bigram table.
"""
# The bigram, unless the key (or its value) is anywhere in its environment: then its scores
# are turned over, which every perplexity it is given would show.
SNIFFER = """
import os

KEY = {key!r}
SEEN = bool(os.environ.get("OLYMPICS_PRIVATE_KEY")) or any(KEY in v for v in os.environ.values())
"""
MEMORISER = '''
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
RECORDS = {records!r}
IDS = {ids!r}


class Memoriser:
    """The bigram, except on the public held-out records, which it knows by heart."""

    def reset(self, batch):
        self.seen = [""] * batch

    def step(self, tokens):
        out = TABLE[tokens].copy()
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
            for record in RECORDS:
                if record.startswith(self.seen[b]) and len(record) > len(self.seen[b]):
                    out[b, IDS.index(record[len(self.seen[b])])] = 50.0
                    break
        return out


def build_model():
    return Memoriser()
'''


def team(tmp: Path, name: str, source: str | None = None, key: str = "") -> Path:
    header = SNIFFER.format(key=key) if key else ""
    folder = model(tmp, name, "* (-1.0 if SEEN else 1.0)" if key else "", header).folder
    if source is not None:
        (folder / "model.py").write_text(source)
    (folder / "submission.yaml").write_text(YAML.format(team=name))
    return folder


def graded_in(root: Path, folder: Path, key: bytes | None, tmp: Path) -> dict:
    """A quick grade in ``root`` (its rules), the key in the environment where given."""
    rules = load_rules(root / "events.yaml")
    base = model(tmp, f"base-{folder.name}").folder
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OLYMPICS_ROOT", str(root))
        mp.delenv(private.KEY_ENV, raising=False)
        if key is not None:
            mp.setenv(private.KEY_ENV, key.decode())
        private.take_key.cache_clear()
        try:
            doc = grade(folder, rules, QUICK, quick=True, baseline_folder=base, seed=11)
            assert os.environ.get(private.KEY_ENV) is None  # taken out before any child
        finally:
            private.take_key.cache_clear()
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    return doc


@pytest.fixture(scope="module")
def final(course, tmp_path_factory) -> dict:
    """The sniffing bigram graded in the final phase with the key set."""
    tmp = tmp_path_factory.mktemp("final")
    key = course["key_file"].read_bytes().strip()
    folder = team(tmp, "honest", key=key.decode())
    return graded_in(course["root"], folder, key, tmp)


def by_hand(pairs: list[text.Pair]) -> float:
    """The bigram's answer perplexity over ``pairs``, computed here from its table."""
    nll = chars = 0.0
    for pair in pairs:
        ids = text.encode(text.record(pair))
        at = np.arange(len(text.prompt(pair.question)) - 1, len(ids) - 1)
        nll += -log_softmax(TABLE[ids[:-1]])[at, ids[at + 1]].sum()
        chars += len(at)
    return math.exp(nll / chars)


def test_the_final_phase_ranks_perplexity_on_the_sealed_records(course, final) -> None:
    rules = course["rules"]
    assert verify.check(final, rules, "result.json") == []
    scored = final["measurement"]["text"]["scored"]
    kinds = [s["kind"] for s in scored]
    # A quick grade's share of each: the sealed records in the place of half the public ones,
    # walked apart: the scored records (and every per-record array) are the public ones.
    q = QUICK_GENERATION
    assert (kinds.count("test"), kinds.count("probe")) == (q.private_held_out, q.private_probes)
    assert final["private"]["records"] == q.private_records
    for side in ("baseline", "optimized"):
        observed = final[side]["metrics"]["text"]
        assert len(observed["record_nll"]) == len(observed["greedy"]) == len(scored)
    # The sealed records' text is nowhere in the result.
    dumped = json.dumps(final)
    assert not any(p.question in dumped or p.answer in dumped for p in PAIRS)
    # Its perplexity there is the bigram's own over the records the sealed file's sha256
    # draws, from the summed NLL rounded to a whole nat; the interval's ends on the 1 % grid.
    sha = rules.datasets["tinytalks"]["sealed"]["private"]["sha256"]
    drawn = sealedtext.drawn(PAIRS, QUICK_GENERATION.private_records, sha)
    metrics, imp = final["optimized"]["metrics"], final["improvements"]
    total = final["private"]["optimized"]["total"]
    assert total == sum(len(p.answer) + 2 for p in drawn)  # the space and the newline
    assert math.log(metrics["private_perplexity"]) == pytest.approx(
        math.log(by_hand(drawn)), abs=0.5 / total
    )
    low, high = metrics["private_perplexity_ci95"]
    assert low < by_hand(drawn) < high
    assert all(abs(100 * math.log(x) - round(100 * math.log(x))) < 1e-9 for x in (low, high))
    assert metrics["perplexity"] == pytest.approx(
        by_hand([text.Pair(s["question"], s["reference"]) for s in scored if s["kind"] == "test"]),
        rel=1e-9,
    )
    quality = final["events"]["generation_quality"]
    assert quality["score"] == metrics["private_perplexity"]
    assert quality["score_ci95"] == metrics["private_perplexity_ci95"]
    assert imp["accuracy_split"] == "private" and imp["private_perplexity"] == quality["score"]
    # The key never reached the child: the sniffer answered as the plain bigram does.
    assert final["private"]["optimized"] == final["private"]["baseline"]
    assert imp["perplexity_ratio"] == pytest.approx(1.0)
    assert imp["perplexity_gap"] == pytest.approx(1.0)
    assert "sealed_gap" not in {f["id"] for f in final["flags"]}
    assert final["private"]["available"] and final["private"]["kind"] == "course"
    assert store.stale_reason(final, rules) is None


def test_the_card_shows_the_sealed_perplexity_and_the_final_phase(final) -> None:
    card = render.card(final)
    labels = [row[0] for row in card["metrics"]]
    assert labels[:2] == ["perplexity (held-out answers)", "perplexity (sealed private answers)"]
    notes = " ".join(card["notes"])
    assert "final phase: perplexity, accuracy and the scores use the course's sealed Q&A" in notes
    q = QUICK_GENERATION
    assert (
        f"{q.private_held_out} held-out questions, {q.private_records} of the course's"
        f" sealed Q&A and {q.private_probes} composed"
    ) in notes


def test_a_memoriser_of_the_public_test_loses_its_advantage_in_the_final_phase(
    course, final, tmp_path
) -> None:
    """A table of the public test records: perplexity near 1 there, the bigram's on the
    sealed records, which the final phase ranks on."""
    records = [text.record(p) for p in PUBLIC["test"]]
    source = MEMORISER.format(records=records, ids=text.CHARACTERS + "?")
    key = course["key_file"].read_bytes().strip()
    doc = graded_in(course["root"], team(tmp_path, "memo", source), key, tmp_path)
    sub, base, imp = doc["optimized"]["metrics"], doc["baseline"]["metrics"], doc["improvements"]
    assert sub["perplexity"] / base["perplexity"] < 0.2  # the public answers, memorised
    assert imp["perplexity_ratio"] == pytest.approx(1.0)  # the sealed ones, the bigram's
    assert imp["perplexity_gap"] > 5
    assert "sealed_gap" in {f["id"] for f in doc["flags"]}  # the warning above 1.5
    score = doc["events"]["generation_quality"]["score"]
    honest = final["events"]["generation_quality"]["score"]
    assert score == sub["private_perplexity"] == pytest.approx(honest, rel=1e-9)
    # In the public phase the same observations rank the memorised perplexity.
    public = derive.derive(doc, RULES)
    assert public["improvements"]["accuracy_split"] == "public"
    assert public["events"]["generation_quality"]["score"] == sub["perplexity"] < honest / 5
    assert public["improvements"]["perplexity_gap"] == imp["perplexity_gap"]


# The bigram in its walks (so every check of its answers passes), which keeps across reset
# each walk's first record that is neither public nor composed (a sealed one) and writes
# them out as its greedy answer to the first question of its first batch: published text.
LEAKER = """
import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
PUBLIC = {public!r}
IDS = {ids!r}


class Leaker:
    def __init__(self):
        self.secrets, self.seen, self.batches = [], [], 0

    def reset(self, batch):
        if len(self.seen) == 1:  # a walk ended: its first record, if sealed, is kept
            lines = self.seen[0].split("\\n")
            question = lines[0][3:]
            if len(lines) > 2 and lines[0].startswith("Q: ") and question not in PUBLIC and not any(
                c.isdigit() for c in question
            ) and "comes" not in question:
                self.secrets.append(question + " " + lines[1][3:])
        self.seen = [""] * batch
        self.said = 0
        self.batches += batch > 1  # one answer only: its agreement with the walks passes

    def step(self, tokens):
        out = TABLE[tokens].copy()
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
        if self.batches == 1 and self.secrets and "\\nA:" in self.seen[0]:
            leak = " ".join(self.secrets)[:60] + "\\n"
            out[0] = 0.0
            out[0, IDS.index(leak[min(self.said, len(leak) - 1)])] = 50.0
            self.said += 1
        return out


def build_model():
    return Leaker()
"""


def test_a_sealed_record_kept_across_reset_is_never_written_into_a_greedy_answer(
    course, final, tmp_path
) -> None:
    """A model that keeps the sealed records it walked and writes them into its greedy
    answers to public questions (text the result publishes) meets no sealed record where it
    answers greedily: those children walk nothing."""
    public = sorted({p.question for split in PUBLIC.values() for p in split})
    source = LEAKER.format(public=public, ids=text.CHARACTERS + "?")
    key = course["key_file"].read_bytes().strip()
    doc = graded_in(course["root"], team(tmp_path, "leaker", source), key, tmp_path)
    dumped = json.dumps(doc)
    leaked = [p for p in PAIRS if p.question[:20] in dumped or p.answer[:20] in dumped]
    assert leaked == []
    # Its greedy answers are the plain bigram's, as it had seen nothing to leak.
    sub, base = doc["optimized"]["metrics"]["text"], doc["baseline"]["metrics"]["text"]
    assert sub["greedy"] == base["greedy"]
    # and its walks the bigram's: the sealed records were walked as in any grade.
    assert doc["private"]["optimized"] == final["private"]["optimized"]


def test_store_refuses_a_final_phase_text_result_not_ranked_on_the_sealed_split(
    course, final, tmp_path
) -> None:
    rules = course["rules"]
    doc = graded_in(course["root"], team(tmp_path, "nokey"), None, tmp_path)
    assert doc["private"] == {
        "available": False,
        "reason": private.unavailable(rules, "tinytalks", None),
        "baseline": None,
        "optimized": None,
    }
    assert "OLYMPICS_PRIVATE_KEY is not set" in doc["private"]["reason"]
    assert doc["improvements"]["accuracy_split"] == "public"
    assert "perplexity_gap" not in doc["improvements"]
    assert "private split not scored here" in " ".join(render.card(doc)["notes"])
    why = store.stale_reason(doc, rules)
    assert why and "graded without the sealed Q&A split" in why
    (tmp_path / "nokey.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="graded without the sealed Q&A split"):
        store.store(tmp_path / "nokey.json", tmp_path / "results", rules)
    (tmp_path / "final.json").write_text(json.dumps(final))
    assert store.store(tmp_path / "final.json", tmp_path / "results", rules, quick=True).exists()
    # Where events.yaml has no sealed Q&A at all (the repository's own), the reason says so
    # (under those rules the result is stale in any case: they are other rules).
    events = (ROOT / "events.yaml").read_text().replace("\nphase: public\n", "\nphase: final\n")
    (tmp_path / "events.yaml").write_text(events)
    bare = load_rules(tmp_path / "events.yaml")
    assert "tinytalks has none in events.yaml" in store.final_phase_problem(doc, bare)
    assert "olympics seal tinytalks --text FILE" in leaderboard.split_kinds(bare)
    assert "ranks perplexity on the course's own sealed Q&A" in leaderboard.split_kinds(rules)


def edited(doc: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value(target[path[-1]]) if callable(value) else value
    return out


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        (("private", "optimized", "total"), lambda n: n + 1, "observations_invalid"),
        (("private", "optimized", "perplexity_ci95", 0), lambda x: x * 1.001,
         "observations_invalid"),
        (("private", "perplexity_ratio_ci95", 1), lambda x: x * 0.999, "observations_invalid"),
        (("private", "optimized", "nll"), lambda n: n - 1, "derived_mismatch"),
        (("private", "optimized", "nll"), 10**6, "observations_invalid"),
        (("private", "optimized", "correct"), lambda n: n - 1, "derived_mismatch"),
        (("private", "optimized", "nll"), 12.5, "schema"),
        (("measurement", "text", "scored", -1, "kind"), "private", "schema"),
        (("optimized", "metrics", "private_perplexity"), 1.5, "derived_mismatch"),
        (("improvements", "perplexity_gap"), 1.0001, "derived_mismatch"),
    ],
    ids=["private-total", "private-interval-off-grid", "ratio-interval-off-grid",
         "private-nll", "private-nll-above-clip", "private-correct", "private-nll-unrounded",
         "sealed-record-among-the-scored", "private-perplexity", "gap"],
)  # fmt: skip
def test_an_edited_sealed_observation_is_refused(course, final, path, value, rule) -> None:
    problems = verify.check(edited(final, path, value), course["rules"], "result.json")
    assert problems and {p.rule for p in problems} == {rule}, problems


def test_the_public_phase_shows_the_sealed_split_and_ranks_the_public_one(final) -> None:
    """``--private`` in the public phase: the sealed perplexity shown, the public ranked."""
    derived = derive.derive(final, RULES)
    assert derived["improvements"]["accuracy_split"] == "public"
    sub = final["optimized"]["metrics"]
    assert derived["events"]["generation_quality"]["score"] == sub["perplexity"]
    assert derived["improvements"]["private_perplexity"] == sub["private_perplexity"]


def test_a_grade_with_the_sealed_records_asks_for_the_complete_sandbox(
    course, tmp_path, monkeypatch
) -> None:
    """The sealed records are fed to a submission only inside the complete sandbox."""
    from grader import gradetext

    seen = []

    class Stop(Exception):
        pass

    def referee(scored, filler, vocab, plan, *args, **kwargs):
        seen.append((plan.require_sandbox, scored))
        raise Stop

    monkeypatch.setattr(gradetext, "GenerationReferee", referee)
    monkeypatch.setenv("OLYMPICS_ROOT", str(course["root"]))
    folder = team(tmp_path, "sandboxed")
    for key in (course["key_file"].read_text(), None):
        monkeypatch.delenv(private.KEY_ENV, raising=False)
        if key:
            monkeypatch.setenv(private.KEY_ENV, key)
        private.take_key.cache_clear()
        try:
            with pytest.raises(Stop):
                grade(folder, course["rules"], QUICK, quick=True, seed=3)
        finally:
            private.take_key.cache_clear()
    (sealed, walked), (public, walked_public) = seen
    q = QUICK_GENERATION
    # The timed sessions' referee walks (and asks) the public records only, either way.
    assert sealed is True and len(walked) == q.private_held_out + q.private_probes
    assert not set(walked) & set(PAIRS)
    assert public is False and len(walked_public) == q.held_out + q.probes


def test_the_sealed_records_take_the_place_of_half_the_public_ones() -> None:
    """A full grade walks as many records with the sealed Q&A as without it (the 90 s
    budget), and asks half as many greedily; a quick grade one more."""
    for plan in (GenerationPlan(), QUICK_GENERATION):
        public = (plan.held_out or 46) + plan.probes
        sealed = plan.sealed()
        walked = sealed.held_out + sealed.probes + sealed.private_records
        assert walked - public in (0, 1), (plan, walked)
        assert sealed.private_records >= sealed.held_out
        assert (sealed.sessions, sealed.replays, sealed.length) == (
            plan.sessions,
            plan.replays,
            plan.length,
        )


def test_a_sealed_file_that_is_not_q_and_a_is_refused_without_quoting_it(tmp_path) -> None:
    """A grader error goes to the workflow's public log: it names the file, not its text."""
    from grader.errors import DataError

    root = checkout(tmp_path, "public")
    key = private.new_key()
    secret = "Q: What is the secret?\nSwordfish, said the answer.\n"  # parse would quote it
    token = private.seal(secret.encode(), key)
    (root / "data" / "tinytalks" / "odd.fernet").write_bytes(token)
    sha = hashlib.sha256(token).hexdigest()
    record_entry(root, f"{{file: data/tinytalks/odd.fernet, sha256: {sha}, kind: course}}")
    rules = load_rules(root / "events.yaml")
    with pytest.raises(DataError, match="holds no Q&A records") as raised:
        sealedtext.load(rules, "tinytalks", key, root)
    assert "Swordfish" not in raised.value.message
    with pytest.raises(DataError, match="does not open this file"):
        sealedtext.load(rules, "tinytalks", private.new_key(), root)


# The bigram, except that it keeps across reset every walk's first record that is neither
# public nor composed (a sealed one) and codes its characters, two at a time, into the
# score of the first answer character (always a space) of each later walk that opens with a
# public record: the space stays the arg-max, by a margin (in every walk and every greedy
# answer, so no check of its answers sees it), and its negative log-likelihood is
# ``STEP * (1 + 68 * a + b)`` for the next two characters ``a``, ``b`` (0 where nothing is
# left to send). The result publishes that record's summed NLL as a float64.
SMUGGLER = """
import math

import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
PUBLIC = {public!r}
IDS = {ids!r}
STEP = {step!r}


def public(question):
    return question in PUBLIC or any(c.isdigit() for c in question) or "comes" in question


class Smuggler:
    def __init__(self):
        self.secret, self.sent, self.seen = "", 0, []

    def reset(self, batch):
        if len(self.seen) == 1:  # a walk ended: its first record, if sealed, is kept
            lines = self.seen[0].split("\\n")
            if len(lines) > 2 and lines[0].startswith("Q: ") and not public(lines[0][3:]):
                self.secret += lines[0][3:] + " " + lines[1][3:]
        self.seen = [""] * batch

    def step(self, tokens):
        out = TABLE[tokens].copy()
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
            seen = self.seen[b]
            if not (seen.endswith("\\nA:") and seen.count("\\n") == 1):
                continue
            code = 0
            if len(self.seen) == 1 and public(seen[3:-3]) and self.sent + 2 <= len(self.secret):
                a, c = self.secret[self.sent : self.sent + 2]
                code, self.sent = 1 + len(IDS) * IDS.index(a) + IDS.index(c), self.sent + 2
            out[b] = -40.0
            out[b, IDS.index(" ")] = 0.0
            if code:
                out[b, IDS.index("x")] = math.log(math.expm1(STEP * code))
        return out


def build_model():
    return Smuggler()
"""
STEP = 1e-4
IDS = text.CHARACTERS


def rest_nll(pair: text.Pair) -> float:
    """The bigram's summed NLL over ``pair``'s answer characters but the first."""
    ids = text.encode(text.record(pair))
    at = np.arange(len(text.prompt(pair.question)), len(ids) - 1)
    return float(-log_softmax(TABLE[ids[:-1]])[at, ids[at + 1]].sum())


def decoded(x: float, rest: float) -> str | None:
    """The two characters the smuggler coded into a record's NLL ``x`` (``rest``: the other
    characters' share), or None where ``x`` carries no code."""
    v = round((x - rest) / STEP)
    if not 1 <= v <= len(IDS) ** 2 or abs(x - rest - v * STEP) > 1e-6:
        return None
    return IDS[(v - 1) // len(IDS)] + IDS[(v - 1) % len(IDS)]


def floats(doc) -> list[float]:
    """Every float in a JSON document."""
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in floats(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in floats(v)]
    return [doc] if isinstance(doc, float) else []


def read_back(doc: dict, secrets: list[str]) -> tuple[int, int]:
    """What the smuggler's code gives back from ``doc``: the characters of sealed text
    decoded from the public records' NLLs, and the two-character pieces of sealed text
    found by decoding every float of the result against every public record."""
    scored = doc["measurement"]["text"]["scored"]
    nll = doc["optimized"]["metrics"]["text"]["record_nll"]
    rests = {
        i: rest_nll(text.Pair(s["question"], s["reference"]))
        for i, s in enumerate(scored)
        if s["kind"] != "private"
    }
    # Each process sends the sealed records it walked, one after another, two characters a
    # public record: every piece decoded there that is sealed text was read back.
    sent = [decoded(nll[i], rest) for i, rest in rests.items()]
    matched = sum(2 for p in sent if p is not None and any(p in t for t in secrets))
    pieces = [decoded(x, rest) for x in floats(doc) for rest in rests.values()]
    found = sum(1 for p in pieces if p is not None and any(p in t for t in secrets))
    return matched, found


def test_a_sealed_record_kept_across_reset_is_never_coded_into_a_published_number(
    course, tmp_path, monkeypatch
) -> None:
    """A model that keeps the sealed records it walked and codes them into the score of a
    later public record's first answer character, which the result publishes as that
    record's NLL: the processes that walk a sealed record never walk a public one, and of
    them the result keeps only rounded sums (docs/DESIGN.md, Generation)."""
    from grader import gradetext

    plan = dataclasses.replace(
        QUICK_GENERATION, sessions=2, replays=1, private_held_out=6, private_probes=2
    )
    monkeypatch.setattr(gradetext, "QUICK_GENERATION", plan)
    public = sorted({p.question for split in PUBLIC.values() for p in split})
    source = SMUGGLER.format(public=public, ids=IDS, step=STEP)
    key = course["key_file"].read_bytes().strip()
    doc = graded_in(course["root"], team(tmp_path, "smuggler", source), key, tmp_path)
    secrets = [p.question + " " + p.answer for p in PAIRS]
    matched, found = read_back(doc, secrets)
    print(f"sealed characters read back: {matched}; pieces found among all floats: {found}")
    assert (matched, found) == (0, 0)
    assert doc["events"]["generation_quality"]["qualified"] is not False


# The bigram, which answers NaN (bad_output) once its process has opened walks with both a
# sealed record and a public one: it says so if any process sees both kinds.
MIXER = SMUGGLER.replace(
    "            code = 0\n",
    "            if seen.startswith('Q: '):  # a record; a blind walk opens with a letter\n"
    "                self.kinds = getattr(self, 'kinds', set()) | {{public(seen[3:-3])}}\n"
    "            if len(getattr(self, 'kinds', ())) == 2:\n"
    "                return out * np.nan\n"
    "            code = 0\n",
)


def test_no_process_walks_both_a_sealed_and_a_public_record(course, tmp_path, monkeypatch):
    from grader import gradetext

    plan = dataclasses.replace(QUICK_GENERATION, sessions=2, replays=1)
    monkeypatch.setattr(gradetext, "QUICK_GENERATION", plan)
    public = sorted({p.question for split in PUBLIC.values() for p in split})
    source = MIXER.format(public=public, ids=IDS, step=STEP)
    assert source != SMUGGLER.format(public=public, ids=IDS, step=STEP)
    key = course["key_file"].read_bytes().strip()
    doc = graded_in(course["root"], team(tmp_path, "mixer", source), key, tmp_path)
    assert doc["private"]["available"] and doc["private"]["records"] == plan.private_records


# The bigram, until a walk of one sequence opens with a record that is neither public nor
# composed (a sealed one): once that record's answer has been fed to it, it tells the text
# it was fed the one way a failing child is heard, its error message or its stderr.
BLURTER = """
import os
import sys

import numpy as np

TABLE = np.random.default_rng(5).standard_normal((69, 69)).astype(np.float32)
PUBLIC = {public!r}
IDS = {ids!r}


def public(question):
    return question in PUBLIC or any(c.isdigit() for c in question) or "comes" in question


class Blurter:
    def reset(self, batch):
        self.seen = [""] * batch

    def step(self, tokens):
        for b, t in enumerate(tokens):
            self.seen[b] += IDS[int(t)]
        seen = self.seen[0]
        record = seen.startswith("Q: ") and seen.count("\\n") == 2  # a blind walk: a letter
        if len(self.seen) == 1 and record and not public(seen[3:].split("\\n")[0]):
            {blurt}
        return TABLE[tokens]


def build_model():
    return Blurter()
"""
BLURTS = {
    "raises": 'raise RuntimeError("fed: " + seen)',
    "exits": 'sys.stderr.write("fed: " + seen); sys.stderr.flush(); os._exit(3)',
}


# Words of the course's records that no public record has, nor any text a grade prints.
DISTINCT = {"violin", "penguins", "thermometer", "squirrels", "elephant", "ostrich", "kitten",
            "firefighters", "shovel", "lemon", "bicycle", "puppy", "quack", "bakers"}  # fmt: skip


def test_the_distinct_words_are_the_course_s_own() -> None:
    def words(pairs) -> set[str]:
        said = " ".join(f"{p.question} {p.answer}" for p in pairs)
        return {w.strip(".,?!'").lower() for w in said.split()}

    public = [p for split in PUBLIC.values() for p in split]
    assert words(PAIRS) - words(public) >= DISTINCT


@pytest.mark.parametrize("how", sorted(BLURTS))
def test_a_failure_fed_the_sealed_records_publishes_none_of_their_text(
    course, tmp_path, monkeypatch, capfd, how
) -> None:
    """A model that fails in the sealed session with the text it was fed in its error
    message (``raises``) or its last output (``exits``): ``olympics grade`` (its result JSON,
    Markdown card and terminal output, and whatever reached the process's own streams)
    carries none of it, and the verdict says the details are not published."""
    from grader import gradetext
    from grader.cli import grading

    public = sorted({p.question for split in PUBLIC.values() for p in split})
    source = BLURTER.format(public=public, ids=text.CHARACTERS + "?", blurt=BLURTS[how])
    folder = team(tmp_path, f"blurter-{how}", source)
    base = model(tmp_path, "base").folder
    heard = []  # the submission's own message, as the grader heard it before the verdict

    def referee_verdict(exc, private: bool) -> dict:
        heard.append((exc.message, private))
        return verdict(exc, private)

    verdict = gradetext.build.referee_verdict
    monkeypatch.setattr(gradetext.build, "referee_verdict", referee_verdict)
    monkeypatch.setattr(grading, "grade", functools.partial(grade, baseline_folder=base))
    monkeypatch.setenv("OLYMPICS_ROOT", str(course["root"]))
    monkeypatch.setenv(private.KEY_ENV, course["key_file"].read_text().strip())
    private.take_key.cache_clear()
    result, card = tmp_path / "result.json", tmp_path / "card.md"
    try:
        code, out, err = run("grade", str(folder), "--quick", "--seed", "11",
                             "--json", str(result), "--markdown", str(card))  # fmt: skip
    finally:
        private.take_key.cache_clear()
    streams = capfd.readouterr()
    assert code == 2, out + err
    # The model did fail in the sealed session, with a sealed record's whole text.
    [(message, sealed)] = heard
    assert sealed is True
    fed = [p for p in PAIRS if p.question in message and p.answer in message]
    assert len(fed) == 1, message
    # and none of it is anywhere the grade published.
    doc = json.loads(result.read_text())
    assert doc["verdict"]["status"] == "rejected" and doc["verdict"]["code"] == "crashed"
    assert "details are not published" in doc["verdict"]["message"]
    published = {"json": result.read_text(), "markdown": card.read_text(), "stdout": out,
                 "stderr": err, "fd 1": streams.out, "fd 2": streams.err}  # fmt: skip
    assert "details are not published" in card.read_text() and "details are not" in out
    for where, shown in published.items():
        assert "fed:" not in shown, where
        assert not any(p.question in shown or p.answer in shown for p in PAIRS), where
        assert not [w for w in DISTINCT if w in shown.lower()], where
