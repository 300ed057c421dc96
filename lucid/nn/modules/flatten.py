"""Reshaping layers: ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten the dimensions ``start_dim`` to ``end_dim`` (inclusive) into one.

    Parameters
    ----------
    start_dim : int, default 1
        First dimension to flatten (the batch dimension 0 is kept by default).
    end_dim : int, default -1
        Last dimension to flatten.

    Shape
    -----
    - Input: ``(*, S_start, ..., S_end, *)``.
    - Output: ``(*, S_start * ... * S_end, *)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Flatten()(lucid.zeros(32, 1, 5, 5)).shape
    (32, 25)
    >>> nn.Flatten(0, 2)(lucid.zeros(32, 1, 5, 5)).shape
    (160, 5)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension ``dim`` into the shape ``unflattened_size``.

    Parameters
    ----------
    dim : int
        The dimension to unflatten.
    unflattened_size : tuple or list of int
        Its new shape; one entry may be ``-1`` (inferred). The product must equal the
        size of ``dim``.

    Shape
    -----
    - Input: ``(*, S_dim, *)``.
    - Output: ``(*, U_1, ..., U_n, *)`` with ``U_1 * ... * U_n = S_dim``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.Unflatten(1, (2, 5, 5))(lucid.zeros(2, 50)).shape
    (2, 2, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                "unflattened_size must be a tuple or list of ints, but found type "
                f"{type(unflattened_size).__name__}"
            )
        for i, s in enumerate(unflattened_size):
            if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
                raise TypeError(
                    f"unflattened_size must be tuple of ints, but found element of type "
                    f"{type(s).__name__} at pos {i}"
                )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
