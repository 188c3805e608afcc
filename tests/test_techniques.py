"""Technique detection on hand-made weight files, compared with what a team claims
(docs/DESIGN.md, Techniques and code quality).

Each case builds the weights a student would: int8 with per-channel scales, TinyTorch-style
float32 weights on a quantization grid, magnitude pruning, a smaller MLP, float16 storage;
the detector must find exactly what the files hold, with evidence naming the array.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import rules
from grader.analysis import techniques, weights
from grader.cli.main import main
from grader.config import Rules, load_rules, project_root
from grader.data.workloads import deterministic_npz, get_workload

RULES = load_rules()
BASELINE = get_workload(RULES, "mlp_sprint")
PARAMS = RULES.workloads["mlp_sprint"]["baseline_parameters"]


def baseline_weights() -> dict[str, np.ndarray]:
    with np.load(BASELINE.baseline / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def folder(tmp_path: Path, **arrays: np.ndarray) -> Path:
    out = tmp_path / "team"
    out.mkdir(exist_ok=True)
    (out / "weights.npz").write_bytes(deterministic_npz(**arrays))
    return out


def detected(tmp_path: Path, claimed: list[str] | None = None, **arrays: np.ndarray) -> dict:
    """What the files show, each kind's evidence taken as used by the model (an ablation
    that changed 190 of 200 answers): the detectors alone."""
    artifacts = weights.inspect(folder(tmp_path, **arrays))
    return techniques.compare(artifacts, claimed or [], RULES, PARAMS, used_all(artifacts))


def used_all(artifacts: dict, agreed: int = 10) -> dict:
    """An ablation of every kind of evidence found, ``agreed`` of 200 answers unchanged."""
    evidence = techniques.evidence_arrays(artifacts, RULES, PARAMS)
    return {
        "samples": 200,
        "checks": {
            kind: {"arrays": names, "agreed": agreed, "compared": 200, "failure": None}
            for kind, names in evidence.items()
        },
    }


def names(found: dict) -> set[str]:
    return {d["technique"] for d in found["detected"]}


def evidence(found: dict, technique: str) -> str:
    (entry,) = [d for d in found["detected"] if d["technique"] == technique]
    return " | ".join([*entry["evidence"], entry["ablation"]])


def int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(w).max(axis=0) / 127
    return np.round(w / scale).astype(np.int8), scale.astype(np.float32)


def test_the_baseline_shows_no_technique(tmp_path: Path) -> None:
    found = detected(tmp_path, **baseline_weights())
    assert found["detected"] == []
    assert found["innovation"] == 0


def test_int8_weights_with_scales_are_quantization(tmp_path: Path) -> None:
    w = baseline_weights()
    arrays = {}
    for i in (1, 2, 3):
        arrays[f"q{i}"], arrays[f"scale{i}"] = int8(w[f"w{i}"])
        arrays[f"b{i}"] = w[f"b{i}"]
    found = detected(tmp_path, ["int8-quantization"], **arrays)
    assert names(found) == {"quantization"}
    assert "weights.npz:q1 holds int8 (100,352 values)" in evidence(found, "quantization")
    assert found["confirmed"] == ["quantization"] and found["unconfirmed"] == []
    assert found["innovation"] == RULES.techniques["quantization"]["points"]


def test_float32_weights_on_a_grid_are_quantization(tmp_path: Path) -> None:
    # TinyTorch keeps quantized weights as float32: scale * q, q in [-127, 127].
    w = baseline_weights()
    q, scale = int8(w["w1"])
    w["w1"] = (q.astype(np.float32) * scale).astype(np.float32)  # per-channel: many grids
    q2, scale2 = int8(w["w2"].reshape(-1, 1))
    w["w2"] = (q2.astype(np.float32) * scale2).reshape(w["w2"].shape)  # one grid
    found = detected(tmp_path, ["ptq"], **w)
    assert names(found) == {"quantization"}
    text = evidence(found, "quantization")
    assert "weights.npz:w2 holds 184 distinct float32 values on an evenly spaced grid" in text
    # 128 scales: thousands of distinct values on no common grid, but a grid per channel
    assert (
        "weights.npz:w1 holds 19937 distinct float32 values on a grid per channel of at most"
        in text
    )
    assert found["confirmed"] == ["quantization"]


def test_unevenly_spaced_values_are_not_a_grid() -> None:
    assert weights.grid_levels(np.array([0.0, 0.1, 0.2, 0.35])) is None
    assert weights.grid_levels(np.array([-0.2, 0.0, 0.1, 0.3])) == 6  # a step of 0.1
    values = np.float32(0.0123) * np.arange(-127, 128, dtype=np.float32)
    assert weights.grid_levels(values.astype(np.float64)) == 255


def test_magnitude_pruning_is_found_with_its_fraction(tmp_path: Path) -> None:
    w = baseline_weights()
    for k in ("w1", "w2"):
        cut = np.quantile(np.abs(w[k]), 0.5)
        w[k] = np.where(np.abs(w[k]) < cut, np.float32(0), w[k])
    found = detected(tmp_path, ["magnitude-pruning"], **w)
    assert names(found) == {"pruning"}
    assert "weights.npz:w1: 50.0% zeros" in evidence(found, "pruning")
    assert found["confirmed"] == ["pruning"]


def test_int4_rounding_alone_is_not_pruning(tmp_path: Path) -> None:
    w = baseline_weights()
    for k in ("w1", "w2", "w3"):
        scale = np.abs(w[k]).max() / 7
        w[k] = (np.round(w[k] / scale) * scale).astype(np.float32)
    found = detected(tmp_path, **w)
    assert names(found) == {"quantization"}  # 15 levels; its zeros stay under the threshold
    assert found["unclaimed"] == ["quantization"]


def test_a_smaller_model_and_float16_storage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    small = {
        "w1": rng.standard_normal((784, 32)).astype(np.float16),
        "b1": np.zeros(32, np.float16),
        "w2": rng.standard_normal((32, 10)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    found = detected(tmp_path, ["knowledge-distillation", "kv-cache"], **small)
    assert names(found) == {"smaller-model", "float16"}
    assert "25,450 values in the weight files against the baseline's 109,386 (23%)" in evidence(
        found, "smaller-model"
    )
    assert found["confirmed"] == ["smaller-model"]
    assert found["unclaimed"] == ["float16"]
    assert found["uncheckable"] == ["caching"]
    assert found["innovation"] == 50


def test_a_claim_the_files_do_not_show_raises_the_flag(tmp_path: Path) -> None:
    found = detected(
        tmp_path, ["magnitude-pruning", "operator-fusion", "magic"], **baseline_weights()
    )
    assert found["unconfirmed"] == ["pruning"]
    assert found["uncheckable"] == ["kernel-fusion"]  # not visible: never flagged
    assert found["unknown"] == ["magic"]
    flags = rules.raise_flags(RULES.flags, {"techniques_unconfirmed": len(found["unconfirmed"])})
    assert [f["id"] for f in flags] == ["technique_not_found"]
    assert rules.raise_flags(RULES.flags, {"techniques_unconfirmed": 0}) == []


def test_unreadable_files_are_named_and_skipped(tmp_path: Path) -> None:
    team = folder(tmp_path, w=np.ones((4, 4), np.float32))
    np.save(team / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (team / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    (team / "sub").mkdir()
    np.save(team / "sub" / "extra.npy", np.zeros(8, np.int8))
    seen = weights.inspect(team)
    assert [a["name"] for a in seen["arrays"]] == ["sub/extra.npy", "weights.npz:w"]
    assert seen["parameters"] == 24
    assert [p.split(":")[0] for p in seen["problems"]] == ["broken.npz", "pickled.npy"]


def test_a_file_too_large_to_inspect_is_skipped(tmp_path: Path, monkeypatch) -> None:
    team = folder(tmp_path, w=np.zeros(1000, np.float32))
    monkeypatch.setattr(weights, "MAX_INSPECT_BYTES", 2000)
    seen = weights.inspect(team)
    assert seen["arrays"] == [] and "beyond what is inspected" in seen["problems"][0]
    with zipfile.ZipFile(team / "weights.npz") as zf:  # the declared size decided, unread
        assert zf.infolist()[0].file_size > 2000


def test_beyond_the_array_limit_the_largest_are_recorded(tmp_path: Path, monkeypatch) -> None:
    sizes = {"a": 5, "b": 1, "c": 9, "d": 2, "e": 7}
    team = folder(tmp_path, **{k: np.ones(n, np.float32) for k, n in sizes.items()})
    monkeypatch.setattr(weights, "MAX_ARRAYS", 3)
    seen = weights.inspect(team)
    assert [a["name"] for a in seen["arrays"]] == [f"weights.npz:{k}" for k in "ace"]
    assert seen["parameters"] == sum(sizes.values())  # the totals cover every array
    assert seen["problems"] == ["5 arrays; the 3 largest are recorded"]


def test_without_weight_files_nothing_is_detected(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("def build_model():\n    return None\n")
    found = techniques.compare(weights.inspect(tmp_path), ["pruning"], RULES, PARAMS)
    assert found["detected"] == [] and found["unconfirmed"] == ["pruning"]


def test_thresholds_are_data(tmp_path: Path) -> None:
    w = baseline_weights()
    cut = np.quantile(np.abs(w["w1"]), 0.5)
    w["w1"] = np.where(np.abs(w["w1"]) < cut, np.float32(0), w["w1"])
    strict = Rules(RULES.path, {**RULES.data, "detection": {**RULES.detection,
                                                           "min_zero_fraction": 0.9}})  # fmt: skip
    artifacts = weights.inspect(folder(tmp_path, **w))
    assert "pruning" in techniques.detect(artifacts, RULES, PARAMS)
    assert "pruning" not in techniques.detect(artifacts, strict, PARAMS)


@pytest.mark.parametrize("workload", sorted(RULES.workloads))
def test_each_baseline_parameter_count_is_its_weight_files(workload: str) -> None:
    wl = get_workload(RULES, workload)
    seen = weights.inspect(wl.baseline, wl.baseline_files)
    assert seen["problems"] == []
    assert weights.parameters(seen) == RULES.workloads[workload]["baseline_parameters"]
    found = techniques.compare(seen, [], RULES, RULES.workloads[workload]["baseline_parameters"])
    assert found["detected"] == []  # a baseline is the reference: no technique


def test_hostile_weight_files_are_problems_not_crashes(tmp_path: Path) -> None:
    team = folder(tmp_path, w=np.ones((4, 4), np.float32))
    with zipfile.ZipFile(team / "notes.npz", "w") as zf:  # a member that is not an array
        zf.writestr("notes.txt", b"hello")
    with zipfile.ZipFile(team / "junk.npz", "w") as zf:  # an .npy member of junk
        zf.writestr("x.npy", b"not an array at all")
    (team / "zip.npy").write_bytes((team / "weights.npz").read_bytes())  # a zip named .npy
    huge = bytearray(b"\x93NUMPY\x01\x00")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000,), }"
    header += b" " * (117 - len(header)) + b"\n"
    huge += len(header).to_bytes(2, "little") + header + b"\0" * 64
    (team / "huge.npy").write_bytes(bytes(huge))  # promises 80 TB, holds 64 bytes
    seen = weights.inspect(team)
    assert [a["name"] for a in seen["arrays"]] == ["weights.npz:w"]
    assert sorted(p.split(":")[0] for p in seen["problems"]) == [
        "huge.npy", "junk.npz", "notes.npz", "zip.npy",
    ]  # fmt: skip
    assert "more than the bytes hold" in " ".join(seen["problems"])


def test_arrays_added_for_points_do_not_count(tmp_path: Path) -> None:
    w = baseline_weights()  # the real float32 weights, plus what a team might add unused
    found = detected(
        tmp_path,
        ["int8", "fp16"],
        **w,
        unused_q=np.zeros(2048, np.int8),
        unused_h=np.zeros(2048, np.float16),
        scale=np.ones(1, np.float32),
        w_zero_point=np.zeros(1, np.int8),
    )
    assert found["detected"] == [] and found["innovation"] == 0
    assert found["unconfirmed"] == ["float16", "quantization"]


def test_reshaped_or_constant_arrays_are_not_quantization(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((784, 128)).astype(np.float32)
    for shaped in (w.reshape(1, -1), w.reshape(-1, 1), w.reshape(-1, 2), w.reshape(2, -1)):
        found = detected(tmp_path, w=shaped)
        assert "quantization" not in names(found), shaped.shape
    assert "quantization" not in names(detected(tmp_path, w=np.zeros((512, 512), np.float32)))


def test_a_skipped_file_never_makes_a_smaller_model(tmp_path: Path) -> None:
    team = folder(tmp_path, **baseline_weights())
    with zipfile.ZipFile(team / "weights.npz", "a") as zf:
        zf.writestr("README.txt", b"np.load still reads the arrays; the inspection does not")
    np.save(team / "tiny.npy", np.ones(1, np.float32))
    found = techniques.compare(weights.inspect(team), [], RULES, PARAMS)
    assert found["detected"] == [] and found["innovation"] == 0


def test_long_names_stay_within_the_result_schema(tmp_path: Path) -> None:
    from grader.result import verify

    team = tmp_path / "team"
    deep = team / ("a" * 200) / ("w" * 200)
    deep.mkdir(parents=True)
    (deep / "junk.npy").write_bytes(b"junk")
    long = {f"{'s' * 250}_scale_{i}": np.ones(4, np.float32) for i in range(3)}
    q = {f"q{i}": np.zeros(4096, np.int8) for i in range(2)}
    (team / "weights.npz").write_bytes(deterministic_npz(**long, **q))
    seen = weights.inspect(team)
    found = techniques.compare(seen, ["int8"], RULES, PARAMS)
    assert all(len(p) <= 400 for p in seen["problems"])
    assert all(len(e) <= 600 for d in found["detected"] for e in d["evidence"])
    schema = verify.validator().schema
    for part, doc in (("artifacts", seen), ("techniques", found)):
        sub = {**schema["properties"][part], "$defs": schema.get("$defs", {})}
        assert list(verify.jsonschema.Draft202012Validator(sub).iter_errors(doc)) == []


def test_the_parameter_count_is_every_value_in_the_weight_files(tmp_path: Path) -> None:
    """An int8 matrix with a float32 scale per column counts both: every value stored."""
    q, scale = int8(baseline_weights()["w1"])
    team = folder(tmp_path, w1_q=q, w1_scale=scale)
    (team / "README.md").write_text("not a weight file")
    np.save(team / "unused.npy", np.zeros(5, np.float32))
    seen = weights.inspect(team, ["model.py", "weights.npz"])  # the model's files only
    assert weights.parameters(seen) == 784 * 128 + 128
    assert weights.parameters(weights.inspect(team)) == 784 * 128 + 128 + 5


def test_no_parameter_count_without_weights_or_from_a_file_read_in_part(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("def build_model():\n    return None\n")
    assert weights.parameters(weights.inspect(tmp_path)) is None
    team = folder(tmp_path, w=np.ones((4, 4), np.float32))
    (team / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    seen = weights.inspect(team)
    assert seen["parameters"] == 16 and weights.parameters(seen) is None


# -- ablation: the answers must depend on the evidence ---------------------------------------------
def test_evidence_the_model_does_not_use_earns_nothing(tmp_path: Path) -> None:
    artifacts = weights.inspect(folder(tmp_path, **quantized_mlp()))
    unused = techniques.compare(artifacts, ["int8"], RULES, PARAMS, used_all(artifacts, 200))
    assert [d["used"] for d in unused["detected"]] == [False]
    assert unused["confirmed"] == [] and unused["unconfirmed"] == ["quantization"]
    assert unused["unclaimed"] == [] and unused["innovation"] == 0
    assert "200 of 200 answers (100%) stayed the same" in evidence(unused, "quantization")
    used = techniques.compare(artifacts, ["int8"], RULES, PARAMS, used_all(artifacts, 180))
    assert used["confirmed"] == ["quantization"] and used["innovation"] == 40


def test_the_card_says_why_a_technique_found_does_not_count(tmp_path: Path) -> None:
    from grader.render import technique_lines

    artifacts = weights.inspect(folder(tmp_path, **quantized_mlp()))
    for claimed, start in (["int8"], "claimed, found but not counted"), ([], "found, not claimed"):
        found = techniques.compare(artifacts, claimed, RULES, PARAMS, used_all(artifacts, 199))
        (line,) = [x for x in technique_lines(found) if x.startswith("technique quantization")]
        assert line.startswith(f"technique quantization: {start}"), line
        assert "199 of 200 answers (100%) stayed the same: the answers do not depend" in line


def test_a_model_that_fails_without_its_evidence_uses_it(tmp_path: Path) -> None:
    artifacts = weights.inspect(folder(tmp_path, **quantized_mlp()))
    ablation = used_all(artifacts)
    ablation["checks"]["quantization"].update(agreed=None, compared=None, failure="crashed: x")
    found = techniques.compare(artifacts, [], RULES, PARAMS, ablation)
    assert found["unclaimed"] == ["quantization"] and found["innovation"] == 40
    assert "the model failed (crashed: x): it reads them" in evidence(found, "quantization")


def test_without_an_ablation_of_those_very_arrays_nothing_counts(tmp_path: Path) -> None:
    artifacts = weights.inspect(folder(tmp_path, **quantized_mlp()))
    other = used_all(artifacts)
    other["checks"]["quantization"]["arrays"] = ["weights.npz:q1"]  # q2 and q3 not replaced
    for ablation in (None, {"samples": 0, "checks": {}}, other):
        found = techniques.compare(artifacts, ["int8"], RULES, PARAMS, ablation)
        assert [d["used"] for d in found["detected"]] == [None]
        assert found["confirmed"] == [] and found["innovation"] == 0
        assert "not checked" in evidence(found, "quantization")


def quantized_mlp() -> dict[str, np.ndarray]:
    arrays = {}
    for i in (1, 2, 3):
        w = baseline_weights()
        arrays[f"q{i}"], arrays[f"scale{i}"] = int8(w[f"w{i}"])
        arrays[f"b{i}"] = w[f"b{i}"]
    return arrays


def test_ablation_shuffles_only_the_named_arrays_in_the_copy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    q = rng.integers(-127, 128, (64, 32), dtype=np.int8)
    keep = rng.standard_normal((8, 3)).astype(np.float32)
    team = folder(tmp_path, q=q, keep=keep)
    sub = team / "sub"
    sub.mkdir()
    np.save(sub / "half.npy", np.asfortranarray(rng.standard_normal((40, 30)).astype(np.float16)))
    before = {p: p.read_bytes() for p in (team / "weights.npz", sub / "half.npy")}
    for path in before:
        path.chmod(0o444)  # as in the child's private copy
    weights.ablate(team, ["weights.npz:q", "sub/half.npy", "absent.npz:x"], rng)
    with np.load(team / "weights.npz", allow_pickle=False) as f:
        assert sorted(f.files) == ["keep", "q"]
        shuffled, kept = f["q"], f["keep"]
    assert shuffled.dtype == np.int8 and shuffled.shape == q.shape
    assert not np.array_equal(shuffled, q)
    assert np.array_equal(np.sort(shuffled, axis=None), np.sort(q, axis=None))
    assert np.array_equal(kept, keep)
    half = np.load(sub / "half.npy", allow_pickle=False)
    original = np.load(io.BytesIO(before[sub / "half.npy"]), allow_pickle=False)
    assert half.dtype == np.float16 and half.shape == (40, 30)
    assert not np.array_equal(half, original)
    assert np.array_equal(np.sort(half, axis=None), np.sort(original, axis=None))
    assert (sub / "half.npy").stat().st_mode & 0o777 == 0o444
    # what the detectors observe is the same in the shuffled copy
    described = {a["name"]: a for a in weights.inspect(team)["arrays"]}
    assert described["weights.npz:q"]["distinct"] == weights.describe("q", q)["distinct"]


# It reads each digit as its pixels above 0, which the noise of a presentation never changes
# (Inputs.perturbed), so that its answers are the same at every presentation of a digit on any
# stream. With ``x @ P`` instead, fresh noise tipped 0.2 % of its answers (36 of 18,000, six
# deformations; its random scores have near-ties): one of 200 in a third of the grades, and
# which grade is set by the block sizes that the machine's speed gives the seeded stream (199
# seen in CI under load, 200 here idle).
UNUSED_MODEL = '''"""Innovation for nothing: a model that never reads its weight files, beside
arrays that pass every detector (int8 zeros, float16 values, few parameters)."""

import numpy as np

P = np.random.default_rng(0).standard_normal((784, 64)).astype(np.float32)
Q = np.random.default_rng(1).standard_normal((64, 10)).astype(np.float32)


def build_model():
    with np.load("extra.npz", allow_pickle=False) as f:
        extra = {k: f[k] for k in f.files}  # loaded, summed, never computed with
    offset = np.float32(extra["q"].astype(np.float32).sum() * 0)
    return lambda x: np.maximum((x > 0).astype(np.float32) @ P, 0.0) @ Q + offset
'''


@pytest.mark.slow
@pytest.mark.e2e
def test_unused_arrays_that_pass_the_detectors_earn_no_innovation(tmp_path: Path) -> None:
    """The attack: every detector fires on arrays the model loads and never computes with;
    graded for real, the ablation shows its answers unchanged and nothing counts."""
    team = tmp_path / "unused-arrays"
    team.mkdir()
    (team / "model.py").write_text(UNUSED_MODEL)
    rng = np.random.default_rng(2)
    (team / "extra.npz").write_bytes(
        deterministic_npz(
            q=np.zeros(30_000, dtype=np.int8),
            h=rng.standard_normal(30_000).astype(np.float16),
        )
    )
    (team / "submission.yaml").write_text(
        "team: unused-arrays\nmembers: [mallory]\nworkload: mlp_sprint\n"
        "events: [latency_sprint]\nentrypoint: model.py:build_model\n"
        "techniques: [int8-quantization, pruning, distillation, fp16]\n"
        'description: "Arrays for points, never computed with."\n'
    )
    doc = grade_for_real(team, tmp_path)
    found = doc["techniques"]
    assert {d["technique"] for d in found["detected"]} == {
        "quantization", "pruning", "smaller-model", "float16"
    }  # fmt: skip
    assert [d["used"] for d in found["detected"]] == [False] * 4
    assert found["confirmed"] == [] and found["unclaimed"] == []
    assert found["innovation"] == 0
    for check in doc["ablation"]["checks"].values():
        assert check["failure"] is None and check["agreed"] == check["compared"] == 200


CHECKING_MODEL = '''"""Fails at load when its weights are not the ones it was given."""

import numpy as np


def build_model():
    with np.load("extra.npz", allow_pickle=False) as f:
        q = f["q"]
    if q[:8].tolist() != FIRST:
        raise RuntimeError("these are not my weights")
    p = q.reshape(784, -1).astype(np.float32)[:, :10]
    return lambda x: x @ p
'''


@pytest.mark.slow
@pytest.mark.e2e
def test_a_model_that_fails_under_ablation_is_graded_and_counted(tmp_path: Path) -> None:
    team = tmp_path / "checks-its-weights"
    team.mkdir()
    q = np.random.default_rng(4).integers(-127, 128, 784 * 40, dtype=np.int8)
    (team / "model.py").write_text(CHECKING_MODEL.replace("FIRST", repr(q[:8].tolist())))
    (team / "extra.npz").write_bytes(deterministic_npz(q=q))
    (team / "submission.yaml").write_text(
        "team: checks-its-weights\nmembers: [octocat]\nworkload: mlp_sprint\n"
        "events: [latency_sprint]\nentrypoint: model.py:build_model\n"
        "techniques: [int8]\ndescription: x\n"
    )
    doc = grade_for_real(team, tmp_path)
    checks = doc["ablation"]["checks"]
    assert sorted(checks) == ["quantization", "smaller_model"]
    for check in checks.values():
        assert check["failure"].startswith("crashed") and "not my weights" in check["failure"]
        assert check["agreed"] is None and check["compared"] is None
    assert doc["techniques"]["confirmed"] == ["quantization"]
    assert doc["techniques"]["unclaimed"] == ["smaller-model"]
    assert doc["techniques"]["innovation"] == 70


@pytest.mark.slow
@pytest.mark.e2e
def test_an_honest_int8_model_is_still_confirmed(tmp_path: Path) -> None:
    doc = grade_for_real(project_root() / "submissions" / "example-int8", tmp_path)
    check = doc["ablation"]["checks"]["quantization"]
    assert check["failure"] is None and check["agreed"] / check["compared"] < 0.2
    assert doc["techniques"]["confirmed"] == ["quantization"]
    assert doc["techniques"]["innovation"] == 40


def grade_for_real(team: Path, tmp_path: Path) -> dict:
    out = tmp_path / "result.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["grade", str(team), "--quick", "--seed", "3", "--json", str(out)], stdout, stderr)
    assert code in (0, 1), stdout.getvalue()[-3000:] + stderr.getvalue()
    doc = json.loads(out.read_text())
    assert doc["verdict"]["status"] == "graded", doc["verdict"]
    return doc
