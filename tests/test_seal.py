"""``olympics seal``: a course's own held-out digits sealed as the private split
(docs/DESIGN.md, Data).

The digits sealed here are real training digits moved one pixel to the right: no longer
byte-identical to any public digit, as a course's own would be.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from clirun import runner

from grader import render
from grader.config import load_rules, project_root
from grader.data import private
from grader.data.workloads import load_split
from grader.publish import leaderboard

ROOT = project_root()
RULES = load_rules()


run = runner()


def course_digits(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_split(RULES, "digits", "train")
    moved = np.roll(x[:n].reshape(-1, 28, 28), 1, axis=2).reshape(n, 784)
    return moved, y[:n]


def write(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("float_pixels", ["field 'x' is float32, not uint8"]),
        ("labels_out_of_range", ["field 'y' holds labels [10, 11]", "outside 0-9"]),
        ("public_digit", ["field 'x' rows [3]", "public train or test split"]),
        ("missing_class", ["no digit of class [7]"]),
        ("wrong_shape", ["shape (200, 28, 28), not (N, 784)"]),
    ],
)
def test_bad_digits_are_refused_by_file_and_field(tmp_path: Path, case: str, words: list) -> None:
    x, y = course_digits()
    if case == "float_pixels":
        x = x.astype(np.float32) / 255
    elif case == "labels_out_of_range":
        y = y.copy()
        y[:2] = [10, 11]
    elif case == "public_digit":
        x = x.copy()
        x[3] = load_split(RULES, "digits", "test")[0][17]
    elif case == "missing_class":
        x, y = x[y != 7], y[y != 7]
    elif case == "wrong_shape":
        x = x.reshape(-1, 28, 28)
    images = write(tmp_path / "mine.npz", x, y)
    key_file, out = tmp_path / "k.key", tmp_path / "sealed.fernet"
    code, stdout, stderr = run(
        "seal",
        "mlp_sprint",
        "--images",
        str(images),
        "--out",
        str(out),
        "--key-file",
        str(key_file),
    )
    assert code == 2, stdout + stderr
    assert "nothing was sealed" in stderr and str(images) in stderr
    for word in words:
        assert word in stderr
    assert not out.exists() and not key_file.exists()  # nothing written, no key made


@pytest.mark.parametrize("what", ["missing_images", "key_file_a_folder", "not_a_key"])
def test_unreadable_input_is_refused_by_name(tmp_path: Path, what: str) -> None:
    images = write(tmp_path / "mine.npz", *course_digits())
    key_file = tmp_path / "k.key"
    if what == "missing_images":
        images = tmp_path / "nowhere.npz"
    elif what == "key_file_a_folder":
        key_file.mkdir()
    else:
        key_file.write_text("hunter2\n")
    out = tmp_path / "s.fernet"
    code, stdout, stderr = run("seal", "digits", "--images", str(images), "--out", str(out),
                               "--key-file", str(key_file))  # fmt: skip
    assert code == 2, stdout + stderr
    assert (str(images) if what == "missing_images" else str(key_file)) in stderr
    assert "Traceback" not in stderr and not out.exists()


def test_a_text_dataset_is_sealed_from_text_not_images(tmp_path: Path) -> None:
    """tests/test_sealedtext.py seals a course's Q&A with --text."""
    images = write(tmp_path / "mine.npz", *course_digits())
    out, key_file = tmp_path / "s.fernet", tmp_path / "k.key"
    code, stdout, stderr = run("seal", "tinytalks", "--images", str(images), "--out", str(out),
                               "--key-file", str(key_file))  # fmt: skip
    assert code == 2, stdout + stderr
    said = " ".join(stderr.split())
    assert "dataset 'tinytalks' is text" in said and "with --text FILE" in said
    assert "Traceback" not in stderr and not out.exists() and not key_file.exists()


def test_a_key_file_inside_the_repository_is_refused(tmp_path: Path) -> None:
    images = write(tmp_path / "mine.npz", *course_digits())
    out, key = str(tmp_path / "s.fernet"), str(ROOT / "k.key")
    code, _, stderr = run(
        "seal", "digits", "--images", str(images), "--out", out, "--key-file", key
    )
    assert code == 2 and "inside the repository" in stderr
    assert not (ROOT / "k.key").exists()


def course_root(tmp: Path) -> Path:
    root = tmp / "course"
    root.mkdir()
    shutil.copytree(ROOT / "baselines", root / "baselines")
    shutil.copytree(ROOT / "data", root / "data", ignore=shutil.ignore_patterns("*.fernet"))
    shutil.copytree(ROOT / ".github", root / ".github")
    shutil.copy(ROOT / "events.yaml", root / "events.yaml")
    return root


def seal_into(root: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """Seal the course's digits as ``olympics seal`` is run; return its output, the key file."""
    monkeypatch.setenv("OLYMPICS_ROOT", str(root))
    images = write(tmp / "mine.npz", *course_digits())
    key_file = tmp / "keys" / "olympics.key"
    code, stdout, stderr = run("seal", "mlp_sprint", "--images", str(images), "--out",
                               str(root / "data" / "digits" / "course.npz.fernet"),
                               "--key-file", str(key_file))  # fmt: skip
    assert code == 0, stdout + stderr
    return stdout, key_file


def test_sealing_prints_the_entry_and_where_the_key_goes_never_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = course_root(tmp_path)
    stdout, key_file = seal_into(root, tmp_path, monkeypatch)
    key = key_file.read_bytes().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key.decode() not in stdout
    token = (root / "data" / "digits" / "course.npz.fernet").read_bytes()
    line = stdout.split("private: {")[1].split("}")[0]
    entry = dict(part.split(": ") for part in line.split(", "))
    assert entry["file"] == "data/digits/course.npz.fernet" and entry["kind"] == "course"
    assert entry["sha256"] == hashlib.sha256(token).hexdigest()
    assert "secret OLYMPICS_PRIVATE_KEY of the GitHub Environment 'olympics-final'" in stdout
    # What was sealed opens with the key, and is the course's digits.
    use_course_split(root, entry, "public")
    rules = load_rules(root / "events.yaml")
    images, labels = private.load(rules, "digits", key, root)
    x, y = course_digits()
    assert np.array_equal(images, x) and np.array_equal(labels, y)
    assert private.kind(rules, "digits") == "course"
    # A second sealing with the same key file reuses the key.
    again, _ = seal_into(root, tmp_path, monkeypatch)
    assert "the key already there" in again


def use_course_split(root: Path, entry: dict, phase: str) -> None:
    text = (root / "events.yaml").read_text()
    bundled = RULES.datasets["digits"]["sealed"]["private"]
    text = text.replace(bundled["file"], entry["file"]).replace(bundled["sha256"], entry["sha256"])
    text = text.replace("kind: bundled}", "kind: course}")
    text = text.replace("\nphase: public\n", f"\nphase: {phase}\n")
    (root / "events.yaml").write_text(text)


def test_the_leaderboard_says_which_kind_of_split_it_ranks_on(tmp_path: Path) -> None:
    text = (ROOT / "events.yaml").read_text().replace("\nphase: public\n", "\nphase: final\n")
    (tmp_path / "events.yaml").write_text(text)
    bundled = load_rules(tmp_path / "events.yaml")
    graded = [SimpleNamespace(current=True)]
    line = leaderboard.phase_line(bundled, graded)
    assert line.startswith("**Final phase**: ranked on the sealed private test split. ")
    assert "bundled private split: its digits are public MNIST digits" in line
    assert "olympics seal" in line
    (tmp_path / "events.yaml").write_text(text.replace("kind: bundled}", "kind: course}"))
    course = load_rules(tmp_path / "events.yaml")
    line = leaderboard.phase_line(course, graded)
    assert "the course's own sealed split" in line and "rebuildable" not in line
    assert "Public phase" in leaderboard.phase_line(RULES, graded)  # unchanged


def test_the_score_card_says_which_kind_of_split_it_was_scored_on() -> None:
    doc = json.loads((ROOT / "tests" / "data" / "result_example_int8.json").read_text())
    doc["improvements"]["accuracy_split"] = "private"
    for kind, words in (("bundled", "rebuildable by anyone"), ("course", "course's own")):
        doc["private"] = {"available": False, "reason": "x", "baseline": None,
                          "optimized": None, "kind": kind}  # fmt: skip
        assert words in " ".join(render.card(doc)["notes"])


@pytest.mark.slow
@pytest.mark.e2e
def test_a_sealed_course_split_is_graded_in_the_final_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.cli.scaffold import init

    root = course_root(tmp_path)
    stdout, key_file = seal_into(root, tmp_path, monkeypatch)
    sha = stdout.split("sha256: ")[1].split(",")[0]
    use_course_split(root, {"file": "data/digits/course.npz.fernet", "sha256": sha}, "final")
    rules = load_rules(root / "events.yaml")
    folder = init("course-team", "mlp_sprint", ["latency_sprint"], rules, root, ["ada"])
    monkeypatch.setenv(private.KEY_ENV, key_file.read_text())
    private.take_key.cache_clear()
    try:
        code, out, err = run("grade", str(folder), "--quick", "--seed", "3",
                             "--json", str(tmp_path / "r.json"),
                             "--markdown", str(tmp_path / "r.md"))  # fmt: skip
    finally:
        private.take_key.cache_clear()
    assert code in (0, 1), out + err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["private"]["available"] is True and doc["private"]["kind"] == "course"
    assert doc["private"]["optimized"]["total"] == 200
    assert doc["improvements"]["accuracy_split"] == "private"
    assert "the course's own sealed digits" in (tmp_path / "r.md").read_text()
    assert os.environ.get(private.KEY_ENV) is None  # taken out of the environment


@pytest.mark.parametrize(
    ("entry", "kind"),
    [("kind: bundled}", "}"), ("kind: bundled}", "kind: secret}")],
    ids=["kind_missing", "kind_unknown"],
)
def test_a_sealed_split_must_say_its_kind(tmp_path: Path, entry: str, kind: str) -> None:
    from grader.errors import ConfigError

    text = (
        (ROOT / "events.yaml")
        .read_text()
        .replace(", " + entry, kind if kind == "}" else ", " + kind)
    )
    (tmp_path / "events.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_rules(tmp_path / "events.yaml")
    assert any("kind" in str(v) for v in raised.value.violations), raised.value.violations
