"""Activation functions (``F.leaky_relu``, ``F.gelu``, ``F.silu``, ...).

Each activation is a :class:`~lucid.autograd.Function` whose forward is one NumPy expression
with PyTorch's formula. The piecewise-linear ones (leaky ReLU, hardtanh, hardsigmoid) pass the
gradient through a mask; the smooth ones share :class:`_Smooth`, which writes the derivative
once and evaluates it on arrays for a plain backward, or as differentiable lucid operations
when a graph of the gradient is recorded (second derivatives). ``relu``, ``sigmoid``,
``tanh``, ``softmax`` and ``log_softmax`` come from :mod:`lucid._ops`; ``relu`` is wrapped
here to accept PyTorch's ``inplace`` flag.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lucid._ops import elementwise as E
from lucid._ops.inplace import apply_inplace
from lucid._tensor import Tensor
from lucid.autograd.function import Function
from lucid.autograd.grad_mode import is_grad_enabled

__all__ = [
    "elu", "elu_", "gelu", "hardsigmoid", "hardswish", "hardtanh", "hardtanh_", "leaky_relu",
    "leaky_relu_", "mish", "relu", "relu6", "relu_", "silu", "softplus",
]


# --------------------------------------------------------------------------- helpers
def _check_tensor(x: Any, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")


def _check_floating(x: Any, name: str) -> None:
    """PyTorch implements these activations for real floating dtypes only."""
    _check_tensor(x, name)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(
            f"{name}(): expected a floating point input, but got a tensor of dtype {x.dtype}"
        )


def _maybe_inplace(x: Tensor, inplace: bool, fn: Any, *args: Any) -> Tensor:
    """``fn(x, *args)``, written back into ``x`` when ``inplace``."""
    if inplace:
        return apply_inplace(x, lambda t: fn(t, *args))
    return fn(x, *args)


# Coefficients of W. J. Cody's rational Chebyshev approximations of erf / erfc
# (Math. Comp. 23, 1969), accurate to double precision.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """``exp(-y*y)`` without the rounding error of squaring ``y`` first (Cody's trick)."""
    head = np.trunc(y * 16) / 16
    return np.exp(-head * head) * np.exp(-(y - head) * (y + head))


def _erf_array(x: np.ndarray) -> np.ndarray:
    """Error function of a floating array, in ``x.dtype``.

    float64 uses Cody's approximations (double precision); float32 and float16 use a
    rational approximation accurate to a few float32 ulps, which is much faster.
    """
    if x.dtype == np.float64:
        return _erf_cody(x)
    return _erf_float32(x.astype(np.float32, copy=False)).astype(x.dtype, copy=False)


# Numerator (odd, in powers of x**2 from the highest) and denominator (even) coefficients
# of the float32 erf approximation used by Eigen / XLA; erf(+-4) == +-1 in float32.
_ERF32_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
            -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
            -1.60960333262415e-02)
_ERF32_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
            -7.37332916720468e-03, -1.42647390514189e-02)


def _erf_float32(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, np.float32(-4), np.float32(4))
    x2 = x * x
    num = np.full_like(x, _ERF32_P[0])
    for c in _ERF32_P[1:]:
        num *= x2
        num += np.float32(c)
    den = np.full_like(x, _ERF32_Q[0])
    for c in _ERF32_Q[1:]:
        den *= x2
        den += np.float32(c)
    num *= x
    num /= den
    return num


def _erf_cody(x: np.ndarray) -> np.ndarray:
    y = np.abs(x)
    out = y.copy()  # NaN stays NaN
    small = y <= 0.46875
    z = y[small] ** 2
    num, den = _ERF_A[4] * z, z
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num, den = (num + a) * z, (den + b) * z
    out[small] = y[small] * (num + _ERF_A[3]) / (den + _ERF_B[3])
    mid = ~small & (y <= 4.0)
    ym = y[mid]
    num, den = _ERFC_C[8] * ym, ym
    for c, d in zip(_ERFC_C[:7], _ERFC_D[:7]):
        num, den = (num + c) * ym, (den + d) * ym
    out[mid] = 1 - _exp_minus_square(ym) * (num + _ERFC_C[7]) / (den + _ERFC_D[7])
    big = y > 4.0
    yb = np.minimum(y[big], 6.0)  # erf(6) == 1 in double precision
    z = 1 / (yb * yb)
    num, den = _ERFC_P[5] * z, z
    for p, q in zip(_ERFC_P[:4], _ERFC_Q[:4]):
        num, den = (num + p) * z, (den + q) * z
    tail = (1 / math.sqrt(math.pi) - z * (num + _ERFC_P[4]) / (den + _ERFC_Q[4])) / yb
    out[big] = 1 - _exp_minus_square(yb) * tail
    return np.copysign(out, x)


class _Erf(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (E.exp(-x * x) * (2 / math.sqrt(math.pi)))


class _ArrayOps:
    """The functions derivative formulas use, on NumPy arrays (fast, first order only)."""

    exp = staticmethod(np.exp)
    tanh = staticmethod(np.tanh)
    where = staticmethod(np.where)
    erf = staticmethod(_erf_array)

    @staticmethod
    def sigmoid(a: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-a))

    @staticmethod
    def softplus(a: np.ndarray) -> np.ndarray:
        return _softplus_array(a, 1.0, 20.0)


class _TensorOps:
    """The same functions as differentiable lucid operations (for higher-order gradients)."""

    exp = staticmethod(E.exp)
    tanh = staticmethod(E.tanh)
    where = staticmethod(E.where)
    sigmoid = staticmethod(E.sigmoid)

    @staticmethod
    def erf(a: Tensor) -> Tensor:
        return _Erf.apply(a)

    @staticmethod
    def softplus(a: Tensor) -> Tensor:
        return _Softplus.apply(a, 1.0, 20.0)


class _Smooth(Function):
    """An element-wise activation ``y = value(x, *params)`` with derivative
    ``derivative(x, ops, *params)``.

    The derivative is one formula written against ``ops`` (:class:`_ArrayOps` or
    :class:`_TensorOps`): backward evaluates it on arrays, or, when the graph of the
    gradient is being recorded, on tensors so that it can be differentiated again.
    """

    _array_forward = True

    @staticmethod
    def value(x: np.ndarray, *params: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def derivative(x: Any, ops: Any, *params: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x, *params):
        ctx.save_for_backward(x)
        ctx.params = params
        return type(ctx).value(x, *params)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if is_grad_enabled():
            dx = g * type(ctx).derivative(x, _TensorOps, *ctx.params)
        else:
            dx = g * Tensor._make(type(ctx).derivative(x._data, _ArrayOps, *ctx.params))
        return (dx,) + (None,) * len(ctx.params)


# --------------------------------------------------------------------------- relu family
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Rectified linear unit, ``max(x, 0)``.

    Parameters
    ----------
    input : Tensor
        Any shape.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape and dtype as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.relu(lucid.tensor([-1.0, 0.5]))
    tensor([0.0000, 0.5000])
    """
    _check_tensor(input, "relu")
    return input.relu_() if inplace else E.relu(input)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return relu(input, inplace=True)


class _LeakyReLU(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, slope):
        ctx.positive, ctx.slope = x > 0, slope
        return np.where(ctx.positive, x, x * x.dtype.type(slope))

    @staticmethod
    def backward(ctx, g):
        return E.where(Tensor._make(ctx.positive), g, g * ctx.slope), None


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """Leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``.

    Parameters
    ----------
    input : Tensor
        Floating tensor of any shape.
    negative_slope : float, default 0.01
        Slope for negative inputs.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.leaky_relu(lucid.tensor([-2.0, 3.0]), 0.1)
    tensor([-0.2000,  3.0000])
    """
    _check_floating(input, "leaky_relu")
    return _maybe_inplace(input, inplace, _LeakyReLU.apply, float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


class _ELU(_Smooth):
    @staticmethod
    def value(x, alpha):
        return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def derivative(x, ops, alpha):
        # Only x < 0 is differentiated again (PyTorch's double backward); the unused branch
        # sees exp(0) instead of overflowing, so no inf * 0 = nan reaches the gradient.
        return ops.where(x > 0, 1.0, ops.exp(ops.where(x < 0, x, 0.0)) * alpha)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Parameters
    ----------
    input : Tensor
        Floating tensor of any shape.
    alpha : float, default 1.0
        Scale of the negative part.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.elu(lucid.tensor([0.0, 2.0]))
    tensor([0., 2.])
    """
    _check_floating(input, "elu")
    return _maybe_inplace(input, inplace, _ELU.apply, float(alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`."""
    return elu(input, alpha, inplace=True)


class _Hardtanh(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.inside = (x > lo) & (x < hi)
        return np.minimum(np.maximum(x, x.dtype.type(lo)), x.dtype.type(hi))

    @staticmethod
    def backward(ctx, g):
        # PyTorch passes no gradient at the bounds themselves
        return E.where(Tensor._make(ctx.inside), g, 0.0), None, None


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``; the gradient is zero outside the open interval.

    Parameters
    ----------
    input : Tensor
        Tensor of any shape (integer tensors are clamped too).
    min_val, max_val : float, default -1.0, 1.0
        The bounds; ``min_val`` may not exceed ``max_val``.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape and dtype as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.hardtanh(lucid.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    _check_tensor(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(
            f"min_val cannot be greater than max_val, got min_val={min_val} and "
            f"max_val={max_val}"
        )
    if input._data.dtype.kind not in "fiu":
        raise NotImplementedError(f"hardtanh(): not implemented for dtype {input.dtype}")
    return _maybe_inplace(input, inplace, _Hardtanh.apply, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (:func:`hardtanh` with bounds 0 and 6).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.relu6(lucid.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


# --------------------------------------------------------------------------- smooth units
_SQRT1_2 = math.sqrt(0.5)
_GELU_PDF = 1 / math.sqrt(2 * math.pi)  # normal density at 0
_GELU_BETA = math.sqrt(2 / math.pi)  # sqrt(2/pi), the tanh approximation's scale
_GELU_KAPPA = 0.044715


class _GELU(_Smooth):
    @staticmethod
    def value(x, approximate):
        dt = x.dtype.type
        if approximate == "tanh":
            inner = dt(_GELU_BETA) * (x + dt(_GELU_KAPPA) * x * x * x)
            return dt(0.5) * x * (1 + np.tanh(inner))
        return x * dt(0.5) * (1 + _erf_array(x * dt(_SQRT1_2)))

    @staticmethod
    def derivative(x, ops, approximate):
        if approximate == "tanh":
            t = ops.tanh((x + x * x * x * _GELU_KAPPA) * _GELU_BETA)
            return (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * ((x * x * (3 * _GELU_KAPPA) + 1)
                                                             * _GELU_BETA)
        cdf = (ops.erf(x * _SQRT1_2) + 1) * 0.5
        return cdf + x * (ops.exp(x * x * -0.5) * _GELU_PDF)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, ``x * Phi(x)``.

    Parameters
    ----------
    input : Tensor
        Floating tensor of any shape.
    approximate : {'none', 'tanh'}, default 'none'
        ``'none'`` uses the exact normal CDF (through ``erf``); ``'tanh'`` uses
        ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.gelu(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    _check_floating(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(
            f"gelu(): approximate argument must be either 'none' or 'tanh', got {approximate!r}"
        )
    return _GELU.apply(input, approximate)


class _SiLU(_Smooth):
    @staticmethod
    def value(x):
        return x / (1 + np.exp(-x))

    @staticmethod
    def derivative(x, ops):
        s = ops.sigmoid(x)
        return s * (x * (1 - s) + 1)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.silu(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """
    _check_floating(input, "silu")
    return _maybe_inplace(input, inplace, _SiLU.apply)


def _softplus_array(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    dt = x.dtype.type
    xb = x * dt(beta)
    return np.where(xb > threshold, x, np.log1p(np.exp(np.minimum(xb, threshold))) / dt(beta))


class _Softplus(_Smooth):
    @staticmethod
    def value(x, beta, threshold):
        return _softplus_array(x, beta, threshold)

    @staticmethod
    def derivative(x, ops, beta, threshold):
        xb = x * beta
        # PyTorch differentiates again only where beta * x < threshold
        z = ops.exp(ops.where(xb < threshold, xb, threshold))
        return ops.where(xb > threshold, 1.0, z / (z + 1))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth ReLU, ``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold``.

    Parameters
    ----------
    input : Tensor
        Floating tensor of any shape.
    beta : float, default 1.0
        Sharpness.
    threshold : float, default 20.0
        Above ``beta * x > threshold`` the function returns ``x`` (for numerical stability).

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.softplus(lucid.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.0000])
    """
    _check_floating(input, "softplus")
    return _Softplus.apply(input, float(beta), float(threshold))


class _Mish(_Smooth):
    @staticmethod
    def value(x):
        return x * np.tanh(np.log1p(np.exp(x)))

    @staticmethod
    def derivative(x, ops):
        t = ops.tanh(ops.softplus(x))
        return t + x * ops.sigmoid(x) * (1 - t * t)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish, ``x * tanh(softplus(x))``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.mish(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8651])
    """
    _check_floating(input, "mish")
    return _maybe_inplace(input, inplace, _Mish.apply)


class _Hardswish(_Smooth):
    @staticmethod
    def value(x):
        dt = x.dtype.type
        return x * np.minimum(np.maximum(x + dt(3), dt(0)), dt(6)) / dt(6)

    @staticmethod
    def derivative(x, ops):
        return ops.where(x <= -3, 0.0, ops.where(x < 3, x / 3 + 0.5, 1.0))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hard swish, ``x * relu6(x + 3) / 6``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.hardswish(lucid.tensor([-4.0, 0.0, 1.0, 4.0]))
    tensor([-0.0000,  0.0000,  0.6667,  4.0000])
    """
    _check_floating(input, "hardswish")
    return _maybe_inplace(input, inplace, _Hardswish.apply)


# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, for every dtype.
_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))


class _Hardsigmoid(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        ctx.inside = (x > -3) & (x < 3)
        dt = x.dtype.type
        return np.minimum(np.maximum(x + dt(3), dt(0)), dt(6)) / dt(6)

    @staticmethod
    def backward(ctx, g):
        return E.where(Tensor._make(ctx.inside), g * _ONE_SIXTH, 0.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hard sigmoid, ``relu6(x + 3) / 6``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.hardsigmoid(lucid.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    _check_floating(input, "hardsigmoid")
    return _maybe_inplace(input, inplace, _Hardsigmoid.apply)
