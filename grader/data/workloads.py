"""Workloads as data: fingerprinted datasets and the reference (baseline) model of each.

Every split is a committed ``.npz`` whose sha256 is recorded in ``events.yaml`` and
checked on every load, so a changed byte is refused rather than silently graded on.
Only the splits listed there can be loaded: the private test part is not among them.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.config import Rules, project_root
from grader.errors import ConfigError, DataError


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    dataset: str
    input_shape: tuple[int, ...]
    classes: int
    baseline: Path
    entrypoint: str
    baseline_files: tuple[str, ...]
    baseline_accuracy: float

    @property
    def sample_size(self) -> int:
        return int(np.prod(self.input_shape))


def get_workload(rules: Rules, name: str, root: Path | None = None) -> Workload:
    try:
        spec = rules.workloads[name]
    except KeyError:
        valid = ", ".join(sorted(rules.workloads))
        raise ConfigError(f"unknown workload {name!r}; valid workloads: {valid}") from None
    return Workload(
        name=name,
        title=spec["title"],
        dataset=spec["dataset"],
        input_shape=tuple(spec["input_shape"]),
        classes=int(spec["classes"]),
        baseline=(root or project_root()) / spec["baseline"],
        entrypoint=spec["entrypoint"],
        baseline_files=tuple(spec["baseline_files"]),
        baseline_accuracy=float(spec["baseline_accuracy"]),
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


def as_inputs(images: np.ndarray, workload: Workload) -> np.ndarray:
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


def export_training(rules: Rules, workload: Workload, out: Path) -> Path:
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
