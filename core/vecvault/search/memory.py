"""Large uninitialised buffers that fault in fast, for the transient ones a reopen fills and drops.

numpy asks the kernel for transparent huge pages on every large array (``madvise(MADV_HUGEPAGE)``). Where
the kernel then compacts memory inside the page fault (THP ``defrag=madvise``, as on the 2-core VMs these
benchmarks run on), filling a fresh array is dominated by its faults: measured there, writing one byte per
page of a 335 MiB ``np.empty`` took 0.43 s, of a plain anonymous mapping of the same size 0.12 s.

Only buffers that live for the open use this (the HNSW graph's element records before hnswlib copies
them). The matrices that searches scan stay numpy's own: huge pages make each scan faster (measured at
100k x 384: 6.0 ms p50 against 7.0 ms for the same matrix in small pages), which outweighs their faults.
"""

from __future__ import annotations

import math
import mmap
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["empty"]

_MAPPED_MIN_BYTES = 8 * 2**20  # smaller arrays come from numpy's own allocator


def empty(shape: tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
    """An uninitialised C-contiguous array; from a plain anonymous mapping when large (see the module docstring)."""
    dt = np.dtype(dtype)
    count = math.prod(shape)
    size = count * dt.itemsize
    if size < _MAPPED_MIN_BYTES or sys.platform == "win32":
        return np.empty(shape, dtype=dt)
    mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(mapping, dtype=dt, count=count).reshape(shape)  # the array keeps the mapping alive
