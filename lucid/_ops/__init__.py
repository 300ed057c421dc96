"""Differentiable operations; importing this package attaches them to ``Tensor``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lucid._ops import elementwise as E
from lucid._ops import indexing as I
from lucid._ops import inplace as P
from lucid._ops import linalg as L
from lucid._ops import reduction as R
from lucid._ops import shape as S
from lucid._ops._util import UnsupportedOperand
from lucid._tensor import Tensor


def _operator(fn: Callable[[Any, Any], Tensor], reflected: bool = False) -> Any:
    """A binary dunder method: unsupported operand types answer ``NotImplemented``."""
    if reflected:
        def op(self: Tensor, other: Any) -> Any:
            try:
                return fn(other, self)
            except UnsupportedOperand:
                return NotImplemented
    else:
        def op(self: Tensor, other: Any) -> Any:
            try:
                return fn(self, other)
            except UnsupportedOperand:
                return NotImplemented

    op.__doc__ = fn.__doc__
    return op


def _inplace_method(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return P.apply_inplace(self, lambda t, *a: fn(t, *a, **kwargs), *args)

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with samples from ``U(a, b)`` in place."""
    from lucid._creation import rand

    return P.copy_(self, rand(self.shape, generator=generator, dtype=self.dtype) * (b - a) + a)


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with samples from ``N(mean, std**2)`` in place."""
    from lucid._creation import randn

    return P.copy_(self, randn(self.shape, generator=generator, dtype=self.dtype) * std + mean)


def _new(kind: str) -> Callable[..., Tensor]:
    """``Tensor.new_zeros`` and friends: same dtype as ``self`` unless given."""

    def method(self: Tensor, *args: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
        import lucid._creation as C

        dtype = self.dtype if dtype is None else dtype
        if kind == "tensor":
            return C.tensor(args[0], dtype=dtype, **kwargs)
        if kind == "full":
            return C.full(args[0], args[1], dtype=dtype, **kwargs)
        return getattr(C, kind)(*args, dtype=dtype, **kwargs)

    method.__name__ = f"new_{kind}"
    method.__doc__ = f"A new tensor like :func:`lucid.{kind}`, with this tensor's dtype."
    return method


_BINARY = {
    "add": E.add, "sub": E.sub, "mul": E.mul, "truediv": E.div, "floordiv": E.floor_divide,
    "mod": E.remainder, "pow": E.pow, "matmul": L.matmul, "and": E.bitwise_and,
    "or": E.bitwise_or, "xor": E.bitwise_xor,
}
_COMPARISONS = {"eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge}
_INPLACE = (
    "add", "sub", "mul", "div", "pow", "clamp", "clip", "exp", "log", "sqrt", "abs", "neg",
    "relu", "sigmoid", "tanh", "floor", "ceil", "round", "trunc", "sign", "reciprocal",
    "masked_fill", "lerp", "addcmul", "addcdiv", "remainder", "sin", "cos", "log1p", "expm1",
    "rsqrt", "square", "floor_divide",
)

_METHODS = {
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
    "div": E.div, "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide,
    "remainder": E.remainder, "pow": E.pow, "matmul": L.matmul, "mm": L.mm, "bmm": L.bmm,
    "dot": L.dot, "outer": L.outer,
    "exp": E.exp, "log": E.log, "log2": E.log2, "log10": E.log10, "log1p": E.log1p,
    "expm1": E.expm1, "sqrt": E.sqrt, "rsqrt": E.rsqrt, "sin": E.sin, "cos": E.cos,
    "tan": E.tan, "tanh": E.tanh, "sigmoid": E.sigmoid, "relu": E.relu, "abs": E.abs,
    "absolute": E.abs, "neg": E.neg, "negative": E.neg, "sign": E.sign, "floor": E.floor,
    "ceil": E.ceil, "round": E.round, "trunc": E.trunc, "frac": E.frac,
    "reciprocal": E.reciprocal, "square": E.square, "clamp": E.clamp, "clip": E.clamp,
    "conj": E.conj, "maximum": E.maximum, "minimum": E.minimum, "lerp": E.lerp,
    "addcmul": E.addcmul, "addcdiv": E.addcdiv,
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
    "fill_": P.fill_, "zero_": P.zero_, "copy_": P.copy_,
    "uniform_": _uniform_, "normal_": _normal_,
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"),
    "new_full": _new("full"), "new_tensor": _new("tensor"),
}


def _where_method(self: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``where(condition, self, other)``."""
    return E.where(condition, self, other)


def _attach() -> None:
    T = Tensor
    for name, fn in _BINARY.items():
        setattr(T, f"__{name}__", _operator(fn))
        setattr(T, f"__r{name}__", _operator(fn, reflected=True))
    for name, fn in _COMPARISONS.items():
        setattr(T, f"__{name}__", _operator(fn))
    for name, fn in _METHODS.items():
        setattr(T, name, fn)
    for name in _INPLACE:
        setattr(T, name + "_", _inplace_method(_METHODS[name]))
    for op, name in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"),
                     ("pow", "pow"), ("mod", "remainder"), ("floordiv", "floor_divide")):
        setattr(T, f"__i{op}__", getattr(T, name + "_"))
    T.__neg__ = E.neg
    T.__pos__ = lambda self: self
    T.__abs__ = E.abs
    T.__invert__ = E.bitwise_not
    T.__getitem__ = I.getitem
    T.__setitem__ = I.setitem
    T.__array_ufunc__ = None
    T.where = _where_method


_attach()
