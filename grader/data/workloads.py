"""Workloads as data: fingerprinted datasets and the reference (baseline) model of each.

Every split is a committed file whose sha256 is recorded in ``events.yaml`` and checked on
every load, so a changed byte is refused rather than silently graded on. Only the splits
listed there can be loaded: the private test part is not among them.

A workload is a ``ClassificationWorkload`` (``.npz`` arrays of images and labels, scores of
``classes``) or a ``GenerationWorkload`` (TinyTalks text read by ``grader.data.text``, scores
of ``vocab_size`` tokens), by its ``protocol`` (docs/DESIGN.md, Data).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.config import Rules, project_root
from grader.crosschecks import GENERATION, protocol
from grader.data import text
from grader.errors import ConfigError, DataError


@dataclass(frozen=True)
class Workload:
    """What every workload has: its dataset and its baseline."""

    name: str
    title: str
    protocol: str
    dataset: str
    baseline: Path
    entrypoint: str
    baseline_files: tuple[str, ...]
    baseline_parameters: int
    scaffold_files: tuple[str, ...]


@dataclass(frozen=True)
class ClassificationWorkload(Workload):
    """Samples of ``input_shape`` to scores of ``classes``."""

    input_shape: tuple[int, ...]
    classes: int
    baseline_accuracy: float
    count_samples: int | None = None  # a counted block's samples (None: the plan's)

    @property
    def sample_size(self) -> int:
        return int(np.prod(self.input_shape))


@dataclass(frozen=True)
class GenerationWorkload(Workload):
    """One token per sequence a step to scores of ``vocab_size`` tokens, over at most
    ``context`` tokens (the vocabulary of ``grader.data.text``, checked on load)."""

    vocab_size: int
    vocab_version: int
    context: int
    baseline_perplexity: float


def get_workload(
    rules: Rules, name: str, root: Path | None = None
) -> ClassificationWorkload | GenerationWorkload:
    try:
        spec = rules.workloads[name]
    except KeyError:
        valid = ", ".join(sorted(rules.workloads))
        raise ConfigError(f"unknown workload {name!r}; valid workloads: {valid}") from None
    common = {
        "name": name,
        "title": spec["title"],
        "protocol": protocol(spec),
        "dataset": spec["dataset"],
        "baseline": (root or project_root()) / spec["baseline"],
        "entrypoint": spec["entrypoint"],
        "baseline_files": tuple(spec["baseline_files"]),
        "baseline_parameters": int(spec["baseline_parameters"]),
        "scaffold_files": tuple(spec.get("scaffold_files", ())),
    }
    if common["protocol"] == GENERATION:
        return GenerationWorkload(
            **common,
            vocab_size=int(spec["vocab_size"]),
            vocab_version=int(spec["vocab_version"]),
            context=int(spec["context"]),
            baseline_perplexity=float(spec["baseline_perplexity"]),
        )
    return ClassificationWorkload(
        **common,
        input_shape=tuple(spec["input_shape"]),
        classes=int(spec["classes"]),
        baseline_accuracy=float(spec["baseline_accuracy"]),
        count_samples=spec.get("count_samples"),
    )


def load_split(
    rules: Rules, dataset: str, split: str, root: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, one row a sample) and labels of one split, verified against its sha256."""
    splits = rules.datasets[dataset]["splits"]
    if split not in splits:
        raise DataError(
            f"dataset {dataset!r} has no split {split!r}; available: {', '.join(sorted(splits))}"
        )
    entry = splits[split]
    fix = "restore the file with `git checkout -- " + entry["file"] + "`"
    _, raw = read_fingerprinted(entry, root, f"dataset split {split!r}", fix)
    return split_arrays(raw)


def read_fingerprinted(entry: dict, root: Path | None, what: str, fix: str) -> tuple[Path, bytes]:
    """The bytes of ``entry["file"]``, refused unless their sha256 is ``entry["sha256"]``."""
    path = (root or project_root()) / entry["file"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what}: {exc.strerror}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"]:
        raise DataError(
            f"{path}: sha256 {digest} does not match {entry['sha256']} recorded in events.yaml; "
            + fix
        )
    return path, raw


def split_arrays(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A split's images and labels from its ``.npz`` bytes (never pickle)."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as f:
        return f["x"], f["y"]


def as_inputs(images: np.ndarray, workload: ClassificationWorkload) -> np.ndarray:
    """The model's view of the images: float32 pixels scaled to [0, 1], shaped per sample."""
    return (images.astype(np.float32) / np.float32(255.0)).reshape(
        (len(images), *workload.input_shape)
    )


def deterministic_npz(**arrays: np.ndarray) -> bytes:
    """A compressed ``.npz`` whose bytes depend only on the arrays.

    ``np.savez_compressed`` stamps each member with the current time, which would change the
    sha256 on every run; here every member carries the zip epoch instead.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


TRAINING_README = """\
# {title}: training split

{count} real handwritten digits for training your model ({source}).
Licence: {licence}.

    import numpy as np
    with np.load("train.npz", allow_pickle=False) as f:
        x, y = f["x"], f["y"]   # x: uint8 (N, 784) pixels, y: uint8 labels 0-9
    x = (x.astype(np.float32) / 255.0).reshape(-1, {shape})
    # the grader feeds your model exactly this: float32 in [0, 1], shaped (N, {shape})

The grader scores on held-out test images that are not in this file.
"""


def export_training(rules: Rules, workload: ClassificationWorkload, out: Path) -> Path:
    """Write the training split (never a test split) and a README into ``out``."""
    images, labels = load_split(rules, workload.dataset, "train")
    out.mkdir(parents=True, exist_ok=True)
    target = out / "train.npz"
    target.write_bytes(deterministic_npz(x=images, y=labels))
    ds = rules.datasets[workload.dataset]
    (out / "README.md").write_text(
        TRAINING_README.format(
            title=workload.title,
            count=len(labels),
            source=ds["source"],
            licence=ds["licence"],
            shape=", ".join(map(str, workload.input_shape)),
        )
    )
    return target


TEXT_README = """\
# {title}: training text

`train.txt` ({train} question-and-answer pairs) and `val.txt` ({val}, for choosing a recipe),
unchanged from the files the grader reads. Source: {source}.

Each record is two lines, `Q: ...` then `A: ...`, with one blank line between records:

    records = open("train.txt").read().rstrip("\\n").split("\\n\\n")
    pairs = [(r.split("\\n")[0][3:], r.split("\\n")[1][3:]) for r in records]

A model reads token ids of the character vocabulary v{version} ({size} ids): the id of a
character is its index in the string below, and id {unknown} stands for any other character.

    CHARACTERS = {characters}

It is prompted with `Q: <question>\\nA:` and its answer runs to the first newline.
The grader scores on the held-out test split, which is not in this folder.

## Licence and attribution

{licence}: its text is in `LICENSE`. Keep it, and this attribution (from the
dataset's SOURCE.md), with any copy of the text:

{attribution}
"""


def dataset_folder(rules: Rules, dataset: str, root: Path | None = None) -> Path:
    """The folder of a text dataset (its LICENSE and SOURCE.md): where its train split's
    file lies, less the split's own path in it (``text.SPLITS``, checked on load)."""
    file = rules.datasets[dataset]["splits"]["train"]["file"]
    return (root or project_root()) / file.removesuffix(text.SPLITS["train"].file)


def export_text(
    rules: Rules, workload: GenerationWorkload, out: Path, root: Path | None = None
) -> list[Path]:
    """Write the train and val splits as shipped (never the test split), the licence and an
    attribution README into ``out``; return the files written."""
    ds = rules.datasets[workload.dataset]
    shipped = {}
    for split in ("train", "val"):
        entry = ds["splits"][split]
        fix = "restore the file with `git checkout -- " + entry["file"] + "`"
        path, shipped[split] = read_fingerprinted(entry, root, f"text split {split!r}", fix)
        text.parse(path, shipped[split])  # the format too, with the line of a fault
    folder = dataset_folder(rules, workload.dataset, root)
    licence = text.checked_bytes(folder / "LICENSE", text.OTHER_FILES["LICENSE"])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (
        ("train.txt", shipped["train"]),
        ("val.txt", shipped["val"]),
        ("LICENSE", licence),
    ):
        (out / name).write_bytes(data)
        written.append(out / name)
    readme = TEXT_README.format(
        title=workload.title,
        train=text.SPLITS["train"].pairs,
        val=text.SPLITS["val"].pairs,
        source=ds["source"],
        version=text.VOCAB_VERSION,
        size=text.VOCAB_SIZE,
        unknown=text.UNKNOWN_ID,
        characters=repr(text.CHARACTERS),
        licence=licence.decode("ascii").partition("\n")[0],
        attribution=attribution(folder / "SOURCE.md"),
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    return [*written, out / "README.md"]


def attribution(source: Path) -> str:
    """The ``## Attribution`` section of a dataset's SOURCE.md, its heading excluded."""
    try:
        found = re.search(r"^## Attribution\n(.*?)(?=^## |\Z)", source.read_text(), re.M | re.S)
    except OSError as exc:
        raise DataError(f"{source}: cannot read the attribution: {exc.strerror}") from None
    if found is None or not found.group(1).strip():
        raise DataError(f"{source}: no `## Attribution` section; restore the file")
    return found.group(1).strip()
