"""Activation modules: thin wrappers that hold an activation's settings and call
:mod:`lucid.nn.functional`. (``ReLU`` and ``Identity`` live in :mod:`.basic`.)"""

from __future__ import annotations

from collections.abc import Callable

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module

__all__ = [
    "ELU", "GELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSoftmax", "Mish",
    "ReLU6", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class _InplaceActivation(Module):
    """An activation whose only setting is ``inplace``: ``forward`` calls ``_fn``.

    ``_repr_inplace`` is False for the classes whose PyTorch repr never shows the flag.
    """

    _fn: Callable[[Tensor, bool], Tensor]
    _repr_inplace = True

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace) if self._repr_inplace else ""


class LeakyReLU(Module):
    """``x`` where ``x > 0``, else ``negative_slope * x`` (see :func:`F.leaky_relu`).

    Parameters
    ----------
    negative_slope : float, default 0.01
        Slope for negative inputs.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.LeakyReLU(0.1)(lucid.tensor([-2.0, 3.0]))
    tensor([-0.2000,  3.0000])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Parameters
    ----------
    alpha : float, default 1.0
        Scale of the negative part.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.ELU()(lucid.tensor([0.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)`` (exact, or its tanh approximation).

    Parameters
    ----------
    approximate : {'none', 'tanh'}, default 'none'
        Which form to compute (see :func:`F.gelu`).

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.GELU()(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceActivation):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.SiLU()(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """

    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """Mish, ``x * tanh(softplus(x))``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Mish()(lucid.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8651])
    """

    _fn = staticmethod(F.mish)


class Sigmoid(Module):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Sigmoid()(lucid.tensor([0.0]))
    tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Tanh()(lucid.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim`` (each slice sums to 1).

    Parameters
    ----------
    dim : int, optional
        The dimension to normalize. ``None`` uses PyTorch's legacy choice (0 for 0-, 1- and
        3-d inputs, else 1); pass it explicitly.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Softmax(dim=-1)(lucid.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``log(softmax(x))`` along ``dim``, computed stably.

    Parameters
    ----------
    dim : int, optional
        The dimension to normalize (see :class:`Softmax` for ``None``).

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.LogSoftmax(dim=1)(lucid.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    Parameters
    ----------
    beta : float, default 1.0
        Sharpness.
    threshold : float, default 20.0
        Above it the function is the identity.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Softplus()(lucid.tensor([0.0]))
    tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """Clamp to ``[min_val, max_val]`` (zero gradient outside the open interval).

    Parameters
    ----------
    min_val, max_val : float, default -1.0, 1.0
        The bounds (``max_val`` must exceed ``min_val``).
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Hardtanh(-2.0, 2.0)(lucid.tensor([-3.0, 1.0, 3.0]))
    tensor([-2.,  1.,  2.])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        super().__init__()
        if not max_val > min_val:
            raise ValueError(
                f"Hardtanh: max_val must be greater than min_val, got min_val={min_val} and "
                f"max_val={max_val}"
            )
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (
            ", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.ReLU6()(lucid.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Hardswish(_InplaceActivation):
    """Hard swish, ``x * relu6(x + 3) / 6``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Hardswish()(lucid.tensor([0.0, 4.0]))
    tensor([0., 4.])
    """

    _fn = staticmethod(F.hardswish)
    _repr_inplace = False  # PyTorch's repr omits it


class Hardsigmoid(_InplaceActivation):
    """Hard sigmoid, ``relu6(x + 3) / 6``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Hardsigmoid()(lucid.tensor([0.0, 4.0]))
    tensor([0.5000, 1.0000])
    """

    _fn = staticmethod(F.hardsigmoid)
    _repr_inplace = False  # PyTorch's repr omits it
