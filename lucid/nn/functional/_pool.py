"""Pooling: ``F.max_pool{1,2,3}d``, ``F.avg_pool{1,2,3}d`` and their adaptive forms.

The array work happens in :mod:`lucid.kernels.pool`. Average pooling (plain and adaptive) is
a linear map ``A``: its backward applies the adjoint ``A^T`` (the kernel's ``*_backward``), and
the backward of that applies ``A`` again, so gradients of any order come from one
:class:`_LinearMap`/:class:`_ApplyMap` pair (also used by :mod:`._interp`). Max pooling
records the argmax of every window; its backward is the adjoint of "gather at those indices"
(a scatter-add), whose own backward is the gather.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.function import Function
from lucid.kernels import pool as K

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "max_pool1d", "max_pool2d", "max_pool3d",
]

IntOrTuple = int | Sequence[int]


# --------------------------------------------------------------------------- autograd
class _LinearMap(NamedTuple):
    """A linear operator on arrays, given as its forward map and its adjoint."""

    forward: Callable[[np.ndarray], np.ndarray]
    adjoint: Callable[[np.ndarray], np.ndarray]

    @property
    def T(self) -> _LinearMap:  # noqa: N802 - the transpose, as in linear algebra
        return _LinearMap(self.adjoint, self.forward)


class _ApplyMap(Function):
    """``y = A x`` for a :class:`_LinearMap` ``A``; the gradient is ``A^T g``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, op):
        ctx.op = op
        return op.forward(x)

    @staticmethod
    def backward(ctx, g):
        return _ApplyMap.apply(g, ctx.op.T), None


def _gather_map(indices: np.ndarray, x_shape: tuple[int, ...]) -> _LinearMap:
    """Picking ``x``'s values at flat per-plane ``indices`` (and scattering back)."""
    n, c = x_shape[:2]
    plane = int(np.prod(x_shape[2:]))
    flat_idx = indices.reshape(n, c, int(np.prod(indices.shape[2:])))
    # a window with no input tap (only possible with dilation) carries an out-of-plane index
    valid = (flat_idx >= 0) & (flat_idx < plane)
    safe_idx = np.where(valid, flat_idx, 0)

    def gather(x: np.ndarray) -> np.ndarray:
        picked = np.take_along_axis(x.reshape(n, c, plane), safe_idx, axis=2)
        return np.where(valid, picked, 0).reshape(indices.shape)

    def scatter(g: np.ndarray) -> np.ndarray:
        if g.size == 0:  # an empty batch (the kernel cannot reshape zero planes)
            return np.zeros(x_shape, dtype=g.dtype)
        return K.max_pool_backward(g, indices, x_shape)

    return _LinearMap(gather, scatter)


class _MaxPool(Function):
    """Max pooling (``pool`` returns values and argmax indices); indices carry no gradient."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, pool, params):
        y, indices = pool(x, *params)
        ctx.indices, ctx.x_shape = indices, x.shape
        idx = Tensor._make(indices)
        ctx.mark_non_differentiable(idx)
        return Tensor._make(y), idx

    @staticmethod
    def backward(ctx, g, _g_indices):
        return _ApplyMap.apply(g, _gather_map(ctx.indices, ctx.x_shape).T), None, None


# --------------------------------------------------------------------------- argument checks
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _ntuple(value: Any, nd: int, name: str, fn: str) -> tuple[int, ...]:
    """An int or a 1- / ``nd``-element sequence of ints, as an ``nd``-tuple."""
    if _is_int(value):
        return (int(value),) * nd
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) for v in value):
        raise TypeError(f"{fn}(): {name} must be an int or a tuple of ints, got {value!r}")
    if len(value) == 1:
        return (int(value[0]),) * nd
    if len(value) != nd:
        words = {1: "one int", 2: "a tuple of two ints", 3: "a tuple of three ints"}[nd]
        raise RuntimeError(
            f"{fn}: {name} must either be a single int, or {words}, got {tuple(value)}"
        )
    return tuple(int(v) for v in value)


def _stride(stride: Any, kernel: tuple[int, ...], nd: int, fn: str) -> tuple[int, ...]:
    """The window step: ``kernel`` when ``stride`` is None or empty, as in PyTorch."""
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):
        return kernel
    return _ntuple(stride, nd, "stride", fn)


def _batched(input: Any, nd: int, fn: str) -> tuple[Tensor, bool]:
    """``(N, C, *S)`` view of ``input`` and whether a batch dim was added."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got input "
            f"of size {list(input.shape)}"
        )
    if any(s == 0 for s in input.shape[-nd - 1:]):
        raise RuntimeError(
            f"{fn}: Expected input to have non-zero size for non-batch dimensions, but got input "
            f"of size {list(input.shape)}"
        )
    if input._data.dtype.kind not in "fiu":
        raise NotImplementedError(f"{fn}(): not implemented for dtype {input.dtype}")
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _unbatch(t: Tensor, unbatched: bool) -> Tensor:
    return t.squeeze(0) if unbatched else t


# --------------------------------------------------------------------------- max pooling
def _max_pool(input: Tensor, nd: int, kernel_size: IntOrTuple, stride: IntOrTuple | None,
              padding: IntOrTuple, dilation: IntOrTuple, ceil_mode: bool,
              return_indices: bool) -> Any:
    fn = f"max_pool{nd}d"
    x, unbatched = _batched(input, nd, fn)
    k = _ntuple(kernel_size, nd, "kernel_size", fn)
    s = _stride(stride, k, nd, fn)
    p = _ntuple(padding, nd, "padding", fn)
    d = _ntuple(dilation, nd, "dilation", fn)
    y, indices = _MaxPool.apply(x, K.max_pool_forward, (k, s, p, d, bool(ceil_mode)))
    y = _unbatch(y, unbatched)
    return (y, _unbatch(indices, unbatched)) if return_indices else y


def max_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """1-d max pooling over the last dimension.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)`` or unbatched ``(C, L)``.
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit ``-inf`` padding on both sides (at most half the window).
    dilation : int or tuple of int, default 1
        Spacing between window elements.
    ceil_mode : bool, default False
        Round the output size up (a last window must still start inside the input or the
        left padding).
    return_indices : bool, default False
        Also return the flat index of every maximum within its ``(n, c)`` plane.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        The pooled values (and int64 indices), shape ``(N, C, L_out)`` with
        ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.max_pool1d(lucid.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2, return_indices=True)
    (tensor([[[3., 5.]]]), tensor([[[1, 3]]]))
    """
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """2-d max pooling over the last two dimensions.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    kernel_size, stride, padding, dilation : int or tuple of int
        Per-dimension window size, step (default ``kernel_size``), implicit ``-inf``
        padding (default 0) and spacing (default 1).
    ceil_mode : bool, default False
        Round the output sizes up.
    return_indices : bool, default False
        Also return the flat index of every maximum within its ``(n, c)`` plane.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        The pooled values (and int64 indices), shape ``(N, C, H_out, W_out)``, each size
        given by the formula of :func:`max_pool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.max_pool2d(lucid.arange(16.0).reshape(1, 4, 4), 2)
    tensor([[[ 5.,  7.],
             [13., 15.]]])
    """
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """3-d max pooling over the last three dimensions.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``.
    kernel_size, stride, padding, dilation : int or tuple of int
        Per-dimension window size, step (default ``kernel_size``), implicit ``-inf``
        padding (default 0) and spacing (default 1).
    ceil_mode : bool, default False
        Round the output sizes up.
    return_indices : bool, default False
        Also return the flat index of every maximum within its ``(n, c)`` volume.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        The pooled values (and int64 indices), shape ``(N, C, D_out, H_out, W_out)``, each
        size given by the formula of :func:`max_pool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.max_pool3d(lucid.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    tensor([[[[[7.]]]]])
    """
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# --------------------------------------------------------------------------- avg pooling
def _avg_pool(input: Tensor, nd: int, kernel_size: IntOrTuple, stride: IntOrTuple | None,
              padding: IntOrTuple, ceil_mode: bool, count_include_pad: bool,
              divisor_override: int | None) -> Tensor:
    fn = f"avg_pool{nd}d"
    x, unbatched = _batched(input, nd, fn)
    k = _ntuple(kernel_size, nd, "kernel_size", fn)
    s = _stride(stride, k, nd, fn)
    p = _ntuple(padding, nd, "padding", fn)
    if divisor_override is not None and not _is_int(divisor_override):
        raise TypeError(f"{fn}(): divisor_override must be int, not "
                        f"{type(divisor_override).__name__}")
    params = (k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    if x._data.dtype.kind != "f":
        # integer inputs: PyTorch divides with integer arithmetic (truncation), no autograd
        y = np.trunc(K.avg_pool_forward(x._data, *params)).astype(x._data.dtype)
        return _unbatch(Tensor._make(y), unbatched)
    shape = x.shape
    op = _LinearMap(lambda a: K.avg_pool_forward(a, *params),
                    lambda g: K.avg_pool_backward(g, shape, *params))
    return _unbatch(_ApplyMap.apply(x, op), unbatched)


def avg_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling over the last dimension.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)`` or unbatched ``(C, L)``.
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit zero padding on both sides (at most half the window).
    ceil_mode : bool, default False
        Round the output size up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.

    Returns
    -------
    Tensor
        Shape ``(N, C, L_out)`` with ``L_out = floor((L + 2 * padding - kernel_size) /
        stride) + 1``. Integer inputs give integer averages (truncated), as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.avg_pool1d(lucid.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-d average pooling over the last two dimensions.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    kernel_size, stride, padding : int or tuple of int
        Per-dimension window size, step (default ``kernel_size``) and implicit zero
        padding (default 0).
    ceil_mode : bool, default False
        Round the output sizes up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead.

    Returns
    -------
    Tensor
        Shape ``(N, C, H_out, W_out)``, each size given by the formula of
        :func:`avg_pool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.avg_pool2d(lucid.arange(16.0).reshape(1, 4, 4), 2)
    tensor([[[ 2.5000,  4.5000],
             [10.5000, 12.5000]]])
    """
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """3-d average pooling over the last three dimensions.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``; every spatial size must be
        at least the window size.
    kernel_size, stride, padding : int or tuple of int
        Per-dimension window size, step (default ``kernel_size``) and implicit zero
        padding (default 0).
    ceil_mode : bool, default False
        Round the output sizes up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead.

    Returns
    -------
    Tensor
        Shape ``(N, C, D_out, H_out, W_out)``, each size given by the formula of
        :func:`avg_pool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.avg_pool3d(lucid.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    tensor([[[[[3.5000]]]]])
    """
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# --------------------------------------------------------------------------- adaptive
def _output_size(output_size: Any, nd: int, fn: str) -> tuple[int | None, ...]:
    if _is_int(output_size):
        sizes: tuple[Any, ...] = (int(output_size),) * nd
    elif isinstance(output_size, (tuple, list)):
        sizes = tuple(output_size)
        if not all(v is None or _is_int(v) for v in sizes):
            raise TypeError(
                f"{fn}(): output_size must be an int or a tuple of ints (or None), got "
                f"{output_size!r}"
            )
        if len(sizes) != nd:
            raise RuntimeError(f"{fn}: output_size must be {nd}, got {output_size!r}")
    else:
        raise TypeError(
            f"{fn}(): output_size must be an int or a tuple of ints, got {output_size!r}"
        )
    if any(v is not None and v < 0 for v in sizes):
        raise RuntimeError(
            f"{fn}: elements of output_size must be greater than or equal to 0 but received "
            f"{output_size!r}"
        )
    return sizes


def _adaptive_avg_pool(input: Tensor, nd: int, output_size: Any) -> Tensor:
    fn = f"adaptive_avg_pool{nd}d"
    x, unbatched = _batched(input, nd, fn)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{fn}(): expected a floating point input, got {x.dtype}")
    sizes = _output_size(output_size, nd, fn)
    shape = x.shape
    op = _LinearMap(lambda a: K.adaptive_avg_pool_forward(a, sizes),
                    lambda g: K.adaptive_avg_pool_backward(g, shape))
    return _unbatch(_ApplyMap.apply(x, op), unbatched)


def _adaptive_max_pool(input: Tensor, nd: int, output_size: Any, return_indices: bool) -> Any:
    fn = f"adaptive_max_pool{nd}d"
    x, unbatched = _batched(input, nd, fn)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{fn}(): expected a floating point input, got {x.dtype}")
    sizes = _output_size(output_size, nd, fn)
    y, indices = _MaxPool.apply(x, K.adaptive_max_pool_forward, (sizes,))
    y = _unbatch(y, unbatched)
    return (y, _unbatch(indices, unbatched)) if return_indices else y


def adaptive_avg_pool1d(input: Tensor, output_size: IntOrTuple) -> Tensor:
    """1-d adaptive average pooling to a fixed length.

    Output position ``i`` of a dimension of length ``L`` averages the window
    ``[floor(i * L / out), ceil((i + 1) * L / out))``.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)`` or unbatched ``(C, L)``.
    output_size : int or tuple of one int
        Target length.

    Returns
    -------
    Tensor
        Shape ``(N, C, output_size)`` (or unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_avg_pool1d(lucid.arange(6.0).reshape(1, 1, 6), 4)
    tensor([[[0.5000, 1.5000, 3.5000, 4.5000]]])
    """
    return _adaptive_avg_pool(input, 1, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """2-d adaptive average pooling to a fixed size (windows as in
    :func:`adaptive_avg_pool1d`, per dimension).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    output_size : int or tuple of (int or None)
        Target ``(H_out, W_out)``; ``None`` keeps that dimension's input size.

    Returns
    -------
    Tensor
        Shape ``(N, C, H_out, W_out)`` (or unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_avg_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 1)
    tensor([[[[7.5000]]]])
    >>> F.adaptive_avg_pool2d(lucid.ones(2, 3, 7, 9), (2, None)).shape
    (2, 3, 2, 9)
    """
    return _adaptive_avg_pool(input, 2, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """3-d adaptive average pooling to a fixed size (windows as in
    :func:`adaptive_avg_pool1d`, per dimension).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``.
    output_size : int or tuple of (int or None)
        Target ``(D_out, H_out, W_out)``; ``None`` keeps that dimension's input size.

    Returns
    -------
    Tensor
        Shape ``(N, C, D_out, H_out, W_out)`` (or unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_avg_pool3d(lucid.ones(1, 2, 4, 5, 6), (2, None, 3)).shape
    (1, 2, 2, 5, 3)
    """
    return _adaptive_avg_pool(input, 3, output_size)


def adaptive_max_pool1d(input: Tensor, output_size: IntOrTuple,
                        return_indices: bool = False) -> Any:
    """1-d adaptive max pooling to a fixed length (windows as in
    :func:`adaptive_avg_pool1d`).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)`` or unbatched ``(C, L)``.
    output_size : int or tuple of one int
        Target length.
    return_indices : bool, default False
        Also return the index of every maximum within its ``(n, c)`` row.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        Pooled values (and int64 indices), shape ``(N, C, output_size)`` (or unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_max_pool1d(lucid.tensor([[4.0, 1.0, 4.0, 2.0, 7.0]]), 2, True)
    (tensor([[4., 7.]]), tensor([[0, 4]]))
    """
    return _adaptive_max_pool(input, 1, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """2-d adaptive max pooling to a fixed size (windows as in
    :func:`adaptive_avg_pool1d`, per dimension).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    output_size : int or tuple of (int or None)
        Target ``(H_out, W_out)``; ``None`` keeps that dimension's input size.
    return_indices : bool, default False
        Also return the flat index of every maximum within its ``(n, c)`` plane.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        Pooled values (and int64 indices), shape ``(N, C, H_out, W_out)`` (or unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_max_pool2d(lucid.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)
    (tensor([[[[ 5.,  7.],
              [13., 15.]]]]), tensor([[[[ 5,  7],
              [13, 15]]]]))
    """
    return _adaptive_max_pool(input, 2, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """3-d adaptive max pooling to a fixed size (windows as in
    :func:`adaptive_avg_pool1d`, per dimension).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``.
    output_size : int or tuple of (int or None)
        Target ``(D_out, H_out, W_out)``; ``None`` keeps that dimension's input size.
    return_indices : bool, default False
        Also return the flat index of every maximum within its ``(n, c)`` volume.

    Returns
    -------
    Tensor or (Tensor, Tensor)
        Pooled values (and int64 indices), shape ``(N, C, D_out, H_out, W_out)`` (or
        unbatched).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_max_pool3d(lucid.arange(8.0).reshape(1, 1, 2, 2, 2), 1)
    tensor([[[[[7.]]]]])
    """
    return _adaptive_max_pool(input, 3, output_size, return_indices)
