"""Optional compiled (numba) kernels: the memory-bound depthwise convolutions, the
transforms of the 3-d and 1-d Winograd convolutions (:mod:`lucid.kernels.winograd3d`,
:mod:`lucid.kernels.winograd1d`), the polyphase split and merge of dilated 2-d Winograd
convolutions (:mod:`lucid.kernels.winograd`, section *Dilation*) and the crop of an
im2col forward's GEMM result into the output (:func:`crop_store`; the resnet down and
stem suite forwards 0.91x and 0.90x the time with it).

A depthwise convolution does ``K`` multiply-adds per output, far too few to amortise a
GEMM; in NumPy each tap is a pass over the whole tensor. Compiled, each ``(n, c)`` plane
is read once into a small zero-padded buffer that stays in the L1 cache while all taps run
over it as long vectorised loops over the flattened plane (see :func:`_kernels`). On the
GUIDE's depthwise suite layer (float32, 2 threads) forward, input gradient and weight
gradient took 3.5, 3.7 and 3.1 ms, against 10.3, 11.4 and 12.0 ms for the NumPy paths of
:mod:`lucid.kernels.conv` and 5.7, 6.4 and 7.1 ms for an earlier compiled version that
looped over single rows (28 values: loop overhead, and a wrapped-around padding copy).

The Winograd transforms are elementwise too (a few adds per value); in NumPy they would be
strided passes over arrays 2-3x the size of the data. Compiled, each plane is transformed
in two separable passes over contiguous rows (see :func:`_winograd_kernels`); the GEMMs
between them stay in BLAS.

The functions here work on one *chunk* (a batch range, a channel range for the depthwise
weight gradient, images and output planes for Winograd) and are compiled with
``nogil=True``: the caller runs chunks on its own worker threads
(:func:`lucid.kernels.conv._map_chunks`), so there is no numba thread pool to oversubscribe
the cores, and the reduction order -- hence every bit of the result -- does not depend on
the thread count. Compilation is cached on disk (``cache=True``): the first use of each
kernel and dtype in a fresh environment compiles it (~1 s per kernel), later processes
load it.

numba is optional (the ``fast`` extra): without it, or with the environment variable
``LUCID_DISABLE_JIT`` set to a non-empty value other than ``0``, :func:`available` is
``False`` and the callers keep their NumPy paths.

Depthwise semantics match a direct convolution over the zero-padded input, exactly as in
PyTorch: padding zeros are multiplied like any input value (so an ``inf`` weight gives
``nan`` where its tap reads padding), and an ``inf``/``nan`` input reaches only the outputs
whose windows hold it. (The Winograd transforms mix whole tiles; their callers send only
finite data.)
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

__all__ = ["available"]

_f = np.float32
_HALF, _TWO, _FOUR, _EIGHT = _f(0.5), _f(2), _f(4), _f(8)
_QUARTER, _EIGHTH, _THREE_HALVES, _FIVE_HALVES = _f(0.25), _f(0.125), _f(1.5), _f(2.5)
"""Coefficients of the F(4, 3) transforms as float32 scalars: numba types a Python float
as float64, which would promote float32 arithmetic; all of them are exact in float32, so
float64 data lose nothing."""


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

    Indices are written as ``p`` into a view starting at the tap's offset, with unit
    stride and dilation, on purpose: runtime strides or dilations in the index expressions,
    and indices that numba cannot prove non-negative (it then wraps them around at run
    time), stop LLVM from vectorising the inner loops (measured 2.5x slower), so other
    layers keep the NumPy paths.
    """
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)
    njit_reduce = _numba().njit(nogil=True, cache=True, boundscheck=False,
                                fastmath={"reassoc", "contract"})

    @njit
    def load_plane(src, dst, Wp, top, left):
        """Copy ``src (H, W)`` into the flat plane ``dst`` (rows of ``Wp``) at offset
        ``(top, left)`` (negative offsets crop ``src``). The cells outside the copy are the
        same for every plane, so ``dst`` is zeroed once per call, not here. (Indices are
        offsets into row views: an index that could be negative, such as ``q - left``, makes
        numba wrap it around at run time, which stops vectorisation: 2.5x slower.)"""
        H, W = src.shape
        Hd = dst.shape[0] // Wp
        q0, q1 = max(0, left), min(Wp, W + left)
        for r in range(max(0, top), min(Hd, H + top)):
            d = dst[r * Wp + q0:]
            s = src[r - top, q0 - left:]
            for q in range(q1 - q0):
                d[q] = s[q]

    @njit
    def forward(x, w, b, y, top, left):
        """``y[n, c, i, j] = b[c] + sum_{a, e} w[c, a, e] * xpad[n, c, i + a, j + e]``.

        Per plane, on the flat padded plane ``xp`` (rows of ``Wp = W_out + KW - 1``), the
        output rows are one flat run ``acc[p]``, ``p = i*Wp + j``, in which tap ``(a, e)``
        reads ``xp[p + a*Wp + e]``: one long vectorised loop per group of three taps of a
        kernel row (``KW - 1`` junk columns per row are computed and dropped), then the
        ``W_out`` valid columns of each row are copied to ``y``.
        """
        N, C = x.shape[0], x.shape[1]
        Ho, Wo = y.shape[2], y.shape[3]
        KH, KW = w.shape[1], w.shape[2]
        Wp = Wo + KW - 1
        P = Ho * Wp
        xp = np.zeros((Ho + KH) * Wp, x.dtype)  # one spare row: junk lanes read past Hp
        acc = np.empty(P, x.dtype)
        for n in range(N):
            for c in range(C):
                load_plane(x[n, c], xp, Wp, top, left)
                bv = b[c]
                for p in range(P):
                    acc[p] = bv
                for a in range(KH):
                    wr = w[c, a]
                    e = 0
                    while e + 3 <= KW:
                        w0, w1, w2 = wr[e], wr[e + 1], wr[e + 2]
                        s = xp[a * Wp + e:]
                        for p in range(P):
                            acc[p] += w0 * s[p] + w1 * s[p + 1] + w2 * s[p + 2]
                        e += 3
                    while e < KW:
                        w0 = wr[e]
                        s = xp[a * Wp + e:]
                        for p in range(P):
                            acc[p] += w0 * s[p]
                        e += 1
                yc = y[n, c]
                for i in range(Ho):
                    s = acc[i * Wp:]
                    for j in range(Wo):
                        yc[i, j] = s[j]

    @njit
    def exact_channel_grad(x, gy, gwc, c, xp, Wp, top, left):
        """``gwc[a, e]`` of channel ``c`` from the valid output columns only: per-lane sums
        ``acc[a, e, j]`` over the batch and the rows (vectorised along ``j``), each lane row
        then summed in order. Slower than the flat reduction (short rows), but a value no
        valid output reads never enters it."""
        N = x.shape[0]
        Ho, Wo = gy.shape[2], gy.shape[3]
        KH, KW = gwc.shape
        acc = np.zeros((KH, KW, Wo), x.dtype)
        for n in range(N):
            load_plane(x[n, c], xp, Wp, top, left)
            for i in range(Ho):
                g = gy[n, c, i]
                for a in range(KH):
                    for e in range(KW):
                        s = xp[(i + a) * Wp + e:]
                        ac = acc[a, e]
                        for j in range(Wo):
                            ac[j] += g[j] * s[j]
        for a in range(KH):
            for e in range(KW):
                t = 0.0
                for j in range(Wo):
                    t += acc[a, e, j]
                gwc[a, e] = t

    @njit_reduce
    def weight_grad(x, gy, gw, c0, top, left):
        """``gw[c - c0, a, e] = sum_{n, i, j} gy[n, c, i, j] * xpad[n, c, i + a, j + e]`` for
        the channels ``c0 <= c < c0 + len(gw)`` (full C-contiguous ``x`` and ``gy``: a
        channel slice would not be contiguous, and strided operands are not vectorised).

        Per plane, ``gy`` is copied into the flat layout of :func:`forward` (zeros in the
        junk columns) and each tap is one dot product with the flat padded plane, summed
        over the batch in order. The dot products are compiled with ``reassoc`` (vectorised
        partial sums; same order every run). A junk column multiplies its zero by an input
        value no valid output of that tap reads; if that value is ``inf``/``nan`` the sum
        turns ``nan`` where a direct computation may not, so a channel whose result is not
        finite is computed again by :func:`exact_channel_grad`.
        """
        N = x.shape[0]
        Ho, Wo = gy.shape[2], gy.shape[3]
        KH, KW = gw.shape[1], gw.shape[2]
        Wp = Wo + KW - 1
        P = Ho * Wp
        xp = np.zeros((Ho + KH) * Wp, x.dtype)
        g = np.zeros(P, x.dtype)
        zero = g[0]  # typed like the data: a Python 0.0 would promote float32 sums
        for c in range(c0, c0 + gw.shape[0]):
            gwc = gw[c - c0]
            gwc[:] = 0
            for n in range(N):
                load_plane(x[n, c], xp, Wp, top, left)
                gc = gy[n, c]
                for i in range(Ho):
                    d = g[i * Wp:]
                    for j in range(Wo):
                        d[j] = gc[i, j]
                for a in range(KH):
                    for e in range(KW):
                        s = xp[a * Wp + e:]
                        t = zero
                        for p in range(P):
                            t += g[p] * s[p]
                        gwc[a, e] += t
            if not np.all(np.isfinite(gwc)):
                exact_channel_grad(x, gy, gwc, c, xp, Wp, top, left)

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


_f_in: Any = None
_f_out: Any = None
_f_adj: Any = None


@functools.cache
def _f43() -> None:
    """Compile the 1-d F(4, 3) transforms, written out once and inlined into the kernels
    of :func:`_winograd_kernels` and :func:`_winograd1d_kernels` (values in and out as
    tuples of an ``inline="always"`` call: the same timings and bits as the formulas
    written at each site), into the module globals the kernels call.

    ``_f_in``: 6 inputs ``d`` to the 6 points ``B^T d``; ``_f_out``: 6 points ``m`` to the
    4 outputs ``A^T m``; ``_f_adj``: 4 outputs ``g`` to 6 points ``A g``, the adjoint of
    ``_f_out``. The matrices are those of :func:`lucid.kernels.winograd._matrices` for
    ``m = 4`` (interpolation points ``0, 1, -1, 1/2, -2, inf``). Globals, not closure
    variables of the kernels: numba's disk cache misses on every new process for a kernel
    that closes over a dispatcher.
    """
    global _f_in, _f_out, _f_adj
    njit = _numba().njit(nogil=True, cache=True, inline="always")
    h, t2, t4, t8 = _HALF, _TWO, _FOUR, _EIGHT
    q4, e8, f3, f5 = _QUARTER, _EIGHTH, _THREE_HALVES, _FIVE_HALVES

    @njit
    def f_in(d0, d1, d2, d3, d4, d5):
        return (
            d0 - f3 * d1 - t2 * d2 + f3 * d3 + d4,
            -d1 + h * d2 + f5 * d3 + d4,
            d1 - f5 * d2 + h * d3 + d4,
            -t2 * d1 - d2 + t2 * d3 + d4,
            h * d1 - d2 - h * d3 + d4,
            d1 - f3 * d2 - t2 * d3 + f3 * d4 + d5,
        )

    @njit
    def f_out(m0, m1, m2, m3, m4, m5):
        return (
            m0 + m1 + m2 + m3 + m4,
            m1 - m2 + h * m3 - t2 * m4,
            m1 + m2 + q4 * m3 + t4 * m4,
            m1 - m2 + e8 * m3 - t8 * m4 + m5,
        )

    @njit
    def f_adj(g0, g1, g2, g3):
        return (
            g0,
            g0 + g1 + g2 + g3,
            g0 - g1 + g2 - g3,
            g0 + h * g1 + q4 * g2 + e8 * g3,
            g0 - t2 * g1 + t4 * g2 - t8 * g3,
            g3,
        )

    _f_in, _f_out, _f_adj = f_in, f_out, f_adj


@functools.cache
def _winograd_kernels() -> dict[str, Any]:
    """Compile (or load from the cache) the F(4x4, 3x3) transforms of
    :mod:`lucid.kernels.winograd3d` on first use.

    Every transform is separable and runs as two passes of 1-d transforms (along w, then
    along h) over one ``(image, channel, depth)`` plane at a time, the inner loop running
    over the tiles of a row (``tx``) with unit-stride stores, so LLVM vectorises it. The
    1-d transforms are those of :func:`_f43`.
    """
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)
    _f43()

    @njit
    def input_transform(x, V, b0, z0, top, left, th, tw, channel_major):
        """``V[6*i' + j', z, c, (b, ty, tx)] = (B^T d B)[i', j']``, ``d`` the 6x6 tile at
        ``(4*ty - top, 4*tx - left)`` of plane ``z0 + z`` of ``x[b0 + b, c]`` (zeros
        outside ``x``); ``V[:, c, z]`` instead if ``channel_major``.

        The zero-padded plane is first split into its 6 column phases and 4 row phases
        ``xd[j, i, u, tx] = xpad[4*u + i, 4*tx + j]`` (the only stride-4 access); both
        transforms then run over contiguous rows: along w over all cells, along h over
        all tiles at once (tile row ``4*ty + i`` is ``xd[:, i % 4, ty + i // 4]``; with
        only column phases the inner loop ran over the ``tw`` tiles of one tile row and
        was 1.2-1.5x slower).
        """
        D, H, W = x.shape[2], x.shape[3], x.shape[4]
        C, Dz, R = x.shape[1], V.shape[1 + channel_major], V.shape[3]
        T, Hp, Wp = th * tw, 4 * th + 2, 4 * tw + 2
        h_end = min(Hp, top + H)
        row = np.zeros(Wp, x.dtype)  # the cells outside [left, left + W) stay zero
        U = (th + 1) * tw  # values per row phase
        xd = np.zeros((6, 4, th + 1, tw), x.dtype)  # so do the rows outside [top, top + H)
        e = np.empty((6, 4, U), x.dtype)
        xd2, e2 = xd.reshape(6, 4 * U), e.reshape(6, 4 * U)
        c0, c1, c2, c3, c4, c5 = xd2[0], xd2[1], xd2[2], xd2[3], xd2[4], xd2[5]
        w0, w1, w2, w3, w4, w5 = e2[0], e2[1], e2[2], e2[3], e2[4], e2[5]
        for z in range(Dz):
            zz = z0 + z
            for c in range(C):
                a1, a2 = (c, z) if channel_major else (z, c)
                if zz < 0 or zz >= D:
                    V[:, a1, a2, :] = 0
                    continue
                for b in range(R // T):
                    src = x[b0 + b, c, zz]
                    for hh in range(top, h_end):
                        d, s = row[left:], src[hh - top]  # views: no wrapped-around index
                        for q in range(min(Wp - left, W)):
                            d[q] = s[q]
                        for tx in range(tw):
                            for j in range(6):
                                xd[j, hh % 4, hh // 4, tx] = row[4 * tx + j]
                    for k in range(4 * U):  # along w
                        w0[k], w1[k], w2[k], w3[k], w4[k], w5[k] = _f_in(
                            c0[k], c1[k], c2[k], c3[k], c4[k], c5[k])
                    r0 = b * T
                    for j in range(6):  # along h: rows 4*ty + i of all tiles, contiguous
                        e0, e1, e2_, e3 = e[j, 0], e[j, 1], e[j, 2], e[j, 3]
                        v0, v1 = V[j, a1, a2, r0:], V[6 + j, a1, a2, r0:]
                        v2, v3 = V[12 + j, a1, a2, r0:], V[18 + j, a1, a2, r0:]
                        v4, v5 = V[24 + j, a1, a2, r0:], V[30 + j, a1, a2, r0:]
                        for u in range(T):  # u = ty*tw + tx; row 4*ty + 4 + i is e_i[u + tw]
                            v0[u], v1[u], v2[u], v3[u], v4[u], v5[u] = _f_in(
                                e0[u], e1[u], e2_[u], e3[u], e0[u + tw], e1[u + tw])

    @njit
    def output_transform(M, bias, y, b0, d0, th, tw):
        """``y[b0 + b, o, d0 + d]`` tile ``(ty, tx)`` ``= bias[o] + (A^T m A)``, ``m`` the
        6x6 values ``M[:, d, o, (b, ty, tx)]`` (tiles cropped at the edge of ``y``).

        Both transforms run over all tiles of the plane at once (contiguous rows); the
        result ``v[i, j, (ty, tx)]`` is then interleaved into ``y`` rows."""
        Ho, Wo = y.shape[3], y.shape[4]
        Dd, Co, R = M.shape[1], M.shape[2], M.shape[3]
        T, full_tx = th * tw, Wo // 4
        u = np.empty((6, 4, T), y.dtype)  # u[i, j, (ty, tx)]
        v = np.empty((4, 4, T), y.dtype)  # v[i, j, (ty, tx)]: output (4*ty + i, 4*tx + j)
        for b in range(R // T):
            r0 = b * T
            for o in range(Co):
                bo = bias[o]
                for d in range(Dd):
                    for i in range(6):  # along w
                        p = 6 * i
                        for t in range(T):
                            r = r0 + t
                            u[i, 0, t], u[i, 1, t], u[i, 2, t], u[i, 3, t] = _f_out(
                                M[p, d, o, r], M[p + 1, d, o, r], M[p + 2, d, o, r],
                                M[p + 3, d, o, r], M[p + 4, d, o, r], M[p + 5, d, o, r])
                    for j in range(4):  # along h
                        for t in range(T):
                            y0, y1, y2, y3 = _f_out(u[0, j, t], u[1, j, t], u[2, j, t],
                                                   u[3, j, t], u[4, j, t], u[5, j, t])
                            v[0, j, t], v[1, j, t] = y0 + bo, y1 + bo
                            v[2, j, t], v[3, j, t] = y2 + bo, y3 + bo
                    yo = y[b0 + b, o, d0 + d]
                    for hh in range(Ho):
                        ty, i = hh // 4, hh % 4
                        t0 = ty * tw
                        for tx in range(full_tx):
                            for j in range(4):
                                yo[hh, 4 * tx + j] = v[i, j, t0 + tx]
                        for q in range(4 * full_tx, Wo):
                            yo[hh, q] = v[i, q % 4, t0 + q // 4]

    @njit
    def output_adjoint(gy, Y, b0, d0, th, tw):
        """Adjoint of ``output_transform`` (without bias), channel-major: ``Y[6*i' + j', o,
        d, (b, ty, tx)] = (A g A^T)[i', j']``, ``g`` the 4x4 tile ``(ty, tx)`` of
        ``gy[b0 + b, o, d0 + d]`` (zeros beyond ``gy``). Column and row phases first, as in
        ``input_transform``."""
        Ho, Wo = gy.shape[3], gy.shape[4]
        Co, Dd, R = Y.shape[1], Y.shape[2], Y.shape[3]
        T, Hp, full_tx = th * tw, 4 * th, Wo // 4
        # gd[j, i, ty, tx] = gy[4*ty + i, 4*tx + j] (0 beyond): column and row phases
        gd = np.zeros((4, 4, th, tw), gy.dtype)
        u = np.empty((6, 4, T), gy.dtype)
        gd2, u2 = gd.reshape(4, Hp * tw), u.reshape(6, Hp * tw)
        for b in range(R // T):
            for o in range(Co):
                for d in range(Dd):
                    src = gy[b0 + b, o, d0 + d]
                    for hh in range(Ho):
                        i, ty = hh % 4, hh // 4
                        for tx in range(full_tx):
                            for j in range(4):
                                gd[j, i, ty, tx] = src[hh, 4 * tx + j]
                        for q in range(4 * full_tx, Wo):
                            gd[q % 4, i, ty, q // 4] = src[hh, q]
                    for k in range(Hp * tw):  # along w
                        u2[0, k], u2[1, k], u2[2, k], u2[3, k], u2[4, k], u2[5, k] = _f_adj(
                            gd2[0, k], gd2[1, k], gd2[2, k], gd2[3, k])
                    r0 = b * T
                    for j in range(6):  # along h: rows 4*ty + i of all tiles, contiguous
                        u0, u1, u2_, u3 = u[j, 0], u[j, 1], u[j, 2], u[j, 3]
                        y0, y1 = Y[j, o, d, r0:], Y[6 + j, o, d, r0:]
                        y2, y3 = Y[12 + j, o, d, r0:], Y[18 + j, o, d, r0:]
                        y4, y5 = Y[24 + j, o, d, r0:], Y[30 + j, o, d, r0:]
                        for t in range(T):
                            y0[t], y1[t], y2[t], y3[t], y4[t], y5[t] = _f_adj(
                                u0[t], u1[t], u2_[t], u3[t])

    return {
        "input_transform": input_transform,
        "output_transform": output_transform,
        "output_adjoint": output_adjoint,
    }


def winograd_input_transform(x, V, b0, z0, lo, tiles, channel_major=False) -> None:
    """F(4x4, 3x3) input transform of a chunk of ``x (N, C, D, H, W)`` (C-contiguous).

    ``V (36, Dz, C, nb*th*tw)`` (or ``(36, C, Dz, nb*th*tw)`` if ``channel_major``)
    receives transform point ``6*i' + j'`` of the 6x6 tile ``(ty, tx)`` (top-left corner
    ``(4*ty - lo[0], 4*tx - lo[1])``) of depth plane ``z0 + z`` of image ``b0 + b``;
    positions outside ``x`` (padding) read zeros. ``tiles`` is ``(th, tw)``.
    """
    _winograd_kernels()["input_transform"](x, V, b0, z0, *lo, *tiles, channel_major)


def winograd_output_transform(M, bias, y, b0, d0, tiles) -> None:
    """F(4x4, 3x3) output transform: ``M (36, Dd, C_out, nb*th*tw)`` laid out like
    :func:`winograd_input_transform`'s ``V`` gives the 4x4 output tiles of
    ``y[b0:b0 + nb, :, d0:d0 + Dd]`` (plus ``bias (C_out,)``), cropped at the edge of
    ``y (N, C_out, D_out, H_out, W_out)`` (C-contiguous)."""
    _winograd_kernels()["output_transform"](M, bias, y, b0, d0, *tiles)


def winograd_output_adjoint(gy, Y, b0, d0, tiles) -> None:
    """Adjoint of :func:`winograd_output_transform` (no bias), channel-major: the
    transformed 4x4 tiles of ``gy[b0:b0 + nb, :, d0:d0 + Dd]`` into ``Y (36, C_out, Dd,
    nb*th*tw)``; tiles sticking out of ``gy`` read zeros."""
    _winograd_kernels()["output_adjoint"](gy, Y, b0, d0, *tiles)


@functools.cache
def _crop_kernel() -> Any:
    """Compile (or load from the cache) :func:`crop_store`'s loop on first use."""
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)

    @njit
    def crop(src, y, b, has_bias):
        Co, n = src.shape[0], src.shape[1]
        rows, width = y.shape[2], y.shape[3]
        for i in range(n):
            for o in range(Co):
                bo = b[o]
                for r in range(rows):
                    s, d = src[o, i, r], y[i, o, r]
                    if has_bias:
                        for q in range(width):
                            d[q] = s[q] + bo
                    else:
                        for q in range(width):
                            d[q] = s[q]

    return crop


def crop_store(src, y, b) -> None:
    """``y[i, o, r, q] = src[o, i, r, q] (+ b[o])``: the valid cells of a channel-major
    GEMM result on an extended grid, ``src (C_out, n, rows', Q1)`` with ``rows' >= rows``
    and ``Q1 >= width``, into a batch block ``y (n, C_out, rows, width)`` (any strides).

    NumPy's copy of the same views moves rows of ``width`` values at a time, with a
    per-row overhead that dominates for short rows: on the resnet down layer's blocks
    (16-value rows) it took 0.33 ms against 0.075 ms for this loop."""
    if b is None:
        _crop_kernel()(src, y, np.zeros(1, src.dtype), False)
    else:
        _crop_kernel()(src, y, b, True)


@functools.cache
def _phase_kernels() -> dict[str, Any]:
    """Compile (or load from the cache) the polyphase split and merge of
    :func:`phase_split` / :func:`phase_merge` on first use.

    One pass over each input row, writing (or reading) the ``d1`` column phases of the row;
    the common ``d1 == 2`` gets its own loop with compile-time strides (measured 0.34 ms
    against 0.47 ms for the generic loop on a 4 MB array, a plain copy taking 0.29 ms).
    NumPy's strided copies of the same views take 0.67 ms (split) and 1.74 ms (merge).
    """
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)

    @njit
    def split(x, p):
        d0, d1, N, C, h, w = p.shape
        for n in range(N):
            for c in range(C):
                for i in range(h):
                    for a in range(d0):
                        row = x[n, c, i * d0 + a]
                        if d1 == 2:
                            p0, p1 = p[a, 0, n, c, i], p[a, 1, n, c, i]
                            for j in range(w):
                                p0[j] = row[2 * j]
                                p1[j] = row[2 * j + 1]
                        else:
                            for b in range(d1):
                                q = p[a, b, n, c, i]
                                for j in range(w):
                                    q[j] = row[j * d1 + b]

    @njit
    def merge(p, y):
        d0, d1, N, C, h, w = p.shape
        for n in range(N):
            for c in range(C):
                for i in range(h):
                    for a in range(d0):
                        row = y[n, c, i * d0 + a]
                        if d1 == 2:
                            p0, p1 = p[a, 0, n, c, i], p[a, 1, n, c, i]
                            for j in range(w):
                                row[2 * j] = p0[j]
                                row[2 * j + 1] = p1[j]
                        else:
                            for b in range(d1):
                                q = p[a, b, n, c, i]
                                for j in range(w):
                                    row[j * d1 + b] = q[j]

    return {"split": split, "merge": merge}


def phase_split(x, p) -> None:
    """Polyphase split of a 2-d batch: ``p[a, b, n, c, i, j] = x[n, c, d0*i + a, d1*j + b]``.

    ``x (N, C, d0*h, d1*w)`` and ``p (d0, d1, N, C, h, w)`` are C-contiguous arrays of the
    same dtype; ``p`` is written in full.
    """
    _phase_kernels()["split"](x, p)


def phase_merge(p, y) -> None:
    """Inverse of :func:`phase_split`: ``y[n, c, d0*i + a, d1*j + b] = p[a, b, n, c, i, j]``
    (``y`` written in full)."""
    _phase_kernels()["merge"](p, y)


@functools.cache
def _winograd1d_kernels() -> dict[str, Any]:
    """Compile (or load from the cache) the F(4, 3) transforms of
    :mod:`lucid.kernels.winograd1d` on first use.

    Each ``(image, channel)`` row is first split into its 4 phases ``ph[r, u] =
    xpad[4*u + r]`` (the only stride-4 access); the 6 values of tile ``t`` at shift ``s``
    are then ``ph[(s + j) % 4, t + (s + j) // 4]``, contiguous in ``t``, so the transform
    of all tiles of a row vectorises. The 1-d transforms are those of :func:`_f43`.
    """
    njit = _numba().njit(nogil=True, cache=True, boundscheck=False)
    _f43()

    @njit
    def input_transform(x, V, b0, t0, Tc, lo, Ka):
        """``V[p, a*C + c, b*Tc + t] = (B^T d)[p]``, ``d`` the 6 values of ``xpad[b0 + b,
        c]`` from ``4*(t0 + t) + 3*a`` (``xpad[q] = x[q - lo]``, zeros outside ``x``)."""
        C, L = x.shape[1], x.shape[2]
        nb = V.shape[2] // Tc
        Ul = Tc + (3 * (Ka - 1) + 5) // 4 + 1
        row = np.zeros(4 * Ul, x.dtype)  # row[q] = xpad[4*t0 + q]; zeros outside x stay
        ph = np.empty((4, Ul), x.dtype)
        base = 4 * t0 - lo  # x index of row[0]
        q0, q1 = max(0, -base), min(4 * Ul, L - base)
        for b in range(nb):
            for c in range(C):
                d, src = row[q0:], x[b0 + b, c, base + q0 :]  # views: no wrapped-around index
                for q in range(q1 - q0):
                    d[q] = src[q]
                for u in range(Ul):
                    for r in range(4):
                        ph[r, u] = row[4 * u + r]
                for a in range(Ka):
                    s, k, col = 3 * a, a * C + c, b * Tc
                    p0, p1 = ph[s % 4, s // 4 :], ph[(s + 1) % 4, (s + 1) // 4 :]
                    p2, p3 = ph[(s + 2) % 4, (s + 2) // 4 :], ph[(s + 3) % 4, (s + 3) // 4 :]
                    p4, p5 = ph[(s + 4) % 4, (s + 4) // 4 :], ph[(s + 5) % 4, (s + 5) // 4 :]
                    v0, v1, v2 = V[0, k, col:], V[1, k, col:], V[2, k, col:]
                    v3, v4, v5 = V[3, k, col:], V[4, k, col:], V[5, k, col:]
                    for t in range(Tc):
                        v0[t], v1[t], v2[t], v3[t], v4[t], v5[t] = _f_in(
                            p0[t], p1[t], p2[t], p3[t], p4[t], p5[t])

    @njit
    def output_transform(M, bias, y, b0, t0, Tc):
        """``y[b0 + b, o, 4*(t0 + t) + i] = bias[o] + (A^T m)[i]``, ``m = M[:, o, b*Tc + t]``
        (the last tile cropped at the end of ``y``)."""
        Co, Lo = M.shape[1], y.shape[2]
        nb = M.shape[2] // Tc
        v = np.empty((4, Tc), y.dtype)
        base = 4 * t0
        full = max(0, min(Tc, (Lo - base) // 4))
        for b in range(nb):
            for o in range(Co):
                bo, col = bias[o], b * Tc
                m0, m1, m2 = M[0, o, col:], M[1, o, col:], M[2, o, col:]
                m3, m4, m5 = M[3, o, col:], M[4, o, col:], M[5, o, col:]
                for t in range(Tc):
                    y0, y1, y2, y3 = _f_out(m0[t], m1[t], m2[t], m3[t], m4[t], m5[t])
                    v[0, t], v[1, t], v[2, t], v[3, t] = y0 + bo, y1 + bo, y2 + bo, y3 + bo
                yo = y[b0 + b, o]
                for t in range(full):
                    for i in range(4):
                        yo[base + 4 * t + i] = v[i, t]
                for q in range(base + 4 * full, min(Lo, base + 4 * Tc)):
                    yo[q] = v[(q - base) % 4, (q - base) // 4]

    @njit
    def output_adjoint(gy, Y, b0, t0, Tc):
        """Adjoint of ``output_transform`` (no bias): ``Y[p, o, b*Tc + t] = (A g)[p]``, ``g``
        the 4 values of ``gy[b0 + b, o]`` from ``4*(t0 + t)`` (zeros beyond ``gy``)."""
        Co, Lo = Y.shape[1], gy.shape[2]
        nb = Y.shape[2] // Tc
        gd = np.zeros((4, Tc), gy.dtype)  # gd[i, t] = gy[4*(t0 + t) + i]
        base = 4 * t0
        full = max(0, min(Tc, (Lo - base) // 4))
        for b in range(nb):
            for o in range(Co):
                src, col = gy[b0 + b, o], b * Tc
                for t in range(full):
                    for i in range(4):
                        gd[i, t] = src[base + 4 * t + i]
                for q in range(base + 4 * full, base + 4 * Tc):
                    gd[(q - base) % 4, (q - base) // 4] = src[q] if q < Lo else 0
                y0, y1, y2 = Y[0, o, col:], Y[1, o, col:], Y[2, o, col:]
                y3, y4, y5 = Y[3, o, col:], Y[4, o, col:], Y[5, o, col:]
                for t in range(Tc):
                    y0[t], y1[t], y2[t], y3[t], y4[t], y5[t] = _f_adj(
                        gd[0, t], gd[1, t], gd[2, t], gd[3, t])

    return {
        "input_transform": input_transform,
        "output_transform": output_transform,
        "output_adjoint": output_adjoint,
    }


def winograd1d_input_transform(x, V, b0, t0, Tc, lo, Ka) -> None:
    """F(4, 3) input transform of images ``[b0, b0 + nb)`` and tiles ``[t0, t0 + Tc)`` of
    ``x (N, C, L)`` (C-contiguous) at the ``Ka`` shifts ``3*a``: ``V (6, Ka*C, nb*Tc)``
    receives point ``p`` of the 6 values of ``xpad[b0 + b, c]`` from ``4*(t0 + t) + 3*a``
    (``xpad`` is ``x`` shifted by ``lo``, zeros outside) in row ``a*C + c``, column
    ``b*Tc + t``."""
    _winograd1d_kernels()["input_transform"](x, V, b0, t0, Tc, lo, Ka)


def winograd1d_output_transform(M, bias, y, b0, t0, Tc) -> None:
    """F(4, 3) output transform: ``M (6, C_out, nb*Tc)`` laid out like
    :func:`winograd1d_input_transform`'s ``V`` gives the 4-value output tiles
    ``[t0, t0 + Tc)`` of ``y[b0:b0 + nb]`` (plus ``bias (C_out,)``), cropped at the end of
    ``y (N, C_out, L_out)`` (C-contiguous)."""
    _winograd1d_kernels()["output_transform"](M, bias, y, b0, t0, Tc)


def winograd1d_output_adjoint(gy, Y, b0, t0, Tc) -> None:
    """Adjoint of :func:`winograd1d_output_transform` (no bias): the transformed tiles
    ``[t0, t0 + Tc)`` of ``gy[b0:b0 + nb]`` into ``Y (6, C_out, nb*Tc)``; tiles sticking
    out of ``gy`` read zeros."""
    _winograd1d_kernels()["output_adjoint"](gy, Y, b0, t0, Tc)
