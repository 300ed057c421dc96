"""N-d convolution kernels on NumPy arrays: forward, input gradient and weight gradient.

Conventions
-----------
All arrays are batched and channels-first: ``x`` is ``(N, C_in, *S)``, ``w`` is
``(C_out, C_in // groups, *K)`` and ``y`` is ``(N, C_out, *O)``; 1, 2 and 3 spatial dims go
through one code path. ``stride`` and ``dilation`` are tuples with one int per spatial dim;
``padding`` is a tuple of ``(lo, hi)`` pairs per spatial dim (asymmetric padding is what
``padding='same'`` needs). Everything is plain cross-correlation: no kernel flip and no
complex conjugation::

    y[n, o, i] = sum_{c in group(o), k} w[o, c, k] * xpad[n, c, i*s + k*d]

The three public maps ``C(x, w) = conv_forward``, ``T(gy, w) = conv_input_grad`` and
``G(x, gy) = conv_weight_grad`` are exact adjoints of each other::

    <C(x, w), gy> == <x, T(gy, w)> == <w, G(x, gy)>

``T`` is also the forward of a transposed convolution, so ``T`` and ``G`` accept a ``gy``
of any spatial size, not only the one :func:`conv_output_shape` gives.

Layout: the flat polyphase buffer
---------------------------------
Every path works on batch chunks whose working set stays cache-sized
(:data:`_CHUNK_TARGET_BYTES`); one column buffer never exceeds :data:`WORKSPACE_BYTES` (a
single sample that would is split along the first output dim). Inside a chunk, data is
*channel-major*, ``(C, n, ...)``.

The zero-padded input of a chunk is stored as a *flat polyphase* buffer: padded position
``b = q*s + r`` goes to phase ``r`` (``0 <= r < s`` per dim) at grid cell ``q`` of the grid
``Q = O + max_k (k*d // s)``. Tap ``k`` of output position ``i`` then reads phase
``r(k) = k*d mod s`` at ``q = i + a(k)`` with ``a(k) = k*d // s``: a pure shift, i.e. a
constant *flat* offset. The grids of all ``(c, n)`` rows of a phase are stored back to back
(plus a zero tail), and outputs are computed on the *extended* positions ``i < Q`` instead
of ``i < O``. For one tap, the cells of all extended positions of a whole chunk then form a
single contiguous range; the extra "junk" positions read neighbouring cells and are either
dropped (forward) or multiplied by zeros (gradients). With unit stride there is one phase
and the buffer is simply the padded input, flattened.

This turns every data movement into copies / adds of long contiguous ranges: NumPy's
per-row overhead, which dominates a naive strided im2col / col2im on small feature maps
(especially for in-place adds into strided views), disappears, and strided convolutions
never do strided reads.

Algorithms
----------
The bias of the forward is added in the pass that writes ``y`` (:func:`_store`), and its
gradient is :func:`channel_sum`.

*Forward* (im2col + GEMM): the taps of one phase form a regular sub-grid, so one
``as_strided`` view ``(C, *K_r, n, span)`` per phase (a single view for unit stride) is
copied into the column matrix ``(C*K, n*span)`` (``span`` covers the exact output rows,
extended along the trailing dims only); ONE group-batched ``np.matmul``
``W (G, Cog, Cg*K) @ cols -> (Co, n*span)`` is then cropped/transposed into ``y``. With
unit stride, no groups and few output channels per input value, the first kernel dim is
split out of the columns instead (:func:`_split_forward`): the columns hold only the taps
of the first kernel row and one GEMM gives per-row partial sums that are added shifted.

*Weight gradient*: the same column matrix and ``gy`` zero-extended to ``(Co, n*span)``:
``cols @ gy_e^T`` (the reduction runs over batch and positions at once; the product is
computed with its larger side as rows, which OpenBLAS runs up to ~1.4x faster, see
:func:`_matmul_nt`), summed over chunks in a fixed order.

*Input gradient*: with unit stride in 2-d (and finite weights) it is the forward
convolution of ``gy`` with the flipped, group-transposed kernel (:func:`_flipped_padding`),
which measured ~15-20% faster than the scatter below; 1-d and 3-d measured the other way
(except 3-d layers of the compiled Winograd, see below, where the forward is ~3x faster).
Otherwise (GEMM + col2im): ``gy`` zero-extended to whole grids,
``W^T (G, K*Cg, Cog) @ gy_e -> cols`` with rows ordered tap-major, then each of the
``prod(K)`` taps is ONE contiguous slice-add of a block of ``cols`` into its phase, and the
phases are interleaved and cropped into ``gx``. Where each phase's first tap has offset 0
(it then covers every cell), that tap is copied into the unzeroed buffer instead of added
(:attr:`_FlatPlan.first_taps`; the resnet down layer's input gradient 0.96x the time).

*Winograd*: finite stride-1, ungrouped 3x3 2-d layers with enough channels (measured rules
in :mod:`lucid.kernels.winograd`; a dilation must divide the input size and the pads, the
layer then being ``d0*d1`` undilated ones on the polyphase components) take Winograd
F(4x4, 3x3) / F(2x2, 3x3) instead: the forward (:func:`_use_winograd`; hence also the
2-d input gradient, which is a forward with the flipped kernel) and the weight gradient
(:func:`_use_winograd_weight_grad`). Non-finite data always end up on the paths above,
since Winograd transforms would spread an ``inf``/``nan`` over a whole tile: the forward
checks its operands first; the weight gradient checks only its small result, which any
``inf``/``nan`` of ``x`` or ``gy`` reaches, and is then computed again by im2col + GEMM
(:func:`_winograd_any_weight_grad`).
With numba installed, ungrouped stride-1 undilated ``(K_d, 3, 3)`` 3-d layers with
enough tiles and channels (:func:`_use_winograd3d`) take the compiled 3-d Winograd of
:mod:`lucid.kernels.winograd3d` the same way: forward, weight gradient, and the input
gradient as a forward with the flipped kernel (the video suite layer: forward+backward
35 -> 17 ms, 2.1x faster than im2col + GEMM / col2im).
Likewise, ungrouped stride-1 undilated 1-d layers with at least 9 taps, long outputs and
enough channels (:func:`_use_winograd1d`) take the compiled 1-d Winograd of
:mod:`lucid.kernels.winograd1d` (the taps in groups of 3, each group an F(4, 3); the audio
suite layer: 0.55x / 0.71x / 0.66x the time of im2col + GEMM for the forward / input
gradient / weight gradient).

*Special cases*: a 1x1 kernel with unit stride and no padding is a plain batched GEMM on a
reshape. Non-overlapping windows (``stride == kernel``, no low padding, "patchify") need no
padded buffer: the columns are one transpose copy of ``x`` (forward and weight gradient),
and the input gradient copies its GEMM's columns straight into the windows of ``gx``.
Depthwise convolutions (``groups == C_in``, one input channel per group) avoid thousands of
tiny GEMMs, with batch chunks spread over worker threads (:func:`set_num_threads`): the
forward (multiplier 1) is a channel-batched ``(C, 1, K) @ (C, K, M)`` product on the
im2col columns (in 2-d with unit stride, only the kernel-column taps are copied and the
kernel rows are summed by shifted adds, see :func:`_depthwise_forward_rows`); for any
channel multiplier, the weight gradient is one channel-batched dot
product per tap and the input gradient per-tap ``einsum`` products and in-place adds, over
whole flat buffers (with a multiplier the group-batched GEMM forward measured faster).
While worker threads run, BLAS is limited to one thread (:func:`_single_threaded_blas`).
With numba installed (the optional ``fast`` extra), 1-d and 2-d depthwise layers with unit
stride and dilation and multiplier 1 run compiled kernels instead
(:mod:`lucid.kernels._compiled`, ~3.5x faster on the depthwise suite layer), on the same
worker threads: the forward, the input gradient (the forward with the flipped kernel, for
finite weights) and the weight gradient (in channel chunks).

*Transposed-convolution backward*: its input gradient ``conv_forward(g, w)`` and weight
gradient ``conv_weight_grad(g, x)`` read the same columns of ``g``;
:func:`conv_forward_weight_grad` builds them once per batch chunk for both GEMMs where both
calls would take im2col + GEMM or the non-overlapping windows (the dcgan suite step 0.89x,
the unet one 0.84x the time of the two calls).

Junk positions are exact zeros in all reductions as long as the data are finite; when the
data that junk positions read are not (``inf``/``nan`` in ``w`` for the input gradient, in
``x`` for the weight gradient), the junk is zeroed explicitly (or the exact strided path is
taken), so non-finite values propagate exactly like in a direct implementation.

Scratch buffers are reused across calls (one cache per thread, each buffer at most
:data:`_CACHE_LIMIT_BYTES`; :func:`release_workspace` drops them) to avoid the page-fault
cost of fresh large allocations; returned arrays are always freshly allocated. All reductions
run in a fixed order, so results are bit-identical from run to run (for a given BLAS thread
count). ``float16`` is computed in ``float32`` and cast back; ``float32``, ``float64``,
``complex64`` and ``complex128`` are computed natively.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from math import prod
from typing import Any, TypeVar

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import ThreadpoolController

from lucid.kernels import _compiled, winograd1d, winograd3d
from lucid.kernels._workspace import _scratch, release_workspace
from lucid.kernels.winograd import (
    dilation_divides,
    winograd_conv2d,
    winograd_recommended,
    winograd_weight_grad,
    winograd_weight_grad_recommended,
)

__all__ = [
    "WORKSPACE_BYTES",
    "channel_sum",
    "conv_output_shape",
    "conv_forward",
    "conv_forward_weight_grad",
    "conv_input_grad",
    "conv_weight_grad",
    "get_num_threads",
    "release_workspace",
    "set_num_threads",
]

WORKSPACE_BYTES = 256 * 2**20
"""Hard upper bound (bytes) for one column (im2col / col2im) buffer."""

_CHUNK_TARGET_BYTES = 10 * 2**20
"""Preferred working-set size of one batch chunk of the GEMM paths (big enough for BLAS to
scale over threads, small enough to stay in cache). 10 MB measured as fast as 16 MB on the
benchmark suite (within noise) and keeps the peak memory of a forward+backward step within
1.25x of PyTorch's on every suite layer; 8 MB cost up to 14% on some layers."""

_ELEMENTWISE_CHUNK_BYTES = 1 * 2**20
"""Preferred working-set size of one batch chunk of the depthwise (elementwise) paths."""

_FINITE_CHECK_BLOCK = 2**18
"""Elements per block of :func:`_all_finite` (a 256 KB boolean temporary)."""

_WINOGRAD1D_MIN_TAPS = 9
"""Fewest kernel taps for which the 1-d Winograd path is taken (see
:func:`_use_winograd1d`)."""

_WINOGRAD1D_MIN_TILES = 512
"""Fewest tiles of 4 outputs per image for which the 1-d Winograd path is taken."""

_WINOGRAD1D_MIN_CHANNELS = 16
"""Fewest input and output channels for which the 1-d Winograd path is taken."""

_WINOGRAD3D_MIN_TILES = 16
"""Fewest 4x4 tiles per output plane for which the 3-d Winograd path is taken."""

_WINOGRAD3D_MAX_PLANE_BYTES = 32 * 2**20
"""Largest transformed working set of one output plane of the 3-d Winograd path."""

Pads = Sequence[tuple[int, int]]

_ALL2 = (slice(None), slice(None))
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# small helpers
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


def _dtypes(*arrays: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """Return ``(result_dtype, compute_dtype)``; half precision is computed in float32."""
    dt = np.result_type(*arrays)
    return dt, (np.dtype(np.float32) if dt == np.float16 else dt)


def _cm(a: np.ndarray) -> np.ndarray:
    """Swap the two leading axes, ``(n, C, ...) <-> (C, n, ...)`` (a view)."""
    return a.swapaxes(0, 1)


def _default_num_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


_num_threads = _default_num_threads()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def set_num_threads(n: int) -> None:
    """Set the number of worker threads used by the NumPy (non-BLAS) parts of the kernels.

    Only the depthwise paths, which are elementwise NumPy work, run batch chunks in parallel
    threads (NumPy releases the GIL), with BLAS limited to one thread meanwhile so the two
    pools never oversubscribe the cores. Results do not depend on this setting. BLAS
    threads of the other paths are configured separately (e.g. with ``threadpoolctl``).
    """
    global _num_threads, _pool
    if int(n) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    with _pool_lock:
        _num_threads = int(n)
        _pool = None  # the old pool's idle threads exit once it is garbage-collected


def get_num_threads() -> int:
    """Number of worker threads used by the NumPy parts of the kernels."""
    return _num_threads


def _reset_pool_after_fork() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _map_chunks(fn: Callable[[tuple[int, int]], _T], chunks: list[tuple[int, int]]) -> list[_T]:
    """``[fn(c) for c in chunks]``, on the worker threads when there are several.

    ``fn`` must only write disjoint outputs (or return values); results keep chunk order,
    so any reduction over them by the caller is deterministic. BLAS runs single-threaded
    meanwhile (:func:`_single_threaded_blas`).
    """
    global _pool
    with _single_threaded_blas():
        if _num_threads <= 1 or len(chunks) <= 1:
            return [fn(c) for c in chunks]
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(_num_threads, thread_name_prefix="lucid-conv")
            pool = _pool
        return list(pool.map(fn, chunks))


_blas_controller: ThreadpoolController | None = None
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limit: Any = None


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while the worker threads run (re-entrant, thread-safe).

    The workers' small per-chunk products are BLAS calls; with OpenBLAS's own threads on
    top, 2 workers x 2 BLAS threads oversubscribed the 2 cores and their spin-waiting
    made the depthwise forward+backward 50-58 ms instead of 35 ms (suite layer). One
    BLAS thread also makes results independent of the worker count.
    """
    global _blas_controller, _blas_depth, _blas_limit
    with _blas_lock:
        if _blas_depth == 0:
            if _blas_controller is None:
                _blas_controller = ThreadpoolController()
            _blas_limit = _blas_controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


def channel_sum(g: np.ndarray) -> np.ndarray:
    """Sum ``g (N, C, *S)`` over the batch and spatial dims (the gradient of a bias).

    For contiguous float32/64 and complex data the spatial sums are one matrix-vector
    product with a vector of ones (~2x faster than ``ndarray.sum`` over non-adjacent axes),
    run on ONE BLAS thread: a multi-threaded BLAS call leaves OpenBLAS's threads
    spin-waiting, and next to the depthwise kernels' worker threads that spinning made a
    forward+backward step 1.3-1.7x slower. The reduction order is fixed (deterministic).

    Examples
    --------
    >>> channel_sum(np.ones((2, 3, 4, 5)))
    array([40., 40., 40.])
    """
    N, C = g.shape[:2]
    if g.dtype.itemsize >= 4 and g.dtype.kind in "fc" and g.flags.c_contiguous and g.size:
        ones = np.ones(g.size // (N * C), dtype=g.dtype)
        with _single_threaded_blas():
            per_row = g.reshape(N * C, -1) @ ones
        return per_row.reshape(N, C).sum(axis=0)
    return g.sum(axis=(0,) + tuple(range(2, g.ndim)))


def _all_finite(a: np.ndarray) -> bool:
    """Whether ``a`` holds no ``inf``/``nan``; a contiguous ``a`` is checked in blocks, so
    the boolean temporary stays small (it would add the size of ``a`` to the peak memory)."""
    if a.dtype.kind not in "fc":
        return True
    if not a.flags.c_contiguous:
        return bool(np.isfinite(a).all())
    flat = a.reshape(-1)
    step = _FINITE_CHECK_BLOCK
    return all(bool(np.isfinite(flat[i : i + step]).all()) for i in range(0, flat.size, step))


def _overlap(L: int, lo: int, ext: int) -> tuple[slice, slice]:
    """Slices ``(src, dst)`` copying ``x[0:L]`` to buffer offset ``lo`` within ``[0, ext)``."""
    src0, dst0 = max(0, -lo), max(0, lo)
    count = max(0, min(L - src0, ext - dst0))
    return slice(src0, src0 + count), slice(dst0, dst0 + count)


def _needed_extent(out, kernel, stride, dilation) -> tuple[int, ...]:
    """Padded extent touched by the windows of ``out`` positions, per spatial dim."""
    return tuple((o - 1) * s + (k - 1) * d + 1 for o, k, s, d in zip(out, kernel, stride, dilation))


def _matmul_nt(slot: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b^T`` for stacked ``a (G, P, m)`` and ``b (G, Q, m)`` (a scratch-backed result).

    BLAS (OpenBLAS, with the long ``m`` reduction) runs up to ~1.4x faster when the larger
    of ``P`` and ``Q`` is the row dimension of the product, so the product is computed in
    that orientation and, if needed, returned as a transposed view.
    """
    G, P, _ = a.shape
    Q = b.shape[1]
    if P >= Q:
        return np.matmul(a, b.transpose(0, 2, 1), out=_scratch(slot, (G, P, Q), a.dtype))
    out = np.matmul(b, a.transpose(0, 2, 1), out=_scratch(slot, (G, Q, P), a.dtype))
    return out.transpose(0, 2, 1)


def _is_pointwise(kernel, stride, padding) -> bool:
    return (
        all(k == 1 for k in kernel)
        and all(s == 1 for s in stride)
        and all(lo == 0 and hi == 0 for lo, hi in padding)
    )


def _is_patchify(kernel, stride, padding, dilation, out, spatial) -> bool:
    """Non-overlapping windows (``stride == kernel``, no low padding) that stay inside ``x``:
    im2col is then a single transpose copy of ``x``, with no padded buffer and no junk."""
    return all(
        s == k and lo == 0 and (d == 1 or k == 1) and o * k <= L
        for k, s, (lo, _), d, o, L in zip(kernel, stride, padding, dilation, out, spatial)
    )


def _patch_cols_view(x: np.ndarray, kernel, out) -> np.ndarray:
    """View ``(N, C, *K, *O)`` of ``x`` with ``[n, c, k, i] = x[n, c, i*K + k]`` (writeable
    when ``x`` is; always a view, for any strides of ``x``)."""
    st = x.strides
    spatial = st[2:]
    strides = st[:2] + spatial + tuple(k * s for k, s in zip(kernel, spatial))
    return as_strided(x, x.shape[:2] + tuple(kernel) + tuple(out), strides)


def _is_depthwise(C: int, Cg: int, groups: int) -> bool:
    return groups > 1 and groups == C and Cg == 1


def _chunks(
    n: int, rows: int, per_row: int, per_sample: int, target: int = 0
) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
    """Work split ``(n0, n1, [(i0, i1), ...])`` over batch and first-output-dim rows.

    ``per_row`` is the column-buffer size of one output row of one sample and
    ``per_sample`` the rest of the per-sample working set. Chunks of whole samples target
    ``target`` bytes (default :data:`_CHUNK_TARGET_BYTES`); a sample larger than that is
    processed alone, in blocks of output rows (so a column buffer never exceeds
    :data:`WORKSPACE_BYTES` either).
    """
    budget = min(target or _CHUNK_TARGET_BYTES, WORKSPACE_BYTES)
    if rows * per_row + per_sample > budget and rows > 1:
        rb = max(1, budget // max(1, per_row))
        rb = -(-rows // -(-rows // rb))  # balanced blocks: (4, 4) rather than (7, 1)
        blocks = [(i0, min(rows, i0 + rb)) for i0 in range(0, rows, rb)]
        for n0 in range(n):
            yield n0, n0 + 1, blocks
        return
    nb = max(1, min(n, budget // max(1, rows * per_row + per_sample)))
    nb = -(-n // -(-n // nb))  # balanced chunks: (11, 11, 10) rather than (15, 15, 2)
    for n0 in range(0, n, nb):
        yield n0, min(n, n0 + nb), [(0, rows)]


# --------------------------------------------------------------------------------------------
# the flat polyphase layout
# --------------------------------------------------------------------------------------------


class _FlatPlan:
    """Geometry of the flat polyphase buffer for output ``out`` (see the module docstring).

    A buffer holds, per used phase, all ``(c, n)`` rows of ``R = prod(Q)`` grid cells back to
    back plus ``tail`` trailing zeros: ``buf[phase, (c*n_chunk + n)*R + flat(q)]``. A tap is
    a flat offset into the phase, so the cells tap ``k`` touches for *all* extended
    positions of *all* rows form one contiguous range. Valid positions never leave their
    own row; junk positions may run into the next row or the tail.

    Attributes
    ----------
    Q : tuple of int
        Phase grid, ``Q = O + max_k (k*d // s)``.
    Qr : int
        Flat length of one grid row, ``prod(Q[1:])``.
    R : int
        Flat length of one ``(c, n)`` row, ``prod(Q)``.
    tail : int
        Largest tap offset (zeros after the last row).
    phases : list of tuple of int
        Phases ``r`` that some tap uses; buffer index = position in this list.
    taps : list of (int, int)
        ``(buffer index, flat offset)`` of every kernel tap, in row-major tap order.
    groups : list of (int, tuple, int, tuple)
        Per phase, the regular sub-grid of its taps: ``(buffer index, counts, first
        offset, offset steps)``; ``perm`` lists the tap indices in this grouped order.
    """

    def __init__(self, out, kernel, stride, dilation) -> None:
        self.out = tuple(out)
        self.stride = tuple(stride)
        self.Kf = prod(kernel)
        # per dim: residue classes r of k*d mod s -> (r, taps, first shift a, shift step)
        classes = []
        for K, s, d in zip(kernel, stride, dilation):
            cls = []
            for r in range(s):
                ks = [k for k in range(K) if (k * d) % s == r]
                if ks:
                    a = [(k * d) // s for k in ks]
                    cls.append((r, ks, a[0], a[1] - a[0] if len(a) > 1 else 0))
            classes.append(cls)
        amax = tuple((K - 1) * d // s for K, s, d in zip(kernel, stride, dilation))
        self.Q = tuple(o + a for o, a in zip(out, amax))
        self.Qr = prod(self.Q[1:])
        self.R = prod(self.Q)
        qstr = [prod(self.Q[i + 1 :]) for i in range(len(self.Q))]
        self.tail = sum(a * q for a, q in zip(amax, qstr))
        self.phases = [tuple(c[0] for c in combo) for combo in itertools.product(*classes)]
        index = {r: i for i, r in enumerate(self.phases)}
        self.taps = []
        for k in itertools.product(*(range(K) for K in kernel)):
            kd = [kk * d for kk, d in zip(k, dilation)]
            r = tuple(v % s for v, s in zip(kd, stride))
            self.taps.append((index[r], sum((v // s) * q for v, s, q in zip(kd, stride, qstr))))
        self.groups = []
        perm: list[int] = []
        for combo in itertools.product(*classes):
            counts = tuple(len(c[1]) for c in combo)
            first = sum(c[2] * q for c, q in zip(combo, qstr))
            steps = tuple(c[3] * q for c, q in zip(combo, qstr))
            self.groups.append((index[tuple(c[0] for c in combo)], counts, first, steps))
            grid = np.meshgrid(*(c[1] for c in combo), indexing="ij")
            perm.extend(np.ravel_multi_index(grid, tuple(kernel)).ravel().tolist())
        self.perm = None if perm == list(range(self.Kf)) else np.asarray(perm)

    def buffer(self, slot: str, C: int, n: int, dtype, zero: bool = True) -> np.ndarray:
        """Phase buffer ``(len(phases), C*n*R + tail)``, zeroed (only its tail if not
        ``zero``: the caller then writes every grid cell)."""
        buf = _scratch(slot, (len(self.phases), C * n * self.R + self.tail), dtype, zero=zero)
        if not zero:
            buf[:, C * n * self.R :] = 0
        return buf

    @functools.cached_property
    def first_taps(self) -> list[int] | None:
        """Per phase, the tap that comes first in :attr:`taps` order, if every phase's
        first tap has offset 0 (it then covers every cell of every ``(c, n)`` row, so a
        col2im can *copy* it into an unzeroed buffer and add the others); else ``None``."""
        first: dict[int, int] = {}
        for t, (i, off) in enumerate(self.taps):
            if i not in first:
                if off != 0:
                    return None
                first[i] = t
        return [first[i] for i in range(len(self.phases))]

    def rows(self, buf: np.ndarray, i: int, G: int, nrows: int, start: int, length: int):
        """View ``(G, nrows, length)`` of phase ``i``: cells ``[start, start + length)`` of
        every ``(c, n)`` row, rows grouped by ``G`` (contiguous when ``length == R``)."""
        it = buf.itemsize
        strides = (nrows * self.R * it, self.R * it, it)
        return as_strided(buf[i, start:], (G, nrows, length), strides)

    def _grid(self, buf: np.ndarray, i: int, C: int, n: int) -> np.ndarray:
        return buf[i, : C * n * self.R].reshape((C, n) + self.Q)

    def _phase_slices(self, spatial, lo) -> Iterator[tuple[int, tuple, tuple]]:
        """``(buffer index, grid slices, x slices)``: x position ``o`` <-> ``b = o + lo``."""
        for i, r in enumerate(self.phases):
            qs, xs = [], []
            for L, p, Q, s, rr in zip(spatial, lo, self.Q, self.stride, r):
                q0 = max(0, -((rr - p) // s))  # first q with q*s + rr - p >= 0
                o0 = q0 * s + rr - p
                cnt = min(Q - q0, (L - 1 - o0) // s + 1) if o0 < L else 0
                if cnt <= 0:
                    break
                qs.append(slice(q0, q0 + cnt))
                xs.append(slice(o0, o0 + (cnt - 1) * s + 1, s))
            else:
                yield i, tuple(qs), tuple(xs)

    def fill(self, buf: np.ndarray, x_cm: np.ndarray, lo) -> None:
        """Scatter channel-major ``x_cm (C, n, *S)`` into the zeroed buffer (offset ``lo``)."""
        C, n = x_cm.shape[:2]
        for i, qs, xs in self._phase_slices(x_cm.shape[2:], lo):
            self._grid(buf, i, C, n)[_ALL2 + qs] = x_cm[_ALL2 + xs]

    def gather(self, buf: np.ndarray, gx_cm: np.ndarray, lo) -> None:
        """Copy the buffer back to ``gx_cm (C, n, *S)`` (positions no phase holds untouched)."""
        C, n = gx_cm.shape[:2]
        for i, qs, xs in self._phase_slices(gx_cm.shape[2:], lo):
            gx_cm[_ALL2 + xs] = self._grid(buf, i, C, n)[_ALL2 + qs]

    def im2col(self, slot: str, buf: np.ndarray, C: int, n: int, rows) -> np.ndarray:
        """Column matrix ``(C, Kf, n, span)`` (taps in ``perm`` order) for output ``rows``,
        ``span = (i1 - i0) * Qr``."""
        i0, i1 = rows
        span = (i1 - i0) * self.Qr
        cols = _scratch(slot, (C, self.Kf, n, span), buf.dtype)
        it = buf.itemsize
        t0 = 0
        for i, counts, first, steps in self.groups:
            kc = prod(counts)
            src = as_strided(
                buf[i, first + i0 * self.Qr :],
                shape=(C,) + counts + (n, span),
                strides=(n * self.R * it,) + tuple(st * it for st in steps) + (self.R * it, it),
                writeable=False,
            )
            np.copyto(cols[:, t0 : t0 + kc].reshape((C,) + counts + (n, span)), src)
            t0 += kc
        return cols

    def extend(self, slot: str, g_cm: np.ndarray, rows, full: bool) -> np.ndarray:
        """Zero-extend output rows ``[i0, i1)`` of ``g_cm (X, n, *O)`` to the grid.

        Returns ``(X, n, (i1 - i0) * Qr)``, or ``(X, n, R)`` (all ``Q[0]`` grid rows) when
        ``full``.
        """
        i0, i1 = rows
        X, n = g_cm.shape[:2]
        e = _scratch(slot, (X, n, self.Q[0] if full else i1 - i0) + self.Q[1:], g_cm.dtype)
        valid = (slice(0, i1 - i0),) + tuple(slice(0, o) for o in self.out[1:])
        e[_ALL2 + valid] = g_cm[:, :, i0:i1]
        self._zero_outside(e, i1 - i0)
        return e.reshape(X, n, -1)

    def _ext_view(self, a: np.ndarray) -> np.ndarray:
        """View ``(..., rows, *Q[1:])`` of an extended ``(..., rows * Qr)`` array."""
        return a.reshape(a.shape[:-1] + (a.shape[-1] // self.Qr,) + self.Q[1:])

    def _zero_outside(self, e: np.ndarray, rows: int) -> None:
        """Zero the cells of a ``(..., grid_rows, *Q[1:])`` view outside ``[:rows, :O[1:]]``."""
        nd = len(self.out)
        limits = (rows,) + self.out[1:]
        for d in range(nd):
            if e.shape[e.ndim - nd + d] > limits[d]:
                e[(Ellipsis, slice(limits[d], None)) + (slice(None),) * (nd - 1 - d)] = 0

    def crop(self, a: np.ndarray) -> np.ndarray:
        """View ``(..., rows, *O[1:])`` of the valid positions of an extended array."""
        e = self._ext_view(a)
        nd = len(self.out)
        rows = min(e.shape[e.ndim - nd], self.out[0])
        return e[(Ellipsis, slice(0, rows)) + tuple(slice(0, o) for o in self.out[1:])]

    def zero_junk(self, a: np.ndarray) -> None:
        """Set the junk positions of an extended ``(..., L)`` array to 0."""
        e = self._ext_view(a)
        self._zero_outside(e, min(e.shape[e.ndim - len(self.out)], self.out[0]))


@functools.lru_cache(maxsize=256)
def _flat_plan(out: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> _FlatPlan:
    """Cached :class:`_FlatPlan` (plans are immutable; building one costs ~1 ms of Python)."""
    return _FlatPlan(out, kernel, stride, dilation)


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
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Grouped, strided, dilated N-d cross-correlation (plus an optional bias).

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
    bias : ndarray, shape (C_out,), optional
        Added to every output position of its channel (fused into the pass that writes
        ``y`` where the algorithm has one).

    Returns
    -------
    ndarray, shape (N, C_out, *O)
        ``y[n, o, i] = b[o] + sum_{c, k} w[o, c, k] * xpad[n, c, i*s + k*d]`` with ``O`` from
        :func:`conv_output_shape`; same dtype as the inputs and ``bias``.

    Examples
    --------
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> w = np.array([[[1.0, 0.0, -1.0]]])
    >>> conv_forward(x, w, (1,), ((1, 1),), (1,), 1)
    array([[[-1., -2., -2., -2.,  3.]]])
    """
    rdt, cdt = _dtypes(x, w) if bias is None else _dtypes(x, w, bias)
    x = np.asarray(x, dtype=cdt)
    w = np.asarray(w, dtype=cdt)
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel = w.shape[2:]
    G = groups
    Cog = Co // G
    # the bias as a (C_out, 1, ..., 1) array, broadcasting against channel-major blocks
    bc = None if bias is None else np.asarray(bias, dtype=cdt).reshape((Co,) + (1,) * len(kernel))
    out = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    if min(out, default=1) < 0:
        raise ValueError(
            f"conv_forward: input of spatial size {tuple(x.shape[2:])} is too small for kernel "
            f"{tuple(kernel)} with dilation {tuple(dilation)} and padding {tuple(padding)}"
        )
    Of, Kf = prod(out), prod(kernel)
    if N * Co * Of == 0 or Cg * Kf == 0:
        y = np.zeros((N, Co) + out, dtype=rdt)
        if bc is not None and y.size:
            y += bc.astype(rdt, copy=False)
        return y

    y = np.empty((N, Co) + out, dtype=cdt)
    if _is_pointwise(kernel, stride, padding):
        np.matmul(w.reshape(G, Cog, Cg), x.reshape(N, G, Cg, Of), out=y.reshape(N, G, Cog, Of))
        return _plus_bias(y, bc).astype(rdt, copy=False)

    depthwise = _is_depthwise(C, Cg, G)
    if not depthwise and _is_patchify(kernel, stride, padding, dilation, out, x.shape[2:]):
        _patch_forward(x, w, y, G)
        return _plus_bias(y, bc).astype(rdt, copy=False)

    if _use_winograd(x, w, stride, padding, dilation, G, out):
        y = winograd_conv2d(x, w, padding, bias=bias, dilation=dilation)
        return y.astype(rdt, copy=False)
    run = _compiled_winograd_forward(x, kernel, Co, out, stride, padding, dilation, G)
    if run is not None and _all_finite(w):
        run(w, np.zeros(Co, cdt) if bias is None else np.asarray(bias, dtype=cdt), y)
        return y.astype(rdt, copy=False)

    lo = tuple(p[0] for p in padding)
    if depthwise and Co == C and _use_compiled_depthwise(kernel, stride, dilation, cdt):
        b = np.zeros(C, cdt) if bias is None else np.asarray(bias, dtype=cdt)
        _compiled_depthwise_forward(x, w, b, y, lo)
        return y.astype(rdt, copy=False)
    plan = _flat_plan(tuple(out), tuple(kernel), tuple(stride), tuple(dilation))
    if depthwise and Co == C:  # with a channel multiplier the GEMM is faster
        if len(out) == 2 and len(plan.phases) == 1:
            _depthwise_forward_rows(x, w, y, plan, lo, bc)
        else:
            _depthwise_forward(x, w, y, plan, lo, bc)
        return y.astype(rdt, copy=False)

    if _use_split_forward(plan, C, Co, G, kernel[0], y.itemsize):
        _split_forward(x, w, y, plan, lo, bc)
        return y.astype(rdt, copy=False)

    _im2col_products(x, plan, lo, G, w=w, y=y, bc=bc)
    return y.astype(rdt, copy=False)


def _winograd_layer(x, kernel, stride, padding, G: int) -> bool:
    """The layers Winograd serves at all: ungrouped stride-1 3x3 2-d convolutions with
    non-negative padding, in float32/float64."""
    return (
        tuple(kernel) == (3, 3)
        and G == 1
        and tuple(stride) == (1, 1)
        and x.dtype in (np.float32, np.float64)
        and all(lo >= 0 and hi >= 0 for lo, hi in padding)
    )


def _use_winograd(x, w, stride, padding, dilation, G: int, out) -> bool:
    """Whether the forward goes to :func:`~lucid.kernels.winograd.winograd_conv2d`.

    Stride-1, ungrouped 3x3 2-d convolutions with non-negative padding, in float32/float64,
    for shapes where Winograd measured faster than im2col
    (:func:`~lucid.kernels.winograd.winograd_recommended`; e.g. 0.59x on the resnet 3x3
    layer), and only for finite data: its transforms mix a whole tile, so an ``inf``/``nan``
    in ``x`` would spoil neighbouring outputs that a direct convolution leaves finite. A
    dilation ``d`` is taken when ``d`` divides the input size and both pads of its dim
    (:func:`~lucid.kernels.winograd.dilation_divides`).
    """
    if not _winograd_layer(x, w.shape[2:], stride, padding, G):
        return False
    if not dilation_divides(x.shape[2:], padding, dilation):
        return False
    d0, d1 = dilation
    N, C, Co = x.shape[0], x.shape[1], w.shape[0]
    return (
        winograd_recommended(N * d0 * d1, C, Co, out[0] // d0, out[1] // d1)
        and _all_finite(w)
        and _all_finite(x)
    )


def _use_winograd_weight_grad(x, gy, kernel, stride, padding, dilation, G: int) -> bool:
    """Whether the weight gradient goes to :func:`~lucid.kernels.winograd.winograd_weight_grad`.

    The same class of layers as :func:`_use_winograd` (stride-1 ungrouped 3x3 2-d,
    float32/float64, non-negative padding; finite data: see
    :func:`_winograd_any_weight_grad`), with ``gy`` of exactly the convolution's
    output size, where
    :func:`~lucid.kernels.winograd.winograd_weight_grad_recommended` measured it faster
    (0.69x of im2col + GEMM on the resnet 3x3 layer), with the forward's rule for a
    dilation (the dilated suite layer: 0.90x with numba, 0.92x without).
    """
    if not _winograd_layer(x, kernel, stride, padding, G):
        return False
    if not dilation_divides(x.shape[2:], padding, dilation):
        return False
    d0, d1 = dilation
    out = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    return (
        tuple(gy.shape[2:]) == out
        and winograd_weight_grad_recommended(
            x.shape[0] * d0 * d1, x.shape[1], gy.shape[1], out[0] // d0, out[1] // d1
        )
    )


def _use_winograd3d(x, kernel, Co: int, out, stride, padding, dilation, G: int) -> bool:
    """Whether a 3-d layer with output ``(N, Co, *out)`` takes the compiled Winograd
    F(4x4, 3x3) of :mod:`lucid.kernels.winograd3d` (forward, weight gradient and, through
    the flipped kernel, input gradient).

    Ungrouped, stride-1, undilated ``(K_d, 3, 3)`` kernels with non-negative padding, in
    float32/float64, numba available (finite data: the callers check them, since the
    transforms spread an ``inf``/``nan`` over a whole tile), and shapes where it
    measured faster than im2col + GEMM (0.5-0.8x of its time with 16x16 to 64x64 planes):
    at least :data:`_WINOGRAD3D_MIN_TILES` tiles per output plane (with 8x8 planes the
    GEMMs get too few rows: 2x slower), ``C_in * C_out >= 32`` and ``C_out >= 4`` (with
    fewer output channels the scatter of col2im is cheap, e.g. 0.4x of Winograd for the
    input gradient of 3 -> 16 channels). The transformed data of one output plane
    (``K_d`` input planes and one output plane) must fit in
    :data:`_WINOGRAD3D_MAX_PLANE_BYTES`: chunks never split a plane, and larger ones take
    im2col + GEMM, whose column buffers can be split into rows.
    """
    return (
        len(kernel) == 3
        and tuple(kernel[1:]) == (3, 3)
        and G == 1
        and all(s == 1 for s in stride)
        and all(d == 1 for d in dilation)
        and x.dtype in (np.float32, np.float64)
        and all(lo >= 0 and hi >= 0 for lo, hi in padding)
        and prod(winograd3d.tiles(out)) >= _WINOGRAD3D_MIN_TILES
        and x.shape[1] * Co >= 32
        and Co >= 4
        and winograd3d.plane_bytes(x.shape[1] * kernel[0] + Co, out, x.itemsize)
        <= _WINOGRAD3D_MAX_PLANE_BYTES
        and _compiled.available()
    )


def _compiled_winograd_forward(x, kernel, Co: int, out, stride, padding, dilation, G: int):
    """``run(w, bias, y)``: the forward of ``x`` by the compiled 3-d or 1-d Winograd that
    serves the layer (:func:`_use_winograd3d`, :func:`_use_winograd1d`) into the fresh
    ``y``, or ``None`` where neither does or ``x`` is not finite (the caller checks ``w``)."""
    if _use_winograd3d(x, kernel, Co, out, stride, padding, dilation, G):
        run = functools.partial(_winograd3d_forward, x, padding=padding)
    elif _use_winograd1d(x, kernel, Co, out, stride, padding, dilation, G):
        run = functools.partial(_winograd1d_forward, x, lo=padding[0][0])
    else:
        return None
    return run if _all_finite(x) else None


def _winograd3d_chunks(x_shape, out, Kd: int, itemsize: int) -> list:
    """Work split ``(b0, b1, d0, d1)`` of :mod:`lucid.kernels.winograd3d`: batch chunks, or
    blocks of output planes of a single image, sized like the GEMM paths' chunks."""
    N, C = x_shape[:2]
    plane = winograd3d.plane_bytes(C, out, itemsize)
    chunks = _chunks(N, out[0], plane, plane * (Kd - 1), winograd3d.CHUNK_BYTES)
    return [(n0, n1, i0, i1) for n0, n1, blocks in chunks for i0, i1 in blocks]


def _winograd3d_forward(x, w, b, y, padding) -> None:
    """3-d Winograd forward into the fresh ``y``: chunks on the worker threads."""
    x = np.ascontiguousarray(x)
    U = winograd3d.kernel_transform(w)
    lo = tuple(p[0] for p in padding)
    chunks = _winograd3d_chunks(x.shape, y.shape[2:], w.shape[2], y.itemsize)
    _map_chunks(lambda c: winograd3d.forward_chunk(x, U, b, y, lo, c), chunks)


def _winograd3d_weight_grad(x, gy, Kd: int, padding) -> np.ndarray:
    """3-d Winograd weight gradient: chunks on the worker threads, their partial sums
    added in chunk order (deterministic for any thread count)."""
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    lo = tuple(p[0] for p in padding)
    chunks = _winograd3d_chunks(x.shape, gy.shape[2:], Kd, x.itemsize)
    parts = _map_chunks(lambda c: winograd3d.weight_grad_chunk(x, gy, Kd, lo, c), chunks)
    P = functools.reduce(np.add, parts)
    return winograd3d.weight_grad_finish(P, x.shape[1], Kd, x.dtype)


def _use_winograd1d(x, kernel, Co: int, out, stride, padding, dilation, G: int) -> bool:
    """Whether a 1-d layer with output ``(N, Co, L_out)`` takes the compiled Winograd
    F(4, 3) of :mod:`lucid.kernels.winograd1d` (forward, weight gradient and, through the
    flipped kernel, input gradient).

    Ungrouped, stride-1, undilated kernels of at least :data:`_WINOGRAD1D_MIN_TAPS` taps
    with non-negative padding, in float32/float64, numba available (finite data: the
    callers check them), at least :data:`_WINOGRAD1D_MIN_TILES` tiles per
    image, ``C_in, C_out >= m`` and ``C_in*C_out >= 4*m*m`` for
    ``m =`` :data:`_WINOGRAD1D_MIN_CHANNELS`. Measured time against
    im2col + GEMM (2 threads, float32; forward / input gradient / weight gradient): the
    audio suite layer ``(16, 32, 4096) -> 64, K = 9`` 0.55 / 0.71 / 0.66, and with
    ``K = 15`` 0.61 / 0.85 / 0.67; ``(8, 32, 2048) -> 32, K = 9`` 0.63 / 0.98 / 1.10. Below
    the rule it was mostly slower: ``K = 3``, 1024 outputs, 64 channels 1.09 / 1.09 / 1.36;
    ``K = 5`` 1.37 / 1.30 / 1.07 (fewer multiplies saved: ``6*Ka/4`` per output against
    ``K``; small single-threaded GEMMs per chunk against one large one on two threads);
    ``K = 7``, the audio sizes, 0.89 / 1.11 / 0.81; ``K = 9`` with 16 channels or 1024
    outputs about 1.0.
    """
    return (
        len(kernel) == 1
        and kernel[0] >= _WINOGRAD1D_MIN_TAPS
        and G == 1
        and tuple(stride) == (1,)
        and tuple(dilation) == (1,)
        and x.dtype in (np.float32, np.float64)
        and padding[0][0] >= 0
        and padding[0][1] >= 0
        and winograd1d.tiles(out[0]) >= _WINOGRAD1D_MIN_TILES
        and min(x.shape[1], Co) >= _WINOGRAD1D_MIN_CHANNELS
        and x.shape[1] * Co >= _WINOGRAD1D_MIN_CHANNELS**2 * 4
        and _compiled.available()
    )


def _winograd1d_chunks(x_shape, Co: int, L_out: int, K: int, itemsize: int) -> list:
    """Work split ``(b0, b1, t0, t1)`` of :mod:`lucid.kernels.winograd1d`: batch chunks, or
    blocks of tiles of a single image, with ``V`` and ``M`` near its ``CHUNK_BYTES``."""
    N, C = x_shape[:2]
    per_tile = winograd1d.tile_bytes(C, Co, K, itemsize)
    chunks = _chunks(N, winograd1d.tiles(L_out), per_tile, 0, winograd1d.CHUNK_BYTES)
    return [(n0, n1, t0, t1) for n0, n1, blocks in chunks for t0, t1 in blocks]


def _winograd1d_forward(x, w, b, y, lo: int) -> None:
    """1-d Winograd forward into the fresh ``y``: chunks on the worker threads."""
    x = np.ascontiguousarray(x)
    U = winograd1d.kernel_transform(w)
    chunks = _winograd1d_chunks(x.shape, y.shape[1], y.shape[2], w.shape[2], y.itemsize)
    _map_chunks(lambda c: winograd1d.forward_chunk(x, U, b, y, lo, c), chunks)


def _winograd1d_weight_grad(x, gy, K: int, lo: int) -> np.ndarray:
    """1-d Winograd weight gradient: chunks on the worker threads, their partial sums added
    in chunk order (deterministic for any thread count)."""
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    chunks = _winograd1d_chunks(x.shape, gy.shape[1], gy.shape[2], K, x.itemsize)
    parts = _map_chunks(lambda c: winograd1d.weight_grad_chunk(x, gy, K, lo, c), chunks)
    return winograd1d.weight_grad_finish(functools.reduce(np.add, parts), x.shape[1], K)


def _use_split_forward(plan: _FlatPlan, C: int, Co: int, G: int, K0: int, itemsize: int) -> bool:
    """Whether :func:`_split_forward` moves less data than plain im2col + GEMM.

    Per extended output position, im2col copies ``C*Kf`` values and the GEMM writes ``Co``;
    the split copies ``C*Kf/K0`` and writes, then re-reads, ``K0*Co``. It also computes
    ``(K0 - 1)`` extra grid rows per block (the shifts' reach), which only whole-sample
    chunks amortise, so one sample must fit the chunk budget. It needs one phase (unit
    stride) and no groups. Measured (2 threads, float32, A/B against im2col + GEMM): the
    demo classifier's input gradient ``(64, 64, 8, 8) -> 32`` 0.73x, the dilated suite
    layer 1.0x; the video conv3d layer (row blocks of 4 + 2 halo rows) was 1.05x and is
    excluded by the budget rule, as is audio conv1d (``K0 = 9``, by the data rule).
    """
    Kf, R = plan.Kf, plan.R
    if G != 1 or K0 == 1 or len(plan.phases) != 1:
        return False
    halo = (K0 - 1) * plan.groups[0][3][0]
    per_sample = (C * R + (C * (Kf // K0) + K0 * Co) * (R + halo)) * itemsize
    return (
        C * (Kf // K0) + 2 * K0 * Co <= C * Kf + Co
        and per_sample <= _CHUNK_TARGET_BYTES
    )


def _split_forward(x, w, y, plan: _FlatPlan, lo, bc) -> None:
    """Unit-stride forward with the first kernel dim taken out of im2col.

    Taps that differ only in their first-dim index ``a`` read the same cells shifted by
    ``a * s0`` (``s0 = d0 * Qr`` in the flat layout). So the columns hold only the
    ``Kr = Kf / K0`` taps with ``a = 0``, covering the extended positions plus the
    ``(K0 - 1) * s0`` cells the shifts reach; one GEMM ``W' (K0*C_out, C*Kr) @ cols`` gives
    the partial sums ``z[a]`` of every first-dim tap, and ``y = sum_a z[a]`` shifted by
    ``a * s0`` (valid positions only, so junk never reaches ``y``). This is
    :func:`_depthwise_forward_rows` for dense weights, in any number of dims.
    """
    N, C = x.shape[:2]
    Co = w.shape[0]
    kernel = w.shape[2:]
    K0, Kr = kernel[0], plan.Kf // kernel[0]
    ((_, counts, first, steps),) = plan.groups
    s0, R, Qr = steps[0], plan.R, plan.Qr
    out = plan.out
    w2 = np.ascontiguousarray(np.moveaxis(w, 2, 0)).reshape(K0 * Co, C * Kr)
    it = y.itemsize
    qstr = tuple(prod(plan.Q[i + 1 :]) * it for i in range(len(out)))
    halo = (K0 - 1) * s0
    per_sample = (C * R + (C * Kr + K0 * Co) * (R + halo)) * it
    # whole samples only (see _use_split_forward), so every chunk shares one halo
    for n0, n1, _ in _chunks(N, 1, 0, per_sample):
        n = n1 - n0
        buf = plan.buffer("buf", C, n, y.dtype)
        plan.fill(buf, _cm(x[n0:n1]), lo)
        width = (n - 1) * R + out[0] * Qr + halo
        shape = (C,) + counts[1:] + (width,)
        # columns and partial sums share the "cols" slot, so the scratch kept between
        # calls stays the largest single call's (the weight gradient's cols use it too)
        space = _scratch("cols", ((C * Kr + K0 * Co) * width,), y.dtype)
        cols = space[: C * Kr * width].reshape(shape)
        z = space[C * Kr * width :].reshape(K0, Co, width)
        src_strides = (n * R * it,) + tuple(st * it for st in steps[1:]) + (it,)
        np.copyto(cols, as_strided(buf[0, first:], shape, src_strides))
        np.matmul(w2, cols.reshape(C * Kr, width), out=z.reshape(K0 * Co, width))
        vshape, vstrides = (Co, n) + out, (width * it, R * it) + qstr
        parts = [as_strided(z[a, :, a * s0 :], vshape, vstrides) for a in range(K0)]
        _store_sum(_cm(y[n0:n1]), parts, bc)


def _store_sum(dst: np.ndarray, parts: list[np.ndarray], bc: np.ndarray | None) -> None:
    """``dst = sum(parts) (+ bias)`` for channel-major blocks, one pass per part."""
    if bc is None and len(parts) > 1:
        np.add(parts[0], parts[1], out=dst)
        rest = parts[2:]
    else:
        _store(dst, parts[0], bc)
        rest = parts[1:]
    for part in rest:
        np.add(dst, part, out=dst)


def _plus_bias(y: np.ndarray, bc: np.ndarray | None) -> np.ndarray:
    """``y += bias`` in place for ``y (N, C_out, *O)`` and ``bc (C_out, 1, ...)``."""
    if bc is not None:
        y += bc
    return y


def _store_crop(y: np.ndarray, ext: np.ndarray, plan: _FlatPlan, bc: np.ndarray | None) -> None:
    """``y (n, C_out, rows, *O[1:]) = `` the valid cells of ``ext (C_out, n, span)``, a GEMM
    result on extended positions (``+ bias``): compiled for 1-d and 2-d float32/float64
    (:func:`lucid.kernels._compiled.crop_store`), else by :func:`_store`."""
    nd = len(plan.out)
    if nd <= 2 and y.dtype in (np.float32, np.float64) and _compiled.available():
        src = plan._ext_view(ext) if nd == 2 else ext[:, :, None]
        b = None if bc is None else bc.reshape(-1)
        _compiled.crop_store(src, y if nd == 2 else y[:, :, None], b)
        return
    _store(_cm(y), plan.crop(ext), bc)


def _store(dst: np.ndarray, src: np.ndarray, bc: np.ndarray | None) -> None:
    """``dst = src (+ bias)`` for channel-major blocks ``(C_out, n, ...)``."""
    if bc is None:
        np.copyto(dst, src)
    else:
        np.add(src, bc[:, None], out=dst)


def _patch_forward(x, w, y, G: int, gy: np.ndarray | None = None,
                   gw: np.ndarray | None = None) -> None:
    """Forward with non-overlapping windows: per batch chunk, one transpose copy of ``x``
    into per-sample columns and one group-batched GEMM written straight into ``y``.

    With ``gy`` (the output gradient, read in place) the same columns also give the weight
    gradient into ``gw``: one GEMM ``cols[n] @ gy[n]^T`` per sample, summed in sample order
    (for :func:`conv_forward_weight_grad`)."""
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel, out = w.shape[2:], y.shape[2:]
    Kf, Of = prod(kernel), prod(out)
    Cog = Co // G
    wk = w.reshape(G, Cog, Cg * Kf)
    view = _patch_cols_view(x, kernel, out)
    acc = None if gy is None else np.zeros((G, Cg * Kf, Cog), dtype=y.dtype)
    for n0, n1, _ in _chunks(N, 1, 0, (C * Kf + Co) * Of * y.itemsize):
        n = n1 - n0
        cols = _scratch("cols", (n, C) + tuple(kernel) + tuple(out), y.dtype)
        np.copyto(cols, view[n0:n1])
        cols2 = cols.reshape(n, G, Cg * Kf, Of)
        np.matmul(wk, cols2, out=y[n0:n1].reshape(n, G, Cog, Of))
        if acc is not None:
            part = _scratch("part", (n, G, Cg * Kf, Cog), y.dtype)
            np.matmul(cols2, gy[n0:n1].reshape(n, G, Cog, Of).transpose(0, 1, 3, 2), out=part)
            for i in range(n):
                acc += part[i]
    if acc is not None:
        gw.reshape(G, Cog, Cg * Kf)[...] = acc.transpose(0, 2, 1)


def _use_compiled_depthwise(kernel, stride, dilation, dtype) -> bool:
    """Whether a depthwise layer (multiplier 1) takes the compiled kernels: numba available,
    1-d or 2-d, unit stride and dilation, float32 or float64."""
    return (
        len(kernel) in (1, 2)
        and all(s == 1 for s in stride)
        and all(d == 1 for d in dilation)
        and dtype in (np.float32, np.float64)
        and _compiled.available()
    )


def _planes(a: np.ndarray, lead: int = 2) -> np.ndarray:
    """C-contiguous view (or copy) of ``a`` with 2 dims after its ``lead`` leading ones: a
    1-d ``(..., L)`` becomes ``(..., 1, L)`` (``H = 1``), a 2-d one stays as it is."""
    if a.ndim == lead + 1:
        a = a.reshape(a.shape[:lead] + (1,) + a.shape[lead:])
    return np.ascontiguousarray(a)


def _pads_2d(lo) -> tuple[int, int]:
    """Leading paddings of :func:`_planes` arrays (``0`` for the inserted ``H = 1``)."""
    return (0,) * (2 - len(lo)) + tuple(lo)


def _compiled_depthwise_forward(x, w, b, y, lo) -> None:
    """Compiled depthwise forward (multiplier 1, unit stride and dilation) into the fresh
    ``y``: batch chunks on the worker threads."""
    N, C = x.shape[:2]
    x4, y4 = _planes(x), _planes(y)  # y is C-contiguous: a view
    wk = _planes(w.reshape((C,) + w.shape[2:]), lead=1)
    lo2 = _pads_2d(lo)
    per_sample = C * (x4[0, 0].size + y4[0, 0].size) * y.itemsize

    def work(chunk: tuple[int, int]) -> None:
        n0, n1 = chunk
        _compiled.depthwise_forward(x4[n0:n1], wk, b, y4[n0:n1], lo2)

    chunks = [(n0, n1) for n0, n1, _ in _chunks(N, 1, 0, per_sample, _ELEMENTWISE_CHUNK_BYTES)]
    _map_chunks(work, chunks)


def _compiled_depthwise_weight_grad(x, gy, gw, lo) -> None:
    """Compiled depthwise weight gradient (multiplier 1, unit stride and dilation): channel
    chunks on the worker threads, each reducing over the whole batch (so the result does
    not depend on the number of threads)."""
    C = x.shape[1]
    x4, g4 = _planes(x), _planes(gy)
    gwk = _planes(gw.reshape((C,) + gw.shape[2:]), lead=1)  # gw is C-contiguous: a view
    lo2 = _pads_2d(lo)
    step = -(-C // (4 * _num_threads))

    def work(chunk: tuple[int, int]) -> None:
        c0, c1 = chunk
        _compiled.depthwise_weight_grad(x4, g4, gwk[c0:c1], c0, lo2)

    _map_chunks(work, [(c0, min(C, c0 + step)) for c0 in range(0, C, step)])


def _depthwise_forward(x, w, y, plan: _FlatPlan, lo, bc) -> None:
    """Depthwise forward (multiplier 1): per batch chunk, the im2col columns ``(C, K, M)``
    and one channel-batched product ``w (C, 1, K) @ cols`` (fills ``y``).

    The tiny per-channel GEMMs read each column once; this measured ~1.25x faster than
    per-tap multiply-adds over the flat buffer (which read and write an accumulator per tap).
    """
    N, C = x.shape[:2]
    Kf = plan.Kf
    wk = w.reshape(C, 1, Kf)
    if plan.perm is not None:
        wk = wk[:, :, plan.perm]
    wk = np.ascontiguousarray(wk)
    P, R = len(plan.phases), plan.R
    per_sample = (P + Kf + 1) * C * R * y.itemsize

    def work(chunk: tuple[int, int]) -> None:
        n0, n1 = chunk
        n = n1 - n0
        buf = plan.buffer("buf", C, n, x.dtype)
        plan.fill(buf, _cm(x[n0:n1]), lo)
        cols = plan.im2col("cols", buf, C, n, (0, plan.out[0]))
        span = cols.shape[-1]
        acc = _scratch("acc", (C, 1, n * span), x.dtype)
        np.matmul(wk, cols.reshape(C, Kf, n * span), out=acc)
        _store(_cm(y[n0:n1]), plan.crop(acc.reshape(C, n, span)), bc)

    chunks = [(n0, n1) for n0, n1, _ in _chunks(N, 1, 0, per_sample, _ELEMENTWISE_CHUNK_BYTES)]
    _map_chunks(work, chunks)


def _depthwise_forward_rows(x, w, y, plan: _FlatPlan, lo, bc) -> None:
    """Depthwise 2-d forward with one phase (multiplier 1), splitting taps by kernel row.

    Per batch chunk, only the ``K1`` column taps are copied, into ``cols (C, K1, width)``
    covering the extended positions of every kernel row; one channel-batched GEMM
    ``w (C, K0, K1) @ cols`` gives the partial sums ``z (C, K0, width)`` of every kernel row,
    and the ``K0`` rows are then added, each shifted by its row offset, straight into ``y``.
    Copying ``K1`` instead of ``K0*K1`` column rows measured ~1.05-1.15x faster than
    :func:`_depthwise_forward` for 3x3 kernels and ~1.5x for 5x5 kernels. Only valid
    positions of ``z`` are read, so junk cells never reach ``y``.
    """
    N, C = x.shape[:2]
    ((_, (K0, K1), first, (s0, s1)),) = plan.groups
    wk = np.ascontiguousarray(w.reshape(C, K0, K1))
    O0, O1 = plan.out
    R, Qr = plan.R, plan.Qr
    it = y.itemsize
    per_sample = (1 + 2 * K1 + K0) * C * R * it

    def work(chunk: tuple[int, int]) -> None:
        n0, n1 = chunk
        n = n1 - n0
        buf = plan.buffer("buf", C, n, x.dtype)
        plan.fill(buf, _cm(x[n0:n1]), lo)
        width = (n - 1) * R + O0 * Qr + (K0 - 1) * s0
        cols = _scratch("cols", (C, K1, width), x.dtype)
        np.copyto(cols, as_strided(buf[0, first:], (C, K1, width), (n * R * it, s1 * it, it)))
        z = _scratch("acc", (C, K0, width), x.dtype)
        np.matmul(wk, cols, out=z)
        shape, strides = (C, n, O0, O1), (K0 * width * it, R * it, Qr * it, it)
        rows = [as_strided(z[0, a, a * s0 :], shape, strides) for a in range(K0)]
        _store_sum(_cm(y[n0:n1]), rows, bc)

    chunks = [(n0, n1) for n0, n1, _ in _chunks(N, 1, 0, per_sample, _ELEMENTWISE_CHUNK_BYTES)]
    _map_chunks(work, chunks)


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
    array([[[3., 6., 6., 6., 5.]]])
    """
    rdt, cdt = _dtypes(gy, w)
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
    Kf = prod(kernel)
    shape = (N, C) + x_spatial
    if prod(shape) == 0 or prod(out) == 0 or Cog * Kf == 0:
        return np.zeros(shape, dtype=rdt)

    if _is_pointwise(kernel, stride, padding) and out == x_spatial:
        gx = np.empty(shape, dtype=cdt)
        wt = w.reshape(G, Cog, Cg).transpose(0, 2, 1)
        np.matmul(wt, gy.reshape(N, G, Cog, -1), out=gx.reshape(N, G, Cg, -1))
        return gx.astype(rdt, copy=False)

    depthwise = _is_depthwise(C, Cg, G)
    patchify = not depthwise and _is_patchify(kernel, stride, padding, dilation, out, x_spatial)
    w_finite = _all_finite(w)
    pads_f = _flipped_padding(out, x_spatial, kernel, stride, padding, dilation)
    if not patchify and pads_f is not None and w_finite:
        if len(kernel) == 2:
            gx = conv_forward(gy, _flip_transpose(w, G), stride, pads_f, dilation, G)
            return gx.astype(rdt, copy=False)
        run = _compiled_winograd_forward(gy, kernel, C, x_spatial, stride, pads_f, dilation, G)
        if run is not None:
            gx = np.empty(shape, dtype=cdt)
            run(_flip_transpose(w, G), np.zeros(C, cdt), gx)
            return gx.astype(rdt, copy=False)

    if patchify:  # zeros only for a border that no window covers
        covered = all(o * k == s for o, k, s in zip(out, kernel, x_spatial))
        gx = (np.empty if covered else np.zeros)(shape, dtype=cdt)
        _patch_input_grad(gy, w, gx, G)
        return gx.astype(rdt, copy=False)

    gx = np.zeros(shape, dtype=cdt)

    lo = tuple(p[0] for p in padding)
    if depthwise and Co == C and w_finite and _use_compiled_depthwise(kernel, stride,
                                                                      dilation, cdt):
        # the forward of gy with the flipped kernel (finite weights only: it also multiplies
        # the zeros around gy, which an inf weight would turn into nan)
        lo_f = tuple(k - 1 - p for k, p in zip(kernel, lo))
        wf = np.flip(w, axis=tuple(range(2, w.ndim)))
        _compiled_depthwise_forward(gy, wf, np.zeros(C, cdt), gx, lo_f)
        return gx.astype(rdt, copy=False)
    plan = _flat_plan(tuple(out), tuple(kernel), tuple(stride), tuple(dilation))
    if depthwise:
        _depthwise_input_grad(gy, w, gx, plan, lo, w_finite)
        return gx.astype(rdt, copy=False)

    # rows ordered (tap, input channel), so that each tap is one contiguous block of cols
    wt = w.reshape(G, Cog, Cg, Kf).transpose(0, 3, 2, 1).reshape(G, Kf * Cg, Cog)
    it = gx.itemsize
    P, R = len(plan.phases), plan.R
    per_row = (C * Kf + Co) * plan.Qr * it
    per_sample = (P * C * R + (C * Kf + Co) * (R - out[0] * plan.Qr)) * it
    for n0, n1, blocks in _chunks(N, out[0], per_row, per_sample):
        n = n1 - n0
        # one block of whole grids: each phase's first tap is copied, not added, into the
        # unzeroed buffer (no zeroing pass, one read less) where it covers every cell
        copied = plan.first_taps if blocks == [(0, out[0])] else None
        buf = plan.buffer("buf", C, n, cdt, zero=copied is None)
        for i0, i1 in blocks:
            # whole grids when possible: every tap is then ONE contiguous add over the chunk
            full = (i0, i1) == (0, out[0])
            ge = plan.extend("gy", _cm(gy[n0:n1]), (i0, i1), full)  # (Co, n, L)
            L = ge.shape[-1]
            cols = _scratch("cols", (G, Kf * Cg, n * L), cdt)
            np.matmul(wt, ge.reshape(G, Cog, n * L), out=cols)
            if not w_finite:
                plan.zero_junk(cols.reshape(G, Kf * Cg, n, L))
            cols = cols.reshape(G, Kf, Cg * n, L)
            for t, (i, off) in enumerate(plan.taps):
                dst = plan.rows(buf, i, G, Cg * n, off + i0 * plan.Qr, L)
                if copied is not None and copied[i] == t:
                    np.copyto(dst, cols[:, t])
                else:
                    dst += cols[:, t]
        plan.gather(buf, _cm(gx[n0:n1]), lo)
    return gx.astype(rdt, copy=False)


def _patch_input_grad(gy, w, gx, G: int) -> None:
    """Input gradient with non-overlapping windows (a border no window covers keeps its
    zeros).

    Per batch chunk, one group-batched GEMM ``gy^T (O, Cog) @ W (Cog, Cg*K)`` puts the
    last kernel dim innermost, so each run of ``K_last`` values is contiguous in both the
    GEMM result and ``gx``: viewed as one opaque element, the copy into the windows moves
    ``K_last``-value packets (e.g. 8 bytes for a 2-wide float32 kernel) instead of single
    values at a stride of ``K_last``. On the unet up-sampling layer (k2 s2) this measured
    2.4x faster than copying single values from a ``W^T @ gy`` product.
    """
    N, C = gx.shape[:2]
    Co, Cg = w.shape[:2]
    kernel, out = w.shape[2:], gy.shape[2:]
    nd, Kf, Of = len(kernel), prod(kernel), prod(out)
    Cog = Co // G
    wk = w.reshape(G, Cog, Cg * Kf)
    packet = np.dtype((np.void, kernel[-1] * gx.itemsize))
    covered = gx[_ALL2 + tuple(slice(0, o * k) for o, k in zip(out, kernel))]
    windows = covered.reshape((N, G, Cg) + tuple(v for ok in zip(out, kernel) for v in ok))
    windows = windows.view(packet)[..., 0]  # (N, G, Cg, O0, K0, ..., O_last) packets
    # GEMM result axes (n, G, O..., Cg, K[:-1]...) -> the windows' order
    perm = [0, 1, 2 + nd]
    for i in range(nd - 1):
        perm += [2 + i, 3 + nd + i]
    perm.append(1 + nd)
    for n0, n1, _ in _chunks(N, 1, 0, (C * Kf + Co) * Of * gx.itemsize):
        n = n1 - n0
        t = _scratch("cols", (n, G, Of, Cg * Kf), gx.dtype)
        np.matmul(gy[n0:n1].reshape(n, G, Cog, Of).transpose(0, 1, 3, 2), wk, out=t)
        src = t.reshape((n, G) + tuple(out) + (Cg,) + tuple(kernel)).view(packet)[..., 0]
        np.copyto(windows[n0:n1], src.transpose(perm))


def _flipped_padding(out, x_spatial, kernel, stride, padding, dilation) -> Pads | None:
    """Padding under which the unit-stride input gradient is a plain forward convolution.

    With unit stride, ``gx[i] = sum_k w[k] * gy[i + lo - k*d]`` is the cross-correlation of
    ``gy`` with the flipped kernel, padded by ``d*(K-1) - lo`` below and ``S - O + lo``
    above. Returns those ``(lo, hi)`` pairs, or ``None`` when the stride is not 1 or a pad
    would be negative.
    """
    pads = []
    for o, L, k, s, (lo, _), d in zip(out, x_spatial, kernel, stride, padding, dilation):
        p_lo, p_hi = d * (k - 1) - lo, L - o + lo
        if s != 1 or p_lo < 0 or p_hi < 0:
            return None
        pads.append((p_lo, p_hi))
    return tuple(pads)


def _flip_transpose(w: np.ndarray, G: int) -> np.ndarray:
    """Weights of the adjoint convolution: ``(C_out, Cg, *K) -> (C_in, Cog, *K)`` per group,
    with every spatial axis flipped."""
    Co, Cg = w.shape[:2]
    kernel = w.shape[2:]
    wf = w[_ALL2 + (slice(None, None, -1),) * len(kernel)]
    wf = wf.reshape((G, Co // G, Cg) + kernel).swapaxes(1, 2)
    return np.ascontiguousarray(wf).reshape((G * Cg, Co // G) + kernel)


def _depthwise_input_grad(gy, w, gx, plan: _FlatPlan, lo, w_finite: bool) -> None:
    """Depthwise input gradient: per-tap products added to whole flat buffers."""
    N, C = gx.shape[:2]
    Co = gy.shape[1]
    m = Co // C
    wk = w.reshape(C, m, -1)
    P, R = len(plan.phases), plan.R
    per_sample = (P * C + Co + C) * R * gx.itemsize

    def work(chunk: tuple[int, int]) -> None:
        n0, n1 = chunk
        n = n1 - n0
        M = n * R
        buf = plan.buffer("buf", C, n, gx.dtype)
        ge = plan.extend("gy", _cm(gy[n0:n1]), (0, plan.out[0]), True).reshape(C, m, M)
        tmp = _scratch("tmp", (C, M), gx.dtype)
        for t, (i, off) in enumerate(plan.taps):
            np.einsum("cjl,cj->cl", ge, wk[:, :, t], out=tmp)
            if not w_finite:
                plan.zero_junk(tmp.reshape(C, n, R))
            buf[i, off : off + C * M] += tmp.reshape(-1)
        plan.gather(buf, _cm(gx[n0:n1]), lo)

    chunks = [(n0, n1) for n0, n1, _ in _chunks(N, 1, 0, per_sample, _ELEMENTWISE_CHUNK_BYTES)]
    _map_chunks(work, chunks)


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
    array([[[ 6., 10., 10.]]])
    """
    rdt, cdt = _dtypes(x, gy)
    x = np.asarray(x, dtype=cdt)
    gy = np.asarray(gy, dtype=cdt)
    kernel = tuple(int(k) for k in kernel)
    N, C = x.shape[:2]
    Co = gy.shape[1]
    out = gy.shape[2:]
    G = groups
    Cg = C // G
    gw = np.zeros((Co, Cg) + kernel, dtype=cdt)
    if gw.size == 0 or N == 0 or prod(out) == 0:
        return gw.astype(rdt, copy=False)
    gw_fast = _winograd_any_weight_grad(x, gy, kernel, stride, padding, dilation, G)
    if gw_fast is not None:
        return gw_fast.astype(rdt, copy=False)

    depthwise = _is_depthwise(C, Cg, G)
    if not depthwise and _is_patchify(kernel, stride, padding, dilation, out, x.shape[2:]):
        _patch_weight_grad(x, gy, gw, G)
        return gw.astype(rdt, copy=False)

    lo = tuple(p[0] for p in padding)
    if depthwise and Co == C and _use_compiled_depthwise(kernel, stride, dilation, cdt):
        _compiled_depthwise_weight_grad(x, gy, gw, lo)
        return gw.astype(rdt, copy=False)
    plan = _flat_plan(tuple(out), tuple(kernel), tuple(stride), tuple(dilation))
    if depthwise:
        _depthwise_weight_grad(x, gy, gw, plan, lo, stride, dilation)
        return gw.astype(rdt, copy=False)

    gwp = _im2col_weight_grad(x, gy, G, plan, lo, zero_junk=False)
    _finish_im2col_weight_grad(x, gy, gw, G, plan, lo, gwp)
    return gw.astype(rdt, copy=False)


def _finish_im2col_weight_grad(x, gy, gw, G: int, plan: _FlatPlan, lo, gwp) -> None:
    """``gw`` from the result ``gwp (G, Cg*Kf, Cog)`` of an im2col pass without junk zeroing:
    computed again with the junk columns zeroed if it is not finite (junk cells may have
    multiplied an inf/nan of ``x`` by 0), then the taps put back from ``plan.perm`` order."""
    if not _all_finite(gwp):
        gwp = _im2col_weight_grad(x, gy, G, plan, lo, zero_junk=True)
    Co, Cg, Kf = gw.shape[0], gw.shape[1], plan.Kf
    gwt = gwp.transpose(0, 2, 1).reshape(Co, Cg, Kf)
    if plan.perm is None:
        gw.reshape(Co, Cg, Kf)[...] = gwt
    else:
        gw.reshape(Co, Cg, Kf)[:, :, plan.perm] = gwt


def conv_forward_weight_grad(
    x: np.ndarray,
    w: np.ndarray,
    gy: np.ndarray,
    stride: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
    groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``conv_forward(x, w)`` and ``conv_weight_grad(x, gy, w.shape[2:])`` together: the
    input and weight gradients of a transposed convolution, whose ``x`` is the output
    gradient and ``gy`` the input.

    Both products read the same columns of ``x``. Where both would build them the same way
    -- im2col + GEMM, or the transpose copy of non-overlapping windows (with outputs of at
    least :data:`_SHARED_PATCH_MIN_OUT` positions) -- each batch chunk's columns are built
    once and feed both GEMMs; everywhere else (and for other dtypes) this is the two calls.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, *S)
        Input of the convolution.
    w : ndarray, shape (C_out, C_in // groups, *K)
        Weights.
    gy : ndarray, shape (N, C_out, *O)
        Output gradient, ``O`` exactly :func:`conv_output_shape`.
    stride, padding, dilation, groups
        As in :func:`conv_forward`.

    Returns
    -------
    tuple of ndarray
        ``(y, gw)``: ``y (N, C_out, *O)`` as :func:`conv_forward` gives it (no bias) and
        ``gw`` (shape of ``w``) as :func:`conv_weight_grad` does. On the im2col path both
        are bit-identical to the separate calls (same chunks, same GEMMs, same order); the
        shared windows sum the weight gradient per sample (a different rounding).

    Examples
    --------
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> w = np.array([[[1.0, 0.0, -1.0]]])
    >>> y, gw = conv_forward_weight_grad(x, w, np.ones((1, 1, 5)), (1,), ((1, 1),), (1,), 1)
    >>> y, gw
    (array([[[-1., -2., -2., -2.,  3.]]]), array([[[ 6., 10., 10.]]]))
    """
    kernel = tuple(w.shape[2:])
    route = _shared_columns_route(x, w, gy, stride, padding, dilation, groups)
    if route is None:
        return (conv_forward(x, w, stride, padding, dilation, groups),
                conv_weight_grad(x, gy, kernel, stride, padding, dilation, groups))
    y = np.empty((x.shape[0], w.shape[0]) + tuple(gy.shape[2:]), dtype=x.dtype)
    gw = np.empty(w.shape, dtype=x.dtype)
    if route == "patch":
        _patch_forward(x, w, y, groups, gy=gy, gw=gw)
        return y, gw
    lo = tuple(p[0] for p in padding)
    plan = _flat_plan(tuple(gy.shape[2:]), kernel, tuple(stride), tuple(dilation))
    gwp = _im2col_products(x, plan, lo, groups, w=w, y=y, gy=gy)
    _finish_im2col_weight_grad(x, gy, gw, groups, plan, lo, gwp)
    return y, gw


_SHARED_PATCH_MIN_OUT = 64
"""Fewest output positions per sample for which :func:`conv_forward_weight_grad` shares the
windows' columns. Its weight gradient is then one GEMM per sample (the forward's column
layout), which alone measured 0.89x the time of :func:`_patch_weight_grad` for 1024
positions but 1.3x for 64; with the shared copy, the pair of products measured 0.70-0.83x
the two calls' time for the backward of k2/k4 up-samplings with 256-4096 positions and
0.91-0.99x with 64 (float32, 2 threads); fewer were not measured."""


def _shared_columns_route(x, w, gy, stride, padding, dilation, G: int) -> str | None:
    """``"patch"``, ``"im2col"`` or ``None``: how :func:`conv_forward_weight_grad` can share
    the columns of ``x`` -- only where :func:`conv_forward` and :func:`conv_weight_grad`
    would both build them that way (float32/float64 operands of one dtype, ``gy`` of the
    exact output size, no 1x1, depthwise or Winograd layer, no split forward)."""
    kernel = w.shape[2:]
    dt = x.dtype
    if dt not in (np.float32, np.float64) or w.dtype != dt or gy.dtype != dt:
        return None
    out = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    C, Co, Cg = x.shape[1], w.shape[0], w.shape[1]
    if (tuple(gy.shape[2:]) != out or gy.shape[:2] != (x.shape[0], Co) or min(out) < 1
            or x.shape[0] == 0 or Cg * prod(kernel) == 0 or Co == 0
            or _is_pointwise(kernel, stride, padding) or _is_depthwise(C, Cg, G)):
        return None
    if _is_patchify(kernel, stride, padding, dilation, out, x.shape[2:]):
        return "patch" if prod(out) >= _SHARED_PATCH_MIN_OUT else None
    if (_winograd_layer(x, kernel, stride, padding, G)
            or _use_winograd3d(x, kernel, Co, out, stride, padding, dilation, G)
            or _use_winograd1d(x, kernel, Co, out, stride, padding, dilation, G)):
        return None
    plan = _flat_plan(tuple(out), tuple(kernel), tuple(stride), tuple(dilation))
    if _use_split_forward(plan, C, Co, G, kernel[0], x.itemsize):
        return None
    return "im2col"


def _winograd_any_weight_grad(x, gy, kernel, stride, padding, dilation, G: int):
    """The weight gradient by the 2-d, 3-d or 1-d Winograd path that serves the layer, or
    ``None`` where none does or its result is not finite.

    ``x`` and ``gy`` are not checked for ``inf``/``nan`` beforehand (two passes over the
    largest arrays of the backward, about 5% of the resnet 3x3 step): the transforms spread
    a non-finite value over its tiles and the GEMMs over its channels, so it always reaches
    the small result (``inf * 0`` is ``nan`` in BLAS too), which is checked instead. The
    caller then computes it again by im2col + GEMM, which puts each ``inf``/``nan`` where
    PyTorch does (as it does for finite data whose gradient overflows).
    """
    out = tuple(gy.shape[2:])
    exact = out == conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    Co = gy.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        if _use_winograd_weight_grad(x, gy, kernel, stride, padding, dilation, G):
            gw = winograd_weight_grad(x, gy, padding, dilation=dilation)
        elif exact and _use_winograd3d(x, kernel, Co, out, stride, padding, dilation, G):
            gw = _winograd3d_weight_grad(x, gy, kernel[0], padding)
        elif exact and _use_winograd1d(x, kernel, Co, out, stride, padding, dilation, G):
            gw = _winograd1d_weight_grad(x, gy, kernel[0], padding[0][0])
        else:
            return None
    return gw if _all_finite(gw) else None


def _im2col_weight_grad(x, gy, G: int, plan: _FlatPlan, lo, zero_junk: bool):
    """``gwp (G, Cg*Kf, Cog)`` (taps in ``plan.perm`` order) by im2col + GEMM
    (:func:`_im2col_products`); ``zero_junk`` zeroes the junk columns of ``cols`` first,
    which only matters for an ``inf``/``nan`` in ``x`` (elsewhere they meet the zeros of the
    extended ``gy``)."""
    return _im2col_products(x, plan, lo, G, gy=gy, zero_junk=zero_junk)


def _im2col_products(x, plan: _FlatPlan, lo, G: int, w=None, y=None, bc=None, gy=None,
                     zero_junk: bool = False):
    """The im2col + GEMM loop: per batch chunk and block of output rows, the columns of
    ``x`` feed the forward GEMM ``W @ cols`` (with ``w``: cropped into ``y``, plus the bias
    ``bc``) and/or the weight-gradient GEMM ``cols @ gy_e^T`` (with ``gy``: the sum over
    chunks in order is returned as ``gwp (G, Cg*Kf, Cog)``, taps in ``plan.perm`` order).
    Forward alone, weight gradient alone and both (:func:`conv_forward_weight_grad`) run
    the same chunks, GEMMs and order, so each result is the same bit for bit."""
    N, C = x.shape[:2]
    Cg, Kf = C // G, plan.Kf
    Co = w.shape[0] if w is not None else gy.shape[1]
    Cog = Co // G
    if w is not None:
        wk = w.reshape(Co, Cg, Kf)
        if plan.perm is not None:
            wk = wk[:, :, plan.perm]
        wk = wk.reshape(G, Cog, Cg * Kf)
    gwp = None if gy is None else np.zeros((G, Cg * Kf, Cog), dtype=x.dtype)
    # the forward's product takes the slot the gradients use for gy when it has it alone
    y_slot = "gy" if gy is None else "acc"
    it = x.itemsize
    per_row = (C * Kf + Co) * plan.Qr * it
    per_sample = len(plan.phases) * C * plan.R * it
    for n0, n1, blocks in _chunks(N, plan.out[0], per_row, per_sample):
        n = n1 - n0
        buf = plan.buffer("buf", C, n, x.dtype)
        plan.fill(buf, _cm(x[n0:n1]), lo)
        for rows in blocks:
            cols = plan.im2col("cols", buf, C, n, rows)
            if zero_junk:
                plan.zero_junk(cols)
            m = n * cols.shape[-1]
            cols2 = cols.reshape(G, Cg * Kf, m)
            if w is not None:
                yt = _scratch(y_slot, (G, Cog, m), x.dtype)
                np.matmul(wk, cols2, out=yt)
                _store_crop(y[n0:n1, :, rows[0] : rows[1]], yt.reshape(Co, n, -1), plan, bc)
            if gy is not None:
                ge = plan.extend("gy", _cm(gy[n0:n1]), rows, False)  # (Co, n, span)
                gwp += _matmul_nt("part", cols2, ge.reshape(G, Cog, m))
    return gwp


def _patch_weight_grad(x, gy, gw, G: int) -> None:
    """Weight gradient with non-overlapping windows (1x1 included): per batch chunk, the
    columns are one transpose copy of ``x`` and ``gy`` is copied channel-major; then
    ``cols @ gy^T -> (G, Cg*K, Cog)``, summed in chunk order."""
    N, C = x.shape[:2]
    Co, Cg = gw.shape[:2]
    kernel, out = gw.shape[2:], gy.shape[2:]
    Kf, Of = prod(kernel), prod(out)
    Cog = Co // G
    view = _patch_cols_view(x, kernel, out)
    cdt = gw.dtype
    acc = np.zeros((G, Cg * Kf, Cog), dtype=cdt)
    for n0, n1, _ in _chunks(N, 1, 0, (C * Kf + Co) * Of * gw.itemsize):
        n = n1 - n0
        cols = _scratch("cols", (C,) + tuple(kernel) + (n,) + tuple(out), cdt)
        gt = _scratch("gy", (Co, n) + tuple(out), cdt)
        np.copyto(cols, np.moveaxis(view[n0:n1], 0, 1 + len(kernel)))
        np.copyto(gt, _cm(gy[n0:n1]))
        m = n * Of
        acc += _matmul_nt("part", cols.reshape(G, Cg * Kf, m), gt.reshape(G, Cog, m))
    gw.reshape(G, Cog, Cg * Kf)[...] = acc.transpose(0, 2, 1)


def _depthwise_weight_grad(x, gy, gw, plan: _FlatPlan, lo, stride, dilation) -> None:
    """Depthwise weight gradient: one reduction over batch and positions per tap.

    Uses the flat rows when the chunk of ``x`` is finite (junk positions then contribute
    exact zeros); otherwise exact strided windows, so ``inf``/``nan`` reach only the taps
    that really read them. Per-chunk partial sums are added in chunk order.
    """
    N, C = x.shape[:2]
    Co = gy.shape[1]
    m = Co // C
    out = gy.shape[2:]
    kernel = gw.shape[2:]
    P, R = len(plan.phases), plan.R
    per_sample = (P * C + Co) * R * gw.itemsize
    sp = "".join(chr(ord("p") + i) for i in range(len(out)))
    ext = _needed_extent(out, kernel, stride, dilation)

    def work(chunk: tuple[int, int]) -> np.ndarray:
        n0, n1 = chunk
        n = n1 - n0
        part = np.empty((C, m, len(plan.taps)), dtype=gw.dtype)
        if _all_finite(x[n0:n1]):
            M = n * R
            buf = plan.buffer("buf", C, n, gw.dtype)
            plan.fill(buf, _cm(x[n0:n1]), lo)
            ge = plan.extend("gy", _cm(gy[n0:n1]), (0, out[0]), True).reshape(C, m, M)
            for t, (i, off) in enumerate(plan.taps):  # channel-batched dot products (BLAS)
                src = buf[i, off : off + C * M].reshape(C, M, 1)
                np.matmul(ge, src, out=part[:, :, t : t + 1])
            return part
        # exact strided windows over a zero-padded copy
        xp = _scratch("xp", (C, n) + ext, gw.dtype, zero=True)
        src, dst = zip(*(_overlap(L, p, e) for L, p, e in zip(x.shape[2:], lo, ext)))
        xp[_ALL2 + dst] = _cm(x[n0:n1])[_ALL2 + src]
        g = _cm(gy[n0:n1]).reshape((C, m, n) + tuple(out))
        for t, k in enumerate(itertools.product(*(range(kk) for kk in kernel))):
            sl = tuple(
                slice(kk * d, kk * d + (o - 1) * s + 1, s)
                for kk, o, s, d in zip(k, out, stride, dilation)
            )
            np.einsum(f"cjn{sp},cn{sp}->cj", g, xp[_ALL2 + sl], out=part[:, :, t])
        return part

    chunks = [(n0, n1) for n0, n1, _ in _chunks(N, 1, 0, per_sample, _ELEMENTWISE_CHUNK_BYTES)]
    gwm = gw.reshape(C, m, -1)
    for part in _map_chunks(work, chunks):
        gwm += part
