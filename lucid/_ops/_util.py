"""Helpers shared by the operation modules: operand promotion and gradient reduction."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._tensor import Tensor, norm_dim

Scalar = (int, float, bool, complex, np.generic)


class UnsupportedOperand(TypeError):
    """An operand that is neither a tensor nor a number (operators answer NotImplemented)."""


def result_dtype(*operands: Any) -> D.dtype:
    """PyTorch's result dtype of tensors and Python scalars.

    Examples
    --------
    >>> import lucid
    >>> from lucid._ops._util import result_dtype
    >>> result_dtype(lucid.ones(2, dtype=lucid.int32), 2.5)
    lucid.float32
    >>> result_dtype(lucid.ones(2, dtype=lucid.float16), lucid.tensor(1.0, dtype=lucid.float64))
    lucid.float16
    """
    dims, zeros, scalars = [], [], []
    for o in operands:
        if isinstance(o, Tensor):
            (dims if o._data.ndim else zeros).append(D._FROM_NP[o._data.dtype])
        elif isinstance(o, Scalar):
            scalars.append(o)
        else:
            raise UnsupportedOperand(f"unsupported operand type {type(o).__name__}")
    return D.result_type(dims, zeros, scalars)


def as_operand(x: Any) -> Any:
    """A tensor or a number; NumPy arrays become tensors, other types are refused."""
    if isinstance(x, (Tensor, *Scalar)):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    raise UnsupportedOperand(
        f"unsupported operand type: expected a Tensor or a number, got {type(x).__name__}"
    )


def promote(a: Any, b: Any, floating: bool = False) -> tuple[Any, Any]:
    """Cast two operands (tensors or numbers) to their common dtype.

    Tensors are converted with the differentiable ``cast``; numbers become NumPy scalars of
    the common dtype. With ``floating`` integer results become the default float dtype
    (true division).
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype and (not floating or a._data.dtype.kind in "fc"):
                return a, b
        elif _number_fits(b, a, floating):
            return a, cast_to(b, D._FROM_NP[a._data.dtype])
    elif isinstance(b, Tensor) and _number_fits(a, b, floating):
        return cast_to(a, D._FROM_NP[b._data.dtype]), b
    a, b = as_operand(a), as_operand(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise UnsupportedOperand("at least one operand must be a Tensor")
    dt = result_dtype(a, b)
    if floating and dt._cat < 2:
        dt = D.get_default_dtype()
    return cast_to(a, dt), cast_to(b, dt)


_KIND_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_NUMBER_CATEGORY = {bool: 0, int: 1, float: 2, complex: 3}


def _number_fits(x: Any, t: Tensor, floating: bool) -> bool:
    """Whether a plain number keeps the tensor's dtype (its category is not higher): the
    common case, decided without the general promotion rules."""
    kind = t._data.dtype.kind
    if floating and kind not in "fc":
        return False
    cat = _NUMBER_CATEGORY.get(type(x))
    if cat is None and isinstance(x, np.generic):
        cat = _KIND_CATEGORY.get(x.dtype.kind)
    return cat is not None and cat <= _KIND_CATEGORY[kind]


def cast_to(x: Any, dt: D.dtype) -> Any:
    """``x`` (tensor or number) converted to ``dt`` (numbers wrap around like PyTorch's
    integer conversion)."""
    if isinstance(x, Tensor):
        if x._data.dtype == dt.np:
            return x
        from lucid._ops.elementwise import cast

        return cast(x, dt)
    try:
        return dt.np.type(x)
    except OverflowError:
        pass
    if isinstance(x, int) and -(2**63) <= x < 2**64:
        return np.array(x, dtype=np.int64 if x < 2**63 else np.uint64).astype(dt.np)[()]
    raise RuntimeError(f"value cannot be converted to type {dt.name} without overflow: {x}")


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array operand (numbers have shape ``()``)."""
    return x.shape if isinstance(x, np.ndarray) else ()


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` over the dimensions that broadcasting expanded to reach ``shape``."""
    if g._data.shape == shape:
        return g
    extra = g.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(
        i + extra for i, s in enumerate(shape) if s == 1 and g.shape[i + extra] != 1
    )
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    return g.reshape(shape) if g._data.shape != shape else g


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of several shapes, or a ``RuntimeError`` naming all of them."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(
            "The size of tensors must match except in singleton dimensions: shapes "
            + " and ".join(str(tuple(s)) for s in shapes)
            + " cannot be broadcast together"
        ) from None


def conj(x: Any) -> Any:
    """Complex conjugate; ``x`` itself for real tensors and real numbers."""
    if not isinstance(x, Tensor):
        return np.conj(x) if isinstance(x, (complex, np.complexfloating)) else x
    if x._data.dtype.kind != "c":
        return x
    from lucid._ops.elementwise import conj_physical

    return conj_physical(x)


def norm_dims(dim: Any, ndim: int) -> tuple[int, ...]:
    """Normalise an int or a sequence of dims; ``None`` and ``()`` mean all dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        if not dim:
            return tuple(range(ndim))
        dims = tuple(norm_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
        return tuple(sorted(dims)) if ndim else ()
    return (norm_dim(dim, ndim),) if ndim else ()
