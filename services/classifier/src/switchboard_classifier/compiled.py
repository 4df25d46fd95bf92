"""Loops compiled to machine code with numba, for the few hot paths numpy cannot fuse.

The classifier's hot loops (n-gram hashing, the language automaton walk) are
sequential walks over code points or bytes; as numpy passes they build many
batch-long arrays, compiled they are one pass. numba compiles a kernel on its
first call and caches the machine code on disk (in `__pycache__` beside the
module, or in NUMBA_CACHE_DIR when that is not writable), so only a machine's
first run pays the compile; a later start-up loads it. No fast-math: the
kernels must give the same floats as the numpy and scipy code they replace.
Pure: no Kafka, no faust.
"""

from __future__ import annotations

from typing import Any


def jit(function: Any) -> Any:
    """`function` compiled on first call (nopython, cached on disk, without the GIL)."""
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return numba.njit(cache=True, nogil=True)(function)
