"""Indexing: ``x[key]`` reads (differentiable), ``x[key] = v`` writes, gather/scatter."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._ops._util import unbroadcast
from lucid._tensor import Tensor, _norm_dim
from lucid.autograd.function import Function


def _convert_key(key: Any, shape: tuple[int, ...]) -> Any:
    """Turn tensors inside an index into arrays and check integer bounds."""
    single = not isinstance(key, tuple)
    items = (key,) if single else key
    out = []
    for k in items:
        if isinstance(k, Tensor):
            k = k._data
            if k.dtype.kind not in "biu":
                raise IndexError(
                    "tensors used as indices must be long, int, byte or bool tensors"
                )
        elif isinstance(k, list):
            k = np.asarray(k)
            if k.dtype.kind not in "biu" and k.size:
                raise IndexError(f"index list must hold ints or bools, got {k.dtype}")
            if k.size == 0:
                k = k.astype(np.int64)
        elif isinstance(k, (float, str)) or (k is not None and not isinstance(
                k, (int, np.integer, slice, type(Ellipsis), np.ndarray, bool))):
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                f"Variables are valid indices (got {type(k).__name__})"
            )
        out.append(k)
    _check_bounds(out, shape)
    return out[0] if single else tuple(out)


def _check_bounds(items: list[Any], shape: tuple[int, ...]) -> None:
    n_real = sum(
        (k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1)
        for k in items if k is not None and k is not Ellipsis
    )
    dim = 0
    for k in items:
        if k is Ellipsis:
            dim += len(shape) - n_real
            continue
        if k is None:
            continue
        if isinstance(k, np.ndarray) and k.dtype == np.bool_:
            for j in range(k.ndim):
                if dim + j < len(shape) and k.shape[j] != shape[dim + j]:
                    raise IndexError(
                        f"The shape of the mask {list(k.shape)} at index {j} does not match "
                        f"the shape of the indexed tensor {list(shape)} at index {dim + j}"
                    )
            dim += max(k.ndim, 1) if k.ndim else 0
            continue
        if dim >= len(shape):
            raise IndexError(
                f"too many indices for tensor of dimension {len(shape)}"
            )
        size = shape[dim]
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            if not -size <= k < size:
                raise IndexError(
                    f"index {k} is out of bounds for dimension {dim} with size {size}"
                )
        elif isinstance(k, np.ndarray) and k.size:
            lo, hi = int(k.min()), int(k.max())
            if lo < -size or hi >= size:
                bad = hi if hi >= size else lo
                raise IndexError(
                    f"index {bad} is out of bounds for dimension {dim} with size {size}"
                )
        dim += 1


def _is_basic(key: Any) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return all(
        k is None or k is Ellipsis or isinstance(k, slice)
        or (isinstance(k, (int, np.integer)) and not isinstance(k, bool))
        for k in items
    )


class GetItem(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.dtype, ctx.key = x.shape, x.dtype, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.key, ctx.shape), None


class IndexAdd(Function):
    """Scatter-add ``g`` into zeros at ``key`` (the adjoint of reading ``x[key]``)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, g, key, shape):
        ctx.key = key
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(key):
            out[key] = g
        else:
            np.add.at(out, key, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItem.apply(gg, ctx.key), None, None


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with ints, slices, ``None``, ``...``, integer arrays and bool masks."""
    if x.ndim == 0 and key not in (None, Ellipsis, ()) and not (
        isinstance(key, Tensor) and key._data.dtype == np.bool_
    ):
        if not (isinstance(key, tuple) and all(k is None or k is Ellipsis for k in key)):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` to convert a "
                             "0-dim tensor to a number")
    k = _convert_key(key, x.shape)
    return GetItem.apply(x, k)


class IndexPut(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, key, v):
        ctx.key = key
        ctx.vshape = np.shape(v)
        out = x.copy()
        out[key] = v
        return out

    @staticmethod
    def backward(ctx, g):
        nx, _, nv = ctx.needs_input_grad
        gx = gv = None
        if nx:
            mask = np.ones(g.shape, dtype=bool)
            mask[ctx.key] = False
            gx = g * Tensor._make(mask)
        if nv:
            gv = unbroadcast(GetItem.apply(g, ctx.key), ctx.vshape)
        return gx, None, gv


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value`` in place (tracked by autograd when gradients are involved)."""
    from lucid._ops.inplace import apply_inplace

    k = _convert_key(key, x.shape)
    if isinstance(value, Tensor):
        v = value if value._data.dtype == x._data.dtype else value.to(x.dtype)
    else:
        try:
            v = np.asarray(value, dtype=x._data.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"can't assign a {type(value).__name__} to a tensor") from None
    vs = v.shape if isinstance(v, (Tensor, np.ndarray)) else ()
    target = np.empty(x.shape, dtype=bool)[k].shape
    try:
        np.broadcast_shapes(vs, target)
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to indexing "
            f"result of shape {list(target)}"
        ) from None
    apply_inplace(x, lambda t, kk, vv: IndexPut.apply(t, kk, vv), k, v)


class Gather(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return np.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        return scatter_into_zeros(g, ctx.dim, ctx.index, ctx.shape), None, None


class ScatterAdd(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, g, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        out = np.zeros(shape, dtype=g.dtype)
        idx = list(np.indices(index.shape, sparse=True))
        idx[dim] = index
        np.add.at(out, tuple(idx), g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Gather.apply(gg, ctx.dim, ctx.index), None, None, None


def scatter_into_zeros(g: Tensor, dim: int, index: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """Add ``g`` into a zero tensor of ``shape`` at ``index`` along ``dim`` (differentiable)."""
    return ScatterAdd.apply(g, dim, index, shape)


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """Pick values along ``dim`` at ``index`` (PyTorch's ``gather``)."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("gather(): Expected dtype int64 for index")
    d = _norm_dim(dim, x.ndim)
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    idx = index._data
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[d]):
        raise RuntimeError(
            f"index {int(idx.max() if idx.max() >= x.shape[d] else idx.min())} is out of bounds "
            f"for dimension {d} with size {x.shape[d]}"
        )
    return Gather.apply(x, d, idx)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = _norm_dim(dim, x.ndim)
    key = [slice(None)] * x.ndim
    key[d] = index._data if isinstance(index, Tensor) else np.asarray(index)
    return getitem(x, tuple(key))


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """Replace entries where ``mask`` is true with ``value``."""
    from lucid._ops.elementwise import where

    if mask._data.dtype != np.bool_:
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{mask.dtype.name}"
        )
    if isinstance(value, Tensor):
        value = value.to(x.dtype)
    else:
        value = x._data.dtype.type(value)
    return where(mask, value, x)


def nonzero(x: Tensor, as_tuple: bool = False) -> Any:
    idx = np.nonzero(x._data)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    return Tensor._make(np.stack(idx, axis=-1).astype(np.int64))
