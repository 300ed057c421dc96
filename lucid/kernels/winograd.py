"""Winograd F(m x m, 3 x 3) kernels for stride-1 3x3 2-d convolutions (pure NumPy + BLAS):
the forward and the weight gradient.

The minimal-filtering algorithm of Lavin & Gray computes an ``m x m`` output tile of a
3x3 cross-correlation from an ``a x a`` input tile (``a = m + 2``) with ``a*a`` products
per (input channel, output channel) pair instead of ``9*m*m``::

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* is elementwise)

Summed over input channels, the ``a*a`` elementwise products become ``a*a`` independent
GEMMs ``V[t] (tiles, C) @ U[t] (C, C_out)`` -- the core of the kernel; with ``m = 4`` that
is 2.25 multiplies per output and input channel instead of 9.

Transforms as GEMMs on strided views
------------------------------------
The transforms are separable: ``B^T d B`` is a 1-d transform along the rows of every tile
and then along its columns (and likewise for ``A``). A 1-d transform of ``b`` neighbouring
tiles at once (a *block*) is one small matrix (:func:`_input_groups`,
:func:`_output_groups`) applied to a window of ``m*b + 2`` input positions. Windows of
consecutive blocks are equally spaced, so all interior blocks of an axis are ONE batched
``np.matmul`` on an ``as_strided`` view; the first and last blocks (clipped by zero
padding or by the end of the image) get their own matrices. Zero padding, ragged edges
(tiles that stick out of the output) and cropping are thus folded into the matrices: no
padded copy, no tile gather and no scatter ever happens -- every pass reads its operand
in place and BLAS writes straight into the layout the next pass needs (``y`` included).

Layouts of one batch chunk of ``n`` images (``tx = (kx, lx)``: block and tile in block;
``j'``/``i'`` transform indices along columns/rows; dead tiles of a partial last block
hold zeros)::

    x   (n, C, H, W)                         the input, read in place
    Z   (kx, h, j', lx, n*C)                 after the transform along w
    V   (j', ky, i', ly, tx, n*C)            after the transform along h
    M   (j', ky, i', (ly, tx, n), C_out)     V @ U, one GEMM batch over (j', ky, i')
    Z2  (kx, h, (j', lx) [+ bias], n*C_out)  after the inverse transform along h
    y   (n, C_out, H_out, W_out)             written by the inverse transform along w

The first and the last pass also move the channels between outermost (``x``, ``y``) and
innermost (everything else), which BLAS does at a fraction of the cost of a NumPy
transpose. All other GEMMs read row-major operands (the form whose small-matrix kernels
OpenBLAS runs fastest); ``U`` is stored as contiguous ``(C, C_out)`` matrices for the same
reason. The bias, if any, is fused into the last GEMM as one extra row of ones.

Chunks and strips
-----------------
Batch chunks keep the working set near :data:`_CHUNK_TARGET_BYTES` (each pass then works
in cache) but give the main GEMMs enough rows to amortise reading ``U``
(:data:`_ROWS_PER_WEIGHT`); a single image larger than the target is split into strips of
output rows, each an independent sub-problem with its own zero padding. Scratch buffers are
reused across chunks and calls (:func:`lucid.kernels._workspace._scratch`) under the slot
names the im2col kernels of :mod:`lucid.kernels.conv` use (``buf``, ``cols``, ``gy``, ``acc``,
``part``; the two never run inside each other), so the buffers kept between calls are the
larger of the two algorithms' rather than their sum; every operand view is built once per
call and chunk size.

Weight gradient
---------------
:func:`winograd_weight_grad` is the adjoint of the forward in ``w`` (Lavin & Gray's
"backward filter"). Per tile, ``<A^T (U * V) A, gy_tile> = <U * V, A gy_tile A^T>``, and
``<G g G^T, S> = <g, G^T S G>``, so with ``Y = A gy_tile A^T`` (``a*a`` values per
``m x m`` tile of ``gy``; tiles sticking out of the output read zeros: the adjoint of the
forward's cropping)::

    gw[o, c] = G^T M[c, o] G,     M[t] = sum over tiles of V[t]^T (C, tiles) @ Y[t] (tiles, C_out)

for each of the ``a*a`` transform points ``t``. ``x`` goes through passes 1-2 of the
forward into ``V``; ``gy`` through the same two passes with the transposed output
transform (pass 5's matrices along w, then pass 4's transposed along h: the adjoints of
the last two passes, same strided views, ``Z2`` without the bias slot) into ``Y``, laid
out like ``M``. The main GEMMs reduce over the tiles, so they run once per *group* of
batch chunks: chunk by chunk, the transforms (each in cache) write the next slot of
``V (j', ky, i', (ly, chunk, tx, n), C)`` and ``Y (j', ky, i', (ly, chunk, tx, n), C_out)``;
then one GEMM batch over ``(j', ky, i')`` reduces over at least :data:`_WGRAD_ROWS` tiles
where possible (up to :data:`_WGRAD_GROUP_BYTES` for ``V`` and ``Y``) into
``P (j', ky, i', C, C_out)``, added to the sum in a fixed order (blocks ``ky``, groups,
strips). Scratch slots are the forward's (``buf``/``cols`` for ``x``,
``acc``/``gy`` for ``gy``) and ``part``. A final ``kron(G, G)^T`` GEMM maps the
sum to ``gw``. The default tile size has its own cost model (:func:`_wgrad_tile_size`)
and routing rule (:func:`winograd_weight_grad_recommended`).

Dilation
--------
With a dilation ``d`` dividing the input size and both pads of its dim, output
``i = d*i' + r`` reads input ``i + d*k - lo = d*(i' + k - lo/d) + r``: phase ``r`` of the
output is the *undilated* convolution of phase ``r`` of the input, padded by ``lo/d`` and
``hi/d``. With numba installed, batch chunks of ~:data:`_PHASE_CHUNK_BYTES` are split
into their ``d0*d1`` phases stacked along the batch (one pass,
:func:`lucid.kernels._compiled.phase_split`), convolved by the undilated kernel (one weight
transform for all chunks) and merged back into ``y``
(:func:`lucid.kernels._compiled.phase_merge`); without it, one phase at a time goes
through NumPy's strided copies (a stacked split and merge by NumPy measured ~7% slower).
The weight gradient sums over the batch, so that of the stacked phases (of ``x`` and of
``gy``; split by NumPy's transpose copy without numba) is the dilated layer's.

On the dilated suite layer (16 x 64 x 32 x 32, d = 2, float32, 2 threads), with numba: the
forward 0.82x the time of im2col + GEMM and 0.93x that of one call per phase; the weight
gradient 0.90x that of im2col + GEMM (NumPy's split: 0.92x).

Accuracy and non-finite values
------------------------------
``m = 4`` uses the interpolation points ``(0, 1, -1, 1/2, -2, inf)`` rather than the usual
``(0, +-1, +-2, inf)``: in float32 the error (max abs error over max abs value, random
normal data) drops from ~``1e-5`` to ~``3e-6`` for 64 to 512 input channels (``m = 2``:
~``5e-7``; im2col: ~``5e-7``). Transforms mix all values of a window, and BLAS also
multiplies the zero entries of the block matrices, so an ``inf``/``nan`` in ``x`` turns
the whole block(s) of tiles holding it (up to ``2*m*b`` rows and columns, every output
channel) into ``nan``, where a direct convolution only spoils the 3x3 outputs whose
window holds it; one in ``w`` spoils its whole output channel, as in a direct convolution
(but where that gives ``+-inf``, this may give ``nan``). Weight gradient, float32 (same
measure against float64, 64-256 channels, up to 200,000 tiles): ~``2-3e-6`` for ``m = 4``,
~``5-9e-7`` for ``m = 2`` (im2col: ~``4-7e-7``); an ``inf``/``nan`` in ``x[n, c]`` makes all
of ``gw[:, c]`` ``nan`` (a direct computation spoils the same entries, but as ``+-inf``
where it can, and may leave taps that never read the bad value -- it sits by the border
-- finite); one in ``gy[n, o]`` likewise spoils ``gw[o]``. Finite inputs give bit-identical
results from run to run (fixed reduction order, for a given BLAS thread count). Scratch
buffers are per thread, so concurrent calls from several threads are safe.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided

from lucid.kernels import _compiled
from lucid.kernels._workspace import _scratch

__all__ = [
    "dilation_divides",
    "winograd_conv2d",
    "winograd_recommended",
    "winograd_weight_grad",
    "winograd_weight_grad_recommended",
]

_CHUNK_TARGET_BYTES = 4 * 2**20
"""Preferred working-set size (input, output and all intermediates) of one batch chunk."""

_CHUNK_MAX_BYTES = 64 * 2**20
"""Largest working set a chunk may grow to for the sake of :data:`_ROWS_PER_WEIGHT`."""

_BLOCK = {2: (4, 4), 4: (4, 2)}
"""Preferred tiles per block ``(along w, along h)`` for each output tile size ``m``."""

_ROWS_PER_WEIGHT = 1 / 256
"""Every main GEMM gets at least ``C * C_out / 256`` rows (tiles) where possible (taller
blocks along h, more images per chunk, however large the working set): each
``(C, C_out)`` matrix of ``U`` is read once per GEMM."""

_WGRAD_ROWS = 128
"""The weight gradient's main GEMMs reduce over at least this many tiles where possible
(chunks in a group): each of them writes a ``(C, C_out)`` matrix."""

_WGRAD_GROUP_BYTES = 32 * 2**20
"""Largest size of the transformed ``x`` and ``gy`` of one group of chunks."""

_PHASE_CHUNK_BYTES = 1 * 2**20
"""Bytes of ``x`` per batch chunk of a dilated convolution, split into its polyphase
components (see *Dilation*). On the dilated suite layer (16 x 64 x 32 x 32, float32)
1, 2 and 4 MB chunks measured within 5% of each other; 1 MB keeps the peak memory of a
forward + backward step at 1.15x PyTorch's (2 MB: 1.33x)."""


# --------------------------------------------------------------------------------------------
# transform matrices
# --------------------------------------------------------------------------------------------


@functools.cache
def _matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(B^T, G, A^T)`` of F(m, 3) in float64: ``(a, a)``, ``(a, 3)``, ``(m, a)``."""
    if m == 2:  # points (0, 1, -1, inf)
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:  # points (0, 1, -1, 1/2, -2, inf): ~2.5x less float32 error than +-2
        bt = [
            [1, -1.5, -2, 1.5, 1, 0],
            [0, -1, 0.5, 2.5, 1, 0],
            [0, 1, -2.5, 0.5, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 0.5, -1, -0.5, 1, 0],
            [0, 1, -1.5, -2, 1.5, 1],
        ]
        g = [
            [1, 0, 0],
            [1 / 3, 1 / 3, 1 / 3],
            [-1 / 3, 1 / 3, -1 / 3],
            [-16 / 15, -8 / 15, -4 / 15],
            [1 / 15, -2 / 15, 4 / 15],
            [0, 0, 1],
        ]
        at = [
            [1, 1, 1, 1, 1, 0],
            [0, 1, -1, 0.5, -2, 0],
            [0, 1, 1, 0.25, 4, 0],
            [0, 1, -1, 0.125, -8, 1],
        ]
    else:
        raise ValueError(f"output tile size m must be 2 or 4, got {m!r}")
    return np.array(bt, float), np.array(g, float), np.array(at, float)


def _runs(blocks: list[tuple[int, np.ndarray]], step: int) -> tuple[tuple, ...]:
    """Merge consecutive blocks ``(start, matrix)`` with equal matrices and starts ``step``
    apart into groups ``(k0, k1, start, matrix)`` (one batched GEMM each)."""
    groups: list[list] = []
    for k, (start, mat) in enumerate(blocks):
        if groups:
            k0, k1, s0, m0 = groups[-1]
            if start == s0 + step * (k - k0) and m0.shape == mat.shape and (m0 == mat).all():
                groups[-1][1] = k + 1
                continue
        groups.append([k, k + 1, start, mat])
    return tuple(tuple(g) for g in groups)


def _input_groups(L: int, lo: int, tiles: int, m: int, b: int) -> tuple[tuple, ...]:
    """Forward transform ``B^T`` along one axis, by blocks of ``b`` tiles.

    Block ``k`` reads input positions ``[start, start + width)`` (padded position
    ``m*b*k + q`` is input position ``m*b*k + q - lo``; out-of-range ones are the zero
    padding and are left out) and its matrix ``(a*b, width)`` has rows ``(t', l)``:
    transform index ``t'`` of tile ``b*k + l``. Rows of tiles ``>= tiles`` are zero.
    """
    bt = _matrices(m)[0]
    a = m + 2
    blocks = []
    for k in range(-(-tiles // b)):
        p0 = m * b * k - lo
        start, stop = max(0, p0), max(0, min(L, p0 + m * b + 2))
        start = min(start, stop)
        mat = np.zeros((a, b, stop - start))
        for lt in range(min(b, tiles - b * k)):
            for q in range(a):
                p = p0 + m * lt + q
                if start <= p < stop:
                    mat[:, lt, p - start] = bt[:, q]
        blocks.append((start, mat.reshape(a * b, stop - start)))
    return _runs(blocks, m * b)


def _output_groups(Lo: int, tiles: int, m: int, b: int) -> tuple[tuple, ...]:
    """Inverse transform ``A^T`` along one axis, by blocks of ``b`` tiles.

    Block ``k`` writes outputs ``[m*b*k, m*b*k + width)`` (cropped at ``Lo``) with the
    matrix ``(width, a*b)`` whose columns ``(t', l)`` match :func:`_input_groups` rows.
    """
    at = _matrices(m)[2]
    a = m + 2
    blocks = []
    for k in range(-(-tiles // b)):
        start = m * b * k
        width = min(Lo, start + m * b) - start
        mat = np.zeros((width, a, b))
        for r in range(width):
            mat[r, :, r // m] = at[r % m]
        blocks.append((start, mat.reshape(width, a * b)))
    return _runs(blocks, m * b)


# --------------------------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------------------------


def _block_size(tiles: int, preferred: int) -> int:
    """Tiles per block: no more than ``tiles``, few dead tiles (in a partial last block),
    then as close to ``preferred`` as possible (by ratio; larger wins a tie)."""
    if tiles <= preferred:
        return tiles

    def cost(b: int) -> tuple:
        return -(-tiles // b) * b - tiles, max(b / preferred, preferred / b), -b

    return min(range(max(1, preferred // 2), 2 * preferred + 1), key=cost)


class _Plan:
    """Geometry, block matrices (in the compute dtype) and chunk size of one problem."""

    def __init__(self, N, C, Co, H, W, padding, m, dtype) -> None:
        (pt, pb), (pl, pr) = padding
        self.key, self.dtype = (N, C, Co, H, W), dtype
        self.m = m
        a = self.a = m + 2
        self.Ho, self.Wo = H + pt + pb - 2, W + pl + pr - 2
        TY, TX = -(-self.Ho // m), -(-self.Wo // m)
        self.bx = _block_size(TX, _BLOCK[m][0])
        TXp = -(-TX // self.bx) * self.bx
        # rows per main GEMM (by * TXp per image): with large (C, C_out) matrices, taller
        # blocks along h, so that each matrix of U is read for enough tiles
        rows = int(C * Co * _ROWS_PER_WEIGHT)
        self.by = _block_size(TY, max(_BLOCK[m][1], -(-rows // TXp)))
        self.KX, self.KY = -(-TX // self.bx), -(-TY // self.by)
        self.TXp = self.KX * self.bx

        def cast(groups, transpose=False):
            return tuple(
                (k0, k1, s, np.ascontiguousarray(mat.T if transpose else mat, dtype))
                for k0, k1, s, mat in groups
            )

        self.in_w = cast(_input_groups(W, pl, TX, m, self.bx))
        self.in_h = cast(_input_groups(H, pt, TY, m, self.by))
        self.out_h = cast(_output_groups(self.Ho, TY, m, self.by))
        self.out_w = cast(_output_groups(self.Wo, TX, m, self.bx), transpose=True)
        self.out_h_adj = cast(_output_groups(self.Ho, TY, m, self.by), transpose=True)
        # the same with a row of ones, for the bias slot of Z2 (see the module docstring)
        self.out_w_bias = tuple(
            (k0, k1, s, np.concatenate([mat, np.ones((1, mat.shape[1]), dtype)]))
            for k0, k1, s, mat in self.out_w
        )
        # chunk: a cache-sized working set, but enough rows per main GEMM
        it = np.dtype(dtype).itemsize
        self.per_image = per_image = it * (
            C * H * W
            + (self.KX * a * self.bx) * (H * C + self.Ho * Co)
            + a * a * self.KY * self.by * self.TXp * (C + Co)
            + Co * self.Ho * self.Wo
        )
        nb = max(_CHUNK_TARGET_BYTES // per_image, -(-rows // (self.by * TXp)))
        self.chunk = max(1, min(N, nb, _CHUNK_MAX_BYTES // per_image))
        # the weight gradient: cache-sized chunks for the transforms, GEMMs over groups of
        # chunks that reduce over enough tiles
        self.wchunk = max(1, min(N, _CHUNK_TARGET_BYTES // per_image))
        rows = self.by * TXp * self.wchunk  # per chunk
        group = a * a * self.KY * rows * (C + Co) * it
        self.wgroup = max(1, min(-(-N // self.wchunk), -(-_WGRAD_ROWS // rows),
                                 _WGRAD_GROUP_BYTES // group))


@functools.lru_cache(maxsize=64)
def _plan(N, C, Co, H, W, padding, m, dtype) -> _Plan:
    return _Plan(N, C, Co, H, W, padding, m, dtype)


def _view(a: np.ndarray, offset: int, shape: Sequence[int], strides: Sequence[int]):
    """``as_strided`` view of the contiguous ``a.reshape(-1)[offset:]``, strides in elements."""
    it = a.itemsize
    return as_strided(a.reshape(-1)[offset:], tuple(shape), tuple(s * it for s in strides))


def _windows(a: np.ndarray, start: int, blocks: int, step: int, width: int) -> np.ndarray:
    """View ``(h, blocks, width, n*c)`` of ``a (n, c, h, w)``: ``[h, k, p, (n, c)] =
    a[n, c, h, start + k*step + p]`` (``a``'s ``(n, c)`` axes must merge: whole-image
    rows of a contiguous array)."""
    sn, sc, sh, sw = a.strides
    assert sw == a.itemsize and sn == a.shape[1] * sc, a.strides
    shape = (a.shape[2], blocks, width, a.shape[0] * a.shape[1])
    return as_strided(a[..., start:], shape, (sh, step * sw, sw, sc))


def _transform_stages(plan: _Plan, n: int, C: int, L: int, w_groups, h_groups, slots,
                      dtype, g: int = 1) -> tuple[list, list, np.ndarray]:
    """Passes 1-2 (a transform along w, then along h) of ``(n, C, L, *)`` chunks by the
    block matrices ``w_groups`` and ``h_groups``, for ``g`` chunks in a row.

    Returns the destinations of pass 1 (in scratch ``slots[0]``, shared by the chunks),
    the ``(matrix, source, destination)`` triples of pass 2 for each chunk, and the
    result of pass 2 as ``(j', ky, i', (ly, chunk, tx, n), c)`` (in scratch ``slots[1]``).
    """
    a, m, bx, by = plan.a, plan.m, plan.bx, plan.by
    KX, KY, TXp = plan.KX, plan.KY, plan.TXp
    nC = n * C
    # 1. along w, Z (kx, h, (j', lx), (n, c)): the destination of each group
    Z = _scratch(slots[0], (KX, L, a * bx, nC), dtype)
    p1 = [Z[k0:k1].transpose(1, 0, 2, 3) for k0, k1, _, _ in w_groups]
    # 2. along h, V (j', ky, (i', ly), chunk, (kx, lx), (n, c))
    V = _scratch(slots[1], (a, KY, a * by, g, TXp, nC), dtype)
    zst = (a * bx * L * nC, bx * nC, nC)  # kx, j', lx
    src = [_view(Z, s * a * bx * nC, (KX, a, bx, k1 - k0, A.shape[1], nC),
                 zst + (m * by * a * bx * nC, a * bx * nC, 1)) for k0, k1, s, A in h_groups]
    p2 = []
    for q in range(g):
        dst = V[:, :, :, q].reshape(a, KY, a * by, KX, bx, nC).transpose(3, 0, 4, 1, 2, 5)
        p2.append([(A, z, dst[:, :, :, k0:k1]) for (k0, k1, _, A), z in zip(h_groups, src)])
    return p1, p2, V.reshape(a, KY, a, by * g * TXp * n, C)


class _Stages:
    """Scratch buffers and the operand views of passes 1-5 that live in them, for chunks
    of ``n`` images (built once per call and chunk size; the buffers are per thread)."""

    def __init__(self, plan: _Plan, n: int, C: int, Co: int, H: int, dtype, bias) -> None:
        a, m, bx, by = plan.a, plan.m, plan.bx, plan.by
        KX, KY, TXp, Ho = plan.KX, plan.KY, plan.TXp, plan.Ho
        nCo = n * Co
        self.p1, (self.p2,), self.v = _transform_stages(
            plan, n, C, H, plan.in_w, plan.in_h, ("buf", "cols"), dtype)
        # 3. M (j', ky, i', (ly, tx, n), o) = V @ U, batched over (j', ky, i')
        self.M = _scratch("gy", (a, KY, a, by * TXp * n, Co), dtype)
        # 4. inverse along h, Z2 (kx, h, (j', lx) [+ bias slot], (n, o))
        nz = a * bx + (bias is not None)
        Z2 = _scratch("acc", (KX, Ho, nz, nCo), dtype)
        src = self.M.reshape(a, KY, a * by, KX, bx, nCo).transpose(3, 0, 4, 1, 2, 5)
        z2st = (nz * Ho * nCo, bx * nCo, nCo)  # kx, j', lx
        self.p4 = [
            (A, src[:, :, :, k0:k1],
             _view(Z2, s * nz * nCo, (KX, a, bx, k1 - k0, A.shape[0], nCo),
                   z2st + (m * by * nz * nCo, nz * nCo, 1)))
            for k0, k1, s, A in plan.out_h
        ]
        if bias is not None:
            Z2[:, :, -1] = np.broadcast_to(bias, (n, Co)).reshape(nCo)
        # 5. inverse along w: the source of each group
        self.p5 = [Z2[k0:k1].transpose(1, 0, 3, 2) for k0, k1, _, _ in plan.out_w]


class _GradStages:
    """Scratch buffers and operand views of the weight gradient for groups of ``g`` chunks
    of ``n`` images: the input transform of ``x`` (passes 1-2 of the forward) into ``V``,
    the adjoint of the output transform (passes 5 and 4, in that order) of ``gy`` into
    ``Y``, chunk after chunk, then for the whole group the products
    ``P[j', ky, i'] = V[j', ky, i']^T @ Y[j', ky, i']``."""

    def __init__(self, plan: _Plan, n: int, g: int, C: int, Co: int, H: int, dtype) -> None:
        a, KY = plan.a, plan.KY
        self.x1, self.x2, v = _transform_stages(
            plan, n, C, H, plan.in_w, plan.in_h, ("buf", "cols"), dtype, g)
        self.g1, self.g2, self.y = _transform_stages(
            plan, n, Co, plan.Ho, plan.out_w, plan.out_h_adj, ("acc", "gy"), dtype, g)
        self.vt = v.swapaxes(-1, -2)
        self.P = _scratch("part", (a, KY, a, C, Co), dtype)


# --------------------------------------------------------------------------------------------
# choices (measured on the 2-core development machine, float32, BLAS on 2 threads)
# --------------------------------------------------------------------------------------------


def _cheaper_tile(N: int, C: int, Co: int, Ho: int, Wo: int, per_weight: int,
                  per_value: int) -> int:
    """The cheaper of F(2x2) and F(4x4) by a cost model in units of one main-GEMM
    multiply-add: ``a*a`` matrices ``(C, C_out)`` to build, read or write
    (``per_weight`` units per element), ``a*a`` GEMMs over the ``tiles`` and ``a*a``
    transformed values per tile and channel (``per_value`` units each, the transform
    passes)."""

    def cost(m: int) -> int:
        tiles = N * -(-Ho // m) * -(-Wo // m)
        return (m + 2) ** 2 * (C * Co * (per_weight + tiles) + per_value * tiles * (C + Co))

    return min((4, 2), key=cost)


def _tile_size(N: int, C: int, Co: int, Ho: int, Wo: int) -> int:
    """The forward's tile size by :func:`_cheaper_tile`, fitted to timings of 82 shapes
    (building and reading ``U``: ~72 units per element; the transforms: ~87 units).
    F(4x4) wins unless a large ``C * C_out`` meets few tiles (then ``U``, 2.25x larger for
    ``m = 4``, dominates).
    """
    return _cheaper_tile(N, C, Co, Ho, Wo, 72, 87)


def _wgrad_tile_size(N: int, C: int, Co: int, Ho: int, Wo: int) -> int:
    """The weight gradient's tile size by :func:`_cheaper_tile`, refitted to its timings on
    6 shapes (``(a*a, C, C_out)`` sums to write and transform: ~200 units per element; the
    transforms: ~96 units)."""
    return _cheaper_tile(N, C, Co, Ho, Wo, 200, 96)


def winograd_recommended(N: int, C: int, Co: int, Ho: int, Wo: int) -> bool:
    """Whether :func:`winograd_conv2d` (default tile) beats im2col for a stride-1 3x3 layer.

    Measured against ``conv_forward`` of :mod:`lucid.kernels.conv` (float32, BLAS on 2
    threads, 2-core machine) over ``N`` in {1, 8, 32}, ``C = C_out`` in 16..512 and square
    images of 4..56: Winograd takes 0.4-0.85x the time with enough channels for the batch
    size, unless few tiles meet huge weight matrices (building ``U`` then dominates). With
    fewer channels the transforms cost more than the multiplies they save (im2col wins
    from ~1.05x to several times). Non-finite inputs must be routed elsewhere in any case
    (see the module docstring).

    Parameters
    ----------
    N, C, Co : int
        Batch size, input and output channels.
    Ho, Wo : int
        Output height and width.

    Returns
    -------
    bool

    Examples
    --------
    >>> winograd_recommended(32, 64, 64, 32, 32), winograd_recommended(4, 3, 16, 64, 64)
    (True, False)
    """
    few = min(C, Co)
    if few < 16 or C * Co > 4096 * N * Ho * Wo:
        return False
    if few < 32:
        return N >= 8 and Ho * Wo <= 16 * 16
    if few < 64:
        return N >= 8 or Ho * Wo <= 16 * 16
    return N >= 2 or Ho * Wo <= 32 * 32 or few >= 128


def winograd_weight_grad_recommended(N: int, C: int, Co: int, Ho: int, Wo: int) -> bool:
    """Whether :func:`winograd_weight_grad` (default tile) beats im2col for a stride-1 3x3
    layer.

    Measured against ``conv_weight_grad`` of :mod:`lucid.kernels.conv` (float32, BLAS on 2
    threads, 2-core machine) over ``N`` in {1, 8, 32}, ``C = C_out`` in 8..256 and square
    images of 4..56: Winograd takes 0.5-0.9x the time with a batch of 8 or more and enough
    channels for the image size. A single image has too few tiles to amortise the
    transforms (1.0-2.4x), and few tiles meeting large ``C * C_out`` spend their time on
    the ``(a*a, C, C_out)`` sums. A non-finite input makes the result non-finite (see the
    module docstring); it must then be computed elsewhere in any case.

    Parameters
    ----------
    N, C, Co : int
        Batch size, input and output channels.
    Ho, Wo : int
        Output height and width.

    Returns
    -------
    bool

    Examples
    --------
    >>> winograd_weight_grad_recommended(32, 64, 64, 32, 32)
    True
    >>> winograd_weight_grad_recommended(1, 64, 64, 32, 32)
    False
    """
    few, area = min(C, Co), Ho * Wo
    if N < 8 or few < 8 or C * Co >= 128 * N * area:
        return False
    if few < 16:
        return N >= 32 and area >= 8 * 8
    if (few < 32 and area < 8 * 8) or (few < 64 and area > 32 * 32):
        return N >= 32
    return True


# --------------------------------------------------------------------------------------------
# public kernel
# --------------------------------------------------------------------------------------------


def winograd_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    padding: Sequence[tuple[int, int]],
    m: int | None = None,
    bias: np.ndarray | None = None,
    dilation: Sequence[int] = (1, 1),
) -> np.ndarray:
    """Stride-1 3x3 2-d cross-correlation by Winograd F(m x m, 3 x 3).

    Same result as ``conv_forward(x, w, (1, 1), padding, dilation, 1, bias)`` of
    :mod:`lucid.kernels.conv` up to rounding (see the module docstring for accuracy, for
    what non-finite inputs do and for dilation).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input, float32 or float64 (any strides).
    w : ndarray, shape (C_out, C, 3, 3)
        Weights.
    padding : sequence of two (int, int)
        Non-negative zero padding ``((top, bottom), (left, right))``.
    m : {None, 4, 2}
        Output tile size: F(4x4, 3x3) (2.25 multiplies per output and input channel),
        F(2x2, 3x3) (4 multiplies, smaller rounding error), or ``None`` (default): the
        faster one for this shape (F(4x4) but for few tiles and many channels).
    bias : ndarray, shape (C_out,), optional
        Added to every output position of its channel.
    dilation : two int, optional
        Kernel dilation ``(d0, d1)``; each must divide the input size and both pads of its
        dimension.

    Returns
    -------
    ndarray, shape (N, C_out, H + top + bottom - 2*d0, W + left + right - 2*d1)
        ``y[n, o, i, j] = sum_{c, p, q} w[o, c, p, q] * xpad[n, c, i + d0*p, j + d1*q]``
        (``+ bias[o]``), in the common dtype of ``x``, ``w`` (and ``bias``).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 3, 3))
    >>> winograd_conv2d(x, w, ((0, 0), (0, 0))).round(10)
    array([[[[45., 54.],
             [81., 90.]]]])
    """
    x = np.asarray(x)
    w = np.asarray(w)
    dt = np.result_type(x, w) if bias is None else np.result_type(x, w, bias)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"winograd_conv2d: expected float32 or float64 arrays, got {dt}")
    if x.ndim != 4 or w.ndim != 4 or w.shape[2:] != (3, 3) or w.shape[1] != x.shape[1]:
        raise ValueError(
            f"winograd_conv2d: expected x (N, C, H, W) and w (C_out, C, 3, 3), got x of shape "
            f"{x.shape} and w of shape {w.shape}"
        )
    padding = _check_padding("winograd_conv2d", padding)
    if bias is not None and np.shape(bias) != (w.shape[0],):
        raise ValueError(
            f"winograd_conv2d: bias must have shape ({w.shape[0]},), got {np.shape(bias)}"
        )
    N, C, H, W = x.shape
    Co = w.shape[0]
    d0, d1 = dilation = _check_dilation("winograd_conv2d", dilation, (H, W), padding)
    Ho, Wo = H + sum(padding[0]) - 2 * d0, W + sum(padding[1]) - 2 * d1
    if Ho < 0 or Wo < 0:
        raise ValueError(
            f"winograd_conv2d: input of spatial size {(H, W)} is too small for a 3x3 kernel "
            f"with padding {padding} and dilation {dilation}"
        )
    m = _check_tile(
        "winograd_conv2d", m, lambda: _tile_size(N * d0 * d1, C, Co, Ho // d0, Wo // d1)
    )
    b = None if bias is None else np.asarray(bias, dt)
    if N * Co * Ho * Wo == 0 or C * H * W == 0:  # nothing to compute, or only padding
        y = np.zeros((N, Co, Ho, Wo), dt)
        return y if b is None else y + b[:, None, None]

    x = np.ascontiguousarray(x, dtype=dt)
    y = np.empty((N, Co, Ho, Wo), dt)
    U = _kernel_transform(w.astype(dt, copy=False), m)
    if (d0, d1) == (1, 1):
        _forward(x, U, b, y, padding, m)
        return y
    pads = _phase_padding(padding, dilation)
    if not _compiled.available():  # NumPy's strided copies, one phase at a time
        for r0, r1 in itertools.product(range(d0), range(d1)):
            phase = (slice(None), slice(None), slice(r0, None, d0), slice(r1, None, d1))
            yp = np.empty((N, Co, Ho // d0, Wo // d1), dt)
            _forward(np.ascontiguousarray(x[phase]), U, b, yp, pads, m)
            y[phase] = yp
        return y
    for n0, n1 in _phase_chunks(x.shape, x.itemsize):
        xp = _phase_split("xp", x[n0:n1], dilation)
        yp = np.empty((d0, d1, n1 - n0, Co, Ho // d0, Wo // d1), dt)
        _forward(xp, U, b, yp.reshape((-1,) + yp.shape[3:]), pads, m)
        _compiled.phase_merge(yp, y[n0:n1])
    return y


def _forward(x: np.ndarray, U: np.ndarray, b, y: np.ndarray, padding, m: int) -> None:
    """Undilated forward of the contiguous ``x`` into the fresh ``y``, strip by strip."""
    N, C, H, W = x.shape
    plan = _plan(N, C, y.shape[1], H, W, padding, m, y.dtype)
    for strip, r0, r1, o0, o1 in _strips(plan, H, padding):
        if strip is None:  # only padding
            y[:, :, o0:o1] = 0 if b is None else b[:, None, None]
        else:
            _convolve(strip, x[:, :, r0:r1], U, b, y[:, :, o0:o1])


def dilation_divides(spatial, padding, dilation) -> bool:
    """Whether every dilation divides its input size and both pads: the dilated layers this
    module takes (as ``d0*d1`` undilated ones on the polyphase components, see *Dilation*
    in the module docstring).

    Examples
    --------
    >>> dilation_divides((32, 32), ((2, 2), (2, 2)), (2, 2))
    True
    >>> dilation_divides((32, 32), ((1, 1), (2, 2)), (2, 2))
    False
    """
    return not any(v % d for L, p, d in zip(spatial, padding, dilation) for v in (L, *p))


def _check_dilation(name: str, dilation, spatial, padding) -> tuple[int, int]:
    """``dilation`` as two positive ints dividing ``spatial`` and ``padding``, or a
    ValueError."""
    try:
        d = tuple(int(v) for v in dilation if not isinstance(v, bool))
    except (TypeError, ValueError):
        d = ()
    if len(d) != 2 or len(tuple(dilation)) != 2 or min(d) < 1:
        raise ValueError(f"{name}: dilation must be two positive ints, got {dilation!r}")
    if not dilation_divides(spatial, padding, d):
        raise ValueError(
            f"{name}: dilation {d} must divide the input size {tuple(spatial)} and the "
            f"padding {padding}"
        )
    return d


def _phase_padding(padding, dilation) -> tuple[tuple[int, int], tuple[int, int]]:
    """The padding of the polyphase components: ``padding / dilation``."""
    (t, bo), (le, r) = padding
    d0, d1 = dilation
    return (t // d0, bo // d0), (le // d1, r // d1)


def _phase_chunks(shape, itemsize: int) -> list[tuple[int, int]]:
    """Balanced batch chunks of about :data:`_PHASE_CHUNK_BYTES` of an array of ``shape``."""
    N = shape[0]
    nb = max(1, min(N, _PHASE_CHUNK_BYTES // max(1, prod(shape[1:]) * itemsize)))
    nb = -(-N // -(-N // nb))  # balanced: (6, 5, 5) rather than (7, 7, 2)
    return [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)]


def _phase_split(slot: str, a: np.ndarray, dilation) -> np.ndarray:
    """The polyphase components of the contiguous ``a (n, C, H, W)``, stacked along the
    batch in a scratch buffer: ``(d0*d1*n, C, H/d0, W/d1)``, image ``(r0*d1 + r1)*n + b``
    being ``a[b, :, r0::d0, r1::d1]``. (The slots, ``xp`` and ``tmp``, are those of the
    depthwise kernels of :mod:`lucid.kernels.conv`, never alive at the same time.)"""
    (d0, d1), (n, C, H, W) = dilation, a.shape
    p = _scratch(slot, (d0, d1, n, C, H // d0, W // d1), a.dtype)
    if _compiled.available():
        _compiled.phase_split(a, p)
    else:
        np.copyto(p, a.reshape(n, C, H // d0, d0, W // d1, d1).transpose(3, 5, 0, 1, 2, 4))
    return p.reshape((d0 * d1 * n, C) + p.shape[4:])


def _check_padding(name: str, padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """``padding`` as two ``(lo, hi)`` int pairs, or a ValueError."""
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        pads = ()
    if len(pads) != 2 or min(min(p) for p in pads) < 0:
        raise ValueError(f"{name}: padding must be two non-negative (lo, hi) pairs, got {padding}")
    return pads


def _check_tile(name: str, m, default) -> int:
    """The output tile size: ``m`` (2 or 4, else a ValueError) or ``default()``."""
    if m is None:
        return default()
    if isinstance(m, bool) or m not in (2, 4):
        raise ValueError(f"{name}: output tile size m must be 2 or 4, got {m!r}")
    return int(m)


def _strips(plan: _Plan, H: int, padding) -> Iterator[tuple[_Plan | None, int, int, int, int]]:
    """Strips ``(plan, r0, r1, o0, o1)`` of output rows ``[o0, o1)`` and the input rows
    ``[r0, r1)`` they read: independent sub-problems with their own padding, so that one
    image's working set stays cache-sized (one strip, ``plan`` itself, unless an image is
    larger than :data:`_CHUNK_TARGET_BYTES`); the plan is ``None`` for a strip that only
    reads padding."""
    step = plan.m * plan.by
    Ho = plan.Ho
    rows = Ho
    if plan.per_image > _CHUNK_TARGET_BYTES:
        rows = max(step, int(Ho * _CHUNK_TARGET_BYTES / plan.per_image) // step * step)
    (pt, _), (pl, pr) = padding
    N, C, Co, W, m, dt = plan.key[0], plan.key[1], plan.key[2], plan.key[4], plan.m, plan.dtype
    for o0 in range(0, Ho, rows):
        o1 = min(Ho, o0 + rows)
        lo, hi = o0 - pt, o1 + 2 - pt  # input rows of the strip, padding included
        r0, r1 = min(max(lo, 0), H), min(max(hi, 0), H)
        if r0 == r1:
            yield None, r0, r1, o0, o1
        elif rows == Ho:
            yield plan, r0, r1, o0, o1
        else:
            pads = ((r0 - lo, hi - r1), (pl, pr))
            yield _plan(N, C, Co, r1 - r0, W, pads, m, dt), r0, r1, o0, o1


def _convolve(plan: _Plan, x: np.ndarray, U: np.ndarray, bias, y: np.ndarray) -> None:
    """Run the five passes on batch chunks of ``x (N, C, H, W)`` (whole-image rows of a
    contiguous array) into ``y`` (likewise); ``plan`` is this sub-problem's."""
    N, C, H, _ = x.shape
    Co = y.shape[1]
    step = plan.m * plan.bx
    p1 = [(A, _windows(x, s, k1 - k0, step, A.shape[1])) for k0, k1, s, A in plan.in_w]
    p5 = [(A, _windows(y, s, k1 - k0, step, A.shape[1]).swapaxes(2, 3))
          for k0, k1, s, A in (plan.out_w if bias is None else plan.out_w_bias)]
    stages: dict[int, _Stages] = {}
    for n0 in range(0, N, plan.chunk):
        n1 = min(N, n0 + plan.chunk)
        st = stages.get(n1 - n0)
        if st is None:
            st = stages[n1 - n0] = _Stages(plan, n1 - n0, C, Co, H, x.dtype, bias)
        for (A, src), dst in zip(p1, st.p1):
            np.matmul(A, src[..., n0 * C : n1 * C], out=dst)
        for A, src, dst in st.p2:
            np.matmul(A, src, out=dst)
        np.matmul(st.v, U, out=st.M)
        for A, src, dst in st.p4:
            np.matmul(A, src, out=dst)
        for (A, dst), src in zip(p5, st.p5):
            np.matmul(src, A, out=dst[:, :, n0 * Co : n1 * Co])


def _kernel_transform(w: np.ndarray, m: int) -> np.ndarray:
    """``U (a, 1, a, C, C_out)`` (contiguous) with ``U[j', 0, i'] = (G g G^T)[i', j']^T``.

    One transpose copy of ``w`` to ``(C, 9, C_out)`` and a small GEMM
    ``kron(G, G) (a*a, 9) @ w_c (9, C_out)`` per input channel, written in place: BLAS
    runs the main GEMMs ~1.5x faster on contiguous ``(C, C_out)`` matrices.
    """
    g = _matrices(m)[1]
    a = m + 2
    Co, C = w.shape[:2]
    # row (j', i'), column (p, q): G[i', p] * G[j', q]
    kg = np.einsum("ip,jq->jipq", g, g).reshape(a * a, 9).astype(w.dtype)
    wt = np.ascontiguousarray(w.reshape(Co, C * 9).T).reshape(C, 9, Co)
    u = np.empty((a, 1, a, C, Co), w.dtype)
    np.matmul(kg, wt, out=u.reshape(a * a, C, Co).swapaxes(0, 1))
    return u


def winograd_weight_grad(
    x: np.ndarray,
    gy: np.ndarray,
    padding: Sequence[tuple[int, int]],
    m: int | None = None,
    dilation: Sequence[int] = (1, 1),
) -> np.ndarray:
    """Weight gradient of a stride-1 3x3 2-d cross-correlation by Winograd.

    Same result as ``conv_weight_grad(x, gy, (3, 3), (1, 1), padding, dilation, 1)`` of
    :mod:`lucid.kernels.conv` up to rounding (see the module docstring, sections *Weight
    gradient* and *Dilation*, for the algorithm, accuracy and what non-finite inputs do).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input of the convolution, float32 or float64 (any strides).
    gy : ndarray, shape (N, C_out, H_out, W_out)
        Gradient of its output, ``H_out = H + top + bottom - 2*d0`` and
        ``W_out = W + left + right - 2*d1``.
    padding : sequence of two (int, int)
        Non-negative zero padding ``((top, bottom), (left, right))``.
    m : {None, 4, 2}
        Output tile size: F(4x4, 3x3), F(2x2, 3x3) (smaller rounding error) or ``None``
        (default): the faster one for this shape.
    dilation : two int, optional
        Kernel dilation ``(d0, d1)``; each must divide the input size and both pads of its
        dimension.

    Returns
    -------
    ndarray, shape (C_out, C, 3, 3)
        ``gw[o, c, p, q] = sum_{n, i, j} gy[n, o, i, j] * xpad[n, c, i + d0*p, j + d1*q]``,
        in the common dtype of ``x`` and ``gy``.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> gy = np.ones((1, 1, 2, 2))
    >>> winograd_weight_grad(x, gy, ((0, 0), (0, 0))).round(10)
    array([[[[10., 14., 18.],
             [26., 30., 34.],
             [42., 46., 50.]]]])
    """
    x = np.asarray(x)
    gy = np.asarray(gy)
    dt = np.result_type(x, gy)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"winograd_weight_grad: expected float32 or float64 arrays, got {dt}")
    padding = _check_padding("winograd_weight_grad", padding)
    if x.ndim != 4 or gy.ndim != 4:
        raise ValueError(
            f"winograd_weight_grad: expected x (N, C, H, W) and gy (N, C_out, H_out, W_out), "
            f"got x of shape {x.shape} and gy of shape {gy.shape}"
        )
    N, C, H, W = x.shape
    Co = gy.shape[1]
    d0, d1 = dilation = _check_dilation("winograd_weight_grad", dilation, (H, W), padding)
    Ho, Wo = H + sum(padding[0]) - 2 * d0, W + sum(padding[1]) - 2 * d1
    if gy.shape != (N, Co, Ho, Wo) or Ho < 0 or Wo < 0:
        raise ValueError(
            f"winograd_weight_grad: gy of shape {gy.shape} does not match the output of a 3x3 "
            f"kernel on x of shape {x.shape} with padding {padding} and dilation {dilation}"
        )
    m = _check_tile(
        "winograd_weight_grad",
        m,
        lambda: _wgrad_tile_size(N * d0 * d1, C, Co, Ho // d0, Wo // d1),
    )
    gw = np.zeros((Co, C, 3, 3), dt)
    if N * Co * Ho * Wo == 0 or C * H * W == 0:  # nothing to sum, or only padding
        return gw
    x = np.ascontiguousarray(x, dtype=dt)
    gy = np.ascontiguousarray(gy, dtype=dt)
    a = m + 2
    acc = np.zeros((a, a, C, Co), dt)  # sum over tiles of V^T Y, rows (j', i')
    if (d0, d1) == (1, 1):
        _accumulate(x, gy, padding, m, acc)
    else:
        pads = _phase_padding(padding, dilation)
        for n0, n1 in _phase_chunks(x.shape, x.itemsize):
            xp = _phase_split("xp", x[n0:n1], dilation)
            gp = _phase_split("tmp", gy[n0:n1], dilation)
            _accumulate(xp, gp, pads, m, acc)
    # gw[o, c] = G^T M[c, o] G: row (j', i') of kg times column (p, q) of gw
    g = _matrices(m)[1]
    kg = np.einsum("ip,jq->jipq", g, g).reshape(a * a, 9).astype(dt)
    gw9 = kg.T @ acc.reshape(a * a, C * Co)
    gw[...] = gw9.reshape(3, 3, C, Co).transpose(3, 2, 0, 1)
    return gw


def _accumulate(x: np.ndarray, gy: np.ndarray, padding, m: int, acc: np.ndarray) -> None:
    """Add ``sum_tiles V^T Y`` of the undilated problem of the contiguous ``x`` and ``gy``
    to ``acc``, strip by strip."""
    N, C, H, W = x.shape
    plan = _plan(N, C, gy.shape[1], H, W, padding, m, x.dtype)
    for strip, r0, r1, o0, o1 in _strips(plan, H, padding):
        if strip is not None:  # (a strip that only reads padding adds nothing)
            _correlate(strip, x[:, :, r0:r1], gy[:, :, o0:o1], acc)


def _correlate(plan: _Plan, x: np.ndarray, gy: np.ndarray, acc: np.ndarray) -> None:
    """Add ``sum_tiles V^T Y`` of ``x (N, C, H, W)`` and ``gy (N, C_out, H_out, W_out)``
    (whole-image rows of contiguous arrays) to ``acc (a, a, C, C_out)``, by batch chunks
    in order; ``plan`` is this sub-problem's."""
    N, C, H, _ = x.shape
    Co = gy.shape[1]
    step = plan.m * plan.bx
    xs = [(A, _windows(x, s, k1 - k0, step, A.shape[1])) for k0, k1, s, A in plan.in_w]
    gs = [(A, _windows(gy, s, k1 - k0, step, A.shape[1])) for k0, k1, s, A in plan.out_w]
    n, g = plan.wchunk, plan.wgroup
    groups = [(n0, n, g) for n0 in range(0, N - N % (n * g), n * g)]
    rest = N % (n * g)
    if rest >= n:
        groups.append((N - rest, n, rest // n))
    if rest % n:
        groups.append((N - rest % n, rest % n, 1))
    stages: dict[tuple[int, int], _GradStages] = {}
    for n0, n, g in groups:
        st = stages.get((n, g))
        if st is None:
            st = stages[n, g] = _GradStages(plan, n, g, C, Co, H, x.dtype)
        for q in range(g):
            i0, i1 = n0 + q * n, n0 + (q + 1) * n
            for (A, src), dst in zip(xs, st.x1):
                np.matmul(A, src[..., i0 * C : i1 * C], out=dst)
            for A, src, dst in st.x2[q]:
                np.matmul(A, src, out=dst)
            for (A, src), dst in zip(gs, st.g1):
                np.matmul(A, src[..., i0 * Co : i1 * Co], out=dst)
            for A, src, dst in st.g2[q]:
                np.matmul(A, src, out=dst)
        np.matmul(st.vt, st.y, out=st.P)
        for ky in range(plan.KY):
            acc += st.P[:, ky]
