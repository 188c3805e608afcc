"""The sealed private split and the final phase (docs/DESIGN.md, Data).

The repository's own sealed split cannot be opened here: its key is a secret. The tests
seal a stand-in of their own (real digits from the public test split) with a key of their
own, in a course's checkout under a temporary folder, and grade against it as the
leaderboard workflow does: in a subprocess, the key in the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.cli.scaffold import init
from grader.config import load_rules, project_root
from grader.data import private
from grader.data.deform import deform
from grader.data.workloads import as_inputs, deterministic_npz, get_workload, load_split
from grader.errors import ConfigError, DataError
from grader.grade import DEFORM_STREAM
from grader.publish import store

ROOT = project_root()
RULES = load_rules()
STAND_IN = 400  # samples of the stand-in private split


@pytest.fixture
def key() -> bytes:
    return private.new_key()


def course(tmp: Path, key: bytes, phase: str = "final") -> Path:
    """A checkout whose events.yaml points at a stand-in private split sealed with ``key``."""
    root = tmp / "course"
    root.mkdir()
    shutil.copytree(ROOT / "baselines", root / "baselines")
    shutil.copytree(ROOT / "data", root / "data", ignore=shutil.ignore_patterns("*.fernet"))
    images, labels = load_split(RULES, "digits", "test")
    plain = deterministic_npz(x=images[-STAND_IN:], y=labels[-STAND_IN:])
    token = private.seal(plain, key)
    (root / "data" / "digits" / "stand-in.fernet").write_bytes(token)
    text = (ROOT / "events.yaml").read_text()
    sealed = RULES.datasets["digits"]["sealed"]["private"]
    text = text.replace(sealed["file"], "data/digits/stand-in.fernet")
    text = text.replace(sealed["sha256"], hashlib.sha256(token).hexdigest())
    text = text.replace("\nphase: public\n", f"\nphase: {phase}\n")
    (root / "events.yaml").write_text(text)
    return root


def test_the_stand_in_opens_with_its_key_and_nothing_else(tmp_path: Path, key: bytes) -> None:
    root = course(tmp_path, key)
    rules = load_rules(root / "events.yaml")
    images, labels = private.load(rules, "digits", key, root)
    assert images.shape == (STAND_IN, 784) and labels.shape == (STAND_IN,)
    with pytest.raises(DataError, match="does not open this file") as info:
        private.load(rules, "digits", private.new_key(), root)
    assert "stand-in.fernet" in info.value.message
    sealed = root / "data" / "digits" / "stand-in.fernet"
    token = bytearray(sealed.read_bytes())
    token[len(token) // 2] ^= 1
    sealed.write_bytes(bytes(token))
    with pytest.raises(DataError, match="does not match"):  # fingerprinted, and authenticated
        private.load(rules, "digits", key, root)


def test_a_split_sealed_again_needs_its_new_sha256(tmp_path: Path, key: bytes) -> None:
    root = course(tmp_path, key)
    other = deterministic_npz(x=np.zeros((2, 784), np.uint8), y=np.zeros(2, np.uint8))
    (root / "data" / "digits" / "stand-in.fernet").write_bytes(private.seal(other, key))
    with pytest.raises(DataError, match="record the sha256 the sealing printed"):
        private.load(load_rules(root / "events.yaml"), "digits", key, root)


def test_the_shipped_split_is_sealed_and_says_what_it_needs() -> None:
    entry = RULES.datasets["digits"]["sealed"]["private"]
    token = (ROOT / entry["file"]).read_bytes()
    assert token.startswith(b"gAAAAA")  # a Fernet token, not an .npz (which starts "PK")
    assert "OLYMPICS_PRIVATE_KEY is not set" in private.unavailable(RULES, "digits", None)
    with pytest.raises(DataError, match="does not open this file"):
        private.load(RULES, "digits", private.new_key())


def test_the_key_is_taken_out_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    private.take_key.cache_clear()
    monkeypatch.setenv(private.KEY_ENV, " the-key \n")
    try:
        assert private.take_key() == b"the-key"
        assert private.KEY_ENV not in os.environ
        assert private.take_key() == b"the-key"  # kept for the other grades of this process
    finally:
        private.take_key.cache_clear()


# The baseline, unless the key (or its value) is anywhere in the child's environment: then
# every answer is class 0, which the private and public accuracy would both show.
SNIFFER = """
import os

_KEY = {key!r}


def build_model():
    model = build_baseline()
    seen = os.environ.get("OLYMPICS_PRIVATE_KEY") or any(_KEY in v for v in os.environ.values())
    if seen:
        return lambda x: np.eye(10, dtype=np.float32)[np.zeros(len(x), dtype=int)]
    return model
"""


def grade(root: Path, folder: Path, key: bytes | None, out: Path) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if k != private.KEY_ENV}
    env["OLYMPICS_ROOT"] = str(root)
    if key is not None:
        env[private.KEY_ENV] = key.decode()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(folder), "--quick", "--seed", "3",
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    doc = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, doc, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_the_final_phase_ranks_on_the_private_split(tmp_path: Path, key: bytes) -> None:
    root = course(tmp_path, key)
    rules = load_rules(root / "events.yaml")
    folder = init("final-team", "mlp_sprint", ["latency_sprint", "accuracy_contest"], rules,
                  root, ["ada"])  # fmt: skip
    model = folder / "model.py"
    text = model.read_text().replace("def build_model():", "def build_baseline():", 1)
    model.write_text(text + SNIFFER.format(key=key.decode()))

    code, doc, output = grade(root, folder, key, tmp_path / "final.json")
    assert code in (0, 1), output[-2000:]
    assert key.decode() not in output + json.dumps(doc)

    # The parent's count, against the baseline run here on the same stand-in split as the
    # grade deformed it (from its seed: the public digits first, then the private ones).
    workload = get_workload(rules, "mlp_sprint", root)
    images, labels = private.load(rules, "digits", key, root)
    spec = rules.datasets["digits"]["deform"]
    moves = np.random.default_rng([doc["measurement"]["seed"], DEFORM_STREAM])
    deform(load_split(rules, "digits", "test", root)[0], spec, moves)
    images = deform(images, spec, moves)
    with np.load(workload.baseline / "weights.npz") as f:
        w = {k: f[k] for k in f.files}
    h = np.maximum(as_inputs(images, workload) @ w["w1"] + w["b1"], 0)
    h = np.maximum(h @ w["w2"] + w["b2"], 0)
    expected = int(np.sum((h @ w["w3"] + w["b3"]).argmax(axis=1) == labels))
    assert doc["private"]["available"] is True
    counts = doc["private"]["baseline"]
    correct = counts["correct"]
    # Scored at one noisy presentation each (noise under half a grey level): an answer or
    # two of a near-tie may differ from the noiseless image's.
    assert counts["total"] == STAND_IN and abs(correct - expected) <= 2
    assert doc["private"]["optimized"] == counts  # the key never reached the child
    assert doc["improvements"]["accuracy_split"] == "private"
    assert doc["improvements"]["private_accuracy"] == correct / STAND_IN
    rule = doc["events"]["latency_sprint"]["rules"][0]
    assert rule["metric"] == "accuracy" and rule["actual"] == correct / STAND_IN
    assert doc["events"]["accuracy_contest"]["score"] == correct / STAND_IN
    assert store.stale_reason(doc, rules) is None

    # Without the key the grade goes on, says why, and the leaderboard will not rank it.
    code, public, output = grade(root, folder, None, tmp_path / "public.json")
    assert code in (0, 1), output[-2000:]
    assert public["private"] == {
        "available": False,
        "reason": private.unavailable(rules, "digits", None),
        "baseline": None,
        "optimized": None,
    }
    assert public["improvements"]["accuracy_split"] == "public"
    assert "graded without the private split" in store.stale_reason(public, rules)
    assert "private split not scored here" in output

    # The leaderboard of the final phase: the private grade ranked, the public one stale.
    from grader.publish import leaderboard

    results = tmp_path / "results"
    store.store(tmp_path / "final.json", results, rules, quick=True)  # graded --quick here
    text = leaderboard.build(store.latest(results, rules), rules, tmp_path)
    assert "**Final phase**: ranked on the sealed private test split." in text
    assert "| 1 | final\\-team |" in text
    (tmp_path / "later.json").write_text(json.dumps(public))
    with pytest.raises(ConfigError, match="graded without the private split"):
        store.store(tmp_path / "later.json", results, rules)  # not stored, never ranked
    assert "**Final phase, unavailable**" in leaderboard.build([], rules, tmp_path)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_failure_in_the_final_phase_publishes_no_detail(tmp_path: Path, key: bytes) -> None:
    """A model's error text could carry the private inputs it saw out into the results."""
    root = course(tmp_path, key)
    rules = load_rules(root / "events.yaml")
    folder = init("leaky-team", "mlp_sprint", ["latency_sprint"], rules, root, ["ada"])
    (folder / "model.py").write_text(
        "import numpy as np\n\n\ndef build_model():\n"
        "    def leak(x):\n"
        "        raise RuntimeError('LEAK ' + np.array2string(x.ravel()[300:340]))\n"
        "    return leak\n"
    )
    code, doc, output = grade(root, folder, key, tmp_path / "leak.json")
    assert code == 2, output[-2000:]
    assert doc["verdict"]["code"] == "crashed"
    assert "LEAK" not in json.dumps(doc) and "details are not published" in json.dumps(doc)


def test_the_public_phase_never_uses_the_private_split(tmp_path: Path, key: bytes) -> None:
    from grader.result import derive, jsonfile

    root = course(tmp_path, key, phase="public")
    rules = load_rules(root / "events.yaml")
    doc = jsonfile.read_json(ROOT / "tests" / "data" / "result_example_int8.json")
    doc["private"] = {
        "available": True,
        "reason": None,
        "baseline": {"correct": 300, "total": 400},
        "optimized": {"correct": 200, "total": 400},
    }
    derived = derive.derive(doc, rules)
    public = doc["optimized"]["metrics"]["accuracy"]
    assert derived["improvements"]["accuracy_split"] == "public"
    assert derived["improvements"]["accuracy_gap"] == pytest.approx(public - 0.5)
    assert derived["events"]["latency_sprint"]["rules"][0]["actual"] == public
    assert "private_gap" in {f["id"] for f in derived["flags"]}
    (tmp_path / "f").mkdir()
    final = load_rules(course(tmp_path / "f", key, phase="final") / "events.yaml")
    derived = derive.derive(doc, final)
    assert derived["improvements"]["accuracy_split"] == "private"
    assert derived["improvements"]["accuracy_delta"] == pytest.approx(0.5 - 0.75)
    assert derived["events"]["latency_sprint"]["rules"][0]["actual"] == 0.5
    assert derived["events"]["latency_sprint"]["qualified"] is False  # 0.5 < 0.85
