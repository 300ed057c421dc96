"""Per-thread scratch buffers reused across kernel calls.

Large temporary arrays (im2col columns, padded inputs, transform buffers) are taken from
a per-thread cache keyed by a *slot* name instead of being allocated on every call: fresh
large allocations are served by ``mmap`` and pay a page fault per 4 KB page on first touch,
which measured a noticeable share of a small convolution. Each slot keeps its largest
buffer up to :data:`_CACHE_LIMIT_BYTES`; :func:`release_workspace` drops them all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from math import prod

import numpy as np

__all__ = ["release_workspace"]

_CACHE_LIMIT_BYTES = 64 * 2**20
"""Scratch buffers larger than this are not kept between calls."""

_tls = threading.local()


def _scratch(slot: str, shape: Sequence[int], dtype, zero: bool = False) -> np.ndarray:
    """A temporary array backed by a per-thread buffer that is reused across calls.

    Distinct ``slot`` names must be used for buffers that are alive at the same time. The
    result must never escape a kernel (it is overwritten by the next call).
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = prod(shape) * dtype.itemsize
    cache = _tls.__dict__.setdefault("buffers", {})
    buf = cache.get(slot)
    if buf is None or buf.nbytes < nbytes:
        cache.pop(slot, None)  # free a smaller buffer before allocating (no double peak)
        buf = None
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        if nbytes <= _CACHE_LIMIT_BYTES:
            cache[slot] = buf
    arr = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        arr.fill(0)
    return arr


def release_workspace() -> None:
    """Free the scratch buffers cached for the calling thread (they are re-created on use)."""
    _tls.__dict__.pop("buffers", None)
