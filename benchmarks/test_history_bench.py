"""The history charts at scale: 1,000 teams with three stored grades each, their charts
regenerated as ``olympics leaderboard`` does on every push.

    python -m pytest benchmarks/test_history_bench.py -s --benchmark-enable

(In the test suite's smoke mode, conftest.py, the store holds 10 teams and no target is
checked.)

The store is made from one real grade (``tests/data/result_example_int8.json``): each team's
three grades are byte-different copies (team, time, content hash, scaled score) whose rows
are recorded in the history's cache as a verifying run would have left them (verifying a
current result cold costs about 0.1 s: the leaderboard benchmark measures that). Measured:
drawing every chart (cold: the first regeneration after a new grade or a new grader), and a
warm regeneration, where every chart's rows and file are those it was drawn from, so none
is drawn again. The targets: warm within 5 s (reading 3,000 rows and 1,000 chart files).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from grader import __version__
from grader.config import load_rules, project_root
from grader.publish import history, historychart, store, verified
from grader.result import dependencies, jsonfile

RULES = load_rules()
SOURCE = json.loads((project_root() / "tests" / "data" / "result_example_int8.json").read_text())
TEAMS = 1_000
DATES = ("2026-11-01T10:00:00Z", "2026-11-08T10:00:00Z", "2026-11-15T10:00:00Z")


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory, smoke: bool) -> tuple[Path, Path, int]:
    n = 10 if smoke else TEAMS
    root = tmp_path_factory.mktemp("store") / "results"
    template = copy.deepcopy(SOURCE)
    template["grader"].update(version=__version__, dependencies_sha256=dependencies.fingerprint(),
                              rules_sha256=RULES.sha256)  # fmt: skip
    rows, stamps = {}, {}
    past = time.time_ns() - 10_000_000_000  # out of the racy window: stamps are recorded
    for i in range(n):
        for k, when in enumerate(DATES):
            doc = copy.deepcopy(template)
            doc["submission"]["team"] = f"team-{i:05d}"
            doc["submission"]["content_sha256"] = f"{i * 3 + k:064x}"
            doc["timestamp"] = when
            doc["improvements"]["speedup"] *= 1 + k / 10
            path = store.place(doc, root, "bench")
            path.parent.mkdir(parents=True, exist_ok=True)
            data = jsonfile.dumps(doc).encode()
            path.write_bytes(data)
            os.utime(path, ns=(past, past))
            digest = hashlib.sha256(data).hexdigest()
            rows[digest] = history.grade_row(doc, str(path), RULES)
            info = os.stat(path)
            stamps[str(path)] = [info.st_size, info.st_mtime_ns, digest]
    verified.save_cache(root, RULES, rows, stamps, history.CACHE)
    folder = root.parent / "board"
    folder.mkdir()
    return root, folder, n


def test_history_charts_of_1000_teams_regenerate_warm_within_5_seconds(
    big_store: tuple[Path, Path, int], benchmark, smoke: bool
) -> None:
    root, folder, n = big_store
    started = time.perf_counter()
    made, problems = historychart.charts(root, RULES, folder)  # cold: every chart drawn
    cold = time.perf_counter() - started
    assert len(made) == n and problems == []
    for name, svg in made.items():
        (folder / name).write_bytes(svg)

    def regenerate() -> int:
        return len(historychart.charts(root, RULES, folder)[0])

    assert benchmark.pedantic(regenerate, rounds=3, iterations=1) == n
    if smoke:
        return
    seconds = benchmark.stats.stats.min
    print(f"\n{n} teams x 3 grades: history charts drawn cold in {cold:.1f} s "
          f"({cold / n * 1e3:.0f} ms a chart); warm {seconds:.2f} s (least of 3)")  # fmt: skip
    assert seconds < 5.0
