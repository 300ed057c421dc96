"""Dropout layers: ``Dropout`` (element-wise) and ``Dropout1d/2d/3d`` (whole channels).

Active in training mode only (``module.train()``, the default); in evaluation mode
(``module.eval()``) they return their input unchanged.
"""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    """Holds ``p`` and ``inplace`` and validates ``p``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training and scale the others by
    ``1 / (1 - p)``; the identity in evaluation mode.

    Parameters
    ----------
    p : float, default 0.5
        Probability of an element to be zeroed.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    Any shape; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Dropout(p=0.2)
    >>> m(lucid.ones(20, 16)).shape
    (20, 16)
    >>> x = lucid.ones(3)
    >>> m.eval()(x) is x
    True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs with probability ``p``
    during training (scaling the others by ``1 / (1 - p)``).

    Parameters
    ----------
    p : float, default 0.5
        Probability of a channel to be zeroed.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Dropout1d(p=0.2)(lucid.ones(20, 16, 32)).shape
    (20, 16, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` inputs with probability ``p`` during training
    (scaling the others by ``1 / (1 - p)``).

    Parameters
    ----------
    p : float, default 0.5
        Probability of a channel to be zeroed.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    ``(N, C, H, W)``; the output has the input's shape. As in PyTorch a 3-D input is read
    as ``(N, C, L)``, with a warning.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Dropout2d(p=0.2)(lucid.ones(20, 16, 32, 32)).shape
    (20, 16, 32, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs with probability
    ``p`` during training (scaling the others by ``1 / (1 - p)``).

    Parameters
    ----------
    p : float, default 0.5
        Probability of a channel to be zeroed.
    inplace : bool, default False
        Overwrite the input.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Dropout3d(p=0.2)(lucid.ones(2, 4, 3, 3, 3)).shape
    (2, 4, 3, 3, 3)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)
