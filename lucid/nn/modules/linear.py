"""Affine layers: ``Linear``, ``LazyLinear`` and ``Bilinear``."""

from __future__ import annotations

import math
from typing import Any

from lucid import _dtype as D
from lucid._backend import DeviceLike, as_device
from lucid._creation import empty
from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.nn import functional as F
from lucid.nn import init
from lucid.nn.modules.lazy import LazyModuleMixin
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter, UninitializedParameter, is_lazy

__all__ = ["Bilinear", "LazyLinear", "Linear"]


def _param_dtype(owner: str, device: DeviceLike, dtype: D.DTypeLike) -> D.dtype:
    """The floating dtype parameters are created with (the default one when ``None``)."""
    as_device(device)
    dt = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if not (dt.is_floating_point or dt.is_complex):
        raise TypeError(f"{owner}: dtype must be a floating point or complex dtype, got {dt}")
    return dt


def _check_features(owner: str, **features: Any) -> None:
    for name, value in features.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{owner}: {name} must be a non-negative int, got {value!r}")


class Linear(Module):
    """Affine map ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features : int
        Size of each input sample's last dimension.
    out_features : int
        Size of each output sample's last dimension.
    bias : bool, default True
        Learn an additive bias.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of the parameters (the default float dtype).

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_features, in_features)``, initialised from
        ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` (Kaiming uniform with
        ``a=sqrt(5)``).
    bias : Parameter or None
        Shape ``(out_features,)``, initialised from the same distribution.

    Shape
    -----
    - Input: ``(*, in_features)`` (``*`` may be empty).
    - Output: ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Linear(20, 30)
    >>> m(lucid.randn(128, 20)).shape
    (128, 30)
    >>> m
    Linear(in_features=20, out_features=30, bias=True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: DeviceLike = None, dtype: D.DTypeLike = None) -> None:
        super().__init__()
        _check_features(type(self).__name__, in_features=in_features,
                        out_features=out_features)
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weight (Kaiming uniform, ``a=sqrt(5)``) and the bias
        (``U(-1/sqrt(in_features), 1/sqrt(in_features))``)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(LazyModuleMixin, Linear):
    """A :class:`Linear` that infers ``in_features`` from the first input.

    Until then ``weight`` and ``bias`` are :class:`~lucid.nn.UninitializedParameter`
    placeholders and ``in_features`` is 0. The first call (or loading a ``state_dict``)
    materializes them in place and the module becomes a :class:`Linear`.

    Parameters
    ----------
    out_features : int
        Size of each output sample's last dimension.
    bias : bool, default True
        Learn an additive bias.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of the parameters.

    Shape
    -----
    - Input: ``(*, in_features)``.
    - Output: ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.LazyLinear(4)
    >>> m
    LazyLinear(in_features=0, out_features=4, bias=True)
    >>> m(lucid.randn(2, 3)).shape
    (2, 4)
    >>> m
    Linear(in_features=3, out_features=4, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__(0, 0, False, device, dtype)
        _check_features(type(self).__name__, out_features=out_features)
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.weight = UninitializedParameter(dtype=dt)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(dtype=dt)

    def reset_parameters(self) -> None:
        """Initialise like :class:`Linear` once materialized (a no-op before)."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize ``weight`` and ``bias`` for ``in_features = input.shape[-1]``."""
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor) or input.ndim == 0:
            raise RuntimeError(
                f"{type(self).__name__}: expected a tensor with at least one dimension to infer "
                f"in_features from, got {input!r}"
            )
        with no_grad():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def _lazy_load_hook(self, state_dict: dict[str, Any], prefix: str,
                        local_metadata: dict[str, Any], strict: bool,
                        missing_keys: list[str], unexpected_keys: list[str],
                        error_msgs: list[str]) -> None:
        """Check a checkpoint's weight and set ``in_features`` before materializing."""
        weight = state_dict.get(prefix + "weight")
        if is_lazy(self.weight) and isinstance(weight, Tensor) and not is_lazy(weight):
            if weight.ndim != 2 or weight.shape[0] != self.out_features:
                error_msgs.append(
                    f"size mismatch for {prefix}weight: copying a param with shape "
                    f"{weight.shape} from checkpoint into {type(self).__name__}: expected a "
                    f"weight of shape ({self.out_features}, in_features)"
                )
                return
            self.in_features = weight.shape[1]
        super()._lazy_load_hook(state_dict, prefix, local_metadata, strict, missing_keys,
                                unexpected_keys, error_msgs)


class Bilinear(Module):
    """Bilinear map ``y[..., o] = x1 @ weight[o] @ x2 + bias[o]``.

    Parameters
    ----------
    in1_features, in2_features : int
        Sizes of the two inputs' last dimensions.
    out_features : int
        Size of the output's last dimension.
    bias : bool, default True
        Learn an additive bias.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of the parameters.

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_features, in1_features, in2_features)``, initialised from
        ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))``.
    bias : Parameter or None
        Shape ``(out_features,)``, same distribution.

    Shape
    -----
    - Inputs: ``(*, in1_features)`` and ``(*, in2_features)``.
    - Output: ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Bilinear(20, 30, 40)
    >>> m(lucid.randn(128, 20), lucid.randn(128, 30)).shape
    (128, 40)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        super().__init__()
        _check_features(type(self).__name__, in1_features=in1_features,
                        in2_features=in2_features, out_features=out_features)
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dt))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))``."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
