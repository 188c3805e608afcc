"""What NumPy and its BLAS dispatch to in this process: NumPy's SIMD targets that are on,
and OpenBLAS's kernels (its "core").

The counted child reports them in its hello: under valgrind, the CPU a program sees is the
one valgrind emulates, whose features can differ from the machine's
(docs/DESIGN.md, Instruction counts). Called before ``confine`` drops ctypes. Child-side
code: imports only the standard library and NumPy.
"""

from __future__ import annotations

import contextlib
import ctypes

# OpenBLAS's "which kernels" function, by the names its builds export it under (NumPy's
# wheels bundle scipy-openblas, 64-bit integers, with a prefix and a suffix).
CORENAME_SYMBOLS = (
    "scipy_openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "openblas_get_corename64_",
    "openblas_get_corename",
)


def numpy_simd() -> list[str]:
    """NumPy's dispatch targets that this CPU (as the process sees it) supports."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return sorted(t for t in __cpu_dispatch__ if __cpu_features__.get(t))


def openblas_core(maps: str = "/proc/self/maps") -> str | None:
    """OpenBLAS's kernels, asked of the library this process has loaded (None: no
    OpenBLAS, or it does not say)."""
    try:
        with open(maps) as f:
            paths = {line.split(maxsplit=5)[-1].strip() for line in f if "openblas" in line}
    except OSError:
        return None
    for path in sorted(p for p in paths if p.startswith("/")):
        with contextlib.suppress(OSError):
            library = ctypes.CDLL(path)
            for name in CORENAME_SYMBOLS:
                function = getattr(library, name, None)
                if function is not None:
                    function.restype = ctypes.c_char_p
                    core = function()
                    return core.decode("ascii", "replace")[:64] if core else None
    return None


def features() -> dict[str, object]:
    """The dispatch as the hello reports it."""
    return {"numpy_simd": numpy_simd(), "blas_kernels": openblas_core()}
