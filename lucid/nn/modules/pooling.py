"""Pooling layers: max / average pooling in 1-3 dimensions and their adaptive forms.

Each class stores its configuration and calls the matching function of
:mod:`lucid.nn.functional`; see there for the exact semantics and output sizes.
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


_MAX_DOC = """{nd}-d max pooling (see :func:`lucid.nn.functional.max_pool{nd}d`).

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
    - Input: ``(N, C, {dims})`` or ``(C, {dims})``.
    - Output: ``(N, C, {outs})`` or ``(C, {outs})``, with
      ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    {example}
    """


class MaxPool1d(_MaxPoolNd):
    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    _pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    _pool = staticmethod(F.max_pool3d)


MaxPool1d.__doc__ = _MAX_DOC.format(nd=1, dims="L", outs="L_out", example=""">>> m = nn.MaxPool1d(3, stride=2)
    >>> m(lucid.randn(20, 16, 50)).shape
    (20, 16, 24)""")
MaxPool2d.__doc__ = _MAX_DOC.format(nd=2, dims="H, W", outs="H_out, W_out", example=""">>> m = nn.MaxPool2d((3, 2), stride=(2, 1))
    >>> m(lucid.randn(20, 16, 50, 32)).shape
    (20, 16, 24, 31)
    >>> m
    MaxPool2d(kernel_size=(3, 2), stride=(2, 1), padding=0, dilation=1, ceil_mode=False)""")
MaxPool3d.__doc__ = _MAX_DOC.format(nd=3, dims="D, H, W", outs="D_out, H_out, W_out",
                                    example=""">>> m = nn.MaxPool3d(3, stride=2)
    >>> m(lucid.randn(2, 4, 9, 10, 11)).shape
    (2, 4, 4, 4, 5)""")


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
    """PyTorch stores AvgPool1d's sizes as 1-tuples."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _AvgPoolNd(Module):
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


_AVG_DOC = """{nd}-d average pooling (see :func:`lucid.nn.functional.avg_pool{nd}d`).

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
    - Input: ``(N, C, {dims})`` or ``(C, {dims})``.
    - Output: ``(N, C, {outs})`` or ``(C, {outs})``, with
      ``out = floor((in + 2 * padding - kernel_size) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    {example}
    """


class AvgPool2d(_AvgPoolNd):
    _pool = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    _pool = staticmethod(F.avg_pool3d)


AvgPool2d.__doc__ = _AVG_DOC.format(nd=2, dims="H, W", outs="H_out, W_out", example=""">>> m = nn.AvgPool2d(2)
    >>> m(lucid.arange(16.0).reshape(1, 4, 4))
    tensor([[[ 2.5000,  4.5000],
             [10.5000, 12.5000]]])""")
AvgPool3d.__doc__ = _AVG_DOC.format(nd=3, dims="D, H, W", outs="D_out, H_out, W_out",
                                    example=""">>> m = nn.AvgPool3d((3, 2, 2), stride=(2, 1, 2))
    >>> m(lucid.randn(20, 16, 50, 44, 31)).shape
    (20, 16, 24, 43, 15)""")


# --------------------------------------------------------------------------- adaptive
class _AdaptivePoolNd(Module):
    _pool: Any

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(input, self.output_size, self.return_indices)


_ADAPTIVE_DOC = """{nd}-d adaptive {kind} pooling to a fixed ``output_size``
    (see :func:`lucid.nn.functional.adaptive_{short}_pool{nd}d`).

    Parameters
    ----------
    output_size : int or tuple of (int or None)
        Target size; ``None`` keeps that dimension's input size.{extra}

    Shape
    -----
    - Input: ``(N, C, {dims})`` or ``(C, {dims})``.
    - Output: ``(N, C, *output_size)`` or ``(C, *output_size)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Adaptive{cls}Pool{nd}d({size})
    >>> m(lucid.randn(1, 64, {ins})).shape
    {out}
    """
_RETURN_INDICES = """
    return_indices : bool, default False
        Also return the argmax indices."""


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    _pool = staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(F.adaptive_max_pool3d)


for _cls, _nd, _size, _ins, _out in (
    (AdaptiveAvgPool1d, 1, "5", "8", "(1, 64, 5)"),
    (AdaptiveAvgPool2d, 2, "(5, 7)", "8, 9", "(1, 64, 5, 7)"),
    (AdaptiveAvgPool3d, 3, "(5, None, 7)", "8, 9, 10", "(1, 64, 5, 9, 7)"),
    (AdaptiveMaxPool1d, 1, "5", "8", "(1, 64, 5)"),
    (AdaptiveMaxPool2d, 2, "(None, 7)", "8, 9", "(1, 64, 8, 7)"),
    (AdaptiveMaxPool3d, 3, "7", "8, 9, 10", "(1, 64, 7, 7, 7)"),
):
    _max = _cls.__name__.startswith("AdaptiveMax")
    _cls.__doc__ = _ADAPTIVE_DOC.format(
        nd=_nd, kind="max" if _max else "average", short="max" if _max else "avg",
        cls="Max" if _max else "Avg", extra=_RETURN_INDICES if _max else "",
        dims=("L", "H, W", "D, H, W")[_nd - 1], size=_size, ins=_ins, out=_out,
    )
del _cls, _nd, _size, _ins, _out, _max
