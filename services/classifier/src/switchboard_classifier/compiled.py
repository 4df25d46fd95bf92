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

import os
import tempfile
from typing import Any

# Where the machine code goes when nothing beside the module is writable.
FALLBACK_CACHE = os.path.join(tempfile.gettempdir(), "switchboard-numba")


def jit(function: Any) -> Any:
    """`function` compiled on first call (nopython, cached on disk, without the GIL)."""
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]

    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:
        # numba found no writable cache (an install owned by another user, as in the
        # image, and no writable home): the temporary directory rather than no cache,
        # which would compile every kernel again at every start.
        numba.config.CACHE_DIR = FALLBACK_CACHE  # type: ignore[attr-defined,unused-ignore]
        return numba.njit(cache=True, nogil=True)(function)
