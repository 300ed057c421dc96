"""Optional compiled (numba) kernels for the memory-bound depthwise convolutions.

A depthwise convolution does ``K`` multiply-adds per output, far too few to amortise a
GEMM; in NumPy each tap is a pass over the whole tensor. Compiled, each ``(n, c)`` plane
is read once into a small zero-padded buffer that stays in the L1/L2 cache while all taps
run over it, vectorised along the rows. On the GUIDE's depthwise suite layer (float32,
2 threads) this measured ~3x faster than the NumPy paths of :mod:`lucid.kernels.conv`.

The functions here work on one *chunk* (a batch range, or a channel range for the weight
gradient) and are compiled with ``nogil=True``: the caller runs chunks on its own worker
threads (:func:`lucid.kernels.conv._map_chunks`), so there is no numba thread pool to
oversubscribe the cores, and the reduction order -- hence every bit of the result -- does
not depend on the thread count. Compilation is cached on disk (``cache=True``): the first
use of each kernel and dtype in a fresh environment compiles it (~1 s), later processes
load it.

numba is optional (the ``fast`` extra): without it, or with the environment variable
``LUCID_DISABLE_JIT`` set to a non-empty value other than ``0``, :func:`available` is
``False`` and the callers keep their NumPy paths.

Semantics match a direct convolution over the zero-padded input, exactly as in PyTorch:
padding zeros are multiplied like any input value (so an ``inf`` weight gives ``nan``
where its tap reads padding), and an ``inf``/``nan`` input reaches only the outputs whose
windows hold it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

__all__ = ["available"]


@functools.cache
def _numba() -> Any:
    if os.environ.get("LUCID_DISABLE_JIT", "0") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    return numba


def available() -> bool:
    """Whether the compiled kernels can be used (numba importable and not disabled)."""
    return _numba() is not None


@functools.cache
def _kernels() -> dict[str, Any]:
    """Compile (or load from the cache) the kernels on first use.

    Indices are written as ``i + a`` with unit stride and dilation on purpose: runtime
    strides or dilations in the index expressions stop LLVM from vectorising the inner
    loops (measured 2.5x slower), so other layers keep the NumPy paths.
    """
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)

    @njit
    def pad_plane(src, dst, top, left):
        """Copy ``src (H, W)`` into ``dst (Hp, Wp)`` at offset ``(top, left)`` (negative
        offsets crop ``src``). The cells outside the copy are the same for every plane, so
        ``dst`` is zeroed once per call, not here."""
        Hd, Wd = dst.shape
        Hs, Ws = src.shape
        for r in range(max(0, top), min(Hd, Hs + top)):
            for q in range(max(0, left), min(Wd, Ws + left)):
                dst[r, q] = src[r - top, q - left]

    @njit
    def forward(x, w, b, y, top, left):
        """``y[n, c, i, j] = b[c] + sum_{a, e} w[c, a, e] * xpad[n, c, i + a, j + e]``."""
        N, C = x.shape[0], x.shape[1]
        Ho, Wo = y.shape[2], y.shape[3]
        KH, KW = w.shape[1], w.shape[2]
        xp = np.zeros((Ho + KH - 1, Wo + KW - 1), x.dtype)
        for n in range(N):
            for c in range(C):
                pad_plane(x[n, c], xp, top, left)
                for i in range(Ho):
                    for j in range(Wo):
                        y[n, c, i, j] = b[c]
                    for a in range(KH):
                        for e in range(KW):
                            wv = w[c, a, e]
                            for j in range(Wo):
                                y[n, c, i, j] += wv * xp[i + a, j + e]

    @njit
    def weight_grad(x, gy, gw, c0, top, left):
        """``gw[c - c0, a, e] = sum_{n, i, j} gy[n, c, i, j] * xpad[n, c, i + a, j + e]`` for
        the channels ``c0 <= c < c0 + len(gw)`` (full C-contiguous ``x`` and ``gy``: a
        channel slice would not be contiguous, and strided operands are not vectorised).

        Per channel, per-lane partial sums ``acc[a, e, j]`` run over the batch and the rows
        (vectorised along ``j``); each lane row is then summed in order.
        """
        N = x.shape[0]
        Ho, Wo = gy.shape[2], gy.shape[3]
        KH, KW = gw.shape[1], gw.shape[2]
        xp = np.zeros((Ho + KH - 1, Wo + KW - 1), x.dtype)
        acc = np.empty((KH, KW, Wo), x.dtype)
        for c in range(c0, c0 + gw.shape[0]):
            acc[:] = 0
            for n in range(N):
                pad_plane(x[n, c], xp, top, left)
                for i in range(Ho):
                    for a in range(KH):
                        for e in range(KW):
                            for j in range(Wo):
                                acc[a, e, j] += gy[n, c, i, j] * xp[i + a, j + e]
            for a in range(KH):
                for e in range(KW):
                    s = 0.0
                    for j in range(Wo):
                        s += acc[a, e, j]
                    gw[c - c0, a, e] = s

    return {"forward": forward, "weight_grad": weight_grad}


def depthwise_forward(x, w, b, y, lo) -> None:
    """Depthwise 2-d forward (multiplier 1, unit stride and dilation) of one batch chunk.

    Parameters
    ----------
    x : ndarray, shape (n, C, H, W)
        Input chunk, float32 or float64.
    w : ndarray, shape (C, KH, KW)
        Weights, same dtype.
    b : ndarray, shape (C,)
        Bias (zeros for none), same dtype.
    y : ndarray, shape (n, C, H_out, W_out)
        Output chunk, written in full: ``y[n, c, i, j] = b[c] + sum_{a, e} w[c, a, e] *
        xpad[n, c, i + a, j + e]`` where ``xpad`` is ``x`` shifted by ``lo`` (rows or
        columns shifted in from outside ``x`` read zeros; a negative ``lo`` crops).
    lo : tuple of two int
        Leading padding per spatial dim.
    """
    _kernels()["forward"](x, w, b, y, *lo)


def depthwise_weight_grad(x, gy, gw, c0, lo) -> None:
    """Depthwise 2-d weight gradient (multiplier 1, unit stride and dilation) of the chunk
    of channels ``[c0, c0 + len(gw))``: ``gw[c - c0, a, e] = sum_{n, i, j} gy[n, c, i, j] *
    xpad[n, c, i + a, j + e]``.

    ``x (N, C, H, W)`` and ``gy (N, C, H_out, W_out)`` are the whole C-contiguous arrays;
    ``gw (c, KH, KW)`` is written in full. Same float dtype; ``xpad`` as in
    :func:`depthwise_forward`.
    """
    _kernels()["weight_grad"](x, gy, gw, c0, *lo)
