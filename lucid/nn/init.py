"""Parameter initialisation (``lucid.nn.init``), with PyTorch's formulas.

Every function fills its tensor **in place**, outside autograd, and returns it. Random
values come from lucid's default generator (seed it with ``lucid.manual_seed``) or from the
``generator`` argument.

Examples
--------
>>> import lucid
>>> import lucid.nn as nn
>>> w = lucid.empty(3, 5)
>>> _ = nn.init.kaiming_uniform_(w, a=5 ** 0.5)
>>> bool((w.abs() <= 1 / 5 ** 0.5).all())
True
>>> nn.init._calculate_fan_in_and_fan_out(lucid.empty(16, 8, 3, 3))
(72, 144)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.random import Generator, rng

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy ``values`` into ``tensor`` in place, outside autograd."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a lucid.Tensor, got {type(tensor).__name__}")
    with no_grad():
        return tensor.copy_(Tensor._make(np.asarray(values)))


def _random_floats(tensor: Tensor, name: str) -> np.ndarray:
    """Check that ``tensor`` can hold random values; return its array."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a lucid.Tensor, got {type(tensor).__name__}")
    data = tensor._data
    if data.dtype.kind not in "fc":
        raise TypeError(f"{name} is only defined for floating point and complex tensors, got "
                        f"{tensor.dtype}")
    return data


def _draw(tensor: Tensor, name: str, sample: Any) -> Tensor:
    """Fill ``tensor`` with ``sample(shape)`` (real and imaginary parts drawn separately)."""
    data = _random_floats(tensor, name)
    values = sample(data.shape)
    if data.dtype.kind == "c":
        values = values + 1j * sample(data.shape)
    return _write(tensor, values)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (the scale factor of the init's std).

    Parameters
    ----------
    nonlinearity : str
        ``"linear"``, ``"conv1d"``... ``"conv_transpose3d"``, ``"sigmoid"``, ``"tanh"``,
        ``"relu"``, ``"leaky_relu"`` or ``"selu"``.
    param : float, optional
        The negative slope for ``"leaky_relu"`` (default 0.01).

    Returns
    -------
    float

    Examples
    --------
    >>> import lucid.nn as nn
    >>> nn.init.calculate_gain("relu")
    1.4142135623730951
    >>> nn.init.calculate_gain("leaky_relu", 0.2)
    1.3867504905630728
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with values drawn from the uniform distribution ``U(a, b)``.

    Parameters
    ----------
    tensor : Tensor
        Floating-point or complex tensor (complex: both parts drawn).
    a, b : float
        Lower and upper bound.
    generator : lucid.Generator, optional
        Source of randomness (the default generator when omitted).

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if a > b:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found from={a} "
                         f"> to={b}")
    g = rng(generator)
    return _draw(tensor, "uniform_", lambda shape: g.uniform(a, b, size=shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with values drawn from the normal distribution ``N(mean, std²)``.

    Parameters
    ----------
    tensor : Tensor
        Floating-point or complex tensor (complex: each part gets ``std / sqrt(2)``).
    mean, std : float
        Mean and standard deviation.
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    g = rng(generator)
    if _random_floats(tensor, "normal_").dtype.kind == "c":
        part = std / math.sqrt(2.0)
        mean_c = complex(mean)
        return _write(tensor, mean_c + g.normal(0.0, part, size=tensor._data.shape)
                      + 1j * g.normal(0.0, part, size=tensor._data.shape))
    return _draw(tensor, "normal_", lambda shape: g.normal(mean, std, size=shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` from ``N(mean, std²)`` truncated to ``[a, b]`` (rejection sampling).

    Parameters
    ----------
    tensor : Tensor
        Floating-point tensor.
    mean, std : float
        Parameters of the underlying normal distribution.
    a, b : float
        The truncation bounds (absolute values, not in units of ``std``).
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_: expected std > 0, got {std}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    g = rng(generator)
    data = _random_floats(tensor, "trunc_normal_")
    if data.dtype.kind == "c":
        raise TypeError("trunc_normal_ is not defined for complex tensors")

    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    mass = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
    out = np.empty(data.shape)
    pending = np.ones(data.shape, dtype=bool)
    if mass > 0.3:
        # plenty of mass inside: redraw normal samples that fall outside
        while pending.any():
            out[pending] = g.normal(mean, std, size=int(pending.sum()))
            pending &= (out < a) | (out > b)
    else:
        # little mass inside: uniform proposals on [a, b], accepted by the density ratio
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        while pending.any():
            n = int(pending.sum())
            cand = g.uniform(a, b, size=n)
            log_ratio = -0.5 * ((cand - mean) / std) ** 2 - log_peak
            accept = np.log(g.uniform(size=n)) <= log_ratio
            idx = np.flatnonzero(pending)[accept]
            out.flat[idx] = cand[accept]
            pending.flat[idx] = False
    return _write(tensor, out)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``; returns it.

    Parameters
    ----------
    tensor : Tensor
    val : float
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"constant_: expected a lucid.Tensor, got {type(tensor).__name__}")
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones; returns it."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros; returns it."""
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-d ``tensor`` with the identity matrix (ones on the diagonal); returns it.

    Parameters
    ----------
    tensor : Tensor
        A 2-d tensor (need not be square).
    """
    if not isinstance(tensor, Tensor) or tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-d convolution weight with the Dirac delta (identity convolution).

    Parameters
    ----------
    tensor : Tensor
        Weight of shape ``(out_channels, in_channels, *kernel)``.
    groups : int, default 1
        Number of groups; ``out_channels`` must be divisible by it.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if not isinstance(tensor, Tensor) or tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    values = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min(out_per_group, sizes[1])):
            values[(g * out_per_group + d, d, *centre)] = 1
    return _write(tensor, values)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: ``size(1)`` resp. ``size(0)`` times the
    receptive field (the product of the remaining dimensions)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Generator | None = None) -> Tensor:
    """Glorot uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    tensor : Tensor
        At least 2-d.
    gain : float, default 1.0
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Generator | None = None) -> Tensor:
    """Glorot normal: ``N(0, std²)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    tensor : Tensor
        At least 2-d.
    gain : float, default 1.0
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He uniform: ``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan)``.

    Parameters
    ----------
    tensor : Tensor
        At least 2-d.
    a : float, default 0
        Negative slope of the rectifier that follows (for ``"leaky_relu"``).
    mode : {"fan_in", "fan_out"}
        Preserve the variance of the forward (``fan_in``) or backward pass.
    nonlinearity : str, default "leaky_relu"
        See :func:`calculate_gain`.
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He normal: ``N(0, std²)`` with ``std = gain / sqrt(fan)``.

    Parameters
    ----------
    tensor : Tensor
        At least 2-d.
    a : float, default 0
        Negative slope of the rectifier that follows (for ``"leaky_relu"``).
    mode : {"fan_in", "fan_out"}
    nonlinearity : str, default "leaky_relu"
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with a (semi-)orthogonal matrix, flattened beyond dimension 0.

    Parameters
    ----------
    tensor : Tensor
        At least 2-d, floating point.
    gain : float, default 1
        Scale factor.
    generator : lucid.Generator, optional

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if not isinstance(tensor, Tensor) or tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    _random_floats(tensor, "orthogonal_")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = rng(generator).normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tensor.shape))
