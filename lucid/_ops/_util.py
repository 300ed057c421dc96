"""Helpers shared by the operation modules: operand promotion and gradient reduction."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._tensor import Tensor

Scalar = (int, float, bool, complex, np.generic)


def result_dtype(*operands: Any) -> D.dtype:
    """PyTorch's result dtype of tensors and Python scalars."""
    dims, zeros, scalars = [], [], []
    for o in operands:
        if isinstance(o, Tensor):
            (dims if o._data.ndim else zeros).append(D._FROM_NP[o._data.dtype])
        elif isinstance(o, Scalar):
            scalars.append(o)
        else:
            raise TypeError(f"unsupported operand type {type(o).__name__}")
    return D.result_type(dims, zeros, scalars)


def promote(a: Any, b: Any, floating: bool = False) -> tuple[Any, Any]:
    """Cast two operands (tensors or scalars) to their common dtype.

    Tensors are converted with the differentiable ``cast``; scalars become NumPy scalars of
    the common dtype. With ``floating`` integer results become the default float dtype.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb and a._data.dtype == b._data.dtype and (
        not floating or a._data.dtype.kind in "fc"
    ):
        return a, b
    if not ta and not tb:
        raise TypeError("at least one operand must be a Tensor")
    if not (ta or isinstance(a, Scalar)):
        raise TypeError(f"unsupported operand type(s): {type(a).__name__} and Tensor")
    if not (tb or isinstance(b, Scalar)):
        raise TypeError(f"unsupported operand type(s): Tensor and {type(b).__name__}")
    dt = result_dtype(a, b)
    if floating and dt._cat < 2:
        dt = D.get_default_dtype()
    return _cast_to(a, dt), _cast_to(b, dt)


def _cast_to(x: Any, dt: D.dtype) -> Any:
    if isinstance(x, Tensor):
        if x._data.dtype == dt.np:
            return x
        from lucid._ops.elementwise import cast

        return cast(x, dt)
    return dt.np.type(x)


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` over the dimensions that broadcasting expanded to reach ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(
        i + extra for i, s in enumerate(shape) if s == 1 and g.shape[i + extra] != 1
    )
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    return g.reshape(shape)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of several shapes, or a ``RuntimeError`` naming them."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(
            "The size of tensors must match except in singleton dimensions: shapes "
            + " and ".join(str(tuple(s)) for s in shapes)
            + " cannot be broadcast together"
        ) from None


def conj(g: Tensor) -> Tensor:
    """Complex conjugate (a no-op for real tensors and real scalars)."""
    if not isinstance(g, Tensor):
        return np.conj(g) if isinstance(g, (complex, np.complexfloating)) else g
    return g.conj() if g._data.dtype.kind == "c" else g


def norm_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """Normalise an int / tuple of dims (``None`` means all)."""
    from lucid._tensor import _norm_dim

    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(_norm_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
        return dims
    return (_norm_dim(dim, ndim),) if ndim else ()
