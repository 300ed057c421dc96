"""Per-sample normalization layers: ``LayerNorm`` and ``GroupNorm``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucid import _dtype as D
from lucid._backend import DeviceLike
from lucid._creation import empty
from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn import init
from lucid.nn.modules.linear import _param_dtype
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter

__all__ = ["GroupNorm", "LayerNorm"]


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dimensions of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and (biased) variance
    of each sample's last ``len(normalized_shape)`` dimensions; the same in training and
    evaluation.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing shape to normalize over.
    eps : float, default 1e-5
        Added to the variance for numerical stability.
    elementwise_affine : bool, default True
        Learn an element-wise ``weight`` (init 1) and ``bias`` (init 0) of shape
        ``normalized_shape``.
    bias : bool, default True
        Learn the bias (with ``elementwise_affine``).
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of the parameters.

    Shape
    -----
    ``(*, *normalized_shape)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.LayerNorm(10)
    >>> m
    LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> y = m(lucid.randn(20, 5, 10))
    >>> bool(abs(y.mean(-1)).max() < 1e-5)
    True
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(normalized_shape)
        if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in self.normalized_shape):
            raise TypeError(
                f"LayerNorm: normalized_shape must be an int or a sequence of non-negative "
                f"ints, got {normalized_shape!r}"
            )
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(empty(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``weight`` to 1 and ``bias`` to 0."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization: the channels are split into ``num_groups`` groups, each
    normalized per sample over its channels and all positions, then scaled and shifted per
    channel.

    Parameters
    ----------
    num_groups : int
        Number of groups; must divide ``num_channels``.
    num_channels : int
        Number of channels ``C``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.
    affine : bool, default True
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of the parameters.
    bias : bool, default True
        Learn the bias (with ``affine``).

    Shape
    -----
    ``(N, C, *)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.GroupNorm(3, 6)
    >>> m
    GroupNorm(3, 6, eps=1e-05, affine=True, bias=True)
    >>> m(lucid.randn(20, 6, 10, 10)).shape
    (20, 6, 10, 10)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: DeviceLike = None, dtype: D.DTypeLike = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if not isinstance(num_groups, int) or num_groups <= 0:
            raise ValueError(f"GroupNorm: num_groups must be a positive int, got {num_groups!r}")
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(empty(num_channels, dtype=dt))
            if bias:
                self.bias = Parameter(empty(num_channels, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``weight`` to 1 and ``bias`` to 0."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
