"""Differentiable operations; importing this package attaches them to ``Tensor``."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._ops import elementwise as E
from lucid._ops import indexing as I
from lucid._ops import linalg as L
from lucid._ops import reduction as R
from lucid._ops import shape as S
from lucid._ops.inplace import apply_inplace
from lucid._tensor import Tensor


def _rev(fn: Any) -> Any:
    def r(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    return r


def _binop(fn: Any) -> Any:
    def op(self: Tensor, other: Any) -> Any:
        if not isinstance(other, (Tensor, int, float, bool, complex)) and not hasattr(
            other, "dtype"
        ):
            return NotImplemented
        return fn(self, other)

    return op


def _inplace_method(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_inplace(self, lambda t, *a: fn(t, *a, **kwargs), *args)

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


def _fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` in place."""
    v = value.item() if isinstance(value, Tensor) else value

    def fill(t: Tensor) -> Tensor:
        const = Tensor._make(np.full(t.shape, v, dtype=t._data.dtype))
        return t * 0 + const if t.requires_grad else const

    return apply_inplace(self, fill)


def _zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    return _fill_(self, 0)


def _copy_(self: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` (broadcast and cast to this tensor's dtype) into this tensor."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    return apply_inplace(self, lambda t, s: S.expand(E.cast(s, t.dtype), *t.shape), src)


def _attach() -> None:
    T = Tensor
    T.__add__ = _binop(E.add)
    T.__radd__ = _rev(E.add)
    T.__sub__ = _binop(E.sub)
    T.__rsub__ = _rev(E.sub)
    T.__mul__ = _binop(E.mul)
    T.__rmul__ = _rev(E.mul)
    T.__truediv__ = _binop(E.div)
    T.__rtruediv__ = _rev(E.div)
    T.__floordiv__ = _binop(E.floor_divide)
    T.__rfloordiv__ = _rev(E.floor_divide)
    T.__mod__ = _binop(E.remainder)
    T.__rmod__ = _rev(E.remainder)
    T.__pow__ = _binop(E.pow)
    T.__rpow__ = _rev(E.pow)
    T.__matmul__ = L.matmul
    T.__rmatmul__ = _rev(L.matmul)
    T.__neg__ = E.neg
    T.__pos__ = lambda self: self
    T.__abs__ = E.abs
    T.__eq__ = E.eq
    T.__ne__ = E.ne
    T.__lt__ = E.lt
    T.__le__ = E.le
    T.__gt__ = E.gt
    T.__ge__ = E.ge
    T.__and__ = E.bitwise_and
    T.__rand__ = _rev(E.bitwise_and)
    T.__or__ = E.bitwise_or
    T.__ror__ = _rev(E.bitwise_or)
    T.__xor__ = E.bitwise_xor
    T.__rxor__ = _rev(E.bitwise_xor)
    T.__invert__ = E.bitwise_not
    T.__getitem__ = I.getitem
    T.__setitem__ = I.setitem
    T.__array_ufunc__ = None

    methods = {
        "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
        "div": E.div, "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide,
        "remainder": E.remainder, "pow": E.pow, "matmul": L.matmul, "mm": L.mm, "bmm": L.bmm,
        "dot": L.dot, "outer": L.outer,
        "exp": E.exp, "log": E.log, "log2": E.log2, "log10": E.log10, "log1p": E.log1p,
        "expm1": E.expm1, "sqrt": E.sqrt, "rsqrt": E.rsqrt, "sin": E.sin, "cos": E.cos,
        "tan": E.tan, "tanh": E.tanh, "sigmoid": E.sigmoid, "relu": E.relu, "abs": E.abs,
        "neg": E.neg, "negative": E.neg, "sign": E.sign, "floor": E.floor, "ceil": E.ceil,
        "round": E.round, "trunc": E.trunc, "frac": E.frac, "reciprocal": E.reciprocal,
        "clamp": E.clamp, "clip": E.clamp, "conj": E.conj, "maximum": E.maximum,
        "minimum": E.minimum, "lerp": E.lerp, "addcmul": E.addcmul, "addcdiv": E.addcdiv,
        "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
        "logical_and": E.logical_and, "logical_or": E.logical_or,
        "logical_xor": E.logical_xor, "logical_not": E.logical_not,
        "isnan": E.isnan, "isinf": E.isinf, "isfinite": E.isfinite,
        "sum": R.sum, "mean": R.mean, "var": R.var, "std": R.std, "prod": R.prod,
        "max": R.max, "min": R.min, "amax": R.amax, "amin": R.amin, "argmax": R.argmax,
        "argmin": R.argmin, "logsumexp": R.logsumexp, "softmax": R.softmax,
        "log_softmax": R.log_softmax, "cumsum": R.cumsum, "all": R.all, "any": R.any,
        "norm": R.norm,
        "reshape": S.reshape, "view": S.view, "view_as": S.view_as, "reshape_as": S.reshape_as,
        "flatten": S.flatten, "unflatten": S.unflatten, "permute": S.permute,
        "transpose": S.transpose, "swapaxes": S.swapaxes, "swapdims": S.swapaxes, "t": S.t,
        "squeeze": S.squeeze, "unsqueeze": S.unsqueeze, "expand": S.expand,
        "expand_as": S.expand_as, "broadcast_to": S.broadcast_to, "contiguous": S.contiguous,
        "clone": S.clone, "split": S.split, "chunk": S.chunk, "unbind": S.unbind,
        "narrow": S.narrow, "select": S.select, "flip": S.flip, "roll": S.roll,
        "repeat": S.repeat, "tile": S.tile, "repeat_interleave": S.repeat_interleave,
        "movedim": S.movedim,
        "gather": I.gather, "index_select": I.index_select, "masked_fill": I.masked_fill,
        "nonzero": I.nonzero,
        "where": lambda self, cond, other: E.where(cond, self, other),
    }
    for name, fn in methods.items():
        setattr(T, name, fn)

    for name in ("add", "sub", "mul", "div", "pow", "clamp", "exp", "log", "sqrt", "abs",
                 "neg", "relu", "sigmoid", "tanh", "floor", "ceil", "round", "sign",
                 "reciprocal", "masked_fill", "lerp", "addcmul", "addcdiv", "remainder",
                 "clip", "trunc", "sin", "cos"):
        setattr(T, name + "_", _inplace_method(methods[name]))
    T.__iadd__ = T.add_
    T.__isub__ = T.sub_
    T.__imul__ = T.mul_
    T.__itruediv__ = T.div_
    T.__ipow__ = T.pow_
    T.__imod__ = T.remainder_
    T.fill_ = _fill_
    T.zero_ = _zero_
    T.copy_ = _copy_


_attach()
