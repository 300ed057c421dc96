"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and their lazy forms.

One base class, :class:`_ConvNd`, validates the configuration, owns the parameters and
their initialisation, and calls :mod:`lucid.nn.functional`; the per-rank classes only fix
the number of spatial dimensions and the signature. The lazy classes infer ``in_channels``
from the first input (see :class:`~lucid.nn.modules.lazy.LazyModuleMixin`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import lucid.nn.functional as F
from lucid import _dtype as D
from lucid._backend import DeviceLike, as_device
from lucid._creation import empty
from lucid._tensor import Tensor
from lucid.nn import init
from lucid.nn.modules.lazy import LazyModuleMixin
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter, UninitializedParameter, is_lazy

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
]

_Size = int | tuple[int, ...]
_PADDING_STRINGS = ("same", "valid")
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints (an int is repeated)."""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")


def _channels(value: Any, name: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return int(value)


def _require(values: tuple[int, ...], ok: Any, message: str) -> None:
    if not all(ok(v) for v in values):
        raise ValueError(message)


class _ConvNd(Module):
    """Shared implementation of the convolution and transposed-convolution layers.

    Subclasses set ``_num_spatial_dims`` and ``_functional`` (the name of the function in
    :mod:`lucid.nn.functional`). ``in_channels=None`` creates
    :class:`~lucid.nn.UninitializedParameter` placeholders (lazy modules).
    """

    _num_spatial_dims: int
    _functional: str

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: _Size,
                 stride: _Size, padding: _Size | str, dilation: _Size, transposed: bool,
                 output_padding: _Size, groups: int, bias: bool, padding_mode: str,
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__()
        n = self._num_spatial_dims
        if in_channels is not None:
            in_channels = _channels(in_channels, "in_channels")
        out_channels = _channels(out_channels, "out_channels")
        kernel_size = _ntuple(kernel_size, n, "kernel_size")
        stride = _ntuple(stride, n, "stride")
        dilation = _ntuple(dilation, n, "dilation")
        output_padding = _ntuple(output_padding, n, "output_padding")
        if isinstance(padding, str):
            if transposed:
                raise ValueError(f"{type(self).__name__} does not support string padding "
                                 f"({padding!r}); padding must be an int or a tuple of {n} ints")
        else:
            padding = _ntuple(padding, n, "padding")
        if not _is_int(groups):
            raise TypeError(f"groups must be an int, got {type(groups).__name__} ({groups!r})")
        if transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels is not None and in_channels % groups != 0:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} and groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels must be divisible by groups, got out_channels="
                             f"{out_channels} and groups={groups}")
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{set(_PADDING_STRINGS)}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        _require(kernel_size, lambda k: k > 0,
                 f"kernel_size should be greater than zero, got kernel_size={kernel_size}")
        _require(stride, lambda s: s > 0,
                 f"non-positive stride is not supported, got stride={stride}")
        _require(dilation, lambda d: d > 0,
                 f"dilation should be greater than zero, got dilation={dilation}")
        if not isinstance(padding, str):
            _require(padding, lambda p: p >= 0,
                     f"negative padding is not supported, got padding={padding}")
        _require(output_padding, lambda p: p >= 0,
                 f"negative output_padding is not supported, got output_padding={output_padding}")
        if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
        as_device(device)
        dt = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
        if not (dt.is_floating_point or dt.is_complex):
            raise TypeError(f"{type(self).__name__}: dtype must be a floating point or complex "
                            f"dtype, got {dt}")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = int(groups)
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._reversed_padding(padding)
        if in_channels is None:
            self.weight = UninitializedParameter(device=device, dtype=dt)
        else:
            self.weight = Parameter(empty(self._weight_shape(in_channels), dtype=dt,
                                          device=device))
        if not bias:
            self.register_parameter("bias", None)
        elif in_channels is None:
            self.bias = UninitializedParameter(device=device, dtype=dt)
        else:
            self.bias = Parameter(empty(out_channels, dtype=dt, device=device))
        self.reset_parameters()

    def _reversed_padding(self, padding: tuple[int, ...] | str) -> list[int]:
        """The padding for ``F.pad`` (last dimension first, each side given)."""
        if not isinstance(padding, str):
            return [p for p in reversed(padding) for _ in range(2)]
        out = [0, 0] * self._num_spatial_dims
        if padding == "same":
            for i, (d, k) in enumerate(zip(reversed(self.dilation), reversed(self.kernel_size))):
                total = d * (k - 1)
                out[2 * i] = total // 2
                out[2 * i + 1] = total - total // 2
        return out

    def _weight_shape(self, in_channels: int) -> tuple[int, ...]:
        if self.transposed:
            return (in_channels, self.out_channels // self.groups, *self.kernel_size)
        return (self.out_channels, in_channels // self.groups, *self.kernel_size)

    def reset_parameters(self) -> None:
        """Re-draw the weight (Kaiming uniform, ``a=sqrt(5)``) and the bias
        (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``); placeholders are left alone."""
        self._init_weight()
        self._init_bias()

    def _init_weight(self) -> None:
        if not is_lazy(self.weight):
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def _init_bias(self) -> None:
        if self.bias is None or is_lazy(self.bias) or is_lazy(self.weight):
            return
        fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        """The configuration, as PyTorch prints it (defaults omitted)."""
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        fields = dict(self.__dict__)
        if fields["in_channels"] is None:
            fields["in_channels"] = 0
        return s.format(**fields)


class _Conv(_ConvNd):
    """Forward pass of the (non-transposed) convolutions."""

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: _Size,
                 stride: _Size = 1, padding: _Size | str = 0, dilation: _Size = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = getattr(F, self._functional)
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        """Convolve ``input`` (batched ``(N, C_in, *spatial)`` or unbatched)."""
        return self._conv_forward(input, self.weight, self.bias)


class _ConvTranspose(_ConvNd):
    """Forward pass of the transposed convolutions."""

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: _Size,
                 stride: _Size = 1, padding: _Size = 0, output_padding: _Size = 0,
                 groups: int = 1, bias: bool = True, dilation: _Size = 1,
                 padding_mode: str = "zeros", device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """Apply the transposed convolution.

        Parameters
        ----------
        input : Tensor
            Batched ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``.
        output_size : sequence of int, optional
            The wanted output size (spatial dims, optionally preceded by the batch and
            channel dims); selects the ``output_padding`` that produces it.
        """
        output_padding = self.output_padding
        if output_size is not None:
            if not isinstance(input, Tensor):
                raise TypeError(f"{type(self).__name__}: input must be a Tensor, got "
                                f"{type(input).__name__}")
            from lucid.nn.functional._conv import _output_padding

            output_padding = _output_padding(input.shape, output_size, self.stride,
                                             self.padding, self.kernel_size, self.dilation,
                                             self._num_spatial_dims)
        return getattr(F, self._functional)(input, self.weight, self.bias, self.stride,
                                            self.padding, output_padding, self.groups,
                                            self.dilation)


class Conv1d(_Conv):
    """Applies a 1-d convolution over an input signal made of several input channels.

    ``out[N_i, C_out_j] = bias[C_out_j] + sum_k weight[C_out_j, k] ⋆ input[N_i, k]`` where
    ``⋆`` is the valid 1-d cross-correlation. Same arguments and behaviour as
    :class:`Conv2d`, with one spatial dimension.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input.
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int]
        Size of the convolving kernel.
    stride : int or tuple[int], default 1
        Stride of the convolution.
    padding : int, tuple[int] or str, default 0
        Padding added to both sides, or ``"valid"`` (none) / ``"same"`` (output length =
        input length; stride 1 only).
    dilation : int or tuple[int], default 1
        Spacing between kernel elements.
    groups : int, default 1
        Number of blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Add a learnable bias.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_channels, in_channels // groups, kernel_size[0])``, drawn from
        ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (in_channels * kernel_size[0])``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, L_in)`` or ``(C_in, L_in)``.
    - Output: ``(N, C_out, L_out)`` or ``(C_out, L_out)`` with
      ``L_out = floor((L_in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Conv1d(16, 33, 3, stride=2)
    >>> m(lucid.randn(20, 16, 50)).shape
    (20, 33, 24)
    """

    _num_spatial_dims = 1
    _functional = "conv1d"


class Conv2d(_Conv):
    """Applies a 2-d convolution over an input image made of several input channels.

    ``out[N_i, C_out_j] = bias[C_out_j] + sum_k weight[C_out_j, k] ⋆ input[N_i, k]`` where
    ``⋆`` is the valid 2-d cross-correlation.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input image.
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int], default 1
        Stride of the convolution.
    padding : int, tuple[int, int] or str, default 0
        Implicit padding added to both sides of each spatial dimension, or ``"valid"``
        (no padding) / ``"same"`` (output size = input size; only with stride 1; when the
        total padding is odd the extra row/column goes at the end, like PyTorch).
    dilation : int or tuple[int, int], default 1
        Spacing between kernel elements (*à trous*).
    groups : int, default 1
        Number of blocked connections from input to output channels. ``in_channels`` and
        ``out_channels`` must both be divisible by it; ``groups == in_channels`` is a
        depthwise convolution.
    bias : bool, default True
        Add a learnable bias to the output.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters (default float dtype).

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_channels, in_channels // groups, kernel_size[0], kernel_size[1])``,
        drawn from ``U(-sqrt(k), sqrt(k))`` with
        ``k = groups / (in_channels * kernel_size[0] * kernel_size[1])``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``.
    - Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)`` with
      ``H_out = floor((H_in + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1)
      / stride[0] + 1)`` and likewise ``W_out``.

    Notes
    -----
    A non-``"zeros"`` ``padding_mode`` pads the input explicitly with ``F.pad`` and then
    convolves without padding.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> # With square kernels and equal stride
    >>> m = nn.Conv2d(16, 33, 3, stride=2)
    >>> # non-square kernels and unequal stride and with padding
    >>> m = nn.Conv2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2))
    >>> m
    Conv2d(16, 33, kernel_size=(3, 5), stride=(2, 1), padding=(4, 2))
    >>> # non-square kernels and unequal stride and with padding and dilation
    >>> m = nn.Conv2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2), dilation=(3, 1))
    >>> output = m(lucid.randn(20, 16, 50, 100))
    >>> output.shape
    (20, 33, 26, 100)
    """

    _num_spatial_dims = 2
    _functional = "conv2d"


class Conv3d(_Conv):
    """Applies a 3-d convolution over an input volume made of several input channels.

    Same arguments and behaviour as :class:`Conv2d`, with three spatial dimensions.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input.
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int, int], default 1
        Stride of the convolution.
    padding : int, tuple[int, int, int] or str, default 0
        Padding added to both sides of each spatial dimension, or ``"valid"`` / ``"same"``.
    dilation : int or tuple[int, int, int], default 1
        Spacing between kernel elements.
    groups : int, default 1
        Number of blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Add a learnable bias.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_channels, in_channels // groups, *kernel_size)``, drawn from
        ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (in_channels * prod(kernel_size))``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, D_in, H_in, W_in)`` or ``(C_in, D_in, H_in, W_in)``.
    - Output: ``(N, C_out, D_out, H_out, W_out)`` or unbatched, each spatial size
      following the :class:`Conv2d` formula.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Conv3d(4, 8, 3, padding=1)
    >>> m(lucid.randn(2, 4, 5, 6, 7)).shape
    (2, 8, 5, 6, 7)
    """

    _num_spatial_dims = 3
    _functional = "conv3d"


class ConvTranspose1d(_ConvTranspose):
    """Applies a 1-d transposed convolution (the gradient of ``Conv1d`` w.r.t. its input).

    Same arguments and behaviour as :class:`ConvTranspose2d`, with one spatial dimension.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input.
    out_channels : int
        Number of channels produced.
    kernel_size : int or tuple[int]
        Size of the convolving kernel.
    stride : int or tuple[int], default 1
        Stride of the convolution.
    padding : int or tuple[int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding is added to both sides of
        the input. String padding is not supported.
    output_padding : int or tuple[int], default 0
        Extra size added to one side of the output; smaller than ``stride`` or
        ``dilation``.
    groups : int, default 1
        Number of blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Add a learnable bias.
    dilation : int or tuple[int], default 1
        Spacing between kernel elements.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(in_channels, out_channels // groups, kernel_size[0])``, drawn from
        ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (out_channels * kernel_size[0])``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, L_in)`` or ``(C_in, L_in)``.
    - Output: ``(N, C_out, L_out)`` or ``(C_out, L_out)`` with ``L_out = (L_in - 1) * stride
      - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.ConvTranspose1d(8, 4, 3, stride=2)
    >>> m(lucid.randn(2, 8, 10)).shape
    (2, 4, 21)
    >>> m(lucid.randn(2, 8, 10), output_size=[22]).shape
    (2, 4, 22)
    """

    _num_spatial_dims = 1
    _functional = "conv_transpose1d"


class ConvTranspose2d(_ConvTranspose):
    """Applies a 2-d transposed convolution (the gradient of ``Conv2d`` w.r.t. its input).

    Also known as a fractionally-strided convolution or (incorrectly) deconvolution.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input image.
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int], default 1
        Stride of the convolution.
    padding : int or tuple[int, int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding is added to both sides of
        each spatial dimension of the input. String padding is not supported.
    output_padding : int or tuple[int, int], default 0
        Additional size added to one side of each spatial dimension of the output; must be
        smaller than ``stride`` or ``dilation``.
    groups : int, default 1
        Number of blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Add a learnable bias to the output.
    dilation : int or tuple[int, int], default 1
        Spacing between kernel elements.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(in_channels, out_channels // groups, kernel_size[0], kernel_size[1])``,
        drawn from ``U(-sqrt(k), sqrt(k))`` with
        ``k = groups / (out_channels * kernel_size[0] * kernel_size[1])``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``.
    - Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)`` with
      ``H_out = (H_in - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1)
      + output_padding[0] + 1`` and likewise ``W_out``.

    Notes
    -----
    With ``stride > 1`` several input sizes of a ``Conv2d`` map to the same output size;
    ``forward(input, output_size=...)`` picks the ``output_padding`` that inverts the
    shape exactly.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> down = nn.Conv2d(16, 16, 3, stride=2, padding=1)
    >>> up = nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1)
    >>> x = lucid.randn(1, 16, 12, 12)
    >>> h = down(x)
    >>> h.shape
    (1, 16, 6, 6)
    >>> up(h).shape
    (1, 16, 11, 11)
    >>> up(h, output_size=x.shape).shape
    (1, 16, 12, 12)
    """

    _num_spatial_dims = 2
    _functional = "conv_transpose2d"


class ConvTranspose3d(_ConvTranspose):
    """Applies a 3-d transposed convolution (the gradient of ``Conv3d`` w.r.t. its input).

    Same arguments and behaviour as :class:`ConvTranspose2d`, with three spatial
    dimensions.

    Parameters
    ----------
    in_channels : int
        Number of channels in the input.
    out_channels : int
        Number of channels produced.
    kernel_size : int or tuple[int, int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int, int], default 1
        Stride of the convolution.
    padding : int or tuple[int, int, int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding is added to both sides of
        each spatial dimension of the input. String padding is not supported.
    output_padding : int or tuple[int, int, int], default 0
        Extra size added to one side of each spatial dimension of the output.
    groups : int, default 1
        Number of blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Add a learnable bias.
    dilation : int or tuple[int, int, int], default 1
        Spacing between kernel elements.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point or complex dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(in_channels, out_channels // groups, *kernel_size)``, drawn from
        ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (out_channels * prod(kernel_size))``.
    bias : Parameter or None
        Shape ``(out_channels,)``, drawn from the same distribution.

    Shape
    -----
    - Input: ``(N, C_in, D_in, H_in, W_in)`` or ``(C_in, D_in, H_in, W_in)``.
    - Output: ``(N, C_out, D_out, H_out, W_out)`` or unbatched, each spatial size
      following the :class:`ConvTranspose2d` formula.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.ConvTranspose3d(4, 2, 2, stride=2)
    >>> m(lucid.randn(1, 4, 3, 4, 5)).shape
    (1, 2, 6, 8, 10)
    """

    _num_spatial_dims = 3
    _functional = "conv_transpose3d"


class _LazyConvXdMixin(LazyModuleMixin):
    """What the six lazy convolutions share: ``in_channels`` inference and materialization."""

    def initialize_parameters(self, input: Any, *args: Any, **kwargs: Any) -> None:
        """Infer ``in_channels`` from ``input`` and materialize and initialise the
        placeholders (a no-op once materialized)."""
        conv: Any = self
        if is_lazy(conv.weight):
            in_channels = self._get_in_channels(input)
            if in_channels % conv.groups != 0:
                raise ValueError(
                    f"in_channels must be divisible by groups, got in_channels={in_channels} "
                    f"(inferred from an input of shape {input.shape}) and groups={conv.groups}"
                )
            conv.in_channels = in_channels
            conv.weight.materialize(conv._weight_shape(in_channels))
            conv._init_weight()
        if conv.bias is not None and is_lazy(conv.bias):
            conv.bias.materialize((conv.out_channels,))
            conv._init_bias()

    def _get_in_channels(self, input: Any) -> int:
        conv: Any = self
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got "
                            f"{type(input).__name__}")
        unbatched = conv._num_spatial_dims + 1
        if input.dim() not in (unbatched, unbatched + 1):
            raise RuntimeError(
                f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                f"{type(self).__name__}, but got input of size: {input.shape}"
            )
        return input.shape[1] if input.dim() == unbatched + 1 else input.shape[0]

    def _lazy_load_hook(self, state_dict: dict[str, Any], prefix: str,
                        local_metadata: dict[str, Any], strict: bool,
                        missing_keys: list[str], unexpected_keys: list[str],
                        error_msgs: list[str]) -> None:
        """Check the checkpoint's weight/bias against the configuration, set ``in_channels``
        and materialize, before the values are copied."""
        conv: Any = self
        weight, bias = state_dict.get(prefix + "weight"), state_dict.get(prefix + "bias")
        if is_lazy(conv.weight) and isinstance(weight, Tensor) and not is_lazy(weight):
            error = self._weight_mismatch(tuple(weight.shape))
            if error is not None:
                error_msgs.append(f"size mismatch for {prefix}weight: copying a param with "
                                  f"shape {weight.shape} from checkpoint into "
                                  f"{type(self).__name__}: {error}")
                return
            in_channels = weight.shape[0] if conv.transposed else weight.shape[1] * conv.groups
            conv.in_channels = in_channels
        if conv.bias is not None and is_lazy(conv.bias) and isinstance(bias, Tensor) \
                and not is_lazy(bias) and tuple(bias.shape) != (conv.out_channels,):
            error_msgs.append(f"size mismatch for {prefix}bias: copying a param with shape "
                              f"{bias.shape} from checkpoint, the shape in current model is "
                              f"({conv.out_channels},).")
            return
        super()._lazy_load_hook(state_dict, prefix, local_metadata, strict, missing_keys,
                                unexpected_keys, error_msgs)

    def _weight_mismatch(self, shape: tuple[int, ...]) -> str | None:
        """Why a checkpoint weight of ``shape`` does not fit this configuration."""
        conv: Any = self
        n = conv._num_spatial_dims
        k = ", ".join(str(s) for s in conv.kernel_size)
        if conv.transposed:
            expected = f"(in_channels, {conv.out_channels // conv.groups}, {k})"
        else:
            expected = f"({conv.out_channels}, in_channels // {conv.groups}, {k})"
        if len(shape) != n + 2:
            return f"expected a {n + 2}-d weight of shape {expected}, got a {len(shape)}-d one"
        if conv.transposed:
            channels_ok = shape[1] * conv.groups == conv.out_channels \
                and shape[0] % conv.groups == 0
        else:
            channels_ok = shape[0] == conv.out_channels
        if not channels_ok or shape[2:] != conv.kernel_size:
            return f"expected a weight of shape {expected} (out_channels={conv.out_channels}, " \
                   f"groups={conv.groups}, kernel_size={conv.kernel_size})"
        return None


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    """A :class:`Conv1d` that infers ``in_channels`` from the first input.

    ``weight`` and ``bias`` are :class:`~lucid.nn.UninitializedParameter` placeholders and
    ``in_channels`` is ``None`` until the first forward pass reads ``C_in`` from
    ``input.shape[1]`` (``input.shape[0]`` when unbatched); the module then becomes a
    :class:`Conv1d`. See :class:`LazyConv2d` for the details.

    Parameters
    ----------
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int]
        Size of the convolving kernel.
    stride : int or tuple[int], default 1
        Stride of the convolution.
    padding : int, tuple[int] or str, default 0
        Padding added to both sides, or ``"valid"`` / ``"same"``.
    dilation : int or tuple[int], default 1
        Spacing between kernel elements.
    groups : int, default 1
        Number of blocked connections from input to output channels.
    bias : bool, default True
        Add a learnable bias after materialization.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype the parameters are materialized with.

    Attributes
    ----------
    weight : UninitializedParameter or Parameter
        Shape ``(out_channels, in_channels // groups, kernel_size[0])`` once materialized.
    bias : UninitializedParameter, Parameter or None
        Shape ``(out_channels,)`` once materialized; ``None`` when ``bias=False``.
    in_channels : int or None
        ``None`` before the first forward pass, the inferred channel count afterwards.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConv1d(out_channels=4, kernel_size=3)
    >>> _ = lazy(lucid.zeros(2, 6, 10))
    >>> lazy
    Conv1d(6, 4, kernel_size=(3,), stride=(1,))
    """

    cls_to_become = Conv1d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    """A Conv2d that infers in_channels from the first input.

    Lazy initialization allows building 2D convolutional networks without knowing the
    input channel count in advance. The module registers ``weight`` and ``bias`` as
    uninitialized parameters and allocates them on the first forward call, reading
    ``C_in`` from ``x.shape[1]`` (``x.shape[0]`` for an unbatched input). The module then
    becomes a :class:`Conv2d` (its ``cls_to_become``).

    Parameters
    ----------
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int], default 1
        Stride of the convolution. Default: 1.
    padding : int, tuple[int, int], or str, default 0
        Zero-padding added to both sides, or a ``"same"`` / ``"valid"`` string specifier.
        Default: 0.
    dilation : int or tuple[int, int], default 1
        Spacing between kernel elements. Default: 1.
    groups : int, default 1
        Number of blocked connections from input to output channels. Default: 1.
    bias : bool, default True
        If ``True``, a learnable bias is added after materialization. Default: True.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"``, or ``"circular"``. Default: ``"zeros"``.
    device : DeviceLike, default None
        Only the CPU is available. Default: None.
    dtype : DTypeLike, default None
        dtype of the materialized parameters (a later ``.to()`` / ``.double()`` made before
        the first forward is followed). Default: None.

    Attributes
    ----------
    weight : Parameter or None
        An uninitialized placeholder before materialization; shape
        ``(out_channels, in_channels // groups, K_H, K_W)`` afterwards.
    bias : Parameter or None
        An uninitialized placeholder before materialization; shape ``(out_channels,)`` if
        ``bias=True``, else remains ``None``.
    in_channels : int or None
        ``None`` before the first forward pass; inferred channel count afterwards.

    Notes
    -----
    Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)`` — ``C_in`` is inferred
    automatically.

    Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)`` — same formula as
    :class:`Conv2d`.

    **State-dict materialization.** Loading a ``state_dict`` with a 4-D ``weight`` tensor
    triggers materialization before parameter copying, enabling round-trip checkpoint
    compatibility: ``in_channels`` is known right after ``load_state_dict``. A weight of
    the wrong rank, ``out_channels`` or kernel size is rejected with a ``RuntimeError``
    and leaves the module untouched.

    Examples
    --------
    Dynamic channel inference in a feature extractor:

    >>> import lucid
    >>> import lucid.nn as nn
    >>> model = nn.Sequential(
    ... nn.LazyConv2d(out_channels=64, kernel_size=3, padding=1),
    ... nn.ReLU(),
    ... nn.LazyConv2d(out_channels=128, kernel_size=3, padding=1),
    ... )
    >>> x = lucid.zeros(2, 3, 32, 32) # in_channels=3 inferred here
    >>> y = model(x)
    >>> y.shape
    (2, 128, 32, 32)

    Verify inferred in_channels after forward:

    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConv2d(out_channels=16, kernel_size=3, padding=1)
    >>> _ = lazy(lucid.zeros(1, 8, 16, 16))
    >>> print(lazy.in_channels)
    8
    """

    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)


class LazyConv3d(_LazyConvXdMixin, Conv3d):
    """A :class:`Conv3d` that infers ``in_channels`` from the first input.

    ``weight`` and ``bias`` are :class:`~lucid.nn.UninitializedParameter` placeholders and
    ``in_channels`` is ``None`` until the first forward pass reads ``C_in`` from
    ``input.shape[1]`` (``input.shape[0]`` when unbatched); the module then becomes a
    :class:`Conv3d`. See :class:`LazyConv2d` for the details.

    Parameters
    ----------
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int, int], default 1
        Stride of the convolution.
    padding : int, tuple[int, int, int] or str, default 0
        Padding added to both sides, or ``"valid"`` / ``"same"``.
    dilation : int or tuple[int, int, int], default 1
        Spacing between kernel elements.
    groups : int, default 1
        Number of blocked connections from input to output channels.
    bias : bool, default True
        Add a learnable bias after materialization.
    padding_mode : str, default "zeros"
        ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype the parameters are materialized with.

    Attributes
    ----------
    weight : UninitializedParameter or Parameter
        Shape ``(out_channels, in_channels // groups, *kernel_size)`` once materialized.
    bias : UninitializedParameter, Parameter or None
        Shape ``(out_channels,)`` once materialized; ``None`` when ``bias=False``.
    in_channels : int or None
        ``None`` before the first forward pass, the inferred channel count afterwards.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConv3d(out_channels=2, kernel_size=1)
    >>> lazy(lucid.zeros(5, 4, 4, 4)).shape  # unbatched: C_in = 5
    (2, 4, 4, 4)
    >>> lazy.in_channels
    5
    """

    cls_to_become = Conv3d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)


class LazyConvTranspose1d(_LazyConvXdMixin, ConvTranspose1d):
    """A :class:`ConvTranspose1d` that infers ``in_channels`` from the first input.

    ``weight`` and ``bias`` are :class:`~lucid.nn.UninitializedParameter` placeholders and
    ``in_channels`` is ``None`` until the first forward pass reads ``C_in`` from
    ``input.shape[1]`` (``input.shape[0]`` when unbatched); the module then becomes a
    :class:`ConvTranspose1d`. See :class:`LazyConvTranspose2d` for the details.

    Parameters
    ----------
    out_channels : int
        Number of channels produced.
    kernel_size : int or tuple[int]
        Size of the convolving kernel.
    stride : int or tuple[int], default 1
        Stride of the convolution.
    padding : int or tuple[int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding on each side. String
        padding is not supported.
    output_padding : int or tuple[int], default 0
        Extra size added to one side of the output.
    groups : int, default 1
        Number of blocked connections from input to output channels.
    bias : bool, default True
        Add a learnable bias after materialization.
    dilation : int or tuple[int], default 1
        Spacing between kernel elements.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype the parameters are materialized with.

    Attributes
    ----------
    weight : UninitializedParameter or Parameter
        Shape ``(in_channels, out_channels // groups, kernel_size[0])`` once materialized.
    bias : UninitializedParameter, Parameter or None
        Shape ``(out_channels,)`` once materialized; ``None`` when ``bias=False``.
    in_channels : int or None
        ``None`` before the first forward pass, the inferred channel count afterwards.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConvTranspose1d(out_channels=3, kernel_size=2, stride=2)
    >>> lazy(lucid.zeros(1, 7, 5)).shape
    (1, 3, 10)
    >>> lazy.weight.shape
    (7, 3, 2)
    """

    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size = 0, output_padding: _Size = 0, groups: int = 1,
                 bias: bool = True, dilation: _Size = 1, padding_mode: str = "zeros",
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, output_padding,
                         groups, bias, dilation, padding_mode, device, dtype)


class LazyConvTranspose2d(_LazyConvXdMixin, ConvTranspose2d):
    """A ConvTranspose2d that infers in_channels from the first input.

    Lazy version of the 2D transposed convolution. Weight allocation is deferred until the
    first forward call, making it easy to compose upsampling decoder networks without
    manually tracking the channel dimension through each block. The module then becomes a
    :class:`ConvTranspose2d` (its ``cls_to_become``).

    Parameters
    ----------
    out_channels : int
        Number of channels produced by the convolution.
    kernel_size : int or tuple[int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int], default 1
        Stride of the convolution. Default: 1.
    padding : int or tuple[int, int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding applied on each side.
        String padding is not supported. Default: 0.
    output_padding : int or tuple[int, int], default 0
        Additional size added to one side of each output dimension. Default: 0.
    groups : int, default 1
        Number of blocked connections from input to output channels. Default: 1.
    bias : bool, default True
        If ``True``, a learnable bias is added after materialization. Default: True.
    dilation : int or tuple[int, int], default 1
        Spacing between kernel elements. Default: 1.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported. Default: ``"zeros"``.
    device : DeviceLike, default None
        Only the CPU is available. Default: None.
    dtype : DTypeLike, default None
        dtype of the materialized parameters. Default: None.

    Attributes
    ----------
    weight : Parameter or None
        An uninitialized placeholder before materialization; shape
        ``(in_channels, out_channels // groups, K_H, K_W)`` afterwards.
    bias : Parameter or None
        An uninitialized placeholder before materialization; ``(out_channels,)`` if
        ``bias=True``.
    in_channels : int or None
        ``None`` before the first forward pass.

    Notes
    -----
    Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)`` — ``C_in`` is inferred
    automatically.

    Output: ``(N, C_out, H_out, W_out)`` or ``(C_out, H_out, W_out)`` — same formula as
    :class:`ConvTranspose2d`; ``forward(input, output_size=...)`` works on the first call
    too.

    **State-dict loading.** A 4-D ``weight`` tensor (shape
    ``(in_channels, out_channels // groups, K_H, K_W)``) triggers materialization before
    parameter copying.

    **Symmetric encoder–decoder pairs.** Pair each :class:`LazyConv2d` encoder stride with
    a ``LazyConvTranspose2d`` of matching ``kernel_size``, ``stride``, and ``padding`` to
    reconstruct exact spatial dimensions.

    Examples
    --------
    Lazy VAE decoder:

    >>> import lucid
    >>> import lucid.nn as nn
    >>> decoder = nn.LazyConvTranspose2d(
    ... out_channels=64, kernel_size=4, stride=2, padding=1
    ... )
    >>> z = lucid.zeros(4, 128, 8, 8) # in_channels=128 inferred
    >>> y = decoder(z)
    >>> y.shape
    (4, 64, 16, 16)

    Verify inference:

    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConvTranspose2d(out_channels=32, kernel_size=3)
    >>> _ = lazy(lucid.zeros(1, 64, 4, 4))
    >>> print(lazy.in_channels)
    64
    """

    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size = 0, output_padding: _Size = 0, groups: int = 1,
                 bias: bool = True, dilation: _Size = 1, padding_mode: str = "zeros",
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, output_padding,
                         groups, bias, dilation, padding_mode, device, dtype)


class LazyConvTranspose3d(_LazyConvXdMixin, ConvTranspose3d):
    """A :class:`ConvTranspose3d` that infers ``in_channels`` from the first input.

    ``weight`` and ``bias`` are :class:`~lucid.nn.UninitializedParameter` placeholders and
    ``in_channels`` is ``None`` until the first forward pass reads ``C_in`` from
    ``input.shape[1]`` (``input.shape[0]`` when unbatched); the module then becomes a
    :class:`ConvTranspose3d`. See :class:`LazyConvTranspose2d` for the details.

    Parameters
    ----------
    out_channels : int
        Number of channels produced.
    kernel_size : int or tuple[int, int, int]
        Size of the convolving kernel.
    stride : int or tuple[int, int, int], default 1
        Stride of the convolution.
    padding : int or tuple[int, int, int], default 0
        ``dilation * (kernel_size - 1) - padding`` zero-padding on each side. String
        padding is not supported.
    output_padding : int or tuple[int, int, int], default 0
        Extra size added to one side of each output dimension.
    groups : int, default 1
        Number of blocked connections from input to output channels.
    bias : bool, default True
        Add a learnable bias after materialization.
    dilation : int or tuple[int, int, int], default 1
        Spacing between kernel elements.
    padding_mode : str, default "zeros"
        Only ``"zeros"`` is supported.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype the parameters are materialized with.

    Attributes
    ----------
    weight : UninitializedParameter or Parameter
        Shape ``(in_channels, out_channels // groups, *kernel_size)`` once materialized.
    bias : UninitializedParameter, Parameter or None
        Shape ``(out_channels,)`` once materialized; ``None`` when ``bias=False``.
    in_channels : int or None
        ``None`` before the first forward pass, the inferred channel count afterwards.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> lazy = nn.LazyConvTranspose3d(out_channels=2, kernel_size=2, stride=2, bias=False)
    >>> lazy
    LazyConvTranspose3d(0, 2, kernel_size=(2, 2, 2), stride=(2, 2, 2), bias=False)
    >>> lazy(lucid.zeros(1, 3, 2, 2, 2)).shape
    (1, 2, 4, 4, 4)
    """

    cls_to_become = ConvTranspose3d

    def __init__(self, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: _Size = 0, output_padding: _Size = 0, groups: int = 1,
                 bias: bool = True, dilation: _Size = 1, padding_mode: str = "zeros",
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__(None, out_channels, kernel_size, stride, padding, output_padding,
                         groups, bias, dilation, padding_mode, device, dtype)
