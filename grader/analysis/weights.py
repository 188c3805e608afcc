"""The weight files as data: read, described, and shuffled for an ablation.

The *observation* half of technique detection
(docs/DESIGN.md, Techniques and code quality): :func:`inspect` reads, in the grader's own
process, every ``.npy`` and ``.npz`` file of a model as data (never with pickle) and
records, for each array, its dtype, shape, exact zeros, distinct values and whether those
lie on an evenly spaced grid; the derived half, :mod:`grader.analysis.techniques`, applies
the thresholds of ``events.yaml`` to what is recorded here. :func:`parameters` is the
model's parameter count from the same reading.

:func:`ablate` rewrites the weight files of a child's private copy with the named arrays'
values shuffled: the harness runs the submission once more from it, untimed, to see whether
its answers depend on the arrays a technique's evidence rests on.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

MAX_DISTINCT = 65536  # distinct values are counted up to this; above it, "many"
MAX_ARRAYS = 1000  # arrays recorded in a result; the totals cover all of them
MAX_INSPECT_BYTES = 512 * 1024 * 1024  # uncompressed bytes read from a submission's files
MIN_CHANNEL_VALUES = 16  # per channel, for a grid per channel to be evidence
MAX_CHANNELS = 65_536  # channels looked at one by one
GRID_TOLERANCE = 1e-3  # of the grid step: float32 rounding of scale * q stays far below


# -- reading ------------------------------------------------------------------------------------
def inspect(folder: Path, files: Iterable[str] | None = None) -> dict:
    """Every array in the ``.npy``/``.npz`` files among ``files`` (POSIX paths inside
    ``folder``: the model's files; by default every such file below it), described; the
    count of their values.

    Each array's header is read first: only plain numeric arrays whose declared size fits
    the bytes actually there are read (no pickle, no object arrays, no header promising
    terabytes). Anything else (a broken zip, a member that is not an array, an encrypted
    member) is named in ``problems`` and skipped: the model's own loading decides whether
    it grades, and one odd file never stops the grade.
    """
    arrays: list[dict] = []
    problems: list[str] = []
    parameters = 0
    budget = MAX_INSPECT_BYTES
    for path in _weight_files(folder, files):
        shown = path.relative_to(folder).as_posix()
        try:
            for key, size, opener in _members(path):
                name = f"{shown}:{key}" if key else shown
                if size > budget:
                    problems.append(f"{name}: {size:,} bytes, beyond what is inspected")
                    continue
                budget -= size
                with opener() as f:
                    array = _read_array(f, size)
                parameters += int(array.size)
                arrays.append(describe(name, array))
        except Exception as exc:
            problems.append(f"{shown}: not readable as NumPy data ({str(exc)[:200]})")
    arrays.sort(key=lambda a: a["name"])
    if len(arrays) > MAX_ARRAYS:
        problems.append(f"{len(arrays)} arrays; the {MAX_ARRAYS} largest are recorded")
        arrays = sorted(arrays, key=lambda a: (-value_count(a), a["name"]))[:MAX_ARRAYS]
        arrays.sort(key=lambda a: a["name"])
    return {
        "arrays": arrays,
        "parameters": parameters,
        "problems": [p if len(p) <= 400 else p[:399] + "…" for p in problems[:1000]],
    }


def _members(path: Path) -> Iterator[tuple[str, int, Callable[[], IO[bytes]]]]:
    """(key, declared bytes, opener) of each array in a ``.npy`` or ``.npz`` file."""
    if path.suffix == ".npy":
        yield "", path.stat().st_size, lambda: path.open("rb")
        return
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename[:80]!r} is not an .npy array")
            yield info.filename[:-4], info.file_size, lambda info=info: zf.open(info)


def _read_array(f: IO[bytes], size: int) -> np.ndarray:
    """A plain numeric array from an ``.npy`` stream of ``size`` bytes, header checked first."""
    version = np.lib.format.read_magic(f)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise ValueError(f"npy format version {version} is not read here")
    shape, fortran, dtype = readers[version](f)
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise ValueError(f"dtype {dtype} is not a plain number type")
    count = math.prod(shape)
    if count * dtype.itemsize > size:
        raise ValueError(f"the header declares {count:,} values, more than the bytes hold")
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("the array's data is cut short")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def describe(name: str, array: np.ndarray) -> dict:
    """An array as observed: dtype, shape, exact zeros, distinct values, grid levels.

    ``adjacent`` counts the values equal to the nearest non-zero value on either side of
    zero: on a quantization grid, the levels next to zero. Rounding alone fills the zero
    level about as densely as its neighbours; pruning empties them.
    """
    kind = array.dtype.kind
    flat = array.reshape(-1)
    numeric = kind in "iuf"
    zeros = adjacent = 0
    if numeric:
        zeros = int(np.count_nonzero(flat == 0))
        for side in (flat[flat > 0], flat[flat < 0]):
            if side.size:
                nearest = side.min() if side[0] > 0 else side.max()
                adjacent += int(np.count_nonzero(side == nearest))
    distinct = levels = channel_levels = None
    if numeric and flat.size:
        finite = flat if kind in "iu" else flat[np.isfinite(flat)]
        values = np.unique(finite)
        if len(values) <= MAX_DISTINCT:
            distinct = len(values)
        if kind == "f" and len(finite) == flat.size and 2 <= len(values) <= MAX_DISTINCT:
            levels = grid_levels(values.astype(np.float64))
        if kind == "f" and levels is None and len(values) >= 2 and len(finite) == flat.size:
            channel_levels = per_channel_levels(array)
    return {
        "name": name[:300],
        "dtype": str(array.dtype)[:20],
        "shape": [int(n) for n in array.shape][:16],
        "zeros": zeros,
        "adjacent": adjacent,
        "distinct": distinct,
        "levels": levels,
        "channel_levels": channel_levels,
    }


def per_channel_levels(array: np.ndarray) -> int | None:
    """The most grid levels any channel uses, when every channel (the slices along the
    first axis, or else along the last) lies on a grid of its own: per-channel quantization
    stored dequantized. None if neither way holds."""
    if array.ndim < 2:
        return None
    for axis in (0, array.ndim - 1):
        channels = array.shape[axis]
        if not MIN_CHANNEL_VALUES * channels <= array.size or channels > MAX_CHANNELS:
            continue  # a channel of a few values is on some grid by chance: no evidence
        slices = np.moveaxis(array, axis, 0).reshape(channels, -1)
        worst = 0
        for row in slices:
            values = np.unique(row)
            found = grid_levels(values.astype(np.float64)) if len(values) >= 2 else 1
            if found is None or found > 65536:
                break
            worst = max(worst, found)
        else:
            return worst
    return None


def grid_levels(values: np.ndarray) -> int | None:
    """The number of levels of the evenly spaced grid the sorted ``values`` lie on, or None.

    The step is the span over the whole number of smallest gaps it holds; every value must
    sit on a whole multiple of it from the smallest. Quantized weights
    ``scale * (q - zero_point)`` do, whatever the scale.
    """
    gap = float(np.min(np.diff(values)))
    span = float(values[-1] - values[0])
    if gap <= 0 or not math.isfinite(span) or span / gap >= 2**31:
        return None
    step = span / round(span / gap)  # the span pins the step; one gap carries float32 rounding
    offsets = (values - values[0]) / step
    if np.max(np.abs(offsets - np.round(offsets))) > GRID_TOLERANCE:
        return None
    return round(span / step) + 1


def _weight_files(folder: Path, files: Iterable[str] | None) -> Iterator[Path]:
    if files is not None:
        for relative in sorted(files):
            if relative.endswith((".npy", ".npz")):
                yield folder / relative
        return
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if name.endswith((".npy", ".npz")) and path.is_file() and not path.is_symlink():
                yield path


def parameters(artifacts: dict) -> int | None:
    """The model's parameter count: every value of every array in its weight files, as the
    grader read them (:func:`inspect`), scales and zero points included: an int8 matrix with
    a float32 scale per row counts its values and its scales. None where no array was read,
    or where a weight file could not be read whole (the count would be short). The one
    count: the score card's, and the one a smaller model is detected by."""
    if artifacts["problems"] or not artifacts["arrays"]:
        return None
    return artifacts["parameters"]


def value_count(array: dict) -> int:
    """The count of an array's values, from its recorded shape."""
    return math.prod(array["shape"])


# -- ablation --------------------------------------------------------------------------------------
def ablate(folder: Path, arrays: list[str], rng: np.random.Generator) -> None:
    """Shuffle, in place, the values of each named array of the weight files in ``folder``
    (the child's private copy, never the submission's own folder).

    Each array keeps its file, member name, shape and dtype, and even its values, zeros and
    grid: only their order is drawn at random, so nothing the detectors observe changes
    and no statistic of the array (sum, range, histogram) tells the copy from the original,
    while any computation that reads the array meets different numbers. Members not named
    are copied byte for byte; a member that cannot be read as a plain array is left as it
    is."""
    wanted = set(arrays)
    for path in _weight_files(folder, None):
        shown = path.relative_to(folder).as_posix()
        if path.suffix == ".npy":
            if shown in wanted:
                _rewrite(path, lambda data: _shuffled(data, rng))
            continue
        keys = {n[len(shown) + 1 :] for n in wanted if n.startswith(shown + ":")}
        if keys:
            _rewrite(path, lambda data, keys=keys: _shuffled_members(data, keys, rng))


def _rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Replace a read-only file's bytes; unreadable as NumPy data, it stays as it is."""
    try:
        data = change(path.read_bytes())
    except Exception:
        return
    mode = path.stat().st_mode
    path.chmod(0o600)
    path.write_bytes(data)
    path.chmod(mode & 0o777)


def _shuffled(data: bytes, rng: np.random.Generator) -> bytes:
    """An ``.npy`` file's bytes with its array's values in a random order."""
    array = _read_array(io.BytesIO(data), len(data))
    shuffled = rng.permutation(array.reshape(-1)).reshape(array.shape)
    out = io.BytesIO()
    np.lib.format.write_array(out, shuffled, allow_pickle=False)
    return out.getvalue()


def _shuffled_members(data: bytes, keys: set[str], rng: np.random.Generator) -> bytes:
    """An ``.npz`` file's bytes with the named members' values shuffled, the others kept."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout,
    ):
        if sum(i.file_size for i in zin.infolist()) > MAX_INSPECT_BYTES:
            raise ValueError("larger than what is inspected")
        for info in zin.infolist():
            member = zin.read(info)
            if info.filename.endswith(".npy") and info.filename[:-4] in keys:
                member = _shuffled(member, rng)
            zout.writestr(info.filename, member)
    return out.getvalue()
