"""Pure-array pooling kernels (NumPy in, NumPy out; no Tensor, no autograd).

Every function works on batched arrays of shape ``(N, C, *S)`` with one to three
spatial dimensions through a single N-d code path. Window reductions loop over the
kernel taps only; each tap is a strided view (a stepped basic slice) of the padded
input, so batch, channel and output positions are all handled by vectorised NumPy
operations.

The semantics follow PyTorch's CPU kernels exactly:

* output sizes use PyTorch's ``pooling_output_shape`` rule, including the
  ``ceil_mode`` correction that drops a last window starting in the right padding;
* max pooling pads with ``-inf``; indices are flat offsets into each ``(n, c)``
  input plane; ties keep the first maximum in window (row-major) order and a NaN
  in the window wins (the last NaN, as PyTorch's ``val > max || isnan(val)``);
* average pooling clips the divisor window at the padded boundary before
  ``count_include_pad`` is applied, and outputs 0 for windows with no input element;
* adaptive pooling uses ``start = floor(i * L / out)``, ``end = ceil((i + 1) * L / out)``.

Backward functions are the exact adjoints of the forward maps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = [
    "adaptive_avg_pool_backward",
    "adaptive_avg_pool_forward",
    "adaptive_max_pool_forward",
    "avg_pool_backward",
    "avg_pool_forward",
    "check_pool_args",
    "max_pool_backward",
    "max_pool_forward",
    "pool_output_size",
]

IntOrTuple = int | Sequence[int]

# PyTorch's dimension labels in its error messages (kT/kH/kW, dT/dH/dW, ...).
_DIM_LABELS = {1: ("W",), 2: ("H", "W"), 3: ("T", "H", "W")}


# --------------------------------------------------------------------------- helpers


def _ntuple(value: IntOrTuple, nd: int, name: str) -> tuple[int, ...]:
    """Expand an int to an ``nd``-tuple, or validate the length of a sequence."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    out = tuple(int(v) for v in value)
    if len(out) == 1:
        return out * nd
    if len(out) != nd:
        raise ValueError(f"{name} must be an int or a tuple of {nd} ints, got {value!r}")
    return out


def _spatial_ndim(shape: Sequence[int]) -> int:
    nd = len(shape) - 2
    if nd not in (1, 2, 3):
        raise ValueError(
            f"expected a batched input of shape (N, C, *S) with 1-3 spatial dims, "
            f"got shape {tuple(shape)}"
        )
    return nd


def _labelled(prefix: str, values: Sequence[int]) -> str:
    """Format per-dimension values the way PyTorch does, e.g. ``kH: 0 kW: 0``."""
    labels = _DIM_LABELS[len(values)]
    return " ".join(f"{prefix}{lab}: {v}" for lab, v in zip(labels, values))


def _lowest(dtype: np.dtype) -> float | int:
    """Padding value of max pooling: ``-inf`` for floats, the minimum for integers."""
    if np.issubdtype(dtype, np.floating):
        return -np.inf
    return np.iinfo(dtype).min


def _broadcast_spatial(per_dim: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Reshape 1-d per-dimension arrays so that they broadcast over ``*S``."""
    nd = len(per_dim)
    return [
        np.asarray(a).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1)) for d, a in enumerate(per_dim)
    ]


def _ravel_spatial(coords: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """Flat row-major index of broadcast per-dimension coordinates."""
    flat = np.zeros((1,) * len(sizes), dtype=np.int64)
    for c, n in zip(_broadcast_spatial(coords), sizes):
        flat = flat * n + c
    return flat


def _pad_for_windows(
    x: np.ndarray,
    padding: Sequence[int],
    out_sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    fill: float | int,
) -> np.ndarray:
    """Pad the spatial dims so that every tap of every window is addressable.

    The left pad is ``padding``; the right pad is exactly what the last window
    needs (it can be smaller than ``padding``, or larger in ``ceil_mode``).
    """
    widths = [(0, 0), (0, 0)]
    for L, p, o, k, s, d in zip(x.shape[2:], padding, out_sizes, kernel, stride, dilation):
        right = max(0, (o - 1) * s + (k - 1) * d + 1 - (L + p))
        widths.append((p, right))
    if all(w == (0, 0) for w in widths):
        return x
    return np.pad(x, widths, mode="constant", constant_values=fill)


def _tap_slices(
    tap: Sequence[int],
    out_sizes: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> tuple[slice, ...]:
    """Strided slice of the padded input holding tap ``tap`` of every window."""
    return (Ellipsis,) + tuple(
        slice(j * d, j * d + (o - 1) * s + 1, s)
        for j, o, s, d in zip(tap, out_sizes, stride, dilation)
    )


def _output_sizes(
    in_sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool,
) -> tuple[int, ...]:
    return tuple(
        pool_output_size(L, k, s, p, d, ceil_mode)
        for L, k, s, p, d in zip(in_sizes, kernel, stride, padding, dilation)
    )


def _adaptive_bounds(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows: ``[floor(i*L/out), ceil((i+1)*L/out))``."""
    i = np.arange(out_size, dtype=np.int64)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    return start, end


def _adaptive_output_size(
    in_sizes: Sequence[int], output_size: IntOrTuple | Sequence[int | None]
) -> tuple[int, ...]:
    nd = len(in_sizes)
    if isinstance(output_size, (int, np.integer)):
        sizes: Sequence[int | None] = (int(output_size),) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) == 1:
            sizes = sizes * nd
    if len(sizes) != nd:
        raise ValueError(
            f"output_size must be an int or a tuple of {nd} values, got {output_size!r}"
        )
    out = tuple(L if o is None else int(o) for L, o in zip(in_sizes, sizes))
    if any(o < 0 for o in out):
        raise RuntimeError(f"adaptive pooling: output_size must be non-negative, got {out}")
    if any(L <= 0 for L in in_sizes) and any(o > 0 for o in out):
        raise RuntimeError(
            f"adaptive pooling: expected input to have non-zero size for non-batch "
            f"dimensions, but input has spatial sizes {tuple(in_sizes)}"
        )
    return out


def _box_sum_matrix(in_size: int, out_size: int, dtype: np.dtype) -> np.ndarray:
    """``(out, in)`` 0/1 matrix whose row ``i`` selects adaptive window ``i``."""
    start, end = _adaptive_bounds(in_size, out_size)
    pos = np.arange(in_size)
    return ((pos >= start[:, None]) & (pos < end[:, None])).astype(dtype)


def _apply_along(a: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Contract ``a`` along ``axis`` with ``matrix`` of shape ``(new, old)``."""
    moved = np.moveaxis(a, axis, -1)
    return np.moveaxis(moved @ matrix.T, -1, axis)


def _adaptive_counts(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> np.ndarray:
    """Number of elements in every adaptive window, shaped ``out_sizes``."""
    count = np.ones((1,) * len(in_sizes), dtype=np.int64)
    per_dim = []
    for L, o in zip(in_sizes, out_sizes):
        start, end = _adaptive_bounds(L, o)
        per_dim.append(end - start)
    for c in _broadcast_spatial(per_dim):
        count = count * c
    return count


def _float_dtype(dtype: np.dtype) -> np.dtype:
    """Computation dtype for averaging: floats keep theirs, others use float64."""
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


# --------------------------------------------------------------------------- checks


def pool_output_size(L: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of one pooled dimension, with PyTorch's rule.

    Parameters
    ----------
    L, k, s, p, d : int
        Input length, kernel size, stride, padding (each side) and dilation.
    ceil_mode : bool
        Round the window count up instead of down. A last window that would start
        in the right padding is dropped, as in PyTorch.

    Returns
    -------
    int
        The output length (may be ``<= 0`` for invalid configurations; see
        :func:`check_pool_args`).

    Examples
    --------
    >>> pool_output_size(5, 2, 2, 0, 1, False), pool_output_size(5, 2, 2, 0, 1, True)
    (2, 3)
    >>> pool_output_size(5, 2, 2, 1, 1, True)  # the 4th window would start in padding
    3
    """
    if s == 0:
        raise RuntimeError("stride should not be zero")
    numerator = L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1  # floor division == PyTorch's div_rtn
    if ceil_mode and (out - 1) * s >= L + p:
        out -= 1
    return out


def check_pool_args(
    x_shape: Sequence[int],
    kernel: IntOrTuple,
    stride: IntOrTuple,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool = False,
    *,
    check_input_size: bool = False,
) -> None:
    """Validate pooling arguments the way PyTorch does, raising ``RuntimeError``.

    Checks in PyTorch's order: per dimension a non-zero stride, a non-negative pad
    and ``pad <= effective_kernel // 2``; then a positive kernel, stride and
    dilation; optionally input ``>=`` kernel (PyTorch's ``avg_pool3d`` only);
    ``pad <= kernel // 2``; and finally a positive output size. Messages are
    PyTorch's, including its view of 1-d pooling as 2-d pooling with a unit H dim.

    Parameters
    ----------
    x_shape : sequence of int
        Input shape ``(N, C, *S)``.
    kernel, stride, padding, dilation : int or tuple of int
        Per-spatial-dimension pooling parameters.
    ceil_mode : bool, optional
        Used for the output-size check (``ceil_mode`` can make a size valid).
    check_input_size : bool, optional
        Also require every spatial size to be at least the kernel size, as
        PyTorch's ``avg_pool3d`` does.

    Raises
    ------
    RuntimeError
        With PyTorch's message for the first violated condition.
    ValueError
        If the shape or the parameter tuples have the wrong length.

    Examples
    --------
    >>> check_pool_args((1, 3, 5, 5), (2, 2), (2, 2), (2, 2), (1, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    RuntimeError: pad should be at most half of effective kernel size, ...
    """
    nd = _spatial_ndim(x_shape)
    k = _ntuple(kernel, nd, "kernel_size")
    s = _ntuple(stride, nd, "stride")
    p = _ntuple(padding, nd, "padding")
    d = _ntuple(dilation, nd, "dilation")
    in_sizes = tuple(int(v) for v in x_shape[2:])

    def shown(values: tuple[int, ...], filler: int) -> tuple[int, ...]:
        # PyTorch pools 1-d inputs as 2-d ones with a unit H dim, and says so.
        return (filler, *values) if nd == 1 else values

    # PyTorch's pooling_output_shape, called once per dimension.
    for kv, sv, pv, dv in zip(k, s, p, d):
        if sv == 0:
            raise RuntimeError("stride should not be zero")
        if pv < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {pv}")
        effective = (kv - 1) * dv + 1
        if pv > int(effective / 2):  # C++ division truncates toward zero
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got "
                f"pad={pv}, kernel_size={kv} and dilation={dv}"
            )
    # PyTorch's pool{2,3}d_shape_check.
    if any(v <= 0 for v in k):
        raise RuntimeError(
            f"kernel size should be greater than zero, but got {_labelled('k', shown(k, 1))}"
        )
    if any(v < 0 for v in s):
        raise RuntimeError(
            f"stride should be greater than zero, but got {_labelled('d', shown(s, 1))}"
        )
    if any(v <= 0 for v in d):
        raise RuntimeError(
            "dilation should be greater than zero, but got " + _labelled("dilation", shown(d, 1))
        )
    if check_input_size and any(L < kv for L, kv in zip(in_sizes, k)):
        labels = _DIM_LABELS[nd]
        sizes = " ".join(f"{lab}: {v}" for lab, v in zip(labels, in_sizes))
        raise RuntimeError(f"input image ({sizes}) smaller than kernel size ({_labelled('k', k)})")
    if any(pv > kv // 2 for kv, pv in zip(k, p)):
        msg = "pad should be smaller than or equal to half of kernel size, but got "
        if nd == 3:
            msg += f"kT: {k[0]} kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} padH: {p[1]}"
        else:
            (kh, kw), (ph, pw) = shown(k, 1), shown(p, 0)
            msg += f"padW = {pw}, padH = {ph}, kW = {kw}, kH = {kh}"
        raise RuntimeError(msg)
    out_sizes = _output_sizes(in_sizes, k, s, p, d, ceil_mode)
    if any(o <= 0 for o in out_sizes):
        c = int(x_shape[1])
        given = "x".join(str(v) for v in (c, *shown(in_sizes, 1)))
        calc = "x".join(str(v) for v in (c, *shown(out_sizes, 1)))
        raise RuntimeError(
            f"Given input size: ({given}). Calculated output size: ({calc}). "
            f"Output size is too small"
        )


# --------------------------------------------------------------------------- max pooling


def max_pool_forward(
    x: np.ndarray,
    kernel: IntOrTuple,
    stride: IntOrTuple,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over 1-3 spatial dims, with PyTorch's indices.

    Parameters
    ----------
    x : ndarray
        Input of shape ``(N, C, *S)``.
    kernel, stride, padding, dilation : int or tuple of int
        Per-spatial-dimension parameters; padding is implicit ``-inf``.
    ceil_mode : bool
        PyTorch's ``ceil_mode``.

    Returns
    -------
    y : ndarray
        Pooled values, same dtype as ``x``.
    indices : ndarray of int64
        Flat index of each maximum into its ``(n, c)`` plane's flattened spatial
        dims (PyTorch's ``return_indices``). Ties pick the first maximum in window
        order; a NaN in the window is the maximum (the last NaN wins).

    Examples
    --------
    >>> x = np.array([[[1.0, 3.0, 3.0, 2.0, 5.0]]])
    >>> y, i = max_pool_forward(x, (2,), (2,), (0,), (1,), True)
    >>> y, i
    (array([[[3., 3., 5.]]]), array([[[1, 2, 4]]]))
    """
    x = np.asarray(x)
    nd = _spatial_ndim(x.shape)
    k = _ntuple(kernel, nd, "kernel_size")
    s = _ntuple(stride, nd, "stride")
    p = _ntuple(padding, nd, "padding")
    d = _ntuple(dilation, nd, "dilation")
    check_pool_args(x.shape, k, s, p, d, ceil_mode)

    in_sizes = x.shape[2:]
    out_sizes = _output_sizes(in_sizes, k, s, p, d, ceil_mode)
    lowest = _lowest(x.dtype)
    xp = _pad_for_windows(x, p, out_sizes, k, s, d, lowest)

    # Window starts in input coordinates, per dimension.
    starts = [np.arange(o, dtype=np.int64) * sv - pv for o, sv, pv in zip(out_sizes, s, p)]
    # PyTorch initialises the running max with -inf and the argmax with the window's
    # first in-bounds tap, which is kept when every element is -inf. Padding taps
    # are -inf too, so they never win the strict comparison and need no mask.
    first_valid = [
        np.where(st < 0, st + ((-st + dv - 1) // dv) * dv, st) for st, dv in zip(starts, d)
    ]
    taps = list(itertools.product(*(range(kv) for kv in k)))
    out_shape = x.shape[:2] + out_sizes
    y = np.full(out_shape, lowest, dtype=x.dtype)
    # best[...] = 1 + the last tap that passed PyTorch's update test (0: none did).
    # Taps are scanned in increasing order, so a running maximum of the codes
    # tracks it without masked (branchy) writes.
    code_dtype = np.int16 if len(taps) < 2**15 else np.int64
    best = np.zeros(out_shape, dtype=code_dtype)
    code = np.empty(out_shape, dtype=code_dtype)
    update = np.empty(out_shape, dtype=bool)
    check_nan = np.issubdtype(x.dtype, np.floating) and bool(np.isnan(x).any())
    for t, tap in enumerate(taps):
        v = xp[_tap_slices(tap, out_sizes, s, d)]
        np.greater(v, y, out=update)  # PyTorch: val > max || isnan(val)
        if check_nan:
            update |= np.isnan(v)
        # Same value as the update rule, NaN included; on ties np.maximum returns its
        # second operand, so the first of equal values (e.g. -0.0 before 0.0) stays.
        np.maximum(v, y, out=y)
        np.multiply(update, t + 1, out=code)
        np.maximum(best, code, out=best)

    # Flat index of tap t of a window: window start's index + the tap's offset.
    start_index = _ravel_spatial(starts, in_sizes)
    tap_offset = np.array(
        [
            _ravel_spatial([np.array([j * dv]) for j, dv in zip(tap, d)], in_sizes).item()
            for tap in taps
        ],
        dtype=np.int64,
    )
    indices = start_index + tap_offset[best - 1]
    no_update = best == 0  # all-(-inf) windows (tap_offset[-1] above is a dummy)
    if no_update.any():
        indices = np.where(no_update, _ravel_spatial(first_valid, in_sizes), indices)
    return y, indices


def max_pool_backward(gy: np.ndarray, indices: np.ndarray, x_shape: Sequence[int]) -> np.ndarray:
    """Adjoint of max pooling: scatter-add ``gy`` to the argmax ``indices``.

    Also the backward of :func:`adaptive_max_pool_forward`.

    Parameters
    ----------
    gy : ndarray
        Gradient of the pooled output, shape ``(N, C, *out)``.
    indices : ndarray of int
        Indices returned by the forward pass, same shape as ``gy``.
    x_shape : sequence of int
        Shape ``(N, C, *S)`` of the forward input.

    Returns
    -------
    ndarray
        Gradient of the input, shape ``x_shape``, dtype of ``gy``.
    """
    gy = np.asarray(gy)
    indices = np.asarray(indices, dtype=np.int64)
    x_shape = tuple(int(v) for v in x_shape)
    _spatial_ndim(x_shape)
    if gy.shape != indices.shape or gy.shape[:2] != x_shape[:2]:
        raise ValueError(
            f"gy {gy.shape} and indices {indices.shape} must share the shape (N, C, *out) "
            f"with x_shape {x_shape}"
        )
    planes = x_shape[0] * x_shape[1]
    plane_size = int(np.prod(x_shape[2:]))
    out_size = int(np.prod(indices.shape[2:]))
    flat_idx = indices.reshape(planes, out_size)
    g = gy.reshape(planes, out_size)
    # Windows with no in-bounds tap (possible only with dilation) carry an
    # out-of-plane index, as in PyTorch; they have no input to send gradient to.
    valid = (flat_idx >= 0) & (flat_idx < plane_size)
    offsets = np.arange(planes, dtype=np.int64)[:, None] * plane_size
    target = (flat_idx + offsets)[valid]
    n = planes * plane_size
    gx = np.zeros(n, dtype=gy.dtype)
    if target.size and np.bincount(target, minlength=n).max() <= 1:
        # non-overlapping windows (the usual stride >= kernel): a plain scatter
        gx[target] = g[valid]
    else:
        # overlapping windows: accumulate in index order, like PyTorch
        np.add.at(gx, target, g[valid])
    return gx.reshape(x_shape)


# --------------------------------------------------------------------------- avg pooling


def _avg_divisor(
    in_sizes: Sequence[int],
    out_sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    count_include_pad: bool,
    divisor_override: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window divisor and emptiness mask, both shaped ``out_sizes``.

    Mirrors PyTorch: the window ``[start, start + k)`` is first clipped to the
    padded extent ``L + p`` (its size is the ``count_include_pad`` divisor), then to
    the input ``[0, L)`` (its size is the other divisor; 0 means an empty window).
    """
    pool_sizes, counts = [], []
    for L, o, k, s, p in zip(in_sizes, out_sizes, kernel, stride, padding):
        start = np.arange(o, dtype=np.int64) * s - p
        end = np.minimum(start + k, L + p)
        pool_sizes.append(end - start)
        counts.append(np.maximum(np.minimum(end, L) - np.maximum(start, 0), 0))
    pool_size = np.ones((1,) * len(in_sizes), dtype=np.int64)
    count = np.ones_like(pool_size)
    for ps, c in zip(_broadcast_spatial(pool_sizes), _broadcast_spatial(counts)):
        pool_size = pool_size * ps
        count = count * c
    if divisor_override is not None:
        divisor = np.full_like(count, divisor_override)
    else:
        divisor = pool_size if count_include_pad else count
    empty = count == 0
    return np.where(empty, 1, divisor), empty


def _avg_setup(
    x_shape: Sequence[int],
    kernel: IntOrTuple,
    stride: IntOrTuple,
    padding: IntOrTuple,
    ceil_mode: bool,
    divisor_override: int | None,
) -> tuple[tuple[int, ...], ...]:
    nd = _spatial_ndim(x_shape)
    k = _ntuple(kernel, nd, "kernel_size")
    s = _ntuple(stride, nd, "stride")
    p = _ntuple(padding, nd, "padding")
    d = (1,) * nd
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("divisor must be not zero")
    check_pool_args(x_shape, k, s, p, d, ceil_mode, check_input_size=nd == 3)
    out_sizes = _output_sizes(tuple(x_shape[2:]), k, s, p, d, ceil_mode)
    return k, s, p, d, out_sizes


def avg_pool_forward(
    x: np.ndarray,
    kernel: IntOrTuple,
    stride: IntOrTuple,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Average pooling over 1-3 spatial dims, with PyTorch's divisor rules.

    Parameters
    ----------
    x : ndarray
        Input of shape ``(N, C, *S)``.
    kernel, stride, padding : int or tuple of int
        Per-spatial-dimension parameters; padding is implicit zeros.
    ceil_mode : bool
        PyTorch's ``ceil_mode``.
    count_include_pad : bool
        Divide by the window size clipped to the padded input (True) or by the
        number of input elements in the window (False).
    divisor_override : int, optional
        Fixed divisor for every window.

    Returns
    -------
    ndarray
        Pooled values, same dtype as ``x`` for floating inputs.

    Examples
    --------
    >>> x = np.arange(4.0).reshape(1, 1, 4)
    >>> avg_pool_forward(x, (2,), (2,), (1,), False, True)
    array([[[0. , 1.5, 1.5]]])
    >>> avg_pool_forward(x, (2,), (2,), (1,), False, False)
    array([[[0. , 1.5, 3. ]]])
    """
    x = np.asarray(x)
    x = x.astype(_float_dtype(x.dtype), copy=False)
    k, s, p, d, out_sizes = _avg_setup(
        x.shape, kernel, stride, padding, ceil_mode, divisor_override
    )
    xp = _pad_for_windows(x, p, out_sizes, k, s, d, 0)
    total = np.zeros(x.shape[:2] + out_sizes, dtype=x.dtype)
    for tap in itertools.product(*(range(kv) for kv in k)):
        total += xp[_tap_slices(tap, out_sizes, s, d)]
    divisor, empty = _avg_divisor(
        x.shape[2:], out_sizes, k, s, p, count_include_pad, divisor_override
    )
    y = total / divisor.astype(x.dtype)
    y[..., empty] = 0
    return y


def avg_pool_backward(
    gy: np.ndarray,
    x_shape: Sequence[int],
    kernel: IntOrTuple,
    stride: IntOrTuple,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Adjoint of :func:`avg_pool_forward`.

    Parameters
    ----------
    gy : ndarray
        Gradient of the pooled output, shape ``(N, C, *out)``.
    x_shape : sequence of int
        Shape ``(N, C, *S)`` of the forward input.
    kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
        As passed to the forward pass.

    Returns
    -------
    ndarray
        Gradient of the input, shape ``x_shape``.
    """
    gy = np.asarray(gy)
    gy = gy.astype(_float_dtype(gy.dtype), copy=False)
    x_shape = tuple(int(v) for v in x_shape)
    k, s, p, d, out_sizes = _avg_setup(
        x_shape, kernel, stride, padding, ceil_mode, divisor_override
    )
    expected = x_shape[:2] + out_sizes
    if gy.shape != expected:
        raise ValueError(f"gy has shape {gy.shape}, expected {expected}")
    divisor, empty = _avg_divisor(
        x_shape[2:], out_sizes, k, s, p, count_include_pad, divisor_override
    )
    g = gy / divisor.astype(gy.dtype)
    g[..., empty] = 0

    # Padded extent: the left pad plus the input, or as far as the windows reach.
    padded_shape = x_shape[:2] + tuple(
        max(pv + L, (o - 1) * sv + kv) for L, pv, o, kv, sv in zip(x_shape[2:], p, out_sizes, k, s)
    )
    gxp = np.zeros(padded_shape, dtype=gy.dtype)
    for tap in itertools.product(*(range(kv) for kv in k)):
        # Within one tap the strided positions are distinct, so += does not collide.
        gxp[_tap_slices(tap, out_sizes, s, d)] += g
    crop = (Ellipsis,) + tuple(slice(pv, pv + L) for pv, L in zip(p, x_shape[2:]))
    return np.ascontiguousarray(gxp[crop])


# --------------------------------------------------------------------------- adaptive


def adaptive_avg_pool_forward(
    x: np.ndarray, output_size: IntOrTuple | Sequence[int | None]
) -> np.ndarray:
    """Adaptive average pooling (PyTorch's ``adaptive_avg_pool{1,2,3}d``).

    The window of output ``i`` along a dim of length ``L`` is
    ``[floor(i * L / out), ceil((i + 1) * L / out))``. Windows are separable, so
    the sum is taken one dimension at a time with a 0/1 box matrix and divided
    once by the window volume.

    Parameters
    ----------
    x : ndarray
        Input of shape ``(N, C, *S)``.
    output_size : int or tuple of (int or None)
        Target spatial size; ``None`` keeps that dimension's input size. Sizes
        larger than the input are allowed.

    Returns
    -------
    ndarray
        Shape ``(N, C, *output_size)``.

    Examples
    --------
    >>> adaptive_avg_pool_forward(np.arange(6.0).reshape(1, 1, 6), 4)
    array([[[0.5, 1.5, 3.5, 4.5]]])
    """
    x = np.asarray(x)
    x = x.astype(_float_dtype(x.dtype), copy=False)
    nd = _spatial_ndim(x.shape)
    in_sizes = x.shape[2:]
    out_sizes = _adaptive_output_size(in_sizes, output_size)
    y = x
    for i in range(nd):
        y = _apply_along(y, _box_sum_matrix(in_sizes[i], out_sizes[i], x.dtype), 2 + i)
    return y / _adaptive_counts(in_sizes, out_sizes).astype(x.dtype)


def adaptive_avg_pool_backward(gy: np.ndarray, x_shape: Sequence[int]) -> np.ndarray:
    """Adjoint of :func:`adaptive_avg_pool_forward` (output size is ``gy.shape[2:]``).

    Parameters
    ----------
    gy : ndarray
        Gradient of the pooled output, shape ``(N, C, *out)``.
    x_shape : sequence of int
        Shape ``(N, C, *S)`` of the forward input.

    Returns
    -------
    ndarray
        Gradient of the input, shape ``x_shape``.
    """
    gy = np.asarray(gy)
    gy = gy.astype(_float_dtype(gy.dtype), copy=False)
    x_shape = tuple(int(v) for v in x_shape)
    nd = _spatial_ndim(x_shape)
    if gy.ndim != nd + 2 or gy.shape[:2] != x_shape[:2]:
        raise ValueError(f"gy of shape {gy.shape} does not match x_shape {x_shape}")
    in_sizes, out_sizes = x_shape[2:], gy.shape[2:]
    g = gy / _adaptive_counts(in_sizes, out_sizes).astype(gy.dtype)
    for i in range(nd):
        box = _box_sum_matrix(in_sizes[i], out_sizes[i], gy.dtype)
        g = _apply_along(g, box.T, 2 + i)
    return np.ascontiguousarray(g)


def adaptive_max_pool_forward(
    x: np.ndarray, output_size: IntOrTuple | Sequence[int | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive max pooling with PyTorch's indices (``adaptive_max_pool{1,2,3}d``).

    PyTorch scans each window in row-major order, keeping a value when
    ``val > max or isnan(val)``: the result is the last NaN if there is one, else
    the first maximum. That rule composes over nested scans, so the reduction runs
    one spatial dimension at a time, last to first: all windows along the dimension
    are gathered at once into a ``(out, widest_window)`` block, and the rule is
    applied along the block's window axis.

    Parameters
    ----------
    x : ndarray
        Input of shape ``(N, C, *S)``.
    output_size : int or tuple of (int or None)
        Target spatial size; ``None`` keeps that dimension. Sizes larger than the
        input are allowed.

    Returns
    -------
    y : ndarray
        Pooled values, same dtype as ``x``.
    indices : ndarray of int64
        Flat indices into each ``(n, c)`` plane; use :func:`max_pool_backward`.

    Examples
    --------
    >>> y, i = adaptive_max_pool_forward(np.array([[[4.0, 1.0, 4.0, 2.0, 7.0]]]), 2)
    >>> y, i
    (array([[[4., 7.]]]), array([[[0, 4]]]))
    """
    x = np.asarray(x)
    nd = _spatial_ndim(x.shape)
    in_sizes = x.shape[2:]
    out_sizes = _adaptive_output_size(in_sizes, output_size)
    if 0 in out_sizes:
        empty = x.shape[:2] + out_sizes
        return np.empty(empty, dtype=x.dtype), np.empty(empty, dtype=np.int64)

    # Reduce the last dim first; coords[i] is the chosen input coordinate along
    # spatial dim i, carried along (and re-selected) by later reductions.
    values = x
    coords: dict[int, np.ndarray] = {}
    for i in reversed(range(nd)):
        axis = 2 + i
        blocks, start = _adaptive_windows([values, *coords.values()], axis, out_sizes[i])
        arg = _max_rule_argmax(blocks[0], axis + 1)
        values, *kept = (
            np.take_along_axis(b, arg, axis=axis + 1).squeeze(axis + 1) for b in blocks
        )
        coords = dict(zip(coords, kept))
        coords[i] = arg.squeeze(axis + 1) + start.reshape((-1,) + (1,) * (nd - 1 - i))
    indices = np.zeros(values.shape, dtype=np.int64)
    for i in range(nd):
        indices = indices * in_sizes[i] + coords[i]
    return values, indices


def _adaptive_windows(
    arrays: list[np.ndarray], axis: int, out_size: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Gather the adaptive windows along ``axis`` of every array into blocks.

    Each block has ``axis`` split into ``(out_size, width)`` with ``width`` the
    widest window; slots past a window's end are filled with the lowest value of
    the dtype so that they never win a max. When ``out_size`` divides the length,
    the windows tile the axis and the blocks are plain reshapes.
    Returns the blocks and the window starts.
    """
    length = arrays[0].shape[axis]
    start, end = _adaptive_bounds(length, out_size)
    width = int((end - start).max())
    split = arrays[0].shape[:axis] + (out_size, width) + arrays[0].shape[axis + 1 :]
    if length % out_size == 0:
        return [np.reshape(a, split) for a in arrays], start
    pos = start[:, None] + np.arange(width)
    gather = np.minimum(pos, length - 1).ravel()
    inside = (pos < end[:, None]).reshape((out_size, width) + (1,) * len(split[axis + 2 :]))
    blocks = []
    for a in arrays:
        block = np.take(a, gather, axis=axis).reshape(split)
        blocks.append(np.where(inside, block, _lowest(a.dtype)))
    return blocks, start


def _max_rule_argmax(block: np.ndarray, axis: int) -> np.ndarray:
    """Position along ``axis`` that PyTorch's ``val > max || isnan(val)`` scan keeps.

    That is the last NaN if any, else the first maximum (``np.argmax``). The
    result keeps ``axis`` with length 1.
    """
    arg = np.argmax(block, axis=axis)
    if np.issubdtype(block.dtype, np.floating):
        nan = np.isnan(block)
        if nan.any():
            last_nan = block.shape[axis] - 1 - np.argmax(np.flip(nan, axis=axis), axis=axis)
            arg = np.where(nan.any(axis=axis), last_nan, arg)
    return np.expand_dims(arg, axis)
