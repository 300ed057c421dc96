"""Element-wise operations: arithmetic, unary math, comparisons and casts."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._ops._util import Scalar, broadcast_shapes, promote, unbroadcast
from lucid._tensor import Tensor
from lucid.autograd.function import Function

_ERR = np.seterr  # keep NumPy quiet about inf/nan, like PyTorch
np.seterr(all="ignore")


def _shape(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, np.ndarray) else ()


def _binary(fn: type[Function], a: Any, b: Any, floating: bool = False) -> Tensor:
    a, b = promote(a, b, floating)
    try:
        return fn.apply(a, b)
    except ValueError:
        sa = a.shape if isinstance(a, Tensor) else ()
        sb = b.shape if isinstance(b, Tensor) else ()
        broadcast_shapes(sa, sb)
        raise


# --------------------------------------------------------------------------- arithmetic
class Add(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


class Sub(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.args = (a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.args
        na, nb = ctx.needs_input_grad
        ta = _as_t(a, ctx, 0)
        tb = _as_t(b, ctx, 1)
        ga = unbroadcast(g * conj(tb), _shape(a)) if na else None
        gb = unbroadcast(g * conj(ta), _shape(b)) if nb else None
        return ga, gb


class Div(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.args = (a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.args
        na, nb = ctx.needs_input_grad
        ta, tb = _as_t(a, ctx, 0), _as_t(b, ctx, 1)
        ga = unbroadcast(g / conj(tb), _shape(a)) if na else None
        gb = unbroadcast(-g * conj(ta / (tb * tb)), _shape(b)) if nb else None
        return ga, gb


def _as_t(v: Any, ctx: Any, i: int) -> Any:
    """A saved forward input as a tensor: the graph's own input when it needs grad."""
    if not isinstance(v, np.ndarray):
        return v
    edge = ctx.next_edges[i] if ctx.next_edges else None
    inputs = ctx.__dict__.get("inputs")
    if inputs is not None:
        return inputs[i]
    t = Tensor._make(v)
    if edge is not None:
        # differentiable view of the original input for higher-order gradients
        node, nr = edge
        from lucid.autograd.function import AccumulateGrad

        if isinstance(node, AccumulateGrad):
            return node.variable
        t._requires_grad = True
        t.grad_fn = node
        t._output_nr = nr
    return t


class Pow(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.args = (a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.args
        na, nb = ctx.needs_input_grad
        ta, tb = _as_t(a, ctx, 0), _as_t(b, ctx, 1)
        ga = gb = None
        if na:
            if isinstance(tb, Tensor):
                ga = g * conj(tb * ta ** (tb - 1))
            elif tb == 0:
                ga = g * 0
            else:
                ga = g * conj(tb * ta ** (tb - 1))
            ga = unbroadcast(ga, _shape(a))
        if nb:
            out = ta ** tb
            if isinstance(ta, Tensor):
                logs = where(ta == 0, 0.0, log(where(ta == 0, 1.0, ta)))
                gb = g * conj(out * logs)
            else:
                gb = g * conj(out * float(np.log(ta)) if ta != 0 else out * 0)
            gb = unbroadcast(gb, _shape(b))
        return ga, gb


class FloorDiv(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        if np.result_type(a, b).kind in "iu":
            b_arr = np.asarray(b)
            if np.any(b_arr == 0):
                raise RuntimeError("ZeroDivisionError: integer division by zero")
        return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (unbroadcast(g * 0, sa), unbroadcast(g * 0, sb))


class Remainder(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.args = (a, b)
        if np.result_type(a, b).kind in "iu" and np.any(np.asarray(b) == 0):
            raise RuntimeError("ZeroDivisionError: integer modulo by zero")
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.args
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g, _shape(a)) if na else None
        gb = None
        if nb:
            gb = unbroadcast(-g * Tensor._make(np.asarray(np.floor_divide(a, b))), _shape(b))
        return ga, gb


def add(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    """``a + alpha * b`` with broadcasting and type promotion."""
    if alpha != 1:
        b = mul(b, alpha)
    return _binary(Add, a, b)


def sub(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    """``a - alpha * b``."""
    if alpha != 1:
        b = mul(b, alpha)
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    return _binary(Sub, a, b)


def _is_bool(x: Any) -> bool:
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


def mul(a: Any, b: Any) -> Tensor:
    """Element-wise product."""
    return _binary(Mul, a, b)


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give the default float dtype); ``rounding_mode`` 'floor'/'trunc'."""
    if rounding_mode is None:
        return _binary(Div, a, b, floating=True)
    if rounding_mode == "floor":
        return _binary(FloorDiv, a, b)
    if rounding_mode == "trunc":
        q = _binary(Div, a, b, floating=True)
        out = trunc(q)
        dt = promote(a, b)[0]
        return out.to(dt.dtype) if isinstance(dt, Tensor) else out
    raise ValueError(
        f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"{rounding_mode!r}"
    )


def floor_divide(a: Any, b: Any) -> Tensor:
    return _binary(FloorDiv, a, b)


def remainder(a: Any, b: Any) -> Tensor:
    """Python-style modulus (the sign follows the divisor)."""
    return _binary(Remainder, a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """``a ** b``; an integer tensor to a negative integer power is an error, as in PyTorch."""
    if isinstance(a, Tensor) and a._data.dtype.kind in "iu" and isinstance(b, int) and b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _binary(Pow, a, b)


# --------------------------------------------------------------------------- unary
def _unary(name: str, fwd: Any, bwd: Any, save_out: bool = False, int_ok: bool = False,
           floating: bool = True) -> Any:
    """Build a unary Function from an array forward and a tensor backward ``bwd(g, x, out)``."""

    def forward(ctx, x):
        out = fwd(x)
        ctx.x = x
        if save_out:
            ctx.out = out
        return out

    def backward(ctx, g):
        x = _as_t(ctx.x, ctx, 0)
        out = None
        if save_out:
            out = Tensor._make(np.asarray(ctx.out))
            out = _output_tensor(ctx, out)
        return bwd(g, x, out)

    cls = type(name, (Function,), {
        "_array_forward": True, "forward": staticmethod(forward),
        "backward": staticmethod(backward),
    })

    def op(x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name.lower()}(): argument 'input' must be Tensor, not "
                            f"{type(x).__name__}")
        if floating and x._data.dtype.kind not in "fc":
            x = cast(x, D.get_default_dtype())
        return cls.apply(x)

    op.__name__ = name.lower()
    op.__doc__ = f"Element-wise ``{name.lower()}``."
    op.Function = cls
    return op


def _output_tensor(ctx: Any, out: Tensor) -> Tensor:
    """Re-attach a saved output to its node so second derivatives see it as a function."""
    from lucid.autograd.grad_mode import is_grad_enabled

    if is_grad_enabled() and ctx.next_edges:
        out._requires_grad = True
        out.grad_fn = ctx
        out._output_nr = 0
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    out = np.empty_like(x)
    pos = x >= 0
    np.divide(1, 1 + np.exp(-x, where=pos, out=np.zeros_like(x)), out=out, where=pos)
    ex = np.exp(x, where=~pos, out=np.zeros_like(x))
    np.divide(ex, 1 + ex, out=out, where=~pos)
    return out


exp = _unary("Exp", np.exp, lambda g, x, o: g * conj(o), save_out=True)
log = _unary("Log", np.log, lambda g, x, o: g / conj(x))
log2 = _unary("Log2", np.log2, lambda g, x, o: g / conj(x * float(np.log(2))))
log10 = _unary("Log10", np.log10, lambda g, x, o: g / conj(x * float(np.log(10))))
log1p = _unary("Log1p", np.log1p, lambda g, x, o: g / conj(x + 1))
expm1 = _unary("Expm1", np.expm1, lambda g, x, o: g * conj(o + 1), save_out=True)
sqrt = _unary("Sqrt", np.sqrt, lambda g, x, o: g / conj(2 * o), save_out=True)
rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda g, x, o: g * conj(-0.5 * o * o * o),
               save_out=True)
sin = _unary("Sin", np.sin, lambda g, x, o: g * conj(cos(x)))
cos = _unary("Cos", np.cos, lambda g, x, o: -g * conj(sin(x)))
tan = _unary("Tan", np.tan, lambda g, x, o: g * conj(1 + o * o), save_out=True)
tanh = _unary("Tanh", np.tanh, lambda g, x, o: g * conj(1 - o * o), save_out=True)
sigmoid = _unary("Sigmoid", _sigmoid, lambda g, x, o: g * conj(o * (1 - o)), save_out=True)
reciprocal = _unary("Reciprocal", lambda x: 1 / x, lambda g, x, o: -g * conj(o * o),
                    save_out=True)
neg = _unary("Neg", np.negative, lambda g, x, o: -g, floating=False)
relu = _unary("Relu", lambda x: np.maximum(x, 0), lambda g, x, o: g * (x > 0), floating=False)
sign = _unary("Sign", np.sign, lambda g, x, o: g * 0, floating=False)
floor = _unary("Floor", np.floor, lambda g, x, o: g * 0, floating=False)
ceil = _unary("Ceil", np.ceil, lambda g, x, o: g * 0, floating=False)
trunc = _unary("Trunc", np.trunc, lambda g, x, o: g * 0, floating=False)
frac = _unary("Frac", lambda x: x - np.trunc(x), lambda g, x, o: g)
_round0 = _unary("Round", np.round, lambda g, x, o: g * 0, floating=False)
conj_physical = _unary("Conj", np.conj, lambda g, x, o: conj(g), floating=False)


def _abs_backward(g: Tensor, x: Tensor, o: Any) -> Tensor:
    if x._data.dtype.kind == "c":
        mag = abs(x)
        return g * where(mag == 0, 0.0, x / where(mag == 0, 1.0, mag))
    return g * sign(x)


class Abs(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return _abs_backward(g, _as_t(ctx.x, ctx, 0), None)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """Element-wise absolute value (complex input gives the real magnitude)."""
    return Abs.apply(x)


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even, like PyTorch."""
    if decimals == 0:
        return _round0(x)
    scale = 10.0 ** decimals
    return _round0(x * scale) / scale


def conj(x: Tensor) -> Tensor:
    """Complex conjugate; returns ``x`` itself for real tensors (and real scalars)."""
    if not isinstance(x, Tensor):
        return np.conj(x) if isinstance(x, (complex, np.complexfloating)) else x
    return conj_physical(x) if x._data.dtype.kind == "c" else x


class Clamp(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.x, ctx.lo, ctx.hi = x, lo, hi
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx, g):
        x = Tensor._make(ctx.x)
        mask = None
        if ctx.lo is not None:
            mask = x >= _t_or_s(ctx.lo)
        if ctx.hi is not None:
            m2 = x <= _t_or_s(ctx.hi)
            mask = m2 if mask is None else mask & m2
        gx = g * mask if ctx.needs_input_grad[0] else None
        return gx, None, None


def _t_or_s(v: Any) -> Any:
    return Tensor._make(v) if isinstance(v, np.ndarray) else v


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]`` (either bound may be omitted)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    dt = x.dtype
    if isinstance(min, float) or isinstance(max, float):
        if not dt.is_floating_point and not dt.is_complex:
            x = cast(x, D.get_default_dtype())
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    return Clamp.apply(x, lo, hi)


clip = clamp


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Choose ``a`` where ``cond`` is true and ``b`` elsewhere (with broadcasting)."""
    if not isinstance(cond, Tensor):
        cond = Tensor._make(np.asarray(cond))
    if cond._data.dtype != np.bool_:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{cond.dtype.name}"
        )
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor._make(np.asarray(a, dtype=D.scalar_dtype(a).np))
    a, b = promote(a, b)
    broadcast_shapes(cond.shape, a.shape if isinstance(a, Tensor) else (),
                     b.shape if isinstance(b, Tensor) else ())
    return Where.apply(cond._data, a, b)


class Where(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, c, a, b):
        ctx.c = c
        ctx.shapes = (_shape(a), _shape(b))
        return np.where(c, a, b)

    @staticmethod
    def backward(ctx, g):
        c = Tensor._make(ctx.c)
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad[1:]
        zero = 0
        ga = unbroadcast(where(c, g, zero), sa) if na else None
        gb = unbroadcast(where(c, zero, g), sb) if nb else None
        return None, ga, gb


class Cast(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dt):
        ctx.src = x.dtype
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
    """Differentiable dtype conversion."""
    if x._data.dtype == dt.np:
        return x
    return Cast.apply(x, dt)


class Real(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        ctx.complex = x.dtype.kind == "c"
        return np.real(x)

    @staticmethod
    def backward(ctx, g):
        return cast(g, g.dtype.to_complex()) if ctx.complex else g


class Imag(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return np.imag(x)

    @staticmethod
    def backward(ctx, g):
        return cast(g, g.dtype.to_complex()) * 1j


def real(x: Tensor) -> Tensor:
    return Real.apply(x) if x._data.dtype.kind == "c" else x


def imag(x: Tensor) -> Tensor:
    if x._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(x)


# --------------------------------------------------------------------------- comparisons
def _compare(np_fn: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            xa, xb = a._data, b._data
        elif isinstance(a, Tensor):
            if not isinstance(b, Scalar):
                return NotImplemented
            xa, xb = a._data, b
        else:
            if not isinstance(a, Scalar):
                return NotImplemented
            xa, xb = a, b._data
        try:
            return Tensor._make(np.asarray(np_fn(xa, xb)))
        except ValueError:
            broadcast_shapes(np.shape(xa), np.shape(xb))
            raise

    op.__name__ = name
    op.__doc__ = f"Element-wise ``{name}`` comparison (a bool tensor, never differentiable)."
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")


def _logical(np_fn: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        xa = a._data if isinstance(a, Tensor) else a
        xb = b._data if isinstance(b, Tensor) else b
        return Tensor._make(np.asarray(np_fn(xa, xb)))

    op.__name__ = name
    return op


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def logical_not(x: Tensor) -> Tensor:
    return Tensor._make(np.logical_not(x._data))


def _bitwise(np_fn: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        for v in (a, b):
            d = v._data.dtype if isinstance(v, Tensor) else np.asarray(v).dtype
            if d.kind not in "biu":
                raise RuntimeError(f'"{name}_cpu" not implemented for floating or complex '
                                   "tensors: use integer or bool tensors")
        a, b = promote(a, b)
        xa = a._data if isinstance(a, Tensor) else a
        xb = b._data if isinstance(b, Tensor) else b
        return Tensor._make(np.asarray(np_fn(xa, xb)))

    op.__name__ = name
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def bitwise_not(x: Tensor) -> Tensor:
    if x._data.dtype.kind not in "biu":
        raise RuntimeError("bitwise_not is only supported for integer and bool tensors")
    return Tensor._make(np.invert(x._data))


def isnan(x: Tensor) -> Tensor:
    return Tensor._make(np.isnan(x._data))


def isinf(x: Tensor) -> Tensor:
    return Tensor._make(np.isinf(x._data))


def isfinite(x: Tensor) -> Tensor:
    return Tensor._make(np.isfinite(x._data))


class _MinMax(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b, is_max):
        ctx.args, ctx.is_max = (a, b), is_max
        return np.maximum(a, b) if is_max else np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = (Tensor._make(np.asarray(v)) for v in ctx.args)
        win = (a > b) if ctx.is_max else (a < b)
        tie = (a == b) * 0.5
        na, nb = ctx.needs_input_grad[:2]
        ga = unbroadcast(g * (win + tie), a.shape) if na else None
        gb = unbroadcast(g * (~win - tie * 2 + tie), b.shape) if nb else None
        return ga, gb, None


def maximum(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise maximum (the gradient is split evenly on ties, like PyTorch)."""
    a, b = promote(a, b)
    return _MinMax.apply(a, b, True)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise minimum (the gradient is split evenly on ties, like PyTorch)."""
    a, b = promote(a, b)
    return _MinMax.apply(a, b, False)


def lerp(a: Tensor, b: Tensor, weight: Any) -> Tensor:
    return a + weight * (b - a)


def addcmul(x: Tensor, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
    return x + value * t1 * t2


def addcdiv(x: Tensor, t1: Tensor, t2: Tensor, value: Any = 1) -> Tensor:
    return x + value * t1 / t2
