"""Reductions: sum, mean, var/std, prod, max/min, logsumexp, softmax."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._ops._util import norm_dims
from lucid._tensor import Tensor
from lucid.autograd.function import Function

values_indices = namedtuple("values_indices", ["values", "indices"])


def _kept_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(g: Tensor, shape: tuple[int, ...], dims: tuple[int, ...]) -> Tensor:
    """Broadcast a reduced gradient back over the reduced dims."""
    return g.reshape(_kept_shape(shape, dims)).expand(*shape)


class Sum(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, dt):
        ctx.shape, ctx.dims = x.shape, dims
        return np.sum(x, axis=dims, keepdims=keepdim, dtype=dt)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims), None, None, None


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when ``None``); integer and bool inputs sum to ``int64``."""
    dims = norm_dims(dim, x.ndim)
    if dtype is not None:
        dt = D.as_dtype(dtype).np
    elif x._data.dtype.kind in "biu":
        dt = np.dtype(np.int64)
    else:
        dt = None
    return Sum.apply(x, dims, keepdim, dt)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {x.dtype.name}"
        )
    dims = norm_dims(dim, x.ndim)
    n = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    return sum(x, dims, keepdim) / n if n else sum(x, dims, keepdim) * float("nan")


def var(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: Any = None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1)."""
    if unbiased is not None and not isinstance(unbiased, bool):
        # var(x, dim, keepdim) style positional call with a bool in second position
        raise TypeError(f"var(): unbiased must be a bool, got {unbiased!r}")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(f"var(): input dtype must be floating point, got {x.dtype.name}")
    dims = norm_dims(dim, x.ndim)
    n = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    diff = x - mean(x, dims, keepdim=True)
    sq = (diff * diff.conj()).real if x.is_complex() else diff * diff
    return sum(sq, dims, keepdim) / max(n - correction, 0)


def std(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        correction: Any = None) -> Tensor:
    """Standard deviation (square root of :func:`var`)."""
    return var(x, dim, unbiased, keepdim, correction).sqrt()


class Prod(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.x, ctx.dim, ctx.keepdim = x, dim, keepdim
        out = np.prod(x, axis=dim, keepdims=keepdim)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        x, dim = ctx.x, ctx.dim
        dims = tuple(range(x.ndim)) if dim is None else (dim,)
        gk = g.reshape(_kept_shape(x.shape, dims))
        if not np.any(x == 0):
            xt = Tensor._make(x)
            out = Tensor._make(np.asarray(ctx.out)).reshape(_kept_shape(x.shape, dims))
            return gk * out / xt, None, None
        # product of all the other elements, computed without dividing by zero
        ax = -1 if dim is None else dim
        src = x.reshape(-1) if dim is None else x
        n = src.shape[ax]
        moved = np.moveaxis(src, ax, -1)
        left = np.concatenate([np.ones_like(moved[..., :1]),
                               np.cumprod(moved, axis=-1)[..., :-1]], axis=-1)
        right = np.concatenate([np.cumprod(moved[..., ::-1], axis=-1)[..., ::-1][..., 1:],
                                np.ones_like(moved[..., :1])], axis=-1)
        others = np.moveaxis(left * right, -1, ax).reshape(x.shape)
        del n
        return gk * Tensor._make(others), None, None


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Product of elements (over one ``dim`` or all)."""
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "bui":
        x = x.to(D.int64)
    d = None if dim is None else norm_dims(dim, x.ndim)[0]
    return Prod.apply(x, d, keepdim if d is not None else False)


class AMax(Function):
    """max/min over dims; the gradient is shared evenly among tied extremes."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, is_max):
        fn = np.max if is_max else np.min
        if x.size == 0 and any(x.shape[d] == 0 for d in dims):
            raise IndexError(
                f"{'max' if is_max else 'min'}(): Expected reduction dim to be specified for "
                "input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            )
        out = fn(x, axis=dims, keepdims=True)
        ctx.x, ctx.out, ctx.dims = x, out, dims
        return out if keepdim else out.reshape(
            tuple(s for i, s in enumerate(x.shape) if i not in dims))

    @staticmethod
    def backward(ctx, g):
        x, out, dims = ctx.x, ctx.out, ctx.dims
        mask = (x == out) | (np.isnan(x) & np.isnan(out))
        weights = mask / mask.sum(axis=dims, keepdims=True)
        gk = g.reshape(out.shape)
        return gk * Tensor._make(weights.astype(x.dtype)), None, None, None


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims when empty)."""
    dims = norm_dims(dim if dim != () else None, x.ndim)
    return AMax.apply(x, dims, keepdim, True)


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims when empty)."""
    dims = norm_dims(dim if dim != () else None, x.ndim)
    return AMax.apply(x, dims, keepdim, False)


class MaxDim(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        if x.shape and x.shape[dim] == 0:
            raise IndexError(
                f"{'max' if is_max else 'min'}(): Expected reduction dim {dim} to have non-zero "
                "size."
            )
        idx = _arg(x, dim, is_max)
        idx_k = np.expand_dims(idx, dim) if x.ndim else idx
        vals = np.take_along_axis(x, idx_k, dim) if x.ndim else x
        ctx.shape, ctx.dim, ctx.idx_k = x.shape, dim, idx_k
        if not keepdim and x.ndim:
            vals = np.squeeze(vals, dim)
        else:
            idx = idx_k
        indices = Tensor._make(np.asarray(idx, dtype=np.int64))
        ctx.mark_non_differentiable(indices)
        return Tensor._make(np.asarray(vals)), indices

    @staticmethod
    def backward(ctx, g, _gi):
        from lucid._ops.indexing import scatter_into_zeros

        if not ctx.shape:
            return g, None, None, None
        gk = g.reshape(ctx.idx_k.shape)
        return scatter_into_zeros(gk, ctx.dim, ctx.idx_k, ctx.shape), None, None, None


def _arg(x: np.ndarray, dim: int | None, is_max: bool) -> np.ndarray:
    if x.dtype.kind == "f" and np.isnan(x).any():
        # NaN counts as the extreme, like PyTorch
        nan = np.isnan(x)
        return np.argmax(nan, axis=dim)
    return np.argmax(x, axis=dim) if is_max else np.argmin(x, axis=dim)


def _max_or_min(x: Tensor, dim: Any, keepdim: bool, other: Any, is_max: bool) -> Any:
    from lucid._ops.elementwise import maximum, minimum

    if isinstance(dim, Tensor):
        return (maximum if is_max else minimum)(x, dim)
    if other is not None:
        return (maximum if is_max else minimum)(x, other)
    if dim is None:
        return AMax.apply(x, tuple(range(x.ndim)), False, is_max)
    d = norm_dims(dim, x.ndim)
    return values_indices(*MaxDim.apply(x, d[0] if d else 0, keepdim, is_max))


def max(x: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None) -> Any:  # noqa: A001
    """Maximum of all elements, or ``(values, indices)`` along ``dim``, or element-wise with a
    tensor."""
    return _max_or_min(x, dim, keepdim, other, True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, other: Any = None) -> Any:  # noqa: A001
    """Minimum of all elements, or ``(values, indices)`` along ``dim``."""
    return _max_or_min(x, dim, keepdim, other, False)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    return _argext(x, dim, keepdim, True)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (of the flattened tensor when ``dim`` is None)."""
    return _argext(x, dim, keepdim, False)


def _argext(x: Tensor, dim: int | None, keepdim: bool, is_max: bool) -> Tensor:
    if x.numel() == 0:
        raise IndexError(f"arg{'max' if is_max else 'min'}(): Expected reduction dim to be "
                         "specified for input.numel() == 0.")
    if dim is None:
        idx = _arg(x._data.reshape(-1), None, is_max)
        if keepdim:
            idx = np.asarray(idx).reshape((1,) * x.ndim)
        return Tensor._make(np.asarray(idx, dtype=np.int64))
    d = norm_dims(dim, x.ndim)
    if not d:
        return Tensor._make(np.asarray(0, dtype=np.int64))
    idx = _arg(x._data, d[0], is_max)
    if keepdim:
        idx = np.expand_dims(idx, d[0])
    return Tensor._make(np.asarray(idx, dtype=np.int64))


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably."""
    dims = norm_dims(dim, x.ndim)
    if x._data.dtype.kind not in "fc":
        x = x.to(D.get_default_dtype())
    m = np.max(x._data, axis=dims, keepdims=True) if x.numel() else np.zeros(
        _kept_shape(x.shape, dims), x._data.dtype)
    m = np.where(np.isfinite(m), m, 0)
    mt = Tensor._make(m)
    out = (x - mt).exp().sum(dims, keepdim=True).log() + mt
    return out if keepdim else out.squeeze(dims) if dims else out


class Softmax(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, log):
        m = np.max(x, axis=dim, keepdims=True) if x.size else 0
        z = x - m
        if log:
            out = z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        else:
            e = np.exp(z)
            out = e / np.sum(e, axis=dim, keepdims=True)
        ctx.dim, ctx.log, ctx.out = dim, log, out
        return out

    @staticmethod
    def backward(ctx, g):
        from lucid._ops.elementwise import _output_tensor

        out = _output_tensor(ctx, Tensor._make(ctx.out))
        d = ctx.dim
        if ctx.log:
            return g - out.exp() * g.sum(d, keepdim=True), None, None
        return out * (g - (g * out).sum(d, keepdim=True)), None, None


def _softmax(x: Tensor, dim: int | None, dtype: Any, log: bool) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(f"softmax(): expected a floating point tensor, got {x.dtype.name}")
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    d = norm_dims(dim, x.ndim)
    if not d:
        return Softmax.apply(x.reshape(1), 0, log).reshape(())
    return Softmax.apply(x, d[0], log)


def softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    return _softmax(x, dim, dtype, False)


def log_softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably."""
    return _softmax(x, dim, dtype, True)


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Cumulative sum along ``dim``."""
    d = norm_dims(dim, x.ndim)[0] if x.ndim else 0
    return CumSum.apply(x, d)


class CumSum(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, d):
        ctx.d = d
        out = np.cumsum(x, axis=d) if x.ndim else x.copy()
        if out.dtype.kind in "biu":
            out = out.astype(np.int64)
        return out

    @staticmethod
    def backward(ctx, g):
        if not g.ndim:
            return g, None
        return g.flip(ctx.d).cumsum(ctx.d).flip(ctx.d), None


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = norm_dims(dim, x.ndim)
    return Tensor._make(np.asarray(np.all(x._data, axis=dims, keepdims=keepdim)))


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
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
