"""Element-wise operations: arithmetic, unary math, comparisons and casts.

Gradients follow PyTorch's formulas (``tools/autograd/derivatives.yaml``), including its
conventions at non-differentiable points: ``relu'(0) = 0``, ``abs'(0) = 0``, the gradient of
``maximum``/``minimum`` split evenly on ties, and ``d(x ** y)/dy = 0`` where ``x == 0`` and
``y >= 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._ops._util import (
    as_operand,
    broadcast_shapes,
    cast_to,
    conj,
    promote,
    result_dtype,
    shape_of,
    unbroadcast,
)
from lucid._tensor import Tensor
from lucid.autograd.function import Function

np.seterr(all="ignore")  # inf/nan are results, not errors, as in PyTorch


def _binary(fn: type[Function], a: Any, b: Any, floating: bool = False) -> Tensor:
    return _broadcasting(fn, *promote(a, b, floating))


def _broadcasting(fn: type[Function], *args: Any, **kwargs: Any) -> Tensor:
    """``fn.apply(*args)``, turning NumPy's broadcast error into one naming the shapes."""
    try:
        return fn.apply(*args, **kwargs)
    except ValueError:
        broadcast_shapes(*[a.shape for a in args if isinstance(a, Tensor)])
        raise


def _save_shapes(ctx: Any, a: Any, b: Any) -> None:
    ctx.shapes = (a.shape, b.shape)  # arrays or NumPy scalars (promote made both)


# --------------------------------------------------------------------------- arithmetic
class Add(Function):
    """``a + alpha * b``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        _save_shapes(ctx, a, b)
        ctx.alpha = alpha
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        gb = None
        if nb:
            gb = unbroadcast(g if ctx.alpha == 1 else g * conj(ctx.alpha), sb)
        return (unbroadcast(g, sa) if na else None, gb)


class Sub(Function):
    """``a - alpha * b``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        _save_shapes(ctx, a, b)
        ctx.alpha = alpha
        if not isinstance(a, np.ndarray):
            ctx.node_name = "RsubBackward1"
        return a - b if alpha == 1 else a - alpha * b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        gb = None
        if nb:
            gb = unbroadcast(-g if ctx.alpha == 1 else g * conj(-ctx.alpha), sb)
        return (unbroadcast(g, sa) if na else None, gb)


class Mul(Function):
    """``a * b``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        if na or nb:
            _save_shapes(ctx, a, b)
            ctx.save_for_backward(a if nb else None, b if na else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = unbroadcast(g * conj(b), sa) if b is not None else None
        gb = unbroadcast(g * conj(a), sb) if a is not None else None
        return ga, gb


class Div(Function):
    """``a / b``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        if na or nb:
            _save_shapes(ctx, a, b)
            ctx.save_for_backward(a if nb else None, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g / conj(b), sa) if na else None
        gb = unbroadcast(-g * conj(a / b / b), sb) if nb else None
        return ga, gb


class Pow(Function):
    """``a ** b``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        na, nb = ctx.needs_input_grad
        if na or nb:
            _save_shapes(ctx, a, b)
            ctx.node_name = "PowBackward0" if not nb else (
                "PowBackward1" if isinstance(a, np.ndarray) else "PowBackward2")
            ctx.save_for_backward(a, b, out if nb else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(_pow_grad_base(g, a, b), sa) if na else None
        gb = None
        if nb:
            base = a if isinstance(a, Tensor) else Tensor._make(np.asarray(a))
            zero_base = (base == 0) & _nonnegative(b)
            gb = unbroadcast(g * conj(where(zero_base, 0.0, out * log(base))), sb)
        return ga, gb


def _pow_grad_base(g: Tensor, a: Tensor, b: Any) -> Tensor:
    """``g * conj(b * a ** (b - 1))`` with zero where the exponent is zero."""
    if not isinstance(b, Tensor):
        return g * 0 if b == 0 else g * conj(b * a ** (b - 1))
    return g * conj(where(b == 0, 0.0, b * a ** (b - 1)))


def _nonnegative(b: Tensor) -> Tensor:
    if b._data.dtype.kind == "c":
        return (real(b) >= 0) & (imag(b) == 0)
    return b >= 0


class FloorDivide(Function):
    """Division rounded down: ``div(rounding_mode='floor')`` has a zero gradient, while
    ``floor_divide`` / ``//`` has none, as in PyTorch."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, differentiable):
        _check_int_zero(a, b, "division")
        ctx.differentiable = differentiable
        ctx.node_name = "DivBackward1" if differentiable else "FloorDivideBackward0"
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        if not ctx.differentiable:
            raise RuntimeError("the derivative for 'floor_divide' is not implemented.")
        na, nb = ctx.needs_input_grad[:2]
        zero = Tensor._make(np.zeros_like(g._data))
        return (zero if na else None, zero if nb else None, None)


def _check_int_zero(a: Any, b: Any, what: str) -> None:
    if np.result_type(a, b).kind in "iu" and np.any(np.asarray(b) == 0):
        raise RuntimeError(f"ZeroDivisionError: integer {what} by zero")


class Remainder(Function):
    """``a % b`` (the sign of the divisor)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        _check_int_zero(a, b, "modulo")
        ctx.node_name = "RemainderBackward1" if isinstance(b, np.ndarray) else None
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        _save_shapes(ctx, a, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g, sa) if na else None
        gb = None
        if nb:
            a, b = ctx.saved_tensors
            gb = unbroadcast(-g * div(a, b, rounding_mode="floor"), sb)
        return ga, gb


def add(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    """``a + alpha * b`` with broadcasting and type promotion.

    Examples
    --------
    >>> import lucid
    >>> lucid.add(lucid.tensor([1, 2]), 3)
    tensor([4, 5])
    >>> lucid.tensor([1, 2]) + 0.5
    tensor([1.5000, 2.5000])
    """
    a, b = promote(a, b)
    if alpha == 1:
        return _broadcasting(Add, a, b)
    return _broadcasting(Add, a, b, alpha=_check_alpha(a, b, alpha))


def sub(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    """``a - alpha * b`` (two bool operands are refused, as in PyTorch)."""
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    a, b = promote(a, b)
    if alpha == 1:
        return _broadcasting(Sub, a, b)
    return _broadcasting(Sub, a, b, alpha=_check_alpha(a, b, alpha))


def _is_bool(x: Any) -> bool:
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


def _check_alpha(a: Any, b: Any, alpha: Any) -> Any:
    """``alpha`` as a number of the operation's dtype (floats refused for integers)."""
    kind = np.asarray(_raw(a) if isinstance(a, Tensor) else _raw(b)).dtype.kind
    if kind in "biu" and isinstance(alpha, (float, complex, np.floating)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           f"point number (got alpha={alpha!r}).")
    return np.asarray(alpha).astype(np.result_type(_raw(a), _raw(b)))[()]


def mul(a: Any, b: Any) -> Tensor:
    """Element-wise product."""
    return _binary(Mul, a, b)


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give the default float dtype), or rounded with
    ``rounding_mode`` ``'floor'`` / ``'trunc'`` (which keep integer dtypes).

    Examples
    --------
    >>> import lucid
    >>> lucid.div(lucid.tensor([7, -7]), 2)
    tensor([ 3.5000, -3.5000])
    >>> lucid.div(lucid.tensor([7, -7]), 2, rounding_mode="floor")
    tensor([ 3, -4])
    >>> lucid.div(lucid.tensor([7, -7]), 2, rounding_mode="trunc")
    tensor([ 3, -3])
    """
    if rounding_mode is None:
        return _binary(Div, a, b, floating=True)
    if rounding_mode == "floor":
        return _broadcasting(FloorDivide, *promote(a, b), True)
    if rounding_mode == "trunc":
        a, b = promote(a, b)
        if np.asarray(_raw(a)).dtype.kind in "fc":
            return trunc(_broadcasting(Div, a, b))
        return _int_trunc_divide(_raw(a), _raw(b))
    raise ValueError(
        f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"{rounding_mode!r}"
    )


def _int_trunc_divide(a: Any, b: Any) -> Tensor:
    """Integer division rounded towards zero (not differentiable: integers carry no grad)."""
    _check_int_zero(a, b, "division")
    q = np.floor_divide(a, b)
    q = q + ((q * b != a) & ((np.asarray(a) < 0) != (np.asarray(b) < 0)))
    return Tensor._make(np.asarray(q))


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``: the quotient rounded towards minus infinity (not differentiable)."""
    return _broadcasting(FloorDivide, *promote(a, b), False)


def remainder(a: Any, b: Any) -> Tensor:
    """Python-style modulus ``a % b``: the result has the sign of the divisor."""
    return _binary(Remainder, a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """``a ** b``; an integer tensor to a negative integer power is an error, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([1.0, 2.0, 3.0]) ** 2
    tensor([1., 4., 9.])
    """
    a, b = promote(a, b)
    if np.asarray(_raw(a)).dtype.kind in "iu" and np.any(np.asarray(_raw(b)) < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _broadcasting(Pow, a, b)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------- unary
class _Unary(Function):
    """Base of the one-input operations; subclasses give ``fn`` and ``grad``."""

    _array_forward = True
    saves = "input"  # what ``grad`` needs: "input", "output" or None

    @staticmethod
    def fn(x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def grad(g: Tensor, v: Tensor | None) -> Tensor:
        """The input gradient from ``g`` and the saved value ``v`` (input or output)."""
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x):
        out = cls.fn(x)
        if ctx.needs_input_grad[0] and cls.saves:
            ctx.save_for_backward(x if cls.saves == "input" else out)
        return out

    @classmethod
    def backward(cls, ctx, g):
        saved = ctx.saved_tensors
        return cls.grad(g, saved[0] if saved else None)


def _unary(name: str, fn: Any, grad: Any, saves: str | None = "input",
           floating: bool = True, bool_ok: bool = True) -> Any:
    """An element-wise function backed by a new ``_Unary`` subclass ``name``."""
    cls = type(name, (_Unary,), {"fn": staticmethod(fn), "grad": staticmethod(grad),
                                 "saves": saves})
    public = name.lower()

    def op(x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{public}(): argument 'input' must be Tensor, not "
                            f"{type(x).__name__}")
        kind = x._data.dtype.kind
        if kind == "b" and not bool_ok:
            raise RuntimeError(f"{public}(): not implemented for bool tensors")
        if floating and kind not in "fc":
            x = cast(x, D.get_default_dtype())
        return cls.apply(x)

    op.__name__ = op.__qualname__ = public
    op.__doc__ = f"Element-wise ``{public}``."
    op.Function = cls
    return op


def _sigmoid(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _zero_grad(g: Tensor, v: Any) -> Tensor:
    return g * 0


exp = _unary("Exp", np.exp, lambda g, o: g * conj(o), saves="output")
log = _unary("Log", np.log, lambda g, x: g / conj(x))
log2 = _unary("Log2", np.log2, lambda g, x: g / conj(x * float(np.log(2))))
log10 = _unary("Log10", np.log10, lambda g, x: g / conj(x * float(np.log(10))))
log1p = _unary("Log1P", np.log1p, lambda g, x: g / conj(x + 1))
expm1 = _unary("Expm1", np.expm1, lambda g, o: g * conj(o + 1), saves="output")
sqrt = _unary("Sqrt", np.sqrt, lambda g, o: g / conj(2 * o), saves="output")
rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda g, o: g * conj(-0.5 * o * o * o),
               saves="output")
sin = _unary("Sin", np.sin, lambda g, x: g * conj(cos(x)))
cos = _unary("Cos", np.cos, lambda g, x: -g * conj(sin(x)))
tan = _unary("Tan", np.tan, lambda g, o: g * conj(1 + o * o), saves="output")
tanh = _unary("Tanh", np.tanh, lambda g, o: g * conj(1 - o * o), saves="output")
sigmoid = _unary("Sigmoid", _sigmoid, lambda g, o: g * conj(o * (1 - o)), saves="output")
reciprocal = _unary("Reciprocal", lambda x: 1 / x, lambda g, o: -g * conj(o * o),
                    saves="output")
neg = _unary("Neg", np.negative, lambda g, v: -g, saves=None, floating=False, bool_ok=False)
relu = _unary("Relu", lambda x: np.maximum(x, 0), lambda g, o: g * (o > 0), saves="output",
              floating=False, bool_ok=False)
sign = _unary("Sign", lambda x: np.sign(x) if x.dtype != np.bool_ else x.copy(), _zero_grad,
              saves=None, floating=False)
floor = _unary("Floor", np.floor, _zero_grad, saves=None, floating=False, bool_ok=False)
ceil = _unary("Ceil", np.ceil, _zero_grad, saves=None, floating=False, bool_ok=False)
trunc = _unary("Trunc", np.trunc, _zero_grad, saves=None, floating=False, bool_ok=False)
frac = _unary("Frac", lambda x: x - np.trunc(x), lambda g, v: g, saves=None)
_round = _unary("Round", np.round, _zero_grad, saves=None, floating=False, bool_ok=False)
conj_physical = _unary("Conj", np.conj, lambda g, v: conj(g), saves=None, floating=False)


def _abs_grad(g: Tensor, x: Tensor) -> Tensor:
    if x._data.dtype.kind == "c":
        mag = abs(x)
        return g * where(mag == 0, 0.0, x / where(mag == 0, 1.0, mag))
    return g * sign(x)


_abs = _unary("Abs", np.abs, _abs_grad, floating=False, bool_ok=False)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """Element-wise absolute value (complex input gives the real magnitude)."""
    return _abs(x)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even, like PyTorch (to ``decimals`` places when given)."""
    if decimals == 0:
        return _round(x)
    scale = 10.0 ** decimals
    return _round(x * scale) / scale


# --------------------------------------------------------------------------- clamp / where
class Clamp(Function):
    """``clamp`` with number bounds (``ClampBackward1`` in PyTorch)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.node_name = "ClampBackward1"
        ctx.lo, ctx.hi = lo, hi
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
        return _clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = None
        if ctx.lo is not None:
            mask = x >= ctx.lo
        if ctx.hi is not None:
            upper = x <= ctx.hi
            mask = upper if mask is None else mask & upper
        return where(mask, g, 0.0), None, None


def _clip(x: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out if out is not x else x.copy()


class ClampTensor(Function):
    """``clamp`` with tensor bounds; the bounds receive gradients (``ClampBackward0``)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.node_name = "ClampBackward0"
        ctx.shapes = (x.shape, shape_of(lo), shape_of(hi))
        ctx.save_for_backward(x, lo, hi)
        return _clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        sx, slo, shi = ctx.shapes
        nx, nlo, nhi = ctx.needs_input_grad
        gx = glo = ghi = None
        if lo is not None and hi is not None:
            if nx:
                gx = where((x >= lo) & (x <= hi), g, 0.0)
            if nlo:
                glo = where((x < lo) & (lo < hi), g, 0.0)
            if nhi:
                ghi = where((x > hi) | (hi < lo), g, 0.0)
        elif lo is not None:
            gx = where(x >= lo, g, 0.0) if nx else None
            glo = where(x < lo, g, 0.0) if nlo else None
        else:
            gx = where(x <= hi, g, 0.0) if nx else None
            ghi = where(x > hi, g, 0.0) if nhi else None
        return (unbroadcast(gx, sx) if gx is not None else None,
                unbroadcast(glo, slo) if glo is not None else None,
                unbroadcast(ghi, shi) if ghi is not None else None)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]``; either bound may be omitted, and bounds may be numbers
    or tensors (which then receive gradients too).

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([-1.0, 0.5, 2.0]).clamp(0, 1)
    tensor([0.0000, 0.5000, 1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    bounds = [b for b in (min, max) if b is not None]
    dt = result_dtype(x, *bounds)
    x = cast_to(x, dt)
    lo = None if min is None else cast_to(min, dt)
    hi = None if max is None else cast_to(max, dt)
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        try:
            return ClampTensor.apply(x, lo, hi)
        except ValueError:
            broadcast_shapes(x.shape, *[b.shape for b in (lo, hi) if isinstance(b, Tensor)])
            raise
    return Clamp.apply(x, lo, hi)


clip = clamp


class Where(Function):
    """``where(c, a, b)``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, c, a, b):
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            ctx.shapes = (shape_of(a), shape_of(b))
            ctx.save_for_backward(c)
        return np.where(c, a, b)

    @staticmethod
    def backward(ctx, g):
        (c,) = ctx.saved_tensors
        sa, sb = ctx.shapes
        _, na, nb = ctx.needs_input_grad
        ga = unbroadcast(where(c, g, 0), sa) if na else None
        gb = unbroadcast(where(c, 0, g), sb) if nb else None
        return None, ga, gb


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Choose ``a`` where ``cond`` is true and ``b`` elsewhere (with broadcasting).

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([-1.0, 2.0])
    >>> lucid.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    if not isinstance(cond, Tensor):
        cond = Tensor._make(np.asarray(cond))
    if cond._data.dtype != np.bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{cond.dtype.name}"
        )
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = promote(a, b)
    else:
        dt = D.result_type([], [], [a, b])
        a, b = cast_to(a, dt), cast_to(b, dt)
    broadcast_shapes(cond.shape, a.shape if isinstance(a, Tensor) else (),
                     b.shape if isinstance(b, Tensor) else ())
    return Where.apply(cond, a, b)


# --------------------------------------------------------------------------- dtype
class Cast(Function):
    """Differentiable dtype conversion (``ToCopyBackward0`` in PyTorch)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dt):
        ctx.src = x.dtype
        ctx.node_name = "ToCopyBackward0"
        return x.astype(dt.np)

    @staticmethod
    def backward(ctx, g):
        src = ctx.src
        if src.kind not in "fc":
            return None, None
        if src.kind == "f" and g._data.dtype.kind == "c":
            g = real(g)
        return cast(g, D._FROM_NP[src]), None


def cast(x: Tensor, dt: D.dtype) -> Tensor:
    """``x`` converted to ``dt`` (``x`` itself when it already has that dtype)."""
    if x._data.dtype == dt.np:
        return x
    return Cast.apply(x, dt)


class Real(Function):
    """The real part of a complex tensor."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return np.real(x)

    @staticmethod
    def backward(ctx, g):
        return cast(g, g.dtype.to_complex())


class Imag(Function):
    """The imaginary part of a complex tensor."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return np.imag(x)

    @staticmethod
    def backward(ctx, g):
        return cast(g, g.dtype.to_complex()) * 1j


def real(x: Tensor) -> Tensor:
    """The real part (``x`` itself for real tensors)."""
    return Real.apply(x) if x._data.dtype.kind == "c" else x


def imag(x: Tensor) -> Tensor:
    """The imaginary part of a complex tensor."""
    if x._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(x)


# --------------------------------------------------------------------------- comparisons
def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """The arrays or numbers compared by a comparison / logical operation."""
    return _raw(as_operand(a)), _raw(as_operand(b))


def _apply_raw(np_fn: Any, xa: Any, xb: Any) -> Tensor:
    """``np_fn(xa, xb)`` as a tensor with no graph; a broadcast error names both shapes."""
    try:
        return Tensor._make(np.asarray(np_fn(xa, xb)))
    except ValueError:
        broadcast_shapes(np.shape(xa), np.shape(xb))
        raise


def _compare(np_fn: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        return _apply_raw(np_fn, *_operands(a, b))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise ``{name}`` comparison (a bool tensor, never differentiable)."
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")


def logical_not(x: Tensor) -> Tensor:
    """Element-wise logical negation (a bool tensor)."""
    return Tensor._make(np.asarray(np.logical_not(x._data)))


def _bitwise(np_fn: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        a, b = promote(a, b)
        xa, xb = _operands(a, b)
        if np.asarray(xa).dtype.kind not in "biu":
            raise RuntimeError(f'"{name}_cpu" not implemented for floating or complex '
                               "tensors: use integer or bool tensors")
        return _apply_raw(np_fn, xa, xb)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise ``{name}`` of integer or bool tensors."
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def bitwise_not(x: Tensor) -> Tensor:
    """``~x`` for integer and bool tensors."""
    if x._data.dtype.kind not in "biu":
        raise RuntimeError("bitwise_not is only supported for integer and bool tensors")
    return Tensor._make(np.asarray(np.invert(x._data)))


def isnan(x: Tensor) -> Tensor:
    """Where the values are NaN (a bool tensor)."""
    return Tensor._make(np.asarray(np.isnan(x._data)))


def isinf(x: Tensor) -> Tensor:
    """Where the values are infinite (a bool tensor)."""
    return Tensor._make(np.asarray(np.isinf(x._data)))


def isfinite(x: Tensor) -> Tensor:
    """Where the values are finite (a bool tensor)."""
    return Tensor._make(np.asarray(np.isfinite(x._data)))


class Maximum(Function):
    """``maximum``/``minimum``; the gradient is split evenly on ties, as in PyTorch."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, is_max):
        ctx.is_max = is_max
        ctx.node_name = "MaximumBackward0" if is_max else "MinimumBackward0"
        ctx.save_for_backward(a, b)
        return np.maximum(a, b) if is_max else np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad[:2]
        a_loses, b_loses = (a < b, a > b) if ctx.is_max else (a > b, a < b)
        half = where(a == b, g / 2, g)
        ga = unbroadcast(where(a_loses, 0.0, half), a.shape) if na else None
        gb = unbroadcast(where(b_loses, 0.0, half), b.shape) if nb else None
        return ga, gb, None


def maximum(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise maximum (NaN propagates; the gradient is split evenly on ties)."""
    return _minmax(a, b, True)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise minimum (NaN propagates; the gradient is split evenly on ties)."""
    return _minmax(a, b, False)


def _minmax(a: Tensor, b: Tensor, is_max: bool) -> Tensor:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{'maximum' if is_max else 'minimum'}(): expected two Tensors")
    a, b = promote(a, b)
    try:
        return Maximum.apply(a, b, is_max)
    except ValueError:
        broadcast_shapes(a.shape, b.shape)
        raise


class Lerp(Function):
    """``a + weight * (b - a)``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.shapes = (a.shape, b.shape, shape_of(w))
        if isinstance(w, np.ndarray):
            ctx.save_for_backward(a, b, w)
        else:
            ctx.w = w
        return a + w * (b - a)

    @staticmethod
    def backward(ctx, g):
        sa, sb, sw = ctx.shapes
        na, nb, nw = ctx.needs_input_grad
        a, b, w = ctx.saved_tensors if ctx._saved else (None, None, ctx.w)
        ga = unbroadcast(g * conj(1 - w), sa) if na else None
        gb = unbroadcast(g * conj(w), sb) if nb else None
        gw = unbroadcast(g * conj(b - a), sw) if nw else None
        return ga, gb, gw


def lerp(a: Tensor, b: Tensor, weight: Any) -> Tensor:
    """``a + weight * (b - a)``; ``weight`` is a number or a tensor."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("lerp(): 'input' and 'end' must be Tensors")
    a, b = promote(a, b)
    weight = cast_to(as_operand(weight), a.dtype)
    return _broadcasting(Lerp, a, b, weight)


def addcmul(x: Tensor, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
    """``x + value * t1 * t2``."""
    return x + value * t1 * t2


def addcdiv(x: Tensor, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
    """``x + value * t1 / t2``."""
    return x + value * t1 / t2


def square(x: Tensor) -> Tensor:
    """``x ** 2``."""
    return pow(x, 2)
