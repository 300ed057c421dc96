"""Small parameter-free modules: ``Identity`` and ``ReLU``."""

from __future__ import annotations

from typing import Any

import lucid.nn.functional as F
from lucid._tensor import Tensor
from lucid.nn.modules.module import Module

__all__ = ["Identity", "ReLU"]


class Identity(Module):
    """Returns its input unchanged; a placeholder layer.

    Parameters
    ----------
    *args, **kwargs
        Accepted and ignored, so ``Identity`` can stand in for any layer.

    Shape
    -----
    - Input: any shape.
    - Output: the same tensor.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> x = lucid.randn(2, 3)
    >>> nn.Identity(54, unused="ignored")(x) is x
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        """Return ``input``."""
        return input


class ReLU(Module):
    """Applies the rectified linear unit element-wise: ``ReLU(x) = max(0, x)``.

    Parameters
    ----------
    inplace : bool, default False
        Overwrite the input with the result.

    Shape
    -----
    - Input: any shape.
    - Output: same shape as the input.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.ReLU()
    >>> m(lucid.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    >>> nn.ReLU(inplace=True)
    ReLU(inplace=True)
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ReLU to ``input``."""
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """``"inplace=True"`` when in place, else empty."""
        return "inplace=True" if self.inplace else ""
