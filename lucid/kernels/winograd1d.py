"""Winograd F(4, 3) for stride-1 1-d convolutions with kernels of 3 or more taps: the
forward and the weight gradient, on the compiled transforms of
:mod:`lucid.kernels._compiled`.

A kernel of ``K`` taps is cut into ``Ka = ceil(K / 3)`` groups of 3 (zero taps pad the
last): tap ``k = 3*a + b``. Group ``a`` is a 3-tap convolution of ``x`` shifted by ``3*a``,
which F(4, 3) computes with 6 products per 4 outputs instead of 12; the groups stay a
direct sum, and they go into the reduction dimension of the GEMMs, as the depth taps do
in :mod:`lucid.kernels.winograd3d`. With the layouts (one chunk of ``nb`` images and
``Tc`` tiles of 4 outputs each, ``R = nb*Tc``, ``p`` the transform point)::

    V   (6, Ka*C, R)       V[p, a*C + c, (b, t)]: point p of the 6 inputs from 4*t + 3*a
    U   (6, C_out, Ka*C)   transformed weights, columns ordered (group, channel)
    M   (6, C_out, R)      M[p] = U[p] @ V[p]

the forward is 6 GEMMs with ``Ka*C`` terms per chunk: ``6*Ka/4`` multiplies per output
and input channel instead of ``K`` (the audio suite layer, ``K = 9``: 4.5 instead of 9).
The input transform reads each row once and writes ``V`` for all ``Ka`` shifts.

The weight gradient is the adjoint in ``U``: with ``Y (6, C_out, R)`` the adjoint output
transform of ``gy``, ``P[p] = V[p] @ Y[p]^T`` summed over chunks, and ``gw = G^T P`` per
``(o, c, a)``. The input gradient is a forward of ``gy`` with the flipped kernel
(:func:`lucid.kernels.conv.conv_input_grad`).

Accuracy: the 1-d F(4, 3) transforms of the 2-d ``m = 4`` kernel (float32 ~1e-6 max abs
error over max abs value). The transforms mix whole tiles, so an ``inf``/``nan`` spreads
over its tile; callers send only finite data to the forward, and compute a weight
gradient again by im2col when it comes out non-finite. Chunks are independent (forward) or
summed in chunk order (weight gradient): results are deterministic for any thread count.
"""

from __future__ import annotations

import functools

import numpy as np

from lucid.kernels import _compiled
from lucid.kernels._workspace import _scratch
from lucid.kernels.winograd import _matrices

__all__ = [
    "CHUNK_BYTES",
    "forward_chunk",
    "groups",
    "kernel_transform",
    "tile_bytes",
    "tiles",
    "weight_grad_chunk",
    "weight_grad_finish",
]

CHUNK_BYTES = 2 * 2**20
"""Preferred size of ``V`` and ``M`` (or ``Y``) of one chunk (images, or tiles of one
image)."""

Chunk = tuple[int, int, int, int]
"""``(b0, b1, t0, t1)``: images ``[b0, b1)`` and tiles ``[t0, t1)``."""


def tiles(L_out: int) -> int:
    """Tiles of 4 outputs covering an output of length ``L_out``."""
    return -(-L_out // 4)


def groups(K: int) -> int:
    """Groups of 3 taps covering a kernel of ``K`` taps."""
    return -(-K // 3)


def tile_bytes(C: int, Co: int, K: int, itemsize: int) -> int:
    """Bytes of ``V`` and ``M`` per tile (the chunks' unit of working set)."""
    return 6 * (groups(K) * C + Co) * itemsize


@functools.cache
def _g(dtype) -> np.ndarray:
    """``G (6, 3)`` of F(4, 3) in ``dtype``."""
    return _matrices(4)[1].astype(dtype)


def kernel_transform(w: np.ndarray) -> np.ndarray:
    """``U (6, C_out, Ka*C)``: ``U[p, o, a*C + c] = sum_b G[p, b] w[o, c, 3*a + b]`` (taps
    past ``K`` are zeros)."""
    Co, C, K = w.shape
    Ka = groups(K)
    wp = np.zeros((Co, C, 3 * Ka), w.dtype)
    wp[:, :, :K] = w
    wt = wp.reshape(Co, C, Ka, 3).transpose(3, 0, 2, 1).reshape(3, Co * Ka * C)
    return (_g(w.dtype) @ wt).reshape(6, Co, Ka * C)


def _transform_input(x: np.ndarray, Ka: int, lo: int, chunk: Chunk) -> np.ndarray:
    """``V (6, Ka*C, R)`` of one chunk, in the scratch slot ``buf``."""
    b0, b1, t0, t1 = chunk
    V = _scratch("buf", (6, Ka * x.shape[1], (b1 - b0) * (t1 - t0)), x.dtype)
    _compiled.winograd1d_input_transform(x, V, b0, t0, t1 - t0, lo, Ka)
    return V


def forward_chunk(x: np.ndarray, U: np.ndarray, bias: np.ndarray, y: np.ndarray, lo: int,
                  chunk: Chunk) -> None:
    """Forward of one chunk into ``y`` (``x``, ``y`` C-contiguous): input transform, 6
    GEMMs, output transform (with ``bias``)."""
    b0, b1, t0, t1 = chunk
    V = _transform_input(x, U.shape[2] // x.shape[1], lo, chunk)
    M = _scratch("cols", (6, y.shape[1], V.shape[2]), y.dtype)
    np.matmul(U, V, out=M)
    _compiled.winograd1d_output_transform(M, bias, y, b0, t0, t1 - t0)


def weight_grad_chunk(x: np.ndarray, gy: np.ndarray, K: int, lo: int,
                      chunk: Chunk) -> np.ndarray:
    """``P (6, Ka*C, C_out)`` of one chunk (a fresh array; ``x``, ``gy`` C-contiguous):
    ``P[p] = V[p] @ Y[p]^T``."""
    b0, b1, t0, t1 = chunk
    V = _transform_input(x, groups(K), lo, chunk)
    Y = _scratch("cols", (6, gy.shape[1], V.shape[2]), x.dtype)
    _compiled.winograd1d_output_adjoint(gy, Y, b0, t0, t1 - t0)
    return np.matmul(V, Y.transpose(0, 2, 1))


def weight_grad_finish(P: np.ndarray, C: int, K: int) -> np.ndarray:
    """``gw (C_out, C, K)`` from the summed ``P (6, Ka*C, C_out)``:
    ``gw[o, c, 3*a + b] = sum_p G[p, b] P[p, a*C + c, o]``."""
    Ka, Co = groups(K), P.shape[-1]
    gw = _g(P.dtype).T @ P.reshape(6, Ka * C * Co)  # (3, Ka*C*C_out)
    gw = gw.reshape(3, Ka, C, Co).transpose(3, 2, 1, 0).reshape(Co, C, 3 * Ka)
    return np.ascontiguousarray(gw[:, :, :K])
