"""Resampling: ``F.interpolate`` (nearest, linear / bilinear / trilinear, area).

The argument handling follows ``torch.nn.functional.interpolate`` step by step (output size
from ``size`` or ``floor(input_size * scale_factor)``; the user's scale factors drive the
coordinate mapping unless ``recompute_scale_factor`` is set); the array work is in
:mod:`lucid.kernels.interp`. Interpolation is linear in the input, so autograd uses the same
forward / adjoint pair as average pooling; ``mode='area'`` is adaptive average pooling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.kernels import interp as K
from lucid.nn.functional._pool import (
    _ApplyMap,
    _LinearMap,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
)

__all__ = ["interpolate"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _output_size(input: Tensor, size: Any, scale_factor: Any,
                 recompute_scale_factor: bool | None,
                 mode: str) -> tuple[tuple[int, ...], tuple[float, ...] | None]:
    """The output spatial size and the scales the coordinate mapping should use."""
    dim = input.ndim - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        if isinstance(size, (list, tuple)) and len(sizes) != dim:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {spatial} and output size of {size}. Please "
                "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format."
            )
        if not all(_is_int(s) for s in sizes):
            raise TypeError(
                "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                f"Tuple[int, int, int], but got size with types {[type(s) for s in sizes]}"
            )
        return tuple(int(s) for s in sizes), None
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dim:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial dimensions, but "
                f"got input with spatial dimensions of {spatial} and scale_factor of shape "
                f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                "and scale_factor in (s1, s2, ...,sK) format."
            )
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * dim
    out = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
    if recompute_scale_factor or mode == "area":
        return out, None
    return out, tuple(scales)


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dimensions of ``input`` to ``size`` or by ``scale_factor``.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    size : int or tuple of int, optional
        Output spatial size (exactly one of ``size`` / ``scale_factor``).
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size; the output size is ``floor(size * scale_factor)``.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear', 'area'}
        'linear' needs a 3-D input, 'bilinear' 4-D and 'trilinear' 5-D.
    align_corners : bool, optional
        Linear modes only (default False): map the corner pixels' centres onto each other
        instead of the corners of the image.
    recompute_scale_factor : bool, optional
        With ``scale_factor``: map coordinates with ``input / output`` sizes instead of the
        given factor.
    antialias : bool, default False
        Not supported (lucid has no anti-aliased resampling yet).

    Returns
    -------
    Tensor
        Shape ``(N, C, *output_size)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.tensor([[[0.0, 1.0, 2.0]]])
    >>> F.interpolate(x, scale_factor=2)
    tensor([[[0., 0., 1., 1., 2., 2.]]])
    >>> F.interpolate(x, size=5, mode="linear", align_corners=True)
    tensor([[[0.0000, 0.5000, 1.0000, 1.5000, 2.0000]]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(
            f"interpolate(): argument 'input' must be Tensor, not {type(input).__name__}"
        )
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate(): mode {mode!r} is not supported; expected one of {', '.join(_MODES)}"
        )
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: {' | '.join(_MODES)} (got {mode})"
        )
    if mode in _LINEAR_RANK and input.ndim != _LINEAR_RANK[mode]:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR_RANK[mode]}D input"
        )
    out_size, scales = _output_size(input, size, scale_factor, recompute_scale_factor, mode)
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            f"interpolate(): expected a floating point input, got {input.dtype}"
        )
    if any(s == 0 for s in input.shape[1:]):
        raise RuntimeError(
            f"interpolate(): expected input with non-zero channels and spatial sizes, got "
            f"input of size {list(input.shape)}"
        )
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[input.ndim - 3]
        return pool(input, out_size)
    shape = input.shape
    op = _LinearMap(lambda a: K.interpolate_forward(a, out_size, mode, align_corners, scales),
                    lambda g: K.interpolate_backward(g, shape, mode, align_corners, scales))
    return _ApplyMap.apply(input, op)
