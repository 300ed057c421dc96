"""Pure-array resampling kernels (NumPy in, NumPy out; no Tensor, no autograd).

``interpolate_forward`` / ``interpolate_backward`` reproduce PyTorch's CPU
``upsample_{nearest,linear,bilinear2d,trilinear3d}`` kernels on batched arrays
``(N, C, *S)`` with one to three spatial dimensions. Every supported mode is
separable: each spatial dimension maps an output coordinate to one or two input
coordinates with weights, computed exactly as PyTorch computes them (in float32
for float32 inputs, since PyTorch's scale and source-index arithmetic runs in the
input's ``opmath`` type). The forward gathers along one axis at a time; the
backward is its exact adjoint, a segment sum along one axis at a time.

``mode='area'`` is not handled here: PyTorch implements it as adaptive average
pooling (``lucid.kernels.pool.adaptive_avg_pool_forward``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["interpolate_backward", "interpolate_forward"]

# Interpolating mode -> number of spatial dims it accepts.
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_NEAREST_MODES = ("nearest", "nearest-exact")

ScaleTuple = Sequence[float | None] | None


# --------------------------------------------------------------------------- coordinates


def _opmath(dtype: np.dtype) -> type[np.floating]:
    """PyTorch's ``opmath_type``: float64 stays float64, other floats use float32."""
    return np.float64 if dtype == np.float64 else np.float32


def _scale_value(
    in_size: int, out_size: int, scale: float | None, ftype: type[np.floating]
) -> np.floating:
    """PyTorch's ``compute_scales_value``: ``1 / scale`` if given, else ``in / out``."""
    if scale is not None and scale > 0:
        return ftype(1.0 / scale)  # divided in double, then rounded to ftype
    return ftype(in_size) / ftype(out_size)


def _nearest_index(
    in_size: int, out_size: int, scale: float | None, exact: bool, shortcuts: bool
) -> np.ndarray:
    """Source index of every output position for the nearest modes.

    'nearest' is PyTorch's legacy rule ``floor(dst * scale)`` computed in float32;
    'nearest-exact' is ``floor((dst + 0.5) * scale)`` (the product is taken in
    double, then rounded to float32 by ``floorf``). Both clamp to ``in - 1``.

    With ``shortcuts`` (legacy 'nearest' only), equal sizes copy and
    ``out == 2 * in`` uses ``dst >> 1``, whatever the user's scale factor says.
    The two rules differ only when a scale factor is given. PyTorch 2.13 takes
    the shortcuts in its 2-d forward kernel but not in its 1-d and 3-d ones.
    """
    dst = np.arange(out_size, dtype=np.int64)
    if shortcuts and not exact:
        if out_size == in_size:
            return dst
        if out_size == 2 * in_size:
            return dst >> 1
    s = _scale_value(in_size, out_size, scale, np.float32)
    if exact:
        src = np.floor(((dst + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * s)
    return np.minimum(src.astype(np.int64), in_size - 1)


def _linear_weights(
    in_size: int,
    out_size: int,
    align_corners: bool,
    scale: float | None,
    ftype: type[np.floating],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``i0, i1`` and weights ``w0, w1`` of linear interpolation along a dim.

    Follows PyTorch's ``compute_source_index_and_lambda``: an identity when the
    sizes agree; otherwise the source coordinate is ``ratio * dst`` (align_corners)
    or ``ratio * (dst + 0.5) - 0.5`` clamped below at 0, with
    ``ratio = (in - 1) / (out - 1)`` or PyTorch's ``compute_scales_value``.
    """
    dst = np.arange(out_size, dtype=np.int64)
    if out_size == in_size:
        one = np.ones(out_size, dtype=ftype)
        return dst, dst, one, np.zeros(out_size, dtype=ftype)
    if align_corners:
        ratio = ftype(in_size - 1) / ftype(out_size - 1) if out_size > 1 else ftype(0)
        src = ratio * dst.astype(ftype)
    else:
        ratio = _scale_value(in_size, out_size, scale, ftype)
        src = ratio * (dst.astype(ftype) + ftype(0.5)) - ftype(0.5)
        src = np.maximum(src, ftype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0.astype(ftype), ftype(0), ftype(1)).astype(ftype)
    i1 = i0 + (i0 < in_size - 1)
    w0 = (ftype(1) - w1).astype(ftype)
    return i0, i1, w0, w1


# --------------------------------------------------------------------------- axis ops


def _along(vector: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """Reshape a 1-d array to broadcast along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = -1
    return vector.reshape(shape)


def _scatter_add(values: np.ndarray, index: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Adjoint of ``np.take(a, index, axis)`` for an ``a`` of ``length`` along ``axis``.

    Slices of ``values`` that go to the same position are summed with one
    ``np.add.reduceat`` over the stably sorted index.
    """
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    targets, first = np.unique(sorted_index, return_index=True)
    sums = np.add.reduceat(np.take(values, order, axis=axis), first, axis=axis)
    shape = list(values.shape)
    shape[axis] = length
    out = np.zeros(shape, dtype=values.dtype)
    out[(slice(None),) * axis + (targets,)] = sums
    return out


# --------------------------------------------------------------------------- validation


def _validate(
    shape: Sequence[int],
    out_size: Sequence[int],
    mode: str,
    scales: ScaleTuple,
) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    nd = len(shape) - 2
    if nd not in (1, 2, 3):
        raise ValueError(
            f"expected a batched input of shape (N, C, *S) with 1-3 spatial dims, "
            f"got shape {tuple(shape)}"
        )
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != nd:
            raise ValueError(
                f"Got {nd + 2}D input, but {mode} mode needs {_LINEAR_MODES[mode] + 2}D input"
            )
    elif mode not in _NEAREST_MODES:
        raise ValueError(
            f"unsupported interpolation mode {mode!r}; expected one of "
            f"{', '.join(_NEAREST_MODES + tuple(_LINEAR_MODES))}"
        )
    sizes = tuple(int(o) for o in out_size)
    if len(sizes) != nd:
        raise ValueError(f"out_size must have {nd} entries for a {nd + 2}D input, got {sizes}")
    in_sizes = tuple(shape[2:])
    if any(v <= 0 for v in in_sizes + sizes):
        labels = {1: "W", 2: "HW", 3: "DHW"}[nd]
        fmt = ", ".join
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input ("
            + fmt(f"{lab}: {v}" for lab, v in zip(labels, in_sizes))
            + ") output ("
            + fmt(f"{lab}: {v}" for lab, v in zip(labels, sizes))
            + ")"
        )
    if scales is None:
        scale_tuple: tuple[float | None, ...] = (None,) * nd
    else:
        scale_tuple = tuple(None if v is None else float(v) for v in scales)
        if len(scale_tuple) != nd:
            raise ValueError(f"scales must have {nd} entries, got {scales!r}")
    return sizes, scale_tuple


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


# --------------------------------------------------------------------------- public API


def interpolate_forward(
    x: np.ndarray,
    out_size: Sequence[int],
    mode: str,
    align_corners: bool | None,
    scales: ScaleTuple = None,
) -> np.ndarray:
    """Resample ``x`` to ``out_size`` like ``torch.nn.functional.interpolate``.

    Parameters
    ----------
    x : ndarray
        Input of shape ``(N, C, *S)`` with 1-3 spatial dims.
    out_size : sequence of int
        Output spatial size.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear'}
        'linear' needs one spatial dim, 'bilinear' two, 'trilinear' three.
    align_corners : bool or None
        For the linear modes (None means False). Ignored by the nearest modes;
        rejecting it there, as PyTorch does, is up to the caller.
    scales : sequence of (float or None), optional
        The user's per-dimension ``scale_factor``. Pass it when PyTorch would, i.e.
        when the output size came from ``scale_factor`` and
        ``recompute_scale_factor`` is not True: PyTorch then maps coordinates with
        ``1 / scale_factor`` instead of ``in / out`` (unused with align_corners).

    Returns
    -------
    ndarray
        Shape ``(N, C, *out_size)``, dtype of ``x`` (floating).

    Examples
    --------
    >>> x = np.array([[[0.0, 1.0, 2.0]]])
    >>> interpolate_forward(x, (5,), "nearest", None)
    array([[[0., 0., 1., 1., 2.]]])
    >>> interpolate_forward(x, (5,), "linear", True)
    array([[[0. , 0.5, 1. , 1.5, 2. ]]])
    """
    x = np.asarray(x)
    x = x.astype(_float_dtype(x.dtype), copy=False)
    sizes, scale_tuple = _validate(x.shape, out_size, mode, scales)
    y = x
    for d, (L, o, sc) in enumerate(zip(x.shape[2:], sizes, scale_tuple)):
        axis = 2 + d
        if mode in _NEAREST_MODES:
            index = _nearest_index(L, o, sc, mode == "nearest-exact", shortcuts=len(sizes) == 2)
            y = np.take(y, index, axis=axis)
            continue
        i0, i1, w0, w1 = _linear_weights(L, o, bool(align_corners), sc, _opmath(x.dtype))
        w0 = _along(w0.astype(x.dtype), y.ndim, axis)
        w1 = _along(w1.astype(x.dtype), y.ndim, axis)
        y = np.take(y, i0, axis=axis) * w0 + np.take(y, i1, axis=axis) * w1
    return np.ascontiguousarray(y)


def interpolate_backward(
    gy: np.ndarray,
    x_shape: Sequence[int],
    mode: str,
    align_corners: bool | None,
    scales: ScaleTuple = None,
) -> np.ndarray:
    """Adjoint of :func:`interpolate_forward` (output size is ``gy.shape[2:]``).

    Parameters
    ----------
    gy : ndarray
        Gradient of the resampled output, shape ``(N, C, *out_size)``.
    x_shape : sequence of int
        Shape ``(N, C, *S)`` of the forward input.
    mode, align_corners, scales
        As passed to the forward pass.

    Returns
    -------
    ndarray
        Gradient of the input, shape ``x_shape``, dtype of ``gy`` (floating).
    """
    gy = np.asarray(gy)
    gy = gy.astype(_float_dtype(gy.dtype), copy=False)
    x_shape = tuple(int(v) for v in x_shape)
    sizes, scale_tuple = _validate(x_shape, gy.shape[2:], mode, scales)
    if gy.shape[:2] != x_shape[:2]:
        raise ValueError(f"gy of shape {gy.shape} does not match x_shape {x_shape}")
    g = gy
    # The forward resamples dims first to last; undo them last to first.
    for d in reversed(range(len(sizes))):
        axis = 2 + d
        L, o, sc = x_shape[axis], sizes[d], scale_tuple[d]
        if mode in _NEAREST_MODES:
            index = _nearest_index(L, o, sc, mode == "nearest-exact", shortcuts=len(sizes) == 2)
            g = _scatter_add(g, index, L, axis)
            continue
        i0, i1, w0, w1 = _linear_weights(L, o, bool(align_corners), sc, _opmath(gy.dtype))
        w0 = _along(w0.astype(gy.dtype), g.ndim, axis)
        w1 = _along(w1.astype(gy.dtype), g.ndim, axis)
        g = _scatter_add(g * w0, i0, L, axis) + _scatter_add(g * w1, i1, L, axis)
    return np.ascontiguousarray(g)
