"""N-d convolution kernels on NumPy arrays: forward, input gradient and weight gradient.

Conventions
-----------
All arrays are batched and channels-first: ``x`` is ``(N, C_in, *S)``, ``w`` is
``(C_out, C_in // groups, *K)`` and ``y`` is ``(N, C_out, *O)`` with 1, 2 or 3 spatial dims
handled by one code path. ``stride`` and ``dilation`` are tuples with one int per spatial
dim; ``padding`` is a tuple of ``(lo, hi)`` pairs per spatial dim (asymmetric padding is what
``padding='same'`` needs). Everything is plain cross-correlation: no kernel flip and no
complex conjugation::

    y[n, o, i] = sum_{c in group(o), k} w[o, c, k] * xpad[n, c, i*s + k*d]

The three public maps ``C(x, w) = conv_forward``, ``T(gy, w) = conv_input_grad`` and
``G(x, gy) = conv_weight_grad`` are exact adjoints of each other::

    <C(x, w), gy> == <x, T(gy, w)> == <w, G(x, gy)>

``T`` is also the forward of a transposed convolution, so ``T`` and ``G`` accept a ``gy``
with any spatial size (not only the size :func:`conv_output_shape` gives).

Algorithm
---------
The general path is *im2col + one GEMM* per batch chunk, with no Python loop over batch
elements, groups or kernel taps:

1. The (chunk of the) input is zero-padded once into a buffer just large enough for the
   windows that are read.
2. ``numpy.lib.stride_tricks.as_strided`` gives a read-only view ``(n, C, *K, *O)`` of all
   windows (kernel-tap strides ``s_x * d``, output strides ``s_x * s``), which is copied into
   a contiguous column buffer.
3. A single (group-batched) ``np.matmul`` call on BLAS does the contraction.

Layouts are picked so that the GEMM writes its result in the final layout:

* forward: columns ``(n, G, Cg*K, O)``; ``W (G, Cog, Cg*K) @ cols -> (n, G, Cog, O)``, which
  *is* ``y[n0:n1]`` (``out=`` is used, no transpose copy);
* input gradient: ``W^T (G, Cg*K, Cog) @ gy (n, G, Cog, O) -> cols (n, C, *K, *O)``, then a
  col2im scatter-add that loops over the ``prod(K)`` kernel taps (one strided slice-add each)
  into a zero-padded buffer, which is finally cropped;
* weight gradient: columns ``(G, Cg*K, n*O)`` and ``gy`` transposed to ``(G, Cog, n*O)``, so
  the reduction over batch *and* positions is one GEMM with a long inner dimension:
  ``gy_t @ cols^T -> (G, Cog, Cg*K)`` (BLAS reads ``cols^T`` as a transposed operand).

Special cases: a 1x1 kernel with unit stride and no padding is a plain GEMM on a reshape, and
depthwise convolutions (``groups == C_in``, one input channel per group, any channel
multiplier) use multiply-adds over kernel taps, which beats thousands of tiny GEMMs.

The column buffer is bounded by chunking over the batch (:data:`WORKSPACE_BYTES`). All sums
run in a fixed order, so results are bit-identical from run to run (given the same BLAS
threading). ``float16`` is computed in ``float32`` and cast back; other dtypes (``float32``,
``float64``, ``complex64``, ``complex128``) are computed natively.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "WORKSPACE_BYTES",
    "conv_output_shape",
    "conv_forward",
    "conv_input_grad",
    "conv_weight_grad",
]

WORKSPACE_BYTES = 256 * 2**20
"""Upper bound (bytes) for one im2col column buffer; larger batches are processed in chunks."""

_CHUNK_TARGET_BYTES = 256 * 2**20
"""Preferred column-buffer size per chunk (at most :data:`WORKSPACE_BYTES`)."""

Pads = Sequence[tuple[int, int]]


# --------------------------------------------------------------------------------------------
# shape helpers
# --------------------------------------------------------------------------------------------


def conv_output_shape(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """Spatial output shape of a convolution.

    Parameters
    ----------
    in_shape : sequence of int
        Spatial input sizes ``S``.
    kernel, stride, dilation : sequence of int
        Per-dim kernel size, stride and dilation.
    padding : sequence of (int, int)
        Per-dim ``(lo, hi)`` zero padding.

    Returns
    -------
    tuple of int
        ``floor((L + lo + hi - d*(k-1) - 1) / s) + 1`` for every spatial dim (may be ``<= 0``
        for invalid configurations; validation is the caller's job).

    Examples
    --------
    >>> conv_output_shape((32, 32), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    (32, 32)
    >>> conv_output_shape((112,), (7,), (2,), ((3, 3),), (1,))
    (56,)
    """
    return tuple(
        (L + lo + hi - d * (k - 1) - 1) // s + 1
        for L, k, s, (lo, hi), d in zip(in_shape, kernel, stride, padding, dilation)
    )


def _compute_dtype(*arrays: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """Return ``(result_dtype, compute_dtype)``; half precision is computed in float32."""
    dt = np.result_type(*arrays)
    if dt == np.float16:
        return dt, np.dtype(np.float32)
    return dt, dt


def _needed_extent(out: Sequence[int], kernel, stride, dilation) -> tuple[int, ...]:
    """Padded-buffer extent that the windows of ``out`` positions touch, per spatial dim."""
    return tuple(
        (o - 1) * s + (k - 1) * d + 1 if o > 0 else 0
        for o, k, s, d in zip(out, kernel, stride, dilation)
    )


def _overlap(L: int, lo: int, ext: int) -> tuple[slice, slice]:
    """Slices ``(src, dst)`` copying ``x[0:L]`` to buffer offset ``lo`` within ``[0, ext)``."""
    src0 = max(0, -lo)
    dst0 = max(0, lo)
    count = max(0, min(L - src0, ext - dst0))
    return slice(src0, src0 + count), slice(dst0, dst0 + count)


def _pad_zero(x: np.ndarray, lo: Sequence[int], ext: Sequence[int], dtype) -> np.ndarray:
    """Zero-pad ``x (n, C, *S)`` into a new ``(n, C, *ext)`` buffer with ``x`` at offset ``lo``.

    Parts of ``x`` beyond ``ext`` are dropped. Returns ``x`` itself (no copy) when the buffer
    would be a prefix crop of ``x``.
    """
    spatial = x.shape[2:]
    if all(p == 0 for p in lo) and all(e <= L for e, L in zip(ext, spatial)):
        return x[(slice(None), slice(None)) + tuple(slice(0, e) for e in ext)]
    buf = np.zeros(x.shape[:2] + tuple(ext), dtype=dtype)
    src, dst = zip(*(_overlap(L, p, e) for L, p, e in zip(spatial, lo, ext)))
    buf[(slice(None), slice(None)) + dst] = x[(slice(None), slice(None)) + src]
    return buf


def _windows(xp: np.ndarray, kernel, out, stride, dilation) -> np.ndarray:
    """Read-only strided view ``(n, C, *K, *O)`` with ``v[n, c, k, i] = xp[n, c, i*s + k*d]``."""
    sn, sc, *ss = xp.strides
    return as_strided(
        xp,
        shape=xp.shape[:2] + tuple(kernel) + tuple(out),
        strides=(sn, sc)
        + tuple(st * d for st, d in zip(ss, dilation))
        + tuple(st * s for st, s in zip(ss, stride)),
        writeable=False,
    )


def _tap_slices(k: Sequence[int], out, stride, dilation) -> tuple[slice, ...]:
    """Spatial slices of the padded buffer read by kernel tap ``k`` for all ``out`` positions."""
    return tuple(
        slice(kk * d, kk * d + (o - 1) * s + 1, s) for kk, o, s, d in zip(k, out, stride, dilation)
    )


def _batch_chunk(n: int, bytes_per_sample: int) -> int:
    """Number of batch elements per chunk so one column buffer stays within budget."""
    budget = min(_CHUNK_TARGET_BYTES, WORKSPACE_BYTES)
    return max(1, min(n, budget // max(1, bytes_per_sample)))


def _is_pointwise(kernel, stride, padding) -> bool:
    return (
        all(k == 1 for k in kernel)
        and all(s == 1 for s in stride)
        and all(lo == 0 and hi == 0 for lo, hi in padding)
    )


# --------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------


def conv_forward(
    x: np.ndarray,
    w: np.ndarray,
    stride: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """Grouped, strided, dilated N-d cross-correlation.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, *S)
        Input.
    w : ndarray, shape (C_out, C_in // groups, *K)
        Weights.
    stride, dilation : tuple of int
        One entry per spatial dim.
    padding : tuple of (int, int)
        ``(lo, hi)`` zero padding per spatial dim.
    groups : int
        Number of channel groups (``C_in`` and ``C_out`` divisible by it).

    Returns
    -------
    ndarray, shape (N, C_out, *O)
        ``y[n, o, i] = sum_{c, k} w[o, c, k] * xpad[n, c, i*s + k*d]`` with ``O`` from
        :func:`conv_output_shape`; same dtype as the inputs.

    Examples
    --------
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> w = np.array([[[1.0, 0.0, -1.0]]])
    >>> conv_forward(x, w, (1,), ((1, 1),), (1,), 1)
    array([[[-1., -2., -2., -2.,  3.]]])
    """
    rdt, cdt = _compute_dtype(x, w)
    x = np.asarray(x, dtype=cdt)
    w = np.asarray(w, dtype=cdt)
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel = w.shape[2:]
    G = groups
    Cog = Co // G
    out = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    Of = prod(out)
    Kf = prod(kernel)
    y = np.empty((N, Co) + out, dtype=cdt)
    if y.size == 0:
        return y.astype(rdt, copy=False)
    if Cg * Kf == 0:
        y.fill(0)
        return y.astype(rdt, copy=False)

    if _is_pointwise(kernel, stride, padding):
        wg = w.reshape(G, Cog, Cg)
        np.matmul(wg, x.reshape(N, G, Cg, Of), out=y.reshape(N, G, Cog, Of))
        return y.astype(rdt, copy=False)

    if G == C and Cg == 1 and G > 1:
        _depthwise_forward(x, w, y, stride, padding, dilation)
        return y.astype(rdt, copy=False)

    lo = tuple(p[0] for p in padding)
    ext = _needed_extent(out, kernel, stride, dilation)
    wg = w.reshape(G, Cog, Cg * Kf)
    nb = _batch_chunk(N, C * Kf * Of * y.itemsize)
    buf = np.empty((nb, C) + tuple(kernel) + out, dtype=cdt)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        xp = _pad_zero(x[n0:n1], lo, ext, cdt)
        cols = buf[: n1 - n0]
        np.copyto(cols, _windows(xp, kernel, out, stride, dilation))
        np.matmul(
            wg,
            cols.reshape(n1 - n0, G, Cg * Kf, Of),
            out=y[n0:n1].reshape(n1 - n0, G, Cog, Of),
        )
    return y.astype(rdt, copy=False)


def _depthwise_forward(x, w, y, stride, padding, dilation) -> None:
    """Depthwise forward (one input channel per group) as multiply-adds over kernel taps.

    ``y`` is ``(N, C*m, *O)`` and is filled in place; ``m`` is the channel multiplier.
    """
    N, C = x.shape[:2]
    Co = w.shape[0]
    m = Co // C
    kernel = w.shape[2:]
    out = y.shape[2:]
    nd = len(out)
    lo = tuple(p[0] for p in padding)
    ext = _needed_extent(out, kernel, stride, dilation)
    # weights as (C, m, *K) broadcast against (n, C, m, *O)
    wk = w.reshape((C, m) + tuple(kernel))
    nb = _batch_chunk(N, 4 * C * max(1, prod(ext)) * y.itemsize)
    ym = y.reshape((N, C, m) + out)
    tmp = np.empty((nb, C, m) + out, dtype=y.dtype)
    spatial_bcast = (None,) * nd
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        xp = _pad_zero(x[n0:n1], lo, ext, y.dtype)
        yc = ym[n0:n1]
        t = tmp[: n1 - n0]
        for j, k in enumerate(itertools.product(*(range(kk) for kk in kernel))):
            xs = xp[(slice(None), slice(None)) + _tap_slices(k, out, stride, dilation)]
            wv = wk[(slice(None), slice(None)) + k][
                (None, slice(None), slice(None)) + spatial_bcast
            ]
            if j == 0:
                np.multiply(xs[:, :, None], wv, out=yc)
            else:
                np.multiply(xs[:, :, None], wv, out=t)
                yc += t


# --------------------------------------------------------------------------------------------
# input gradient / transposed convolution
# --------------------------------------------------------------------------------------------


def conv_input_grad(
    gy: np.ndarray,
    w: np.ndarray,
    x_spatial: Sequence[int],
    stride: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """Adjoint of :func:`conv_forward` with respect to ``x`` (= transposed convolution).

    Parameters
    ----------
    gy : ndarray, shape (N, C_out, *O)
        Output gradient. ``O`` may differ from :func:`conv_output_shape`: every position
        ``i`` is scattered to ``x`` positions ``i*s - lo + k*d`` and contributions outside
        ``[0, L)`` are dropped.
    w : ndarray, shape (C_out, C_in // groups, *K)
        Weights.
    x_spatial : sequence of int
        Spatial shape ``S`` of the input gradient.
    stride, padding, dilation, groups
        As in :func:`conv_forward`.

    Returns
    -------
    ndarray, shape (N, C_in, *S)
        ``gx[n, c, i*s - lo + k*d] += sum_o w[o, c, k] * gy[n, o, i]``.

    Examples
    --------
    >>> gy = np.ones((1, 1, 5))
    >>> w = np.array([[[1.0, 2.0, 3.0]]])
    >>> conv_input_grad(gy, w, (5,), (1,), ((1, 1),), (1,), 1)
    array([[[5., 6., 6., 6., 3.]]])
    """
    rdt, cdt = _compute_dtype(gy, w)
    gy = np.asarray(gy, dtype=cdt)
    w = np.asarray(w, dtype=cdt)
    x_spatial = tuple(int(s) for s in x_spatial)
    N, Co = gy.shape[:2]
    out = gy.shape[2:]
    Cg = w.shape[1]
    kernel = w.shape[2:]
    G = groups
    Cog = Co // G
    C = Cg * G
    Of = prod(out)
    Kf = prod(kernel)
    gx = np.zeros((N, C) + x_spatial, dtype=cdt)
    if gx.size == 0 or Of == 0 or Cog == 0 or Kf == 0:
        return gx.astype(rdt, copy=False)

    if _is_pointwise(kernel, stride, padding) and out == x_spatial:
        wt = w.reshape(G, Cog, Cg).transpose(0, 2, 1)
        np.matmul(wt, gy.reshape(N, G, Cog, Of), out=gx.reshape(N, G, Cg, Of))
        return gx.astype(rdt, copy=False)

    lo = tuple(p[0] for p in padding)
    # buffer index b = i*s + k*d  <->  x position b - lo
    ext = tuple(
        max(e, p + L)
        for e, p, L in zip(_needed_extent(out, kernel, stride, dilation), lo, x_spatial)
    )
    direct = all(p == 0 for p in lo) and ext == x_spatial
    crop = tuple(_overlap(L, p, e) for L, p, e in zip(x_spatial, lo, ext))
    src = (slice(None), slice(None)) + tuple(c[1] for c in crop)
    dst = (slice(None), slice(None)) + tuple(c[0] for c in crop)
    taps = [
        (k, (slice(None), slice(None)) + _tap_slices(k, out, stride, dilation))
        for k in itertools.product(*(range(kk) for kk in kernel))
    ]

    if G == C and Cg == 1 and G > 1:
        _depthwise_input_grad(gy, w, gx, ext, taps, direct, src, dst)
        return gx.astype(rdt, copy=False)

    wt = w.reshape(G, Cog, Cg * Kf).transpose(0, 2, 1)
    nb = _batch_chunk(N, C * Kf * Of * gx.itemsize)
    cbuf = np.empty((nb, G, Cg * Kf, Of), dtype=cdt)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        n = n1 - n0
        cols = cbuf[:n]
        np.matmul(wt, gy[n0:n1].reshape(n, G, Cog, Of), out=cols)
        cols = cols.reshape((n, C) + tuple(kernel) + out)
        acc = gx[n0:n1] if direct else np.zeros((n, C) + ext, dtype=cdt)
        for k, sl in taps:
            acc[sl] += cols[(slice(None), slice(None)) + k]
        if not direct:
            gx[n0:n1][dst] = acc[src]
    return gx.astype(rdt, copy=False)


def _depthwise_input_grad(gy, w, gx, ext, taps, direct, src, dst) -> None:
    """Depthwise input gradient as per-tap multiply + strided slice-add (fills ``gx``)."""
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    out = gy.shape[2:]
    nd = len(out)
    wk = w.reshape((C, m) + w.shape[2:])
    gym = gy.reshape((N, C, m) + out)
    nb = _batch_chunk(N, 4 * C * max(1, prod(ext)) * gx.itemsize)
    tmp = np.empty((nb, C) + out, dtype=gx.dtype)
    bc = (None,) * nd
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        n = n1 - n0
        acc = gx[n0:n1] if direct else np.zeros((n, C) + tuple(ext), dtype=gx.dtype)
        g = gym[n0:n1]
        t = tmp[:n]
        for k, sl in taps:
            wv = wk[(slice(None), slice(None)) + k]
            if m == 1:
                np.multiply(g[:, :, 0], wv[(None, slice(None), 0) + bc], out=t)
            else:
                np.einsum("ncj...,cj->nc...", g, wv, out=t)
            acc[sl] += t
        if not direct:
            gx[n0:n1][dst] = acc[src]


# --------------------------------------------------------------------------------------------
# weight gradient
# --------------------------------------------------------------------------------------------


def conv_weight_grad(
    x: np.ndarray,
    gy: np.ndarray,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """Adjoint of :func:`conv_forward` with respect to ``w``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, *S)
        Input.
    gy : ndarray, shape (N, C_out, *O)
        Output gradient; ``O`` may be larger than :func:`conv_output_shape` (positions
        reaching outside ``x`` read zeros).
    kernel : sequence of int
        Kernel spatial size ``K``.
    stride, padding, dilation, groups
        As in :func:`conv_forward`.

    Returns
    -------
    ndarray, shape (C_out, C_in // groups, *K)
        ``gw[o, c, k] = sum_{n, i} gy[n, o, i] * xpad[n, c, i*s + k*d]``.

    Examples
    --------
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> gy = np.ones((1, 1, 5))
    >>> conv_weight_grad(x, gy, (3,), (1,), ((1, 1),), (1,), 1)
    array([[[ 6., 10.,  9.]]])
    """
    rdt, cdt = _compute_dtype(x, gy)
    x = np.asarray(x, dtype=cdt)
    gy = np.asarray(gy, dtype=cdt)
    kernel = tuple(int(k) for k in kernel)
    N, C = x.shape[:2]
    Co = gy.shape[1]
    out = gy.shape[2:]
    G = groups
    Cg = C // G
    Cog = Co // G
    Of = prod(out)
    Kf = prod(kernel)
    gw = np.zeros((Co, Cg) + kernel, dtype=cdt)
    if gw.size == 0 or N == 0 or Of == 0:
        return gw.astype(rdt, copy=False)

    if _is_pointwise(kernel, stride, padding) and out == x.shape[2:]:
        nb = _batch_chunk(N, C * Of * gw.itemsize)
        gwg = gw.reshape(G, Cog, Cg)
        for n0 in range(0, N, nb):
            n1 = min(N, n0 + nb)
            n = n1 - n0
            xt = x[n0:n1].reshape(n, G, Cg, Of).transpose(1, 2, 0, 3).reshape(G, Cg, n * Of)
            gt = gy[n0:n1].reshape(n, G, Cog, Of).transpose(1, 2, 0, 3).reshape(G, Cog, n * Of)
            gwg += np.matmul(gt, xt.transpose(0, 2, 1))
        return gw.astype(rdt, copy=False)

    lo = tuple(p[0] for p in padding)
    ext = _needed_extent(out, kernel, stride, dilation)

    if G == C and Cg == 1 and G > 1:
        _depthwise_weight_grad(x, gy, gw, lo, ext, stride, dilation)
        return gw.astype(rdt, copy=False)

    nb = _batch_chunk(N, C * Kf * Of * gw.itemsize)
    gwg = gw.reshape(G, Cog, Cg * Kf)
    nd = len(out)
    # window view (n, C, *K, *O) -> (C, *K, n, *O)
    perm = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
    buf = np.empty((C,) + kernel + (nb,) + out, dtype=cdt)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        n = n1 - n0
        xp = _pad_zero(x[n0:n1], lo, ext, cdt)
        win = _windows(xp, kernel, out, stride, dilation).transpose(perm)
        cols = buf if n == nb else np.empty((C,) + kernel + (n,) + out, dtype=cdt)
        np.copyto(cols, win)
        cols = cols.reshape(G, Cg * Kf, n * Of)
        gt = gy[n0:n1].reshape(n, G, Cog, Of).transpose(1, 2, 0, 3).reshape(G, Cog, n * Of)
        if n0 == 0:
            np.matmul(gt, cols.transpose(0, 2, 1), out=gwg)
        else:
            gwg += np.matmul(gt, cols.transpose(0, 2, 1))
    return gw.astype(rdt, copy=False)


def _depthwise_weight_grad(x, gy, gw, lo, ext, stride, dilation) -> None:
    """Depthwise weight gradient: one ``einsum`` reduction over batch and positions per tap."""
    N, C = x.shape[:2]
    m = gy.shape[1] // C
    out = gy.shape[2:]
    kernel = gw.shape[2:]
    nd = len(out)
    gwm = gw.reshape((C, m) + kernel)
    nb = _batch_chunk(N, 4 * C * max(1, prod(ext)) * gw.itemsize)
    axes = "".join(chr(ord("p") + i) for i in range(nd))
    spec = f"ncj{axes},nc{axes}->cj"
    gym = gy.reshape((N, C, m) + out)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        xp = _pad_zero(x[n0:n1], lo, ext, gw.dtype)
        g = gym[n0:n1]
        for k in itertools.product(*(range(kk) for kk in kernel)):
            xs = xp[(slice(None), slice(None)) + _tap_slices(k, out, stride, dilation)]
            gwm[(slice(None), slice(None)) + k] += np.einsum(spec, g, xs)
