"""Which library each function a counted child ran belongs to: BLAS, NumPy's own kernels,
the Python interpreter, or other (docs/DESIGN.md, Where the time goes).

Cachegrind's output names each function (``fn=``) and its source file (``fl=``, ``???``
without debug information), never the object file it came from. So the parent reads the
function symbols (``.symtab`` and ``.dynsym``, ELF's tables) of the libraries a worker
loads, from the files installed here (the child runs this Python and this NumPy): the BLAS
NumPy links, NumPy's own extension modules, and the interpreter (its executable,
``libpython`` where it is shared, and the standard library's extension modules). A name
found in none (the C library, the loader, a function without a symbol: ``???``) is
``other``. Valgrind's names are the symbols' own (``--demangle=no``,
``cachegrind.Valgrind.command``); a versioned one (``memcpy@@GLIBC_2.14``) is looked up
without its version.
"""

from __future__ import annotations

import functools
import os
import struct
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

import numpy as np

BUCKETS = ("blas", "numpy", "interpreter", "other")
# An ELF symbol (Elf64_Sym) and the types that are code: functions and GNU indirect ones.
SYMBOL = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"),
     ("value", "<u8"), ("size", "<u8")]
)  # fmt: skip
FUNCTION_TYPES = (2, 10)  # STT_FUNC, STT_GNU_IFUNC
SYMBOL_TABLES = (2, 11)  # SHT_SYMTAB, SHT_DYNSYM
SECTION = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
MAX_TABLE_BYTES = 256 * 1024**2  # a symbol or string table larger than this is not read


def function_names(path: str | Path) -> set[str]:
    """The function symbols an ELF file (64-bit, little-endian) defines; empty for any other
    file, or one that cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return set()
            (offset,) = struct.unpack_from("<Q", head, 0x28)
            entry, count = struct.unpack_from("<HH", head, 0x3A)
            f.seek(offset)
            raw = f.read(entry * count)
            sections = [SECTION.unpack_from(raw, i * entry) for i in range(len(raw) // entry)]
            names: set[str] = set()
            for kind, at, size, link in ((s[1], s[4], s[5], s[6]) for s in sections):
                if kind in SYMBOL_TABLES and link < len(sections) and size <= MAX_TABLE_BYTES:
                    names |= table_names(f, at, size, sections[link])
            return names
    except (OSError, struct.error, ValueError):
        return set()


def table_names(f, at: int, size: int, strings: tuple) -> set[str]:
    """The function names of one symbol table, read from ``f`` with its string table."""
    f.seek(at)
    symbols = np.frombuffer(f.read(size - size % SYMBOL.itemsize), SYMBOL)
    if strings[5] > MAX_TABLE_BYTES:
        return set()
    f.seek(strings[4])
    text = f.read(strings[5])
    # Defined here (a section, not SHN_UNDEF): a library's table also names the functions it
    # calls in others (OpenBLAS's names memcpy, which is the C library's).
    code = np.isin(symbols["info"] & 0xF, FUNCTION_TYPES) & (symbols["name"] > 0)
    code &= symbols["shndx"] != 0
    names = set()
    for start in symbols["name"][code].tolist():
        end = text.find(b"\0", start)
        if end > start:
            names.add(text[start:end].decode("utf-8", "replace"))
    return names


def libraries() -> dict[str, list[str]]:
    """The files of each bucket but ``other``, as this Python and NumPy have them."""
    numpy_dir = Path(np.__file__).parent
    shared = sorted(str(p) for p in numpy_dir.rglob("*.so"))
    vendored = sorted(str(p) for p in numpy_dir.parent.glob("numpy.libs/*.so*"))
    blas = [p for p in vendored if "blas" in os.path.basename(p).lower()] + blas_loaded()
    interpreter = [os.path.realpath(sys.executable)]
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir, name = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
        if libdir and name:
            interpreter.append(os.path.join(libdir, name))
    # The standard library's extension modules (a virtual environment has none of its own).
    dynload = sysconfig.get_config_var("DESTSHARED") or str(
        Path(os.__file__).parent / "lib-dynload"
    )
    interpreter += sorted(str(p) for p in Path(dynload).glob("*.so"))
    return {"blas": sorted(set(blas)), "numpy": shared, "interpreter": interpreter}


def blas_loaded() -> list[str]:
    """The BLAS libraries NumPy has loaded in this process (threadpoolctl's view: a BLAS
    outside NumPy's folder, as a distribution's NumPy links one)."""
    from threadpoolctl import threadpool_info

    return [str(i["filepath"]) for i in threadpool_info() if i.get("user_api") == "blas"]


@functools.cache
def symbol_buckets() -> Mapping[str, str]:
    """Each function name to its bucket. A name two libraries define goes to the first
    bucket in ``BUCKETS`` order (a BLAS kernel named as a NumPy function is the BLAS's)."""
    found = libraries()
    table: dict[str, str] = {}
    for bucket in BUCKETS[:-1]:
        for path in found[bucket]:
            for name in function_names(path):
                table.setdefault(name, bucket)
    return table


def bucket_of(source: str, function: str, table: Mapping[str, str]) -> str:
    """The bucket of one of cachegrind's functions (``fl=``, ``fn=``)."""
    found = table.get(function.split("@", 1)[0])
    if found is not None:
        return found
    if "numpy" in source.lower():  # NumPy built with debug information: its sources' paths
        return "numpy"
    return "other"


def buckets(
    functions: Mapping[tuple[str, str], int], table: Mapping[str, str] | None = None
) -> dict[str, int]:
    """A cachegrind count's instructions by bucket: every bucket, summing to its total."""
    table = symbol_buckets() if table is None else table
    out = dict.fromkeys(BUCKETS, 0)
    for (source, function), count in functions.items():
        out[bucket_of(source, function, table)] += count
    return out
