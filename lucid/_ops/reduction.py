"""Reductions: sum, mean, var/std, prod, max/min, logsumexp, softmax, cumsum."""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._ops._util import norm_dims
from lucid._ops.elementwise import where
from lucid._tensor import Tensor, norm_dim
from lucid.autograd.function import Function


class _ValuesIndices(namedtuple("_ValuesIndices", ["values", "indices"])):
    """The ``(values, indices)`` pair of max/min along a dim (``torch.return_types.max``)."""

    __slots__ = ()
    name = ""

    def __repr__(self) -> str:
        return f"{self.name}(\nvalues={self.values!r},\nindices={self.indices!r})"


class max_result(_ValuesIndices):
    """What ``max(dim)`` returns."""

    __slots__ = ()
    name = "max"


class min_result(_ValuesIndices):
    """What ``min(dim)`` returns."""

    __slots__ = ()
    name = "min"


def _kept_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _restore(g: Tensor, shape: tuple[int, ...], dims: tuple[int, ...]) -> Tensor:
    """A reduced gradient with the reduced dims put back as size 1 (keepdim layout)."""
    kept = _kept_shape(shape, dims)
    return g if g._data.shape == kept else g.reshape(kept)


def _numel(shape: tuple[int, ...], dims: tuple[int, ...]) -> int:
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


def _floating(x: Tensor, fn: str) -> None:
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"{fn}(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {x.dtype.name}"
        )


# --------------------------------------------------------------------------- sum / mean
class Sum(Function):
    """Sum over dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, dt, all_dims):
        ctx.shape, ctx.dims = x.shape, dims
        ctx.node_name = "SumBackward0" if all_dims else "SumBackward1"
        return np.asarray(np.sum(x, axis=dims, keepdims=keepdim, dtype=dt))

    @staticmethod
    def backward(ctx, g):
        return _restore(g, ctx.shape, ctx.dims).expand(*ctx.shape), None, None, None, None


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int or a tuple; all dims when ``None``).

    Integer and bool inputs sum to ``int64``, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[1, 2], [3, 4]])
    >>> x.sum(), x.sum(0), x.sum(dim=1, keepdim=True).shape
    (tensor(10), tensor([4, 6]), (2, 1))
    """
    dims = norm_dims(dim, x.ndim)
    if dtype is not None:
        dt = D.as_dtype(dtype).np
    elif x._data.dtype.kind in "biu":
        dt = np.dtype(np.int64)
    else:
        dt = None
    return Sum.apply(x, dims, keepdim, dt, dim is None)


class Mean(Function):
    """Mean over dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, all_dims):
        ctx.shape, ctx.dims = x.shape, dims
        ctx.node_name = "MeanBackward0" if all_dims else "MeanBackward1"
        if _numel(x.shape, dims) == 0:  # NaN, without NumPy's "Mean of empty slice" warning
            return np.full(np.sum(x, axis=dims, keepdims=keepdim).shape, np.nan, x.dtype)
        return np.asarray(np.mean(x, axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        n = _numel(ctx.shape, ctx.dims)
        return _restore(g, ctx.shape, ctx.dims).expand(*ctx.shape) / n, None, None, None


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (floating or complex input, or give ``dtype``)."""
    if dtype is not None:
        x = x.to(dtype)
    _floating(x, "mean")
    return Mean.apply(x, norm_dims(dim, x.ndim), keepdim, dim is None)


# --------------------------------------------------------------------------- var / std
class Var(Function):
    """Variance (or standard deviation) over dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim, is_std):
        ctx.dims, ctx.correction, ctx.is_std = dims, correction, is_std
        ctx.node_name = "StdBackward0" if is_std else "VarBackward0"
        n = _numel(x.shape, dims)
        with np.errstate(all="ignore"):
            mu = np.sum(x, axis=dims, keepdims=True) / x.dtype.type(n) if n == 0 else np.mean(
                x, axis=dims, keepdims=True)
            sq = np.abs(x - mu) ** 2 if x.dtype.kind == "c" else (x - mu) ** 2
            dof = np.float64(builtins.max(0, n - correction))
            out = np.sum(sq, axis=dims, keepdims=keepdim) / dof
            out = np.asarray(np.sqrt(out) if is_std else out, dtype=sq.dtype)
        ctx.save_for_backward(x, out if is_std else None)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims = ctx.dims
        g = _restore(g, x.shape, dims)
        if ctx.is_std:
            out = _restore(out, x.shape, dims)
            g = where(out == 0, 0.0, g / (out * 2))
        n = _numel(x.shape, dims)
        centred = x - x.mean(dims, keepdim=True)
        scale = np.divide(2.0, builtins.max(0, n - ctx.correction))
        return scale * g * centred, None, None, None, None


def _var_args(dim: Any, unbiased: Any, correction: Any) -> tuple[Any, Any]:
    """Resolve PyTorch's overloads: ``var(unbiased)``, ``var(dim, unbiased)`` and
    ``var(dim, *, correction)``; returns ``(dim, correction)``."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError("var(): got the 'unbiased' flag twice")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError("var(): can't pass both 'unbiased' and 'correction'")
    if unbiased is not None and not isinstance(unbiased, bool):
        raise TypeError(f"var(): argument 'unbiased' must be bool, not {type(unbiased).__name__}")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction


def var(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1).

    Accepts PyTorch's signatures: ``var(dim=None, *, correction=1, keepdim=False)`` and the
    legacy ``var(dim, unbiased, keepdim)`` / ``var(unbiased)``.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0, 3.0, 4.0])
    >>> x.var(), x.var(unbiased=False), x.var(correction=0)
    (tensor(1.6667), tensor(1.2500), tensor(1.2500))
    """
    dim, correction = _var_args(dim, unbiased, correction)
    _floating(x, "var")
    return Var.apply(x, norm_dims(dim, x.ndim), correction, keepdim, False)


def std(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation: the square root of :func:`var` (same signatures)."""
    dim, correction = _var_args(dim, unbiased, correction)
    _floating(x, "std")
    return Var.apply(x, norm_dims(dim, x.ndim), correction, keepdim, True)


# --------------------------------------------------------------------------- prod
class Prod(Function):
    """Product over one dim or all."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.dim = dim
        ctx.node_name = "ProdBackward0" if dim is None else "ProdBackward1"
        out = np.asarray(np.prod(x, axis=dim, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims = tuple(range(x.ndim)) if ctx.dim is None else (ctx.dim,)
        g = _restore(g, x.shape, dims)
        if not np.any(x._data == 0):
            return g * _restore(out, x.shape, dims) / x, None, None
        return g * Tensor._make(_others_product(x._data, ctx.dim)), None, None


def _others_product(x: np.ndarray, dim: int | None) -> np.ndarray:
    """For every element, the product of the other elements of its slice (no division, so
    zeros are handled)."""
    src = x.reshape(-1) if dim is None else x
    ax = -1 if dim is None else dim
    moved = np.moveaxis(src, ax, -1)
    ones = np.ones_like(moved[..., :1])
    left = np.concatenate([ones, np.cumprod(moved, axis=-1)[..., :-1]], axis=-1)
    right = np.concatenate([np.cumprod(moved[..., ::-1], axis=-1)[..., ::-1][..., 1:], ones],
                           axis=-1)
    return np.moveaxis(left * right, -1, ax).reshape(x.shape)


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Product of the elements (over one ``dim``, or all of them).

    Integer and bool inputs give ``int64``. The gradient is exact with zeros in the input;
    there it is computed as a constant, so second derivatives of ``prod`` are supported
    only for inputs without zeros.
    """
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bui":
        x = x.to(D.int64)
    if dim is None:
        return Prod.apply(x, None, False)
    return Prod.apply(x, norm_dim(dim, x.ndim) if x.ndim else None, keepdim)


# --------------------------------------------------------------------------- max / min
class AMax(Function):
    """max/min over dims; the gradient is shared evenly among tied extremes (PyTorch's
    ``amax``, and ``max()`` without a dim)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, is_max, name):
        fn = np.max if is_max else np.min
        out = fn(x, axis=dims, keepdims=True)
        ctx.dims, ctx.node_name = dims, name
        ctx.save_for_backward(x, out)
        return out if keepdim else out.reshape(
            tuple(s for i, s in enumerate(x.shape) if i not in dims))

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        mask = x == out
        count = mask.sum(ctx.dims, keepdim=True)
        g = _restore(g, x.shape, ctx.dims)
        return g / count * mask, None, None, None, None


def _check_reducible(x: Tensor, dims: tuple[int, ...], fn: str) -> None:
    if x._data.size == 0 and (not dims or builtins.any(x.shape[d] == 0 for d in dims)):
        raise RuntimeError(
            f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
            "the reduction dim with the 'dim' argument."
        )


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    dims = norm_dims(dim, x.ndim)
    _check_reducible(x, dims, "amax")
    return AMax.apply(x, dims, keepdim, True, "AmaxBackward0")


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    dims = norm_dims(dim, x.ndim)
    _check_reducible(x, dims, "amin")
    return AMax.apply(x, dims, keepdim, False, "AminBackward0")


class MaxDim(Function):
    """(values, indices) of the max/min along one dim; the gradient goes to the index."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        ctx.node_name = "MaxBackward0" if is_max else "MinBackward0"
        ctx.shape, ctx.dim = x.shape, dim
        if x.ndim == 0:
            indices = np.zeros((), dtype=np.int64)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            return x.copy(), indices
        idx = np.expand_dims((np.argmax if is_max else np.argmin)(x, axis=dim), dim)
        vals = np.take_along_axis(x, idx, dim)
        ctx.save_for_backward(idx)
        if not keepdim:
            vals, idx = np.squeeze(vals, dim), np.squeeze(idx, dim)
        indices = idx.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(indices)
        return vals, indices

    @staticmethod
    def backward(ctx, g, _gi):
        from lucid._ops.indexing import scatter_into_zeros

        if not ctx.shape:
            return g, None, None, None
        (idx,) = ctx.saved_tensors
        g = g.reshape(idx.shape)
        return scatter_into_zeros(g, ctx.dim, idx._data, ctx.shape), None, None, None


def _max_or_min(x: Tensor, dim: Any, keepdim: bool, is_max: bool) -> Any:
    from lucid._ops.elementwise import maximum, minimum

    fn = "max" if is_max else "min"
    if isinstance(dim, Tensor):
        return (maximum if is_max else minimum)(x, dim)
    if dim is None:
        _check_reducible(x, (), fn)
        name = "MaxBackward1" if is_max else "MinBackward1"
        return AMax.apply(x, tuple(range(x.ndim)), False, is_max, name)
    d = norm_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")
    values, indices = MaxDim.apply(x, d, keepdim, is_max)
    return (max_result if is_max else min_result)(values, indices)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The maximum of all elements; with ``dim``, the named tuple ``(values, indices)``
    along it; with a tensor, the element-wise maximum.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> x.max()
    tensor(5.)
    >>> x.max(dim=1)
    max(
    values=tensor([5., 4.]),
    indices=tensor([1, 0]))
    >>> x.max(dim=1).indices
    tensor([1, 0])
    """
    return _max_or_min(x, dim, keepdim, True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The minimum of all elements, or ``(values, indices)`` along ``dim`` (see :func:`max`)."""
    return _max_or_min(x, dim, keepdim, False)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (in the flattened tensor when ``dim`` is None)."""
    return _argext(x, dim, keepdim, True)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (in the flattened tensor when ``dim`` is None)."""
    return _argext(x, dim, keepdim, False)


def _argext(x: Tensor, dim: int | None, keepdim: bool, is_max: bool) -> Tensor:
    fn = np.argmax if is_max else np.argmin
    if dim is None:
        _check_reducible(x, (), "argmax" if is_max else "argmin")
        idx = np.asarray(fn(x._data.reshape(-1)))
        if keepdim:
            idx = idx.reshape((1,) * x.ndim)
        return Tensor._make(idx.astype(np.int64))
    d = norm_dim(dim, x.ndim)
    if not x.ndim:
        return Tensor._make(np.zeros((), dtype=np.int64))
    if x.shape[d] == 0:
        raise IndexError(f"argmax(): Expected reduction dim {d} to have non-zero size.")
    idx = fn(x._data, axis=d, keepdims=keepdim)
    return Tensor._make(np.asarray(idx, dtype=np.int64))


# --------------------------------------------------------------------------- logsumexp
class Logsumexp(Function):
    """``log(sum(exp(x)))`` over dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.dims = dims
        if x.size:
            m = np.max(x, axis=dims, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
        else:
            m = np.zeros(_kept_shape(x.shape, dims), x.dtype)
        out = np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)) + m
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims = ctx.dims
        return _restore(g, x.shape, dims) * (x - _restore(out, x.shape, dims)).exp(), None, None


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably (integers give the default
    float dtype)."""
    if x._data.dtype.kind not in "fc":
        x = x.to(D.get_default_dtype())
    return Logsumexp.apply(x, norm_dims(dim, x.ndim), keepdim)


# --------------------------------------------------------------------------- softmax
class Softmax(Function):
    """softmax / log_softmax along one dim."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, log):
        ctx.dim, ctx.log = dim, log
        ctx.node_name = "LogSoftmaxBackward0" if log else "SoftmaxBackward0"
        z = x - np.max(x, axis=dim, keepdims=True) if x.size else x
        if log:
            out = z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        else:
            e = np.exp(z)
            out = e / np.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        d = ctx.dim
        if ctx.log:
            return g - out.exp() * g.sum(d, keepdim=True), None, None
        return out * (g - (g * out).sum(d, keepdim=True)), None, None


def _softmax(x: Tensor, dim: int | None, dtype: Any, log: bool) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        name = "log_softmax" if log else "softmax"
        raise RuntimeError(f"{name}(): expected a floating point tensor, got {x.dtype.name}")
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    d = norm_dim(dim, x.ndim)
    if not x.ndim:
        return Softmax.apply(x.reshape(1), 0, log).reshape(())
    return Softmax.apply(x, d, log)


def softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([1.0, 2.0, 3.0]).softmax(0)
    tensor([0.0900, 0.2447, 0.6652])
    """
    return _softmax(x, dim, dtype, False)


def log_softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably."""
    return _softmax(x, dim, dtype, True)


# --------------------------------------------------------------------------- scans / logic
class Cumsum(Function):
    """Cumulative sum along one dim."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, d):
        ctx.d = d
        out = np.cumsum(x, axis=d) if x.ndim else x.copy()
        return out.astype(np.int64) if out.dtype.kind in "biu" else out

    @staticmethod
    def backward(ctx, g):
        if not g.ndim:
            return g, None
        return g.flip(ctx.d).cumsum(ctx.d).flip(ctx.d), None


def cumsum(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim`` (integers accumulate in ``int64``)."""
    if dtype is not None:
        x = x.to(dtype)
    return Cumsum.apply(x, norm_dim(dim, x.ndim))


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether all elements (along ``dim``) are non-zero."""
    dims = norm_dims(dim, x.ndim)
    return Tensor._make(np.asarray(np.all(x._data, axis=dims, keepdims=keepdim)))


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether any element (along ``dim``) is non-zero."""
    dims = norm_dims(dim, x.ndim)
    return Tensor._make(np.asarray(np.any(x._data, axis=dims, keepdims=keepdim)))


def norm(x: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default)."""
    if p == 2 or p == "fro":
        sq = (x * x.conj()).real if x.is_complex() else x * x
        return sum(sq, dim, keepdim).sqrt()
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    if p == float("inf"):
        return amax(x.abs(), dim if dim is not None else (), keepdim)
    return sum(x.abs() ** p, dim, keepdim) ** (1.0 / p)

