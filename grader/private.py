"""The private test split: shipped encrypted, opened only by the grader's own process.

A competition whose test data is public can be won by memorising it; the final ranking is
scored on a split nobody has seen. It ships in the repository as a Fernet token
(``cryptography``: AES-128-CBC with an HMAC-SHA256, so a changed byte is refused, not
mis-decrypted); its key is a repository secret, ``OLYMPICS_PRIVATE_KEY``, that only the
trusted leaderboard workflow receives.

The key is taken out of the environment the first time it is read (:func:`take_key`), so
no child started afterwards could inherit it even if the environment whitelist failed;
the decrypted split lives in the grader's memory only, never in a file. The submission's
child receives the private inputs one block at a time, like every other input; the labels
never leave the grader.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from grader.config import Rules
from grader.errors import DataError
from grader.workloads import read_fingerprinted, split_arrays

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


def load(
    rules: Rules, dataset: str, key: bytes, root: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the private split, decrypted in memory and verified."""
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
    return split_arrays(plaintext)
