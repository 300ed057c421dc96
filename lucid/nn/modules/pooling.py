"""Pooling layers: max / average pooling in 1-3 dimensions and their adaptive forms.

Each class stores its configuration and calls the matching function of
:mod:`lucid.nn.functional`, which documents the exact semantics and output sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d",
]

_Size = int | Sequence[int]


# --------------------------------------------------------------------------- max pooling
class _MaxPoolNd(Module):
    """Configuration and forward shared by ``MaxPool1d/2d/3d`` (``_pool`` is the function)."""

    _pool: Any

    def __init__(self, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
                 dilation: _Size = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding,
                                self.dilation, ceil_mode=self.ceil_mode,
                                return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling (see :func:`lucid.nn.functional.max_pool1d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit ``-inf`` padding on both sides.
    dilation : int or tuple of int, default 1
        Spacing between window elements.
    return_indices : bool, default False
        Also return the argmax indices.
    ceil_mode : bool, default False
        Round the output size up.

    Shape
    -----
    - Input: ``(N, C, L)`` or ``(C, L)``.
    - Output: ``(N, C, L_out)`` or ``(C, L_out)``,
      ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.MaxPool1d(3, stride=2)(lucid.randn(20, 16, 50)).shape
    (20, 16, 24)
    """

    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling (see :func:`lucid.nn.functional.max_pool2d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit ``-inf`` padding on both sides.
    dilation : int or tuple of int, default 1
        Spacing between window elements.
    return_indices : bool, default False
        Also return the argmax indices.
    ceil_mode : bool, default False
        Round the output size up.

    Shape
    -----
    - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
    - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, each size given by the
      formula of :class:`MaxPool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.MaxPool2d((3, 2), stride=(2, 1))
    >>> m(lucid.randn(20, 16, 50, 32)).shape
    (20, 16, 24, 31)
    >>> m
    MaxPool2d(kernel_size=(3, 2), stride=(2, 1), padding=0, dilation=1, ceil_mode=False)
    """

    _pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling (see :func:`lucid.nn.functional.max_pool3d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit ``-inf`` padding on both sides.
    dilation : int or tuple of int, default 1
        Spacing between window elements.
    return_indices : bool, default False
        Also return the argmax indices.
    ceil_mode : bool, default False
        Round the output size up.

    Shape
    -----
    - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
    - Output: ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``, each size
      given by the formula of :class:`MaxPool1d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.MaxPool3d(3, stride=2)(lucid.randn(2, 4, 9, 10, 11)).shape
    (2, 4, 4, 4, 5)
    """

    _pool = staticmethod(F.max_pool3d)


# --------------------------------------------------------------------------- avg pooling
class AvgPool1d(Module):
    """1-d average pooling (see :func:`lucid.nn.functional.avg_pool1d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit zero padding on both sides.
    ceil_mode : bool, default False
        Round the output size up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.

    Shape
    -----
    - Input: ``(N, C, L)`` or ``(C, L)``.
    - Output: ``(N, C, L_out)`` or ``(C, L_out)``,
      ``L_out = floor((L + 2 * padding - kernel_size) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.AvgPool1d(3, stride=2)
    >>> m(lucid.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]]))
    tensor([[[2., 4., 6.]]])
    >>> m
    AvgPool1d(kernel_size=(3,), stride=(2,), padding=(0,))
    """

    def __init__(self, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        # PyTorch stores AvgPool1d's sizes as 1-tuples
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(v: Any) -> Any:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _AvgPoolNd(Module):
    """Configuration and forward shared by ``AvgPool2d/3d`` (``_pool`` is the function)."""

    _pool: Any

    def __init__(self, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-d average pooling (see :func:`lucid.nn.functional.avg_pool2d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit zero padding on both sides.
    ceil_mode : bool, default False
        Round the output size up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead.

    Shape
    -----
    - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
    - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, each size
      ``floor((in + 2 * padding - kernel_size) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AvgPool2d(2)(lucid.arange(16.0).reshape(1, 4, 4))
    tensor([[[ 2.5000,  4.5000],
             [10.5000, 12.5000]]])
    """

    _pool = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3-d average pooling (see :func:`lucid.nn.functional.avg_pool3d`).

    Parameters
    ----------
    kernel_size : int or tuple of int
        Window size (at most the input size).
    stride : int or tuple of int, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit zero padding on both sides.
    ceil_mode : bool, default False
        Round the output size up.
    count_include_pad : bool, default True
        Count the padding zeros in the divisor.
    divisor_override : int, optional
        Divide every window sum by this instead.

    Shape
    -----
    - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
    - Output: ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``, each size
      given by the formula of :class:`AvgPool2d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.AvgPool3d((3, 2, 2), stride=(2, 1, 2))
    >>> m(lucid.randn(20, 16, 50, 44, 31)).shape
    (20, 16, 24, 43, 15)
    """

    _pool = staticmethod(F.avg_pool3d)


# --------------------------------------------------------------------------- adaptive
class _AdaptiveAvgPoolNd(Module):
    """Configuration and forward shared by the adaptive average pools."""

    _pool: Any

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    """Configuration and forward shared by the adaptive max pools."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1-d adaptive average pooling to a fixed length
    (see :func:`lucid.nn.functional.adaptive_avg_pool1d`).

    Parameters
    ----------
    output_size : int
        Target length.

    Shape
    -----
    ``(N, C, L) -> (N, C, output_size)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveAvgPool1d(5)(lucid.randn(1, 64, 8)).shape
    (1, 64, 5)
    """

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2-d adaptive average pooling to a fixed size
    (see :func:`lucid.nn.functional.adaptive_avg_pool2d`).

    Parameters
    ----------
    output_size : int or tuple of (int or None)
        Target ``(H_out, W_out)``; ``None`` keeps that input size.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveAvgPool2d((5, None))(lucid.randn(1, 64, 8, 9)).shape
    (1, 64, 5, 9)
    """

    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-d adaptive average pooling to a fixed size
    (see :func:`lucid.nn.functional.adaptive_avg_pool3d`).

    Parameters
    ----------
    output_size : int or tuple of (int or None)
        Target ``(D_out, H_out, W_out)``; ``None`` keeps that input size.

    Shape
    -----
    ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveAvgPool3d((5, None, 7))(lucid.randn(1, 64, 8, 9, 10)).shape
    (1, 64, 5, 9, 7)
    """

    _pool = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-d adaptive max pooling to a fixed length
    (see :func:`lucid.nn.functional.adaptive_max_pool1d`).

    Parameters
    ----------
    output_size : int
        Target length.
    return_indices : bool, default False
        Also return the argmax indices.

    Shape
    -----
    ``(N, C, L) -> (N, C, output_size)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveMaxPool1d(5)(lucid.randn(1, 64, 8)).shape
    (1, 64, 5)
    """

    _pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-d adaptive max pooling to a fixed size
    (see :func:`lucid.nn.functional.adaptive_max_pool2d`).

    Parameters
    ----------
    output_size : int or tuple of (int or None)
        Target ``(H_out, W_out)``; ``None`` keeps that input size.
    return_indices : bool, default False
        Also return the argmax indices.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveMaxPool2d((None, 7))(lucid.randn(1, 64, 8, 9)).shape
    (1, 64, 8, 7)
    """

    _pool = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-d adaptive max pooling to a fixed size
    (see :func:`lucid.nn.functional.adaptive_max_pool3d`).

    Parameters
    ----------
    output_size : int or tuple of (int or None)
        Target ``(D_out, H_out, W_out)``; ``None`` keeps that input size.
    return_indices : bool, default False
        Also return the argmax indices.

    Shape
    -----
    ``(N, C, D, H, W) -> (N, C, D_out, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.AdaptiveMaxPool3d(7)(lucid.randn(1, 64, 8, 9, 10)).shape
    (1, 64, 7, 7, 7)
    """

    _pool = staticmethod(F.adaptive_max_pool3d)
