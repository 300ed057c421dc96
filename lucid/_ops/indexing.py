"""Indexing: ``x[key]`` reads (differentiable), ``x[key] = v`` writes, gather/scatter.

Keys follow PyTorch (and NumPy): ints, slices, ``None``, ``...``, integer tensors / lists
(advanced indexing) and bool masks. Reading with ints, slices, ``None`` and ``...`` only
gives a view; any advanced index gives a copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._ops._util import unbroadcast
from lucid._ops.inplace import apply_inplace, check_writable
from lucid._ops.shape import as_view
from lucid._tensor import Tensor, bump_version, norm_dim
from lucid.autograd.function import Function
from lucid.autograd.grad_mode import _state


def _convert_item(k: Any) -> Any:
    if isinstance(k, Tensor):
        if k._data.dtype.kind not in "biu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if k._data.ndim == 0 and k._data.dtype.kind in "iu":
            return int(k._data)
        return k._data
    if isinstance(k, np.ndarray):
        if k.dtype.kind not in "biu":
            raise IndexError("arrays used as indices must be of integer or bool type")
        return k
    if isinstance(k, list):
        arr = np.asarray([_convert_item(v) if isinstance(v, Tensor) else v for v in k])
        if arr.size == 0:
            return arr.astype(np.int64)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"index list must hold ints or bools, got {arr.dtype}")
        return arr
    if isinstance(k, slice):
        if k.step is not None and int(k.step) <= 0:
            raise ValueError(f"slice step must be positive, got {k.step}")
        return k
    if k is None or k is Ellipsis or isinstance(k, (bool, int, np.integer)):
        return k
    raise IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
        f"valid indices (got {type(k).__name__})"
    )


def convert_key(key: Any, shape: tuple[int, ...]) -> Any:
    """An index with tensors turned into arrays, checked against ``shape``."""
    items = key if isinstance(key, tuple) else (key,)
    out = tuple(_convert_item(k) for k in items)
    _check_bounds(out, shape)
    if is_basic(out) and Ellipsis not in out:
        out = out + (Ellipsis,)  # NumPy then returns a 0-d view instead of a scalar copy
    return out


def is_basic(key: tuple[Any, ...]) -> bool:
    """Whether a converted key holds only ints, slices, None and ``...`` (a view)."""
    return all(
        k is None or k is Ellipsis or isinstance(k, slice)
        or (isinstance(k, (int, np.integer)) and not isinstance(k, bool))
        for k in key
    )


def _check_bounds(items: tuple[Any, ...], shape: tuple[int, ...]) -> None:
    def consumed(k: Any) -> int:
        if k is None or k is Ellipsis or isinstance(k, bool):
            return 0
        if isinstance(k, np.ndarray) and k.dtype == np.bool_:
            return k.ndim
        return 1

    n_real = sum(consumed(k) for k in items)
    if n_real > len(shape):
        raise IndexError(
            f"too many indices for tensor of dimension {len(shape)} (got {n_real})"
        )
    dim = 0
    for k in items:
        if k is Ellipsis:
            dim += len(shape) - n_real
            continue
        if isinstance(k, np.ndarray) and k.dtype == np.bool_:
            for j in range(k.ndim):
                if k.shape[j] != shape[dim + j]:
                    raise IndexError(
                        f"The shape of the mask {list(k.shape)} at index {j} does not match "
                        f"the shape of the indexed tensor {list(shape)} at index {dim + j}"
                    )
        elif consumed(k):
            _check_index(k, shape[dim], dim)
        dim += consumed(k)


def _check_index(k: Any, size: int, dim: int) -> None:
    if isinstance(k, (int, np.integer)):
        bad = k if not -size <= k < size else None
    elif isinstance(k, np.ndarray) and k.size:
        lo, hi = int(k.min()), int(k.max())
        bad = hi if hi >= size else (lo if lo < -size else None)
    else:
        bad = None
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def _node_name(key: tuple[Any, ...]) -> str:
    """PyTorch's name for an indexing node: that of the last step it decomposes into."""
    if not is_basic(key):
        return "IndexBackward0"
    for k in reversed(key):
        if k is None:
            return "UnsqueezeBackward0"
        if isinstance(k, slice) and k != slice(None):
            return "SliceBackward0"
        if not isinstance(k, slice) and k is not Ellipsis:
            return "SelectBackward0"
    return "SliceBackward0"


class GetItem(Function):
    """``x[key]``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        ctx.node_name = _node_name(key)
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
        if is_basic(key):
            out[key] = g
        else:
            np.add.at(out, key, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItem.apply(gg, ctx.key), None, None


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with ints, slices, ``None``, ``...``, integer arrays and bool masks.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.arange(6).reshape(2, 3)
    >>> x[1], x[:, ::2], x[x > 3], x[[0, 1], [2, 0]]
    (tensor([3, 4, 5]), tensor([[0, 2],
            [3, 5]]), tensor([4, 5]), tensor([2, 3]))
    """
    if x.ndim == 0 and not _keeps_0d(key):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python to "
                         "convert a 0-dim tensor to a number")
    k = convert_key(key, x.shape)
    if is_basic(k):
        return as_view(GetItem, x, k)
    return GetItem.apply(x, k)


def _keeps_0d(key: Any) -> bool:
    """Keys valid on a 0-d tensor: None, ``...``, bools and bool masks."""
    items = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, bool) or (
        isinstance(k, Tensor) and k._data.dtype == np.bool_ and k.ndim == 0) for k in items)


class IndexPut(Function):
    """``x`` with ``x[key] = v`` applied (out of place; the in-place step stores it)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, key, v):
        ctx.key, ctx.vshape = key, np.shape(v)
        out = x.copy()
        out[key] = v
        return out

    @staticmethod
    def backward(ctx, g):
        nx, _, nv = ctx.needs_input_grad
        gx = gv = None
        if nx:
            keep = np.ones(g.shape, dtype=bool)
            keep[ctx.key] = False
            gx = g * Tensor._make(keep)
        if nv:
            gv = unbroadcast(GetItem.apply(g, ctx.key), ctx.vshape)
        return gx, None, gv


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value`` in place (recorded by autograd when gradients are involved)."""
    k = convert_key(key, x.shape)
    if isinstance(value, Tensor):
        v = value.to(x.dtype)
    else:
        try:
            v = np.asarray(value, dtype=x._data.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"can't assign a {type(value).__name__} to a {x.dtype} tensor: "
                            "expected a number, a sequence of numbers or a Tensor") from None
    vs = np.shape(v._data if isinstance(v, Tensor) else v)
    target = np.empty(x.shape, dtype=np.bool_)[k].shape
    try:
        np.broadcast_shapes(vs, target)
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to indexing "
            f"result of shape {list(target)}"
        ) from None
    recording = _state.enabled and (
        x._requires_grad or (isinstance(v, Tensor) and v._requires_grad))
    if recording:
        apply_inplace(x, lambda t, kk, vv: IndexPut.apply(t, kk, vv), k, v)
        return
    check_writable(x)
    x._data[k] = v._data if isinstance(v, Tensor) else v
    bump_version(x)


class Gather(Function):
    """PyTorch's ``gather``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return np.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        return scatter_into_zeros(g, ctx.dim, ctx.index, ctx.shape), None, None


class ScatterAdd(Function):
    """Add into zeros at indices along a dim (the adjoint of :class:`Gather`)."""

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
    d = norm_dim(dim, x.ndim)
    if index.ndim != x.ndim:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor (got "
            f"index of shape {tuple(index.shape)} and input of shape {tuple(x.shape)})"
        )
    for i, (si, sx) in enumerate(zip(index.shape, x.shape)):
        if i != d and si > sx:
            raise RuntimeError(
                f"Size does not match at dimension {i} expected index {list(index.shape)} to "
                f"be smaller than self {list(x.shape)} apart from dimension {d}"
            )
    idx = index._data
    size = x.shape[d]
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {size}")
    return Gather.apply(x, d, idx)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries at the 1-d integer ``index`` along ``dim``."""
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(
            f"index_select(): Index is supposed to be a vector of integers, got shape "
            f"{tuple(idx.shape)} of dtype {idx.dtype}"
        )
    d = norm_dim(dim, x.ndim)
    key: list[Any] = [slice(None)] * x.ndim
    key[d] = idx.reshape(-1)
    return getitem(x, tuple(key))


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``x`` with the entries where ``mask`` is true replaced by ``value``."""
    from lucid._ops.elementwise import where

    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError(
            "masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{getattr(mask, 'dtype', type(mask).__name__)}"
        )
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        value = value.to(x.dtype)
    else:
        value = x._data.dtype.type(value)
    return where(mask, value, x)


def nonzero(x: Tensor, as_tuple: bool = False) -> Any:
    """Indices of the non-zero entries: an ``(n, ndim)`` int64 tensor, or one tensor per
    dim with ``as_tuple``."""
    idx = np.nonzero(x._data) if x.ndim else np.nonzero(x._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    cols = idx if x.ndim else ()
    return Tensor._make(np.stack(cols, axis=-1).astype(np.int64) if cols
                        else np.zeros((len(idx[0]), 0), dtype=np.int64))
